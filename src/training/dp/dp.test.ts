import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../../core/random.ts';
import { readNumericCsv, trainingFixture } from '../../../test/support/training-data.ts';
import { fitLogisticRegression, logisticRegression } from '../linear/logistic.ts';
import { logisticChunk } from '../linear/logistic-kernel.ts';
import { fitMlp, MlpModel } from '../mlp/mlp.ts';
import { fitPipeline } from '../pipeline.ts';
import { fitPreprocessor, splitTable } from '../preprocess.ts';
import type { Matrix, Target } from '../types.ts';
import { accumulateClippedLogistic, BatchSampler } from './dp-sgd.ts';
import { computeRdp, DEFAULT_ORDERS, dpSgdEpsilon, logErfc } from './rdp.ts';

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

function standardized(name: 'breast_cancer' | 'wine'): { x: Matrix; target: Target } {
  const { features, target } = splitTable(readNumericCsv(name), { target: 'target', task: 'classification' });
  return { x: fitPreprocessor(features).transform(features), target };
}

describe('RDP accountant for the sampled Gaussian mechanism', () => {
  const fx = trainingFixture('rdp');

  it('uses the default orders of TensorFlow Privacy and Opacus', () => {
    assert.equal(DEFAULT_ORDERS.length, fx.orders.length);
    DEFAULT_ORDERS.forEach((o, i) => assert.ok(Math.abs(o - fx.orders[i]) < 1e-12));
  });

  it('matches RDP from numerical integration in SciPy (integer and fractional orders) to 1e-7', () => {
    for (const c of fx.single_step) {
      const [got] = computeRdp(c.q, c.sigma, 1, [c.order]);
      assert.ok(rel(got, c.rdp) < 1e-7, `q=${c.q} σ=${c.sigma} α=${c.order}: ${got} vs ${c.rdp}`);
    }
  });

  it('matches ε from the SciPy oracle (both conversions) and TensorFlow Privacy’s published MNIST figures', () => {
    for (const s of fx.scenarios) {
      const classic = dpSgdEpsilon({ sampleRate: s.q, noiseMultiplier: s.sigma, steps: s.steps, delta: s.delta, conversion: 'classic' });
      const improved = dpSgdEpsilon({ sampleRate: s.q, noiseMultiplier: s.sigma, steps: s.steps, delta: s.delta });
      assert.ok(rel(classic.epsilon, s.epsilon_classic) < 1e-6, `${s.name} classic ${classic.epsilon} vs ${s.epsilon_classic}`);
      assert.ok(rel(improved.epsilon, s.epsilon_improved) < 1e-6, `${s.name} improved ${improved.epsilon} vs ${s.epsilon_improved}`);
      assert.equal(classic.order, s.order_classic);
      assert.equal(improved.order, s.order_improved);
      // tutorials/README.md of TensorFlow Privacy prints ε to two decimals
      if (s.published_classic !== undefined) assert.ok(Math.abs(classic.epsilon - s.published_classic) <= 0.01, `${s.name}: ${classic.epsilon} vs published ${s.published_classic}`);
    }
  });

  it('log erfc agrees with SciPy’s log_ndtr far into both tails', () => {
    for (const { x, log_erfc } of fx.log_erfc) assert.ok(Math.abs(logErfc(x) - log_erfc) <= 1e-12 * Math.max(1, Math.abs(log_erfc)), `x=${x}`);
  });

  it('reports no privacy without noise and none spent without steps; rejects bad input by name', () => {
    assert.equal(dpSgdEpsilon({ sampleRate: 0.01, noiseMultiplier: 0, steps: 10, delta: 1e-5 }).epsilon, Infinity);
    assert.deepEqual(Array.from(computeRdp(0.01, 1, 0, [2, 3])), [0, 0]);
    assert.throws(() => dpSgdEpsilon({ sampleRate: 1.5, noiseMultiplier: 1, steps: 1, delta: 1e-5 }), /sampleRate/);
    assert.throws(() => dpSgdEpsilon({ sampleRate: 0.1, noiseMultiplier: 1, steps: 1, delta: 1 }), /delta/);
  });
});

describe('DP-SGD', () => {
  it('clips every per-example logistic gradient to C: the clipped gradient is min(‖g_i‖, C)·g_i/‖g_i‖', () => {
    const { x, target } = standardized('wine');
    const d = x.cols;
    const k = 3;
    const rng = new Random(1);
    const params = Float64Array.from({ length: k * d + k }, () => rng.normal());
    const data = { x: x.data, y: target.values, sw: null, rows: x.rows, cols: d, outputs: k };
    const full = new Float64Array(params.length);
    const single = new Float64Array(params.length);
    const scratch = new Float64Array(k);
    const C = 1.5;
    let clipped = 0;
    for (let i = 0; i < x.rows; i++) {
      logisticChunk(data, params, i, i + 1, full, scratch);
      const norm = Math.hypot(...full);
      single.fill(0);
      const seen: number[] = [];
      accumulateClippedLogistic(x.data, target.values, d, k, params, [i], C, true, single, scratch, (_, n, c) => seen.push(n, c));
      const got = Math.hypot(...single);
      assert.ok(got <= C * (1 + 1e-12), `row ${i}: ${got}`);
      assert.ok(Math.abs(got - Math.min(norm, C)) < 1e-10 * Math.max(1, norm));
      assert.ok(Math.abs(seen[0] - norm) < 1e-10 * Math.max(1, norm), 'the norm without materializing the gradient');
      const f = Math.min(1, C / norm);
      for (let j = 0; j < params.length; j++) assert.ok(Math.abs(single[j] - f * full[j]) < 1e-12 * Math.max(1, Math.abs(full[j])));
      if (norm > C) clipped++;
    }
    assert.ok(clipped > x.rows / 4, `clipping engaged on ${clipped} rows`);
  });

  it('clips every per-example MLP gradient, with norms equal to finite-difference gradients', async () => {
    const { x, target } = standardized('breast_cancer');
    const layers = [x.cols, 6, 1];
    const rng = new Random(4);
    const initial = new MlpModel({
      task: 'binary', nClasses: 2, layers,
      weights: [Float64Array.from({ length: x.cols * 6 }, () => 0.4 * rng.normal()), Float64Array.from({ length: 6 }, () => rng.normal())],
      biases: [Float64Array.from({ length: 6 }, () => 0.1 * rng.normal()), Float64Array.of(0.2)],
    });
    const seen: { row: number; norm: number; clipped: number }[] = [];
    const C = 0.5;
    // one DP step (epochs · n / batchSize = 1) from known weights
    await fitMlp(x, target, { task: 'binary', nClasses: 2, seed: 8 }, { hiddenLayerSizes: [6], dp: { noiseMultiplier: 1, maxGradNorm: C, batchSize: 12, epochs: 12 / x.rows } }, {
      initial,
      observe: (row, norm, clipped) => seen.push({ row, norm, clipped }),
    });
    assert.ok(seen.length > 3, `${seen.length} examples in the Poisson batch`);
    const loss = (m: MlpModel, row: number) => {
      const p = m.predict({ rows: 1, cols: x.cols, data: x.data.subarray(row * x.cols, (row + 1) * x.cols) })[0];
      return target.values[row] === 1 ? -Math.log(p) : -Math.log(1 - p);
    };
    for (const { row, norm, clipped } of seen) {
      assert.ok(clipped <= C * (1 + 1e-12));
      assert.ok(Math.abs(clipped - Math.min(norm, C)) < 1e-12);
      let sq = 0;
      const h = 1e-6;
      for (const arrays of [initial.weights, initial.biases]) {
        for (const arr of arrays) {
          for (let j = 0; j < arr.length; j++) {
            const keep = arr[j];
            arr[j] = keep + h;
            const up = loss(initial, row);
            arr[j] = keep - h;
            const down = loss(initial, row);
            arr[j] = keep;
            sq += ((up - down) / (2 * h)) ** 2;
          }
        }
      }
      assert.ok(rel(norm, Math.sqrt(sq)) < 1e-5, `row ${row}: ghost norm ${norm}, finite differences ${Math.sqrt(sq)}`);
    }
    assert.ok(seen.some((s) => s.norm > C), 'clipping engaged');
  });

  it('samples Poisson batches at rate q and fixed batches that cover each epoch once', () => {
    const poisson = new BatchSampler(1000, { batchSize: 50, epochs: 5, sampling: 'poisson' }, new Random(1));
    assert.equal(poisson.steps, 100);
    let total = 0;
    for (let s = 0; s < poisson.steps; s++) total += poisson.next().length;
    assert.ok(Math.abs(total / poisson.steps - 50) < 3, `mean batch ${total / poisson.steps}`);
    // every row, first and last included, joins independently with probability q: counts ~ Binomial(4000, 0.05)
    const sampler = new BatchSampler(200, { batchSize: 10, epochs: 200, sampling: 'poisson' }, new Random(7));
    const counts = new Float64Array(200);
    for (let s = 0; s < sampler.steps; s++) for (const i of sampler.next()) counts[i]++;
    const expected = sampler.steps * 0.05;
    let chi2 = 0;
    for (const c of counts) {
      assert.ok(Math.abs(c - expected) < 6 * Math.sqrt(expected * 0.95), `count ${c}, expected ${expected}`);
      chi2 += (c - expected) ** 2 / (expected * 0.95);
    }
    // χ² with 200 degrees of freedom: mean 200, sd 20
    assert.ok(chi2 > 120 && chi2 < 290, `χ² ${chi2}`);
    const fixed = new BatchSampler(1000, { batchSize: 100, epochs: 1, sampling: 'fixed' }, new Random(1));
    const rows = new Set<number>();
    for (let s = 0; s < fixed.steps; s++) {
      const b = fixed.next();
      assert.equal(b.length, 100);
      for (const i of b) rows.add(i);
    }
    assert.equal(rows.size, 1000);
  });

  it('trains a private logistic regression that still predicts, reports ε for δ, and repeats for a seed', async () => {
    const { x, target } = standardized('breast_cancer');
    const dp = { noiseMultiplier: 1.0, maxGradNorm: 1.0, batchSize: 64, epochs: 20, delta: 1e-5, learningRate: 0.5 };
    const a = await fitLogisticRegression(x, target, { task: 'binary', nClasses: 2, seed: 3 }, { dp });
    const b = await fitLogisticRegression(x, target, { task: 'binary', nClasses: 2, seed: 3 }, { dp });
    assert.deepEqual(Array.from(a.coef), Array.from(b.coef));
    const steps = Math.ceil((20 * x.rows) / 64);
    const expected = dpSgdEpsilon({ sampleRate: 64 / x.rows, noiseMultiplier: 1, steps, delta: 1e-5 });
    assert.equal(a.privacy!.steps, steps);
    assert.equal(a.privacy!.epsilon, expected.epsilon);
    assert.ok(a.privacy!.epsilon > 0 && Number.isFinite(a.privacy!.epsilon));
    const p = a.predict(x);
    const accuracy = Array.from(p).filter((v, i) => (v > 0.5 ? 1 : 0) === target.values[i]).length / x.rows;
    assert.ok(accuracy > 0.9, `accuracy ${accuracy}`);
    assert.deepEqual(a.toJSON().privacy, a.privacy);
  });

  it('trains a private MLP through a pipeline with the privacy report kept in the model', async () => {
    const table = readNumericCsv('wine');
    const { mlp } = await import('../mlp/mlp.ts');
    const pipeline = await fitPipeline(table, mlp({ hiddenLayerSizes: [16], learningRateInit: 0.01, dp: { noiseMultiplier: 0.8, maxGradNorm: 1, batchSize: 32, epochs: 30 } }), { target: 'target', task: 'classification', seed: 1 });
    const labels = pipeline.predictLabel(table);
    const y = table.columns.find((c) => c.name === 'target')!.values as Float64Array;
    const accuracy = Array.from(labels).filter((c, i) => c === y[i]).length / table.rows;
    assert.ok(accuracy > 0.85, `accuracy ${accuracy}`);
    const privacy = (pipeline.model as MlpModel).privacy!;
    assert.equal(privacy.sampling, 'poisson');
    assert.ok(privacy.epsilon > 1 && privacy.epsilon < 100, `ε ${privacy.epsilon}`);
    assert.throws(() => logisticRegression({ dp: { noiseMultiplier: -1, maxGradNorm: 1, batchSize: 8, epochs: 1 } }), /dp.noiseMultiplier: must be a number > 0/);
    assert.throws(() => logisticRegression({ dp: { noiseMultiplier: 1, maxGradNorm: 1, batchSize: 8, epochs: 1, sampling: 'shuffle' as 'fixed' } }), /dp.sampling/);
  });
});
