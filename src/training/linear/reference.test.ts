/**
 * Reproduces `reference_metrics.json` (scikit-learn 1.2.1, pooled out-of-fold predictions) with mloop's
 * pipelines on the very folds scikit-learn used (`cv_folds.json`): preprocessing learned on each fold's
 * training rows, the model with its default hyperparameters.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readNumericCsv, referenceMetrics, trainingFixture } from '../../../test/support/training-data.ts';
import { type Estimator, fitPipeline } from '../pipeline.ts';
import type { Table } from '../types.ts';
import { logisticRegression } from './logistic.ts';
import { ridgeRegression } from './ridge.ts';

function rows(t: Table, idx: number[]): Table {
  return { rows: idx.length, columns: t.columns.map((c) => ({ name: c.name, kind: 'numeric' as const, values: Float64Array.from(idx, (i) => (c.values as Float64Array)[i]) })) };
}

/** Out-of-fold predictions (probabilities, rows × k, or values) pooled over the folds. */
async function outOfFold(name: 'breast_cancer' | 'wine' | 'diabetes', estimator: Estimator): Promise<{ y: Float64Array; pred: Float64Array; k: number }> {
  const table = readNumericCsv(name);
  const fold: number[] = trainingFixture('cv_folds')[name];
  const regression = name === 'diabetes';
  const y = table.columns.find((c) => c.name === 'target')!.values as Float64Array;
  const k = regression ? 1 : new Set(y).size;
  const pred = new Float64Array(table.rows * k);
  for (let f = 0; f < 5; f++) {
    const train = fold.flatMap((v, i) => (v === f ? [] : [i]));
    const test = fold.flatMap((v, i) => (v === f ? [i] : []));
    const pipeline = await fitPipeline(rows(table, train), estimator, { target: 'target', task: regression ? 'regression' : 'classification', seed: 0 });
    const testRows = rows(table, test);
    const p = regression ? pipeline.predict(testRows) : pipeline.predictProba(testRows);
    test.forEach((row, i) => pred.set(p.subarray(i * k, i * k + k), row * k));
  }
  return { y, pred, k };
}

function rocAuc(y: Float64Array, score: Float64Array): number {
  let pairs = 0;
  let wins = 0;
  for (let i = 0; i < y.length; i++) {
    if (y[i] !== 1) continue;
    for (let j = 0; j < y.length; j++) {
      if (y[j] !== 0) continue;
      pairs++;
      wins += score[i] > score[j] ? 1 : score[i] === score[j] ? 0.5 : 0;
    }
  }
  return wins / pairs;
}

function argmax(p: Float64Array, k: number, i: number): number {
  let best = 0;
  for (let c = 1; c < k; c++) if (p[i * k + c] > p[i * k + best]) best = c;
  return best;
}

function logLoss(y: Float64Array, p: Float64Array, k: number): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s -= Math.log(Math.min(1 - 1e-15, Math.max(1e-15, p[i * k + y[i]])));
  return s / y.length;
}

function macroF1(y: Float64Array, p: Float64Array, k: number): number {
  let sum = 0;
  for (let c = 0; c < k; c++) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < y.length; i++) {
      const hat = argmax(p, k, i);
      if (hat === c && y[i] === c) tp++;
      else if (hat === c) fp++;
      else if (y[i] === c) fn++;
    }
    sum += (2 * tp) / (2 * tp + fp + fn);
  }
  return sum / k;
}

describe('reference metrics of scikit-learn 1.2.1 reproduced on the same folds', () => {
  const ref = referenceMetrics();

  it('breast_cancer, logistic regression (L2, C = 1, standardized): ROC AUC, accuracy, log loss', async () => {
    const want = ref['breast_cancer/logistic_regression_l2_C1_standardized/5fold_stratified_seed0'];
    const { y, pred, k } = await outOfFold('breast_cancer', logisticRegression({ C: 1 }));
    const p1 = Float64Array.from({ length: y.length }, (_, i) => pred[i * k + 1]);
    assert.ok(Math.abs(rocAuc(y, p1) - want.roc_auc) < 1e-4, `AUC ${rocAuc(y, p1)} vs ${want.roc_auc}`);
    const accuracy = Array.from(y).filter((v, i) => argmax(pred, k, i) === v).length / y.length;
    assert.ok(Math.abs(accuracy - want.accuracy) < 1e-9, `accuracy ${accuracy}`);
    assert.ok(Math.abs(logLoss(y, pred, k) - want.log_loss) < 1e-4, `log loss ${logLoss(y, pred, k)}`);
  });

  it('wine, multinomial logistic regression (standardized): accuracy, macro F1, log loss', async () => {
    const want = ref['wine/logistic_regression_multinomial_standardized/5fold_stratified_seed0'];
    const { y, pred, k } = await outOfFold('wine', logisticRegression());
    const accuracy = Array.from(y).filter((v, i) => argmax(pred, k, i) === v).length / y.length;
    assert.ok(Math.abs(accuracy - want.accuracy) < 1e-9, `accuracy ${accuracy}`);
    assert.ok(Math.abs(macroF1(y, pred, k) - want.macro_f1) < 1e-9);
    assert.ok(Math.abs(logLoss(y, pred, k) - want.log_loss) < 1e-4, `log loss ${logLoss(y, pred, k)}`);
  });

  it('diabetes, ridge (alpha = 1, standardized): RMSE and R²', async () => {
    const want = ref['diabetes/ridge_alpha1_standardized/5fold_seed0'];
    const { y, pred } = await outOfFold('diabetes', ridgeRegression({ alpha: 1 }));
    const mean = y.reduce((s, v) => s + v, 0) / y.length;
    let res = 0;
    let tot = 0;
    y.forEach((v, i) => {
      res += (v - pred[i]) ** 2;
      tot += (v - mean) ** 2;
    });
    assert.ok(Math.abs(Math.sqrt(res / y.length) - want.rmse) < 1e-6, `RMSE ${Math.sqrt(res / y.length)}`);
    assert.ok(Math.abs(1 - res / tot - want.r2) < 1e-8);
  });
});
