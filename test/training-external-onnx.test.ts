/**
 * ONNX files trained elsewhere: a PyTorch-style classifier (one [N, 4] feature-matrix input) and a
 * scikit-learn-style regressor (one [N, 1] input per column), built with mloop's ONNX builder, are
 * registered with their signature read from the file and then evaluated like built-in models. Files
 * whose tensors keep data outside the model's folder (CVE-2022-25882: absolute paths, `..`, drive
 * letters, URLs, percent-encoded escapes — in initializers, Constant nodes and subgraphs) are refused
 * with 400 and nothing is stored; so are files with in-folder external data (an upload is one file),
 * non-ONNX bytes and models onnxruntime cannot load. Also through the CLI. Classifiers exported as
 * skl2onnx exports them by default (a ZipMap writes `output_probability`, a sequence of maps; fitted by
 * scikit-learn in `scripts/fixtures/zipmap.py`) are registered with their task and classes and evaluated,
 * with scikit-learn's predictions as the oracle; an output named at registration that scoring cannot
 * read is refused with 400 naming it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import onnxProto, { type onnx as O } from 'onnx-proto';
import { OnnxGraphBuilder, int } from '../src/training/onnx/builder.ts';
import { tempDir } from './support/backends.ts';
import { runCli, spawnServer, type ServerProcess } from './support/process.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { trainingFixture } from './support/training-data.ts';
import { uploadFixture } from './support/training.ts';

const { onnx } = onnxProto;
const COLUMNS = ['mean_radius', 'mean_texture', 'mean_concave_points', 'worst_area'];
const ZIPMAP = trainingFixture<Record<'binary' | 'multiclass', { dataset: string; columns: string[]; classes: string[]; proba: number[][] }>>('sklearn_zipmap');
const zipMapModel = (name: 'binary' | 'multiclass') => new Uint8Array(readFileSync(new URL(`fixtures/training/sklearn_zipmap_${name}.onnx`, import.meta.url)));

/** Accuracy of scikit-learn's predictions (the arg max of predict_proba) against the dataset's labels. */
function oracleAccuracy(name: 'binary' | 'multiclass'): number {
  const { dataset, classes, proba } = ZIPMAP[name];
  const lines = readFileSync(new URL(`fixtures/data/${dataset}.csv`, import.meta.url), 'utf8').trim().split('\n');
  const target = lines[0].split(',').indexOf('target');
  let right = 0;
  proba.forEach((row, r) => {
    const predicted = classes[row.indexOf(Math.max(...row))];
    if (predicted === lines[r + 1].split(',')[target]) right++;
  });
  return right / proba.length;
}

/** A logistic model as torch.onnx exports one: MatMul, Add, Sigmoid over one [N, 4] input. */
function torchLikeClassifier(): Uint8Array {
  const g = new OnnxGraphBuilder('torch_jit');
  g.input('input', 'float', ['batch', 4]);
  g.constant('W', { type: 'float', dims: [4, 1], values: [-0.8, -0.25, -60, -0.01] });
  g.constant('b', { type: 'float', dims: [1], values: [25] });
  g.constant('one', { type: 'float', dims: [1], values: [1] });
  const [z] = g.node('MatMul', ['input', 'W'], 1);
  const [zb] = g.node('Add', [z, 'b'], 1);
  const [p1] = g.node('Sigmoid', [zb], 1);
  const [p0] = g.node('Sub', ['one', p1], 1);
  g.node('Concat', [p0, p1], ['probabilities'], { axis: int(1) });
  g.node('ArgMax', ['probabilities'], ['label'], { axis: int(1), keepdims: int(0) });
  g.output('probabilities', 'float', ['batch', 2]);
  g.output('label', 'int64', ['batch']);
  return g.build({ producer: 'pytorch', metadata: { framework: 'torch 2.1' } });
}

/** A linear regressor with one [N, 1] input per column, as skl2onnx writes a ColumnTransformer model. */
function sklearnLikeRegressor(): Uint8Array {
  const g = new OnnxGraphBuilder('sklearn');
  const names = ['bmi', 's5', 'bp'];
  for (const n of names) g.input(n, 'float', ['N', 1]);
  g.constant('W', { type: 'float', dims: [3, 1], values: [9, 60, 1] });
  g.constant('b', { type: 'float', dims: [1], values: [-300] });
  const [x] = g.node('Concat', names, 1, { axis: int(1) });
  const [z] = g.node('MatMul', [x, 'W'], 1);
  g.node('Add', [z, 'b'], ['variable']);
  g.output('variable', 'float', ['N', 1]);
  return g.build({ producer: 'skl2onnx', metadata: {} });
}

/** `bytes` with tensor `name` (an initializer) moved to external data at `location`. */
function withExternalInitializer(bytes: Uint8Array, name: string, location: string): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  const t = model.graph!.initializer!.find((x) => x.name === name)!;
  t.floatData = [];
  t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
  t.externalData = [onnx.StringStringEntryProto.create({ key: 'location', value: location }), onnx.StringStringEntryProto.create({ key: 'length', value: '16' })];
  return onnx.ModelProto.encode(model).finish();
}

/** `bytes` plus a Constant node whose tensor lives at `location`. */
function withExternalConstant(bytes: Uint8Array, location: string): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  const tensor: O.ITensorProto = { name: 'c', dims: [1], dataType: onnx.TensorProto.DataType.FLOAT, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL, externalData: [{ key: 'location', value: location }] };
  model.graph!.node!.unshift(onnx.NodeProto.create({ opType: 'Constant', name: 'leak', output: ['leaked'], attribute: [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: tensor }] }));
  return onnx.ModelProto.encode(model).finish();
}

/** `bytes` plus an If node whose `then` branch has an initializer at `location`. */
function withExternalSubgraph(bytes: Uint8Array, location: string): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  const branch = (data: O.ITensorProto): O.IGraphProto => ({
    name: 'branch',
    initializer: [data],
    output: [{ name: data.name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 1 }] } } } }],
  });
  const external: O.ITensorProto = { name: 'x_then', dims: [1], dataType: onnx.TensorProto.DataType.FLOAT, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL, externalData: [{ key: 'location', value: location }] };
  const plain: O.ITensorProto = { name: 'x_else', dims: [1], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [0] };
  model.graph!.initializer!.push({ name: 'cond', dims: [], dataType: onnx.TensorProto.DataType.BOOL, int32Data: [1] });
  model.graph!.node!.push(
    onnx.NodeProto.create({
      opType: 'If',
      name: 'branchy',
      input: ['cond'],
      output: ['unused'],
      attribute: [
        { name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch(external) },
        { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch(plain) },
      ],
    }),
  );
  return onnx.ModelProto.encode(model).finish();
}

async function upload(server: TestServer, name: string, bytes: Uint8Array, query = '', contentType = 'application/octet-stream') {
  const response = await server.fetch(`/api/v1/models/${name}/versions/onnx${query}`, { method: 'POST', headers: { 'content-type': contentType }, body: bytes as BodyInit });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

describe('external ONNX models', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await uploadFixture(server, 'bc', 'breast_cancer');
    await uploadFixture(server, 'diabetes', 'diabetes');
    await uploadFixture(server, 'wine', 'wine');
  });
  after(() => server?.close());

  for (const [name, dataset, keyType] of [['binary', 'bc', 'int64'], ['multiclass', 'wine', 'string']] as const) {
    it(`registers a scikit-learn ${name} classifier exported with a ZipMap and evaluates it`, async () => {
      const { columns, classes } = ZIPMAP[name];
      const res = await upload(server, `sk-zipmap-${name}`, zipMapModel(name), `?target=target&columns=${columns.join(',')}`);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const sig = res.body.signature;
      assert.deepEqual(sig.outputs, [
        { name: 'output_label', type: keyType, shape: [null] },
        { name: 'output_probability', type: `seq(map(${keyType},float))`, shape: [] },
      ]);
      assert.equal(sig.task, name);
      assert.deepEqual(sig.classes, classes);
      assert.equal(sig.probabilitiesOutput, 'output_probability');
      assert.equal(sig.zipMapInput, 'probabilities');
      assert.equal(sig.producer.name, 'skl2onnx');
      const ev = await server.json('POST', '/api/v1/evaluations?wait=true', { model: `sk-zipmap-${name}@1`, dataset: `${dataset}@latest`, bootstrap: { n: 0 }, latency: { runs: 10 } });
      assert.equal(ev.status, 201, JSON.stringify(ev.body));
      assert.equal(ev.body.metrics.accuracy.value, oracleAccuracy(name));
      assert.ok(ev.body.latency.p50_ms > 0);
    });
  }

  it('refuses, at registration, a named output that is not numeric', async () => {
    const models = (await server.json('GET', '/api/v1/models')).body.models.length;
    const asProbabilities = await upload(server, 'sk-bad', zipMapModel('binary'), '?probabilities_output=output_label');
    assert.equal(asProbabilities.status, 400, JSON.stringify(asProbabilities.body));
    assert.deepEqual(asProbabilities.body.errors.map((e: { field: string }) => e.field), ['probabilities_output']);
    assert.match(asProbabilities.body.detail, /output "output_label" is int64/);
    const asValues = await upload(server, 'sk-bad', zipMapModel('binary'), '?task=regression&value_output=output_probability');
    assert.equal(asValues.status, 400, JSON.stringify(asValues.body));
    assert.deepEqual(asValues.body.errors.map((e: { field: string }) => e.field), ['value_output']);
    assert.match(asValues.body.detail, /output "output_probability" is seq\(map\(int64,float\)\)/);
    assert.equal((await server.json('GET', '/api/v1/models')).body.models.length, models);
  });

  it('registers a torch-style classifier with its signature and evaluates it', async () => {
    const res = await upload(server, 'torch-bc', torchLikeClassifier(), `?target=target&columns=${COLUMNS.join(',')}&description=imported`);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const sig = res.body.signature;
    assert.deepEqual(sig.inputs, [{ name: 'input', type: 'float', shape: ['batch', 4], columns: COLUMNS }]);
    assert.deepEqual(sig.outputs, [{ name: 'probabilities', type: 'float', shape: ['batch', 2] }, { name: 'label', type: 'int64', shape: ['batch'] }]);
    assert.equal(sig.task, 'binary');
    assert.deepEqual(sig.classes, ['0', '1']);
    assert.equal(sig.probabilitiesOutput, 'probabilities');
    assert.equal(sig.producer.name, 'pytorch');
    const mv = res.body.model_version;
    assert.equal(mv.version, '1');
    assert.match(mv.source, /^mlflow-artifacts:\/imported-models\/[0-9a-f]{64}\/[0-9a-f]{12}$/);
    const tags = Object.fromEntries(mv.tags.map((t: { key: string; value: string }) => [t.key, t.value]));
    assert.equal(tags['mloop.source'], 'pytorch 0.1.0');
    assert.equal(tags['mloop.task'], 'binary');
    assert.match(tags['mloop.onnx_sha256'], /^[0-9a-f]{64}$/);
    assert.equal(mv.description, 'imported');

    const ev = await server.json('POST', '/api/v1/evaluations?wait=true', { model: 'torch-bc@1', dataset: 'bc@latest', bootstrap: { n: 0 } });
    assert.equal(ev.status, 201, JSON.stringify(ev.body));
    assert.equal(ev.body.model.source, 'external');
    assert.ok(ev.body.metrics.roc_auc.value > 0.9, `hand-set weights separate the classes: ${ev.body.metrics.roc_auc.value}`);
    assert.deepEqual(ev.body.explanations.permutation.features.map((f: { feature: string }) => f.feature).sort(), [...COLUMNS].sort(), 'explained through onnxruntime (test/evaluation-external-explain.test.ts)');
    assert.equal(ev.body.explanations.shap.output, 'P(target = 1)');
    assert.ok(ev.body.latency.p99_ms > 0);
    const card = await (await server.fetch('/api/v1/models/torch-bc/versions/1/card')).text();
    assert.match(card, /external ONNX \(pytorch 0\.1\.0\)/);
  });

  it('registers a scikit-learn-style regressor with one input per column, guessing the task', async () => {
    const res = await upload(server, 'sk-diabetes', sklearnLikeRegressor(), '?target=target');
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.signature.task, 'regression');
    assert.equal(res.body.signature.valueOutput, 'variable');
    assert.deepEqual(res.body.signature.inputs.map((i: { name: string }) => i.name), ['bmi', 's5', 'bp']);
    const ev = await server.json('POST', '/api/v1/evaluations?wait=true', { model: 'sk-diabetes', dataset: 'diabetes@latest', bootstrap: { n: 0 }, latency: { enabled: false } });
    assert.equal(ev.status, 201, JSON.stringify(ev.body));
    assert.ok(Number.isFinite(ev.body.metrics.rmse.value));
  });

  const escapes = ['/etc/passwd', '../../../../etc/passwd', 'weights/../../secret.bin', '..\\..\\Windows\\win.ini', 'C:\\Windows\\win.ini', '\\\\server\\share\\w.bin', 'file:///etc/passwd', 'https://example.com/w.bin', '%2e%2e/%2e%2e/etc/shadow', '~/.ssh/id_rsa'];
  for (const location of escapes) {
    it(`refuses external data at ${JSON.stringify(location)} (CVE-2022-25882) and stores nothing`, async () => {
      const models = (await server.json('GET', '/api/v1/models')).body.models.length;
      for (const bytes of [withExternalInitializer(torchLikeClassifier(), 'W', location), withExternalConstant(torchLikeClassifier(), location), withExternalSubgraph(torchLikeClassifier(), location)]) {
        const res = await upload(server, 'evil', bytes, `?columns=${COLUMNS.join(',')}`);
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.deepEqual(res.body.errors.map((e: { field: string }) => e.field), ['file']);
        assert.match(res.body.detail, /outside the model's folder/);
        assert.match(res.body.detail, /CVE-2022-25882/);
      }
      assert.equal((await server.json('GET', '/api/v1/models')).body.models.length, models);
      assert.equal((await server.json('GET', '/api/v1/models/evil')).status, 404);
    });
  }

  it('names the tensor that holds the unsafe location', async () => {
    const res = await upload(server, 'evil', withExternalSubgraph(torchLikeClassifier(), '../x.bin'));
    assert.match(res.body.detail, /tensor "node branchy subgraph then_branch: initializer x_then"/);
  });

  it('refuses external data inside the folder too, saying how to save a self-contained file', async () => {
    const res = await upload(server, 'split', withExternalInitializer(torchLikeClassifier(), 'W', 'weights.bin'));
    assert.equal(res.status, 400);
    assert.match(res.body.detail, /upload one self-contained ONNX file/);
    assert.match(res.body.detail, /save_as_external_data=False/);
  });

  it('refuses bytes that are not ONNX, models onnxruntime cannot load, bad options and wrong content types', async () => {
    const notOnnx = await upload(server, 'junk', new TextEncoder().encode('this is not a model at all, just text'));
    assert.equal(notOnnx.status, 400);
    assert.deepEqual(notOnnx.body.errors.map((e: { field: string }) => e.field), ['file']);
    assert.equal((await upload(server, 'junk', new Uint8Array(0))).status, 400);
    const g = new OnnxGraphBuilder('broken');
    g.input('x', 'float', ['N', 1]);
    g.node('NoSuchOperator', ['x'], ['y']);
    g.output('y', 'float', ['N', 1]);
    const broken = await upload(server, 'junk', g.build());
    assert.equal(broken.status, 400);
    assert.match(broken.body.detail, /onnxruntime cannot load the model/);
    const badColumns = await upload(server, 'junk', torchLikeClassifier(), '?columns=a,b');
    assert.equal(badColumns.status, 400);
    assert.deepEqual(badColumns.body.errors.map((e: { field: string }) => e.field), ['columns']);
    const badOutput = await upload(server, 'junk', torchLikeClassifier(), '?probabilities_output=nope');
    assert.deepEqual(badOutput.body.errors.map((e: { field: string }) => e.field), ['probabilities_output']);
    assert.equal((await upload(server, 'junk', torchLikeClassifier(), '', 'text/plain')).status, 415);
    assert.equal((await upload(server, 'junk', torchLikeClassifier(), '', 'application/json')).status, 400);
    assert.equal((await server.json('GET', '/api/v1/models/junk')).status, 404);
  });
});

describe('mloop models register-onnx', () => {
  let server: ServerProcess;
  let work: { path: string; cleanup(): Promise<void> };
  let home: { path: string; cleanup(): Promise<void> };
  before(async () => {
    home = await tempDir();
    work = await tempDir();
    server = await spawnServer(['--home', home.path], { MLOOP_LOG_LEVEL: 'warn' });
  });
  after(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    await home?.cleanup();
    await work?.cleanup();
  });

  it('registers a file and refuses an unsafe one', async () => {
    const good = join(work.path, 'model.onnx');
    const evil = join(work.path, 'evil.onnx');
    await writeFile(good, torchLikeClassifier());
    await writeFile(evil, withExternalInitializer(torchLikeClassifier(), 'W', '../../etc/passwd'));
    const ok = await runCli(['models', 'register-onnx', 'torch', good, '--columns', COLUMNS.join(','), '--target', 'target', '--url', server.url]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /registered torch version 1 \(binary\)/);
    assert.match(ok.stdout, /input\s+input\s+float\s+\[batch, 4\]/);
    const json = JSON.parse((await runCli(['models', 'register-onnx', 'torch', good, '--json', '--url', server.url])).stdout);
    assert.equal(json.model_version.version, '2');
    const bad = await runCli(['models', 'register-onnx', 'torch', evil, '--url', server.url]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /CVE-2022-25882/);
  });

  it('registers a scikit-learn classifier with a ZipMap, naming its outputs, and refuses a non-numeric one', async () => {
    const file = join(work.path, 'sklearn.onnx');
    await writeFile(file, zipMapModel('binary'));
    const columns = ZIPMAP.binary.columns.join(',');
    const ok = await runCli(['models', 'register-onnx', 'sk', file, '--columns', columns, '--target', 'target', '--probabilities-output', 'output_probability', '--label-output', 'output_label', '--json', '--url', server.url]);
    assert.equal(ok.code, 0, ok.stderr);
    const sig = JSON.parse(ok.stdout).signature;
    assert.deepEqual([sig.task, sig.probabilitiesOutput, sig.labelOutput, sig.zipMapInput], ['binary', 'output_probability', 'output_label', 'probabilities']);
    const bad = await runCli(['models', 'register-onnx', 'sk', file, '--columns', columns, '--probabilities-output', 'output_label', '--url', server.url]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /probabilities_output: output "output_label" is int64/);
  });
});
