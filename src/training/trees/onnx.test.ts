import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { Random } from '../../core/random.ts';
import { OnnxGraphBuilder } from '../onnx/builder.ts';
import { checkOnnxModel } from '../onnx/checker.ts';
import type { Matrix, Task } from '../types.ts';
import { type HistGradientBoostingModel, fitHistGradientBoosting, restoreHistGradientBoosting } from './hgbt.ts';

/** 2,000 rows of 6 features, 12% of the values missing, with a target of each task. */
function data(seed: number) {
  const rng = new Random(seed);
  const n = 2000;
  const F = 6;
  const x: Matrix = { rows: n, cols: F, data: Float64Array.from({ length: n * F }, () => (rng.next() < 0.12 ? Number.NaN : rng.normal() * 3)) };
  const v = (i: number, f: number) => (Number.isNaN(x.data[i * F + f]) ? -1 : x.data[i * F + f]);
  const binary = Float64Array.from({ length: n }, (_, i) => (v(i, 0) + v(i, 1) * v(i, 2) + rng.normal() > 0 ? 1 : 0));
  const multiclass = Float64Array.from({ length: n }, (_, i) => Math.min(3, Math.max(0, Math.floor(v(i, 0) / 2 + 1.5 + rng.normal() * 0.5))));
  const regression = Float64Array.from({ length: n }, (_, i) => v(i, 0) + Math.sin(v(i, 1)) + 0.3 * rng.normal());
  return { x, binary, multiclass, regression };
}

async function runOnnx(model: HistGradientBoostingModel, x: Matrix): Promise<{ bytes: Uint8Array; out: Float32Array; dims: readonly number[] }> {
  const graph = new OnnxGraphBuilder('hgbt');
  graph.input('features', 'float', ['N', model.nFeatures]);
  const outputs = model.exportOnnx(graph, 'features');
  const name = outputs.probabilities ?? outputs.value;
  assert.ok(name);
  graph.output(name, 'float', ['N', model.task === 'regression' ? 1 : model.nClasses]);
  const bytes = graph.build();
  const session = await ort.InferenceSession.create(bytes);
  const result = await session.run({ features: new ort.Tensor('float32', Float32Array.from(x.data), [x.rows, x.cols]) });
  return { bytes, out: result[name].data as Float32Array, dims: result[name].dims };
}

describe('ONNX export (ai.onnx.ml TreeEnsemble*) agrees with TypeScript', () => {
  const d = data(7);
  const cases: [Task, Float64Array, number, string][] = [
    ['binary', d.binary, 2, 'TreeEnsembleClassifier, LOGISTIC'],
    ['multiclass', d.multiclass, 4, 'TreeEnsembleClassifier, SOFTMAX'],
    ['regression', d.regression, 1, 'TreeEnsembleRegressor'],
  ];
  for (const [task, y, k, op] of cases) {
    it(`${task} (${op}) on 2,000 rows with missing values, within 1e-5; passes onnx.checker`, async () => {
      const model = await fitHistGradientBoosting(d.x, { task, values: y }, { task, nClasses: k, seed: 0 }, { max_iter: 60 });
      assert.ok(model.trees.some((t) => t.feature.some((f, i) => f >= 0 && t.missingLeft[i] === 1)), 'some split sends missing values left');
      const { bytes, out, dims } = await runOnnx(model, d.x);
      const expected = model.predict(d.x);
      if (task === 'binary') {
        assert.deepEqual(dims, [d.x.rows, 2]);
        for (let i = 0; i < d.x.rows; i++) {
          assert.ok(Math.abs(out[2 * i + 1] - expected[i]) < 1e-5, `row ${i}: ${out[2 * i + 1]} vs ${expected[i]}`);
          assert.ok(Math.abs(out[2 * i] - (1 - expected[i])) < 1e-5);
        }
      } else {
        assert.deepEqual(dims, [d.x.rows, task === 'regression' ? 1 : k]);
        for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(out[i] - expected[i]) < 1e-5, `value ${i}: ${out[i]} vs ${expected[i]}`);
      }
      assert.equal(await checkOnnxModel(bytes), 'ok');
    });
  }

  it('a split on missingness alone (+Infinity threshold) exports and agrees', async () => {
    const rng = new Random(3);
    const n = 1500;
    const y = Float64Array.from({ length: n }, () => (rng.next() < 0.5 ? 1 : 0));
    const x: Matrix = { rows: n, cols: 2, data: new Float64Array(2 * n) };
    for (let i = 0; i < n; i++) {
      x.data[2 * i] = y[i] === 1 && rng.next() < 0.9 ? Number.NaN : rng.normal();
      x.data[2 * i + 1] = rng.normal();
    }
    const model = await fitHistGradientBoosting(x, { task: 'binary', values: y }, { task: 'binary', nClasses: 2, seed: 0 }, { max_iter: 10 });
    assert.equal(model.trees[0].threshold[0], Number.POSITIVE_INFINITY, 'the first split separates missing from present values');
    const { out, bytes } = await runOnnx(model, x);
    const expected = model.predict(x);
    for (let i = 0; i < n; i++) assert.ok(Math.abs(out[2 * i + 1] - expected[i]) < 1e-5);
    assert.equal(await checkOnnxModel(bytes), 'ok');
  });

  it('a restored model exports the same predictions', async () => {
    const model = await fitHistGradientBoosting(d.x, { task: 'binary', values: d.binary }, { task: 'binary', nClasses: 2, seed: 1 }, { max_iter: 20 });
    const copy = restoreHistGradientBoosting(JSON.parse(JSON.stringify(model)));
    assert.deepEqual((await runOnnx(copy, d.x)).out, (await runOnnx(model, d.x)).out);
  });

  it('values on both sides of every threshold take the same branch as TypeScript', async () => {
    // Rows placed exactly on, just below and just above each threshold of the first trees.
    const model = await fitHistGradientBoosting(d.x, { task: 'regression', values: d.regression }, { task: 'regression', nClasses: 1, seed: 0 }, { max_iter: 5 });
    const rows: number[] = [];
    for (const tree of model.trees) {
      tree.feature.forEach((f, i) => {
        if (f < 0 || !Number.isFinite(tree.threshold[i])) return;
        const t = tree.threshold[i];
        for (const v of [t, t * (1 - 1e-7), t * (1 + 1e-7), t - 1e-30]) {
          const row = new Array(6).fill(0);
          row[f] = v;
          rows.push(...row);
        }
      });
    }
    const x: Matrix = { rows: rows.length / 6, cols: 6, data: Float64Array.from(rows) };
    assert.ok(x.rows >= 100);
    const { out } = await runOnnx(model, x);
    const expected = model.predict(x);
    for (let i = 0; i < x.rows; i++) assert.ok(Math.abs(out[i] - expected[i]) < 1e-5, `row ${i}`);
  });
});
