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
  const n = sorted.length;
  let distinct = 0;
  for (let i = 0; i < n; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) distinct++;
  if (distinct <= maxBins) {
    const out = new Float32Array(Math.max(0, distinct - 1));
    let prev = sorted[0];
    let k = 0;
    for (let i = 1; i < n; i++) {
      const v = sorted[i];
      if (v === prev) continue;
      let t = Math.fround(Math.min((prev + v) * 0.5, FLOAT32_MAX));
      const hi = Math.fround(v);
      // Two values that stay distinct in float32 must stay in distinct bins after rounding the midpoint.
      if (t >= hi && Math.fround(prev) < hi) t = nextDown32(hi);
      out[k++] = t === 0 ? 0 : t;
      prev = v;
    }
    return out;
  }
  const out = new Float32Array(maxBins - 1);
  const step = 100 / maxBins;
  for (let i = 1; i < maxBins; i++) {
    const q = (i * step) / 100;
    const pos = (n - 1) * q;
    const virtual = 0.5 * (Math.floor(pos) + Math.ceil(pos));
    let t: number;
    if (virtual % 1 === 0) t = sorted[virtual];
    else {
      const lo = Math.floor(virtual);
      const a = sorted[lo];
      const b = sorted[Math.min(lo + 1, n - 1)];
      t = b - (b - a) * 0.5;
    }
    t = Math.fround(Math.min(t, FLOAT32_MAX));
    out[i - 1] = t === 0 ? 0 : t;
  }
  return out;
}

/** Reusable buffers for {@link binFeature}. */
export interface BinScratch {
  keys: Uint32Array;
  tmp: Uint32Array;
  readonly counts: Uint32Array;
  /** `start[h]`: thresholds whose key is below `h << 16`, for h in 0..65536. */
  readonly start: Uint16Array;
  thresholdKeys: Uint32Array;
}

/** Makes buffers for {@link binFeature} on up to `m` sampled values. */
export function makeBinScratch(m: number): BinScratch {
  return {
    keys: new Uint32Array(m),
    tmp: new Uint32Array(m),
    counts: new Uint32Array(256),
    start: new Uint16Array(65537),
    thresholdKeys: new Uint32Array(256),
  };
}

/**
 * Learns the thresholds of one feature from the float32 values `column[sample[j]]` (all of `column` when
 * `sample` is empty) and bins every value of `column` into `binned[offset + i]`. Returns the thresholds
 * and whether any value was missing.
 */
export function binFeature(
  column: Float32Array,
  sample: Uint32Array,
  maxBins: number,
  binned: Uint8Array,
  offset: number,
  s: BinScratch,
): { thresholds: Float32Array; hasMissing: boolean } {
  const bits = new Uint32Array(column.buffer, column.byteOffset, column.length);
  const m = sample.length > 0 ? sample.length : column.length;
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
  let thresholds: Float32Array = new Float32Array(0);
  if (present > 0) {
    const sorted = radixSort(keys, s.tmp, present, s.counts);
    const values = new Float32Array(sorted.buffer, sorted.byteOffset, present);
    const asBits = new Uint32Array(sorted.buffer, sorted.byteOffset, present);
    for (let j = 0; j < present; j++) asBits[j] = keyBits(sorted[j]);
    thresholds = thresholdsFromSorted(values, maxBins);
  }
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
  const n = column.length;
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
  return { thresholds, hasMissing };
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
  const column = new Float32Array(rows);
  const binned = new Uint8Array(rows * cols);
  const scratch = makeBinScratch(rows);
  const thresholds: Float32Array[] = [];
  for (let f = 0; f < cols; f++) {
    for (let i = 0; i < rows; i++) column[i] = data[i * cols + f];
    thresholds.push(binFeature(column, new Uint32Array(0), maxBins, binned, f * rows, scratch).thresholds);
  }
  return { thresholds, binned };
}
