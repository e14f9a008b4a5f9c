import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../../core/random.ts';
import { binFeature, binOf, keyBits, makeBinScratch, nextDown32, orderKey, radixSort, thresholdsFromSorted } from './binning.ts';

const bitsOf = (v: number) => new Uint32Array(Float32Array.of(v).buffer)[0];
const valueOf = (bits: number) => new Float32Array(Uint32Array.of(bits).buffer)[0];

describe('binning primitives', () => {
  it('radix-sorted order keys sort like the float32 values (built-in sort as the oracle)', () => {
    const rng = new Random(9);
    const values = Float32Array.from({ length: 5000 }, (_, i) =>
      i % 50 === 0 ? [0, -0, Infinity, -Infinity, 1e-45, -1e-45][i % 6] : rng.normal() * 10 ** rng.int(6),
    );
    const keys = Uint32Array.from(values, (v) => orderKey(bitsOf(v)));
    const sorted = radixSort(keys, new Uint32Array(keys.length), keys.length, new Uint32Array(256));
    const ours = Array.from(sorted, (k) => valueOf(keyBits(k)));
    const expected = Array.from(values).sort((a, b) => a - b);
    assert.deepEqual(ours.map((v) => (v === 0 ? 0 : v)), expected.map((v) => (v === 0 ? 0 : v)));
  });

  it('nextDown32 is the float32 just below', () => {
    for (const v of [1, -1, 0.1, 3.4028234663852886e38, -2.5, 1e-40]) {
      const x = Math.fround(v);
      const d = nextDown32(x);
      assert.ok(d < x);
      assert.equal(Math.fround(d), d);
      assert.equal(Math.fround((d + x) / 2) === d || Math.fround((d + x) / 2) === x, true, 'no float32 in between');
    }
    assert.ok(nextDown32(0) < 0);
  });

  it('keeps distinct float32 values in distinct bins even when their midpoint rounds up', () => {
    // a has an odd last mantissa bit, so the exact midpoint rounds (to even) up to b.
    const a = valueOf(bitsOf(1) + 1);
    const b = valueOf(bitsOf(1) + 2);
    assert.equal(Math.fround((a + b) / 2), b);
    const t = thresholdsFromSorted(Float32Array.of(a, b), 255);
    assert.equal(t.length, 1);
    assert.equal(binOf(a, t, 255), 0);
    assert.equal(binOf(b, t, 255), 1);
  });

  it('learns thresholds from the sampled rows only (the subsample of large data) and bins every row', () => {
    const n = 3000;
    const column = Float64Array.from({ length: n }, (_, i) => (i < 1000 ? i : 10_000 + i));
    const sample = Uint32Array.from({ length: 500 }, (_, j) => 2 * j);
    const binned = new Uint8Array(n);
    const { thresholds } = binFeature(column, sample, 255, binned, 0, makeBinScratch(500));
    const sampled = Float32Array.from(sample, (i) => column[i]).sort();
    assert.deepEqual(Array.from(thresholds), Array.from(thresholdsFromSorted(sampled, 255)));
    assert.ok(thresholds[thresholds.length - 1] < 1000, 'rows outside the sample do not move the thresholds');
    assert.equal(binned[n - 1], thresholds.length, 'rows above every threshold land in the last bin');
  });

  it('the table lookup of binFeature agrees with a binary search of the thresholds', () => {
    const rng = new Random(4);
    const n = 20_000;
    const column = Float64Array.from({ length: n }, () => (rng.next() < 0.05 ? Number.NaN : rng.normal() * 1e-3 + (rng.next() < 0.5 ? 1 : 1000)));
    const binned = new Uint8Array(n);
    const { thresholds, hasMissing } = binFeature(column, new Uint32Array(0), 255, binned, 0, makeBinScratch(n));
    assert.equal(thresholds.length, 254);
    assert.ok(hasMissing);
    for (let i = 0; i < n; i++) assert.equal(binned[i], binOf(column[i], thresholds, 255));
  });
});
