import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MloopError } from '../../core/errors.ts';
import { Random } from '../../core/random.ts';
import { accuracy, logLoss, rocAuc } from '../../evaluation/metrics/classification.ts';
import type { Matrix, Task } from '../types.ts';
import { fitBins } from './binning.ts';
import { type HistGradientBoostingParams, fitHistGradientBoosting, restoreHistGradientBoosting, useWebAssemblyKernels } from './hgbt.ts';
import { type Dataset, hgbtFixture, loadCsv, matrixOf, missingDataset, subset } from './test-support.ts';

const fixture = hgbtFixture();

function fit(d: Dataset, task: Task, nClasses: number, params: HistGradientBoostingParams = {}, seed = 0, sampleWeight?: Float64Array) {
  return fitHistGradientBoosting(d.x, { task, values: d.y }, { task, nClasses, seed, sampleWeight }, params);
}

function datasetOf(name: 'breast_cancer' | 'wine' | 'diabetes' | 'missing'): Dataset {
  return name === 'missing' ? missingDataset() : loadCsv(name);
}

/** A generated binary data set with missing values in two of its six features. */
function generated(n: number, seed: number): Dataset {
  const rng = new Random(seed);
  const cols = 6;
  const data = new Float64Array(n * cols);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < cols; c++) data[i * cols + c] = rng.normal();
    const z = 1.2 * data[i * cols] - data[i * cols + 1] + Math.sin(2 * data[i * cols + 2]) + 0.5 * data[i * cols + 3] * data[i * cols + 4];
    y[i] = rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
    if (rng.next() < 0.1) data[i * cols] = Number.NaN;
    if (rng.next() < 0.05) data[i * cols + 5] = Number.NaN;
  }
  return { x: { rows: n, cols, data }, y };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('binning', () => {
  for (const [name, expected] of Object.entries(fixture.binning)) {
    it(`bins ${name} exactly as scikit-learn's _BinMapper, thresholds rounded to float32 (max_bins ${expected.max_bins})`, () => {
      const d = name === 'breast_cancer' ? loadCsv('breast_cancer') : missingDataset();
      const { binned, thresholds } = fitBins(d.x, expected.max_bins);
      assert.deepEqual(Array.from(binned), expected.binned_column_major);
      assert.deepEqual(
        thresholds.map((t) => Array.from(t)),
        expected.thresholds.map((t) => t.map((v) => Math.fround(v))),
      );
    });
  }
});

describe('fitHistGradientBoosting against scikit-learn 1.2.1 (same split, same hyperparameters)', () => {
  for (const [name, c] of Object.entries(fixture.holdout)) {
    it(`${name} (${c.task})`, async () => {
      const d = datasetOf(c.x);
      const test = new Set(c.test_index);
      const trainIndex = Array.from({ length: d.y.length }, (_, i) => i).filter((i) => !test.has(i));
      const train = subset(d, trainIndex);
      const holdout = subset(d, c.test_index);
      const nClasses = c.task === 'regression' ? 1 : Math.max(...d.y) + 1;
      const weight = c.weighted ? Float64Array.from(trainIndex, (i) => 1 + (i % 3)) : undefined;
      const model = await fit(train, c.task, nClasses, c.params, 0, weight);
      assert.equal(model.nIter, c.n_iter);
      assert.equal(model.trees.length, c.n_iter * (c.task === 'multiclass' ? nClasses : 1), 'one tree per class per iteration');
      const p = model.predict(holdout.x);
      const s = c.sklearn;
      // Not bit-identical (float32 thresholds and leaf values), but the same trees: predictions agree closely.
      assert.ok(maxAbsDiff(p, s.predictions) < 1e-4, `predictions differ by ${maxAbsDiff(p, s.predictions)}`);
      if (c.task === 'regression') {
        let se = 0;
        for (let i = 0; i < p.length; i++) se += (p[i] - holdout.y[i]) ** 2;
        assert.ok(Math.abs(Math.sqrt(se / p.length) - (s.rmse as number)) < 1e-3);
      } else if (c.task === 'binary') {
        assert.ok(Math.abs(rocAuc(holdout.y, p) - (s.roc_auc as number)) < 1e-4);
        assert.ok(Math.abs(logLoss(holdout.y, p) - (s.log_loss as number)) < 1e-4);
      } else {
        const proba = { rows: holdout.y.length, cols: nClasses, data: p };
        assert.ok(Math.abs(logLoss(holdout.y, proba) - (s.log_loss as number)) < 1e-4);
        const labels = Float64Array.from({ length: holdout.y.length }, (_, i) => {
          const row = Array.from(p.subarray(i * nClasses, (i + 1) * nClasses));
          return row.indexOf(Math.max(...row));
        });
        assert.ok(Math.abs(accuracy(holdout.y, labels) - (s.accuracy as number)) < 1e-9);
      }
    });
  }

  it('sends missing values where scikit-learn does: the learned side, or the larger child for features never missing in training', async () => {
    const c = fixture.holdout.missing;
    const d = missingDataset();
    const test = new Set(c.test_index);
    const train = subset(d, Array.from({ length: d.y.length }, (_, i) => i).filter((i) => !test.has(i)));
    const model = await fit(train, 'binary', 2, c.params);
    const probes = matrixOf(c.probes!.x, 5);
    const p = model.predict(probes);
    assert.ok(maxAbsDiff(p, c.probes!.sklearn) < 1e-6, `probe predictions differ by ${maxAbsDiff(p, c.probes!.sklearn)}`);
    // The probes exercise both rules: feature 0 was missing in training, feature 1 never was.
    const splitsOn = (f: number, learned: boolean) =>
      model.trees.some((t) => Array.from(t.feature).some((g, i) => g === f && (learned ? t.missingLeft[i] === 1 : true)));
    assert.ok(splitsOn(0, true) && splitsOn(1, false));
  });

  it('NaN on a feature without missing training values follows the child with more training rows', async () => {
    // One informative feature; the split puts 3/4 of the rows on the right.
    const n = 400;
    const data = Float64Array.from({ length: n }, (_, i) => i);
    const y = Float64Array.from({ length: n }, (_, i) => (i < 100 ? 0 : 1));
    const model = await fit({ x: { rows: n, cols: 1, data }, y }, 'binary', 2, { max_iter: 1, max_depth: 1, learning_rate: 1 });
    const [tree] = model.trees;
    assert.equal(tree.feature[0], 0);
    assert.ok(tree.cover[tree.right[0]] > tree.cover[tree.left[0]]);
    const [pNaN, pLow, pHigh] = model.predict({ rows: 3, cols: 1, data: Float64Array.of(Number.NaN, 0, 399) });
    assert.equal(pNaN, pHigh);
    assert.notEqual(pNaN, pLow);
  });
});

describe('5-fold stratified cross-validation (the folds of reference_metrics.json)', () => {
  it('breast_cancer, default parameters: pooled ROC AUC within 0.005 of the reference', async () => {
    const d = loadCsv('breast_cancer');
    const { folds, sklearn } = fixture.cv.breast_cancer;
    const proba = new Float64Array(d.y.length);
    for (let k = 0; k < 5; k++) {
      const trainIdx = folds.flatMap((f, i) => (f === k ? [] : [i]));
      const testIdx = folds.flatMap((f, i) => (f === k ? [i] : []));
      const model = await fit(subset(d, trainIdx), 'binary', 2);
      const p = model.predict(subset(d, testIdx).x);
      testIdx.forEach((row, j) => (proba[row] = p[j]));
    }
    const auc = rocAuc(d.y, proba);
    assert.ok(Math.abs(auc - 0.9944109719359442) < 0.005, `ROC AUC ${auc}`);
    assert.ok(Math.abs(auc - sklearn.roc_auc) < 1e-4, `ROC AUC ${auc} vs scikit-learn ${sklearn.roc_auc}`);
  });

  it('diabetes, default parameters: pooled RMSE within 1% of the reference', async () => {
    const d = loadCsv('diabetes');
    const { folds, sklearn } = fixture.cv.diabetes;
    const pred = new Float64Array(d.y.length);
    for (let k = 0; k < 5; k++) {
      const trainIdx = folds.flatMap((f, i) => (f === k ? [] : [i]));
      const testIdx = folds.flatMap((f, i) => (f === k ? [i] : []));
      const model = await fit(subset(d, trainIdx), 'regression', 1);
      const p = model.predict(subset(d, testIdx).x);
      testIdx.forEach((row, j) => (pred[row] = p[j]));
    }
    let se = 0;
    for (let i = 0; i < pred.length; i++) se += (pred[i] - d.y[i]) ** 2;
    const rmse = Math.sqrt(se / pred.length);
    assert.ok(Math.abs(rmse - sklearn.rmse) / sklearn.rmse < 0.01, `RMSE ${rmse} vs ${sklearn.rmse}`);
  });
});

describe('early stopping', () => {
  it("'auto' turns on above 10,000 rows and stops by scikit-learn's rule on the validation loss", async () => {
    const d = generated(12_000, 5);
    const model = await fit(d, 'binary', 2, { max_iter: 400, learning_rate: 0.3, n_iter_no_change: 5 });
    assert.ok(model.nIter < 400, `ran all ${model.nIter} iterations`);
    const scores = model.validationScores;
    assert.equal(scores.length, model.nIter + 1, 'one score before the first tree and one per iteration');
    const stopsAt = (end: number) => {
      if (end < 6) return false;
      const reference = scores[end - 6] + 1e-7;
      return scores.slice(end - 5, end).every((s) => !(s > reference));
    };
    assert.ok(stopsAt(scores.length));
    for (let end = 1; end < scores.length; end++) assert.ok(!stopsAt(end), `should have stopped after ${end - 1} iterations`);
  });

  it('is off below 10,000 rows and when false', async () => {
    const d = generated(3000, 6);
    assert.equal((await fit(d, 'binary', 2, { max_iter: 30, learning_rate: 0.5 })).nIter, 30);
    const big = generated(12_000, 7);
    const model = await fit(big, 'binary', 2, { max_iter: 40, learning_rate: 0.5, early_stopping: false, n_iter_no_change: 1 });
    assert.equal(model.nIter, 40);
    assert.deepEqual(model.validationScores, []);
  });

  it('stops a regression too', async () => {
    const rng = new Random(11);
    const n = 2000;
    const data = Float64Array.from({ length: n * 3 }, () => rng.normal());
    const y = Float64Array.from({ length: n }, (_, i) => data[i * 3] + rng.normal());
    const model = await fitHistGradientBoosting({ rows: n, cols: 3, data }, { task: 'regression', values: y }, { task: 'regression', nClasses: 1, seed: 1 }, {
      early_stopping: true,
      max_iter: 500,
      learning_rate: 0.5,
    });
    assert.ok(model.nIter < 100);
  });
});

describe('determinism and persistence', () => {
  it('same seed → identical model, whatever the number of threads; another seed → another validation split', async () => {
    const d = generated(25_000, 3);
    const params = { max_iter: 15, early_stopping: true } as const;
    const a = await fit(d, 'binary', 2, { ...params, n_threads: 2 }, 42);
    const b = await fit(d, 'binary', 2, { ...params, n_threads: 2 }, 42);
    const c = await fit(d, 'binary', 2, { ...params, n_threads: 1 }, 42);
    const other = await fit(d, 'binary', 2, { ...params, n_threads: 2 }, 43);
    assert.deepEqual(a.toJSON(), b.toJSON());
    assert.deepEqual(a.toJSON(), c.toJSON());
    assert.notDeepEqual(a.toJSON().validationScores, other.toJSON().validationScores);
  });

  it('the JavaScript loops (no WebAssembly) make the same model, on one thread and on two', async () => {
    const d = generated(24_000, 8);
    const params = { max_iter: 8, early_stopping: false } as const;
    const wasm = await fit(d, 'binary', 2, { ...params, n_threads: 2 });
    useWebAssemblyKernels(false);
    try {
      const js1 = await fit(d, 'binary', 2, { ...params, n_threads: 1 });
      const js2 = await fit(d, 'binary', 2, { ...params, n_threads: 2 });
      assert.deepEqual(js1.toJSON(), wasm.toJSON());
      assert.deepEqual(js2.toJSON(), wasm.toJSON());
      const wine = loadCsv('wine');
      useWebAssemblyKernels(true);
      const a = await fit(wine, 'multiclass', 3, { max_iter: 5 });
      useWebAssemblyKernels(false);
      assert.deepEqual((await fit(wine, 'multiclass', 3, { max_iter: 5 })).toJSON(), a.toJSON());
    } finally {
      useWebAssemblyKernels(true);
    }
  });

  it('toJSON → restore predicts identically (infinite "split on missing" thresholds included)', async () => {
    const d = missingDataset();
    const model = await fit(d, 'binary', 2, { max_iter: 40 });
    const text = JSON.stringify(model.toJSON());
    const copy = restoreHistGradientBoosting(JSON.parse(text));
    assert.deepEqual(copy.predict(d.x), model.predict(d.x));
    const wine = loadCsv('wine');
    const multi = await fit(wine, 'multiclass', 3, { max_iter: 10 });
    assert.deepEqual(restoreHistGradientBoosting(JSON.parse(JSON.stringify(multi))).predict(wine.x), multi.predict(wine.x));
    assert.throws(() => restoreHistGradientBoosting({ ...model.toJSON(), trees: [{ feature: [0], threshold: [0] }] }), MloopError);
    assert.throws(() => restoreHistGradientBoosting({ kind: 'mlp' }), MloopError);
  });
});

describe('bad input is refused before any work, naming the field', () => {
  const d = generated(200, 1);
  const cases: [string, HistGradientBoostingParams][] = [
    ['max_bins', { max_bins: 256 }],
    ['max_bins', { max_bins: 1 }],
    ['learning_rate', { learning_rate: 0 }],
    ['max_iter', { max_iter: 0 }],
    ['max_leaf_nodes', { max_leaf_nodes: 1 }],
    ['max_depth', { max_depth: 0 }],
    ['min_samples_leaf', { min_samples_leaf: 0.5 }],
    ['l2_regularization', { l2_regularization: -1 }],
    ['validation_fraction', { validation_fraction: 1 }],
    ['n_iter_no_change', { n_iter_no_change: 0 }],
    ['tol', { tol: -1 }],
    ['early_stopping', { early_stopping: 'yes' as never }],
  ];
  for (const [field, params] of cases) {
    it(`${field}: ${JSON.stringify(params)}`, async () => {
      await assert.rejects(fit(d, 'binary', 2, params), (e: unknown) => e instanceof MloopError && e.code === 'INVALID_PARAMETER_VALUE' && e.fields[0].field === field);
    });
  }
  const data = (y: number[], x: Matrix = { rows: y.length, cols: 1, data: Float64Array.from(y, (_, i) => i) }) => ({ x, y: Float64Array.from(y) });
  const dataCases: [string, string, Dataset, Task, number][] = [
    ['NaN label', 'y', data([0, 1, Number.NaN]), 'binary', 2],
    ['label outside the classes', 'y', data([0, 1, 2]), 'binary', 2],
    ['single class', 'y', data([1, 1, 1]), 'binary', 2],
    ['infinite regression target', 'y', data([1, Number.POSITIVE_INFINITY]), 'regression', 1],
    ['rows and labels differ', 'y', { x: { rows: 3, cols: 1, data: new Float64Array(3) }, y: Float64Array.of(0, 1) }, 'binary', 2],
    ['multiclass with 2 classes', 'nClasses', data([0, 1, 0]), 'multiclass', 2],
  ];
  for (const [name, field, dd, task, k] of dataCases) {
    it(name, async () => {
      await assert.rejects(fit(dd, task, k), (e: unknown) => e instanceof MloopError && e.fields[0].field === field);
    });
  }
});
