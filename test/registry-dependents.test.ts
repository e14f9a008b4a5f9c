/**
 * What other modules recorded about a model version follows it: training registers a version as a
 * dependent of the dataset version it was trained on (and its run as another); deleting the version
 * (or its model) releases the first, deleting the run the second, so the dataset version can then be
 * deleted. Renaming the model moves the dependent to the new name; restoring a run takes its dataset
 * version again. On SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { metadataBackends } from './support/backends.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { train, uploadFixture } from './support/training.ts';

for (const backend of metadataBackends()) {
  describe(`dataset dependents of registered versions and runs (${backend.name})`, { skip: backend.skip }, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ metadata: backend });
    });
    after(() => server.close());

    async function dependents(dataset: string, version: string): Promise<string[]> {
      const res = await server.json('GET', `/api/v1/datasets/${dataset}/versions/${version}/dependents`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.dependents.map((d: { kind: string; id: string }) => `${d.kind} ${d.id}`).sort();
    }

    async function mlflow(method: string, path: string, body: unknown): Promise<void> {
      const res = await server.json(method, `/api/2.0/mlflow/${path}`, body);
      assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
    }

    it('releases the dataset version when the model version and the run are deleted', async () => {
      const version = await uploadFixture(server, 'bc', 'breast_cancer');
      const job = await train(server, { dataset: 'bc@latest', target: 'target', model: 'logistic_regression', register_as: 'bc-model', bootstrap: { n: 0 } });
      const runId: string = job.result.run_id;
      assert.deepEqual(await dependents('bc', version), ['model_version bc-model/1', `run ${runId}`].sort());
      const blocked = await server.json('DELETE', `/api/v1/datasets/bc/versions/${version}`);
      assert.equal(blocked.status, 409);

      await mlflow('DELETE', 'model-versions/delete', { name: 'bc-model', version: '1' });
      assert.deepEqual(await dependents('bc', version), [`run ${runId}`]);
      await mlflow('POST', 'runs/delete', { run_id: runId });
      assert.deepEqual(await dependents('bc', version), []);
      await mlflow('POST', 'runs/restore', { run_id: runId });
      assert.deepEqual(await dependents('bc', version), [`run ${runId}`]);
      await mlflow('POST', 'runs/delete', { run_id: runId });

      const deleted = await server.json('DELETE', `/api/v1/datasets/bc/versions/${version}`);
      assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
      // The dataset version is gone: restoring the run, or deleting what is left, still works.
      await mlflow('POST', 'runs/restore', { run_id: runId });
      await mlflow('DELETE', 'registered-models/delete', { name: 'bc-model' });
    });

    it('moves the dependent when the model is renamed, and releases it when the model is deleted', async () => {
      const version = await uploadFixture(server, 'wine', 'wine');
      const job = await train(server, { dataset: 'wine@latest', target: 'target', model: 'logistic_regression', register_as: 'wine-model', bootstrap: { n: 0 } });
      const run = `run ${job.result.run_id}`;
      await mlflow('POST', 'registered-models/rename', { name: 'wine-model', new_name: 'vino' });
      assert.deepEqual(await dependents('wine', version), ['model_version vino/1', run].sort());
      await mlflow('DELETE', 'registered-models/delete', { name: 'vino' });
      assert.deepEqual(await dependents('wine', version), [run]);
    });

    it('releases every run of a deleted experiment, and takes them again when it is restored', async () => {
      const version = await uploadFixture(server, 'diabetes', 'diabetes');
      const experiment = await server.json('POST', '/api/2.0/mlflow/experiments/create', { name: 'dependents' });
      const experimentId: string = experiment.body.experiment_id;
      const runs: string[] = [];
      for (let i = 0; i < 2; i++) {
        const run = await server.json('POST', '/api/2.0/mlflow/runs/create', { experiment_id: experimentId });
        runs.push(run.body.run.info.run_id);
        const source = `mloop-dataset:diabetes@${version}`;
        await mlflow('POST', 'runs/log-inputs', { run_id: run.body.run.info.run_id, datasets: [{ dataset: { name: 'diabetes', digest: 'd', source_type: 'mloop', source } }] });
      }
      const expected = runs.map((r) => `run ${r}`).sort();
      assert.deepEqual(await dependents('diabetes', version), expected);
      await mlflow('POST', 'experiments/delete', { experiment_id: experimentId });
      assert.deepEqual(await dependents('diabetes', version), []);
      await mlflow('POST', 'experiments/restore', { experiment_id: experimentId });
      assert.deepEqual(await dependents('diabetes', version), expected);
    });
  });
}
