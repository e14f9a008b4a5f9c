import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../../core/random.ts';
import { maxAbsDiff, readNumericCsv, trainingFixture } from '../../../test/support/training-data.ts';
import { takeValues } from '../matrix.ts';
import { fitPreprocessor, splitTable } from '../preprocess.ts';
import type { Matrix, Table, Target } from '../types.ts';
import { fitMlp, mlp, MlpModel, restoreMlp } from './mlp.ts';

type Data = 'breast_cancer' | 'wine' | 'diabetes';

function dataset(name: Data): { features: Table; target: Target } {
  return splitTable(readNumericCsv(name), { target: 'target', task: name === 'diabetes' ? 'regression' : 'classification' });
}

function standardized(name: Data): { x: Matrix; target: Target } {
  const { features, target } = dataset(name);
  return { x: fitPreprocessor(features).transform(features), target };
}

function rowsOf(t: Table, rows: number[]): Table {
  return { rows: rows.length, columns: t.columns.map((c) => ({ name: c.name, kind: 'numeric' as const, values: Float64Array.from(rows, (i) => (c.values as Float64Array)[i]) })) };
}

function labels(p: Float64Array, k: number): number[] {
  if (k === 2) return Array.from(p, (v) => (v > 0.5 ? 1 : 0));
  return Array.from({ length: p.length / k }, (_, i) => {
    let best = 0;
    for (let c = 1; c < k; c++) if (p[i * k + c] > p[i * k + best]) best = c;
    return best;
  });
}

describe('MLP', () => {
  for (const name of ['breast_cancer', 'wine', 'diabetes'] as const) {
    it(`follows scikit-learn's training trajectory exactly from the same initial weights (${name}: 2 hidden layers, 4 epochs of batches of 64, Adam, L2)`, async () => {
      const fx = trainingFixture('mlp')[name];
      const { x, target } = standardized(name);
      let y = target;
      if (fx.target_standardized) {
        const v = target.values;
        const mean = v.reduce((s, a) => s + a, 0) / v.length;
        const std = Math.sqrt(v.reduce((s, a) => s + (a - mean) ** 2, 0) / v.length);
        y = { task: 'regression', values: Float64Array.from(v, (a) => (a - mean) / std) };
      }
      const layers = [x.cols, ...fx.hidden, fx.task === 'multiclass' ? 3 : 1];
      const nClasses = fx.task === 'regression' ? 1 : target.classes!.length;
      const initial = new MlpModel({
        task: fx.task, nClasses, layers,
        weights: fx.init_coefs.map((w: number[]) => Float64Array.from(w)),
        biases: fx.init_intercepts.map((b: number[]) => Float64Array.from(b)),
      });
      const model = await fitMlp(x, y, { task: fx.task, nClasses, seed: 0 }, {
        hiddenLayerSizes: fx.hidden, alpha: fx.alpha, batchSize: fx.batch_size, learningRateInit: fx.learning_rate_init,
        maxIter: fx.epochs, shuffle: false, tol: 0, nIterNoChange: 1000,
      }, { initial });
      assert.equal(model.info!.epochs, fx.epochs);
      for (let l = 0; l < layers.length - 1; l++) {
        assert.ok(maxAbsDiff(model.weights[l], fx.coefs[l]) < 1e-10, `layer ${l} weights differ by ${maxAbsDiff(model.weights[l], fx.coefs[l])}`);
        assert.ok(maxAbsDiff(model.biases[l], fx.intercepts[l]) < 1e-10, `layer ${l} biases`);
      }
      assert.ok(maxAbsDiff(model.info!.lossCurve, fx.loss_curve) < 1e-10, 'loss curve');
    });
  }

  it('reaches scikit-learn MLPClassifier accuracy (defaults, 5-fold stratified CV) within two points on breast_cancer and wine', async () => {
    const cv = trainingFixture('mlp').cv_accuracy;
    for (const name of ['breast_cancer', 'wine'] as const) {
      const { features, target } = dataset(name);
      const k = target.classes!.length;
      let correct = 0;
      for (const test of cv[name].folds as number[][]) {
        const inTest = new Set(test);
        const train = Array.from({ length: features.rows }, (_, i) => i).filter((i) => !inTest.has(i));
        const pre = fitPreprocessor(rowsOf(features, train));
        const model = await fitMlp(pre.transform(rowsOf(features, train)), { ...target, values: takeValues(target.values, train) }, { task: target.task, nClasses: k, seed: 0 });
        const predicted = labels(model.predict(pre.transform(rowsOf(features, test))), k);
        predicted.forEach((c, i) => {
          if (c === target.values[test[i]]) correct++;
        });
      }
      const accuracy = correct / features.rows;
      assert.ok(Math.abs(accuracy - cv[name].accuracy) <= 0.02, `${name}: mloop ${accuracy.toFixed(4)}, sklearn ${cv[name].accuracy.toFixed(4)}`);
    }
  });

  it('decreases the training loss, and the same seed gives the identical model (a different seed does not)', async () => {
    const { x, target } = standardized('wine');
    const params = { hiddenLayerSizes: [20], maxIter: 60 };
    const options = { task: 'multiclass' as const, nClasses: 3, seed: 9 };
    const a = await fitMlp(x, target, options, params);
    const b = await fitMlp(x, target, options, params);
    const c = await fitMlp(x, target, { ...options, seed: 10 }, params);
    const curve = a.info!.lossCurve;
    assert.ok(curve[curve.length - 1] < 0.5 * curve[0], `loss ${curve[0]} → ${curve[curve.length - 1]}`);
    let rises = 0;
    for (let i = 1; i < curve.length; i++) if (curve[i] > curve[i - 1]) rises++;
    assert.ok(rises <= curve.length / 10, `${rises} of ${curve.length} epochs increased the loss`);
    assert.deepEqual(JSON.stringify(b.toJSON()), JSON.stringify(a.toJSON()));
    assert.notDeepEqual(Array.from(c.weights[0]), Array.from(a.weights[0]));
  });

  it('splits mini-batches of large data over two threads with bit-identical results to one thread', async () => {
    const rng = new Random(21);
    const n = 20_000;
    const d = 10;
    const x: Matrix = { rows: n, cols: d, data: Float64Array.from({ length: n * d }, () => rng.normal()) };
    const values = Float64Array.from({ length: n }, (_, i) => (x.data[i * d] + x.data[i * d + 1] * x.data[i * d + 2] > 0 ? 1 : 0));
    const target: Target = { task: 'binary', values, classes: ['0', '1'] };
    const params = { hiddenLayerSizes: [8], maxIter: 3 };
    const one = await fitMlp(x, target, { task: 'binary', nClasses: 2, seed: 5 }, { ...params, threads: 1 });
    const two = await fitMlp(x, target, { task: 'binary', nClasses: 2, seed: 5 }, { ...params, threads: 2 });
    assert.equal(one.info!.threads, 1);
    assert.equal(two.info!.threads, 2, 'the second half of each batch ran on the worker');
    assert.deepEqual(two.weights.map((w) => Array.from(w)), one.weights.map((w) => Array.from(w)));
    assert.deepEqual(two.info!.lossCurve, one.info!.lossCurve);
    assert.ok(one.info!.lossCurve[2] < one.info!.lossCurve[0]);
  });

  it('early stopping holds out a stratified validation share, stops on its score and keeps the best weights', async () => {
    const { x, target } = standardized('breast_cancer');
    const model = await fitMlp(x, target, { task: 'binary', nClasses: 2, seed: 3 }, { hiddenLayerSizes: [16], earlyStopping: true, validationFraction: 0.2, nIterNoChange: 5, maxIter: 300 });
    const info = model.info!;
    assert.equal(info.stopReason, 'no_improvement');
    assert.ok(info.epochs < 300);
    assert.equal(info.validationScores!.length, info.epochs);
    assert.equal(info.bestValidationScore, Math.max(...info.validationScores!));
    // the last five scores did not beat the best by tol; the best came before them
    const best = info.validationScores!.indexOf(info.bestValidationScore!);
    assert.ok(best < info.epochs - 5);
    // 20% of 569 = 114 validation rows, accuracy moves in steps of 1/114
    assert.ok(Number.isInteger(Math.round(info.bestValidationScore! * 114 * 1e6) / 1e6));
  });

  it('regression learns diabetes (R² well above zero) and round-trips through JSON', async () => {
    const { x, target } = standardized('diabetes');
    const model = await fitMlp(x, target, { task: 'regression', nClasses: 1, seed: 1 }, { hiddenLayerSizes: [32], learningRateInit: 0.05, maxIter: 300 });
    const p = model.predict(x);
    const y = target.values;
    const mean = y.reduce((s, v) => s + v, 0) / y.length;
    const r2 = 1 - y.reduce((s, v, i) => s + (v - p[i]) ** 2, 0) / y.reduce((s, v) => s + (v - mean) ** 2, 0);
    assert.ok(r2 > 0.4, `R² ${r2}`);
    const copy = restoreMlp(JSON.parse(JSON.stringify(model.toJSON())));
    assert.deepEqual(Array.from(copy.predict(x)), Array.from(p));
    assert.throws(() => restoreMlp({ ...model.toJSON(), layers: [10, 3, 1] }), /MLP state/);
  });

  it('rejects bad hyperparameters by name before any work', () => {
    assert.throws(() => mlp({ hiddenLayerSizes: [0] }), /hiddenLayerSizes: must be a list of integers ≥ 1/);
    assert.throws(() => mlp({ alpha: -1 }), /alpha: must be a number ≥ 0, got -1/);
    assert.throws(() => mlp({ learningRateInit: 0 }), /learningRateInit/);
    assert.throws(() => mlp({ batchSize: 0 }), /batchSize/);
    assert.throws(() => mlp({ validationFraction: 1 }), /validationFraction: must be in \(0, 1\)/);
    assert.throws(() => mlp({ earlyStopping: true, dp: { noiseMultiplier: 1, maxGradNorm: 1, batchSize: 32, epochs: 1 } }), /earlyStopping: cannot be combined with dp/);
  });
});
