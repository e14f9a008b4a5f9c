/**
 * Explanations of external ONNX models, predicted through onnxruntime over the raw input columns:
 * a scikit-learn-style regressor (one [N, 1] input per column, one of them a string category mapped
 * inside the graph) on diabetes with a seeded noise column — KernelSHAP values of each row sum to the
 * prediction minus the base value, and permutation importance and mean |SHAP| rank the informative
 * columns above the noise; a scikit-learn multiclass classifier exported with a ZipMap — every class
 * explained, each summing to its probability, the classes' values of a feature cancelling (the
 * probabilities sum to 1). As an oracle for the onnxruntime path, a model trained by mloop is
 * registered again as an external file: its explanations through onnxruntime equal those of its
 * pipeline (same rows, coalitions and shuffles; float32 against float64 predictions), for every class.
 * mloop's own multiclass models explain every class too, with KernelSHAP and with TreeSHAP.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Random } from '../src/core/random.ts';
import { OnnxGraphBuilder, int } from '../src/training/onnx/builder.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { artifactAt, train, uploadCsv, uploadFixture } from './support/training.ts';

interface ShapOutput {
  output: string;
  class?: string;
  baseValue: number;
  meanAbs: { feature: string; value: number }[];
  examples: { row: number; prediction: number; values: Record<string, number> }[];
  maxAdditivityError: number;
}

/** diabetes with a standard normal `noise` column (seeded) and a text column `band` (age 50 or over: "old"). */
function diabetesWithNoise(): string {
  const lines = readFileSync(new URL('fixtures/data/diabetes.csv', import.meta.url), 'utf8').trim().split('\n');
  const random = new Random(7);
  return [`${lines[0]},noise,band`, ...lines.slice(1).map((l) => `${l},${random.normal().toFixed(6)},${Number(l.split(',')[0]) >= 50 ? 'old' : 'young'}`)].join('\n');
}

/** y = 9 bmi + 60 s5 + 2 noise + 15 [band = old] − 300, as skl2onnx writes a ColumnTransformer model: one input per column. */
function linearRegressor(): Uint8Array {
  const g = new OnnxGraphBuilder('sklearn');
  for (const n of ['bmi', 's5', 'noise']) g.input(n, 'float', ['N', 1]);
  g.input('band', 'string', ['N', 1]);
  const [code] = g.node('CategoryMapper', ['band'], 1, { cats_strings: ['young', 'old'], cats_int64s: { ints: [0, 1] }, default_int64: int(0) }, 'ai.onnx.ml');
  const [old] = g.node('Cast', [code], 1, { to: int(1) });
  g.constant('W', { type: 'float', dims: [4, 1], values: [9, 60, 2, 15] });
  g.constant('b', { type: 'float', dims: [1], values: [-300] });
  const [x] = g.node('Concat', ['bmi', 's5', 'noise', old], 1, { axis: int(1) });
  const [z] = g.node('MatMul', [x, 'W'], 1);
  g.node('Add', [z, 'b'], ['variable']);
  g.output('variable', 'float', ['N', 1]);
  return g.build({ producer: 'skl2onnx', metadata: {} });
}

function checkAdditivity(output: ShapOutput, tolerance: number): void {
  assert.ok(output.maxAdditivityError < tolerance, `${output.output}: additivity error ${output.maxAdditivityError}`);
  for (const ex of output.examples) {
    const sum = Object.values(ex.values).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(output.baseValue + sum - ex.prediction) < tolerance, `${output.output} row ${ex.row}: ${output.baseValue} + ${sum} vs ${ex.prediction}`);
  }
}

describe('explanations of external ONNX models', () => {
  let server: TestServer;
  async function evaluate(body: Record<string, unknown>): Promise<any> {
    const res = await server.json('POST', '/api/v1/evaluations?wait=true', { bootstrap: { n: 0 }, latency: { enabled: false }, ...body });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  }
  async function register(name: string, bytes: Uint8Array, query: string): Promise<void> {
    const res = await server.fetch(`/api/v1/models/${name}/versions/onnx?${query}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes as BodyInit });
    assert.equal(res.status, 201, await res.text());
  }

  before(async () => {
    server = await startTestServer();
    await uploadCsv(server, 'dn', diabetesWithNoise());
    await uploadFixture(server, 'wine', 'wine');
  });
  after(() => server?.close());

  it('regressor: SHAP values sum to the prediction minus the base value; the noise column ranks last', async () => {
    await register('linear-dn', linearRegressor(), 'target=target');
    const report = await evaluate({ model: 'linear-dn@1', dataset: 'dn@latest', shap: { rows: 10, background: 30 }, permutation: { n_repeats: 5 } });
    assert.equal(report.model.source, 'external');
    assert.ok(!report.notes.some((n: string) => /explanation/.test(n)), report.notes.join('; '));
    const perm = report.explanations.permutation;
    assert.equal(perm.metric, 'r2');
    assert.equal(perm.rows, 442);
    assert.deepEqual(perm.features.map((f: { feature: string }) => f.feature).sort(), ['band', 'bmi', 'noise', 's5']);
    const importance = Object.fromEntries(perm.features.map((f: { feature: string; mean: number }) => [f.feature, f.mean]));
    assert.equal(perm.features.at(-1).feature, 'noise', JSON.stringify(perm.features));
    assert.ok(importance.bmi > 10 * Math.abs(importance.noise) && importance.s5 > 10 * Math.abs(importance.noise), JSON.stringify(importance));
    assert.ok(importance.band > 0, 'the text column, mapped inside the graph, matters');

    const shap = report.explanations.shap;
    assert.equal(shap.method, 'kernel');
    assert.equal(shap.exact, true, 'four columns: every coalition');
    assert.deepEqual([shap.rows, shap.background, shap.outputs.length, shap.output], [10, 30, 1, 'target']);
    checkAdditivity(shap.outputs[0], 1e-9);
    assert.equal(shap.meanAbs.at(-1).feature, 'noise');
    // Linear in each column: a row's value for a column is w (x − mean over the background), so two rows
    // that share a band value share its contribution exactly, and the band's values take two levels.
    const bandValues = new Set(shap.outputs[0].examples.map((e: { values: Record<string, number> }) => e.values.band.toFixed(6)));
    assert.ok(bandValues.size <= 2, [...bandValues].join(', '));
  });

  it('multiclass ZipMap classifier: every class is explained, each summing to its probability', async () => {
    const { columns } = JSON.parse(readFileSync(new URL('fixtures/training/sklearn_zipmap.json', import.meta.url), 'utf8')).multiclass;
    await register('sk-wine', new Uint8Array(readFileSync(new URL('fixtures/training/sklearn_zipmap_multiclass.onnx', import.meta.url))), `target=target&columns=${columns.join(',')}`);
    const report = await evaluate({ model: 'sk-wine@1', dataset: 'wine@latest', shap: { rows: 6, background: 20 }, permutation: { n_repeats: 3 } });
    const shap = report.explanations.shap;
    assert.deepEqual(shap.outputs.map((o: ShapOutput) => [o.output, o.class]), [['P(target = 0)', '0'], ['P(target = 1)', '1'], ['P(target = 2)', '2']]);
    for (const o of shap.outputs) checkAdditivity(o, 1e-9);
    assert.deepEqual([shap.output, shap.baseValue], [shap.outputs[2].output, shap.outputs[2].baseValue], 'the top level is the last class, as before');
    // Probabilities sum to 1 (in float32), so base values do and each feature's values over the classes cancel.
    assert.ok(Math.abs(shap.outputs.reduce((s: number, o: ShapOutput) => s + o.baseValue, 0) - 1) < 1e-6);
    assert.equal(shap.outputs[0].examples.length, 5);
    for (let e = 0; e < 5; e++) {
      for (const f of columns) {
        const total = shap.outputs.reduce((s: number, o: ShapOutput) => s + o.examples[e].values[f], 0);
        assert.ok(Math.abs(total) < 1e-5, `row ${e} ${f}: values over the classes sum to ${total}`);
      }
    }
    assert.equal(report.explanations.permutation.metric, 'accuracy');
    assert.equal(report.explanations.permutation.features.length, columns.length);
  });

  it('a model trained by mloop, registered again as an external file, gets the explanations of its pipeline', async () => {
    await train(server, { dataset: 'wine@latest', target: 'target', model: 'logistic_regression', register_as: 'wine-lr', bootstrap: { n: 0 } });
    const mv = (await server.json('GET', '/api/v1/models/wine-lr/versions/1')).body;
    await register('wine-lr-ext', new Uint8Array(await artifactAt(server, mv.storage_location, 'model.onnx')), 'target=target&classes=0,1,2');
    const body = { dataset: 'wine@latest', shap: { rows: 4, background: 10, n_samples: 300 }, permutation: { n_repeats: 2 }, seed: 3 };
    const pipeline = (await evaluate({ ...body, model: 'wine-lr@1' })).explanations;
    const onnx = (await evaluate({ ...body, model: 'wine-lr-ext@1' })).explanations;
    assert.equal(onnx.shap.outputs.length, 3);
    assert.equal(onnx.shap.exact, false, '13 columns: sampled coalitions, the same for both');
    pipeline.shap.outputs.forEach((p: ShapOutput, k: number) => {
      const o: ShapOutput = onnx.shap.outputs[k];
      assert.equal(o.output, p.output);
      checkAdditivity(p, 1e-9);
      checkAdditivity(o, 1e-9);
      assert.ok(Math.abs(o.baseValue - p.baseValue) < 1e-5);
      p.examples.forEach((ex, e) => {
        for (const [f, v] of Object.entries(ex.values)) assert.ok(Math.abs(o.examples[e].values[f] - v) < 1e-5, `class ${k} row ${e} ${f}: onnx ${o.examples[e].values[f]} vs pipeline ${v}`);
      });
    });
    assert.equal(onnx.permutation.baseline, pipeline.permutation.baseline);
    const byName = (x: { features: { feature: string; mean: number }[] }) => Object.fromEntries(x.features.map((f) => [f.feature, f.mean]));
    const [a, b] = [byName(onnx.permutation), byName(pipeline.permutation)];
    for (const f of Object.keys(b)) assert.ok(Math.abs(a[f] - b[f]) < 0.02, `${f}: ${a[f]} vs ${b[f]}`);
  });

  it("mloop's own multiclass models: every class with KernelSHAP and with TreeSHAP", async () => {
    await train(server, { dataset: 'wine@latest', target: 'target', model: 'hist_gradient_boosting', params: { max_iter: 15 }, register_as: 'wine-hgbt', bootstrap: { n: 0 } });
    const kernel = (await evaluate({ model: 'wine-lr@1', dataset: 'wine@latest', shap: { rows: 3, background: 10 }, permutation: { enabled: false } })).explanations.shap;
    const tree = (await evaluate({ model: 'wine-hgbt@1', dataset: 'wine@latest', permutation: { enabled: false } })).explanations.shap;
    assert.deepEqual(kernel.outputs.map((o: ShapOutput) => o.output), ['P(target = 0)', 'P(target = 1)', 'P(target = 2)']);
    assert.deepEqual(tree.outputs.map((o: ShapOutput) => o.output), ['margin(target = 0)', 'margin(target = 1)', 'margin(target = 2)']);
    assert.equal(tree.rows, 178);
    for (const o of [...kernel.outputs, ...tree.outputs]) checkAdditivity(o, 1e-9);
    assert.notDeepEqual(tree.outputs[0].examples[0].values, tree.outputs[1].examples[0].values, 'each class has its own values');
  });
});
