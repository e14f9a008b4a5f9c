/**
 * Bad training and tuning requests: each is answered at once with a 400 problem that names the field
 * (unknown dataset or version, a version that failed validation, target missing, a single class, missing
 * labels (empty cells, a CSV `NaN`, a Parquet NaN), all-null or pii features, a hyperparameter out of the
 * trainer's range, unknown kinds, DP where it does not apply — tuning included, whose search spends
 * privacy nobody accounts —, bad splits, metrics, search spaces) — and nothing is created: no job, no
 * experiment, no run, no model. Also through the CLI.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDb } from '../src/storage/duckdb/engine.ts';
import { uploadDataset } from './support/data.ts';
import { runCli, spawnServer, type ServerProcess } from './support/process.ts';
import { tempDir } from './support/backends.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { uploadCsv, uploadFixture } from './support/training.ts';

const ODD = [
  'id,ssn,x1,x2,empty,same,ynull,ylab,ts',
  ...Array.from({ length: 40 }, (_, i) => `${i},${100 + i},${(i * 0.37) % 5},${i % 3 === 0 ? 'a' : 'b'},,k,${i % 7 === 0 ? '' : i % 2},${i % 2 === 0 ? 'yes' : 'no'},2024-01-0${1 + (i % 9)}T00:00:00Z`),
].join('\n');

const ODD_SCHEMA = { columns: [{ name: 'id', tags: ['entity'] }, { name: 'ssn', tags: ['pii'] }, { name: 'empty', type: 'float' }] };

/** 40 rows of a feature and a 0/1 label, the label of row 5 written as `NaN` (as pandas writes a missing float). */
const NAN_LABEL_CSV = ['x,y', ...Array.from({ length: 40 }, (_, i) => `${i * 0.3},${i === 5 ? 'NaN' : i % 2}`)].join('\n');

/** The same rows as a Parquet file whose DOUBLE label of row 5 is NaN. */
async function nanLabelParquet(): Promise<Uint8Array> {
  const duck = await DuckDb.open({ threads: 1 });
  const dir = await tempDir();
  try {
    const path = join(dir.path, 'nan.parquet');
    await duck.withConnection((c) => c.copyToParquet(`SELECT i * 0.3 AS x, CASE WHEN i = 5 THEN 'NaN'::DOUBLE ELSE (i % 2)::DOUBLE END AS y FROM range(40) t(i)`, path));
    return new Uint8Array(await readFile(path));
  } finally {
    duck.close();
    await dir.cleanup();
  }
}

const DP = { noiseMultiplier: 1, maxGradNorm: 1, batchSize: 32, epochs: 1 };

describe('bad training input gets a 400 naming the field, before any work', () => {
  let server: TestServer;
  let bc: string;
  let failed: string;
  before(async () => {
    server = await startTestServer();
    bc = await uploadFixture(server, 'bc', 'breast_cancer');
    await uploadCsv(server, 'odd', ODD, ODD_SCHEMA);
    failed = await uploadCsv(server, 'failed', 'x,y\n1,0\n2,1\n3,0\n4,1\n');
    const validation = await server.json('POST', `/api/v1/datasets/failed/versions/${failed}/validations`, { rules: [{ rule: 'range', column: 'x', min: 10, max: 20 }] });
    assert.equal(validation.body.status, 'failed');
    await uploadCsv(server, 'nancsv', NAN_LABEL_CSV);
    const parquet = await uploadDataset(server, 'nanpq', await nanLabelParquet(), { contentType: 'application/vnd.apache.parquet' });
    assert.equal(parquet.status, 201, JSON.stringify(parquet.body));
  });
  after(() => server?.close());

  const base = () => ({ dataset: 'bc@latest', target: 'target', model: 'logistic_regression' });
  const odd = (extra: Record<string, unknown>) => ({ dataset: 'odd@latest', target: 'ylab', features: ['x1', 'x2'], model: 'logistic_regression', ...extra });

  const cases: [string, () => Record<string, unknown>, string, RegExp?][] = [
    ['unknown dataset', () => ({ ...base(), dataset: 'nope@latest' }), 'dataset', /does not exist/],
    ['unknown version', () => ({ ...base(), dataset: 'bc@deadbeef0000' }), 'dataset', /no version deadbeef0000/],
    ['malformed dataset reference', () => ({ ...base(), dataset: 'bc@NOT-A-VERSION' }), 'dataset'],
    ['a version that failed validation', () => ({ ...base(), dataset: `failed@${'x'.length ? 'latest' : ''}`, target: 'y' }), 'dataset', /failed validation/],
    ['target column missing', () => ({ ...base(), target: 'diagnosis' }), 'target', /column "diagnosis" is not in dataset bc@/],
    ['a single class', () => odd({ target: 'same' }), 'target', /single value/],
    ['missing labels', () => odd({ target: 'ynull' }), 'target', /missing label/],
    ['a NaN label in a CSV', () => ({ dataset: 'nancsv@latest', target: 'y', model: 'logistic_regression' }), 'target', /column "y" has 1 missing label \(null or NaN\) in nancsv@/],
    ['a NaN target in a Parquet file', () => ({ dataset: 'nanpq@latest', target: 'y', model: 'logistic_regression' }), 'target', /column "y" has 1 missing label \(null or NaN\) in nanpq@/],
    ['an all-null feature', () => odd({ features: ['x1', 'empty'] }), 'features[1]', /entirely missing/],
    ['an all-null column among the default features', () => odd({ features: undefined }), 'features', /"empty" is entirely missing/],
    ['a pii column as a feature', () => odd({ features: ['ssn'] }), 'features[0]', /tagged pii/],
    ['an unknown feature', () => ({ ...base(), features: ['mean_radius', 'nope'] }), 'features[1]'],
    ['the target as a feature', () => ({ ...base(), features: ['target'] }), 'features[0]'],
    ['an unknown excluded column', () => ({ ...base(), exclude: ['nope'] }), 'exclude[0]'],
    ['C out of range', () => ({ ...base(), params: { C: -1 } }), 'params.C', /positive/],
    ['C of the wrong type', () => ({ ...base(), params: { C: 'big' } }), 'params.C'],
    ['max_iter of 0 (snake_case spelling)', () => ({ ...base(), params: { max_iter: 0 } }), 'params.max_iter'],
    ['an unknown hyperparameter', () => ({ ...base(), params: { gamma: 1 } }), 'params.gamma', /unknown hyperparameter/],
    ['MLP hidden layer of 0 units', () => ({ ...base(), model: 'mlp', params: { hiddenLayerSizes: [0] } }), 'params.hiddenLayerSizes'],
    ['MLP validation fraction of 1', () => ({ ...base(), model: 'mlp', params: { validation_fraction: 1 } }), 'params.validation_fraction'],
    ['HGBT max_bins above 255', () => ({ ...base(), model: 'hist_gradient_boosting', params: { max_bins: 300 } }), 'params.max_bins', /2\.\.255/],
    ['HGBT learning rate of 0', () => ({ ...base(), model: 'hist_gradient_boosting', params: { learning_rate: 0 } }), 'params.learning_rate'],
    ['ridge alpha below 0', () => ({ dataset: 'bc@latest', target: 'mean_area', model: 'ridge', params: { alpha: -0.5 } }), 'params.alpha'],
    ['an unknown model kind', () => ({ ...base(), model: 'svm' }), 'model'],
    ['a regression model for classes', () => ({ ...base(), model: 'ridge' }), 'model', /does not learn binary/],
    ['regression of a text target', () => odd({ task: 'regression' }), 'task', /numeric target/],
    ['multiclass with two classes', () => ({ ...base(), task: 'multiclass' }), 'task'],
    ['DP with ridge', () => ({ dataset: 'bc@latest', target: 'mean_area', model: 'ridge', dp: { noiseMultiplier: 1, maxGradNorm: 1, batchSize: 32, epochs: 1 } }), 'dp'],
    ['DP with a negative noise multiplier', () => ({ ...base(), dp: { noiseMultiplier: -1, maxGradNorm: 1, batchSize: 32, epochs: 1 } }), 'dp.noiseMultiplier'],
    ['DP batch larger than the training rows', () => ({ ...base(), dp: { noiseMultiplier: 1, maxGradNorm: 1, batchSize: 100_000, epochs: 1 } }), 'dp.batchSize'],
    ['a holdout fraction of 1.5', () => ({ ...base(), split: { holdout: 1.5 } }), 'split.holdout'],
    ['a metric of another task', () => ({ ...base(), metrics: ['rmse'] }), 'metrics[0]'],
    ['an unknown metric', () => ({ ...base(), metrics: ['auc'] }), 'metric'],
    ['an empty model name', () => ({ ...base(), register_as: '' }), 'register_as'],
    ['a reserved tag', () => ({ ...base(), tags: { 'mloop.code_version': 'x' } }), 'tags.mloop.code_version'],
    ['an unknown field', () => ({ ...base(), learning_rate: 0.1 }), 'body'],
    ['an unknown feature service', () => ({ ...base(), feature_service: 'nope' }), 'feature_service'],
  ];

  for (const [what, body, field, message] of cases) {
    it(what, async () => {
      const res = await server.json('POST', '/api/v1/training/jobs', body());
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      const fields = (res.body.errors ?? []).map((e: { field: string }) => e.field);
      assert.ok(fields.includes(field) || (field === 'body' && fields.length > 0), `fields ${JSON.stringify(fields)}: ${res.body.detail}`);
      if (message) assert.match(res.body.detail, message);
    });
  }

  const tuneCases: [string, Record<string, unknown>, string, RegExp?][] = [
    ['DP (the privacy spent by the search is not accounted)', { dp: DP, search: { strategy: 'grid', space: { C: [0.1, 1] } } }, 'dp', /dp: tuning does not take dp: .*privacy spent by the hyperparameter search is not accounted/],
    ['DP with an otherwise bad request', { dp: DP, search: { strategy: 'grid', space: { C: [1] } }, cv: { folds: 1 } }, 'dp'],
    ['a NaN target in a Parquet file', { dataset: 'nanpq@latest', target: 'y', search: { strategy: 'grid', space: { C: [1] } } }, 'target', /missing label \(null or NaN\)/],
    ['a candidate out of range', { search: { strategy: 'grid', space: { C: [1, -1] } } }, 'search.space.C'],
    ['an unknown searched hyperparameter', { search: { strategy: 'random', space: { gamma: { distribution: 'uniform', low: 0, high: 1 } } } }, 'search.space.gamma'],
    ['a grid with a distribution', { search: { strategy: 'grid', space: { C: { distribution: 'loguniform', low: 0.01, high: 1 } } } }, 'search.space'],
    ['a grid larger than max_trials', { search: { strategy: 'grid', space: { C: [1, 2, 3], tol: [1e-4, 1e-3] } }, max_trials: 5 }, 'search.space'],
    ['an objective of another task', { search: { strategy: 'grid', space: { C: [1] } }, objective: 'r2' }, 'objective'],
    ['a single fold', { search: { strategy: 'grid', space: { C: [1] } }, cv: { folds: 1 } }, 'cv.folds'],
    ['loguniform from 0', { search: { strategy: 'random', space: { C: { distribution: 'loguniform', low: 0, high: 1 } } } }, 'search.space.C.low'],
    ['halving on iterations of ridge', { dataset: 'bc@latest', target: 'mean_area', model: 'ridge', search: { strategy: 'halving', resource: 'iterations', space: { alpha: [0.1, 1, 10] } } }, 'search.resource'],
    ['a hyperparameter both fixed and searched', { params: { C: 1 }, search: { strategy: 'grid', space: { C: [1, 2] } } }, 'search.space.C'],
  ];
  for (const [what, extra, field, message] of tuneCases) {
    it(`tuning: ${what}`, async () => {
      const res = await server.json('POST', '/api/v1/training/tuning-jobs', { ...base(), ...extra });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      const fields = (res.body.errors ?? []).map((e: { field: string }) => e.field);
      assert.ok(fields.includes(field), `fields ${JSON.stringify(fields)}: ${res.body.detail}`);
      if (message) assert.match(res.body.detail, message);
    });
  }

  it('tuning: DP is refused in a dry run too', async () => {
    const res = await server.json('POST', '/api/v1/training/tuning-jobs?dry_run=true', { ...base(), dp: DP, search: { strategy: 'grid', space: { C: [1] } } });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.deepEqual(res.body.errors.map((e: { field: string }) => e.field), ['dp']);
  });

  it('created nothing: no job, experiment, run or model', async () => {
    assert.deepEqual((await server.json('GET', '/api/v1/jobs')).body.jobs, []);
    assert.deepEqual((await server.json('GET', '/api/v1/training/jobs')).body.jobs, []);
    const experiments = (await server.json('POST', '/api/2.0/mlflow/experiments/search', { max_results: 100 })).body.experiments;
    assert.deepEqual(experiments.map((e: { name: string }) => e.name), ['Default']);
    const runs = (await server.json('POST', '/api/2.0/mlflow/runs/search', { experiment_ids: ['0'] })).body.runs ?? [];
    assert.equal(runs.length, 0);
    assert.deepEqual((await server.json('GET', '/api/v1/models')).body.models, []);
    const dependents = (await server.json('GET', `/api/v1/datasets/bc/versions/${bc}/dependents`)).body.dependents;
    assert.deepEqual(dependents, []);
  });

  it('answers a dry run with the resolved plan and starts nothing', async () => {
    const res = await server.json('POST', '/api/v1/training/jobs?dry_run=true', { ...base(), params: { max_iter: 50 } });
    assert.equal(res.status, 200);
    assert.equal(res.body.plan.dataset.version, bc);
    assert.equal(res.body.plan.task, 'binary');
    assert.equal(res.body.plan.features.length, 30);
    assert.deepEqual(res.body.plan.model, { kind: 'logistic_regression', params: { C: 1, maxIter: 50, tol: 1e-4, fitIntercept: true } });
    assert.deepEqual((await server.json('GET', '/api/v1/jobs')).body.jobs, []);
  });

  it('leaves pii, entity, timestamp and label-tagged columns out of the default features', async () => {
    const res = await server.json('POST', '/api/v1/training/jobs?dry_run=true', odd({ features: undefined, exclude: ['empty'] }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.plan.features, ['x1', 'x2', 'same', 'ynull']);
  });
});

describe('bad training input through the CLI', () => {
  let server: ServerProcess;
  let home: { path: string; cleanup(): Promise<void> };
  before(async () => {
    home = await tempDir();
    server = await spawnServer(['--home', home.path], { MLOOP_LOG_LEVEL: 'warn' });
  });
  after(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    await home?.cleanup();
  });

  it('exits non-zero naming the field, in text and JSON', async () => {
    const path = new URL('fixtures/data/breast_cancer.csv', import.meta.url).pathname;
    assert.equal((await runCli(['data', 'add', 'bc', path, '--url', server.url])).code, 0);
    const text = await runCli(['train', '--data', 'bc@latest', '--target', 'target', '--param', 'C=-2', '--url', server.url]);
    assert.notEqual(text.code, 0);
    assert.match(text.stderr, /params\.C: must be a positive finite number, got -2/);
    const json = await runCli(['train', '--data', 'bc@latest', '--target', 'nope', '--json', '--url', server.url]);
    assert.notEqual(json.code, 0);
    const error = JSON.parse(json.stderr).error;
    assert.equal(error.code, 'INVALID_PARAMETER_VALUE');
    assert.deepEqual(error.fields.map((f: { field: string }) => f.field), ['target']);
    const jobs = await runCli(['jobs', 'list', '--json', '--url', server.url]);
    assert.deepEqual(JSON.parse(jobs.stdout).jobs, []);
  });

  it('refuses tuning with DP, saying why', async () => {
    const path = new URL('fixtures/data/breast_cancer.csv', import.meta.url).pathname;
    assert.equal((await runCli(['data', 'add', 'bc', path, '--url', server.url])).code, 0);
    // `tune` has no --dp-* flags; a spec file can still ask for DP, and is refused before any job.
    const flag = await runCli(['tune', '--data', 'bc@latest', '--target', 'target', '--search', 'C=0.1,1', '--dp-noise', '1', '--url', server.url]);
    assert.notEqual(flag.code, 0);
    assert.match(flag.stderr, /unknown option '--dp-noise'/);
    const dir = await mkdtemp(join(tmpdir(), 'mloop-dp-'));
    const spec = join(dir, 'tune.json');
    await writeFile(spec, JSON.stringify({ dp: { noiseMultiplier: 1, maxGradNorm: 1, batchSize: 32, epochs: 1 } }));
    const text = await runCli(['tune', '--spec', spec, '--data', 'bc@latest', '--target', 'target', '--search', 'C=0.1,1', '--url', server.url]);
    assert.notEqual(text.code, 0);
    assert.match(text.stderr, /dp: tuning does not take dp: .*privacy spent by the hyperparameter search is not accounted/);
    const json = await runCli(['tune', '--spec', spec, '--data', 'bc@latest', '--target', 'target', '--search', 'C=0.1,1', '--json', '--url', server.url]);
    assert.notEqual(json.code, 0);
    assert.deepEqual(JSON.parse(json.stderr).error.fields.map((f: { field: string }) => f.field), ['dp']);
    assert.deepEqual(JSON.parse((await runCli(['jobs', 'list', '--json', '--url', server.url])).stdout).jobs, []);
    // `train` takes the DP flags, --dp-min-category-count among them.
    const plan = await runCli(['train', '--data', 'bc@latest', '--target', 'target', '--dp-noise', '1', '--dp-clip', '1', '--dp-batch', '32', '--dp-epochs', '1', '--dp-min-category-count', '5', '--dry-run', '--json', '--url', server.url]);
    assert.equal(plan.code, 0, plan.stderr);
    assert.equal(JSON.parse(plan.stdout).dp.minCategoryCount, 5, plan.stdout);
    await rm(dir, { recursive: true, force: true });
  });
});
