import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from './random.ts';

describe('Random', () => {
  it('repeats for a seed and differs across seeds', () => {
    const a = new Random(42);
    const b = new Random(42);
    const c = new Random(43);
    const xs = Array.from({ length: 5 }, () => a.next());
    assert.deepEqual(xs, Array.from({ length: 5 }, () => b.next()));
    assert.notDeepEqual(xs, Array.from({ length: 5 }, () => c.next()));
  });

  it('is uniform and normal enough (moments over 200k draws)', () => {
    const r = new Random(7);
    const n = 200_000;
    let sum = 0;
    let sumSq = 0;
    let nSum = 0;
    let nSumSq = 0;
    const buckets = new Array(10).fill(0);
    for (let i = 0; i < n; i++) {
      const u = r.next();
      assert.ok(u >= 0 && u < 1);
      sum += u;
      sumSq += u * u;
      buckets[Math.floor(u * 10)]++;
      const z = r.normal();
      nSum += z;
      nSumSq += z * z;
    }
    assert.ok(Math.abs(sum / n - 0.5) < 0.005);
    assert.ok(Math.abs(sumSq / n - sum ** 2 / n ** 2 - 1 / 12) < 0.002);
    for (const count of buckets) assert.ok(Math.abs(count - n / 10) < 0.03 * (n / 10));
    assert.ok(Math.abs(nSum / n) < 0.01);
    assert.ok(Math.abs(nSumSq / n - 1) < 0.02);
  });

  it('shuffles into a permutation', () => {
    const p = new Random(1).permutation(1000);
    assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
    assert.notDeepEqual([...p], Array.from({ length: 1000 }, (_, i) => i));
  });
});
