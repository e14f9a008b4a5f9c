/**
 * Metrics per slice: per value of a categorical column; per value of a numeric column with few
 * distinct values (a 1/2-coded sex, a 0–5 rating), else per bucket of it (quantile buckets or given
 * edges); each slice with its row count and a confidence interval.
 *
 * Intervals: a metric that is a proportion of unweighted counts — accuracy, and binary precision and
 * recall — gets the Wilson score interval; every other metric (and every metric when sample weights
 * are given) gets a seeded percentile bootstrap. Each slice reports which method it used.
 */
import { invalidParam, isMloopError } from '../core/errors.ts';
import { Random } from '../core/random.ts';
import { bootstrapMetric } from './bootstrap.ts';
import { checkEvaluationData, computeMetric, defaultMetrics, getMetric, subsetData, type EvaluationData } from './metrics/registry.ts';
import { checkConfidence, percentileSorted, wilsonInterval } from './stats.ts';

/** A column to slice by (structurally the `Column` of `training/types.ts`). */
export type SliceColumn =
  | { readonly name: string; readonly kind: 'numeric'; readonly values: ArrayLike<number> }
  | { readonly name: string; readonly kind: 'categorical'; readonly values: readonly (string | null)[] };

/**
 * How a numeric column is sliced: `value` one slice per distinct value, `quantile` quantile buckets,
 * `auto` per value when the column has at most {@link AUTO_VALUE_SLICES} distinct values, else quantile.
 */
export type NumericSliceMode = 'auto' | 'value' | 'quantile';

/** `auto` slices a numeric column per value when it has at most this many distinct values. */
export const AUTO_VALUE_SLICES = 20;

/** Most per-value slices of a numeric column. */
export const MAX_VALUE_SLICES = 100;

/** Options of {@link sliceMetrics}. */
export interface SliceOptions {
  /** Metric names; default: every metric that applies to the task and the predictions given. */
  readonly metrics?: readonly string[];
  /** Numeric column: per value, quantile buckets or either by the count of distinct values; default `auto`. */
  readonly mode?: NumericSliceMode;
  /** Numeric column: number of quantile buckets; default 4. Ignored when `edges` is given. */
  readonly bins?: number;
  /** Numeric column: increasing bucket edges, used whatever the mode; values outside them get their own two buckets. */
  readonly edges?: readonly number[];
  /** Two-sided confidence level of the intervals; default 0.95. */
  readonly confidence?: number;
  /** Bootstrap resamples per slice and metric; default 1000; 0 leaves metrics that are not proportions without an interval. */
  readonly nBootstrap?: number;
  /** Seed of the bootstrap; default 0. */
  readonly seed?: number;
}

/** One metric on one slice. */
export interface SliceMetric {
  /** Null when the metric is undefined on the slice (see `error`). */
  readonly value: number | null;
  readonly lower: number | null;
  readonly upper: number | null;
  readonly method: 'wilson' | 'bootstrap' | null;
  /** Why the value or its interval is missing. */
  readonly error?: string;
}

/** One slice. */
export interface Slice {
  /** The category or value, or the bucket as `[lower, upper)`; missing values form the slice `(missing)`. */
  readonly key: string;
  /** Numeric slices: the bounds (both the value for a per-value slice; null for the open ends and the missing slice). */
  readonly lower?: number | null;
  readonly upper?: number | null;
  readonly count: number;
  readonly metrics: Record<string, SliceMetric>;
}

/** All slices of one column, plus the same metrics on every row for comparison. */
export interface SliceReport {
  readonly column: string;
  readonly kind: 'numeric' | 'categorical';
  readonly confidence: number;
  /** Numeric columns: sliced per value, in quantile buckets, or in buckets of given edges. */
  readonly binning?: 'value' | 'quantile' | 'edges';
  /** Numeric buckets: the edges used. */
  readonly edges?: number[];
  readonly overall: Slice;
  readonly slices: Slice[];
}

/** The label used for rows whose slice value is missing (NaN or null). */
export const MISSING_SLICE = '(missing)';

function fmt(x: number): string {
  return String(Number(x.toPrecision(6)));
}

/**
 * The name of one value of a numeric column as a slice or a fairness group: the value written in
 * full (two values never share a name), `-0` as `0`.
 */
export function numericValueKey(v: number): string {
  return String(v === 0 ? 0 : v);
}

interface Group {
  key: string;
  lower?: number | null;
  upper?: number | null;
  rows: number[];
}

function categoricalGroups(values: readonly (string | null)[]): Group[] {
  const byKey = new Map<string, number[]>();
  const missing: number[] = [];
  values.forEach((v, i) => {
    if (v === null || v === undefined) missing.push(i);
    else {
      const rows = byKey.get(v);
      if (rows) rows.push(i);
      else byKey.set(v, [i]);
    }
  });
  const groups: Group[] = [...byKey.keys()].sort().map((key) => ({ key, rows: byKey.get(key)! }));
  if (missing.length > 0) groups.push({ key: MISSING_SLICE, rows: missing });
  return groups;
}

function distinctValues(values: ArrayLike<number>): number[] {
  const seen = new Set<number>();
  for (let i = 0; i < values.length; i++) if (!Number.isNaN(values[i])) seen.add(values[i] === 0 ? 0 : values[i]);
  return [...seen].sort((a, b) => a - b);
}

function valueGroups(values: ArrayLike<number>, distinct: readonly number[]): Group[] {
  const index = new Map(distinct.map((v, i) => [v, i]));
  const rows: number[][] = distinct.map(() => []);
  const missing: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) missing.push(i);
    else rows[index.get(v === 0 ? 0 : v)!].push(i);
  }
  const groups: Group[] = distinct.map((v, i) => ({ key: numericValueKey(v), lower: v, upper: v, rows: rows[i] }));
  if (missing.length > 0) groups.push({ key: MISSING_SLICE, lower: null, upper: null, rows: missing });
  return groups;
}

function quantileEdges(values: ArrayLike<number>, bins: number): number[] {
  if (!Number.isInteger(bins) || bins < 1) throw invalidParam('bins', `must be a positive integer, got ${bins}`);
  const present = Float64Array.from(values).filter((v) => !Number.isNaN(v)).sort();
  if (present.length === 0) return [];
  const edges: number[] = [];
  for (let i = 0; i <= bins; i++) {
    const e = percentileSorted(present, (i / bins) * 100);
    // Repeated values can make equal quantiles; one bucket per distinct edge.
    if (edges.length === 0 || e > edges[edges.length - 1]) edges.push(e);
  }
  return edges;
}

function numericGroups(values: ArrayLike<number>, edges: number[]): Group[] {
  const k = edges.length;
  const below: number[] = [];
  const above: number[] = [];
  const missing: number[] = [];
  // k edges make k − 1 buckets; a single edge (constant column) makes one bucket [e, e].
  const inner: number[][] = Array.from({ length: Math.max(1, k - 1) }, () => []);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) missing.push(i);
    else if (v < edges[0]) below.push(i);
    else if (v > edges[k - 1]) above.push(i);
    else {
      let lo = 0;
      let hi = Math.max(1, k - 1);
      // Last bucket index b with edges[b] <= v; the top edge belongs to the last bucket.
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (edges[mid] <= v) lo = mid;
        else hi = mid;
      }
      inner[lo].push(i);
    }
  }
  const groups: Group[] = [];
  if (below.length > 0) groups.push({ key: `< ${fmt(edges[0])}`, lower: null, upper: edges[0], rows: below });
  inner.forEach((rows, b) => {
    if (rows.length === 0) return;
    const lower = edges[b];
    const upper = edges[Math.min(b + 1, k - 1)];
    const closed = b === inner.length - 1;
    groups.push({ key: `[${fmt(lower)}, ${fmt(upper)}${closed ? ']' : ')'}`, lower, upper, rows });
  });
  if (above.length > 0) groups.push({ key: `> ${fmt(edges[k - 1])}`, lower: edges[k - 1], upper: null, rows: above });
  if (missing.length > 0) groups.push({ key: MISSING_SLICE, lower: null, upper: null, rows: missing });
  return groups;
}

function metricOnSlice(
  name: string,
  data: EvaluationData,
  options: { confidence: number; nBootstrap: number; seed: number },
): SliceMetric {
  let value: number;
  try {
    value = computeMetric(name, data);
  } catch (err) {
    if (!isMloopError(err)) throw err;
    return { value: null, lower: null, upper: null, method: null, error: err.message };
  }
  if (Number.isNaN(value)) return { value: null, lower: null, upper: null, method: null, error: 'undefined on this slice' };
  const def = getMetric(name);
  if (def.proportion && !data.sampleWeight) {
    const { k, n } = def.proportion(data);
    if (n === 0) return { value, lower: null, upper: null, method: null, error: 'no rows in the denominator' };
    const ci = wilsonInterval(k, n, options.confidence);
    return { value, lower: ci.lower, upper: ci.upper, method: 'wilson' };
  }
  if (options.nBootstrap === 0) return { value, lower: null, upper: null, method: null };
  const b = bootstrapMetric(name, data, options);
  return {
    value,
    lower: b.lower,
    upper: b.upper,
    method: 'bootstrap',
    ...(b.nValid < b.nBootstrap ? { error: `defined on ${b.nValid} of ${b.nBootstrap} resamples` } : {}),
  };
}

/**
 * Metrics of `data` per slice of `column` (one value per row of `data`), with counts and intervals.
 * Categorical slices are sorted by value; numeric buckets are left-closed, the last one closed on
 * both sides (as `numpy.histogram`), and values outside given edges form `< e₀` and `> eₖ` buckets.
 */
export function sliceMetrics(data: EvaluationData, column: SliceColumn, options: SliceOptions = {}): SliceReport {
  checkEvaluationData(data);
  const n = data.yTrue.length;
  if (column.values.length !== n) {
    throw invalidParam(`column "${column.name}"`, `has ${column.values.length} values but there are ${n} predictions`);
  }
  const names = options.metrics ?? defaultMetrics(data.task, data.yScore !== undefined);
  for (const name of names) {
    const def = getMetric(name);
    if (!def.tasks.includes(data.task)) throw invalidParam('metrics', `${JSON.stringify(name)} does not apply to a ${data.task} task`);
  }
  const confidence = options.confidence ?? 0.95;
  checkConfidence(confidence);
  const nBootstrap = options.nBootstrap ?? 1000;
  const seeds = new Random(options.seed ?? 0);

  let groups: Group[];
  let edges: number[] | undefined;
  let binning: SliceReport['binning'];
  const mode = options.mode ?? 'auto';
  if (mode !== 'auto' && mode !== 'value' && mode !== 'quantile') throw invalidParam('mode', `expected auto, value or quantile, got ${JSON.stringify(mode)}`);
  const distinct = column.kind === 'numeric' && !options.edges && mode !== 'quantile' ? distinctValues(column.values) : undefined;
  if (column.kind === 'categorical') {
    groups = categoricalGroups(column.values);
  } else if (column.kind === 'numeric' && distinct && (mode === 'value' || distinct.length <= AUTO_VALUE_SLICES)) {
    if (distinct.length > MAX_VALUE_SLICES) {
      throw invalidParam('mode', `column "${column.name}" has ${distinct.length} distinct values; per-value slices allow at most ${MAX_VALUE_SLICES} (use quantile buckets or edges)`);
    }
    binning = 'value';
    groups = valueGroups(column.values, distinct);
  } else if (column.kind === 'numeric') {
    binning = options.edges ? 'edges' : 'quantile';
    if (options.edges) {
      edges = [...options.edges];
      if (edges.length === 0) throw invalidParam('edges', 'is empty');
      for (let i = 0; i < edges.length; i++) {
        if (!Number.isFinite(edges[i])) throw invalidParam('edges', `edge ${i} is not finite: ${edges[i]}`);
        if (i > 0 && !(edges[i] > edges[i - 1])) throw invalidParam('edges', `must increase strictly; edge ${i} (${edges[i]}) <= edge ${i - 1}`);
      }
    } else {
      edges = quantileEdges(column.values, options.bins ?? 4);
    }
    groups = edges.length === 0 ? [{ key: MISSING_SLICE, lower: null, upper: null, rows: Array.from({ length: n }, (_, i) => i) }] : numericGroups(column.values, edges);
  } else {
    throw invalidParam('column.kind', `expected numeric or categorical, got ${JSON.stringify((column as { kind: unknown }).kind)}`);
  }

  const slice = (key: string, d: EvaluationData, bounds: { lower?: number | null; upper?: number | null }): Slice => {
    const metrics: Record<string, SliceMetric> = {};
    for (const name of names) {
      metrics[name] = metricOnSlice(name, d, { confidence, nBootstrap, seed: seeds.nextUint32() });
    }
    return { key, ...bounds, count: d.yTrue.length, metrics };
  };
  const overall = slice('(all)', data, {});
  const slices = groups.map((g) =>
    slice(g.key, subsetData(data, g.rows), column.kind === 'numeric' ? { lower: g.lower ?? null, upper: g.upper ?? null } : {}),
  );
  return { column: column.name, kind: column.kind, confidence, ...(binning ? { binning } : {}), ...(edges ? { edges } : {}), overall, slices };
}
