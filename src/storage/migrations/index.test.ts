/**
 * The migration sequence: names numbered 0001, 0002, … without gaps, one file per name, and a
 * database left by any earlier prefix of the sequence upgrades to the latest on every SQL dialect.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createPostgresDatabase, tempDir } from '../../../test/support/backends.ts';
import { applyMigrations } from '../kysely-base.ts';
import type { MetadataStore, SqlDialect } from '../ports.ts';
import { PostgresMetadataStore } from '../postgres/metadata-store.ts';
import { SqliteMetadataStore } from '../sqlite/metadata-store.ts';
import { migrationsFor } from './index.ts';

const dialects: SqlDialect[] = ['sqlite', 'postgres'];

describe('migration names', () => {
  for (const dialect of dialects) {
    it(`are contiguous, sorted and named NNNN-word on ${dialect}`, () => {
      const names = Object.keys(migrationsFor(dialect));
      assert.ok(names.length > 0);
      assert.deepEqual(names, [...names].sort(), 'listed in the order they apply');
      names.forEach((name, i) => {
        assert.match(name, /^\d{4}-[a-z][a-z-]*$/, name);
        assert.equal(Number(name.slice(0, 4)), i + 1, `${name} is number ${i + 1} of the sequence`);
      });
    });
  }

  it('each have the file of that name, and no other migration file exists', () => {
    const dir = import.meta.dirname;
    const files = readdirSync(dir)
      .filter((f) => /^\d{4}-.*\.ts$/.test(f) && !f.endsWith('.test.ts'))
      .map((f) => f.replace(/\.ts$/, ''))
      .sort();
    assert.deepEqual(files, Object.keys(migrationsFor('sqlite')));
  });
});

/** A fresh, unmigrated store of `dialect`, or the reason it cannot be opened here. */
async function openEmpty(dialect: SqlDialect): Promise<{ store: MetadataStore; cleanup(): Promise<void> }> {
  if (dialect === 'sqlite') {
    const dir = await tempDir();
    const store = new SqliteMetadataStore({ path: join(dir.path, 'mloop.db') });
    return { store, cleanup: async () => (await store.close(), await dir.cleanup()) };
  }
  const database = await createPostgresDatabase(process.env.MLOOP_TEST_POSTGRES_URL!);
  const store = new PostgresMetadataStore({ url: database.url });
  return { store, cleanup: async () => (await store.close(), await database.drop()) };
}

for (const dialect of dialects) {
  const skip = dialect === 'postgres' && !process.env.MLOOP_TEST_POSTGRES_URL ? 'MLOOP_TEST_POSTGRES_URL is not set' : undefined;
  describe(`upgrading a database left by an earlier migration set on ${dialect}`, { skip }, () => {
    const all = migrationsFor(dialect);
    const names = Object.keys(all);
    for (let n = 1; n < names.length; n++) {
      it(`applies ${names.slice(n).join(', ')} over ${names[n - 1]}`, async () => {
        const { store, cleanup } = await openEmpty(dialect);
        try {
          const earlier = Object.fromEntries(names.slice(0, n).map((name) => [name, all[name]]));
          const first = await applyMigrations(store.db, earlier);
          assert.deepEqual(first.applied, names.slice(0, n));
          const upgrade = await store.migrate();
          assert.deepEqual(upgrade.applied, names.slice(n));
          assert.deepEqual(upgrade.current, names);
          // The upgraded database works: the Default experiment from 0001 is still there.
          const experiment = await store.db.selectFrom('experiments').select('name').where('experiment_id', '=', 0).executeTakeFirst();
          assert.equal(experiment?.name, 'Default');
        } finally {
          await cleanup();
        }
      });
    }
  });
}
