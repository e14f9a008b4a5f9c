/**
 * Reading a version into the trainers' columnar {@link Table}: integer, float, boolean (0/1) and
 * timestamp (epoch milliseconds) columns as Float64Array with NaN for null; string columns as
 * `(string | null)[]`.
 */
import type { DuckDb } from '../storage/duckdb/engine.ts';
import { quoteIdent, quoteLiteral } from '../storage/duckdb/sql.ts';
import type { Column, Table } from '../training/types.ts';
import type { ColumnSchema } from './domain.ts';

/** SQL of a column as the table holds it. */
function selectExpr(column: ColumnSchema): string {
  const ref = quoteIdent(column.name);
  switch (column.type) {
    case 'string':
      return ref;
    case 'timestamp':
      return `coalesce(CAST(epoch_ms(${ref}) AS DOUBLE), 'NaN'::DOUBLE)`;
    default:
      return `coalesce(CAST(${ref} AS DOUBLE), 'NaN'::DOUBLE)`;
  }
}

/** Reads `columns` of the Parquet file at `path`, at most `limit` rows, in file order. */
export async function readParquetTable(duck: DuckDb, path: string, columns: readonly ColumnSchema[], limit?: number): Promise<Table> {
  const from = `read_parquet(${quoteLiteral(path)})`;
  return duck.withConnection(async (conn) => {
    const total = Number((await conn.first<{ n: number }>(`SELECT count(*) AS n FROM ${from}`))?.n ?? 0);
    const rows = limit === undefined ? total : Math.min(total, limit);
    const numeric = columns.map((c) => (c.type === 'string' ? undefined : new Float64Array(rows)));
    const text = columns.map((c) => (c.type === 'string' ? new Array<string | null>(rows) : undefined));
    if (columns.length > 0 && rows > 0) {
      let offset = 0;
      await conn.forEachChunk(`SELECT ${columns.map(selectExpr).join(', ')} FROM ${from} LIMIT ${rows}`, undefined, (chunk) => {
        const n = chunk.rowCount;
        for (let j = 0; j < columns.length; j++) {
          const vector = chunk.getColumnVector(j);
          const floats = numeric[j];
          if (floats) for (let i = 0; i < n; i++) floats[offset + i] = vector.getItem(i) as number;
          else {
            const out = text[j]!;
            for (let i = 0; i < n; i++) out[offset + i] = vector.getItem(i) as string | null;
          }
        }
        offset += n;
      });
    }
    const out: Column[] = columns.map((c, j) =>
      c.type === 'string' ? { name: c.name, kind: 'categorical', values: text[j]! } : { name: c.name, kind: 'numeric', values: numeric[j]! },
    );
    return { rows, columns: out };
  });
}
