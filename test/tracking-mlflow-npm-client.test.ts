/**
 * A third-party MLflow client talks to mloop: the npm package `mlflow` (Yuhsak/mlflow 2.0.7, written
 * against MLflow's REST API, not against mloop). Its requests carry what old clients send — both
 * `run_id` and `run_uuid`, MLflow 1.x's `experiments/list`, query strings for GETs — and it throws on
 * any status but 200, so every call below succeeding is itself the check that mloop answers them.
 * Its `Experiments.setExperimentTag` is left out: the client builds its URL without the slash
 * (`/experimentsset-experiment-tag`), which no server answers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import MLflow from 'mlflow';
import { startTestServer, type TestServer } from './support/server.ts';

/** The client prints every request body it sends; keep the test output to the test's own lines. */
async function quietly<T>(work: () => Promise<T>): Promise<T> {
  const log = console.log;
  console.log = () => {};
  try {
    return await work();
  } finally {
    console.log = log;
  }
}

describe('the npm MLflow client (mlflow@2.0.7) against mloop', () => {
  let server: TestServer;
  let client: any;
  before(async () => {
    server = await startTestServer();
    client = new (MLflow as any)({ endpoint: server.url.replace(/\/$/, '') });
  });
  after(() => server?.close());

  it('creates, lists, renames, deletes and restores experiments', () =>
    quietly(async () => {
      const { Experiments } = client;
      const { experiment_id } = await Experiments.create({ name: 'npm-client' });
      const { experiment } = await Experiments.get({ experiment_id });
      assert.equal(experiment.name, 'npm-client');
      assert.equal(experiment.lifecycle_stage, 'active');

      const listed = await Experiments.list();
      assert.deepEqual(listed.experiments.map((e: any) => e.name).sort(), ['Default', 'npm-client']);

      await Experiments.update({ experiment_id, new_name: 'npm-client-renamed' });
      assert.equal((await Experiments.get({ experiment_id })).experiment.name, 'npm-client-renamed');

      await Experiments.delete({ experiment_id });
      assert.deepEqual((await Experiments.list({ view_type: 'DELETED_ONLY' })).experiments.map((e: any) => e.experiment_id), [experiment_id]);
      assert.deepEqual((await Experiments.list({ view_type: 'ACTIVE_ONLY' })).experiments.map((e: any) => e.name), ['Default']);
      await Experiments.restore({ experiment_id });
      assert.equal((await Experiments.get({ experiment_id })).experiment.lifecycle_stage, 'active');
    }));

  it('logs a run and reads back params, metrics with history, tags and search results', () =>
    quietly(async () => {
      const { Experiments, Runs, Metrics } = client;
      const { experiment_id } = await Experiments.create({ name: 'npm-client-runs' });
      const { run } = await Runs.create({ experiment_id, start_time: 1_700_000_000_000, tags: [{ key: 'team', value: 'fraud' }] });
      const run_id = run.info.run_id;
      assert.equal(run.info.status, 'RUNNING');
      assert.equal(run.info.artifact_uri, `mlflow-artifacts:/${experiment_id}/${run_id}/artifacts`);

      await Runs.logParameter({ run_id, key: 'lr', value: '0.1' });
      await Runs.logMetric({ run_id, key: 'auc', value: 0.8, timestamp: 1_700_000_000_100, step: 0 });
      await Runs.logMetric({ run_id, key: 'auc', value: 0.9, timestamp: 1_700_000_000_200, step: 1 });
      await Runs.setTag({ run_id, key: 'stage', value: 'dev' });
      await Runs.setTag({ run_id, key: 'temporary', value: 'x' });
      await Runs.deleteTag({ run_id, key: 'temporary' });
      await Runs.logBatch({
        run_id,
        metrics: [{ key: 'loss', value: 0.25, timestamp: 1_700_000_000_300, step: 2 }],
        params: [{ key: 'depth', value: '6' }],
        tags: [{ key: 'batch', value: 'yes' }],
      });
      await Runs.update({ run_id, status: 'FINISHED', end_time: 1_700_000_001_000 });

      const { run: read } = await Runs.get({ run_id });
      assert.equal(read.info.status, 'FINISHED');
      assert.equal(read.info.end_time, 1_700_000_001_000);
      const byKey = (list: { key: string }[]) => Object.fromEntries(list.map((x: any) => [x.key, x.value]));
      assert.deepEqual(byKey(read.data.params), { depth: '6', lr: '0.1' });
      assert.deepEqual(byKey(read.data.metrics), { auc: 0.9, loss: 0.25 });
      const tags = byKey(read.data.tags);
      assert.equal(tags.team, 'fraud');
      assert.equal(tags.stage, 'dev');
      assert.equal(tags.batch, 'yes');
      assert.equal(tags.temporary, undefined);

      const history = await Metrics.getHistory({ run_id, metric_key: 'auc' });
      assert.deepEqual(
        history.metrics.map((m: any) => [m.value, m.step, m.timestamp]),
        [
          [0.8, 0, 1_700_000_000_100],
          [0.9, 1, 1_700_000_000_200],
        ],
      );

      const found = await Runs.search({ experiment_ids: [experiment_id], filter: 'metrics.auc > 0.85 and params.lr = "0.1"', run_view_type: 'ACTIVE_ONLY' });
      assert.deepEqual(found.runs.map((r: any) => r.info.run_id), [run_id]);
      const none = await Runs.search({ experiment_ids: [experiment_id], filter: 'metrics.auc > 0.95' });
      // MLflow's protobuf JSON omits an empty list; mloop sends []; a client written for MLflow handles both.
      assert.deepEqual(none.runs ?? [], []);

      await Runs.delete({ run_id });
      assert.deepEqual((await Runs.search({ experiment_ids: [experiment_id] })).runs ?? [], []);
      assert.equal((await Runs.search({ experiment_ids: [experiment_id], run_view_type: 'DELETED_ONLY' })).runs.length, 1);
      await Runs.restore({ run_id });
      assert.equal((await Runs.get({ run_id })).run.info.lifecycle_stage, 'active');
    }));

  it('lists the artifacts a run uploaded through the proxied artifact service', () =>
    quietly(async () => {
      const { Runs, Artifacts } = client;
      const { run } = await Runs.create({ experiment_id: '0' });
      const run_id = run.info.run_id;
      const prefix = run.info.artifact_uri.replace(/^mlflow-artifacts:\//, '');
      for (const [path, body] of [
        ['model/model.onnx', 'onnx-bytes'],
        ['model/MLmodel', 'flavors: {}'],
        ['notes.txt', 'hello'],
      ]) {
        const response = await server.fetch(`/api/2.0/mlflow-artifacts/artifacts/${prefix}/${path}`, { method: 'PUT', body });
        assert.equal(response.status, 200, await response.text());
      }
      const top = await Artifacts.list({ run_id });
      assert.deepEqual(
        top.files.map((f: any) => [f.path, f.is_dir]),
        [
          ['model', true],
          ['notes.txt', false],
        ],
      );
      const model = await Artifacts.list({ run_id, path: 'model' });
      assert.deepEqual(
        model.files.map((f: any) => [f.path, Number(f.file_size)]),
        [
          ['model/MLmodel', 11],
          ['model/model.onnx', 10],
        ],
      );
    }));

  it('reports MLflow errors as thrown errors carrying the error code', () =>
    quietly(async () => {
      const { Runs, Experiments } = client;
      await assert.rejects(Runs.get({ run_id: 'f'.repeat(32) }), /RESOURCE_DOES_NOT_EXIST/);
      await Experiments.create({ name: 'twice' });
      await assert.rejects(Experiments.create({ name: 'twice' }), /RESOURCE_ALREADY_EXISTS/);
    }));
});
