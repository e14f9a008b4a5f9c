/**
 * Compilation of parsed search expressions to SQL: the text and parameters on both dialects, and the
 * semantics (LIKE vs ILIKE, NaN, missing keys, ordering) checked by running the SQL on SQLite.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  SqliteAdapter,
  SqliteDialect,
  SqliteIntrospector,
  SqliteQueryCompiler,
  sql,
  type RawBuilder,
} from 'kysely';
import { MloopError } from '../core/errors.ts';
import { parseFilter, parseOrderBy } from '../core/search/index.ts';
import { experimentFilterCondition, experimentOrderBy, runFilterCondition, runOrderBy } from './search-sql.ts';

const postgres = new Kysely<any>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});
const sqlite = new Kysely<any>({
  dialect: {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  },
});

const compile = (fragment: RawBuilder<unknown>, db = sqlite) => {
  const compiled = fragment.compile(db);
  return { sql: compiled.sql.replace(/\s+/g, ' '), parameters: compiled.parameters };
};
const where = (filter: string) => runFilterCondition(parseFilter(filter, 'runs')[0]);

describe('run filter compilation', () => {
  it('turns a metric comparison into an EXISTS on latest_metrics that skips NaN', () => {
    const { sql: text, parameters } = compile(where('metrics.rmse < 0.5'));
    assert.equal(
      text,
      'exists (select 1 from "latest_metrics" f where f.run_uuid = runs.run_uuid and f.key = ? and f.is_nan = 0 and "f"."value" < ?)',
    );
    assert.deepEqual(parameters, ['rmse', 0.5]);
    // != is true for NaN, as IEEE says.
    assert.match(compile(where('metrics.rmse != 1')).sql, /\(f\.is_nan = 1 or "f"\."value" <> \?\)/);
  });

  it('uses positional $n parameters on PostgreSQL', () => {
    const { sql: text } = compile(where("params.model = 'cnn'"), postgres);
    assert.equal(text, 'exists (select 1 from "params" f where f.run_uuid = runs.run_uuid and f.key = $1 and "f"."value" = $2)');
  });

  it('keeps LIKE case-sensitive and makes ILIKE compare lower-cased text on both dialects', () => {
    for (const db of [sqlite, postgres]) {
      assert.match(compile(where("tags.env LIKE 'P%'"), db).sql, /"f"\."value" like (\?|\$2)\)$/);
      assert.match(compile(where("tags.env ILIKE 'P%'"), db).sql, /lower\("f"\."value"\) like lower\((\?|\$2)\)\)$/);
    }
  });

  it('maps attributes to run columns, with IN lists and aliases', () => {
    assert.deepEqual(compile(where("attributes.run_id IN ('a', 'b')")), { sql: '"runs"."run_uuid" in (?, ?)', parameters: ['a', 'b'] });
    assert.deepEqual(compile(where("run_id NOT IN ('a')")), { sql: '"runs"."run_uuid" not in (?)', parameters: ['a'] });
    assert.deepEqual(compile(where('attributes.created > 5')), { sql: '"runs"."start_time" > ?', parameters: [5] });
    assert.deepEqual(compile(where("attributes.`Run name` = 'x'")), { sql: '"runs"."run_name" = ?', parameters: ['x'] });
  });

  it('handles IS NULL / IS NOT NULL on params and tags as absence and presence of the key', () => {
    assert.equal(compile(where('tags.env IS NULL')).sql, 'not exists (select 1 from "tags" f where f.run_uuid = runs.run_uuid and f.key = ?)');
    assert.equal(compile(where('params.lr IS NOT NULL')).sql, 'exists (select 1 from "params" f where f.run_uuid = runs.run_uuid and f.key = ?)');
  });

  it('filters datasets through inputs, the context through input tags', () => {
    assert.match(compile(where("datasets.digest = 'abc'")).sql, /join datasets d on d\.dataset_uuid = i\.source_id .* and "d"\."digest" = \?\)$/);
    assert.match(compile(where("datasets.context = 'train'")).sql, /input_tags t .* t\.name = 'mlflow\.data\.context' and "t"\."value" = \?\)\)$/);
  });

  it('refuses comparisons it cannot compile with INVALID_PARAMETER_VALUE naming the field', () => {
    const bad = [
      { entity: 'attribute', key: 'lifecycle_stage', comparator: '=', valueType: 'string', value: 'x' },
      { entity: 'metric', key: 'm', comparator: 'LIKE', valueType: 'string', value: 'x' },
      { entity: 'param', key: 'p', comparator: '<', valueType: 'number', value: 1 },
      { entity: 'dataset', key: 'profile', comparator: '=', valueType: 'string', value: 'x' },
    ] as const;
    for (const comparison of bad) {
      assert.throws(
        () => runFilterCondition(comparison as never),
        (error: unknown) => error instanceof MloopError && error.code === 'INVALID_PARAMETER_VALUE' && error.fields[0].field === 'filter',
      );
    }
  });
});

describe('run order compilation', () => {
  it('joins each ordered key once and ends with start_time DESC, run_uuid', () => {
    const { joins, orderBy } = runOrderBy(parseOrderBy(['metrics.rmse DESC', 'params.lr'], 'runs'));
    assert.deepEqual(
      joins.map((j) => compile(j).sql),
      [
        'left join latest_metrics o0 on o0.run_uuid = runs.run_uuid and o0.key = ?',
        'left join params o1 on o1.run_uuid = runs.run_uuid and o1.key = ?',
      ],
    );
    assert.deepEqual(
      orderBy.map((o) => compile(o).sql),
      [
        'case when "o0"."is_nan" = 1 then 1 when "o0"."value" is null then 2 else 0 end',
        '"o0"."value" desc',
        'case when "o1"."value" is null then 1 else 0 end',
        '"o1"."value" asc',
        'runs.start_time desc',
        'runs.run_uuid asc',
      ],
    );
  });

  it('does not repeat start_time when it is ordered explicitly', () => {
    const { orderBy } = runOrderBy(parseOrderBy(['attributes.start_time ASC'], 'runs'));
    assert.deepEqual(
      orderBy.map((o) => compile(o).sql),
      ['case when "runs"."start_time" is null then 1 else 0 end', '"runs"."start_time" asc', 'runs.run_uuid asc'],
    );
  });
});

describe('experiment search compilation', () => {
  it('filters on attributes and tags and orders by creation_time DESC, experiment_id by default', () => {
    const [name, tag] = parseFilter("name ILIKE 'a%' AND tags.team = 'ml'", 'experiments').map((c) => compile(experimentFilterCondition(c)).sql);
    assert.equal(name, 'lower("experiments"."name") like lower(?)');
    assert.match(tag, /^exists \(select 1 from experiment_tags f where f\.experiment_id = experiments\.experiment_id and f\.key = \? and "f"\."value" = \?\)$/);
    assert.deepEqual(
      experimentOrderBy([]).map((o) => compile(o).sql),
      ['"experiments"."creation_time" desc', '"experiments"."experiment_id" asc'],
    );
    assert.deepEqual(
      experimentOrderBy(parseOrderBy(['name DESC'], 'experiments')).map((o) => compile(o).sql),
      ['"experiments"."name" desc', 'experiments.experiment_id asc'],
    );
  });
});

describe('compiled SQL on SQLite', () => {
  // A small tracking schema with five runs, to check what the SQL selects and in which order.
  const connection = new BetterSqlite3(':memory:');
  connection.pragma('case_sensitive_like = ON');
  connection.exec(`
    create table runs (run_uuid text primary key, run_name text, status text, user_id text, artifact_uri text, start_time integer, end_time integer);
    create table latest_metrics (run_uuid text, key text, value real, is_nan integer, timestamp integer, step integer, primary key (run_uuid, key));
    create table params (run_uuid text, key text, value text, primary key (run_uuid, key));
    create table tags (run_uuid text, key text, value text, primary key (run_uuid, key));
    insert into runs values ('r0', 'a', 'FINISHED', 'u', '', 10, 20), ('r1', 'b', 'RUNNING', 'u', '', 11, null),
      ('r2', 'c', 'FINISHED', 'u', '', 12, 30), ('r3', 'd', 'FAILED', 'u', '', 13, 40), ('r4', 'e', 'RUNNING', 'u', '', 14, null);
    insert into latest_metrics values ('r0', 'm', 0.5, 0, 0, 0), ('r1', 'm', 0, 1, 0, 0), ('r2', 'm', 9e999, 0, 0, 0), ('r3', 'm', -1, 0, 0, 0);
    insert into params values ('r0', 'p', 'Alpha'), ('r1', 'p', 'alpha'), ('r2', 'p', 'beta');
    insert into tags values ('r0', 't', 'x'), ('r3', 't', 'y');
  `);
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: connection }) });
  const run = async (filter: string, order: string[] = []) => {
    const conditions = parseFilter(filter, 'runs').map((c) => runFilterCondition(c));
    const { joins, orderBy } = runOrderBy(parseOrderBy(order, 'runs'));
    const whereSql = conditions.length > 0 ? sql`where ${sql.join(conditions, sql` and `)}` : sql``;
    const joinSql = joins.length > 0 ? sql.join(joins, sql` `) : sql``;
    const result = await sql<{ run_uuid: string }>`select runs.run_uuid from runs ${joinSql} ${whereSql} order by ${sql.join(orderBy)}`.execute(db);
    return result.rows.map((r) => r.run_uuid);
  };

  it('orders metrics with NaN and then missing values last, ±Infinity in place', async () => {
    assert.deepEqual(await run('', ['metrics.m ASC']), ['r3', 'r0', 'r2', 'r1', 'r4']);
    assert.deepEqual(await run('', ['metrics.m DESC']), ['r2', 'r0', 'r3', 'r1', 'r4']);
    assert.deepEqual(await run('metrics.m > 0'), ['r2', 'r0']);
    assert.deepEqual(await run('metrics.m != 0.5'), ['r3', 'r2', 'r1']);
  });

  it('matches LIKE case-sensitively and ILIKE case-insensitively', async () => {
    assert.deepEqual(await run("params.p LIKE 'a%'"), ['r1']);
    assert.deepEqual(await run("params.p ILIKE 'a%'"), ['r1', 'r0']);
    assert.deepEqual(await run("params.p = 'Alpha' AND tags.t = 'x'"), ['r0']);
    assert.deepEqual(await run('tags.t IS NULL', ['attributes.start_time ASC']), ['r1', 'r2', 'r4']);
  });

  it('sorts runs lacking the ordered param or tag last', async () => {
    assert.deepEqual(await run('', ['params.p DESC']), ['r2', 'r1', 'r0', 'r4', 'r3']);
    assert.deepEqual(await run('', ['tags.t ASC', 'attributes.run_name DESC']), ['r0', 'r3', 'r4', 'r2', 'r1']);
    assert.deepEqual(await run('', ['attributes.end_time ASC']), ['r0', 'r2', 'r3', 'r4', 'r1']);
  });
});
