import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MloopError } from '../../core/errors.ts';
import { Random } from '../../core/random.ts';
import { maxAbsDiff, readNumericCsv, trainingFixture } from '../../../test/support/training-data.ts';
import { fitPreprocessor, splitTable } from '../preprocess.ts';
import type { Matrix, Target } from '../types.ts';
import { fitLogisticRegression, logisticRegression, restoreLogisticRegression } from './logistic.ts';
import { fitRidge, linearRegression, restoreLinearRegression, ridgeRegression } from './ridge.ts';

function standardized(name: 'breast_cancer' | 'wine' | 'diabetes'): { x: Matrix; target: Target } {
  const { features, target } = splitTable(readNumericCsv(name), { target: 'target', task: name === 'diabetes' ? 'regression' : 'classification' });
  return { x: fitPreprocessor(features).transform(features), target };
}

const TIGHT = { tol: 1e-9, maxIter: 10_000 };

describe('logistic regression against scikit-learn (lbfgs, L2)', () => {
  it('binary: breast_cancer coefficients, intercept and probabilities within 1e-4 for C = 1 and C = 0.05', async () => {
    const fx = trainingFixture('logistic').breast_cancer;
    const { x, target } = standardized('breast_cancer');
    for (const fit of fx.fits) {
      const model = await fitLogisticRegression(x, target, { task: 'binary', nClasses: 2, seed: 0 }, { C: fit.C, ...TIGHT });
      assert.equal(model.info?.converged, true);
      assert.ok(maxAbsDiff(model.coef, fit.coef[0]) < 1e-4, `C=${fit.C} coef ${maxAbsDiff(model.coef, fit.coef[0])}`);
      assert.ok(Math.abs(model.intercept[0] - fit.intercept[0]) < 1e-4);
      const p = model.predict(x);
      assert.ok(maxAbsDiff(p, fit.proba.map((r: number[]) => r[1])) < 1e-5);
    }
  });

  it('multinomial: wine coefficients (3 × 13), intercepts and probabilities within 1e-4', async () => {
    const fx = trainingFixture('logistic').wine;
    const { x, target } = standardized('wine');
    for (const fit of fx.fits) {
      const model = await fitLogisticRegression(x, target, { task: 'multiclass', nClasses: 3, seed: 0 }, { C: fit.C, ...TIGHT });
      assert.ok(maxAbsDiff(model.coef, fit.coef.flat()) < 1e-4, `C=${fit.C} coef ${maxAbsDiff(model.coef, fit.coef.flat())}`);
      assert.ok(maxAbsDiff(model.intercept, fit.intercept) < 1e-4, `C=${fit.C} intercept`);
      assert.ok(maxAbsDiff(model.predict(x), fit.proba.flat()) < 1e-5);
    }
  });

  it('honours sample weights as scikit-learn does (binary and multinomial)', async () => {
    for (const name of ['breast_cancer', 'wine'] as const) {
      const fx = trainingFixture('logistic')[name];
      const { x, target } = standardized(name);
      const sampleWeight = Float64Array.from({ length: x.rows }, (_, i) => 1 + (i % 3));
      const k = target.classes!.length;
      const model = await fitLogisticRegression(x, target, { task: target.task, nClasses: k, seed: 0, sampleWeight }, { C: 1, ...TIGHT });
      assert.ok(maxAbsDiff(model.coef, fx.weighted.coef.flat()) < 1e-4, name);
      assert.ok(maxAbsDiff(model.intercept, fx.weighted.intercept) < 1e-4, name);
    }
  });

  it('with the default tolerance stays within 1e-4 of what scikit-learn returns with its defaults', async () => {
    const fx = trainingFixture('logistic').breast_cancer;
    const { x, target } = standardized('breast_cancer');
    const model = await fitLogisticRegression(x, target, { task: 'binary', nClasses: 2, seed: 0 });
    assert.ok(maxAbsDiff(model.coef, fx.default_tol.coef[0]) < 1e-4);
  });

  it('round-trips through toJSON/restore and rejects malformed state', async () => {
    const { x, target } = standardized('wine');
    const model = await fitLogisticRegression(x, target, { task: 'multiclass', nClasses: 3, seed: 0 });
    const copy = restoreLogisticRegression(JSON.parse(JSON.stringify(model.toJSON())));
    assert.deepEqual(Array.from(copy.predict(x)), Array.from(model.predict(x)));
    assert.throws(() => restoreLogisticRegression({ ...model.toJSON(), coef: [1, 2] }), MloopError);
  });

  it('rejects bad hyperparameters by name before any work', async () => {
    assert.throws(() => logisticRegression({ C: 0 }), /C: must be a positive finite number, got 0/);
    assert.throws(() => logisticRegression({ C: Number.NaN }), /C: must be/);
    assert.throws(() => logisticRegression({ maxIter: 0.5 }), /maxIter: must be an integer/);
    assert.throws(() => logisticRegression({ tol: -1 }), /tol: must be/);
    assert.throws(() => logisticRegression({ dp: { noiseMultiplier: 1, maxGradNorm: 0, batchSize: 10, epochs: 1 } }), /dp.maxGradNorm: must be a number > 0/);
    const x: Matrix = { rows: 2, cols: 1, data: Float64Array.of(Number.NaN, 1) };
    await assert.rejects(fitLogisticRegression(x, { task: 'binary', values: Float64Array.of(0, 1), classes: ['a', 'b'] }, { task: 'binary', nClasses: 2, seed: 0 }), /features: value NaN at row 0/);
  });

  it('gives bit-identical results on one thread and on worker threads (fixed chunking)', async () => {
    const rng = new Random(11);
    const n = 40_000;
    const d = 30;
    const x: Matrix = { rows: n, cols: d, data: Float64Array.from({ length: n * d }, () => rng.normal()) };
    const y = Float64Array.from({ length: n }, (_, i) => (x.data[i * d] - x.data[i * d + 1] + rng.normal() > 0 ? 1 : 0));
    const target: Target = { task: 'binary', values: y, classes: ['0', '1'] };
    const serial = await fitLogisticRegression(x, target, { task: 'binary', nClasses: 2, seed: 0 }, { threads: 1 });
    const parallel = await fitLogisticRegression(x, target, { task: 'binary', nClasses: 2, seed: 0 }, { threads: 2 });
    assert.deepEqual(Array.from(parallel.coef), Array.from(serial.coef));
    assert.deepEqual(Array.from(parallel.intercept), Array.from(serial.intercept));
    assert.ok(serial.info!.converged);
    assert.equal(serial.info!.threads, 1);
    assert.equal(parallel.info!.threads, 2, 'the gradient ran on a worker thread');
  });
});

describe('ridge and linear regression against scikit-learn', () => {
  it('Ridge(alpha) on standardized diabetes: coefficients, intercept and predictions within 1e-4', () => {
    const fx = trainingFixture('ridge');
    const { x, target } = standardized('diabetes');
    for (const fit of fx.fits) {
      const model = fitRidge(x, target, {}, { alpha: fit.alpha });
      assert.ok(maxAbsDiff(model.coef, fit.coef) < 1e-4, `alpha=${fit.alpha}`);
      assert.ok(Math.abs(model.intercept - fit.intercept) < 1e-4);
      assert.ok(maxAbsDiff(model.predict(x), fit.pred) < 1e-4);
    }
  });

  it('weighted ridge, ordinary least squares, and the minimum-norm solution for collinear columns', () => {
    const fx = trainingFixture('ridge');
    const { x, target } = standardized('diabetes');
    const sampleWeight = Float64Array.from({ length: x.rows }, (_, i) => 1 + (i % 3));
    const weighted = fitRidge(x, target, { sampleWeight }, { alpha: 1 });
    assert.ok(maxAbsDiff(weighted.coef, fx.weighted.coef) < 1e-4);
    assert.ok(Math.abs(weighted.intercept - fx.weighted.intercept) < 1e-4);
    const ols = fitRidge(x, target, {}, { alpha: 0 });
    assert.ok(maxAbsDiff(ols.coef, fx.ols.coef) < 1e-4);
    const d = x.cols;
    const dup: Matrix = { rows: x.rows, cols: d + 1, data: new Float64Array(x.rows * (d + 1)) };
    for (let i = 0; i < x.rows; i++) {
      dup.data.set(x.data.subarray(i * d, i * d + d), i * (d + 1));
      dup.data[i * (d + 1) + d] = x.data[i * d];
    }
    const collinear = fitRidge(dup, target, {}, { alpha: 0 });
    assert.ok(maxAbsDiff(collinear.coef, fx.ols_collinear.coef) < 1e-4);
    assert.ok(Math.abs(collinear.intercept - fx.ols_collinear.intercept) < 1e-4);
  });

  it('round-trips and rejects bad hyperparameters', () => {
    const { x, target } = standardized('diabetes');
    const model = fitRidge(x, target, {}, { alpha: 1 });
    assert.deepEqual(Array.from(restoreLinearRegression(JSON.parse(JSON.stringify(model.toJSON()))).predict(x)), Array.from(model.predict(x)));
    assert.throws(() => ridgeRegression({ alpha: -1 }), /alpha: must be a finite number ≥ 0, got -1/);
    assert.equal(linearRegression().params.alpha, 0);
  });
});
