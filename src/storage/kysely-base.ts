/**
 * What the SQL metadata adapters share: transactions and migrations over a Kysely instance. Each
 * adapter supplies its dialect, its connection settings and its error codes.
 */
import { Migrator, sql, type Kysely, type MigrationProvider, type Migration } from 'kysely';
import { MloopError } from '../core/errors.ts';
import { migrationsFor } from './migrations/index.ts';
import type { MetadataStore, MigrationReport, SqlDialect } from './ports.ts';
import type { Database } from './schema.ts';

class StaticMigrationProvider implements MigrationProvider {
  constructor(private readonly migrations: Record<string, Migration>) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return this.migrations;
  }
}

/**
 * Applies, in name order, those of `migrations` the database has not yet recorded. The stores apply
 * every migration of their dialect; tests apply a prefix to build a database as an earlier release
 * left it.
 */
export async function applyMigrations(db: Kysely<Database>, migrations: Record<string, Migration>): Promise<MigrationReport> {
  const migrator = new Migrator({
    db,
    provider: new StaticMigrationProvider(migrations),
    migrationTableName: 'mloop_migrations',
    migrationLockTableName: 'mloop_migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new MloopError('INTERNAL_ERROR', `migration ${failed} failed: ${String((error as Error).message ?? error)}`, {
      cause: error,
    });
  }
  const all = await migrator.getMigrations();
  return {
    applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName),
    current: all.filter((m) => m.executedAt !== undefined).map((m) => m.name),
  };
}

/** Base of the SQL adapters of {@link MetadataStore}. */
export abstract class KyselyMetadataStore implements MetadataStore {
  abstract readonly dialect: SqlDialect;
  abstract readonly db: Kysely<Database>;

  async transaction<T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(fn);
  }

  async migrate(): Promise<MigrationReport> {
    return applyMigrations(this.db, migrationsFor(this.dialect));
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  abstract isUniqueViolation(error: unknown): boolean;

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
