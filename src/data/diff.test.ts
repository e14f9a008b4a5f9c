import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { Random } from '../core/random.ts';
import { columnDrift, histogramCdf, jensenShannonDistance, ksStatistic, psi, totalVariation } from './diff.ts';
import type { ColumnProfile } from './domain.ts';
import { histogramEdges, histogramSorted } from './profile.ts';
import { sortFloat64 } from './sort.ts';

const havePython = spawnSync('/usr/bin/python3', ['-c', 'import numpy, scipy'], { encoding: 'utf8' }).status === 0;

function sample(seed: number, n: number, shift: number, scale: number): Float64Array {
  const rng = new Random(seed);
  return Float64Array.from({ length: n }, () => shift + scale * rng.normal());
}

function histogramOf(values: Float64Array, bins: number) {
  const sorted = sortFloat64(Float64Array.from(values));
  return histogramSorted(sorted, histogramEdges(sorted[0], sorted[sorted.length - 1], false, bins));
}

describe('distribution distances', () => {
  it('histogram CDFs interpolate within bins', () => {
    const h = { edges: [0, 1, 2, 4], counts: [1, 2, 1] };
    assert.equal(histogramCdf(h, -1), 0);
    assert.equal(histogramCdf(h, 0.5), 0.125);
    assert.equal(histogramCdf(h, 1.5), 0.5);
    assert.equal(histogramCdf(h, 3), 0.875);
    assert.equal(histogramCdf(h, 9), 1);
  });

  it('PSI by hand: zero for the same shares, the textbook sum otherwise', () => {
    const base = { edges: [0, 1, 2], counts: [50, 50] };
    assert.equal(psi(base, { edges: [0, 1, 2], counts: [5, 5] }), 0);
    const shifted = { edges: [0, 1, 2], counts: [90, 10] };
    const expected = (0.9 - 0.5) * Math.log(0.9 / 0.5) + (0.1 - 0.5) * Math.log(0.1 / 0.5);
    assert.ok(Math.abs(psi(base, shifted) - expected) < 1e-12);
    // Target values outside the base range count in the outer bins.
    const outside = { edges: [5, 6], counts: [10] };
    assert.ok(Math.abs(psi(base, outside) - ((1 - 0.5) * Math.log(1 / 0.5) + (1e-4 - 0.5) * Math.log(1e-4 / 0.5))) < 1e-12);
  });

  it('Jensen–Shannon distance and total variation: 0 when equal, 1 when disjoint', () => {
    assert.equal(jensenShannonDistance([0.5, 0.5], [0.5, 0.5]), 0);
    assert.ok(Math.abs(jensenShannonDistance([1, 0], [0, 1]) - 1) < 1e-12);
    assert.equal(totalVariation([1, 0], [0, 1]), 1);
    assert.ok(Math.abs(totalVariation([0.5, 0.3, 0.2], [0.4, 0.4, 0.2]) - 0.1) < 1e-12);
  });

  it('categorical drift compares top values plus an "other" bucket', () => {
    const profile = (top: [string, number][], count: number): ColumnProfile => ({
      name: 'c',
      type: 'string',
      count,
      nulls: 0,
      null_fraction: 0,
      distinct: top.length,
      distinct_exact: true,
      top: top.map(([value, c]) => ({ value, count: c, frequency: c / count })),
    });
    const same = columnDrift(profile([['a', 6], ['b', 4]], 10), profile([['a', 60], ['b', 40]], 100))!;
    assert.equal(same.kind, 'categorical');
    assert.equal(same.js_distance, 0);
    const drifted = columnDrift(profile([['a', 6], ['b', 4]], 10), profile([['c', 10]], 10))!;
    assert.ok(Math.abs(drifted.js_distance! - 1) < 1e-12);
    assert.equal(drifted.total_variation, 1);
  });

  it('KS from 100-bin histograms is within 0.01 of scipy.stats.ks_2samp on the raw samples', { skip: havePython ? undefined : 'python3 with scipy is not installed' }, () => {
    const cases = [
      [sample(1, 20_000, 0, 1), sample(2, 20_000, 0, 1)],
      [sample(3, 20_000, 0, 1), sample(4, 15_000, 0.3, 1)],
      [sample(5, 20_000, 0, 1), sample(6, 20_000, 0, 2)],
    ];
    for (const [a, b] of cases) {
      const ours = ksStatistic(histogramOf(a, 100), histogramOf(b, 100));
      const run = spawnSync('/usr/bin/python3', ['-c', 'import json,sys; from scipy.stats import ks_2samp; d=json.load(sys.stdin); print(ks_2samp(d[0], d[1]).statistic)'], {
        input: JSON.stringify([Array.from(a), Array.from(b)]),
        encoding: 'utf8',
      });
      assert.equal(run.status, 0, run.stderr);
      const scipy = Number(run.stdout);
      assert.ok(Math.abs(ours - scipy) < 0.01, `KS ${ours} vs scipy ${scipy}`);
    }
  });

  it('PSI grows with the shift and stays small for samples of one distribution', () => {
    const base = histogramOf(sample(7, 50_000, 0, 1), 20);
    const same = psi(base, histogramOf(sample(8, 50_000, 0, 1), 20));
    const small = psi(base, histogramOf(sample(9, 50_000, 0.25, 1), 20));
    const large = psi(base, histogramOf(sample(10, 50_000, 1, 1), 20));
    assert.ok(same < 0.01, `same ${same}`);
    assert.ok(small > same && small < 0.25, `small ${small}`);
    assert.ok(large > 0.25, `large ${large}`);
  });
});
