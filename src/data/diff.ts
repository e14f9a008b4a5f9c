/**
 * Comparing two versions from their stored profiles alone (no data is read), so the same code serves
 * monitoring against a stored reference.
 *
 * Numeric and timestamp columns: each histogram is read as a piecewise-linear CDF (values spread
 * evenly within a bin).
 * - PSI (population stability index) over the base version's bins: Σ (tᵢ − bᵢ)·ln(tᵢ / bᵢ), the target's
 *   share of each base bin taken from its CDF, shares floored at {@link PSI_EPSILON}; target values
 *   outside the base range count in the first or last bin. Rule of thumb: < 0.1 stable, 0.1–0.25
 *   moderate shift, > 0.25 large shift.
 * - Kolmogorov–Smirnov statistic: the largest gap between the two CDFs, taken at every bin edge of
 *   either histogram (where piecewise-linear CDFs have their largest gaps). An estimate of the exact
 *   two-sample statistic, as fine as the bins.
 * String and boolean columns: the distributions over the union of both top-value lists plus one
 * "other" bucket.
 * - Jensen–Shannon distance, base 2 (the square root of the divergence; 0 identical, 1 disjoint).
 * - Total variation distance: half the L1 distance (the largest difference in probability of any event).
 */
import type { ColumnProfile, ColumnSchema, DatasetProfile, DatasetSchema, Histogram } from './domain.ts';

/** Floor of a bin's share in PSI, so that empty bins do not make it infinite. */
export const PSI_EPSILON = 1e-4;

/** A column whose definition changed between the versions. */
export interface ColumnChange {
  readonly name: string;
  readonly type?: { readonly from: string; readonly to: string };
  readonly nullable?: { readonly from: boolean; readonly to: boolean };
  readonly tags?: { readonly added: readonly string[]; readonly removed: readonly string[] };
}

/** Distribution distance of one column present in both versions. */
export interface ColumnDrift {
  readonly name: string;
  readonly kind: 'numeric' | 'categorical';
  readonly null_fraction: { readonly base: number; readonly target: number };
  readonly mean?: { readonly base: number; readonly target: number };
  readonly psi?: number;
  readonly ks?: number;
  readonly js_distance?: number;
  readonly total_variation?: number;
}

/** The difference between two versions. */
export interface ProfileDiff {
  readonly identical: boolean;
  readonly row_count: { readonly base: number; readonly target: number; readonly change: number; readonly relative_change: number | null };
  readonly schema: { readonly added: readonly ColumnSchema[]; readonly removed: readonly ColumnSchema[]; readonly changed: readonly ColumnChange[] };
  readonly columns: readonly ColumnDrift[];
}

/** Compares `target` against `base`. */
export function diffProfiles(
  base: { schema: DatasetSchema; profile: DatasetProfile; version: string },
  target: { schema: DatasetSchema; profile: DatasetProfile; version: string },
): ProfileDiff {
  const baseColumns = new Map(base.schema.columns.map((c) => [c.name, c]));
  const targetColumns = new Map(target.schema.columns.map((c) => [c.name, c]));
  const added = target.schema.columns.filter((c) => !baseColumns.has(c.name));
  const removed = base.schema.columns.filter((c) => !targetColumns.has(c.name));
  const changed: ColumnChange[] = [];
  const drift: ColumnDrift[] = [];
  const baseProfiles = new Map(base.profile.columns.map((c) => [c.name, c]));
  const targetProfiles = new Map(target.profile.columns.map((c) => [c.name, c]));
  for (const b of base.schema.columns) {
    const t = targetColumns.get(b.name);
    if (!t) continue;
    const change: { -readonly [K in keyof ColumnChange]: ColumnChange[K] } = { name: b.name };
    if (b.type !== t.type) change.type = { from: b.type, to: t.type };
    if (b.nullable !== t.nullable) change.nullable = { from: b.nullable, to: t.nullable };
    const tagsAdded = t.tags.filter((x) => !b.tags.includes(x));
    const tagsRemoved = b.tags.filter((x) => !t.tags.includes(x));
    if (tagsAdded.length > 0 || tagsRemoved.length > 0) change.tags = { added: tagsAdded, removed: tagsRemoved };
    if (Object.keys(change).length > 1) changed.push(change);
    const bp = baseProfiles.get(b.name);
    const tp = targetProfiles.get(b.name);
    if (bp && tp) {
      const d = columnDrift(bp, tp);
      if (d) drift.push(d);
    }
  }
  const rb = base.profile.row_count;
  const rt = target.profile.row_count;
  return {
    identical: base.version === target.version,
    row_count: { base: rb, target: rt, change: rt - rb, relative_change: rb === 0 ? null : (rt - rb) / rb },
    schema: { added, removed, changed },
    columns: drift,
  };
}

const NUMERIC = new Set(['integer', 'float', 'timestamp']);

/** Distance between two profiles of the same column; undefined when their kinds differ. */
export function columnDrift(base: ColumnProfile, target: ColumnProfile): ColumnDrift | undefined {
  const null_fraction = { base: base.null_fraction, target: target.null_fraction };
  const baseNumeric = NUMERIC.has(base.type);
  if (baseNumeric !== NUMERIC.has(target.type)) return undefined;
  if (baseNumeric) {
    const out: { -readonly [K in keyof ColumnDrift]: ColumnDrift[K] } = { name: base.name, kind: 'numeric', null_fraction };
    if (base.mean !== undefined && target.mean !== undefined) out.mean = { base: base.mean, target: target.mean };
    if (base.histogram && target.histogram) {
      out.psi = psi(base.histogram, target.histogram);
      out.ks = ksStatistic(base.histogram, target.histogram);
    }
    return out;
  }
  const [p, q] = categoricalDistributions(base, target);
  return { name: base.name, kind: 'categorical', null_fraction, js_distance: jensenShannonDistance(p, q), total_variation: totalVariation(p, q) };
}

/** The CDF of a histogram at `x`, values spread evenly within each bin. */
export function histogramCdf(h: Histogram, x: number): number {
  const total = h.counts.reduce((a, b) => a + b, 0);
  if (total === 0) return Number.NaN;
  const edges = h.edges;
  if (x <= edges[0]) return 0;
  if (x >= edges[edges.length - 1]) return 1;
  let below = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const lo = edges[i];
    const hi = edges[i + 1];
    if (x >= hi) below += h.counts[i];
    else {
      if (x > lo && hi > lo) below += (h.counts[i] * (x - lo)) / (hi - lo);
      break;
    }
  }
  return below / total;
}

/** PSI of `target` against `base`, over the base bins (see the module comment). */
export function psi(base: Histogram, target: Histogram): number {
  const baseTotal = base.counts.reduce((a, b) => a + b, 0);
  if (baseTotal === 0 || target.counts.reduce((a, b) => a + b, 0) === 0) return Number.NaN;
  const bins = base.counts.length;
  let value = 0;
  for (let i = 0; i < bins; i++) {
    const lo = i === 0 ? -Infinity : base.edges[i];
    const hi = i === bins - 1 ? Infinity : base.edges[i + 1];
    const t = Math.max(PSI_EPSILON, cdfOrBound(target, hi) - cdfOrBound(target, lo));
    const b = Math.max(PSI_EPSILON, base.counts[i] / baseTotal);
    value += (t - b) * Math.log(t / b);
  }
  return value;
}

function cdfOrBound(h: Histogram, x: number): number {
  if (x === -Infinity) return 0;
  if (x === Infinity) return 1;
  return histogramCdf(h, x);
}

/** The two-sample Kolmogorov–Smirnov statistic estimated from two histograms. */
export function ksStatistic(a: Histogram, b: Histogram): number {
  let max = 0;
  for (const x of [...a.edges, ...b.edges]) {
    const gap = Math.abs(histogramCdf(a, x) - histogramCdf(b, x));
    if (gap > max) max = gap;
  }
  return max;
}

/** Probability vectors of two categorical profiles over the union of their top values plus "other". */
function categoricalDistributions(base: ColumnProfile, target: ColumnProfile): [number[], number[]] {
  const keys = [...new Set([...(base.top ?? []).map((t) => t.value), ...(target.top ?? []).map((t) => t.value)])];
  const vector = (p: ColumnProfile): number[] => {
    const counts = new Map((p.top ?? []).map((t) => [t.value, t.count]));
    const known = keys.map((k) => counts.get(k) ?? 0);
    const other = p.count - known.reduce((a, b) => a + b, 0);
    const all = [...known, Math.max(0, other)];
    const total = all.reduce((a, b) => a + b, 0);
    return all.map((c) => (total === 0 ? 0 : c / total));
  };
  return [vector(base), vector(target)];
}

/** Jensen–Shannon distance (base 2) of two probability vectors. */
export function jensenShannonDistance(p: readonly number[], q: readonly number[]): number {
  let divergence = 0;
  for (let i = 0; i < p.length; i++) {
    const m = (p[i] + q[i]) / 2;
    if (p[i] > 0) divergence += 0.5 * p[i] * Math.log2(p[i] / m);
    if (q[i] > 0) divergence += 0.5 * q[i] * Math.log2(q[i] / m);
  }
  return Math.sqrt(Math.max(0, divergence));
}

/** Total variation distance of two probability vectors. */
export function totalVariation(p: readonly number[], q: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < p.length; i++) sum += Math.abs(p[i] - q[i]);
  return sum / 2;
}
