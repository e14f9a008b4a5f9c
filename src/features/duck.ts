/**
 * The little of DuckDB the feature store needs: an engine, typed bulk loading of rows, and results
 * converted to the transformation language's values (BIGINT → number, TIMESTAMP → epoch ms).
 */
import {
  DuckDBInstance,
  DuckDBTimestampValue,
  type DuckDBConnection,
} from '@duckdb/node-api';
import { sqlIdent, sqlType, type ExprType, type ExprValue } from './expr.ts';

/** A typed column of a table loaded into DuckDB. */
export interface DuckColumn {
  readonly name: string;
  readonly type: ExprType;
}

/** One DuckDB database (in memory unless a path is given) with one connection. */
export class Duck {
  private constructor(
    readonly instance: DuckDBInstance | undefined,
    readonly connection: DuckDBConnection,
    readonly ownsInstance: boolean,
    readonly ownsConnection = true,
  ) {}

  /** Wraps a connection someone else owns (e.g. one borrowed from the process's shared engine); `close` leaves it open. */
  static async wrap(connection: DuckDBConnection): Promise<Duck> {
    const duck = new Duck(undefined, connection, false, false);
    await duck.run("SET TimeZone = 'UTC'");
    return duck;
  }

  /** Opens an in-memory database; `threads` caps DuckDB's worker threads. */
  static async open(options: { threads?: number; memoryLimit?: string } = {}): Promise<Duck> {
    const config: Record<string, string> = {};
    if (options.threads) config.threads = String(options.threads);
    if (options.memoryLimit) config.memory_limit = options.memoryLimit;
    const instance = await DuckDBInstance.create(':memory:', config);
    const duck = new Duck(instance, await instance.connect(), true);
    await duck.run("SET TimeZone = 'UTC'");
    return duck;
  }

  /** Another connection to the same database (its own temp tables); close it when done. */
  async fork(): Promise<Duck> {
    if (!this.instance) throw new Error('a wrapped connection cannot be forked');
    const duck = new Duck(this.instance, await this.instance.connect(), false);
    await duck.run("SET TimeZone = 'UTC'");
    return duck;
  }

  /** Runs statements whose results are not needed. */
  async run(sql: string): Promise<void> {
    await this.connection.run(sql);
  }

  /** Runs a query and returns its rows as objects of language values. */
  async rows(sql: string): Promise<Record<string, ExprValue>[]> {
    const reader = await this.connection.runAndReadAll(sql);
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

  /** Runs a query and returns its columns as arrays (faster for wide scans). */
  async columns(sql: string): Promise<{ names: string[]; columns: ExprValue[][] }> {
    const reader = await this.connection.runAndReadAll(sql);
    const names = reader.columnNames();
    const columns = reader.getColumns().map((col) => col.map(toValue));
    return { names, columns };
  }

  /** Creates table `name` with typed columns and appends `rows` (missing values are NULL). */
  async load(name: string, columns: readonly DuckColumn[], rows: readonly object[]): Promise<void> {
    await this.run(`CREATE OR REPLACE TABLE ${sqlIdent(name)} (${columns.map((c) => `${sqlIdent(c.name)} ${sqlType(c.type)}`).join(', ')})`);
    const appender = await this.connection.createAppender(name);
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
    appender.closeSync();
  }

  /** Closes the connection, and the database when this is not a fork. */
  close(): void {
    if (this.ownsConnection) this.connection.closeSync();
    if (this.ownsInstance) this.instance?.closeSync();
  }
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
      if (v instanceof DuckDBTimestampValue) {
        const ms = v.micros / 1000n;
        return Number(v.micros < 0n && ms * 1000n !== v.micros ? ms - 1n : ms);
      }
      return String(v);
  }
}
