/**
 * The skew check's comparison in DuckDB SQL: the values serving logged against their offline
 * recomputation, counted per feature in one pass over the joined rows, with the first mismatching
 * rows as examples — only those reach JavaScript. Values compare as `sameValue` (`request-values.ts`) compares them
 * once read into JavaScript (see `duck-values.ts`): numbers of every width, and timestamps as epoch
 * milliseconds rounded down, are numbers (NaN equals NaN; within a relative tolerance when one is
 * given); booleans and strings compare as such; values of two different kinds never agree, and null
 * agrees only with null.
 */
import { DuckDBListValue, DuckDBStructValue } from '@duckdb/node-api';
import type { DuckDbConnection } from '../storage/duckdb/engine.ts';
import { toValue } from './duck-values.ts';
import { sqlString, type ExprValue } from './expr.ts';

/** How many mismatching rows of each feature are returned as examples. */
export const SKEW_EXAMPLES = 5;

/** A value as JavaScript sees it: its kind, and SQL that gives it in a form that compares the same way. */
export interface Comparable {
  readonly kind: 'number' | 'boolean' | 'string' | 'null';
  readonly sql: string;
}

/** A mismatching row: its `__rid` and both values, as `duck-values.ts` reads them. */
export interface SkewExample {
  readonly row: number;
  readonly served: ExprValue;
  readonly offline: ExprValue;
}

/** What {@link compareSkew} counts. */
export interface SkewCounts {
  readonly rows: number;
  /** Per feature, in the order of the columns. */
  readonly features: readonly { readonly mismatches: number; readonly examples: readonly SkewExample[] }[];
}

const NUMBERS = /^(TINYINT|SMALLINT|INTEGER|BIGINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE)$/;

/** Column `column` of DuckDB type `duckType` as a {@link Comparable}. */
export function comparable(column: string, duckType: string): Comparable {
  if (NUMBERS.test(duckType)) return { kind: 'number', sql: `CAST(${column} AS DOUBLE)` };
  // JavaScript gets these as BigInt, rounded to the nearest double as text is parsed.
  if (duckType === 'HUGEINT' || duckType === 'UHUGEINT') return { kind: 'number', sql: `CAST(CAST(${column} AS VARCHAR) AS DOUBLE)` };
  if (duckType === 'TIMESTAMP' || duckType === 'TIMESTAMP WITH TIME ZONE') {
    // Epoch milliseconds rounded down: `//` and `%` round toward zero.
    const us = `epoch_us(${column})`;
    return { kind: 'number', sql: `CAST(${us} // 1000 - CASE WHEN ${us} % 1000 < 0 THEN 1 ELSE 0 END AS DOUBLE)` };
  }
  if (duckType === 'BOOLEAN') return { kind: 'boolean', sql: column };
  if (duckType === 'VARCHAR') return { kind: 'string', sql: column };
  if (duckType === '"NULL"' || duckType === 'NULL') return { kind: 'null', sql: column };
  // Any other type reaches JavaScript as its text. The feature language makes none of them.
  return { kind: 'string', sql: `CAST(${column} AS VARCHAR)` };
}

/** SQL true when served `a` and offline `b` agree, as `sameValue` decides; never null. */
export function sameValueSql(a: Comparable, b: Comparable, tolerance: number): string {
  const bothNull = `(${a.sql} IS NULL AND ${b.sql} IS NULL)`;
  if (a.kind !== b.kind || a.kind === 'null') return bothNull;
  if (a.kind !== 'number') return `(${a.sql} IS NOT DISTINCT FROM ${b.sql})`;
  // Double arithmetic as in JavaScript: overflow gives ±Infinity, never an error.
  const tol = `CAST(${sqlString(String(tolerance))} AS DOUBLE)`;
  const near = tolerance > 0 ? `abs(${a.sql} - ${b.sql}) <= ${tol} * greatest(CAST(1 AS DOUBLE), abs(${a.sql}), abs(${b.sql}))` : 'false';
  return (
    `(CASE WHEN ${a.sql} IS NULL OR ${b.sql} IS NULL THEN ${bothNull} ` +
    `WHEN isnan(${a.sql}) OR isnan(${b.sql}) THEN isnan(${a.sql}) AND isnan(${b.sql}) ` +
    `ELSE ${a.sql} = ${b.sql} OR ${near} END)`
  );
}

/**
 * The comparison of `features` columns pairs over query `join`, which gives `__rid` and, for the
 * i-th feature, the served value `s<i>` and the offline one `o<i>`: one row of `n` (rows) and, per
 * feature, `m<i>` (mismatches) and `e<i>` (the first mismatching rows by `__rid`, a list of structs
 * `{row, served, offline}`, or null when there are none). `types` are the DuckDB types of `join`'s columns.
 */
export function skewSql(join: string, features: number, types: ReadonlyMap<string, string>, tolerance: number): string {
  const indices = Array.from({ length: features }, (_, i) => i);
  const same = indices.map((i) => {
    const served = comparable(`s${i}`, types.get(`s${i}`) ?? '');
    const offline = comparable(`o${i}`, types.get(`o${i}`) ?? '');
    return `${sameValueSql(served, offline, tolerance)} AS q${i}`;
  });
  const counts = indices.map(
    (i) =>
      `count(*) FILTER (WHERE NOT q${i}) AS m${i}, ` +
      `arg_min({'row': __rid, 'served': s${i}, 'offline': o${i}}, __rid, ${SKEW_EXAMPLES}) FILTER (WHERE NOT q${i}) AS e${i}`,
  );
  return `SELECT count(*) AS n${counts.map((c) => `, ${c}`).join('')} FROM (SELECT *, ${same.join(', ')} FROM (${join}))`;
}

/** Runs {@link skewSql} over `join` on `conn` and reads its one row. */
export async function compareSkew(conn: DuckDbConnection, join: string, features: number, tolerance: number): Promise<SkewCounts> {
  const described = await conn.rows<{ column_name: string; column_type: string }>(`DESCRIBE ${join}`);
  const types = new Map(described.map((c) => [c.column_name, c.column_type]));
  const reader = await conn.raw.runAndReadAll(skewSql(join, features, types, tolerance));
  const [row] = reader.getRows();
  return {
    rows: Number(row[0]),
    features: Array.from({ length: features }, (_, i) => ({ mismatches: Number(row[1 + 2 * i]), examples: examplesOf(row[2 + 2 * i]) })),
  };
}

function examplesOf(list: unknown): SkewExample[] {
  if (!(list instanceof DuckDBListValue)) return [];
  const examples = list.items.map((item) => {
    const { row, served, offline } = (item as DuckDBStructValue).entries;
    return { row: toValue(row) as number, served: toValue(served), offline: toValue(offline) };
  });
  return examples.sort((a, b) => a.row - b.row);
}
