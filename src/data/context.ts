/**
 * What every dataset operation shares: the service's dependencies and store, its working folders
 * and DuckDB engine, the lookups of datasets and versions, and the profiles of versions — stored, or
 * computed after their commit. One per {@link DatasetService}, handed to the operations' modules.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../core/clock.ts';
import type { RequestContext } from '../core/context.ts';
import { invalidParam, notFound } from '../core/errors.ts';
import { contentKey } from '../storage/content.ts';
import { sharedDuckDb, type DuckDb } from '../storage/duckdb/engine.ts';
import type { BlobStore, MetadataStore } from '../storage/ports.ts';
import { ParquetCache } from './cache.ts';
import {
  validateVersionSelector,
  type DatasetProfile,
  type DatasetSchema,
  type DatasetVersion,
  type Dependent,
  type Transformation,
  type ValidationStatus,
  type VersionSource,
} from './domain.ts';
import { profileParquet, type ProfileOptions } from './profile.ts';
import { DatasetStore, type Db, type NameRow, type ValidationStateRow, type VersionRow, type VersionSummaryRow } from './store.ts';

/** What {@link DatasetService} needs. */
export interface DatasetDeps {
  readonly metadata: MetadataStore;
  readonly blobs: BlobStore;
  readonly clock: Clock;
  /** Largest upload accepted, in bytes (larger gets 413). */
  readonly maxUploadBytes: number;
  /**
   * The server home: local copies of versions go to `<home>/cache/datasets`, uploads in progress to
   * `<home>/tmp/datasets`. Without one, a temporary folder is used and removed by {@link DatasetService.close}.
   */
  readonly home?: string;
  /** The DuckDB engine; the process's shared one by default. */
  readonly duck?: DuckDb;
  readonly profile?: ProfileOptions;
  /** Users of datasets known from their own definitions (the feature views), asked before a deletion. */
  readonly readers?: DatasetReaders;
}

/**
 * A user of a dataset known from its own definition rather than recorded as a dependent: a feature
 * view whose source names the dataset. It keeps the dataset from deletion, and the version it pins.
 */
export interface DatasetReader {
  readonly dependent: Dependent;
  /** The version it pins (a sha256 or a prefix of one); absent when it reads whichever is the latest. */
  readonly version?: string;
  /** When the definition that reads the dataset (the view's current version) was made, and by whom. */
  readonly created_at: number;
  readonly created_by: string;
}

/** Finds the readers of dataset `name` of `project`, on the query builder given (a deleting transaction's, when deleting). */
export type DatasetReaders = (db: Db, project: string, name: string) => Promise<readonly DatasetReader[]>;

/** The working folders: uploads and conversions in progress, local copies of versions, and the temporary root the service made, if any. */
export interface DatasetFolders {
  readonly tmp: string;
  readonly cache: ParquetCache;
  readonly owned?: string;
}

/** The state and lookups the data module's operations share. */
export class DatasetContext {
  readonly store = new DatasetStore();
  #dirs: Promise<DatasetFolders> | undefined;
  #duck: Promise<DuckDb> | undefined;
  /** Profiles being computed, by content (sha256). */
  readonly #profiling = new Map<string, Promise<DatasetProfile>>();
  /** Deferred profiles computed after their commit, awaited by {@link close}. */
  readonly #background = new Set<Promise<void>>();

  constructor(readonly deps: DatasetDeps) {}

  /** The metadata store's own query builder (outside any transaction). */
  get db(): Db {
    return this.deps.metadata.db;
  }

  /** The DuckDB engine used for datasets. */
  duck(): Promise<DuckDb> {
    this.#duck ??= this.deps.duck ? Promise.resolve(this.deps.duck) : sharedDuckDb();
    return this.#duck;
  }

  /** The working folders, made (and emptied of uploads in progress) on first use. */
  folders(): Promise<DatasetFolders> {
    this.#dirs ??= (async () => {
      const owned = this.deps.home ? undefined : await mkdtemp(join(tmpdir(), 'mloop-data-'));
      const root = this.deps.home ?? owned!;
      const tmp = join(root, 'tmp', 'datasets');
      // Left-overs of a crash are never part of a version: start clean.
      await rm(tmp, { recursive: true, force: true });
      await mkdir(tmp, { recursive: true });
      const cache = new ParquetCache(join(root, 'cache', 'datasets'), tmp, this.deps.blobs);
      return { tmp, cache, owned };
    })();
    return this.#dirs;
  }

  /** Resolves once no deferred profile is being computed in the background. */
  async settled(): Promise<void> {
    while (this.#background.size > 0) await Promise.all(this.#background);
  }

  /** Waits for profiles still being computed, then removes the temporary folder when the service made one. */
  async close(): Promise<void> {
    await this.settled();
    if (!this.#dirs) return;
    const dirs = await this.#dirs.catch(() => undefined);
    if (dirs?.owned) await rm(dirs.owned, { recursive: true, force: true });
  }

  /** Throws RESOURCE_DOES_NOT_EXIST unless the caller's project exists. */
  async checkProject(db: Db, ctx: RequestContext): Promise<void> {
    if (!(await this.store.projectExists(db, ctx.project))) throw notFound(`project "${ctx.project}" does not exist`);
  }

  /** The row of dataset `name` of the caller's project; RESOURCE_DOES_NOT_EXIST when unknown. */
  async datasetRow(db: Db, ctx: RequestContext, name: string): Promise<NameRow> {
    const row = await this.store.dataset(db, ctx.project, name);
    if (!row) throw notFound(`dataset "${name}" does not exist in project "${ctx.project}"`);
    return row;
  }

  /** Finds a version by selector: `latest`, a full sha256 or a unique prefix. */
  async resolve(db: Db, ctx: RequestContext, name: string, selector: string): Promise<VersionSummaryRow> {
    validateVersionSelector(selector);
    let row: VersionSummaryRow | undefined;
    if (selector === 'latest') {
      row = await this.store.latestVersion(db, ctx.project, name);
    } else {
      const matches = await this.store.versionsByPrefix(db, ctx.project, name, selector);
      if (matches.length > 1) throw invalidParam('version', `version prefix "${selector}" of dataset "${name}" is ambiguous; give more characters`);
      row = matches[0];
    }
    if (!row) {
      if (!(await this.store.dataset(db, ctx.project, name))) throw notFound(`dataset "${name}" does not exist in project "${ctx.project}"`);
      throw notFound(selector === 'latest' ? `dataset "${name}" has no versions` : `dataset "${name}" has no version ${selector}`);
    }
    return row;
  }

  /** A version row as the API shows it, with its profile when asked for and the row has it. */
  async toVersion(db: Db, row: VersionSummaryRow | VersionRow, withProfile: boolean): Promise<DatasetVersion> {
    const parents = await this.store.parents(db, row.project, row.name, row.version);
    return {
      dataset: row.name,
      project: row.project,
      version: row.version,
      created_at: Number(row.created_at),
      created_by: row.created_by,
      ...(row.description ? { description: row.description } : {}),
      size_bytes: Number(row.size_bytes),
      row_count: Number(row.row_count),
      column_count: Number(row.column_count),
      schema: JSON.parse(row.schema) as DatasetSchema,
      source: {
        format: row.source_format as VersionSource['format'],
        ...(row.source_name ? { name: row.source_name } : {}),
        ...(row.source_sha256 ? { sha256: row.source_sha256 } : {}),
        ...(row.source_bytes !== null ? { bytes: Number(row.source_bytes) } : {}),
      },
      lineage: {
        parents: parents.map((p) => ({ name: p.name, version: p.version })),
        ...(row.transformation ? { transformation: JSON.parse(row.transformation) as Transformation } : {}),
      },
      validation: validationOf(row),
      ...(withProfile && 'profile' in row ? { profile: await this.profile(row) } : {}),
    };
  }

  /**
   * The profile of a version: the stored one, or — for a derived version whose profile is still
   * being computed after its commit — computed now (once per content, however many ask) and stored.
   */
  profile(row: VersionRow): Promise<DatasetProfile> {
    if (row.profile !== PENDING_PROFILE) return Promise.resolve(parseProfile(row.profile));
    let pending = this.#profiling.get(row.version);
    if (!pending) {
      pending = (async () => {
        const { cache } = await this.folders();
        const path = await cache.ensure(row.version);
        const profile = stringifyProfile(await profileParquet(await this.duck(), path, JSON.parse(row.schema) as DatasetSchema, this.deps.profile));
        await this.store.setPendingProfile(this.db, row.version, profile);
        return parseProfile(profile);
      })().finally(() => this.#profiling.delete(row.version));
      this.#profiling.set(row.version, pending);
    }
    return pending;
  }

  /** Computes a deferred profile without anyone waiting; a failure leaves it to be computed on demand. */
  profileInBackground(row: VersionRow): void {
    const task = this.profile(row).then(
      () => undefined,
      () => undefined,
    );
    this.#background.add(task);
    void task.finally(() => this.#background.delete(task));
  }

  /** Removes stored content no version references any more. */
  async collect(version: string): Promise<void> {
    if ((await this.store.contentReferences(this.db, version)) > 0) return;
    await this.deps.blobs.delete(contentKey(version));
    const { cache } = await this.folders();
    await cache.evict(version);
  }
}

/** The validation state of a version as the API shows it. */
export function validationOf(row: ValidationStateRow): DatasetVersion['validation'] {
  return {
    status: row.validation_status as ValidationStatus,
    ...(row.validation_id ? { report_id: row.validation_id } : {}),
    ...(row.validated_at !== null ? { evaluated_at: Number(row.validated_at) } : {}),
  };
}

/** The stored profile of a derived version committed before its profile was computed. */
export const PENDING_PROFILE = '';

/** Profiles hold ±Infinity nowhere, but a NaN mean of an empty column must survive JSON. */
export function stringifyProfile(profile: DatasetProfile): string {
  return JSON.stringify(profile, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
}

function parseProfile(text: string): DatasetProfile {
  return JSON.parse(text) as DatasetProfile;
}
