/**
 * Datasets: versioned by content, profiled, validated, with lineage — the only thing other modules
 * call. Uploads stream to a temporary file, DuckDB turns them into canonical Parquet (`ingest.ts`),
 * and the file is stored once in the blob store under its sha256, which is the version id. Nothing is
 * stored when ingestion fails. DuckDB reads versions from local copies (`cache.ts`).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Clock } from '../core/clock.ts';
import type { RequestContext } from '../core/context.ts';
import { invalidParam, MloopError, notFound } from '../core/errors.ts';
import { HashingStream } from '../core/hashing.ts';
import { newHexId, newUuid } from '../core/ids.ts';
import { parseInput } from '../core/validation.ts';
import { contentKey, putContentFile } from '../storage/content.ts';
import { sharedDuckDb, type DuckDb, type DuckDbConnection } from '../storage/duckdb/engine.ts';
import { quoteLiteral } from '../storage/duckdb/sql.ts';
import type { BlobStore, MetadataStore } from '../storage/ports.ts';
import { limitBytes } from '../storage/stream-limit.ts';
import type { DatasetInput } from '../tracking/domain.ts';
import type { Table } from '../training/types.ts';
import { ParquetCache } from './cache.ts';
import { diffProfiles, type ProfileDiff } from './diff.ts';
import {
  DATA_FORMATS,
  DATASET_URI_PREFIX,
  declaredSchemaSchema,
  formatVersionRef,
  parseDatasetUri,
  validateDatasetName,
  validateDependent,
  validateVersionSelector,
  type DataFormat,
  type Dataset,
  type DatasetProfile,
  type DatasetSchema,
  type DatasetVersion,
  type DeclaredSchema,
  type Dependent,
  type Transformation,
  type ValidationStatus,
  type VersionRef,
  type VersionSource,
} from './domain.ts';
import { canonicalize, writeCanonicalQuery, type CanonicalFile } from './ingest.ts';
import { profileParquet, type ProfileOptions } from './profile.ts';
import {
  DatasetStore,
  type Db,
  type DependentRow,
  type NameRow,
  type ValidationRow,
  type ValidationStateRow,
  type VersionRow,
  type VersionSummaryRow,
} from './store.ts';
import { readParquetTable } from './table.ts';
import { parseRules, rulesDigest, runValidation, type ValidationOutcome } from './validation.ts';

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

/** Options of {@link DatasetService.addVersion}. */
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

/** Input of {@link DatasetService.createDerived}. */
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

/** A stored validation report. */
export interface ValidationReport extends ValidationOutcome {
  readonly id: string;
  readonly dataset: string;
  readonly version: string;
  readonly rules_sha256: string;
  readonly evaluated_at: number;
  readonly evaluated_by: string;
}

/** A validation report retracted, and the version's validation state without it. */
export interface DeletedValidation {
  readonly deleted: string;
  readonly dataset: string;
  readonly version: string;
  readonly validation: DatasetVersion['validation'];
}

/** A download of a version. */
export interface DatasetDownload {
  readonly stream: Readable;
  readonly size: number;
  readonly contentType: string;
  readonly fileName: string;
}

/** Two versions compared. */
export interface DatasetDiff extends ProfileDiff {
  readonly base: { readonly dataset: string; readonly version: string };
  readonly target: { readonly dataset: string; readonly version: string };
}

/** A dependent as listed. */
export interface DependentInfo extends Dependent {
  readonly dataset: string;
  readonly version: string;
  readonly created_at: number;
  readonly created_by: string;
}

/** The data module's operations. */
export class DatasetService {
  readonly store = new DatasetStore();
  #dirs: Promise<{ tmp: string; cache: ParquetCache; owned?: string }> | undefined;
  #duck: Promise<DuckDb> | undefined;
  /** Profiles being computed, by content (sha256). */
  readonly #profiling = new Map<string, Promise<DatasetProfile>>();
  /** Deferred profiles computed after their commit, awaited by {@link close}. */
  readonly #background = new Set<Promise<void>>();

  constructor(readonly deps: DatasetDeps) {}

  get #db(): Db {
    return this.deps.metadata.db;
  }

  /** The DuckDB engine used for datasets. */
  duck(): Promise<DuckDb> {
    this.#duck ??= this.deps.duck ? Promise.resolve(this.deps.duck) : sharedDuckDb();
    return this.#duck;
  }

  #folders(): Promise<{ tmp: string; cache: ParquetCache; owned?: string }> {
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

  /** Where uploads and conversions in progress live (for diagnostics and tests: empty when idle). */
  async workDir(): Promise<string> {
    return (await this.#folders()).tmp;
  }

  /** Where local copies of versions live. */
  async cacheDir(): Promise<string> {
    return (await this.#folders()).cache.dir;
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

  async #checkProject(db: Db, ctx: RequestContext): Promise<void> {
    if (!(await this.store.projectExists(db, ctx.project))) throw notFound(`project "${ctx.project}" does not exist`);
  }

  // ---- datasets ----

  /** Datasets of the caller's project, by name. */
  async listDatasets(ctx: RequestContext): Promise<Dataset[]> {
    const rows = await this.store.listDatasets(this.#db, ctx.project);
    return rows.map((row) => toDataset(row, row.version_count, row.latest_version ?? undefined));
  }

  /** One dataset; RESOURCE_DOES_NOT_EXIST when unknown. */
  async getDataset(ctx: RequestContext, name: string): Promise<Dataset> {
    validateDatasetName(name);
    const row = await this.#datasetRow(this.#db, ctx, name);
    const versions = await this.store.listVersions(this.#db, ctx.project, name);
    return toDataset(row, versions.length, versions[0]?.version);
  }

  async #datasetRow(db: Db, ctx: RequestContext, name: string): Promise<NameRow> {
    const row = await this.store.dataset(db, ctx.project, name);
    if (!row) throw notFound(`dataset "${name}" does not exist in project "${ctx.project}"`);
    return row;
  }

  /**
   * Declares the schema later uploads of `name` get when they bring none (creating the dataset if
   * needed). `schema` is the parsed YAML/JSON document; null clears it.
   */
  async setDeclaredSchema(ctx: RequestContext, name: string, schema: unknown, description?: string): Promise<Dataset> {
    validateDatasetName(name);
    const declared = schema === null ? null : parseDeclaredSchema(schema);
    const now = this.deps.clock.now();
    await this.deps.metadata.transaction(async (trx) => {
      await this.#checkProject(trx, ctx);
      await this.store.ensureDataset(trx, ctx.project, name, now);
      await this.store.updateDataset(trx, ctx.project, name, {
        declared_schema: declared === null ? null : JSON.stringify(declared),
        updated_at: now,
        ...(description !== undefined ? { description } : {}),
      });
    });
    return this.getDataset(ctx, name);
  }

  /**
   * Deletes every version of a dataset and the dataset; CONFLICT (409) while any version has
   * dependents or a reader (a feature view) names the dataset. Returns the versions deleted.
   */
  async deleteDataset(ctx: RequestContext, name: string): Promise<{ deleted_versions: number; versions: string[] }> {
    validateDatasetName(name);
    const removed = await this.deps.metadata.transaction(async (trx) => {
      // Held to the end: a commit to the dataset (or from its versions) runs wholly before or after.
      if (!(await this.store.lockDataset(trx, this.deps.metadata.dialect, ctx.project, name, 'exclusive'))) {
        throw notFound(`dataset "${name}" does not exist in project "${ctx.project}"`);
      }
      const readers = (await this.deps.readers?.(trx, ctx.project, name)) ?? [];
      const versions = (await this.store.listVersions(trx, ctx.project, name)).map((v) => v.version);
      const recorded = outsideDependents(await this.store.dependents(trx, ctx.project, name), ctx.project, name, versions);
      const dependents = [...recorded, ...readerDependents(readers, versions)];
      if (dependents.length > 0) throw dependentsConflict(name, undefined, dependents);
      // Its derived versions stop depending on their parents, in other datasets and in this one.
      await this.store.removeDependentsById(trx, DERIVED_KIND, versions.map((v) => derivedDependentId(ctx.project, name, v)));
      for (const v of versions) await this.store.deleteVersion(trx, ctx.project, name, v);
      await this.store.deleteDataset(trx, ctx.project, name);
      return versions;
    });
    for (const version of removed) await this.#collect(version);
    return { deleted_versions: removed.length, versions: removed };
  }

  // ---- versions ----

  /**
   * Adds a version from a streamed body (CSV, Parquet or JSON Lines). The body goes to a temporary
   * file, never into memory. Adding content that already is a version of this dataset stores nothing
   * and returns that version with `created: false`.
   */
  async addVersion(ctx: RequestContext, name: string, body: Readable, options: AddVersionOptions): Promise<AddedVersion> {
    validateDatasetName(name);
    const format = parseFormat(options.format);
    if (options.expectedBytes !== undefined && options.expectedBytes > this.deps.maxUploadBytes) {
      body.resume();
      throw new MloopError('PAYLOAD_TOO_LARGE', `upload of ${options.expectedBytes} bytes exceeds the limit of ${this.deps.maxUploadBytes} bytes`);
    }
    await this.#checkProject(this.#db, ctx);
    const declared = await this.#declared(ctx, name, options.schema);
    const { tmp } = await this.#folders();
    const upload = join(tmp, `${newHexId()}.upload`);
    try {
      const hashing = new HashingStream();
      await pipeline(body, limitBytes(this.deps.maxUploadBytes), hashing, createWriteStream(upload, { flags: 'wx' }));
      const source: VersionSource = {
        format,
        ...(options.sourceName ? { name: options.sourceName } : {}),
        sha256: hashing.digest(),
        bytes: hashing.bytes,
      };
      const canonical = await canonicalize(await this.duck(), { path: upload, format, declared, label: `dataset "${name}"`, workDir: tmp });
      return await this.#commit(ctx, name, canonical, { source, parents: [], description: options.description });
    } finally {
      await rm(upload, { force: true });
    }
  }

  /**
   * Adds a version made from other versions (a training set retrieved by the feature store, a split,
   * a SQL transformation), recording its parents and the transformation. Each parent gets the new
   * version as a dependent, so parents cannot be deleted while it exists.
   */
  async createDerived(ctx: RequestContext, input: CreateDerivedInput): Promise<AddedVersion> {
    const name = validateDatasetName(input.name);
    if (typeof input.transformation?.kind !== 'string' || !/^[a-z][a-z0-9_.-]{0,63}$/.test(input.transformation.kind)) {
      throw invalidParam('transformation.kind', 'expected a lowercase identifier such as feature_retrieval or sql');
    }
    await this.#checkProject(this.#db, ctx);
    const parents: VersionSummaryRow[] = [];
    for (const [i, p] of input.parents.entries()) {
      validateDatasetName(p.name, `parents[${i}].name`);
      parents.push(await this.#resolve(this.#db, ctx, p.name, validateVersionSelector(p.version, `parents[${i}].version`)));
    }
    const declared = await this.#declared(ctx, name, input.schema);
    const label = `dataset "${name}"`;
    const { tmp } = await this.#folders();
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
      return this.#commit(ctx, name, canonical, meta);
    }
    const duck = await this.duck();
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
      return await this.#commit(ctx, name, canonical, meta);
    } finally {
      if (staged) await rm(staged, { force: true });
    }
  }

  async #declared(ctx: RequestContext, name: string, schema: unknown): Promise<DeclaredSchema | undefined> {
    if (schema !== undefined && schema !== null) return parseDeclaredSchema(schema);
    const row = await this.store.dataset(this.#db, ctx.project, name);
    return row?.declared_schema ? (JSON.parse(row.declared_schema) as DeclaredSchema) : undefined;
  }

  /**
   * Stores a canonical file as a version (or finds it already there): into the blob store by content
   * (a hard link where the store allows), then into the local cache by rename — the file is never
   * copied. Profiled first, unless `deferProfile`: then {@link #profile} runs once the version is
   * committed.
   */
  async #commit(
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
      const existing = await this.store.version(this.#db, ctx.project, name, version);
      if (existing) return { version: await this.#toVersion(this.#db, existing, false), created: false };
      const profile = meta.deferProfile ? undefined : await profileParquet(await this.duck(), canonical.path, canonical.schema, this.deps.profile);
      const stored = await putContentFile(this.deps.blobs, canonical.path, version);
      const { cache } = await this.#folders();
      await cache.adopt(version, canonical.path);
      const now = this.deps.clock.now();
      try {
        const inserted = await this.deps.metadata.transaction(async (trx) => {
          // From here to commit this transaction holds the dataset — the latest version cannot change —
          // and, shared, each dataset it derives from — their versions cannot be deleted. Taken in
          // (project, name) order, as two commits could otherwise wait for each other.
          let seq = 0;
          for (const held of lockOrder({ project: ctx.project, name }, meta.parents)) {
            if (held.project === ctx.project && held.name === name) {
              await this.store.ensureDataset(trx, ctx.project, name, now);
              seq = await this.store.nextSeq(trx, ctx.project, name);
            } else if (!(await this.store.lockDataset(trx, this.deps.metadata.dialect, held.project, held.name, 'shared'))) {
              throw notFound(`dataset "${held.name}" was deleted meanwhile; it no longer holds the versions to derive from`);
            }
          }
          if (meta.ifLatest !== undefined) {
            const latest = (await this.store.latestVersion(trx, ctx.project, name))?.version ?? null;
            if (latest !== meta.ifLatest) throw latestMoved(name, meta.ifLatest, latest);
          }
          for (const parent of meta.parents) {
            if (!(await this.store.versionExists(trx, parent.project, parent.name, parent.version))) {
              throw notFound(`dataset "${parent.name}" has no version ${parent.version.slice(0, 12)} to derive from: it was deleted meanwhile`);
            }
          }
          try {
            await this.store.insertVersion(
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
            if (this.deps.metadata.isUniqueViolation(error)) return false;
            throw error;
          }
          for (const parent of meta.parents) {
            await this.store.addDependent(trx, {
              project: parent.project,
              name: parent.name,
              version: parent.version,
              dependent_kind: DERIVED_KIND,
              dependent_id: derivedDependentId(ctx.project, name, version),
              created_at: now,
              created_by: ctx.actor.name,
            });
          }
          await this.store.updateDataset(trx, ctx.project, name, { updated_at: now });
          return true;
        });
        const row = await this.store.version(this.#db, ctx.project, name, version);
        if (row!.profile === PENDING_PROFILE) this.#profileInBackground(row!);
        return { version: await this.#toVersion(this.#db, row!, false), created: inserted };
      } catch (error) {
        // Nothing references content that was only just stored: take it back out.
        if (stored.created) await this.#collect(version);
        throw error;
      }
    } finally {
      await rm(canonical.path, { force: true });
    }
  }

  /** Removes stored content no version references any more. */
  async #collect(version: string): Promise<void> {
    if ((await this.store.contentReferences(this.#db, version)) > 0) return;
    await this.deps.blobs.delete(contentKey(version));
    const { cache } = await this.#folders();
    await cache.evict(version);
  }

  /** Finds a version by selector: `latest`, a full sha256 or a unique prefix. */
  async #resolve(db: Db, ctx: RequestContext, name: string, selector: string): Promise<VersionSummaryRow> {
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

  /** Versions of a dataset, newest first (without profiles). */
  async listVersions(ctx: RequestContext, name: string): Promise<DatasetVersion[]> {
    validateDatasetName(name);
    await this.#datasetRow(this.#db, ctx, name);
    const rows = await this.store.listVersions(this.#db, ctx.project, name);
    return Promise.all(rows.map((r) => this.#toVersion(this.#db, r, false)));
  }

  /** One version: metadata, schema, lineage, validation state and (by default) its profile. */
  async getVersion(ctx: RequestContext, name: string, selector: string, options: { profile?: boolean } = {}): Promise<DatasetVersion> {
    validateDatasetName(name);
    const summary = await this.#resolve(this.#db, ctx, name, selector);
    if (options.profile === false) return this.#toVersion(this.#db, summary, false);
    const row = (await this.store.version(this.#db, ctx.project, name, summary.version))!;
    return this.#toVersion(this.#db, row, true);
  }

  /** The stored profile of a version. */
  async getProfile(ctx: RequestContext, name: string, selector: string): Promise<DatasetProfile> {
    return (await this.getVersion(ctx, name, selector)).profile!;
  }

  async #toVersion(db: Db, row: VersionSummaryRow | VersionRow, withProfile: boolean): Promise<DatasetVersion> {
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
      ...(withProfile && 'profile' in row ? { profile: await this.#profile(row) } : {}),
    };
  }

  /**
   * The profile of a version: the stored one, or — for a derived version whose profile is still
   * being computed after its commit — computed now (once per content, however many ask) and stored.
   */
  #profile(row: VersionRow): Promise<DatasetProfile> {
    if (row.profile !== PENDING_PROFILE) return Promise.resolve(parseProfile(row.profile));
    let pending = this.#profiling.get(row.version);
    if (!pending) {
      pending = (async () => {
        const { cache } = await this.#folders();
        const path = await cache.ensure(row.version);
        const profile = stringifyProfile(await profileParquet(await this.duck(), path, JSON.parse(row.schema) as DatasetSchema, this.deps.profile));
        await this.store.setPendingProfile(this.#db, row.version, profile);
        return parseProfile(profile);
      })().finally(() => this.#profiling.delete(row.version));
      this.#profiling.set(row.version, pending);
    }
    return pending;
  }

  /** Computes a deferred profile without anyone waiting; a failure leaves it to be computed on demand. */
  #profileInBackground(row: VersionRow): void {
    const task = this.#profile(row).then(
      () => undefined,
      () => undefined,
    );
    this.#background.add(task);
    void task.finally(() => this.#background.delete(task));
  }

  /**
   * Deletes one version; CONFLICT (409) while something depends on it or a reader (a feature view)
   * pins it. A reader of the latest version keeps the dataset, not its versions: it goes on with the
   * latest one left. The file goes when no dataset holds it.
   */
  async deleteVersion(ctx: RequestContext, name: string, selector: string): Promise<{ version: string }> {
    validateDatasetName(name);
    const version = await this.deps.metadata.transaction(async (trx) => {
      // As for deleteDataset: commits to the dataset or from its versions run wholly before or after.
      await this.store.lockDataset(trx, this.deps.metadata.dialect, ctx.project, name, 'exclusive');
      const row = await this.#resolve(trx, ctx, name, selector);
      const pinning = readerDependents((await this.deps.readers?.(trx, ctx.project, name)) ?? [], [row.version], row.version);
      const dependents = [...(await this.store.dependents(trx, ctx.project, name, row.version)), ...pinning];
      if (dependents.length > 0) throw dependentsConflict(name, row.version, dependents);
      // A derived version stops depending on its parents when it goes.
      await this.store.removeDependentsById(trx, DERIVED_KIND, [derivedDependentId(ctx.project, name, row.version)]);
      await this.store.deleteVersion(trx, ctx.project, name, row.version);
      return row.version;
    });
    await this.#collect(version);
    return { version };
  }

  /** Streams a version as canonical Parquet or as CSV (header line, RFC 4180 quoting, UTC timestamps). */
  async download(ctx: RequestContext, name: string, selector: string, format: 'parquet' | 'csv' = 'parquet'): Promise<DatasetDownload> {
    const { path, version } = await this.localParquetPath(ctx, name, selector);
    const base = `${name}-${version.slice(0, 12)}`;
    if (format === 'parquet') {
      const { size } = await stat(path);
      return { stream: createReadStream(path), size, contentType: 'application/vnd.apache.parquet', fileName: `${base}.parquet` };
    }
    if (format !== 'csv') throw invalidParam('format', `expected parquet or csv, got ${JSON.stringify(format)}`);
    const { tmp } = await this.#folders();
    const csv = join(tmp, `${newHexId()}.csv`);
    const duck = await this.duck();
    await duck.withConnection((conn) =>
      conn.run(`COPY (SELECT * FROM read_parquet(${quoteLiteral(path)})) TO ${quoteLiteral(csv)} (FORMAT csv, HEADER true, DELIMITER ',', QUOTE '"', ESCAPE '"')`),
    );
    const { size } = await stat(csv);
    const stream = createReadStream(csv);
    stream.once('close', () => void rm(csv, { force: true }));
    return { stream, size, contentType: 'text/csv; charset=utf-8', fileName: `${base}.csv` };
  }

  // ---- access for other modules ----

  /**
   * A local Parquet file of a version, for DuckDB queries of other modules (the feature store).
   * Read-only: the file is shared. Fetched from the blob store when not cached.
   */
  async localParquetPath(ctx: RequestContext, name: string, selector: string): Promise<{ path: string; version: string; schema: DatasetSchema }> {
    validateDatasetName(name);
    const row = await this.#resolve(this.#db, ctx, name, selector);
    const { cache } = await this.#folders();
    return { path: await cache.ensure(row.version), version: row.version, schema: JSON.parse(row.schema) as DatasetSchema };
  }

  /**
   * A version as the trainers' columnar {@link Table}: numeric columns (integer, float, boolean as
   * 0/1, timestamp as epoch ms) as Float64Array with NaN for null, string columns as (string|null)[].
   */
  async readTable(ctx: RequestContext, name: string, selector: string, options: { columns?: readonly string[]; limit?: number } = {}): Promise<Table> {
    const { path, schema } = await this.localParquetPath(ctx, name, selector);
    let columns = schema.columns;
    if (options.columns) {
      const byName = new Map(schema.columns.map((c) => [c.name, c]));
      columns = options.columns.map((c, i) => {
        const column = byName.get(c);
        if (!column) throw invalidParam(`columns[${i}]`, `dataset "${name}" has no column "${c}" (it has ${schema.columns.map((x) => x.name).join(', ')})`);
        return column;
      });
    }
    if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 0)) {
      throw invalidParam('limit', `expected a non-negative integer, got ${options.limit}`);
    }
    return readParquetTable(await this.duck(), path, columns, options.limit);
  }

  // ---- dependents ----

  /**
   * Records that `dependent` uses a version, which then cannot be deleted until
   * {@link removeDependent}. Idempotent. Returns the resolved version (its full sha256).
   */
  async addDependent(ctx: RequestContext, ref: VersionRef, dependent: Dependent): Promise<DatasetVersion> {
    validateDatasetName(ref.name);
    const d = validateDependent(dependent);
    const row = await this.#resolve(this.#db, ctx, ref.name, ref.version);
    await this.store.addDependent(this.#db, {
      project: ctx.project,
      name: ref.name,
      version: row.version,
      dependent_kind: d.kind,
      dependent_id: d.id,
      created_at: this.deps.clock.now(),
      created_by: ctx.actor.name,
    });
    return this.#toVersion(this.#db, row, false);
  }

  /** Removes a dependent; resolves whether it was there. */
  async removeDependent(ctx: RequestContext, ref: VersionRef, dependent: Dependent): Promise<boolean> {
    validateDatasetName(ref.name);
    const d = validateDependent(dependent);
    const row = await this.#resolve(this.#db, ctx, ref.name, ref.version);
    return this.store.removeDependent(this.#db, ctx.project, ref.name, row.version, d.kind, d.id);
  }

  /**
   * What depends on a version (or, with no selector, on the dataset): the dependents a deletion of it
   * is refused for. The recorded ones — of the dataset, those outside it (versions appended to others
   * of the same dataset go with it) — then the readers (feature views): of a version those that pin
   * it; of the dataset all, one that reads whichever is the latest under version `latest`.
   */
  async listDependents(ctx: RequestContext, name: string, selector?: string): Promise<DependentInfo[]> {
    validateDatasetName(name);
    await this.#datasetRow(this.#db, ctx, name);
    const version = selector === undefined ? undefined : (await this.#resolve(this.#db, ctx, name, selector)).version;
    const versions = version !== undefined ? [version] : (await this.store.listVersions(this.#db, ctx.project, name)).map((v) => v.version);
    let rows = await this.store.dependents(this.#db, ctx.project, name, version);
    if (version === undefined) rows = outsideDependents(rows, ctx.project, name, versions);
    const readers = (await this.deps.readers?.(this.#db, ctx.project, name)) ?? [];
    return [...rows, ...readerDependents(readers, versions, version)].map((r) => ({
      dataset: name,
      version: r.version,
      kind: r.dependent_kind,
      id: r.dependent_id,
      created_at: Number(r.created_at),
      created_by: r.created_by,
    }));
  }

  // ---- validation ----

  /**
   * Runs a rules document (already parsed from YAML or JSON) on a version and stores the report,
   * which becomes the verdict of its rules set (named by its sha256); the version's validation state
   * follows from every rules set's verdict, in the same transaction (see `validationState`): a failed
   * verdict is cleared only by a later report of the same rules set that does not fail. Freshness is
   * judged against the injected clock.
   */
  async validate(ctx: RequestContext, name: string, selector: string, rules: unknown): Promise<ValidationReport> {
    validateDatasetName(name);
    const document = parseRules(rules);
    const { path, version, schema } = await this.localParquetPath(ctx, name, selector);
    const now = this.deps.clock.now();
    const outcome = await (await this.duck()).withConnection((conn) => runValidation(conn, path, schema, document, now));
    const report: ValidationReport = {
      id: newUuid(),
      dataset: name,
      version,
      rules_sha256: rulesDigest(document),
      evaluated_at: now,
      evaluated_by: ctx.actor.name,
      ...outcome,
    };
    const stored = await this.deps.metadata.transaction((trx) =>
      this.store.insertValidation(trx, {
        id: report.id,
        project: ctx.project,
        name,
        version,
        rules_sha256: report.rules_sha256,
        rules: JSON.stringify(document),
        report: JSON.stringify(report),
        status: report.status,
        created_at: now,
        created_by: ctx.actor.name,
      }),
    );
    // The version went away while it was being validated.
    if (!stored) throw notFound(`dataset "${name}" has no version ${version}`);
    return report;
  }

  /** Validation reports of a version, newest first. */
  async listValidations(ctx: RequestContext, name: string, selector: string): Promise<ValidationReport[]> {
    validateDatasetName(name);
    const row = await this.#resolve(this.#db, ctx, name, selector);
    return (await this.store.validations(this.#db, ctx.project, name, row.version)).map(toReport);
  }

  /**
   * Retracts a validation report — a rules set run by mistake, a wrong rule — and works the version's
   * validation state out again from the verdicts left, in one transaction: the rules set's previous
   * report on the version, if any, is its verdict again; with no report left the version is
   * unvalidated. RESOURCE_DOES_NOT_EXIST (404) when the version has no report `id`.
   */
  async deleteValidation(ctx: RequestContext, name: string, selector: string, id: string): Promise<DeletedValidation> {
    validateDatasetName(name);
    const row = await this.#resolve(this.#db, ctx, name, selector);
    const state = await this.deps.metadata.transaction((trx) => this.store.deleteValidation(trx, ctx.project, name, row.version, id));
    if (!state) throw notFound(`dataset "${name}" version ${row.version.slice(0, 12)} has no validation report ${JSON.stringify(id)}`);
    return { deleted: id, dataset: name, version: row.version, validation: validationOf(state) };
  }

  /** One validation report by id (of dataset `name`, when given). */
  async getValidation(ctx: RequestContext, id: string, name?: string): Promise<ValidationReport> {
    const row = await this.store.validation(this.#db, ctx.project, id);
    if (!row) throw notFound(`validation report ${JSON.stringify(id)} does not exist in project "${ctx.project}"`);
    if (name !== undefined && row.name !== name) throw notFound(`dataset "${name}" has no validation report ${id}`);
    return toReport(row);
  }

  /**
   * The gate every consumer of a version (training, pipelines, the feature store) calls first: throws
   * INVALID_STATE (400) naming the failed `error` rules while the latest report of any rules set run
   * on the version failed — or, with `requireValidation`, when it was never validated. The error's
   * fields are the failed rules (`rules.<rule>`), or with `field` — the request field that named the
   * version — that field, once per failed rule. Returns the version.
   */
  async assertUsable(ctx: RequestContext, name: string, selector: string, options: { requireValidation?: boolean; field?: string } = {}): Promise<DatasetVersion> {
    const version = await this.getVersion(ctx, name, selector, { profile: false });
    const ref = formatVersionRef(name, version.version.slice(0, 12));
    if (version.validation.status === 'failed') {
      const verdicts = await this.store.verdicts(this.#db, ctx.project, name, version.version);
      const reports = verdicts.filter((v) => v.status === 'failed').map(toReport);
      const failed = reports.flatMap((report) => report.results.filter((r) => !r.passed && r.severity === 'error'));
      throw new MloopError(
        'INVALID_STATE',
        `dataset ${ref} failed validation and cannot be used: ${failed.map((r) => `${r.name} (${r.message})`).join('; ')} [report${reports.length > 1 ? 's' : ''} ${reports.map((r) => r.id).join(', ')}]`,
        { fields: failed.map((r) => (options.field ? { field: options.field, reason: `${r.name}: ${r.message}` } : { field: `rules.${r.name}`, reason: r.message })) },
      );
    }
    if (options.requireValidation && version.validation.status === 'unvalidated') {
      throw new MloopError('INVALID_STATE', `dataset ${ref} has not been validated; validate it before use`);
    }
    return version;
  }

  // ---- lineage ----

  /** Compares `target` against `base` from their stored profiles (see `diff.ts` for the measures). */
  async diff(ctx: RequestContext, base: VersionRef, target: VersionRef): Promise<DatasetDiff> {
    const b = await this.getVersion(ctx, validateDatasetName(base.name, 'base'), base.version);
    const t = await this.getVersion(ctx, validateDatasetName(target.name, 'target'), target.version);
    return {
      base: { dataset: b.dataset, version: b.version },
      target: { dataset: t.dataset, version: t.version },
      ...diffProfiles({ schema: b.schema, profile: b.profile!, version: b.version }, { schema: t.schema, profile: t.profile!, version: t.version }),
    };
  }

  // ---- tracking ----

  /**
   * Resolves an MLflow `log-inputs` dataset that names an mloop version (`source_type` `mloop` or a
   * `mloop-dataset:<name>@<version>` source): checks the version exists and fills in its full digest,
   * canonical source, schema and a profile summary. Other inputs pass through unchanged.
   */
  async resolveRunInput(ctx: RequestContext, input: DatasetInput): Promise<DatasetInput> {
    const d = input.dataset;
    if (!d) return input;
    const ref = parseDatasetUri(d.source ?? '') ?? (d.source_type === 'mloop' ? refFromInput(d.name, d.digest, d.source) : undefined);
    if (!ref) return input;
    const version = await this.getVersion(ctx, ref.name, ref.version, { profile: false });
    return {
      tags: input.tags ?? [],
      dataset: {
        name: version.dataset,
        // MLflow caps digests at 36 characters; the source holds the full sha256.
        digest: version.version.slice(0, 32),
        source_type: 'mloop',
        source: `${DATASET_URI_PREFIX}${formatVersionRef(version.dataset, version.version)}`,
        schema: JSON.stringify({ mlflow_colspec: version.schema.columns.map((c) => ({ name: c.name, type: MLFLOW_TYPES[c.type], required: !c.nullable })) }),
        profile: JSON.stringify({ num_rows: version.row_count, num_columns: version.column_count }),
      },
    };
  }

  /** Records a run as a dependent of the mloop versions among its (resolved) inputs. */
  async recordRunInputs(ctx: RequestContext, runId: string, inputs: readonly DatasetInput[]): Promise<void> {
    for (const input of inputs) {
      const ref = parseDatasetUri(input.dataset?.source ?? '');
      if (ref) await this.addDependent(ctx, ref, { kind: 'run', id: runId });
    }
  }
}

const MLFLOW_TYPES = { integer: 'long', float: 'double', boolean: 'boolean', string: 'string', timestamp: 'datetime' } as const;

function refFromInput(name: string, digest: string, source: string | undefined): VersionRef | undefined {
  if (source && source.includes('@')) return { name: source.slice(0, source.lastIndexOf('@')), version: source.slice(source.lastIndexOf('@') + 1) };
  if (name && digest) return { name, version: digest };
  return undefined;
}

function parseFormat(format: unknown): DataFormat {
  if (typeof format === 'string' && (DATA_FORMATS as readonly string[]).includes(format)) return format as DataFormat;
  throw invalidParam('format', `expected one of ${DATA_FORMATS.join(', ')}, got ${JSON.stringify(format)}`);
}

/** Parses a declared schema document (YAML/JSON already parsed). */
export function parseDeclaredSchema(schema: unknown): DeclaredSchema {
  return parseInput(declaredSchemaSchema, schema, 'schema');
}

function toDataset(row: NameRow, versionCount: number, latest: string | undefined): Dataset {
  return {
    name: row.name,
    project: row.project,
    ...(row.description ? { description: row.description } : {}),
    created_at: Number(row.created_at),
    updated_at: Number(row.updated_at),
    version_count: versionCount,
    ...(latest ? { latest_version: latest } : {}),
    ...(row.declared_schema ? { declared_schema: JSON.parse(row.declared_schema) as DeclaredSchema } : {}),
  };
}

/** The validation state of a version as the API shows it. */
function validationOf(row: ValidationStateRow): DatasetVersion['validation'] {
  return {
    status: row.validation_status as ValidationStatus,
    ...(row.validation_id ? { report_id: row.validation_id } : {}),
    ...(row.validated_at !== null ? { evaluated_at: Number(row.validated_at) } : {}),
  };
}

function toReport(row: ValidationRow): ValidationReport {
  return JSON.parse(row.report) as ValidationReport;
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

/** The kind of dependent a derived version is recorded as on each of its parents. */
const DERIVED_KIND = 'dataset_version';

/** The id a derived version of dataset `name` is recorded under on its parents: `<project>/<name>@<sha256>`. */
function derivedDependentId(project: string, name: string, version: string): string {
  return `${project}/${formatVersionRef(name, version)}`;
}

/** The dependents of dataset `name` but those its own `versions` recorded on each other (appends). */
function outsideDependents<T extends Pick<DependentRow, 'dependent_kind' | 'dependent_id'>>(rows: readonly T[], project: string, name: string, versions: readonly string[]): T[] {
  const own = new Set(versions.map((v) => derivedDependentId(project, name, v)));
  return rows.filter((d) => !(d.dependent_kind === DERIVED_KIND && own.has(d.dependent_id)));
}

/** The version under which a reader of whichever version is the latest is listed. */
const LATEST = 'latest';

/** A dependent as {@link dependentsConflict} and {@link DatasetService.listDependents} take it. */
type DependentEntry = Pick<DependentRow, 'version' | 'dependent_kind' | 'dependent_id' | 'created_at' | 'created_by'>;

/**
 * Readers as the dependents they count as: of version `version` (given), those that pin it; of the
 * dataset, all — a pin under the full id of the version of `versions` it names, a reader of the
 * latest under {@link LATEST}.
 */
function readerDependents(readers: readonly DatasetReader[], versions: readonly string[], version?: string): DependentEntry[] {
  const listedUnder = (pin: string | undefined) => (pin === undefined ? LATEST : (versions.find((v) => v.startsWith(pin)) ?? pin));
  return readers
    .filter((r) => version === undefined || (r.version !== undefined && version.startsWith(r.version)))
    .map((r) => ({ version: version ?? listedUnder(r.version), dependent_kind: r.dependent.kind, dependent_id: r.dependent.id, created_at: r.created_at, created_by: r.created_by }));
}

function dependentsConflict(name: string, version: string | undefined, dependents: readonly Pick<DependentEntry, 'version' | 'dependent_kind' | 'dependent_id'>[]): MloopError {
  const which = (v: string) => (v === LATEST ? ' (its latest version)' : ` (version ${v.slice(0, 12)})`);
  const listed = dependents.slice(0, 10).map((d) => `${d.dependent_kind} ${d.dependent_id}${version ? '' : which(d.version)}`);
  const more = dependents.length > 10 ? ` and ${dependents.length - 10} more` : '';
  return new MloopError(
    'CONFLICT',
    `dataset "${name}"${version ? ` version ${version.slice(0, 12)}` : ''} cannot be deleted: ${dependents.length} dependent${dependents.length > 1 ? 's' : ''} use${dependents.length > 1 ? '' : 's'} it: ${listed.join(', ')}${more}`,
  );
}

/** The stored profile of a derived version committed before its profile was computed. */
const PENDING_PROFILE = '';

/** Profiles hold ±Infinity nowhere, but a NaN mean of an empty column must survive JSON. */
function stringifyProfile(profile: DatasetProfile): string {
  return JSON.stringify(profile, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
}

function parseProfile(text: string): DatasetProfile {
  return JSON.parse(text) as DatasetProfile;
}
