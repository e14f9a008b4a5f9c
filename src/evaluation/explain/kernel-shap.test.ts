import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../../core/random.ts';
import { kernelShap, kernelShapAsync } from './kernel-shap.ts';
import type { FeatureMatrix, PredictFn } from './types.ts';

function randomMatrix(rows: number, cols: number, seed: number): FeatureMatrix {
  const r = new Random(seed);
  return { rows, cols, data: Float64Array.from({ length: rows * cols }, () => r.normal()) };
}

function rowwise(cols: number, f: (x: Float64Array) => number): PredictFn {
  return (m) => {
    const out = new Float64Array(m.rows);
    for (let r = 0; r < m.rows; r++) out[r] = f(m.data.subarray(r * cols, (r + 1) * cols));
    return out;
  };
}

function linearModel(w: number[], b: number): PredictFn {
  return rowwise(w.length, (x) => w.reduce((s, wj, j) => s + wj * x[j], b));
}

function columnMeans(m: FeatureMatrix): number[] {
  const means = new Array(m.cols).fill(0);
  for (let r = 0; r < m.rows; r++) for (let c = 0; c < m.cols; c++) means[c] += m.data[r * m.cols + c] / m.rows;
  return means;
}

/** Shapley values by their definition, with v(S) the mean prediction over the background. */
function bruteForceShapley(f: (x: Float64Array) => number, background: FeatureMatrix, x: Float64Array): number[] {
  const m = x.length;
  const value = (bits: number) => {
    let s = 0;
    const z = new Float64Array(m);
    for (let b = 0; b < background.rows; b++) {
      for (let j = 0; j < m; j++) z[j] = bits & (1 << j) ? x[j] : background.data[b * m + j];
      s += f(z);
    }
    return s / background.rows;
  };
  const fact = (n: number): number => (n <= 1 ? 1 : n * fact(n - 1));
  const phi = new Array(m).fill(0);
  for (let bits = 0; bits < 1 << m; bits++) {
    let size = 0;
    for (let j = 0; j < m; j++) if (bits & (1 << j)) size++;
    for (let j = 0; j < m; j++) {
      if (bits & (1 << j)) continue;
      const weight = (fact(size) * fact(m - size - 1)) / fact(m);
      phi[j] += weight * (value(bits | (1 << j)) - value(bits));
    }
  }
  return phi;
}

const nonlinear = (x: Float64Array) => x[0] * x[1] + Math.sin(x[2]) + 0.5 * x[3] ** 2 - x[4] * x[0] * x[5] + Math.max(0, x[5]);

describe('kernelShap', () => {
  it('linear model, independent background: φ_j = w_j (x_j − mean_j) exactly; base value is the mean prediction', () => {
    const w = [1.5, -2, 0.25, 3, -0.75];
    const background = randomMatrix(30, 5, 1);
    const x = randomMatrix(4, 5, 2);
    const res = kernelShap(linearModel(w, 0.4), background, x);
    const means = columnMeans(background);
    const meanPrediction = means.reduce((s, mj, j) => s + w[j] * mj, 0.4);
    assert.ok(Math.abs(res.baseValue[0] - meanPrediction) < 1e-12);
    res.rows.forEach((row, r) => {
      assert.ok(row.exact);
      for (let j = 0; j < 5; j++) {
        const want = w[j] * (x.data[r * 5 + j] - means[j]);
        assert.ok(Math.abs(row.values[j] - want) < 1e-9, `row ${r} feature ${j}: ${row.values[j]} vs ${want}`);
      }
    });
  });

  it('exact enumeration equals the Shapley values by definition, and sums to f(x) − base within 1e-6', () => {
    const background = randomMatrix(12, 6, 3);
    const x = randomMatrix(3, 6, 4);
    const res = kernelShap(rowwise(6, nonlinear), background, x);
    res.rows.forEach((row, r) => {
      const xr = x.data.subarray(r * 6, (r + 1) * 6);
      const want = bruteForceShapley(nonlinear, background, xr);
      for (let j = 0; j < 6; j++) assert.ok(Math.abs(row.values[j] - want[j]) < 1e-9, `row ${r} feature ${j}: ${row.values[j]} vs ${want[j]}`);
      const sum = row.values.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - (nonlinear(xr) - res.baseValue[0])) < 1e-6);
      assert.equal(row.prediction[0], nonlinear(xr));
      assert.equal(row.nCoalitions, 2 ** 6 - 2);
    });
  });

  it('symmetry: interchangeable features get equal values; dummy: an ignored feature gets zero', () => {
    const f = (x: Float64Array) => x[0] * x[1] + x[2] ** 3;
    const base = randomMatrix(10, 4, 5);
    // Make the background symmetric in features 0 and 1: every row has its swapped twin.
    const data = new Float64Array(20 * 4);
    for (let r = 0; r < 10; r++) {
      const row = base.data.subarray(r * 4, r * 4 + 4);
      data.set(row, r * 8);
      data.set([row[1], row[0], row[2], row[3]], r * 8 + 4);
    }
    const background = { rows: 20, cols: 4, data };
    const x = { rows: 1, cols: 4, data: Float64Array.of(0.7, 0.7, -1.2, 5) };
    const [row] = kernelShap(rowwise(4, f), background, x).rows;
    assert.ok(Math.abs(row.values[0] - row.values[1]) < 1e-12, `${row.values[0]} vs ${row.values[1]}`);
    assert.ok(Math.abs(row.values[3]) < 1e-12, `dummy ${row.values[3]}`);
    assert.ok(Math.abs(row.values[0]) > 0.01);
  });

  it('multi-output probabilities: each output is explained, and the values of complementary outputs cancel', () => {
    const background = randomMatrix(15, 4, 6);
    const x = randomMatrix(2, 4, 7);
    const predict: PredictFn = (m) => {
      const out = new Float64Array(m.rows * 2);
      for (let r = 0; r < m.rows; r++) {
        const z = m.data[r * 4] - 2 * m.data[r * 4 + 1] * m.data[r * 4 + 2] + 0.3 * m.data[r * 4 + 3];
        const p = 1 / (1 + Math.exp(-z));
        out[r * 2] = 1 - p;
        out[r * 2 + 1] = p;
      }
      return out;
    };
    const res = kernelShap(predict, background, x);
    assert.equal(res.nOutputs, 2);
    for (const row of res.rows) {
      for (let j = 0; j < 4; j++) assert.ok(Math.abs(row.values[j] + row.values[4 + j]) < 1e-12);
      for (let o = 0; o < 2; o++) {
        const sum = row.values.subarray(o * 4, o * 4 + 4).reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - (row.prediction[o] - res.baseValue[o])) < 1e-9);
      }
    }
  });

  it('sampling (many features): exact for a linear model, close to exact for a non-linear one, local accuracy kept, seeded', () => {
    const w = Array.from({ length: 16 }, (_, j) => (j % 3) - 1 + j / 10);
    const bg16 = randomMatrix(8, 16, 8);
    const x16 = randomMatrix(2, 16, 9);
    const lin = kernelShap(linearModel(w, 0), bg16, x16, { seed: 1 });
    const means = columnMeans(bg16);
    lin.rows.forEach((row, r) => {
      assert.equal(row.exact, false);
      for (let j = 0; j < 16; j++) assert.ok(Math.abs(row.values[j] - w[j] * (x16.data[r * 16 + j] - means[j])) < 1e-8);
    });

    const f = (x: Float64Array) => nonlinear(x) + x[6] * x[7] - Math.tanh(x[8] + x[9]) + 0.3 * x[10] * x[11] * x[12] + x[13];
    const bg = randomMatrix(10, 14, 10);
    const x = randomMatrix(1, 14, 11);
    const exact = kernelShap(rowwise(14, f), bg, x, { exactMaxFeatures: 14 }).rows[0];
    const sampled = kernelShap(rowwise(14, f), bg, x, { seed: 3 }).rows[0];
    const again = kernelShap(rowwise(14, f), bg, x, { seed: 3 }).rows[0];
    assert.ok(exact.exact && !sampled.exact);
    assert.deepEqual(sampled.values, again.values);
    const scale = Math.max(...exact.values.map(Math.abs));
    const worst = Math.max(...exact.values.map((v, j) => Math.abs(v - sampled.values[j])));
    assert.ok(worst < 0.03 * scale, `sampled differs from exact by ${worst} (scale ${scale})`);
    const sum = sampled.values.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - (sampled.prediction[0] - kernelShap(rowwise(14, f), bg, x, { seed: 3 }).baseValue[0])) < 1e-9);
  });

  it('batching does not change the result; features equal to the background get zero', () => {
    const background = randomMatrix(9, 6, 12);
    const x = randomMatrix(1, 6, 13);
    const a = kernelShap(rowwise(6, nonlinear), background, x).rows[0];
    const b = kernelShap(rowwise(6, nonlinear), background, x, { batchRows: 9 }).rows[0];
    assert.ok(a.values.every((v, j) => Number.isFinite(v) && Math.abs(v - b.values[j]) < 1e-12));
    const constant = { rows: 3, cols: 2, data: Float64Array.of(1, 2, 1, 3, 1, 4) };
    const [row] = kernelShap(linearModel([5, 1], 0), constant, { rows: 1, cols: 2, data: Float64Array.of(1, 10) }).rows;
    assert.deepEqual([...row.values], [0, 7]);
  });

  it('an asynchronous predict (a model in onnxruntime) gives the same values, coalition batches included', async () => {
    const background = randomMatrix(9, 14, 17);
    const x = randomMatrix(2, 14, 18);
    const f = rowwise(14, (z) => nonlinear(z) + z[6] * z[13]);
    const calls: number[] = [];
    const later = (m: FeatureMatrix) => {
      calls.push(m.rows);
      return new Promise<ArrayLike<number>>((resolve) => setImmediate(() => resolve(f(m))));
    };
    const options = { seed: 5, nSamples: 400, batchRows: 900 };
    assert.deepEqual(await kernelShapAsync(later, background, x, options), kernelShap(f, background, x, options));
    assert.ok(calls.length > 4 && calls.every((n) => n <= 900), `predict called with ${calls.join(', ')} rows`);
    await assert.rejects(kernelShapAsync(later, background, randomMatrix(1, 3, 19)), /background: has 14 columns but x has 3/);
  });

  it('rejects mismatched shapes and a predict of the wrong size', () => {
    const bg = randomMatrix(4, 3, 14);
    assert.throws(() => kernelShap(linearModel([1, 1, 1], 0), bg, randomMatrix(1, 2, 15)), /background: has 3 columns but x has 2/);
    const bad: PredictFn = (m) => new Float64Array(m.rows === 4 ? 4 : 1);
    assert.throws(() => kernelShap(bad, bg, randomMatrix(1, 3, 16)), /predict: returned 1 values for 4 rows|predict: returned/);
  });
});
