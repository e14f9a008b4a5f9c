/**
 * What the feature store needs from datasets: a local Parquet file of a version (to read sources
 * and entity rows with DuckDB) and a way to save a Parquet file as a new, derived version (training
 * sets, pushed rows). The data module's `DatasetService` provides both; {@link DirectoryDatasets} is a
 * stand-alone implementation over a folder for tests and for servers built without it.
 */
import { copyFile, link, mkdir, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RequestContext } from '../core/context.ts';
import { notFound } from '../core/errors.ts';
import { HashingStream } from '../core/hashing.ts';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';

/** A resolved dataset version with a Parquet file DuckDB can read. */
export interface LocalDatasetVersion {
  readonly name: string;
  readonly version: string;
  /** Absolute path of a local Parquet file of the version. */
  readonly path: string;
}

/** Input of {@link FeatureDatasets.saveDerived}. */
export interface SaveDerivedInput {
  readonly name: string;
  /** A local Parquet file to store as the new version. */
  readonly path: string;
  /** The versions it was made from. */
  readonly parents: readonly { name: string; version: string }[];
  /** How it was made (kept with the version as its transformation). */
  readonly transformation: Record<string, unknown>;
  readonly description?: string;
}

/** The datasets port of the feature store. */
export interface FeatureDatasets {
  /** The version `version` (a sha256, a unique prefix; the latest when absent) of dataset `name`. */
  resolve(ctx: RequestContext, name: string, version?: string): Promise<LocalDatasetVersion>;
  /** Stores a Parquet file as a version of dataset `name`, derived from `parents`. */
  saveDerived(ctx: RequestContext, input: SaveDerivedInput): Promise<{ name: string; version: string }>;
}

/**
 * Datasets as Parquet files in a folder: `<root>/<project>/<name>/<sha256>.parquet`, the newest by
 * modification time being the latest. Enough for the feature store on its own; the data module's
 * service replaces it in a full server.
 */
export class DirectoryDatasets implements FeatureDatasets {
  constructor(readonly root: string) {}

  async resolve(ctx: RequestContext, name: string, version?: string): Promise<LocalDatasetVersion> {
    const dir = join(this.root, ctx.project, name);
    let files: string[];
    try {
      files = (await readdir(dir)).filter((f) => f.endsWith('.parquet'));
    } catch {
      throw notFound(`dataset "${name}" does not exist`);
    }
    let candidates = files.map((f) => f.slice(0, -'.parquet'.length));
    if (version) candidates = candidates.filter((v) => v.startsWith(version));
    if (candidates.length === 0) throw notFound(`dataset "${name}" has no version ${version ?? ''}`.trim());
    if (version && candidates.length > 1) throw notFound(`dataset "${name}": version prefix "${version}" is ambiguous`);
    let best = candidates[0];
    if (!version) {
      let bestTime = -Infinity;
      for (const v of candidates) {
        const t = (await stat(join(dir, `${v}.parquet`))).mtimeMs;
        if (t > bestTime) {
          bestTime = t;
          best = v;
        }
      }
    }
    return { name, version: best, path: join(dir, `${best}.parquet`) };
  }

  async saveDerived(ctx: RequestContext, input: SaveDerivedInput): Promise<{ name: string; version: string }> {
    const hasher = new HashingStream();
    await pipeline(createReadStream(input.path), hasher, new Writable({ write: (_c, _e, cb) => cb() }));
    const version = hasher.digest();
    const dir = join(this.root, ctx.project, input.name);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.${version}.${process.pid}.tmp`);
    // A hard link costs nothing and leaves the caller's file in place; copy across file systems.
    await link(input.path, tmp).catch(() => copyFile(input.path, tmp));
    await rename(tmp, join(dir, `${version}.parquet`));
    return { name: input.name, version };
  }

  /** Adds a Parquet file as a version (for tests and set-up); resolves its version. */
  add(ctx: RequestContext, name: string, path: string): Promise<{ name: string; version: string }> {
    return this.saveDerived(ctx, { name, path, parents: [], transformation: { kind: 'upload' } });
  }
}

/** The operations of the data module's `DatasetService` the feature store uses. */
export interface DatasetServiceLike {
  localParquetPath(ctx: RequestContext, name: string, selector: string): Promise<{ path: string; version: string }>;
  createDerived(
    ctx: RequestContext,
    input: {
      name: string;
      parents: readonly { name: string; version: string }[];
      transformation: { kind: string; description?: string; params?: Readonly<Record<string, unknown>> };
      source: { parquetPath: string };
      description?: string;
    },
  ): Promise<{ version: { version: string } }>;
}

/** {@link FeatureDatasets} over the data module's `DatasetService`. */
export function datasetServiceDatasets(service: DatasetServiceLike): FeatureDatasets {
  return {
    async resolve(ctx, name, version) {
      const found = await service.localParquetPath(ctx, name, version ?? 'latest');
      return { name, version: found.version, path: found.path };
    },
    async saveDerived(ctx, input) {
      const { kind, ...params } = input.transformation;
      const added = await service.createDerived(ctx, {
        name: input.name,
        parents: input.parents,
        transformation: { kind: String(kind), params },
        source: { parquetPath: input.path },
        description: input.description,
      });
      return { name: input.name, version: added.version.version };
    },
  };
}
