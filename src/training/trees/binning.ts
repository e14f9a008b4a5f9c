/**
 * Feature binning for histogram gradient boosting, in the manner of scikit-learn's `_BinMapper`: each
 * feature's present values are cut into at most `maxBins` bins at quantiles (or between distinct values
 * when there are few), and bin `maxBins` holds the missing values.
 *
 * Unlike scikit-learn, binning works on float32 values and the thresholds are float32, so that a tree
 * split "bin <= b" is exactly the comparison "float32(x) <= threshold" that ONNX runtimes make. Values
 * are sorted by a radix sort of order-preserving 32-bit keys, and binned through a table indexed by the
 * key's top 16 bits.
 */
import type { Matrix } from '../types.ts';

/** Rows used to find quantiles, as scikit-learn's `subsample=2e5`. */
export const BINNING_SUBSAMPLE = 200_000;

/** The largest float32; thresholds are clipped to it so that `+Infinity` keeps a bin of its own. */
const FLOAT32_MAX = 3.4028234663852886e38;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The largest float32 strictly below the float32 `v`. */
export function nextDown32(v: number): number {
  if (v !== v || v === -Infinity) return v;
  if (v === 0) return -1.401298464324817e-45;
  f32[0] = v;
  if (v > 0) u32[0] -= 1;
  else u32[0] += 1;
  return f32[0];
}

/**
 * An unsigned 32-bit key of float32 bits that sorts like the float (both zeros map to the key of +0).
 * Not for NaN.
 */
export function orderKey(bits: number): number {
  if (bits === 0x80000000) return 0x80000000;
  return (bits & 0x80000000) !== 0 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
}

/** The float32 bits of an {@link orderKey}. */
export function keyBits(key: number): number {
  return (key & 0x80000000) !== 0 ? (key & 0x7fffffff) >>> 0 : ~key >>> 0;
}

/** Sorts `keys[0, m)` ascending (LSD radix, 8 bits a pass); returns whichever of `keys`/`tmp` holds the result. */
export function radixSort(keys: Uint32Array, tmp: Uint32Array, m: number, counts: Uint32Array): Uint32Array {
  let src = keys;
  let dst = tmp;
  for (let shift = 0; shift < 32; shift += 8) {
    counts.fill(0);
    for (let i = 0; i < m; i++) counts[(src[i] >>> shift) & 255]++;
    // A pass where every key has the same byte would only copy.
    if (counts[(src[0] >>> shift) & 255] === m) continue;
    let sum = 0;
    for (let b = 0; b < 256; b++) {
      const c = counts[b];
      counts[b] = sum;
      sum += c;
    }
    for (let i = 0; i < m; i++) {
      const k = src[i];
      dst[counts[(k >>> shift) & 255]++] = k;
    }
    const t = src;
    src = dst;
    dst = t;
  }
  return src;
}

/**
 * The float32 thresholds of one feature from its present values `sorted` (ascending, no NaN): midpoints
 * between distinct values when there are at most `maxBins` of them, else the `maxBins - 1` inner
 * quantiles with NumPy's "midpoint" method, as scikit-learn 1.2 computes them.
 */
export function thresholdsFromSorted(sorted: Float32Array | Float64Array, maxBins: number): Float32Array {
  return thresholdPlan(sorted, maxBins).thresholds;
}

/**
 * {@link thresholdsFromSorted}, plus for each threshold that falls strictly between two different
 * values the pair itself (`below`, `above`; NaN otherwise) and whether it is the plain midpoint or
 * NumPy's interpolated one, so that the midpoint can be recomputed from the float64 values.
 */
function thresholdPlan(sorted: Float32Array | Float64Array, maxBins: number): ThresholdPlan {
  const n = sorted.length;
  let distinct = 0;
  for (let i = 0; i < n; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) distinct++;
  if (distinct <= maxBins) {
    const count = Math.max(0, distinct - 1);
    const plan = emptyPlan(count, true);
    let prev = sorted[0];
    let k = 0;
    for (let i = 1; i < n; i++) {
      const v = sorted[i];
      if (v === prev) continue;
      plan.thresholds[k] = midpoint32(prev, v, (prev + v) * 0.5);
      plan.below[k] = prev;
      plan.above[k] = v;
      k++;
      prev = v;
    }
    return plan;
  }
  const plan = emptyPlan(maxBins - 1, false);
  const step = 100 / maxBins;
  for (let i = 1; i < maxBins; i++) {
    const q = (i * step) / 100;
    const pos = (n - 1) * q;
    const virtual = 0.5 * (Math.floor(pos) + Math.ceil(pos));
    let t: number;
    if (virtual % 1 === 0) t = Math.fround(Math.min(sorted[virtual], FLOAT32_MAX));
    else {
      const lo = Math.floor(virtual);
      const a = sorted[lo];
      const b = sorted[Math.min(lo + 1, n - 1)];
      t = midpoint32(a, b, b - (b - a) * 0.5);
      if (a !== b) {
        plan.below[i - 1] = a;
        plan.above[i - 1] = b;
      }
    }
    plan.thresholds[i - 1] = t === 0 ? 0 : t;
  }
  return plan;
}

interface ThresholdPlan {
  readonly thresholds: Float32Array;
  readonly below: Float64Array;
  readonly above: Float64Array;
  /** True: thresholds are `(below + above) / 2`; false: NumPy's `above - (above - below) / 2`. */
  readonly plainMidpoints: boolean;
}

function emptyPlan(count: number, plainMidpoints: boolean): ThresholdPlan {
  return { thresholds: new Float32Array(count), below: new Float64Array(count).fill(Number.NaN), above: new Float64Array(count).fill(Number.NaN), plainMidpoints };
}

/** float32(mid) for a midpoint of a < b, kept strictly below float32(b) when a and b differ in float32. */
function midpoint32(a: number, b: number, mid: number): number {
  let t = Math.fround(Math.min(mid, FLOAT32_MAX));
  const hi = Math.fround(b);
  // Two values that stay distinct in float32 must stay in distinct bins after rounding the midpoint.
  if (t >= hi && Math.fround(a) < hi) t = nextDown32(hi);
  return t === 0 ? 0 : t;
}

/** Reusable buffers for {@link binFeature}. */
export interface BinScratch {
  keys: Uint32Array;
  tmp: Uint32Array;
  column32: Float32Array;
  readonly counts: Uint32Array;
  /** `start[h]`: thresholds whose key is below `h << 16`, for h in 0..65536. */
  readonly start: Uint16Array;
  thresholdKeys: Uint32Array;
  /** Smallest and largest float64 value seen in each bin. */
  readonly low: Float64Array;
  readonly high: Float64Array;
}

/** Makes buffers for {@link binFeature} on up to `m` sampled values. */
export function makeBinScratch(m: number): BinScratch {
  return {
    keys: new Uint32Array(m),
    tmp: new Uint32Array(m),
    column32: new Float32Array(m),
    counts: new Uint32Array(256),
    start: new Uint16Array(65537),
    thresholdKeys: new Uint32Array(256),
    low: new Float64Array(256),
    high: new Float64Array(256),
  };
}

/**
 * Learns the thresholds of one feature from the values `column[sample[j]]` (all of `column` when
 * `sample` is empty) and bins every value of `column` into `binned[offset + i]`. Values are sorted and
 * binned as float32; a threshold between two values is then recomputed from their float64 values, so
 * that it is scikit-learn's threshold rounded to float32. Returns the thresholds and whether any value
 * was missing.
 */
export function binFeature(
  column: Float64Array,
  sample: Uint32Array,
  maxBins: number,
  binned: Uint8Array,
  offset: number,
  s: BinScratch,
): { thresholds: Float32Array; hasMissing: boolean } {
  const n = column.length;
  if (s.column32.length < n) s.column32 = new Float32Array(n);
  const column32 = s.column32.subarray(0, n);
  column32.set(column);
  const bits = new Uint32Array(column32.buffer, column32.byteOffset, n);
  const m = sample.length > 0 ? sample.length : n;
  if (s.keys.length < m) {
    s.keys = new Uint32Array(m);
    s.tmp = new Uint32Array(m);
  }
  const keys = s.keys;
  let present = 0;
  for (let j = 0; j < m; j++) {
    const b = bits[sample.length > 0 ? sample[j] : j];
    if ((b & 0x7fffffff) > 0x7f800000) continue;
    keys[present++] = orderKey(b);
  }
  let plan: ThresholdPlan = emptyPlan(0, true);
  if (present > 0) {
    const sorted = radixSort(keys, s.tmp, present, s.counts);
    const values = new Float32Array(sorted.buffer, sorted.byteOffset, present);
    const asBits = new Uint32Array(sorted.buffer, sorted.byteOffset, present);
    for (let j = 0; j < present; j++) asBits[j] = keyBits(sorted[j]);
    plan = thresholdPlan(values, maxBins);
  }
  const thresholds = plan.thresholds;
  const nT = thresholds.length;
  if (s.thresholdKeys.length < nT) s.thresholdKeys = new Uint32Array(nT);
  const tk = s.thresholdKeys;
  const tBits = new Uint32Array(thresholds.buffer, thresholds.byteOffset, nT);
  for (let t = 0; t < nT; t++) tk[t] = orderKey(tBits[t]);
  const start = s.start;
  let p = 0;
  for (let h = 0; h <= 65536; h++) {
    const lowest = h * 65536;
    while (p < nT && tk[p] < lowest) p++;
    start[h] = p;
  }
  let hasMissing = false;
  for (let i = 0; i < n; i++) {
    const b = bits[i];
    if ((b & 0x7fffffff) > 0x7f800000) {
      binned[offset + i] = maxBins;
      hasMissing = true;
      continue;
    }
    const key = orderKey(b);
    const h = key >>> 16;
    let lo = start[h];
    let hi = start[h + 1];
    // The bin is the number of thresholds below the value: find the first threshold key >= key.
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (tk[mid] < key) lo = mid + 1;
      else hi = mid;
    }
    binned[offset + i] = lo;
  }
  refineThresholds(plan, column, sample, binned, offset, maxBins, s);
  return { thresholds, hasMissing };
}

/**
 * Recomputes each threshold that lies between two float32 values from the largest float64 value of the
 * lower one's bin and the smallest of the upper one's: the bins do not change, the threshold becomes
 * float32(scikit-learn's float64 threshold) — so that new values equal to a training midpoint (common
 * in decimal data) go the same way as in scikit-learn.
 */
function refineThresholds(plan: ThresholdPlan, column: Float64Array, sample: Uint32Array, binned: Uint8Array, offset: number, maxBins: number, s: BinScratch): void {
  const { thresholds, below, above } = plan;
  if (!below.some((v) => v === v)) return;
  const low = s.low.fill(Number.POSITIVE_INFINITY);
  const high = s.high.fill(Number.NEGATIVE_INFINITY);
  const m = sample.length > 0 ? sample.length : column.length;
  for (let j = 0; j < m; j++) {
    const i = sample.length > 0 ? sample[j] : j;
    const b = binned[offset + i];
    if (b === maxBins) continue;
    const v = column[i];
    if (v < low[b]) low[b] = v;
    if (v > high[b]) high[b] = v;
  }
  for (let t = 0; t < thresholds.length; t++) {
    if (below[t] !== below[t]) continue;
    const a = high[binOf(below[t], thresholds, maxBins)];
    const b = low[binOf(above[t], thresholds, maxBins)];
    const refined = midpoint32(a, b, plan.plainMidpoints ? (a + b) * 0.5 : b - (b - a) * 0.5);
    // A rounding that would cross either value would move rows between bins: keep the float32 threshold.
    if (refined >= Math.fround(below[t]) && refined < Math.fround(above[t])) thresholds[t] = refined;
  }
}

/** The bin of value `v` for `thresholds`: the number of thresholds below float32(v); `missingBin` for NaN. */
export function binOf(v: number, thresholds: Float32Array, missingBin: number): number {
  if (v !== v) return missingBin;
  const x = Math.fround(v);
  let lo = 0;
  let hi = thresholds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (x <= thresholds[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Bins `rows` of `x` (all rows when null) into a column-major matrix: entry `f * m + j` is the bin of
 * row `rows[j]`, feature `f`.
 */
export function binRows(x: Matrix, rows: Uint32Array | null, thresholds: readonly Float32Array[], maxBins: number): Uint8Array {
  const m = rows ? rows.length : x.rows;
  const { cols, data } = x;
  const binned = new Uint8Array(cols * m);
  for (let j = 0; j < m; j++) {
    const r = rows ? rows[j] : j;
    for (let f = 0; f < cols; f++) binned[f * m + j] = binOf(data[r * cols + f], thresholds[f], maxBins);
  }
  return binned;
}

/**
 * Learns thresholds from every row of `x` and bins it (column-major), as a fit does on one thread.
 * For tests and tools; a fit shares the same work between threads.
 */
export function fitBins(x: Matrix, maxBins: number): { thresholds: Float32Array[]; binned: Uint8Array } {
  const { rows, cols, data } = x;
  const column = new Float64Array(rows);
  const binned = new Uint8Array(rows * cols);
  const scratch = makeBinScratch(rows);
  const thresholds: Float32Array[] = [];
  for (let f = 0; f < cols; f++) {
    for (let i = 0; i < rows; i++) column[i] = data[i * cols + f];
    thresholds.push(binFeature(column, new Uint32Array(0), maxBins, binned, f * rows, scratch).thresholds);
  }
  return { thresholds, binned };
}
