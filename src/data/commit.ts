/**
 * Adding versions: uploads streamed to a temporary file and derived versions made from others, each
 * turned into canonical Parquet (`ingest.ts`) and committed — stored once in the blob store under its
 * sha256, then recorded in one transaction that holds the dataset and the datasets it derives from.
 */
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RequestContext } from '../core/context.ts';
import { invalidParam, MloopError, notFound } from '../core/errors.ts';
import { HashingStream } from '../core/hashing.ts';
import { newHexId } from '../core/ids.ts';
import { putContentFile } from '../storage/content.ts';
import type { DuckDbConnection } from '../storage/duckdb/engine.ts';
import { limitBytes } from '../storage/stream-limit.ts';
import { PENDING_PROFILE, stringifyProfile, type DatasetContext } from './context.ts';
import { parseDeclaredSchema } from './datasets.ts';
import { DERIVED_KIND, derivedDependentId } from './dependents.ts';
import {
  DATA_FORMATS,
  validateDatasetName,
  validateVersionSelector,
  type DataFormat,
  type DatasetVersion,
  type DeclaredSchema,
  type Transformation,
  type VersionRef,
  type VersionSource,
} from './domain.ts';
import { canonicalize, writeCanonicalQuery, type CanonicalFile } from './ingest.ts';
import { profileParquet } from './profile.ts';
import type { VersionSummaryRow } from './store.ts';

/** Options of {@link addVersion}. */
export interface AddVersionOptions {
  readonly format: DataFormat;
  /** Declared schema (unparsed); the dataset's stored declared schema applies when absent. */
  readonly schema?: unknown;
  /** The uploaded file's name or URI, kept as the version's source. */
  readonly sourceName?: string;
  readonly description?: string;
  /** Announced size of the body (Content-Length), checked against the upload limit before reading. */
  readonly expectedBytes?: number;
}

/** Input of {@link createDerived}. */
export interface CreateDerivedInput {
  readonly name: string;
  /** The versions it was made from (resolved in the caller's project; each becomes a dependency). */
  readonly parents: readonly VersionRef[];
  readonly transformation: Transformation;
  /**
   * The data: a local Parquet file (left in place) or a DuckDB query run on the shared engine, each
   * written out and then canonicalized like an upload; or a query on the caller's own connection
   * (`order` names the column that orders its rows), written once, straight into canonical form —
   * `schema` must then declare the nullability of every column.
   */
  readonly source:
    | { readonly parquetPath: string }
    | { readonly sql: string }
    | { readonly query: { readonly connection: DuckDbConnection; readonly sql: string; readonly order: string } };
  /** Declared schema (unparsed), as for uploads. */
  readonly schema?: unknown;
  readonly description?: string;
  /**
   * Commit only while this is still the dataset's latest version (null: while it has none), checked
   * in the commit's transaction; otherwise nothing is stored and the call throws a CONFLICT for which
   * {@link isLatestMoved} is true. For appends: read the latest version, add to it, commit if it is
   * still the latest, else read again.
   */
  readonly ifLatest?: string | null;
}

/** A version as added: `created` is false when identical content already was that version. */
export interface AddedVersion {
  readonly version: DatasetVersion;
  readonly created: boolean;
}

/**
 * Adds a version from a streamed body (CSV, Parquet or JSON Lines). The body goes to a temporary
 * file, never into memory. Adding content that already is a version of this dataset stores nothing
 * and returns that version with `created: false`.
 */
export async function addVersion(data: DatasetContext, ctx: RequestContext, name: string, body: Readable, options: AddVersionOptions): Promise<AddedVersion> {
  validateDatasetName(name);
  const format = parseFormat(options.format);
  if (options.expectedBytes !== undefined && options.expectedBytes > data.deps.maxUploadBytes) {
    body.resume();
    throw new MloopError('PAYLOAD_TOO_LARGE', `upload of ${options.expectedBytes} bytes exceeds the limit of ${data.deps.maxUploadBytes} bytes`);
  }
  await data.checkProject(data.db, ctx);
  const declared = await declaredSchema(data, ctx, name, options.schema);
  const { tmp } = await data.folders();
  const upload = join(tmp, `${newHexId()}.upload`);
  try {
    const hashing = new HashingStream();
    await pipeline(body, limitBytes(data.deps.maxUploadBytes), hashing, createWriteStream(upload, { flags: 'wx' }));
    const source: VersionSource = {
      format,
      ...(options.sourceName ? { name: options.sourceName } : {}),
      sha256: hashing.digest(),
      bytes: hashing.bytes,
    };
    const canonical = await canonicalize(await data.duck(), { path: upload, format, declared, label: `dataset "${name}"`, workDir: tmp });
    return await commit(data, ctx, name, canonical, { source, parents: [], description: options.description });
  } finally {
    await rm(upload, { force: true });
  }
}

/**
 * Adds a version made from other versions (a training set retrieved by the feature store, a split,
 * a SQL transformation), recording its parents and the transformation. Each parent gets the new
 * version as a dependent, so parents cannot be deleted while it exists.
 */
export async function createDerived(data: DatasetContext, ctx: RequestContext, input: CreateDerivedInput): Promise<AddedVersion> {
  const name = validateDatasetName(input.name);
  if (typeof input.transformation?.kind !== 'string' || !/^[a-z][a-z0-9_.-]{0,63}$/.test(input.transformation.kind)) {
    throw invalidParam('transformation.kind', 'expected a lowercase identifier such as feature_retrieval or sql');
  }
  await data.checkProject(data.db, ctx);
  const parents: VersionSummaryRow[] = [];
  for (const [i, p] of input.parents.entries()) {
    validateDatasetName(p.name, `parents[${i}].name`);
    parents.push(await data.resolve(data.db, ctx, p.name, validateVersionSelector(p.version, `parents[${i}].version`)));
  }
  const declared = await declaredSchema(data, ctx, name, input.schema);
  const label = `dataset "${name}"`;
  const { tmp } = await data.folders();
  const meta = {
    source: { format: 'derived' as const },
    parents: parents.map((p) => ({ project: ctx.project, name: p.name, version: p.version })),
    transformation: input.transformation,
    description: input.description,
    ifLatest: input.ifLatest,
    // Derived versions are profiled after they are committed; readers compute a missing profile on demand.
    deferProfile: true,
  };
  if ('query' in input.source) {
    const { connection, sql, order } = input.source.query;
    const output = join(tmp, `${newHexId()}.parquet`);
    const canonical = await writeCanonicalQuery(connection, { sql, order, declared: declared ?? { strict: false, columns: [] }, label, output });
    return commit(data, ctx, name, canonical, meta);
  }
  const duck = await data.duck();
  let path: string;
  let staged: string | undefined;
  if ('sql' in input.source) {
    staged = join(tmp, `${newHexId()}.derived.parquet`);
    const target = staged;
    const sql = input.source.sql;
    await duck.withConnection((conn) => conn.copyToParquet(sql, target, { compression: 'uncompressed' }));
    path = staged;
  } else path = input.source.parquetPath;
  try {
    const canonical = await canonicalize(duck, { path, format: 'parquet', declared, label, workDir: tmp });
    return await commit(data, ctx, name, canonical, meta);
  } finally {
    if (staged) await rm(staged, { force: true });
  }
}

/** The declared schema a new version of `name` gets: the one given, else the dataset's stored one. */
async function declaredSchema(data: DatasetContext, ctx: RequestContext, name: string, schema: unknown): Promise<DeclaredSchema | undefined> {
  if (schema !== undefined && schema !== null) return parseDeclaredSchema(schema);
  const row = await data.store.dataset(data.db, ctx.project, name);
  return row?.declared_schema ? (JSON.parse(row.declared_schema) as DeclaredSchema) : undefined;
}

/**
 * Stores a canonical file as a version (or finds it already there): into the blob store by content
 * (a hard link where the store allows), then into the local cache by rename — the file is never
 * copied. Profiled first, unless `deferProfile`: then {@link DatasetContext.profile} runs once the
 * version is committed.
 */
async function commit(
  data: DatasetContext,
  ctx: RequestContext,
  name: string,
  canonical: CanonicalFile,
  meta: {
    source: VersionSource;
    parents: { project: string; name: string; version: string }[];
    transformation?: Transformation;
    description?: string;
    deferProfile?: boolean;
    ifLatest?: string | null;
  },
): Promise<AddedVersion> {
  const version = canonical.sha256;
  try {
    const existing = await data.store.version(data.db, ctx.project, name, version);
    if (existing) return { version: await data.toVersion(data.db, existing, false), created: false };
    const profile = meta.deferProfile ? undefined : await profileParquet(await data.duck(), canonical.path, canonical.schema, data.deps.profile);
    const stored = await putContentFile(data.deps.blobs, canonical.path, version);
    const { cache } = await data.folders();
    await cache.adopt(version, canonical.path);
    const now = data.deps.clock.now();
    try {
      const inserted = await data.deps.metadata.transaction(async (trx) => {
        // From here to commit this transaction holds the dataset — the latest version cannot change —
        // and, shared, each dataset it derives from — their versions cannot be deleted. Taken in
        // (project, name) order, as two commits could otherwise wait for each other.
        let seq = 0;
        for (const held of lockOrder({ project: ctx.project, name }, meta.parents)) {
          if (held.project === ctx.project && held.name === name) {
            // A deletion of the dataset may commit between ensuring its row and taking it: then it is
            // made again (this version is the first of a new dataset), at most a few times.
            for (let attempt = 1; ; attempt++) {
              await data.store.ensureDataset(trx, ctx.project, name, now);
              const next = await data.store.nextSeq(trx, ctx.project, name);
              if (next !== undefined) {
                seq = next;
                break;
              }
              if (attempt === 5) throw new MloopError('CONFLICT', `dataset "${name}" is being deleted and added at once; try again`);
            }
          } else if (!(await data.store.lockDataset(trx, data.deps.metadata.dialect, held.project, held.name, 'shared'))) {
            throw notFound(`dataset "${held.name}" was deleted meanwhile; it no longer holds the versions to derive from`);
          }
        }
        if (meta.ifLatest !== undefined) {
          const latest = (await data.store.latestVersion(trx, ctx.project, name))?.version ?? null;
          if (latest !== meta.ifLatest) throw latestMoved(name, meta.ifLatest, latest);
        }
        for (const parent of meta.parents) {
          if (!(await data.store.versionExists(trx, parent.project, parent.name, parent.version))) {
            throw notFound(`dataset "${parent.name}" has no version ${parent.version.slice(0, 12)} to derive from: it was deleted meanwhile`);
          }
        }
        try {
          await data.store.insertVersion(
            trx,
            {
              project: ctx.project,
              name,
              version,
              description: meta.description ?? null,
              size_bytes: canonical.size,
              row_count: canonical.rowCount,
              column_count: canonical.schema.columns.length,
              schema: JSON.stringify(canonical.schema),
              profile: profile ? stringifyProfile(profile) : PENDING_PROFILE,
              source_format: meta.source.format,
              source_name: meta.source.name ?? null,
              source_sha256: meta.source.sha256 ?? null,
              source_bytes: meta.source.bytes ?? null,
              transformation: meta.transformation ? JSON.stringify(meta.transformation) : null,
              created_at: now,
              created_by: ctx.actor.name,
              validation_status: 'unvalidated',
              validation_id: null,
              validated_at: null,
              seq,
            },
            meta.parents,
          );
        } catch (error) {
          if (data.deps.metadata.isUniqueViolation(error)) return undefined;
          throw error;
        }
        for (const parent of meta.parents) {
          await data.store.addDependent(trx, {
            project: parent.project,
            name: parent.name,
            version: parent.version,
            dependent_kind: DERIVED_KIND,
            dependent_id: derivedDependentId(ctx.project, name, version),
            created_at: now,
            created_by: ctx.actor.name,
          });
        }
        await data.store.updateDataset(trx, ctx.project, name, { updated_at: now });
        // Read back in the transaction: a deletion right after the commit must not leave nothing to answer.
        const row = (await data.store.version(trx, ctx.project, name, version))!;
        return { row, version: await data.toVersion(trx, row, false) };
      });
      if (inserted) {
        if (inserted.row.profile === PENDING_PROFILE) data.profileInBackground(inserted.row);
        return { version: inserted.version, created: true };
      }
      // Another commit stored the same content first.
      const row = await data.store.version(data.db, ctx.project, name, version);
      if (!row) throw new MloopError('CONFLICT', `dataset "${name}" version ${version.slice(0, 12)} was deleted as it was being added again; try again`);
      return { version: await data.toVersion(data.db, row, false), created: false };
    } catch (error) {
      // Nothing references content that was only just stored: take it back out.
      if (stored.created) await data.collect(version);
      throw error;
    }
  } finally {
    await rm(canonical.path, { force: true });
  }
}

function parseFormat(format: unknown): DataFormat {
  if (typeof format === 'string' && (DATA_FORMATS as readonly string[]).includes(format)) return format as DataFormat;
  throw invalidParam('format', `expected one of ${DATA_FORMATS.join(', ')}, got ${JSON.stringify(format)}`);
}

/** Errors of commits refused because the dataset's latest version moved (see `ifLatest`). */
const LATEST_MOVED = new WeakSet<MloopError>();

function latestMoved(name: string, expected: string | null, latest: string | null): MloopError {
  const label = (v: string | null) => (v === null ? 'none' : v.slice(0, 12));
  const error = new MloopError('CONFLICT', `dataset "${name}": another version was committed meanwhile (the latest is ${label(latest)}, not ${label(expected)}); read it and try again`);
  LATEST_MOVED.add(error);
  return error;
}

/** True when `error` is a commit refused because the dataset's latest version was not the one given as `ifLatest`. */
export function isLatestMoved(error: unknown): boolean {
  return error instanceof MloopError && LATEST_MOVED.has(error);
}

/** Dataset `own` and the datasets of `parents`, each once, in the order commits lock them: by project, then name. */
function lockOrder(own: { project: string; name: string }, parents: readonly { project: string; name: string }[]): { project: string; name: string }[] {
  const byKey = new Map([own, ...parents].map((d) => [JSON.stringify([d.project, d.name]), { project: d.project, name: d.name }]));
  return [...byKey.values()].sort((a, b) => (a.project === b.project ? compare(a.name, b.name) : compare(a.project, b.project)));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
