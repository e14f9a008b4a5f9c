/** The scale-out metadata store: PostgreSQL through `pg`. */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { KyselyMetadataStore } from '../kysely-base.ts';
import type { MetadataStore } from '../ports.ts';
import type { Database } from '../schema.ts';

/** Settings of {@link PostgresMetadataStore}. */
export interface PostgresMetadataStoreConfig {
  /** `postgres://user:pass@host:port/db`. */
  readonly url: string;
  /** Pool size (default 10). */
  readonly maxConnections?: number;
  /**
   * Told about an error on an idle pooled connection (the server restarted, an administrator ended the
   * session). The pool drops that connection and opens a new one when needed; without a listener such
   * an error would crash the process.
   */
  readonly onIdleError?: (error: Error) => void;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

// Timestamps (ms) and steps are int8; they fit in a double, and every other dialect returns numbers.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
};

/** {@link MetadataStore} on PostgreSQL. */
export class PostgresMetadataStore extends KyselyMetadataStore implements MetadataStore {
  readonly dialect = 'postgres' as const;
  readonly db: Kysely<Database>;

  constructor(config: PostgresMetadataStoreConfig) {
    super();
    const pool = new pg.Pool({ connectionString: config.url, max: config.maxConnections ?? 10, types });
    pool.on('error', config.onIdleError ?? (() => undefined));
    this.db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }

  isUniqueViolation(error: unknown): boolean {
    return (error as { code?: unknown } | null)?.code === '23505';
  }
}
