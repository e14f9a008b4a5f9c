/**
 * Profiles of dataset versions, computed with DuckDB over canonical Parquet.
 *
 * Numeric and timestamp columns are read into typed arrays (a batch of columns at a time, bounded in
 * memory), sorted once with a radix sort, and every statistic is taken from the sorted values: exact
 * quantiles with numpy's default linear interpolation, exact distinct counts, min/max, mean
 * (compensated sum), sample standard deviation (n − 1, as pandas), and a histogram whose bin edges are
 * stored (the drift reference of later comparisons). String and boolean columns are counted by DuckDB
 * (group-by for the most frequent values). Versions too large for that (more than
 * {@link ProfileOptions.maxExactRows} rows) get DuckDB's estimates instead, and `exact: false`.
 *
 * ±Infinity is counted apart (`infinite`) and left out of the other statistics; timestamps are profiled
 * in epoch milliseconds.
 */
import type { DuckDBDataChunk } from '@duckdb/node-api';
import type { DuckDb, DuckDbConnection } from '../storage/duckdb/engine.ts';
import { quoteIdent, quoteLiteral } from '../storage/duckdb/sql.ts';
import {
  QUANTILE_LEVELS,
  type CategoryCount,
  type ColumnProfile,
  type ColumnSchema,
  type DatasetProfile,
  type DatasetSchema,
  type Histogram,
} from './domain.ts';
import { sortFloat64 } from './sort.ts';

/** Options of {@link profileParquet}. */
export interface ProfileOptions {
  /** Histogram bins of numeric columns. Default 20. */
  readonly bins?: number;
  /** Most frequent values kept per string/boolean column. Default 20. */
  readonly topK?: number;
  /** Values held in memory at once while profiling numeric columns. Default 32 Mi (256 MiB). */
  readonly maxCells?: number;
  /** Above this many rows, numeric quantiles and distinct counts are estimated. Default 32 Mi. */
  readonly maxExactRows?: number;
}

/** The key of quantile level `q` in {@link ColumnProfile.quantiles} (`0.05` → `p05`). */
export function quantileKey(q: number): string {
  return `p${String(Math.round(q * 100)).padStart(2, '0')}`;
}

const NUMERIC = new Set(['integer', 'float', 'timestamp']);

/** Profiles the canonical Parquet file at `path`, whose schema is `schema`. */
export async function profileParquet(duck: DuckDb, path: string, schema: DatasetSchema, options: ProfileOptions = {}): Promise<DatasetProfile> {
  const bins = options.bins ?? 20;
  const topK = options.topK ?? 20;
  const maxCells = options.maxCells ?? 32 * 1024 * 1024;
  const maxExactRows = options.maxExactRows ?? 32 * 1024 * 1024;
  const from = `read_parquet(${quoteLiteral(path)})`;
  const rowCount = Number((await duck.rows<{ n: number }>(`SELECT count(*) AS n FROM ${from}`))[0]?.n ?? 0);
  const profiles = new Map<string, ColumnProfile>();
  const numeric = schema.columns.filter((c) => NUMERIC.has(c.type));
  const categorical = schema.columns.filter((c) => !NUMERIC.has(c.type));
  const exact = rowCount <= maxExactRows;
  // DuckDB counts the string columns on its threads while this thread sorts the numeric ones.
  const strings = duck.withConnection(async (conn) => {
    for (const column of categorical) profiles.set(column.name, await categoricalProfile(conn, from, column, rowCount, topK, exact));
  });
  const numbers = duck.withConnection(async (conn) => {
    if (exact) {
      const perBatch = Math.max(1, Math.floor(maxCells / Math.max(1, rowCount)));
      for (let start = 0; start < numeric.length; start += perBatch) {
        for (const p of await exactNumeric(conn, from, numeric.slice(start, start + perBatch), rowCount, bins)) profiles.set(p.name, p);
      }
    } else {
      for (const column of numeric) profiles.set(column.name, await estimatedNumeric(conn, from, column, rowCount, bins));
    }
  });
  await Promise.all([strings, numbers]);
  return {
    row_count: rowCount,
    column_count: schema.columns.length,
    exact,
    columns: schema.columns.map((c) => profiles.get(c.name)!),
  };
}

/** SQL reading a numeric or timestamp column as DOUBLE with NaN for null (no validity checks while copying). */
function asDouble(column: ColumnSchema): string {
  const ref = quoteIdent(column.name);
  return column.type === 'timestamp' ? `coalesce(CAST(epoch_ms(${ref}) AS DOUBLE), 'NaN'::DOUBLE)` : `coalesce(CAST(${ref} AS DOUBLE), 'NaN'::DOUBLE)`;
}

async function exactNumeric(conn: DuckDbConnection, from: string, columns: readonly ColumnSchema[], rowCount: number, bins: number): Promise<ColumnProfile[]> {
  if (columns.length === 0) return [];
  const values = columns.map(() => new Float64Array(rowCount));
  const lengths = columns.map(() => 0);
  const infinite = columns.map(() => 0);
  await conn.forEachChunk(`SELECT ${columns.map(asDouble).join(', ')} FROM ${from}`, undefined, (chunk: DuckDBDataChunk) => {
    const n = chunk.rowCount;
    for (let j = 0; j < columns.length; j++) {
      const vector = chunk.getColumnVector(j);
      const out = values[j];
      let len = lengths[j];
      let inf = 0;
      for (let i = 0; i < n; i++) {
        const x = vector.getItem(i) as number;
        if (x - x === 0) out[len++] = x;
        else if (x === x) inf++;
      }
      lengths[j] = len;
      infinite[j] += inf;
    }
  });
  const scratch = new Float64Array(rowCount);
  return columns.map((column, j) => {
    const sorted = sortFloat64(values[j], lengths[j], scratch);
    const nulls = rowCount - lengths[j] - infinite[j];
    return { ...sortedStats(column, sorted, nulls, infinite[j], bins), distinct_exact: true };
  });
}

/** Every numeric statistic of a sorted array of finite values. */
export function sortedStats(
  column: Pick<ColumnSchema, 'name' | 'type'>,
  sorted: Float64Array,
  nulls: number,
  infinite: number,
  bins: number,
): Omit<ColumnProfile, 'distinct_exact'> {
  const n = sorted.length;
  const total = n + nulls + infinite;
  const base = {
    name: column.name,
    type: column.type,
    count: n + infinite,
    nulls,
    null_fraction: total === 0 ? 0 : nulls / total,
    ...(infinite > 0 ? { infinite } : {}),
  };
  if (n === 0) return { ...base, distinct: infinite > 0 ? 1 : 0 };
  let distinct = 1;
  for (let i = 1; i < n; i++) if (sorted[i] !== sorted[i - 1]) distinct++;
  // Neumaier's compensated sum: the mean agrees with numpy's pairwise sum to the last digits.
  let sum = 0;
  let compensation = 0;
  for (let i = 0; i < n; i++) {
    const x = sorted[i];
    const t = sum + x;
    compensation += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
    sum = t;
  }
  const mean = (sum + compensation) / n;
  let squares = 0;
  for (let i = 0; i < n; i++) {
    const d = sorted[i] - mean;
    squares += d * d;
  }
  const quantiles: Record<string, number> = {};
  for (const q of QUANTILE_LEVELS) quantiles[quantileKey(q)] = quantileSorted(sorted, q);
  return {
    ...base,
    distinct,
    min: sorted[0],
    max: sorted[n - 1],
    mean,
    ...(n > 1 ? { std: Math.sqrt(squares / (n - 1)) } : {}),
    quantiles,
    histogram: histogramSorted(sorted, histogramEdges(sorted[0], sorted[n - 1], column.type === 'integer', bins)),
  };
}

/** numpy's default (linear) quantile of sorted values. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const position = (n - 1) * q;
  const lo = Math.floor(position);
  const hi = Math.min(lo + 1, n - 1);
  const t = position - lo;
  const a = sorted[lo];
  const b = sorted[hi];
  // numpy's _lerp: interpolate from the nearer end so that equal neighbours give that value exactly.
  return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}

/**
 * Bin edges: one bin per integer for integer columns spanning at most `bins` values, else `bins`
 * equal-width bins from min to max; a constant column gets one bin around its value.
 */
export function histogramEdges(min: number, max: number, integer: boolean, bins: number): number[] {
  if (min === max) return [min - 0.5, max + 0.5];
  if (integer && max - min + 1 <= bins) return Array.from({ length: max - min + 2 }, (_, i) => min - 0.5 + i);
  const width = (max - min) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => min + i * width);
  edges[bins] = max;
  return edges;
}

/** Counts sorted values into bins `[e_i, e_{i+1})`, the last closed (numpy.histogram's rule). */
export function histogramSorted(sorted: ArrayLike<number>, edges: readonly number[]): Histogram {
  const bins = edges.length - 1;
  const counts = new Array<number>(bins).fill(0);
  let b = 0;
  for (let i = 0; i < sorted.length; i++) {
    const x = sorted[i];
    if (x < edges[0] || x > edges[bins]) continue;
    while (b < bins - 1 && x >= edges[b + 1]) b++;
    counts[b]++;
  }
  return { edges: [...edges], counts };
}

async function estimatedNumeric(conn: DuckDbConnection, from: string, column: ColumnSchema, rowCount: number, bins: number): Promise<ColumnProfile> {
  const raw = column.type === 'timestamp' ? `CAST(epoch_ms(${quoteIdent(column.name)}) AS DOUBLE)` : `CAST(${quoteIdent(column.name)} AS DOUBLE)`;
  const finite = `CASE WHEN isfinite(${raw}) THEN ${raw} END`;
  const levels = QUANTILE_LEVELS.join(', ');
  const s = await conn.first<{ n: number; inf: number; d: number; mi: number; ma: number; mean: number; std: number; q: number[] }>(
    `SELECT count(${finite}) AS n, count(${raw}) - count(${finite}) AS inf, approx_count_distinct(${finite}) AS d,
            min(${finite}) AS mi, max(${finite}) AS ma, avg(${finite}) AS mean, stddev_samp(${finite}) AS std,
            approx_quantile(${finite}, [${levels}]) AS q
     FROM ${from}`,
  );
  const n = Number(s?.n ?? 0);
  const infinite = Number(s?.inf ?? 0);
  const nulls = rowCount - n - infinite;
  const base = {
    name: column.name,
    type: column.type,
    count: n + infinite,
    nulls,
    null_fraction: rowCount === 0 ? 0 : nulls / rowCount,
    distinct: Number(s?.d ?? 0),
    distinct_exact: false,
    ...(infinite > 0 ? { infinite } : {}),
  };
  if (n === 0 || !s) return base;
  const edges = histogramEdges(s.mi, s.ma, column.type === 'integer', bins);
  const last = edges.length - 2;
  const rows = await conn.rows<{ b: number; c: number }>(
    `SELECT CAST(CASE WHEN v >= $1 THEN $2 ELSE greatest(0, least($2, floor((v - $3) / $4))) END AS INTEGER) AS b, count(*) AS c
     FROM (SELECT ${finite} AS v FROM ${from}) WHERE v IS NOT NULL GROUP BY 1`,
    [edges[last + 1], last, edges[0], (edges[last + 1] - edges[0]) / (last + 1)],
  );
  const counts = new Array<number>(last + 1).fill(0);
  for (const r of rows) counts[r.b] += Number(r.c);
  const quantiles: Record<string, number> = {};
  QUANTILE_LEVELS.forEach((q, i) => (quantiles[quantileKey(q)] = s.q[i]));
  return { ...base, min: s.mi, max: s.ma, mean: s.mean, ...(n > 1 ? { std: s.std } : {}), quantiles, histogram: { edges, counts } };
}

async function categoricalProfile(
  conn: DuckDbConnection,
  from: string,
  column: ColumnSchema,
  rowCount: number,
  topK: number,
  exact: boolean,
): Promise<ColumnProfile> {
  const ref = quoteIdent(column.name);
  const isString = column.type === 'string';
  const s = await conn.first<{ n: number; d: number; mi: unknown; ma: unknown; minlen: number | null; maxlen: number | null }>(
    `SELECT count(${ref}) AS n, ${exact ? `count(DISTINCT ${ref})` : `approx_count_distinct(${ref})`} AS d, min(${ref}) AS mi, max(${ref}) AS ma
            ${isString ? `, min(length(${ref})) AS minlen, max(length(${ref})) AS maxlen` : ''}
     FROM ${from}`,
  );
  const n = Number(s?.n ?? 0);
  const nulls = rowCount - n;
  const top = await conn.rows<{ v: string; c: number }>(
    `SELECT CAST(${ref} AS VARCHAR) AS v, count(*) AS c FROM ${from} WHERE ${ref} IS NOT NULL GROUP BY 1 ORDER BY c DESC, v LIMIT ${Math.trunc(topK)}`,
  );
  const topCounts: CategoryCount[] = top.map((t) => ({ value: t.v, count: Number(t.c), frequency: n === 0 ? 0 : Number(t.c) / n }));
  const inTop = topCounts.reduce((sum, t) => sum + t.count, 0);
  return {
    name: column.name,
    type: column.type,
    count: n,
    nulls,
    null_fraction: rowCount === 0 ? 0 : nulls / rowCount,
    distinct: Number(s?.d ?? 0),
    distinct_exact: exact,
    ...(n > 0 ? { min: s!.mi as string | boolean, max: s!.ma as string | boolean } : {}),
    ...(isString && n > 0 ? { min_length: Number(s!.minlen), max_length: Number(s!.maxlen) } : {}),
    top: topCounts,
    other_count: n - inTop,
  };
}
