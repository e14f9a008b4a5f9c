/**
 * Rows between the transformation language and DuckDB, over a connection of the process's DuckDB
 * engine (`storage/duckdb/engine.ts`): typed loading of rows into a temporary table, and query results
 * as language values (BIGINT → number, TIMESTAMP and TIMESTAMPTZ → epoch milliseconds, rounded down).
 */
import { DuckDBTimestampTZValue, DuckDBTimestampValue } from '@duckdb/node-api';
import type { DuckDbConnection } from '../storage/duckdb/engine.ts';
import { sqlIdent, sqlType, type ExprType, type ExprValue } from './expr.ts';

/** A typed column of a table loaded into DuckDB. */
export interface DuckColumn {
  readonly name: string;
  readonly type: ExprType;
}

/**
 * Creates the temporary table `name` (it lives as long as the connection) with typed columns and
 * appends `rows`; a missing value is NULL.
 */
export async function loadRows(conn: DuckDbConnection, name: string, columns: readonly DuckColumn[], rows: readonly object[]): Promise<void> {
  await conn.run(`CREATE OR REPLACE TEMP TABLE ${sqlIdent(name)} (${columns.map((c) => `${sqlIdent(c.name)} ${sqlType(c.type)}`).join(', ')})`);
  const appender = await conn.raw.createAppender(name, 'main', 'temp');
  try {
    for (const row of rows) {
      for (const c of columns) {
        const v = (row as Record<string, unknown>)[c.name];
        if (v === null || v === undefined) {
          appender.appendNull();
          continue;
        }
        switch (c.type) {
          case 'int':
            appender.appendBigInt(BigInt(v as number));
            break;
          case 'float':
            appender.appendDouble(v as number);
            break;
          case 'bool':
            appender.appendBoolean(v as boolean);
            break;
          case 'string':
            appender.appendVarchar(v as string);
            break;
          case 'timestamp':
            appender.appendTimestamp(new DuckDBTimestampValue(BigInt(v as number) * 1000n));
            break;
        }
      }
      appender.endRow();
    }
  } finally {
    appender.closeSync();
  }
}

/** Runs a query and returns its rows as objects of language values. */
export async function exprRows(conn: DuckDbConnection, sql: string): Promise<Record<string, ExprValue>[]> {
  const reader = await conn.raw.runAndReadAll(sql);
  const names = reader.columnNames();
  const raw = reader.getRows();
  const out: Record<string, ExprValue>[] = new Array(raw.length);
  for (let r = 0; r < raw.length; r++) {
    const row: Record<string, ExprValue> = {};
    const values = raw[r];
    for (let c = 0; c < names.length; c++) row[names[c]] = toValue(values[c]);
    out[r] = row;
  }
  return out;
}

/** Converts a DuckDB value to a language value. */
export function toValue(v: unknown): ExprValue {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'number':
    case 'string':
    case 'boolean':
      return v;
    case 'bigint':
      return Number(v);
    default:
      if (v instanceof DuckDBTimestampValue || v instanceof DuckDBTimestampTZValue) {
        const ms = v.micros / 1000n;
        return Number(v.micros < 0n && ms * 1000n !== v.micros ? ms - 1n : ms);
      }
      return String(v);
  }
}
