/**
 * Sorting doubles fast: an LSD radix sort over the IEEE-754 bits, four passes of 16 bits. About three
 * times faster than `Float64Array.prototype.sort` on a million values, which is what keeps a profile of
 * a million rows within its time budget. NaN must not be present.
 */

const SMALL = 512;

/**
 * Sorts the first `length` values of `values` ascending (−0 before +0). Returns a sorted array of
 * that length, which is `values` itself or a view of `scratch` (an array of at least `length` values
 * the caller may reuse between calls).
 */
export function sortFloat64(values: Float64Array, length = values.length, scratch?: Float64Array): Float64Array {
  const n = length;
  if (n <= SMALL) return values.subarray(0, n).sort();
  const other = scratch && scratch.length >= n ? scratch : new Float64Array(n);
  const a = new Uint32Array(values.buffer, values.byteOffset, n * 2);
  const b = new Uint32Array(other.buffer, other.byteOffset, n * 2);
  // Map doubles to unsigned keys that order like the numbers: flip every bit of negatives, the sign bit of positives.
  for (let i = 0; i < n; i++) {
    const hi = a[2 * i + 1];
    if (hi & 0x80000000) {
      a[2 * i + 1] = ~hi;
      a[2 * i] = ~a[2 * i];
    } else a[2 * i + 1] = hi | 0x80000000;
  }
  const counts = new Uint32Array(65536);
  let src = a;
  let dst = b;
  for (let pass = 0; pass < 4; pass++) {
    const word = pass >> 1;
    const shift = (pass & 1) * 16;
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(src[2 * i + word] >>> shift) & 0xffff]++;
    // A digit shared by every key leaves the order unchanged: skip the scatter.
    if (counts[(src[word] >>> shift) & 0xffff] === n) continue;
    let sum = 0;
    for (let k = 0; k < 65536; k++) {
      const c = counts[k];
      counts[k] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const p = counts[(src[2 * i + word] >>> shift) & 0xffff]++;
      dst[2 * p] = src[2 * i];
      dst[2 * p + 1] = src[2 * i + 1];
    }
    const t = src;
    src = dst;
    dst = t;
  }
  for (let i = 0; i < n; i++) {
    const hi = src[2 * i + 1];
    if (hi & 0x80000000) src[2 * i + 1] = hi & 0x7fffffff;
    else {
      src[2 * i + 1] = ~hi;
      src[2 * i] = ~src[2 * i];
    }
  }
  return src === a ? values.subarray(0, n) : other.subarray(0, n);
}
