import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../core/random.ts';
import { sortFloat64 } from './sort.ts';

describe('sortFloat64', () => {
  it('sorts like Float64Array.prototype.sort, negatives, zeros, infinities and ties included', () => {
    const rng = new Random(7);
    for (const n of [0, 1, 5, 513, 10_000]) {
      const values = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const r = rng.next();
        values[i] = r < 0.05 ? -0 : r < 0.1 ? 0 : r < 0.12 ? Infinity : r < 0.14 ? -Infinity : r < 0.3 ? Math.round(r * 10) : (rng.next() - 0.5) * 1e6;
      }
      const expected = Float64Array.from(values).sort();
      const got = sortFloat64(Float64Array.from(values));
      assert.equal(got.length, n);
      for (let i = 0; i < n; i++) assert.ok(Object.is(got[i], expected[i]), `n=${n} at ${i}: ${got[i]} vs ${expected[i]}`);
    }
  });

  it('sorts a prefix and can reuse a scratch array', () => {
    const scratch = new Float64Array(2000);
    const values = Float64Array.from({ length: 2000 }, (_, i) => (i * 7919) % 2000);
    const got = sortFloat64(values, 1000, scratch);
    assert.equal(got.length, 1000);
    for (let i = 1; i < got.length; i++) assert.ok(got[i - 1] <= got[i]);
  });
});
