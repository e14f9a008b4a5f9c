/**
 * The contract of {@link MetadataStore}: what every SQL adapter must do the same way, so that module
 * queries written once behave alike on SQLite and PostgreSQL. Each adapter's test file calls
 * {@link describeMetadataStoreContract} with its backend.
 *
 * The suite inserts fixture rows straight into the tables of `../schema.ts`: it tests the port itself,
 * not a module's logic.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { MloopError } from '../../core/errors.ts';
import { newHexId } from '../../core/ids.ts';
import { migrationsFor } from '../migrations/index.ts';
import type { MetadataStore } from '../ports.ts';
import type { Database } from '../schema.ts';
import type { Backend, OpenedStore } from './backend.ts';

/** A name no other test of the suite uses. */
function unique(prefix: string): string {
  return `${prefix}-${newHexId().slice(0, 12)}`;
}

/** Inserts a run in the `Default` experiment, so that params, tags and metrics have a parent. */
async function insertRun(db: Kysely<Database>): Promise<string> {
  const runUuid = newHexId();
  await db
    .insertInto('runs')
    .values({
      run_uuid: runUuid,
      experiment_id: 0,
      run_name: 'contract',
      user_id: 'contract',
      status: 'RUNNING',
      start_time: 1,
      end_time: null,
      lifecycle_stage: 'active',
      artifact_uri: `mlflow-artifacts:/0/${runUuid}/artifacts`,
      deleted_time: null,
    })
    .execute();
  return runUuid;
}

/** Inserts a registered model whose `last_version` serves as a counter; returns its id. */
async function insertCounter(db: Kysely<Database>): Promise<number> {
  const row = await db
    .insertInto('registered_models')
    .values({ project: 'default', name: unique('counter'), description: null, creation_time: 0, last_updated_time: 0, last_version: 0 })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

async function readCounter(db: Kysely<Database>, id: number): Promise<number> {
  const row = await db.selectFrom('registered_models').select('last_version').where('id', '=', id).executeTakeFirstOrThrow();
  return row.last_version;
}

/** Adds one to the counter inside a transaction; returns the value the update produced. */
async function increment(trx: Kysely<Database>, id: number): Promise<number> {
  const row = await trx
    .updateTable('registered_models')
    .set((eb) => ({ last_version: eb('last_version', '+', 1) }))
    .where('id', '=', id)
    .returning('last_version')
    .executeTakeFirstOrThrow();
  return row.last_version;
}

/** Evaluates a boolean SQL expression portably (1 or 0 on every dialect). */
async function truth(db: Kysely<Database>, condition: ReturnType<typeof sql>): Promise<boolean> {
  const { rows } = await sql<{ r: number }>`select case when ${condition} then 1 else 0 end as r`.execute(db);
  return Number(rows[0].r) === 1;
}

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected the promise to reject');
}

/** Registers the metadata-store contract suite for `backend` (skipped, with its reason, when it cannot run here). */
export function describeMetadataStoreContract(backend: Backend<MetadataStore>): void {
  describe(`MetadataStore contract: ${backend.name}`, { skip: backend.skip }, () => {
    let opened: OpenedStore<MetadataStore>;
    let store: MetadataStore;

    before(async () => {
      opened = await backend.open();
      store = opened.store;
    });
    after(async () => {
      await opened?.cleanup();
    });

    describe('migrations', () => {
      it('has applied every migration, and a second migrate() applies nothing', async () => {
        const expected = Object.keys(migrationsFor(store.dialect)).sort();
        const report = await store.migrate();
        assert.deepEqual(report.applied, []);
        assert.deepEqual([...report.current].sort(), expected);
        const again = await store.migrate();
        assert.deepEqual(again.applied, []);
        assert.deepEqual([...again.current].sort(), expected);
      });

      it('creates the default project and experiment 0 named Default', async () => {
        const project = await store.db.selectFrom('projects').selectAll().where('name', '=', 'default').executeTakeFirst();
        assert.ok(project, 'the default project exists');
        const experiment = await store.db.selectFrom('experiments').selectAll().where('experiment_id', '=', 0).executeTakeFirst();
        assert.ok(experiment, 'experiment 0 exists');
        assert.equal(experiment.name, 'Default');
        assert.equal(experiment.project, 'default');
        assert.equal(experiment.lifecycle_stage, 'active');
        assert.equal(typeof experiment.experiment_id, 'number');
      });

      it('numbers new experiments after the Default one', async () => {
        const row = await store.db
          .insertInto('experiments')
          .values({
            project: 'default',
            name: unique('numbered'),
            artifact_location: 'x',
            lifecycle_stage: 'active',
            creation_time: 0,
            last_update_time: 0,
          })
          .returning('experiment_id')
          .executeTakeFirstOrThrow();
        assert.equal(typeof row.experiment_id, 'number');
        assert.ok(row.experiment_id > 0, `new experiment id ${row.experiment_id} is after 0`);
      });
    });

    describe('transactions', () => {
      it('commits what the function wrote when it resolves', async () => {
        const name = unique('commit');
        const result = await store.transaction(async (trx) => {
          await trx.insertInto('projects').values({ name, description: 'x', created_at: 1 }).execute();
          return 'done';
        });
        assert.equal(result, 'done');
        const row = await store.db.selectFrom('projects').select('name').where('name', '=', name).executeTakeFirst();
        assert.equal(row?.name, name);
      });

      it('rolls back everything when the function throws, and rethrows the same error', async () => {
        const name = unique('rollback');
        const runUuid = await insertRun(store.db);
        const thrown = new MloopError('INVALID_STATE', 'deliberate');
        const caught = await rejection(
          store.transaction(async (trx) => {
            await trx.insertInto('projects').values({ name, description: null, created_at: 1 }).execute();
            await trx.insertInto('params').values({ run_uuid: runUuid, key: 'k', value: 'v' }).execute();
            await trx.updateTable('runs').set({ status: 'FINISHED' }).where('run_uuid', '=', runUuid).execute();
            throw thrown;
          }),
        );
        assert.equal(caught, thrown);
        assert.equal(await store.db.selectFrom('projects').select('name').where('name', '=', name).executeTakeFirst(), undefined);
        assert.equal(await store.db.selectFrom('params').select('key').where('run_uuid', '=', runUuid).executeTakeFirst(), undefined);
        const run = await store.db.selectFrom('runs').select('status').where('run_uuid', '=', runUuid).executeTakeFirstOrThrow();
        assert.equal(run.status, 'RUNNING');
      });

      it('rolls back the whole transaction when a statement in it violates a key', async () => {
        const name = unique('partial');
        const caught = await rejection(
          store.transaction(async (trx) => {
            await trx.insertInto('projects').values({ name, description: null, created_at: 1 }).execute();
            await trx.insertInto('projects').values({ name: 'default', description: null, created_at: 1 }).execute();
          }),
        );
        assert.equal(store.isUniqueViolation(caught), true);
        assert.equal(await store.db.selectFrom('projects').select('name').where('name', '=', name).executeTakeFirst(), undefined);
      });

      it('loses no update when 50 transactions increment one row concurrently', async () => {
        const id = await insertCounter(store.db);
        const results = await Promise.all(
          Array.from({ length: 50 }, () =>
            store.transaction(async (trx) => {
              const value = await increment(trx, id);
              // Yield inside the transaction so that the others really overlap with it.
              await new Promise((resolve) => setImmediate(resolve));
              return value;
            }),
          ),
        );
        assert.deepEqual(
          [...results].sort((a, b) => a - b),
          Array.from({ length: 50 }, (_, i) => i + 1),
        );
        assert.equal(await readCounter(store.db, id), 50);
      });

      it('keeps exactly the concurrent increments whose transactions committed', async () => {
        const id = await insertCounter(store.db);
        const outcomes = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) =>
            store.transaction(async (trx) => {
              await increment(trx, id);
              if (i % 2 === 1) throw new Error(`deliberate rollback ${i}`);
            }),
          ),
        );
        assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 10);
        assert.equal(await readCounter(store.db, id), 10);
      });

      it('loses no update when 50 plain statements increment one row concurrently', async () => {
        const id = await insertCounter(store.db);
        await Promise.all(Array.from({ length: 50 }, () => increment(store.db, id)));
        assert.equal(await readCounter(store.db, id), 50);
      });
    });

    describe('errors', () => {
      it('isUniqueViolation is true for a duplicate primary key', async () => {
        const error = await rejection(store.db.insertInto('projects').values({ name: 'default', description: null, created_at: 0 }).execute());
        assert.equal(store.isUniqueViolation(error), true);
      });

      it('isUniqueViolation is true for a duplicate composite primary key', async () => {
        const runUuid = await insertRun(store.db);
        await store.db.insertInto('params').values({ run_uuid: runUuid, key: 'lr', value: '0.1' }).execute();
        const error = await rejection(store.db.insertInto('params').values({ run_uuid: runUuid, key: 'lr', value: '0.2' }).execute());
        assert.equal(store.isUniqueViolation(error), true);
      });

      it('isUniqueViolation is true for a duplicate unique constraint', async () => {
        const error = await rejection(
          store.db
            .insertInto('experiments')
            .values({ project: 'default', name: 'Default', artifact_location: 'x', lifecycle_stage: 'active', creation_time: 0, last_update_time: 0 })
            .execute(),
        );
        assert.equal(store.isUniqueViolation(error), true);
      });

      it('isUniqueViolation is false for other errors and non-errors', async () => {
        const foreignKey = await rejection(store.db.insertInto('params').values({ run_uuid: 'no-such-run', key: 'k', value: 'v' }).execute());
        assert.equal(store.isUniqueViolation(foreignKey), false);
        const notNull = await rejection(
          store.db
            .insertInto('projects')
            .values({ name: unique('nn'), description: null, created_at: null as unknown as number })
            .execute(),
        );
        assert.equal(store.isUniqueViolation(notNull), false);
        const syntax = await rejection(sql`select from where`.execute(store.db));
        assert.equal(store.isUniqueViolation(syntax), false);
        const missingTable = await rejection(sql`select * from no_such_table`.execute(store.db));
        assert.equal(store.isUniqueViolation(missingTable), false);
        for (const other of [new Error('x'), new MloopError('RESOURCE_ALREADY_EXISTS', 'x'), undefined, null, 'duplicate key', 23505, {}]) {
          assert.equal(store.isUniqueViolation(other), false, `for ${String(other)}`);
        }
      });

      it('enforces foreign keys and cascades deletes', async () => {
        const runUuid = await insertRun(store.db);
        await store.db.insertInto('tags').values({ run_uuid: runUuid, key: 'k', value: 'v' }).execute();
        await store.db.deleteFrom('runs').where('run_uuid', '=', runUuid).execute();
        assert.equal(await store.db.selectFrom('tags').select('key').where('run_uuid', '=', runUuid).executeTakeFirst(), undefined);
        await assert.rejects(store.db.insertInto('tags').values({ run_uuid: runUuid, key: 'k', value: 'v' }).execute());
      });
    });

    describe('values', () => {
      it('round-trips int64 timestamps and steps as JS numbers', async () => {
        const runUuid = await insertRun(store.db);
        const values = [0, 1, 1_700_000_000_123, 2 ** 53 - 1, -(2 ** 53 - 1), -1_700_000_000_123, 2 ** 31, 2 ** 32 + 1];
        for (const [i, value] of values.entries()) {
          await store.db.insertInto('projects').values({ name: `${unique('ts')}-${i}`, description: String(value), created_at: value }).execute();
          await store.db.insertInto('metrics').values({ run_uuid: runUuid, key: 'm', value: i, is_nan: 0, timestamp: value, step: value }).execute();
        }
        const projects = await store.db.selectFrom('projects').select(['created_at', 'description']).where('name', 'like', 'ts-%').execute();
        assert.equal(projects.length, values.length);
        for (const row of projects) {
          assert.equal(typeof row.created_at, 'number');
          assert.equal(row.created_at, Number(row.description));
        }
        const metrics = await store.db.selectFrom('metrics').select(['value', 'timestamp', 'step']).where('run_uuid', '=', runUuid).orderBy('value').execute();
        assert.deepEqual(
          metrics.map((m) => [m.timestamp, m.step]),
          values.map((v) => [v, v]),
        );
        for (const m of metrics) {
          assert.equal(typeof m.timestamp, 'number');
          assert.equal(typeof m.step, 'number');
        }
      });

      it('returns counts and aggregates of int64 columns as JS numbers', async () => {
        const runUuid = await insertRun(store.db);
        for (const step of [5, 7, 2 ** 40]) {
          await store.db.insertInto('metrics').values({ run_uuid: runUuid, key: 'agg', value: 1, is_nan: 0, timestamp: 1_700_000_000_123, step }).execute();
        }
        const row = await store.db
          .selectFrom('metrics')
          .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.max('step').as('max_step'), eb.fn.min('timestamp').as('min_ts')])
          .where('run_uuid', '=', runUuid)
          .executeTakeFirstOrThrow();
        assert.equal(row.n, 3);
        assert.equal(row.max_step, 2 ** 40);
        assert.equal(row.min_ts, 1_700_000_000_123);
      });

      it('round-trips doubles: ±Infinity, subnormals, the largest and smallest normal values', async () => {
        const runUuid = await insertRun(store.db);
        const values = [
          Number.POSITIVE_INFINITY,
          Number.NEGATIVE_INFINITY,
          Number.MAX_VALUE,
          -Number.MAX_VALUE,
          Number.MIN_VALUE,
          -Number.MIN_VALUE,
          2.2250738585072014e-308,
          1e-300,
          1e300,
          0.1 + 0.2,
          1 / 3,
          Math.PI,
          -123456789.12345679,
          Number.EPSILON,
          0,
        ];
        for (const [step, value] of values.entries()) {
          await store.db.insertInto('metrics').values({ run_uuid: runUuid, key: 'f', value, is_nan: 0, timestamp: 0, step }).execute();
        }
        const rows = await store.db.selectFrom('metrics').select(['step', 'value']).where('run_uuid', '=', runUuid).orderBy('step').execute();
        assert.deepEqual(
          rows.map((r) => r.value),
          values,
        );
        const infinite = await store.db
          .selectFrom('metrics')
          .select('step')
          .where('run_uuid', '=', runUuid)
          .where('value', '>', Number.MAX_VALUE)
          .execute();
        assert.deepEqual(
          infinite.map((r) => r.step),
          [0],
          '+Infinity compares above every finite double',
        );
      });

      it('stores NaN by the is_nan convention: value 0, is_nan 1, distinct from a real 0', async () => {
        const runUuid = await insertRun(store.db);
        await store.db.insertInto('metrics').values({ run_uuid: runUuid, key: 'n', value: 0, is_nan: 1, timestamp: 5, step: 1 }).execute();
        await store.db.insertInto('metrics').values({ run_uuid: runUuid, key: 'n', value: 0, is_nan: 0, timestamp: 5, step: 1 }).execute();
        const rows = await store.db
          .selectFrom('metrics')
          .select(['value', 'is_nan'])
          .where('run_uuid', '=', runUuid)
          .orderBy('is_nan')
          .execute();
        assert.deepEqual(rows, [
          { value: 0, is_nan: 0 },
          { value: 0, is_nan: 1 },
        ]);
        const finite = await store.db.selectFrom('metrics').select('value').where('run_uuid', '=', runUuid).where('is_nan', '=', 0).execute();
        assert.equal(finite.length, 1);
      });

      it('round-trips unicode and 6000-character text exactly', async () => {
        const runUuid = await insertRun(store.db);
        const unit = 'aé文😀\u0301Ωß\u200d👩‍💻"\'\\%_\n\t';
        const long = unit.repeat(Math.ceil(6000 / unit.length)).slice(0, 6000);
        assert.equal(long.length, 6000);
        const cases: Record<string, string> = {
          long,
          'ключ 键 🔑': 'значение 值 ✓',
          combining: 'e\u0301 vs \u00e9',
          empty: '',
          quotes: `'; drop table runs; --`,
        };
        for (const [key, value] of Object.entries(cases)) {
          await store.db.insertInto('params').values({ run_uuid: runUuid, key, value }).execute();
        }
        const rows = await store.db.selectFrom('params').select(['key', 'value']).where('run_uuid', '=', runUuid).execute();
        assert.deepEqual(Object.fromEntries(rows.map((r) => [r.key, r.value])), cases);
        const byKey = await store.db
          .selectFrom('params')
          .select('value')
          .where('run_uuid', '=', runUuid)
          .where('key', '=', 'ключ 键 🔑')
          .executeTakeFirstOrThrow();
        assert.equal(byKey.value, 'значение 值 ✓');
      });
    });

    describe('SQL semantics', () => {
      it('LIKE is case-sensitive on every dialect', async () => {
        assert.equal(await truth(store.db, sql`'ABC' like 'abc'`), false);
        assert.equal(await truth(store.db, sql`'abc' like 'ABC'`), false);
        assert.equal(await truth(store.db, sql`'ABC' like 'ABC'`), true);
        assert.equal(await truth(store.db, sql`'ABC' like 'A_C'`), true);
        assert.equal(await truth(store.db, sql`'ABC' like 'a%'`), false);
        assert.equal(await truth(store.db, sql`'ABC' like 'A%'`), true);
      });

      it('LIKE on a column is case-sensitive; lower(x) like lower(y) matches case-insensitively', async () => {
        const tag = newHexId().slice(0, 8);
        const names = [`Like-${tag}-ABC`, `like-${tag}-abc`, `LIKE-${tag}-xyz`];
        for (const name of names) {
          await store.db
            .insertInto('experiments')
            .values({ project: 'default', name, artifact_location: 'x', lifecycle_stage: 'active', creation_time: 0, last_update_time: 0 })
            .execute();
        }
        const sensitive = await store.db.selectFrom('experiments').select('name').where('name', 'like', `%-${tag}-abc`).execute();
        assert.deepEqual(
          sensitive.map((r) => r.name),
          [`like-${tag}-abc`],
        );
        const pattern = `%-${tag}-ABC`;
        const insensitive = await store.db
          .selectFrom('experiments')
          .select('name')
          .where((eb) => eb(eb.fn('lower', ['name']), 'like', eb.fn('lower', [eb.val(pattern)])))
          .orderBy('name')
          .execute();
        assert.deepEqual(
          insensitive.map((r) => r.name).sort(),
          [`Like-${tag}-ABC`, `like-${tag}-abc`].sort(),
        );
        assert.equal(await truth(store.db, sql`lower('ABC') like lower('abc')`), true);
      });

      it('supports RETURNING on insert, update and delete', async () => {
        const name = unique('returning');
        const inserted = await store.db
          .insertInto('experiments')
          .values({ project: 'default', name, artifact_location: 'x', lifecycle_stage: 'active', creation_time: 1, last_update_time: 1 })
          .returning(['experiment_id', 'name'])
          .executeTakeFirstOrThrow();
        assert.equal(inserted.name, name);
        assert.equal(typeof inserted.experiment_id, 'number');
        const updated = await store.db
          .updateTable('experiments')
          .set({ last_update_time: 1_700_000_000_123 })
          .where('experiment_id', '=', inserted.experiment_id)
          .returning(['experiment_id', 'last_update_time'])
          .execute();
        assert.deepEqual(updated, [{ experiment_id: inserted.experiment_id, last_update_time: 1_700_000_000_123 }]);
        const deleted = await store.db
          .deleteFrom('experiments')
          .where('experiment_id', '=', inserted.experiment_id)
          .returning('name')
          .execute();
        assert.deepEqual(deleted, [{ name }]);
        const none = await store.db.updateTable('experiments').set({ last_update_time: 2 }).where('name', '=', unique('absent')).returning('name').execute();
        assert.deepEqual(none, []);
      });
    });

    describe('lifecycle', () => {
      it('ping() resolves while open and rejects after close()', async () => {
        const own = await backend.open();
        try {
          await own.store.ping();
          await own.store.close();
          await assert.rejects(own.store.ping());
          await own.store.close();
        } finally {
          await own.cleanup();
        }
      });
    });
  });
}
