/**
 * The skew check's SQL comparison against its oracle, the TypeScript rule it replaced: for every
 * pair of column types the check can meet and awkward values of each (null, ±0, NaN, ±Infinity,
 * overflowing differences, integers beyond 2^53, timestamps before 1970 and between milliseconds),
 * each row agrees or not exactly as `sameValue` decides over the values `duck-values.ts` reads, with
 * and without a tolerance; the counts and the first examples are those of a scan of every row.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DuckDb } from '../storage/duckdb/engine.ts';
import { exprRows } from './duck-values.ts';
import { sameValue } from './request-values.ts';
import { comparable, compareSkew, sameValueSql, SKEW_EXAMPLES } from './skew.ts';

/** Literals of each type (as SQL text, cast to the type). */
const VALUES: Record<string, readonly string[]> = {
  DOUBLE: ['NULL', '0', "'-0.0'", '1.5', '1.5000000001', '2', "'NaN'", "'Infinity'", "'-Infinity'", '1e308', '-1e308', '9007199254740992', '0.30000000000000004', '0.3', '1e-300', '1704067200000'],
  BIGINT: ['NULL', '0', '2', '-5', '9007199254740992', '9007199254740993', '9223372036854775807', '1704067200000'],
  INTEGER: ['NULL', '2', '-5'],
  FLOAT: ['NULL', '1.5', '0.1'],
  HUGEINT: ['NULL', '2', '-9007199254740993', '170141183460469231731687303715884105727'],
  TIMESTAMP: ['NULL', "'1969-12-31 23:59:59.9995'", "'1970-01-01 00:00:00'", "'2024-01-01 00:00:00'", "'2024-01-01 00:00:00.0004'", "'2024-01-01 00:00:01'"],
  TIMESTAMPTZ: ['NULL', "'1969-12-31 23:59:59.9995+00'", "'2024-01-01 00:00:00.0004+00'", "'2024-01-01 00:00:00+00'"],
  BOOLEAN: ['NULL', 'true', 'false'],
  VARCHAR: ['NULL', "''", "'a'", "'2'", "'true'", "'NaN'", "'2024-01-01'"],
  'DECIMAL(4,3)': ['NULL', '1.5', '2'],
  DATE: ['NULL', "'2024-01-01'"],
};
const TOLERANCES = [0, 1e-9, 1e-6, 0.5];

/** Every served value of type `a` against every offline value of type `b`, as `__rid, s0, o0`. */
function pairsSql(a: string, b: string): string {
  const rows = VALUES[a].flatMap((x) => VALUES[b].map((y) => [x, y]));
  return `SELECT * FROM (VALUES ${rows.map(([x, y], i) => `(CAST(${i} AS BIGINT), CAST(${x} AS ${a}), CAST(${y} AS ${b}))`).join(', ')}) t(__rid, s0, o0)`;
}

describe('skew comparison in SQL', () => {
  let duck: DuckDb;
  before(async () => {
    duck = await DuckDb.open({ threads: 1 });
  });
  after(() => duck.close());

  it('agrees with sameValue on every pair of types and values, at every tolerance', async () => {
    let checked = 0;
    await duck.withConnection(async (conn) => {
      for (const a of Object.keys(VALUES)) {
        for (const b of Object.keys(VALUES)) {
          const join = pairsSql(a, b);
          const types = new Map((await conn.rows<{ column_name: string; column_type: string }>(`DESCRIBE ${join}`)).map((c) => [c.column_name, c.column_type]));
          for (const tolerance of TOLERANCES) {
            const same = sameValueSql(comparable('s0', types.get('s0')!), comparable('o0', types.get('o0')!), tolerance);
            const rows = await exprRows(conn, `SELECT __rid, s0, o0, ${same} AS q FROM (${join}) ORDER BY __rid`);
            const mismatched = [];
            for (const row of rows) {
              const expected = sameValue(row.s0, row.o0, tolerance);
              assert.equal(row.q, expected, `${a} ${String(row.s0)} vs ${b} ${String(row.o0)}, tolerance ${tolerance}`);
              if (!expected) mismatched.push({ row: row.__rid, served: row.s0, offline: row.o0 });
              checked++;
            }
            const counts = await compareSkew(conn, join, 1, tolerance);
            assert.equal(counts.rows, rows.length);
            assert.equal(counts.features[0].mismatches, mismatched.length, `${a} vs ${b}, tolerance ${tolerance}`);
            // As clients get them: DuckDB hands back a -0 among the examples as 0, which JSON does too.
            const json = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;
            assert.deepEqual(json(counts.features[0].examples), json(mismatched.slice(0, SKEW_EXAMPLES)));
          }
        }
      }
    });
    assert.ok(checked > 10_000, `${checked} pairs`);
  });

  it('counts nothing over no rows', async () => {
    const counts = await duck.withConnection((conn) => compareSkew(conn, 'SELECT CAST(1 AS BIGINT) AS __rid, 1.5 AS s0, 2.5 AS o0 WHERE false', 1, 0));
    assert.deepEqual(counts, { rows: 0, features: [{ mismatches: 0, examples: [] }] });
  });
});
