/** The embedded metadata store: one SQLite file in WAL mode (better-sqlite3 12.x). */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, type SqliteDatabase } from 'kysely';
import { KyselyMetadataStore } from '../kysely-base.ts';
import type { MetadataStore } from '../ports.ts';
import type { Database } from '../schema.ts';

/** Settings of {@link SqliteMetadataStore}. */
export interface SqliteMetadataStoreConfig {
  /** Database file, or `:memory:`. Parent folders are created. */
  readonly path: string;
  /**
   * `FULL` (default) syncs the WAL at every commit, so a commit survives power loss as well as
   * `kill -9`; `NORMAL` survives `kill -9` only.
   */
  readonly synchronous?: 'FULL' | 'NORMAL';
}

/** Prepared statements kept for reuse, most recently used last. */
const STATEMENT_CACHE_SIZE = 64;

/**
 * The connection as Kysely's SQLite dialect sees it, keeping prepared statements for reuse: Kysely
 * prepares every query afresh, and preparing the 1,000-row insert of a `log-batch` costs a third of
 * running it. A statement still being iterated (a streamed query) is not handed out twice.
 */
function reusingStatements(connection: BetterSqlite3.Database): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => connection.close(),
    prepare(sql: string) {
      const cached = cache.get(sql);
      cache.delete(sql);
      const statement = cached && !cached.busy ? cached : connection.prepare(sql);
      cache.set(sql, statement);
      if (cache.size > STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      return statement;
    },
  };
}

/** {@link MetadataStore} on SQLite. */
export class SqliteMetadataStore extends KyselyMetadataStore implements MetadataStore {
  readonly dialect = 'sqlite' as const;
  readonly db: Kysely<Database>;
  /** The underlying connection, for benchmarks and integrity checks. */
  readonly connection: BetterSqlite3.Database;

  constructor(config: SqliteMetadataStoreConfig) {
    super();
    if (config.path !== ':memory:') mkdirSync(dirname(config.path), { recursive: true });
    const connection = new BetterSqlite3(config.path);
    connection.pragma('journal_mode = WAL');
    connection.pragma(`synchronous = ${config.synchronous ?? 'FULL'}`);
    connection.pragma('foreign_keys = ON');
    connection.pragma('busy_timeout = 5000');
    // MLflow's LIKE is case-sensitive (ILIKE is not); SQLite's LIKE is not unless told.
    connection.pragma('case_sensitive_like = ON');
    this.connection = connection;
    this.db = new Kysely<Database>({ dialect: new SqliteDialect({ database: reusingStatements(connection) }) });
  }

  isUniqueViolation(error: unknown): boolean {
    const code = (error as { code?: unknown } | null)?.code;
    return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
  }

  /** Runs `PRAGMA integrity_check` and returns its verdict (`ok` when sound). */
  integrityCheck(): string {
    const rows = this.connection.pragma('integrity_check') as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check).join('; ');
  }
}
