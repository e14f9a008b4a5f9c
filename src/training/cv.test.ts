import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readNumericCsv, referenceMetrics, trainingFixture } from '../../test/support/training-data.ts';
import { crossValidate, holdoutSplit, kFold, stratifiedKFold } from './cv.ts';
import { modelKind } from './estimators.ts';
import { subsetTable } from './cv.ts';

function counts(values: ArrayLike<number>): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i < values.length; i++) m.set(values[i], (m.get(values[i]) ?? 0) + 1);
  return m;
}

describe('splits and folds', () => {
  const classes = Float64Array.from({ length: 103 }, (_, i) => (i % 10 < 7 ? 0 : i % 10 < 9 ? 1 : 2));

  it('holds out ceil(fraction · n) rows, disjoint from the training rows, the same for the same seed', () => {
    const a = holdoutSplit(103, { fraction: 0.2, seed: 3 });
    assert.equal(a.test.length, 21);
    assert.equal(a.train.length, 82);
    assert.equal(new Set([...a.train, ...a.test]).size, 103);
    assert.deepEqual(holdoutSplit(103, { fraction: 0.2, seed: 3 }), a);
    assert.notDeepEqual(holdoutSplit(103, { fraction: 0.2, seed: 4 }).test, a.test);
    assert.ok([...a.test].every((v, i, xs) => i === 0 || xs[i - 1] < v), 'ascending');
  });

  it('stratifies the holdout: each class in proportion, and at least one training row of each', () => {
    const s = holdoutSplit(103, { fraction: 0.2, seed: 1, stratify: classes });
    const total = counts(classes);
    const test = counts(Array.from(s.test, (r) => classes[r]));
    for (const [c, n] of total) assert.ok(Math.abs((test.get(c) ?? 0) - 0.2 * n) <= 1, `class ${c}: ${test.get(c)} of ${n}`);
    const tiny = Float64Array.from([0, 0, 0, 0, 0, 0, 0, 0, 1, 2]);
    const t = holdoutSplit(10, { fraction: 0.5, seed: 0, stratify: tiny });
    const trainClasses = new Set(Array.from(t.train, (r) => tiny[r]));
    assert.deepEqual([...trainClasses].sort(), [0, 1, 2]);
    assert.equal(t.test.length, 5);
  });

  it('deals stratified folds with each class in proportion and sizes within one row', () => {
    const folds = stratifiedKFold(classes, 5, { seed: 0 });
    const sizes = counts(folds);
    assert.ok(Math.max(...sizes.values()) - Math.min(...sizes.values()) <= 1);
    const total = counts(classes);
    for (let f = 0; f < 5; f++) {
      const inFold = counts(Array.from(folds).flatMap((x, i) => (x === f ? [classes[i]] : [])));
      for (const [c, n] of total) assert.ok(Math.abs((inFold.get(c) ?? 0) - n / 5) <= 1, `fold ${f} class ${c}`);
    }
    assert.deepEqual(stratifiedKFold(classes, 5, { seed: 0 }), folds);
  });

  it('makes k-fold blocks of n/k rows, the first n % k one larger', () => {
    const folds = kFold(103, 5, { seed: 0 });
    assert.deepEqual([...counts(folds).entries()].sort((a, b) => a[0] - b[0]).map(([, n]) => n), [21, 21, 21, 20, 20]);
    assert.throws(() => kFold(3, 5, { seed: 0 }), /cv\.folds/);
  });
});

describe('cross-validation on scikit-learn’s folds reproduces reference_metrics.json', () => {
  const ref = referenceMetrics();
  const folds = trainingFixture<Record<string, number[]>>('cv_folds');
  const table = readNumericCsv('breast_cancer');
  const features = table.columns.map((c) => c.name).filter((c) => c !== 'target');

  it('logistic regression (standardized, C = 1): pooled ROC AUC, accuracy and log loss', async () => {
    const spec = modelKind('logistic_regression');
    const result = await crossValidate(table, { target: 'target', task: 'classification', features }, {
      folds: Int32Array.from(folds.breast_cancer),
      estimator: () => spec.create(spec.resolve({ C: 1 })),
      seed: 0,
      metrics: ['roc_auc', 'accuracy', 'log_loss'],
    });
    const r = ref['breast_cancer/logistic_regression_l2_C1_standardized/5fold_stratified_seed0'];
    assert.ok(Math.abs(result.metrics.roc_auc.pooled! - r.roc_auc) < 1e-4, `${result.metrics.roc_auc.pooled}`);
    assert.ok(Math.abs(result.metrics.accuracy.pooled! - r.accuracy) < 1e-9);
    assert.ok(Math.abs(result.metrics.log_loss.pooled! - r.log_loss) < 1e-3);
    // mean and (population) standard deviation of the per-fold values
    const v = result.metrics.roc_auc.values as number[];
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    assert.equal(result.metrics.roc_auc.mean, mean);
    assert.ok(Math.abs(result.metrics.roc_auc.std! - Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length)) < 1e-15);
    assert.deepEqual(result.folds.map((f) => f.testRows), [114, 114, 114, 114, 113]);
  });

  it('histogram gradient boosting (defaults): pooled ROC AUC within 0.005', async () => {
    const spec = modelKind('hist_gradient_boosting');
    const result = await crossValidate(table, { target: 'target', task: 'classification', features }, {
      folds: Int32Array.from(folds.breast_cancer),
      estimator: () => spec.create(spec.resolve({})),
      seed: 0,
      metrics: ['roc_auc'],
    });
    const r = ref['breast_cancer/hist_gradient_boosting_default/5fold_stratified_seed0'];
    assert.ok(Math.abs(result.metrics.roc_auc.pooled! - r.roc_auc) < 0.005, `${result.metrics.roc_auc.pooled} vs ${r.roc_auc}`);
  });

  it('leaves rows marked -1 out and caps training rows when asked', async () => {
    const spec = modelKind('logistic_regression');
    const f = Int32Array.from(folds.breast_cancer);
    for (let i = 0; i < 69; i++) f[i] = -1;
    const result = await crossValidate(subsetTable(table, Array.from({ length: table.rows }, (_, i) => i)), { target: 'target', task: 'classification', features }, {
      folds: f,
      estimator: () => spec.create(spec.resolve({})),
      seed: 0,
      metrics: ['accuracy'],
      maxTrainRows: 100,
    });
    assert.equal(result.outOfFold.yTrue.length, 500);
    assert.ok(result.folds.every((x) => x.trainRows === 100));
  });
});
