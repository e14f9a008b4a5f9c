/**
 * The offline/analytical engine of DESIGN.md: one in-process DuckDB instance per process, over
 * Parquet files on local disk. DuckDB here cannot download extensions (no httpfs), so it reads local
 * files only; modules keep local copies of what lives in the blob store.
 *
 * DuckDB runs its queries on libuv's thread pool, which file I/O shares; a semaphore keeps a few
 * queries in flight at once so that a long scan never starves the rest of the server.
 */
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBConnection, DuckDBInstance, type DuckDBDataChunk, type DuckDBValue } from '@duckdb/node-api';
import { quoteLiteral, structLiteral } from './sql.ts';

/** Options of {@link DuckDb.open}. */
export interface DuckDbOptions {
  /** Worker threads of DuckDB; default: the machine's parallelism. */
  readonly threads?: number;
  /** DuckDB `memory_limit`, e.g. `4GB`; default: DuckDB's (80% of RAM). */
  readonly memoryLimit?: string;
  /** Where DuckDB spills what does not fit in memory; default: a folder in the OS temp dir. */
  readonly tempDirectory?: string;
  /** Queries allowed to run at once; more wait. Default 2. */
  readonly maxConcurrentQueries?: number;
}

/** Options of {@link DuckDbConnection.copyToParquet}. */
export interface ParquetWriteOptions {
  /** Rows per row group (DuckDB `ROW_GROUP_SIZE`). */
  readonly rowGroupSize?: number;
  /** `zstd` (default), `snappy`, `gzip` or `uncompressed`. */
  readonly compression?: 'zstd' | 'snappy' | 'gzip' | 'uncompressed';
  /** Key/value pairs written into the file footer. */
  readonly kvMetadata?: Record<string, string>;
}

/** Bound parameters of a query: positional (`$1`) or named (`$name`). */
export type Params = readonly DuckDBValue[] | Record<string, DuckDBValue>;

/** A row as plain JS values; BIGINT arrives as `number` when it is a safe integer, else `bigint`. */
export type Row = Record<string, unknown>;

/** One connection borrowed from the engine for a unit of work (temp tables live as long as it does). */
export class DuckDbConnection {
  constructor(readonly raw: DuckDBConnection) {}

  /** Runs a statement, discarding its result. */
  async run(sql: string, params?: Params): Promise<void> {
    await this.raw.run(sql, params as DuckDBValue[] | Record<string, DuckDBValue> | undefined);
  }

  /** Runs a query and returns every row as an object of JS values. */
  async rows<T extends Row = Row>(sql: string, params?: Params): Promise<T[]> {
    const reader = await this.raw.runAndReadAll(sql, params as DuckDBValue[] | Record<string, DuckDBValue> | undefined);
    return reader.getRowObjectsJS().map((row) => normalizeRow(row) as T);
  }

  /** The first row of a query, or undefined. */
  async first<T extends Row = Row>(sql: string, params?: Params): Promise<T | undefined> {
    return (await this.rows<T>(sql, params))[0];
  }

  /**
   * Streams a query chunk by chunk (about 2,048 rows each) to `onChunk`, which receives the chunk's
   * column vectors; nothing is collected.
   */
  async forEachChunk(
    sql: string,
    params: Params | undefined,
    onChunk: (chunk: DuckDBDataChunk) => void,
  ): Promise<void> {
    const result = await this.raw.stream(sql, params as DuckDBValue[] | Record<string, DuckDBValue> | undefined);
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) return;
      onChunk(chunk);
    }
  }

  /** Writes the result of `selectSql` to a Parquet file at `path` (`COPY (...) TO ...`); resolves the rows written. */
  async copyToParquet(selectSql: string, path: string, options: ParquetWriteOptions = {}, params?: Params): Promise<number> {
    const parts = ['FORMAT parquet', `COMPRESSION ${options.compression ?? 'zstd'}`];
    if (options.rowGroupSize !== undefined) parts.push(`ROW_GROUP_SIZE ${Math.trunc(options.rowGroupSize)}`);
    if (options.kvMetadata && Object.keys(options.kvMetadata).length > 0) parts.push(`KV_METADATA ${structLiteral(options.kvMetadata)}`);
    const [result] = await this.rows<{ Count: number | bigint }>(`COPY (${selectSql}) TO ${quoteLiteral(path)} (${parts.join(', ')})`, params);
    return Number(result?.Count ?? 0);
  }

  /** Number of SQL statements in `sql` (to refuse anything but a single statement). */
  async statementCount(sql: string): Promise<number> {
    return (await this.raw.extractStatements(sql)).count;
  }
}

function normalizeRow(row: Record<string, unknown>): Row {
  for (const [key, value] of Object.entries(row)) row[key] = normalizeValue(value);
  return row;
}

function normalizeValue(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value;
  }
  if (Array.isArray(value)) return value.map(normalizeValue);
  return value;
}

/** A counting semaphore. */
class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

/** The process's DuckDB instance and its connections. */
export class DuckDb {
  readonly #instance: DuckDBInstance;
  readonly #slots: Semaphore;
  #closed = false;

  private constructor(instance: DuckDBInstance, maxConcurrent: number) {
    this.#instance = instance;
    this.#slots = new Semaphore(maxConcurrent);
  }

  /** Opens an in-memory DuckDB with fixed settings: UTC session time zone, insertion order kept. */
  static async open(options: DuckDbOptions = {}): Promise<DuckDb> {
    const config: Record<string, string> = {
      threads: String(options.threads ?? Math.max(1, availableParallelism())),
      preserve_insertion_order: 'true',
      temp_directory: options.tempDirectory ?? join(tmpdir(), `mloop-duckdb-${process.pid}`),
      // Only what ships inside the binary: nothing is downloaded or loaded from disk.
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
    };
    if (options.memoryLimit) config.memory_limit = options.memoryLimit;
    const instance = await DuckDBInstance.create(':memory:', config);
    const setup = await instance.connect();
    try {
      // ICU is linked in but only usable once the instance exists; every timestamp is read and shown in UTC.
      await setup.run(`SET GLOBAL TimeZone = 'UTC'`);
    } finally {
      setup.closeSync();
    }
    return new DuckDb(instance, options.maxConcurrentQueries ?? 2);
  }

  /** Runs `fn` with a fresh connection, closed afterwards; waits for a free slot first. */
  async withConnection<T>(fn: (connection: DuckDbConnection) => Promise<T>): Promise<T> {
    if (this.#closed) throw new Error('DuckDB engine is closed');
    await this.#slots.acquire();
    let raw: DuckDBConnection | undefined;
    try {
      raw = await this.#instance.connect();
      return await fn(new DuckDbConnection(raw));
    } finally {
      raw?.closeSync();
      this.#slots.release();
    }
  }

  /** Runs one query on its own connection and returns its rows. */
  rows<T extends Row = Row>(sql: string, params?: Params): Promise<T[]> {
    return this.withConnection((c) => c.rows<T>(sql, params));
  }

  /** Closes the instance; pending work must have finished. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#instance.closeSync();
  }
}

let shared: Promise<DuckDb> | undefined;

/**
 * The DuckDB instance shared by every module of this process, opened on first use. Later callers'
 * options are ignored: the first caller (the server start-up) decides.
 */
export function sharedDuckDb(options: DuckDbOptions = {}): Promise<DuckDb> {
  shared ??= DuckDb.open(options);
  return shared;
}
