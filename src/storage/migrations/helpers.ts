/** Small helpers shared by migrations: the few column types that differ by dialect. */
import type { ColumnDataType, CreateTableBuilder } from 'kysely';
import type { SqlDialect } from '../ports.ts';

/** Adds an auto-incrementing integer primary key named `name`. */
export function autoIncrementPk<T extends string>(
  table: CreateTableBuilder<T, never>,
  name: string,
  dialect: SqlDialect,
): CreateTableBuilder<T, never> {
  return dialect === 'postgres'
    ? table.addColumn(name, 'bigserial', (c) => c.primaryKey())
    : table.addColumn(name, 'integer', (c) => c.primaryKey().autoIncrement());
}

/** 64-bit integer (timestamps in ms, steps). */
export const int64: ColumnDataType = 'bigint';

/** Floating point that holds ±Infinity on every dialect. */
export function float64(dialect: SqlDialect): ColumnDataType {
  return dialect === 'postgres' ? 'double precision' : 'real';
}
