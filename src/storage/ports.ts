/**
 * The storage ports: one interface per kind of store. Modules depend on these interfaces only;
 * adapters (`sqlite/`, `postgres/`, `local/`, `s3/`) implement them and each passes the port's
 * shared contract suite in `contract/`.
 */
import type { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

/** SQL dialects the metadata store speaks. Queries are written once; a few helpers branch on this. */
export type SqlDialect = 'sqlite' | 'postgres';

/** The result of applying migrations. */
export interface MigrationReport {
  /** Names of migrations applied by this call, in order. */
  readonly applied: readonly string[];
  /** Names of every migration now applied. */
  readonly current: readonly string[];
}

/**
 * The metadata store: experiments, runs, registry, lineage, audit — everything that is not a file.
 * One query layer (Kysely) over SQLite or PostgreSQL.
 */
export interface MetadataStore {
  /** Which SQL dialect `db` speaks. */
  readonly dialect: SqlDialect;
  /** The query builder. Outside {@link transaction} each statement commits on its own. */
  readonly db: Kysely<Database>;
  /**
   * Runs `fn` in one transaction: committed (durably) when it resolves, rolled back when it throws.
   * Transactions do not nest.
   */
  transaction<T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T>;
  /** Applies every pending migration, in order, each in its own transaction. Safe to call twice. */
  migrate(): Promise<MigrationReport>;
  /** Resolves when the store answers a trivial query; rejects otherwise. */
  ping(): Promise<void>;
  /** True when `error` is a violation of a unique or primary key. */
  isUniqueViolation(error: unknown): boolean;
  /** Releases connections. The store is unusable afterwards. */
  close(): Promise<void>;
}

/** Facts about a stored blob. */
export interface BlobInfo {
  /** The key, a validated relative path (`a/b/c.txt`). */
  readonly key: string;
  /** Size in bytes. */
  readonly size: number;
}

/** One entry of a {@link BlobStore.list} listing. */
export interface BlobEntry {
  /** Path relative to the listed prefix's parent, i.e. the full key of the child. */
  readonly key: string;
  /** True for a "directory" (a common prefix of longer keys). */
  readonly isDir: boolean;
  /** Size in bytes; absent for directories. */
  readonly size?: number;
}

/** What {@link BlobStore.put} reports. */
export interface PutResult extends BlobInfo {
  /** sha256 of the bytes written, lowercase hex. */
  readonly sha256: string;
}

/** Options of {@link BlobStore.put}. */
export interface PutOptions {
  /** Abort and discard the write when the body exceeds this many bytes (throws PAYLOAD_TOO_LARGE). */
  readonly maxBytes?: number;
}

/**
 * The blob store: artifacts and dataset files, addressed by relative keys. Writes are atomic: a
 * reader sees the old blob or the whole new one, never part of one, and a write that resolved
 * survives a crash of the process. Bodies stream; no method holds a whole blob in memory.
 *
 * Keys are relative paths already checked by `core/paths.ts`; adapters check again that no key
 * resolves outside their root.
 */
export interface BlobStore {
  /** Which backend this is. */
  readonly kind: 'local' | 's3';
  /** A human-readable location for logs (`/var/mloop/artifacts`, `s3://bucket/prefix`). */
  readonly location: string;
  /** Writes `body` under `key`, replacing any blob there. */
  put(key: string, body: Readable | Uint8Array, options?: PutOptions): Promise<PutResult>;
  /** Streams the blob at `key`; rejects with RESOURCE_DOES_NOT_EXIST when there is none. */
  get(key: string): Promise<Readable>;
  /** Size of the blob at `key`, or `undefined` when there is none (directories are not blobs). */
  stat(key: string): Promise<BlobInfo | undefined>;
  /**
   * The direct children of `prefix` (a directory key, `''` for the root): blobs with their sizes and
   * sub-directories, sorted by key. An absent prefix lists as empty.
   */
  list(prefix: string): Promise<BlobEntry[]>;
  /** Every blob key under `prefix`, recursively, sorted. */
  listAll(prefix: string): AsyncIterable<BlobInfo>;
  /** Deletes the blob at `key`; resolves false when there was none. */
  delete(key: string): Promise<boolean>;
  /** Deletes every blob under the directory `prefix`; resolves the number deleted. */
  deletePrefix(prefix: string): Promise<number>;
  /** Moves a blob to a new key atomically where the backend allows (rename), else copy then delete. */
  move(from: string, to: string): Promise<void>;
  /**
   * Optional: stores the local file at `path` under `key` without copying its bytes (a hard link,
   * where the file system allows; else a copy), with the atomicity and durability of {@link put}.
   * The file stays at `path`; the caller must not change it afterwards, since the blob may share its
   * bytes (replacing or deleting either never changes the other). Rejects when `path` is not a file.
   * Backends that cannot do better than {@link put} of a file stream leave this out.
   */
  putFile?(key: string, path: string): Promise<BlobInfo>;
  /** Resolves when the store is reachable and writable. */
  ping(): Promise<void>;
  /** Releases clients. */
  close(): Promise<void>;
}

/** A feature value as the online store keeps it (timestamps as epoch milliseconds). */
export type OnlineValue = number | string | boolean | null;

/** The stored feature values of one entity in one table, with the event time they hold for. */
export interface OnlineRecord {
  /** Event time of the values, epoch milliseconds. */
  readonly eventTime: number;
  /** Feature values by feature name. Non-finite numbers (NaN, ±Infinity) round-trip. */
  readonly values: Readonly<Record<string, OnlineValue>>;
}

/** One record to write: where it goes (table, entity key) and what it holds. */
export interface OnlineWrite extends OnlineRecord {
  /** The table (one per project and feature view), e.g. `default/driver_stats`. */
  readonly table: string;
  /** The serialized entity key, e.g. `[1001]`. */
  readonly key: string;
}

/** What {@link OnlineStore.write} reports. */
export interface OnlineWriteResult {
  /** Records stored. */
  readonly written: number;
  /** Records ignored because the stored one has a newer event time. */
  readonly skipped: number;
}

/**
 * The online feature store: the latest feature values per entity, read at serving time. A write
 * replaces the stored record of its (table, key) only when its event time is not older than the
 * stored one's (newer or equal wins), so out-of-order and concurrent writers converge on the newest
 * values. A write that resolved survives a crash of the process.
 */
export interface OnlineStore {
  /** Which backend this is. */
  readonly kind: 'sqlite' | 'redis';
  /** Writes `records`, each atomically; resolves with how many were stored and skipped. */
  write(records: readonly OnlineWrite[]): Promise<OnlineWriteResult>;
  /** The records of `keys` in `table`, in the order asked; `undefined` where there is none. */
  read(table: string, keys: readonly string[]): Promise<(OnlineRecord | undefined)[]>;
  /** Deletes the records of `table` whose event time is before `before` (TTL clean-up); resolves the count. */
  purge(table: string, before: number): Promise<number>;
  /** Deletes every record of `table`; resolves the count. */
  dropTable(table: string): Promise<number>;
  /** Resolves when the store answers; rejects otherwise. */
  ping(): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
}
