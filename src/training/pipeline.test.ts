import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { MloopError } from '../core/errors.ts';
import { Random } from '../core/random.ts';
import { logisticRegression } from './linear/logistic.ts';
import { linearRegression, ridgeRegression } from './linear/ridge.ts';
import { mlp } from './mlp/mlp.ts';
import { checkOnnxModel } from './onnx/checker.ts';
import { type Estimator, fitPipeline, type Pipeline, restorePipeline } from './pipeline.ts';
import { histGradientBoosting, restoreHistGradientBoosting } from './trees/hgbt.ts';
import type { CategoricalColumn, FittedModel, NumericColumn, Table } from './types.ts';

type Task = 'binary' | 'multiclass' | 'regression';

/**
 * Rows with numeric and categorical features, missing values in both, and a target that depends on
 * them. With `unseen`, categoricals also take values never seen in training. Numbers are rounded to
 * float32 so that onnxruntime and TypeScript read the same inputs.
 */
function makeTable(rows: number, seed: number, task: Task, unseen = false): Table {
  const rng = new Random(seed);
  const n1 = new Float64Array(rows);
  const n2 = new Float64Array(rows);
  const n3 = new Float64Array(rows);
  const c1: (string | null)[] = [];
  const c2: (string | null)[] = [];
  const y = new Float64Array(rows);
  const labels: string[] = [];
  const c1Values = unseen ? ['a', 'b', 'c', 'd', 'e', 'zz'] : ['a', 'b', 'c', 'd'];
  for (let i = 0; i < rows; i++) {
    n1[i] = Math.fround(rng.normal());
    n2[i] = Math.fround(rng.next() * 100);
    n3[i] = Math.fround(-Math.log(1 - rng.next()));
    const a = c1Values[rng.int(c1Values.length)];
    const b = rng.next() < 0.5 ? 'x' : unseen && rng.next() < 0.2 ? 'w' : 'y';
    const s = n1[i] - 0.03 * (n2[i] - 50) + (a === 'a' ? 1 : a === 'b' ? -1 : 0) - (b === 'y' ? 0.5 : 0) + 0.5 * rng.normal();
    const s2 = 0.5 * n3[i] - n1[i] + (a === 'c' ? 1.5 : 0);
    // missing values after the target is drawn, so that they carry no signal
    if (rng.next() < 0.1) n1[i] = Number.NaN;
    if (rng.next() < 0.05) n2[i] = Number.NaN;
    c1.push(rng.next() < 0.1 ? null : a);
    c2.push(rng.next() < 0.05 ? '' : b);
    if (task === 'regression') y[i] = 2 * s + s2;
    else if (task === 'binary') labels.push(s > 0 ? 'yes' : 'no');
    else labels.push(s > 0.8 ? 'high' : s2 > 0.5 ? 'mid' : 'low');
  }
  const target = task === 'regression' ? ({ name: 'y', kind: 'numeric', values: y } satisfies NumericColumn) : ({ name: 'y', kind: 'categorical', values: labels } satisfies CategoricalColumn);
  return {
    rows,
    columns: [
      { name: 'n1', kind: 'numeric', values: n1 },
      { name: 'n2', kind: 'numeric', values: n2 },
      { name: 'n3', kind: 'numeric', values: n3 },
      { name: 'c1', kind: 'categorical', values: c1 },
      { name: 'c2', kind: 'categorical', values: c2 },
      target,
    ],
  };
}

function feeds(pipeline: Pipeline, table: Table): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const input of pipeline.signature().inputs) {
    const col = table.columns.find((c) => c.name === input.name)!;
    out[input.name] = col.kind === 'numeric'
      ? new ort.Tensor('float32', Float32Array.from(col.values), [table.rows, 1])
      : new ort.Tensor('string', col.values.map((v) => v ?? ''), [table.rows, 1]);
  }
  return out;
}

/** Fits on 1,500 rows, then compares onnxruntime with TypeScript on 1,200 new rows. */
async function parity(task: Task, estimator: Estimator): Promise<{ pipeline: Pipeline; maxDiff: number }> {
  const pipeline = await fitPipeline(makeTable(1500, 1, task), estimator, { target: 'y', task: task === 'regression' ? 'regression' : 'classification', seed: 42 });
  const test = makeTable(1200, 2, task, true);
  const { bytes, signature } = pipeline.exportOnnx();
  assert.equal(await checkOnnxModel(bytes), 'ok');
  const session = await ort.InferenceSession.create(bytes);
  assert.deepEqual([...session.inputNames].sort(), ['c1', 'c2', 'n1', 'n2', 'n3']);
  assert.deepEqual([...session.outputNames], signature.outputs.map((o) => o.name));
  const result = await session.run(feeds(pipeline, test));
  let maxDiff = 0;
  if (task === 'regression') {
    const want = pipeline.predict(test);
    const got = result.variable.data as Float32Array;
    assert.deepEqual(result.variable.dims, [1200, 1]);
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
  } else {
    const k = pipeline.model.nClasses;
    const want = pipeline.predictProba(test);
    const got = result.probabilities.data as Float32Array;
    assert.deepEqual(result.probabilities.dims, [1200, k]);
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
    const labels = pipeline.predictLabel(test);
    const onnxLabels = result.label.data as BigInt64Array;
    assert.deepEqual(result.label.dims, [1200]);
    for (let i = 0; i < labels.length; i++) {
      const row = Array.from(want.subarray(i * k, i * k + k)).sort((a, b) => b - a);
      if (row[0] - row[1] > 1e-5) assert.equal(Number(onnxLabels[i]), labels[i], `label of row ${i}`);
    }
  }
  assert.ok(maxDiff <= 1e-5, `max |onnx − ts| = ${maxDiff}`);
  if (process.env.MLOOP_TRACE_PARITY) process.stderr.write(`${estimator.kind} ${task}: max diff ${maxDiff.toExponential(2)}, fit quality ${quality(pipeline, test).toFixed(3)}\n`);
  assert.ok(quality(pipeline, test) > (task === 'regression' ? 0.5 : 0.6), 'the model learned the signal');
  const copy = restorePipeline(JSON.parse(JSON.stringify(pipeline.toJSON())), { hist_gradient_boosting: restoreHistGradientBoosting });
  assert.deepEqual(Array.from(copy.predict(test)), Array.from(pipeline.predict(test)));
  return { pipeline, maxDiff };
}

/** Accuracy (classification) or R² (regression) on `table`. */
function quality(pipeline: Pipeline, table: Table): number {
  const y = table.columns.find((c) => c.name === 'y')!;
  if (y.kind === 'numeric') {
    const p = pipeline.predict(table);
    const mean = y.values.reduce((s, v) => s + v, 0) / y.values.length;
    let res = 0;
    let tot = 0;
    y.values.forEach((v, i) => {
      res += (v - p[i]) ** 2;
      tot += (v - mean) ** 2;
    });
    return 1 - res / tot;
  }
  const predicted = pipeline.predictClass(table);
  return predicted.filter((c, i) => c === y.values[i]).length / table.rows;
}

describe('Pipeline ONNX parity (onnxruntime vs TypeScript on 1,200 rows with unseen categories and missing values)', () => {
  it('binary logistic regression', async () => {
    const { pipeline } = await parity('binary', logisticRegression());
    assert.deepEqual(pipeline.target.classes, ['no', 'yes']);
  });
  it('multinomial logistic regression', async () => {
    const { pipeline } = await parity('multiclass', logisticRegression({ C: 0.5 }));
    assert.deepEqual(pipeline.target.classes, ['high', 'low', 'mid']);
  });
  it('ridge regression', async () => {
    await parity('regression', ridgeRegression({ alpha: 1 }));
  });
  it('MLP classifier (binary and multiclass, two hidden layers)', async () => {
    await parity('binary', mlp({ hiddenLayerSizes: [16, 8], maxIter: 40 }));
    await parity('multiclass', mlp({ hiddenLayerSizes: [16, 8], maxIter: 40 }));
  });
  it('MLP regressor', async () => {
    await parity('regression', mlp({ hiddenLayerSizes: [16], maxIter: 40, learningRateInit: 0.01 }));
  });
  it('linear regression (least squares, minimum norm over the one-hot blocks)', async () => {
    await parity('regression', linearRegression());
  });
  for (const task of ['binary', 'multiclass', 'regression'] as const) {
    it(`histogram gradient boosting, ${task} (ordinal categories and missing values into TreeEnsemble${task === 'regression' ? 'Regressor' : 'Classifier'})`, async () => {
      const { pipeline } = await parity(task, histGradientBoosting({ max_iter: 40 }));
      assert.equal(pipeline.preprocessor.featureNames.length, 5, 'one feature per raw column');
    });
  }
});

describe('Pipeline', () => {
  it('writes the signature and metadata into the file', async () => {
    const pipeline = await fitPipeline(makeTable(300, 3, 'binary'), logisticRegression(), { target: 'y', task: 'classification', seed: 0 });
    const { bytes, signature } = pipeline.exportOnnx({ metadata: { 'mloop.run_id': 'r1' } });
    assert.deepEqual(signature.inputs.map((i) => [i.name, i.type, i.shape.join('x')]), [
      ['n1', 'float', 'Nx1'], ['n2', 'float', 'Nx1'], ['n3', 'float', 'Nx1'], ['c1', 'string', 'Nx1'], ['c2', 'string', 'Nx1'],
    ]);
    assert.deepEqual(signature.outputs, [{ name: 'label', type: 'int64', shape: ['N'] }, { name: 'probabilities', type: 'float', shape: ['N', 2] }]);
    const model = onnxProto.onnx.ModelProto.decode(bytes);
    const meta = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
    assert.equal(meta['mloop.run_id'], 'r1');
    assert.deepEqual(JSON.parse(meta['mloop.classes']), ['no', 'yes']);
    assert.deepEqual(JSON.parse(meta['mloop.signature']), JSON.parse(JSON.stringify(signature)));
    assert.equal(meta['mloop.feature_names'], JSON.stringify(pipeline.preprocessor.featureNames));
  });

  it('exports tables with only numeric or only categorical columns (breast_cancer; a one-hot-only table)', async () => {
    const { readNumericCsv } = await import('../../test/support/training-data.ts');
    const cancer = readNumericCsv('breast_cancer');
    const numeric = await fitPipeline(cancer, logisticRegression(), { target: 'target', task: 'classification', seed: 0 });
    const rng = new Random(12);
    const c: (string | null)[] = Array.from({ length: 400 }, () => ['p', 'q', 'r', null][rng.int(4)]);
    const y: string[] = c.map((v) => (v === 'p' || (v === null && rng.next() < 0.5) ? 'A' : 'B'));
    const categorical = await fitPipeline({ rows: 400, columns: [{ name: 'c', kind: 'categorical', values: c }, { name: 'y', kind: 'categorical', values: y }] }, logisticRegression(), { target: 'y', task: 'classification', seed: 0 });
    const unseen: Table = { rows: 5, columns: [{ name: 'c', kind: 'categorical', values: ['p', 'q', 's', '', null] }] };
    for (const [pipeline, table] of [[numeric, cancer], [categorical, unseen]] as const) {
      const { bytes } = pipeline.exportOnnx();
      assert.equal(await checkOnnxModel(bytes), 'ok');
      const session = await ort.InferenceSession.create(bytes);
      const got = (await session.run(feeds(pipeline, table))).probabilities.data as Float32Array;
      const want = pipeline.predictProba(table);
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-5, `row ${i >> 1}`);
    }
  });

  it('checks the input before any work: target, labels, classes, all-missing features, task', async () => {
    const t = makeTable(50, 4, 'binary');
    const code = (e: unknown) => e instanceof MloopError && e.code === 'INVALID_PARAMETER_VALUE';
    await assert.rejects(fitPipeline(t, logisticRegression(), { target: 'label', task: 'classification', seed: 0 }), (e) => code(e) && /column "label" is not in the table/.test((e as Error).message));
    await assert.rejects(fitPipeline(t, ridgeRegression(), { target: 'y', task: 'classification', seed: 0 }), (e) => code(e) && /linear_regression does not learn binary/.test((e as Error).message));
    const single: Table = { ...t, columns: t.columns.map((c) => (c.name === 'y' ? ({ name: 'y', kind: 'categorical', values: Array.from({ length: 50 }, () => 'yes') } satisfies CategoricalColumn) : c)) };
    await assert.rejects(fitPipeline(single, logisticRegression(), { target: 'y', task: 'classification', seed: 0 }), /at least two classes/);
    const empty: Table = { ...t, columns: t.columns.map((c) => (c.name === 'n3' ? { ...c, values: new Float64Array(50).fill(Number.NaN) } as NumericColumn : c)) };
    await assert.rejects(fitPipeline(empty, logisticRegression(), { target: 'y', task: 'classification', seed: 0 }), /column "n3": every value is missing/);
    await assert.rejects(fitPipeline(t, logisticRegression(), { target: 'y', task: 'classification', seed: 0.5 }), /seed/);
  });

  it('works with any FittedModel (here a hand-written one) and restores foreign kinds through a restorer', async () => {
    /** Predicts 0.25·first feature (regression), exported as Mul. */
    class Quarter implements FittedModel {
      readonly kind = 'hist_gradient_boosting' as const;
      readonly task = 'regression' as const;
      readonly nClasses = 1;
      constructor(readonly nFeatures: number) {}
      predict(x: { rows: number; cols: number; data: Float64Array }) {
        return Float64Array.from({ length: x.rows }, (_, i) => 0.25 * x.data[i * x.cols]);
      }
      toJSON() {
        return { kind: this.kind, nFeatures: this.nFeatures };
      }
      exportOnnx(g: import('./onnx/builder.ts').OnnxGraphBuilder, input: string) {
        const starts = g.constant(g.fresh('s'), { type: 'int64', dims: [1], values: [0] });
        const ends = g.constant(g.fresh('e'), { type: 'int64', dims: [1], values: [1] });
        const axes = g.constant(g.fresh('a'), { type: 'int64', dims: [1], values: [1] });
        const [first] = g.node('Slice', [input, starts, ends, axes], 1);
        const q = g.constant(g.fresh('q'), { type: 'float', dims: [1], values: [0.25] });
        return { value: g.node('Mul', [first, q], 1)[0] };
      }
    }
    const estimator: Estimator = { kind: 'hist_gradient_boosting', tasks: ['regression'], preprocess: { numericImputation: 'none', standardize: false }, params: {}, fit: (x) => new Quarter(x.cols) };
    const train = makeTable(200, 5, 'regression');
    const pipeline = await fitPipeline(train, estimator, { target: 'y', task: 'regression', seed: 0 });
    const test = makeTable(100, 6, 'regression', true);
    const session = await ort.InferenceSession.create(pipeline.exportOnnx().bytes);
    const out = (await session.run(feeds(pipeline, test))).variable.data as Float32Array;
    const want = pipeline.predict(test);
    for (let i = 0; i < want.length; i++) {
      // no imputation for this model: NaN flows through both paths
      if (Number.isNaN(want[i])) assert.ok(Number.isNaN(out[i]));
      else assert.ok(Math.abs(out[i] - want[i]) < 1e-6);
    }
    assert.ok(want.some(Number.isNaN), 'missing values reached the model');
    assert.throws(() => restorePipeline(pipeline.toJSON()), /no restore function for model kind "hist_gradient_boosting"/);
    const copy = restorePipeline(pipeline.toJSON(), { hist_gradient_boosting: (s) => new Quarter(s.nFeatures as number) });
    assert.deepEqual(Array.from(copy.predict(test)), Array.from(want));
  });
});
