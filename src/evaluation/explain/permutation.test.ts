import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertClose, loadEvaluationFixture } from '../../../test/support/evaluation-fixtures.ts';
import type { Vector } from '../metrics/common.ts';
import { permutationImportance, permutationImportanceAsync, type PermutationImportanceOptions, type Scorer } from './permutation.ts';
import type { FeatureMatrix } from './types.ts';

const fx = loadEvaluationFixture('permutation');
const X: FeatureMatrix = { rows: fx.rows, cols: fx.cols, data: Float64Array.from(fx.X) };

function linear(w: number[], b: number, classify: boolean) {
  return (x: FeatureMatrix) => {
    const out = new Float64Array(x.rows);
    for (let r = 0; r < x.rows; r++) {
      let z = 0;
      for (let c = 0; c < x.cols; c++) z += x.data[r * x.cols + c] * w[c];
      z += b;
      out[r] = classify ? (z > 0 ? 1 : 0) : z;
    }
    return out;
  };
}

const negMse: Scorer = (y: Vector, p: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += (y[i] - p[i]) ** 2;
  return -s / y.length;
};

function setup(c: any): { y: number[]; options: PermutationImportanceOptions } {
  const classify = c.scoring === 'accuracy';
  const y = classify ? fx.yClassification : fx.yRegression;
  const options: PermutationImportanceOptions =
    c.scoring === 'neg_mean_squared_error'
      ? { task: 'regression', scorer: negMse }
      : c.scoring === 'r2'
        ? { task: 'regression', metric: 'r2' }
        : { task: 'binary', metric: 'accuracy' };
  return { y, options };
}

describe('permutationImportance against sklearn.inspection.permutation_importance', () => {
  for (const c of fx.cases) {
    const predict = linear(c.weights, c.bias, c.scoring === 'accuracy');
    const { y, options } = setup(c);

    it(`${c.name}: exact agreement given sklearn's own shuffles`, () => {
      const res = permutationImportance(predict, X, y, { ...options, nRepeats: 5, shuffle: (j, r) => c.permutations[j][r] });
      res.features.forEach((f, j) => {
        f.importances.forEach((v, r) => assertClose(v, c.importances[j][r], 1e-12, `importance[${j}][${r}]`));
        assertClose(f.mean, c.mean[j], 1e-12, `mean[${j}]`);
        assertClose(f.std, c.std[j], 1e-12, `std[${j}]`);
      });
    });

    it(`${c.name}: statistical agreement with our own seeded shuffles (200 repeats each)`, () => {
      const res = permutationImportance(predict, X, y, { ...options, nRepeats: 200, seed: 11 });
      res.features.forEach((f, j) => {
        const se = Math.sqrt((f.std ** 2 + c.manyRepeatsStd[j] ** 2) / 200);
        assert.ok(Math.abs(f.mean - c.manyRepeatsMean[j]) <= 4 * se + 1e-12, `feature ${j}: ${f.mean} vs sklearn ${c.manyRepeatsMean[j]} (se ${se})`);
      });
      // The model ignores feature 3: its importance is exactly zero in every repeat.
      assert.ok(res.features[3].importances.every((v) => v === 0));
    });
  }

  it('a loss metric counts its increase as the drop; results repeat for a seed', () => {
    const predict = linear(fx.cases[0].weights, fx.cases[0].bias, false);
    const opts = { task: 'regression' as const, metric: 'rmse', nRepeats: 3, seed: 4, featureNames: ['a', 'b', 'c', 'd'] };
    const a = permutationImportance(predict, X, fx.yRegression, opts);
    assert.deepEqual(a, permutationImportance(predict, X, fx.yRegression, opts));
    assert.ok(a.baseline < 0, 'baseline is the negated RMSE');
    assert.ok(a.features[1].mean > a.features[0].mean && a.features[0].mean > a.features[2].mean && a.features[2].mean > 0);
    assert.equal(a.features[1].name, 'b');
  });

  it('an asynchronous predict (a model in onnxruntime) gives the same result', async () => {
    const predict = linear(fx.cases[0].weights, fx.cases[0].bias, false);
    const opts = { task: 'regression' as const, metric: 'r2', nRepeats: 3, seed: 2 };
    const later = (m: FeatureMatrix) => new Promise<ArrayLike<number>>((resolve) => setImmediate(() => resolve(predict(m))));
    assert.deepEqual(await permutationImportanceAsync(later, X, fx.yRegression, opts), permutationImportance(predict, X, fx.yRegression, opts));
    await assert.rejects(permutationImportanceAsync(later, X, [1, 2], opts), /yTrue: length 2 does not match the 80 rows of x/);
  });

  it('rejects bad input', () => {
    const predict = linear([1, 1, 1, 1], 0, false);
    assert.throws(() => permutationImportance(predict, X, [1, 2], { task: 'regression' }), /yTrue: length 2 does not match the 80 rows of x/);
    assert.throws(() => permutationImportance(predict, X, fx.yRegression, { task: 'regression', nRepeats: 0 }), /nRepeats: must be a positive integer/);
    assert.throws(() => permutationImportance(predict, X, fx.yRegression, { task: 'regression', metric: 'nope' }), /unknown metric "nope"/);
  });
});
