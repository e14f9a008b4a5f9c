/**
 * Training jobs over HTTP: every model kind on breast_cancer (binary), wine (multiclass) and diabetes
 * (regression) uploaded as datasets. For each: the ONNX artifact scores the holdout within 1e-5 of the
 * pipeline (relative for regression), and the platform recorded the run (params with seeds, holdout
 * metrics with intervals, code version and model kind tags, the dataset input, the model files), the
 * registered version (source, lineage tags), the dataset dependents and the lineage edges. Logistic and
 * ridge predictions are checked against scikit-learn fitted on the same training rows. Metadata on
 * SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import * as ort from 'onnxruntime-node';
import { systemContext } from '../src/core/context.ts';
import { EXTRA_RESTORERS } from '../src/training/estimators.ts';
import { float32Table } from '../src/training/compute.ts';
import { subsetTable } from '../src/training/cv.ts';
import { restorePipeline, type PipelineState } from '../src/training/pipeline.ts';
import { feedsOf } from '../src/training/scoring.ts';
import { metadataBackends } from './support/backends.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { runArtifact, train, uploadCsv, uploadFixture } from './support/training.ts';

const ctx = systemContext();

interface Case {
  readonly data: 'bc' | 'wine' | 'diabetes';
  readonly model: string;
  readonly params?: Record<string, unknown>;
  readonly task: 'binary' | 'multiclass' | 'regression';
  /** The holdout metric that must reach `min` (a sanity floor, not an oracle). */
  readonly metric: string;
  readonly min?: number;
  readonly max?: number;
}

const CASES: Case[] = [
  { data: 'bc', model: 'logistic_regression', task: 'binary', metric: 'roc_auc', min: 0.98 },
  { data: 'bc', model: 'hist_gradient_boosting', params: { max_iter: 30 }, task: 'binary', metric: 'roc_auc', min: 0.97 },
  { data: 'bc', model: 'mlp', params: { hidden_layer_sizes: [16], max_iter: 60 }, task: 'binary', metric: 'roc_auc', min: 0.95 },
  { data: 'wine', model: 'logistic_regression', task: 'multiclass', metric: 'accuracy', min: 0.9 },
  { data: 'wine', model: 'hist_gradient_boosting', params: { max_iter: 20 }, task: 'multiclass', metric: 'accuracy', min: 0.8 },
  { data: 'wine', model: 'mlp', params: { hiddenLayerSizes: [16], maxIter: 80 }, task: 'multiclass', metric: 'accuracy', min: 0.8 },
  { data: 'diabetes', model: 'ridge', params: { alpha: 1 }, task: 'regression', metric: 'r2', min: 0.3 },
  { data: 'diabetes', model: 'linear_regression', task: 'regression', metric: 'r2', min: 0.3 },
  { data: 'diabetes', model: 'hist_gradient_boosting', params: { max_iter: 20 }, task: 'regression', metric: 'r2', min: 0.1 },
  { data: 'diabetes', model: 'mlp', params: { hiddenLayerSizes: [8], maxIter: 50, learningRateInit: 0.01 }, task: 'regression', metric: 'rmse', max: 1000 },
];

const FILES = { bc: 'breast_cancer', wine: 'wine', diabetes: 'diabetes' } as const;

/** onnxruntime on the holdout vs the restored pipeline on the same float32 inputs. */
async function parity(server: TestServer, runId: string, dataset: string): Promise<{ maxAbs: number; maxRel: number; rows: number[]; onnx: Float64Array }> {
  const onnx = await runArtifact(server, runId, 'model/model.onnx');
  const state = JSON.parse((await runArtifact(server, runId, 'model/pipeline.json')).toString()) as PipelineState;
  const signature = JSON.parse((await runArtifact(server, runId, 'model/signature.json')).toString());
  const holdout = JSON.parse((await runArtifact(server, runId, 'split/holdout_rows.json')).toString()) as { dataset: string; rows: number[] };
  assert.equal(holdout.dataset.split('@')[0], dataset);
  const table = await server.app.services.datasets.readTable(ctx, dataset, holdout.dataset.split('@')[1]);
  const rows = float32Table(subsetTable(table, holdout.rows));
  const pipeline = restorePipeline(state, EXTRA_RESTORERS);
  const expected = state.target.task === 'multiclass' || state.target.task === 'binary' ? pipeline.predictProba(rows) : pipeline.predict(rows);
  const session = await ort.InferenceSession.create(onnx);
  const out = await session.run(feedsOf(rows, signature.inputs));
  const got = Float64Array.from(out[state.target.task === 'regression' ? 'variable' : 'probabilities'].data as Float32Array);
  assert.equal(got.length, expected.length);
  let maxAbs = 0;
  let maxRel = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - expected[i]);
    maxAbs = Math.max(maxAbs, d);
    maxRel = Math.max(maxRel, d / Math.max(1, Math.abs(expected[i])));
  }
  // The exported label is the arg-max of the exported probabilities.
  if (state.target.task !== 'regression') {
    const labels = out.label.data as BigInt64Array;
    const k = expected.length / labels.length;
    for (let i = 0; i < labels.length; i++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (got[i * k + c] > got[i * k + best]) best = c;
      assert.equal(Number(labels[i]), best);
    }
  }
  await session.release();
  return { maxAbs, maxRel, rows: holdout.rows, onnx: got };
}

/** scikit-learn fitted on the same training rows, predicting the holdout rows. */
function sklearnPredictions(file: string, model: 'logistic' | 'ridge', holdout: number[]): number[] {
  const script = `
import json, sys
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
df = pd.read_csv(sys.argv[1]); test = np.array(json.loads(sys.argv[3]))
X = df.drop(columns='target').to_numpy(float); y = df['target'].to_numpy()
mask = np.zeros(len(y), bool); mask[test] = True
if sys.argv[2] == 'logistic':
    m = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000, tol=1e-8)).fit(X[~mask], y[~mask])
    p = m.predict_proba(X[mask].astype(np.float32).astype(float)).ravel()
else:
    m = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(X[~mask], y[~mask])
    p = m.predict(X[mask].astype(np.float32).astype(float))
print(json.dumps(p.tolist()))
`;
  const path = new URL(`fixtures/data/${file}.csv`, import.meta.url).pathname;
  const r = spawnSync('/usr/bin/python3', ['-c', script, path, model, JSON.stringify(holdout)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as number[];
}

const [sqlite, postgres] = metadataBackends();

describe('training jobs over HTTP: every model kind on three data sets (sqlite)', () => {
  let server: TestServer;
  const versions: Record<string, string> = {};
  before(async () => {
    server = await startTestServer({ metadata: sqlite });
    for (const data of ['bc', 'wine', 'diabetes'] as const) versions[data] = await uploadFixture(server, data, FILES[data]);
  });
  after(() => server?.close());

  for (const c of CASES) {
    it(`${c.model} on ${FILES[c.data]}: ONNX parity, run, registry and lineage records`, async () => {
      const name = `${c.data}-${c.model}`;
      const job = await train(server, { dataset: `${c.data}@${versions[c.data]}`, target: 'target', model: c.model, params: c.params ?? {}, register_as: name, experiment: `exp-${c.data}`, bootstrap: { n: 100 } });
      const r = job.result;
      assert.equal(r.task, c.task);
      assert.deepEqual(r.rows, { train: r.rows.train, holdout: Math.ceil(0.2 * (r.rows.train + r.rows.holdout)) });
      const m = r.metrics[c.metric];
      if (c.min !== undefined) assert.ok(m.value >= c.min, `${c.metric} ${m.value}`);
      if (c.max !== undefined) assert.ok(m.value <= c.max, `${c.metric} ${m.value}`);
      assert.ok(m.lower <= m.value && m.value <= m.upper, `interval [${m.lower}, ${m.upper}] around ${m.value}`);

      // The ONNX file scores like the pipeline.
      const p = await parity(server, r.run_id, c.data);
      if (c.task === 'regression') assert.ok(p.maxRel <= 1e-5, `relative difference ${p.maxRel}`);
      else assert.ok(p.maxAbs <= 1e-5, `difference ${p.maxAbs}`);

      // The run.
      const run = (await server.json('GET', `/api/2.0/mlflow/runs/get?run_id=${r.run_id}`)).body.run;
      assert.equal(run.info.status, 'FINISHED');
      const params = Object.fromEntries(run.data.params.map((x: { key: string; value: string }) => [x.key, x.value]));
      assert.equal(params.model_kind, c.model);
      assert.equal(params.seed, '0');
      assert.equal(params['split.seed'], '0');
      assert.equal(params.params_hash, r.params_hash);
      const tags = Object.fromEntries(run.data.tags.map((x: { key: string; value: string }) => [x.key, x.value]));
      assert.match(tags['mloop.code_version'], /^0\.1\.0(\+git\.[0-9a-f]{12})?$/);
      assert.equal(tags['mloop.model_kind'], c.model);
      assert.equal(tags['mloop.job_id'], job.id);
      const metrics = Object.fromEntries(run.data.metrics.map((x: { key: string; value: number }) => [x.key, x.value]));
      assert.equal(metrics[`holdout_${c.metric}`], m.value);
      assert.equal(metrics[`holdout_${c.metric}_ci_lower`], m.lower);
      assert.equal(metrics[`holdout_${c.metric}_ci_upper`], m.upper);
      assert.ok(metrics.onnx_parity_max_abs_diff <= (c.task === 'regression' ? 1e-2 : 1e-5));
      // MLflow keeps digests short; the source names the full version.
      assert.deepEqual(
        run.inputs.dataset_inputs.map((d: { dataset: { digest: string; name: string; source: string } }) => [d.dataset.name, versions[c.data].startsWith(d.dataset.digest), d.dataset.source]),
        [[c.data, true, `mloop-dataset:${c.data}@${versions[c.data]}`]],
      );
      const listed = (await server.json('GET', `/api/2.0/mlflow/artifacts/list?run_id=${r.run_id}&path=model`)).body.files.map((f: { path: string }) => f.path).sort();
      assert.deepEqual(listed, ['model/MLmodel', 'model/model.onnx', 'model/pipeline.json', 'model/signature.json']);
      const mlmodel = parseYaml((await runArtifact(server, r.run_id, 'model/MLmodel')).toString()) as { flavors: { onnx: { data: string } }; run_id: string; signature: { inputs: string } };
      assert.equal(mlmodel.flavors.onnx.data, 'model.onnx');
      assert.equal(mlmodel.run_id, r.run_id);
      assert.equal(JSON.parse(mlmodel.signature.inputs).length, 13 + (c.data === 'bc' ? 17 : 0) - (c.data === 'diabetes' ? 3 : 0));

      // The registered version and its lineage.
      assert.deepEqual(r.model_version, { name, version: '1' });
      const mv = (await server.json('GET', `/api/v1/models/${name}/versions/1`)).body;
      assert.equal(mv.source, `runs:/${r.run_id}/model`);
      assert.equal(mv.run_id, r.run_id);
      const vtags = Object.fromEntries(mv.tags.map((x: { key: string; value: string }) => [x.key, x.value]));
      assert.deepEqual(JSON.parse(vtags['mloop.datasets']), [`${c.data}@${versions[c.data]}`]);
      assert.equal(vtags['mloop.params_hash'], r.params_hash);
      assert.equal(vtags['mloop.code_version'], tags['mloop.code_version']);
      assert.equal(vtags['mloop.seed'], '0');
      assert.equal(vtags['mloop.model_kind'], c.model);
      // The signature (input names, element types and shapes; outputs) is stored with the version.
      const signature = JSON.parse((await runArtifact(server, r.run_id, 'model/signature.json')).toString()) as { inputs: { name: string; type: string; shape: unknown[] }[]; outputs: { name: string; type: string; shape: unknown[] }[] };
      assert.deepEqual(JSON.parse(vtags['mloop.signature']), { inputs: signature.inputs, outputs: signature.outputs });
      assert.equal(signature.inputs.length, JSON.parse(mlmodel.signature.inputs).length);
      assert.ok(signature.inputs.every((i) => ['float', 'string'].includes(i.type) && JSON.stringify(i.shape) === '["N",1]'), JSON.stringify(signature.inputs));
      assert.deepEqual(signature.outputs.map((o) => [o.name, o.type]), c.task === 'regression' ? [['variable', 'float']] : [['label', 'int64'], ['probabilities', 'float']]);
      const dependents = (await server.json('GET', `/api/v1/datasets/${c.data}/versions/${versions[c.data]}/dependents`)).body.dependents;
      assert.ok(dependents.some((d: { kind: string; id: string }) => d.kind === 'model_version' && d.id === `${name}/1`));
      assert.ok(dependents.some((d: { kind: string; id: string }) => d.kind === 'run' && d.id === r.run_id));
      const upstream = await server.app.services.lineage.upstream(ctx, [{ kind: 'model_version', id: `${name}/1` }]);
      const ids = upstream.map((u) => `${u.node.kind}:${u.node.id}`);
      assert.ok(ids.includes(`run:${r.run_id}`) && ids.includes(`dataset:${c.data}@${versions[c.data]}`), ids.join(' '));

      // An independent oracle for the linear models: scikit-learn on the same training rows.
      if (c.model === 'logistic_regression' && c.data === 'bc') {
        const sk = sklearnPredictions('breast_cancer', 'logistic', p.rows);
        let d = 0;
        for (let i = 0; i < sk.length; i++) d = Math.max(d, Math.abs(sk[i] - p.onnx[i]));
        assert.ok(d <= 1e-3, `vs scikit-learn ${d}`);
      }
      if (c.model === 'ridge') {
        const sk = sklearnPredictions('diabetes', 'ridge', p.rows);
        let d = 0;
        for (let i = 0; i < sk.length; i++) d = Math.max(d, Math.abs(sk[i] - p.onnx[i]) / Math.abs(sk[i]));
        assert.ok(d <= 1e-5, `vs scikit-learn ${d}`);
      }
    });
  }

  it('keeps a dataset version that a registered model uses from deletion', async () => {
    const res = await server.json('DELETE', `/api/v1/datasets/bc/versions/${versions.bc}`);
    assert.equal(res.status, 409);
    assert.match(res.body.detail, /model_version bc-logistic_regression\/1/);
  });

  it('is deterministic: the same request gives the same model', async () => {
    const body = { dataset: `bc@${versions.bc}`, target: 'target', model: 'hist_gradient_boosting', params: { max_iter: 10 }, split: { holdout: 0.25, seed: 7 }, bootstrap: { n: 0 } };
    const a = await train(server, body);
    const b = await train(server, body);
    assert.equal(a.result.params_hash, b.result.params_hash);
    assert.deepEqual(await runArtifact(server, a.result.run_id, 'model/pipeline.json'), await runArtifact(server, b.result.run_id, 'model/pipeline.json'));
    assert.deepEqual(a.result.metrics, b.result.metrics);
  });

  it('trains logistic regression and the MLP with differential privacy and reports epsilon', async () => {
    for (const model of ['logistic_regression', 'mlp']) {
      const job = await train(server, { dataset: `bc@${versions.bc}`, target: 'target', model, params: model === 'mlp' ? { hiddenLayerSizes: [8] } : {}, dp: { noiseMultiplier: 1.1, maxGradNorm: 1, batchSize: 64, epochs: 2 }, bootstrap: { n: 0 } });
      assert.ok(job.result.privacy.epsilon > 0 && Number.isFinite(job.result.privacy.epsilon), model);
      const run = (await server.json('GET', `/api/2.0/mlflow/runs/get?run_id=${job.result.run_id}`)).body.run;
      assert.ok(run.data.metrics.some((m: { key: string; value: number }) => m.key === 'dp_epsilon' && m.value === job.result.privacy.epsilon));
      assert.ok(run.data.params.some((p: { key: string; value: string }) => p.key === 'dp.noiseMultiplier' && p.value === '1.1'));
      // ε covers the SGD updates only: the preprocessing statistics are learned without noise.
      assert.equal(job.result.privacy.scope, 'sgd_only', model);
      const params = Object.fromEntries(run.data.params.map((p: { key: string; value: string }) => [p.key, p.value]));
      assert.equal(params.dp_scope, 'sgd_only');
      assert.equal(params['dp.minCategoryCount'], '20');
    }
  });

  it('keeps categories rarer than dp.minCategoryCount out of a DP model (and its ONNX file)', async () => {
    // 200 rows: "common" 120 times, "usual" 70, "rare-7" 7, one each of "alice", "bob", "carol".
    const city = (i: number) => (i < 120 ? 'common' : i < 190 ? 'usual' : i < 197 ? 'rare-7' : ['alice', 'bob', 'carol'][i - 197]);
    const csv = ['x,city,y', ...Array.from({ length: 200 }, (_, i) => `${((i * 37) % 101) / 10},${city(i)},${(i * 37) % 101 > 50 ? 1 : 0}`)].join('\n');
    const version = await uploadCsv(server, 'cities', csv);
    const dp = { noiseMultiplier: 1, maxGradNorm: 1, batchSize: 32, epochs: 1 };
    const categoriesOf = async (body: Record<string, unknown>) => {
      const job = await train(server, { dataset: `cities@${version}`, target: 'y', model: 'logistic_regression', split: { holdout: 0.2, seed: 1 }, bootstrap: { n: 0 }, ...body });
      const state = JSON.parse((await runArtifact(server, job.result.run_id, 'model/pipeline.json')).toString()) as PipelineState;
      const onnx = (await runArtifact(server, job.result.run_id, 'model/model.onnx')).toString('latin1');
      return { categories: state.preprocessor.categorical[0].categories, onnx };
    };
    const plain = await categoriesOf({});
    assert.ok(plain.categories.some((c) => ['alice', 'bob', 'carol'].includes(c)), 'without dp every category seen is kept');
    const defaults = await categoriesOf({ dp });
    assert.deepEqual(defaults.categories, ['common', 'usual']);
    for (const name of ['alice', 'bob', 'carol', 'rare-7']) assert.ok(!defaults.onnx.includes(name), `${name} is not in the ONNX file`);
    const lower = await categoriesOf({ dp: { ...dp, minCategoryCount: 2 } });
    assert.deepEqual(lower.categories, ['common', 'rare-7', 'usual']);
    const bad = await server.json('POST', '/api/v1/training/jobs', { dataset: `cities@${version}`, target: 'y', model: 'logistic_regression', dp: { ...dp, minCategoryCount: 0 } });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.deepEqual(bad.body.errors.map((e: { field: string }) => e.field), ['dp.minCategoryCount']);
  });
});

describe('training jobs over HTTP on PostgreSQL', { skip: postgres.skip }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ metadata: postgres });
  });
  after(() => server?.close());

  it('records the run, the registered version, the dependents and the lineage', async () => {
    const version = await uploadFixture(server, 'bc', 'breast_cancer');
    const job = await train(server, { dataset: 'bc@latest', target: 'target', model: 'logistic_regression', register_as: 'bc', bootstrap: { n: 50 } });
    const r = job.result;
    assert.deepEqual(r.model_version, { name: 'bc', version: '1' });
    const mv = (await server.json('GET', '/api/v1/models/bc/versions/1')).body;
    assert.equal(mv.source, `runs:/${r.run_id}/model`);
    assert.ok(mv.tags.some((t: { key: string; value: string }) => t.key === 'mloop.datasets' && t.value === JSON.stringify([`bc@${version}`])));
    const p = await parity(server, r.run_id, 'bc');
    assert.ok(p.maxAbs <= 1e-5);
    assert.equal((await server.json('DELETE', `/api/v1/datasets/bc/versions/${version}`)).status, 409);
    const jobs = (await server.json('GET', '/api/v1/training/jobs')).body.jobs;
    assert.deepEqual(jobs.map((j: { id: string; status: string }) => [j.id, j.status]), [[job.id, 'SUCCEEDED']]);
  });
});
