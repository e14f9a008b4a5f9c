/**
 * MLflow `log-inputs` with an mloop dataset records the resolved version on the run, and the run then
 * keeps the version from being deleted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { metadataBackends } from './support/backends.ts';
import { uploadDataset } from './support/data.ts';
import { startTestServer, type TestServer } from './support/server.ts';

for (const backend of metadataBackends()) {
  describe(`dataset inputs of runs (${backend.name})`, { skip: backend.skip }, () => {
    let server: TestServer;
    let version: string;
    let runId: string;
    const mlflow = (path: string, body: unknown) => server.json('POST', `/api/2.0/mlflow/${path}`, body);

    before(async () => {
      server = await startTestServer({ metadata: backend });
      version = (await uploadDataset(server, 'rides', 'ride_id,fare\n1,2.5\n2,3.5\n')).body.version.version;
      runId = (await mlflow('runs/create', { experiment_id: '0', run_name: 'train' })).body.run.info.run_id;
    });
    after(() => server?.close());

    it('resolves mloop-dataset: sources to the full version and records the run as a dependent', async () => {
      const logged = await mlflow('runs/log-inputs', {
        run_id: runId,
        datasets: [
          {
            tags: [{ key: 'mlflow.data.context', value: 'training' }],
            dataset: { name: 'rides', digest: 'whatever', source_type: 'mloop', source: `mloop-dataset:rides@${version.slice(0, 8)}` },
          },
          { dataset: { name: 'external', digest: 'abc123', source_type: 'http', source: 'https://example.com/data.csv' } },
        ],
      });
      assert.equal(logged.status, 200, JSON.stringify(logged.body));
      const run = (await server.json('GET', `/api/2.0/mlflow/runs/get?run_id=${runId}`)).body.run;
      const inputs = run.inputs.dataset_inputs.map((i: any) => i.dataset).sort((a: any, b: any) => a.name.localeCompare(b.name));
      assert.equal(inputs.length, 2);
      assert.deepEqual(inputs[0], { name: 'external', digest: 'abc123', source_type: 'http', source: 'https://example.com/data.csv' });
      assert.equal(inputs[1].name, 'rides');
      assert.equal(inputs[1].source_type, 'mloop');
      assert.equal(inputs[1].source, `mloop-dataset:rides@${version}`);
      assert.equal(inputs[1].digest, version.slice(0, 32));
      assert.deepEqual(JSON.parse(inputs[1].schema), {
        mlflow_colspec: [
          { name: 'ride_id', type: 'long', required: true },
          { name: 'fare', type: 'double', required: true },
        ],
      });
      assert.deepEqual(JSON.parse(inputs[1].profile), { num_rows: 2, num_columns: 2 });

      const dependents = await server.json('GET', `/api/v1/datasets/rides/versions/${version}/dependents`);
      assert.deepEqual(dependents.body.dependents.map((d: any) => [d.kind, d.id]), [['run', runId]]);
      const refused = await server.json('DELETE', `/api/v1/datasets/rides/versions/${version}`);
      assert.equal(refused.status, 409);
      assert.match(refused.body.detail, new RegExp(`run ${runId}`));
    });

    it('refuses an mloop input that names no version, recording nothing', async () => {
      const other = (await mlflow('runs/create', { experiment_id: '0' })).body.run.info.run_id;
      const missing = await mlflow('runs/log-inputs', {
        run_id: other,
        datasets: [{ dataset: { name: 'rides', digest: 'x', source_type: 'mloop', source: 'mloop-dataset:rides@abcdef0' } }],
      });
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error_code, 'RESOURCE_DOES_NOT_EXIST');
      const bad = await mlflow('runs/log-inputs', {
        run_id: other,
        datasets: [{ dataset: { name: 'rides', digest: 'x', source_type: 'mloop', source: 'mloop-dataset:../etc@latest' } }],
      });
      assert.equal(bad.status, 400);
      const run = (await server.json('GET', `/api/2.0/mlflow/runs/get?run_id=${other}`)).body.run;
      assert.deepEqual(run.inputs?.dataset_inputs ?? [], []);
    });
  });
}
