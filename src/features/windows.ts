/**
 * Window aggregations, point in time: the value of a window feature at time t for an entity is the
 * aggregate of that entity's source rows with event time ≤ t that fall in the window — (t − W, t] for
 * a time window, or the last N rows for `last: N` (ties in event time broken by file order, later
 * rows counting as newer). SQL semantics: NULL inputs are ignored; count of nothing is 0, the rest
 * NULL; NaN is the largest number (max is NaN when any input is; min only when all are).
 *
 * Sums and means add in time order (`(t, seq)` ascending), a mean being that sum over the count, so
 * that the last bits agree too.
 *
 * This is the TypeScript side used by materialization; `retrieval.ts` builds the DuckDB side, and
 * `retrieval.test.ts` ("window aggregations: offline SQL and the materialization path agree") proves
 * they agree.
 */
import type { AggregationSpec } from './domain.ts';
import { compareValues, type ExprValue } from './expr.ts';

/** One source row as the window sees it: event time (epoch ms), file order, aggregated argument. */
export interface WindowRow {
  readonly t: number;
  readonly seq: number;
  readonly value: ExprValue;
}

/**
 * The value of aggregation `agg` at time `asOf` over `rows`, which must be sorted by `(t, seq)`
 * ascending and belong to one entity.
 */
export function windowValue(agg: AggregationSpec, rows: readonly WindowRow[], asOf: number): ExprValue {
  // The rows at or before asOf end at `end` (exclusive); binary search since rows are sorted.
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rows[mid].t <= asOf) lo = mid + 1;
    else hi = mid;
  }
  const end = lo;
  let start: number;
  if (agg.last !== undefined) {
    start = Math.max(0, end - agg.last);
  } else {
    const from = asOf - agg.window!;
    lo = 0;
    hi = end;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (rows[mid].t <= from) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  return aggregate(agg, rows, start, end);
}

/** Aggregates `rows[start..end)` with SQL's rules. */
export function aggregate(agg: AggregationSpec, rows: readonly WindowRow[], start: number, end: number): ExprValue {
  if (agg.fn === 'count') {
    if (agg.expr === undefined) return end - start;
    let n = 0;
    for (let i = start; i < end; i++) if (rows[i].value !== null) n++;
    return n;
  }
  let n = 0;
  let sum = 0;
  let best: Exclude<ExprValue, null> | undefined;
  for (let i = start; i < end; i++) {
    const v = rows[i].value;
    if (v === null) continue;
    n++;
    if (agg.fn === 'sum' || agg.fn === 'mean') sum += v as number;
    else if (best === undefined) best = v;
    else {
      const c = compareValues(v, best);
      if (agg.fn === 'min' ? c < 0 : c > 0) best = v;
    }
  }
  if (n === 0) return null;
  if (agg.fn === 'sum') return sum;
  if (agg.fn === 'mean') return sum / n;
  return best ?? null;
}
