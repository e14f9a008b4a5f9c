/**
 * The migration sequence: names numbered 0001, 0002, … without gaps, one file per name, and a
 * database left by any earlier prefix of the sequence upgrades to the latest on every SQL dialect.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import { createPostgresDatabase, tempDir } from '../../../test/support/backends.ts';
import { DatasetStore, validationState } from '../../data/store.ts';
import { applyMigrations } from '../kysely-base.ts';
import type { MetadataStore, SqlDialect } from '../ports.ts';
import { PostgresMetadataStore } from '../postgres/metadata-store.ts';
import type { Database } from '../schema.ts';
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

/**
 * Versions as 0007 left them — each in the state of its latest report, whatever its rules set — with
 * their reports: dataset, version, and the reports oldest first as [rules set, status, created_at].
 */
const VALIDATED: [string, string, [string, string, number][]][] = [
  ['a', 'v1', [['A', 'failed', 10], ['B', 'passed', 10]]], // another rules set passed in the same millisecond
  ['a', 'v2', [['A', 'failed', 11], ['A', 'passed', 12]]], // the same rules set passed later
  ['a', 'v3', [['A', 'warned', 13], ['B', 'passed', 14]]],
  ['a', 'v4', [['A', 'failed', 15], ['B', 'failed', 16], ['B', 'passed', 17]]],
  ['a', 'v5', []],
  ['a', 'v6', [['A', 'failed', 18], ['B', 'failed', 19]]],
  ['b', 'v1', [['A', 'passed', 20]]], // the same content in another dataset has its own reports
];

for (const dialect of dialects) {
  const skip = dialect === 'postgres' && !process.env.MLOOP_TEST_POSTGRES_URL ? 'MLOOP_TEST_POSTGRES_URL is not set' : undefined;
  describe(`upgrading validated versions to 0008-validation-verdicts on ${dialect}`, { skip }, () => {
    it('works out every state again from the verdicts, as validationState does, and drops dataset_versions_created', async () => {
      const { store, cleanup } = await openEmpty(dialect);
      try {
        const all = migrationsFor(dialect);
        const names = Object.keys(all);
        const before = names.slice(0, names.indexOf('0008-validation-verdicts'));
        await applyMigrations(store.db, Object.fromEntries(before.map((name) => [name, all[name]])));
        const db = store.db;
        for (const name of new Set(VALIDATED.map(([dataset]) => dataset))) {
          await db.insertInto('dataset_names').values({ project: 'default', name, description: null, declared_schema: null, created_at: 1, updated_at: 1, last_seq: 10 }).execute();
        }
        for (const [seq, [name, version, reports]] of VALIDATED.entries()) {
          const latest = reports.at(-1);
          const id = (i: number) => `${name}-${version}-${i}`;
          await db
            .insertInto('dataset_versions')
            .values({
              project: 'default', name, version, description: null, size_bytes: 1, row_count: 1, column_count: 1, schema: '{}', profile: '{}',
              source_format: 'csv', source_name: null, source_sha256: null, source_bytes: null, transformation: null, created_at: 1, created_by: 'test',
              validation_status: latest?.[1] ?? 'unvalidated', validation_id: latest ? id(reports.length - 1) : null, validated_at: latest?.[2] ?? null, seq: seq + 1,
            })
            .execute();
          for (const [i, [rules, status, at]] of reports.entries()) {
            await db
              .insertInto('dataset_validations')
              .values({ id: id(i), project: 'default', name, version, rules_sha256: rules, rules: '{}', report: '{}', status, created_at: at, created_by: 'test' })
              .execute();
          }
        }

        assert.deepEqual((await store.migrate()).applied, ['0008-validation-verdicts']);

        const states = await db.selectFrom('dataset_versions').select(['name', 'version', 'validation_status', 'validation_id', 'validated_at']).orderBy('name').orderBy('version').execute();
        const got = states.map((s) => [s.name, s.version, s.validation_status, s.validation_id, s.validated_at === null ? null : Number(s.validated_at)]);
        assert.deepEqual(got, [
          ['a', 'v1', 'failed', 'a-v1-0', 10],
          ['a', 'v2', 'passed', 'a-v2-1', 12],
          ['a', 'v3', 'warned', 'a-v3-0', 13],
          ['a', 'v4', 'failed', 'a-v4-0', 15],
          ['a', 'v5', 'unvalidated', null, null],
          ['a', 'v6', 'failed', 'a-v6-1', 19],
          ['b', 'v1', 'passed', 'b-v1-0', 20],
        ]);
        // What the service sets when it stores a report agrees with the upgrade.
        const datasets = new DatasetStore();
        for (const s of states) {
          const verdicts = await datasets.verdicts(db, 'default', s.name, s.version);
          if (verdicts.length === 0) continue;
          const state = validationState(verdicts);
          assert.deepEqual([s.validation_status, s.validation_id, Number(s.validated_at)], [state.status, state.report.id, Number(state.report.created_at)], `${s.name}@${s.version}`);
        }
        assert.deepEqual(await indexNamed(store, 'dataset_versions_created'), []);
        assert.deepEqual(await indexNamed(store, 'dataset_versions_seq'), ['dataset_versions_seq']);
      } finally {
        await cleanup();
      }
    });
  });
}

/** The index called `name`, in a list of one, or an empty list when there is none. */
async function indexNamed(store: MetadataStore, name: string): Promise<string[]> {
  const db = store.db as unknown as Kysely<Database & { sqlite_master: { type: string; name: string }; pg_indexes: { indexname: string } }>;
  const rows =
    store.dialect === 'sqlite'
      ? await db.selectFrom('sqlite_master').select('name').where('type', '=', 'index').where('name', '=', name).execute()
      : await db.selectFrom('pg_indexes').select('indexname as name').where('indexname', '=', name).execute();
  return rows.map((r) => r.name);
}
