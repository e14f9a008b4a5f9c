import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Matrix, Task } from '../types.ts';
import { nextDown32 } from './binning.ts';
import { fitHistGradientBoosting } from './hgbt.ts';
import { type TreeEnsemble, treeShap } from './shap.ts';
import { type Dataset, hgbtFixture, loadCsv, matrixOf, missingDataset } from './test-support.ts';
import type { Tree } from './tree.ts';

function fit(d: Dataset, task: Task, nClasses: number, params = {}) {
  return fitHistGradientBoosting(d.x, { task, values: d.y }, { task, nClasses, seed: 0 }, params);
}

function columns(d: Dataset, keep: number): Dataset {
  const { rows, cols } = d.x;
  const data = new Float64Array(rows * keep);
  for (let r = 0; r < rows; r++) for (let c = 0; c < keep; c++) data[r * keep + c] = d.x.data[r * cols + c];
  return { x: { rows, cols: keep, data }, y: d.y };
}

/** Raw outputs minus base values minus the sum of the row's SHAP values, largest in absolute value. */
function additivityError(model: TreeEnsemble & { predictRaw(x: Matrix): Float64Array }, x: Matrix): number {
  const shap = treeShap(model, x);
  const raw = model.predictRaw(x);
  const K = shap.nOutputs;
  let worst = 0;
  for (let r = 0; r < x.rows; r++) {
    for (let k = 0; k < K; k++) {
      let sum = shap.baseValues[k];
      for (let f = 0; f < x.cols; f++) sum += shap.values[(r * K + k) * x.cols + f];
      worst = Math.max(worst, Math.abs(sum - raw[r * K + k]));
    }
  }
  return worst;
}

/**
 * Exact Shapley values by enumerating every coalition S of features, with the same value function that
 * TreeSHAP explains: E[f(x) | x_S], where a split on a feature outside S averages its children by cover.
 */
function bruteForceShap(model: TreeEnsemble, x: Matrix): Float64Array {
  const M = model.nFeatures;
  const K = model.treesPerIteration;
  const out = new Float64Array(x.rows * K * M);
  const factorial = [1];
  for (let i = 1; i <= M; i++) factorial.push(factorial[i - 1] * i);
  const x32 = Float32Array.from(x.data);
  const expectation = (tree: Tree, row: number, coalition: number): number => {
    const visit = (node: number): number => {
      const f = tree.feature[node];
      if (f < 0) return tree.value[node];
      const l = tree.left[node];
      const r = tree.right[node];
      if (coalition & (1 << f)) {
        const v = x32[row * M + f];
        return visit((v !== v ? tree.missingLeft[node] === 1 : v <= tree.threshold[node]) ? l : r);
      }
      return (tree.cover[l] * visit(l) + tree.cover[r] * visit(r)) / tree.cover[node];
    };
    return visit(0);
  };
  for (let row = 0; row < x.rows; row++) {
    for (let k = 0; k < K; k++) {
      const v = new Float64Array(1 << M);
      for (let s = 0; s < 1 << M; s++) {
        for (let t = k; t < model.trees.length; t += K) v[s] += expectation(model.trees[t], row, s);
      }
      for (let i = 0; i < M; i++) {
        let phi = 0;
        for (let s = 0; s < 1 << M; s++) {
          if (s & (1 << i)) continue;
          let size = 0;
          for (let b = s; b; b &= b - 1) size++;
          phi += ((factorial[size] * factorial[M - size - 1]) / factorial[M]) * (v[s | (1 << i)] - v[s]);
        }
        out[(row * K + k) * M + i] = phi;
      }
    }
  }
  return out;
}

/** An xgboost JSON model (`save_model`) as mloop trees: `x < c` is `float32(x) <= the float32 below c`. */
function fromXgboost(c: ReturnType<typeof hgbtFixture>['xgboost'][string]): TreeEnsemble {
  const K = Math.max(1, c.num_class);
  const trees = c.trees.map((t): Tree => {
    const n = t.left_children.length;
    const tree = {
      feature: new Int32Array(n),
      threshold: new Float32Array(n),
      binThreshold: new Uint8Array(n),
      missingLeft: new Uint8Array(n),
      left: new Int32Array(n),
      right: new Int32Array(n),
      value: new Float64Array(n),
      cover: Float64Array.from(t.sum_hessian),
    };
    for (let i = 0; i < n; i++) {
      if (t.left_children[i] < 0) {
        tree.feature[i] = tree.left[i] = tree.right[i] = -1;
        tree.value[i] = t.split_conditions[i];
        continue;
      }
      tree.feature[i] = t.split_indices[i];
      tree.threshold[i] = nextDown32(Math.fround(t.split_conditions[i]));
      tree.missingLeft[i] = t.default_left[i];
      tree.left[i] = t.left_children[i];
      tree.right[i] = t.right_children[i];
    }
    return tree;
  });
  c.tree_info.forEach((k, t) => assert.equal(k, t % K, 'trees interleave classes'));
  // binary:logistic keeps base_score as a probability; multi:softprob adds it to every margin as is.
  const base = K === 1 ? Math.log(c.base_score / (1 - c.base_score)) : c.base_score;
  return { nFeatures: c.n_features, treesPerIteration: K, baseline: new Float64Array(K).fill(base), trees };
}

describe('treeShap', () => {
  it('values of a row sum to its raw prediction minus the base value (binary, multiclass, regression)', async () => {
    const cancer = loadCsv('breast_cancer');
    assert.ok(additivityError(await fit(cancer, 'binary', 2), cancer.x) < 1e-6);
    const wine = loadCsv('wine');
    assert.ok(additivityError(await fit(wine, 'multiclass', 3, { max_iter: 30 }), wine.x) < 1e-6);
    const diabetes = loadCsv('diabetes');
    assert.ok(additivityError(await fit(diabetes, 'regression', 1, { max_iter: 50 }), diabetes.x) < 1e-6);
    const missing = missingDataset();
    assert.ok(additivityError(await fit(missing, 'binary', 2, { max_iter: 30 }), missing.x) < 1e-6);
  });

  it('equals brute-force Shapley values over all coalitions (5 features with missing values, binary)', async () => {
    const d = missingDataset();
    const model = await fit(d, 'binary', 2, { max_iter: 8, max_leaf_nodes: 12, min_samples_leaf: 5 });
    const x: Matrix = { rows: 40, cols: 5, data: d.x.data.subarray(0, 200) };
    const fast = treeShap(model, x).values;
    const exact = bruteForceShap(model, x);
    for (let i = 0; i < fast.length; i++) assert.ok(Math.abs(fast[i] - exact[i]) < 1e-10, `value ${i}: ${fast[i]} vs ${exact[i]}`);
    assert.ok(exact.some((v) => Math.abs(v) > 0.05));
  });

  it('equals brute-force Shapley values per class (8 features, multiclass)', async () => {
    const d = columns(loadCsv('wine'), 8);
    const model = await fit(d, 'multiclass', 3, { max_iter: 4, max_depth: 4, min_samples_leaf: 3 });
    const x: Matrix = { rows: 30, cols: 8, data: d.x.data.subarray(0, 240) };
    const fast = treeShap(model, x);
    assert.equal(fast.nOutputs, 3);
    const exact = bruteForceShap(model, x);
    for (let i = 0; i < exact.length; i++) assert.ok(Math.abs(fast.values[i] - exact[i]) < 1e-10, `value ${i}: ${fast.values[i]} vs ${exact[i]}`);
  });

  for (const name of ['binary_missing', 'multiclass_wine']) {
    it(`matches xgboost 1.7.4 pred_contribs on its own trees (${name})`, () => {
      const c = hgbtFixture().xgboost[name];
      const model = fromXgboost(c);
      const F = c.n_features;
      const x = matrixOf(c.x, F);
      const shap = treeShap(model, x);
      const K = shap.nOutputs;
      for (let r = 0; r < x.rows; r++) {
        for (let k = 0; k < K; k++) {
          const o = (r * K + k) * (F + 1);
          for (let f = 0; f < F; f++) {
            const ours = shap.values[(r * K + k) * F + f];
            assert.ok(Math.abs(ours - c.contribs[o + f]) < 1e-5, `row ${r} class ${k} feature ${f}: ${ours} vs ${c.contribs[o + f]}`);
          }
          // xgboost's last column is the bias: the base value.
          assert.ok(Math.abs(shap.baseValues[k] - c.contribs[o + F]) < 1e-5);
          let sum = shap.baseValues[k];
          for (let f = 0; f < F; f++) sum += shap.values[(r * K + k) * F + f];
          assert.ok(Math.abs(sum - c.margin[r * K + k]) < 1e-5, 'the loaded trees predict xgboost margins');
        }
      }
    });
  }
});
