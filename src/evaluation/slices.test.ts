import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertClose, loadEvaluationFixture } from '../../test/support/evaluation-fixtures.ts';
import { bootstrapMetric, pairedBootstrap } from './bootstrap.ts';
import { computeMetric, subsetData, type EvaluationData } from './metrics/registry.ts';
import { MISSING_SLICE, sliceMetrics } from './slices.ts';
import { wilsonInterval } from './stats.ts';

const fx = loadEvaluationFixture('slices');
const data: EvaluationData = { task: 'binary', yTrue: fx.yTrue, yScore: fx.yScore };

describe('sliceMetrics', () => {
  it('numeric quantile buckets: numpy edges and histogram counts, scikit-learn metrics per bucket', () => {
    const report = sliceMetrics(data, { name: 'age', kind: 'numeric', values: fx.age }, { metrics: ['accuracy', 'roc_auc'], nBootstrap: 50 });
    assert.deepEqual(report.edges, fx.edges);
    assert.equal(report.slices.length, fx.buckets.length);
    report.slices.forEach((s, b) => {
      const want = fx.buckets[b];
      assert.equal(s.count, want.count, `count of ${s.key}`);
      assertClose(s.metrics.accuracy.value!, want.accuracy, 1e-12, `accuracy ${s.key}`);
      assertClose(s.metrics.roc_auc.value!, want.roc_auc, 1e-12, `roc_auc ${s.key}`);
      assert.equal(s.metrics.accuracy.method, 'wilson');
      assert.equal(s.metrics.roc_auc.method, 'bootstrap');
      const lower = s.metrics.roc_auc.lower!;
      const upper = s.metrics.roc_auc.upper!;
      assert.ok(lower < want.roc_auc && want.roc_auc < upper, `${s.key}: ${lower} < ${want.roc_auc} < ${upper}`);
    });
    const e: number[] = fx.edges;
    assert.equal(report.slices[0].key, `[${e[0]}, ${e[1]})`);
    assert.equal(report.slices.at(-1)!.key, `[${e.at(-2)}, ${e.at(-1)}]`);
    assert.equal(report.overall.count, fx.yTrue.length);
  });

  it('Wilson intervals for proportions use the slice counts', () => {
    const report = sliceMetrics(data, { name: 'age', kind: 'numeric', values: fx.age }, { metrics: ['accuracy', 'recall', 'precision'], confidence: 0.9 });
    const top = fx.edges.at(-1);
    for (const s of report.slices) {
      const rows: number[] = [];
      for (let i = 0; i < fx.age.length; i++) if (s.lower! <= fx.age[i] && (fx.age[i] < s.upper! || (s.upper === top && fx.age[i] === top))) rows.push(i);
      const yt = rows.map((i) => fx.yTrue[i]);
      const yp = rows.map((i) => (fx.yScore[i] > 0.5 ? 1 : 0));
      const correct = yt.filter((y, j) => y === yp[j]).length;
      const ci = wilsonInterval(correct, rows.length, 0.9);
      assert.equal(s.metrics.accuracy.lower, ci.lower);
      assert.equal(s.metrics.accuracy.upper, ci.upper);
      const tp = yt.filter((y, j) => y === 1 && yp[j] === 1).length;
      const positives = yt.filter((y) => y === 1).length;
      assert.deepEqual([s.metrics.recall.lower, s.metrics.recall.upper], Object.values(wilsonInterval(tp, positives, 0.9)));
      assert.equal(s.metrics.precision.method, 'wilson');
    }
  });

  it('categorical slices, a missing slice, given edges with open ends, and metrics undefined on a slice', () => {
    const d: EvaluationData = { task: 'binary', yTrue: [1, 1, 0, 1, 0, 0, 1, 0], yScore: [0.9, 0.8, 0.3, 0.4, 0.6, 0.1, 0.7, 0.2] };
    const cat = sliceMetrics(d, { name: 'city', kind: 'categorical', values: ['b', 'a', 'a', 'b', null, 'a', 'c', 'c'] }, { metrics: ['accuracy', 'roc_auc'], nBootstrap: 20 });
    assert.deepEqual(cat.slices.map((s) => [s.key, s.count]), [['a', 3], ['b', 2], ['c', 2], [MISSING_SLICE, 1]]);
    const b = cat.slices[1];
    assert.equal(b.metrics.roc_auc.value, null);
    assert.match(b.metrics.roc_auc.error!, /only class 1 is present/);
    assertClose(cat.slices[0].metrics.accuracy.value!, computeMetric('accuracy', subsetData(d, [1, 2, 5])), 0, 'a accuracy');
    const num = sliceMetrics(d, { name: 'x', kind: 'numeric', values: [-1, 0, 5, 10, 11, NaN, 3, 10] }, { edges: [0, 5, 10], metrics: ['accuracy'] });
    assert.deepEqual(num.slices.map((s) => [s.key, s.count]), [['< 0', 1], ['[0, 5)', 2], ['[5, 10]', 3], ['> 10', 1], [MISSING_SLICE, 1]]);
  });

  it('a numeric column with few distinct values is sliced per value (auto), unless quantile buckets or edges are asked for', () => {
    // A 1/2-coded column: quantile buckets would collapse into one slice [1, 2] holding every row.
    const sex = fx.yTrue.map((_: number, i: number) => (i % 7 < 4 ? 1 : 2));
    const col = { name: 'sex', kind: 'numeric' as const, values: Float64Array.from(sex) };
    const n1 = sex.filter((v: number) => v === 1).length;
    for (const mode of [undefined, 'auto', 'value'] as const) {
      const report = sliceMetrics(data, col, { metrics: ['accuracy'], ...(mode ? { mode } : {}) });
      assert.equal(report.binning, 'value');
      assert.deepEqual(report.slices.map((s) => [s.key, s.count, s.lower, s.upper]), [['1', n1, 1, 1], ['2', 400 - n1, 2, 2]]);
      const rows = sex.flatMap((v: number, i: number) => (v === 2 ? [i] : []));
      assert.equal(report.slices[1].metrics.accuracy.value, computeMetric('accuracy', subsetData(data, rows)));
    }
    const quantile = sliceMetrics(data, col, { metrics: ['accuracy'], mode: 'quantile' });
    assert.equal(quantile.binning, 'quantile');
    assert.deepEqual(quantile.slices.map((s) => [s.key, s.count]), [['[1, 2]', 400]]);
    const edges = sliceMetrics(data, col, { metrics: ['accuracy'], mode: 'value', edges: [1.5] });
    assert.equal(edges.binning, 'edges');
    assert.deepEqual(edges.slices.map((s) => [s.key, s.count]), [['< 1.5', n1], ['> 1.5', 400 - n1]]);
    // With a missing value, 20 distinct values are still per value, 21 are buckets.
    const twenty = sliceMetrics(data, { name: 'k', kind: 'numeric', values: fx.yTrue.map((_: number, i: number) => (i === 0 ? NaN : i % 20)) }, { metrics: ['accuracy'] });
    assert.deepEqual([twenty.binning, twenty.slices.length, twenty.slices.at(-1)!.key], ['value', 21, MISSING_SLICE]);
    assert.equal(sliceMetrics(data, { name: 'k', kind: 'numeric', values: fx.yTrue.map((_: number, i: number) => i % 21) }, { metrics: ['accuracy'] }).binning, 'quantile');
    // Values that agree in their first six digits are still slices of their own, named in full.
    const codes = sliceMetrics(data, { name: 'code', kind: 'numeric', values: fx.yTrue.map((_: number, i: number) => [1000001, 1000002, 0.1234561, 0.1234564][i % 4]) }, { metrics: ['accuracy'] });
    assert.deepEqual(codes.slices.map((s) => [s.key, s.count]), [['0.1234561', 100], ['0.1234564', 100], ['1000001', 100], ['1000002', 100]]);
    // A column with many distinct values stays in quantile buckets under auto; per value it is refused.
    assert.equal(sliceMetrics(data, { name: 'age', kind: 'numeric', values: fx.age }, { metrics: ['accuracy'] }).binning, 'quantile');
    const many = { name: 'id', kind: 'numeric' as const, values: fx.yTrue.map((_: number, i: number) => i) };
    assert.throws(() => sliceMetrics(data, many, { mode: 'value' }), /mode: column "id" has 400 distinct values; per-value slices allow at most 100/);
  });

  it('weighted data falls back to the bootstrap, and the same seed gives the same intervals', () => {
    const weighted = { ...data, sampleWeight: fx.yTrue.map((_: number, i: number) => 1 + (i % 3)) };
    const col = { name: 'age', kind: 'numeric' as const, values: fx.age };
    const a = sliceMetrics(weighted, col, { metrics: ['accuracy'], nBootstrap: 100, seed: 5 });
    const b = sliceMetrics(weighted, col, { metrics: ['accuracy'], nBootstrap: 100, seed: 5 });
    const c = sliceMetrics(weighted, col, { metrics: ['accuracy'], nBootstrap: 100, seed: 6 });
    assert.equal(a.slices[0].metrics.accuracy.method, 'bootstrap');
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it('no bootstrap resamples: Wilson intervals still, other metrics without an interval', () => {
    const report = sliceMetrics(data, { name: 'age', kind: 'numeric', values: fx.age }, { metrics: ['accuracy', 'roc_auc'], nBootstrap: 0 });
    for (const s of report.slices) {
      assert.equal(s.metrics.accuracy.method, 'wilson');
      assert.deepEqual([s.metrics.roc_auc.lower, s.metrics.roc_auc.upper, s.metrics.roc_auc.method], [null, null, null]);
      assert.ok(s.metrics.roc_auc.value! > 0);
    }
  });

  it('rejects a column of the wrong length, bad edges and unknown metrics', () => {
    assert.throws(() => sliceMetrics(data, { name: 'age', kind: 'numeric', values: [1, 2] }), /column "age": has 2 values but there are 400 predictions/);
    assert.throws(() => sliceMetrics(data, { name: 'age', kind: 'numeric', values: fx.age }, { edges: [1, 1] }), /edges: must increase strictly/);
    assert.throws(() => sliceMetrics(data, { name: 'age', kind: 'numeric', values: fx.age }, { metrics: ['acc'] }), /metric: unknown metric "acc"/);
    assert.throws(() => sliceMetrics(data, { name: 'age', kind: 'numeric', values: fx.age }, { metrics: ['rmse'] }), /"rmse" does not apply to a binary task/);
  });
});

describe('bootstrap intervals', () => {
  it('the accuracy interval agrees with the Wilson interval on 400 rows', () => {
    const b = bootstrapMetric('accuracy', data, { nBootstrap: 2000, seed: 1 });
    const k = fx.yTrue.filter((y: number, i: number) => y === (fx.yScore[i] > 0.5 ? 1 : 0)).length;
    const w = wilsonInterval(k, fx.yTrue.length, 0.95);
    assert.equal(b.nValid, 2000);
    assert.ok(Math.abs(b.lower! - w.lower) < 0.01 && Math.abs(b.upper! - w.upper) < 0.01, `${b.lower}..${b.upper} vs ${w.lower}..${w.upper}`);
  });

  it('paired bootstrap: a model against itself differs by exactly 0; a better model has a positive interval', () => {
    const same = pairedBootstrap('roc_auc', data, data, { nBootstrap: 200 });
    assert.deepEqual([same.estimate, same.lower, same.upper], [0, 0, 0]);
    const noisy: EvaluationData = { task: 'binary', yTrue: fx.yTrue, yScore: fx.yScore.map((p: number, i: number) => (i % 2 === 0 ? 1 - p : p)) };
    const diff = pairedBootstrap('roc_auc', data, noisy, { nBootstrap: 300, seed: 2 });
    assert.ok(diff.lower! > 0 && diff.estimate > diff.lower! && diff.upper! > diff.estimate);
    assert.throws(() => pairedBootstrap('roc_auc', data, { ...noisy, yTrue: [...fx.yTrue].reverse() }), /champion.yTrue: differs from the candidate's at row/);
  });

  it('resamples on which the metric is undefined are skipped and counted', () => {
    const tiny: EvaluationData = { task: 'binary', yTrue: [0, 1, 1, 1], yScore: [0.1, 0.9, 0.8, 0.2] };
    const b = bootstrapMetric('roc_auc', tiny, { nBootstrap: 200, seed: 3 });
    assert.ok(b.nValid < 200 && b.nValid > 100, `nValid ${b.nValid}`);
  });
});
