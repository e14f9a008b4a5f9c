/**
 * Training on a feature-store retrieval: the dataset made by point-in-time retrieval through a feature
 * service, plus the service's name. The service's features are the default features (entity keys and
 * timestamps stay out); the run and the registered version record the service; the model version
 * becomes a consumer of the service, so impact analysis of the feature view finds it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from './support/server.ts';
import { train, uploadCsv } from './support/training.ts';

const T0 = Date.UTC(2024, 4, 1);
const H = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

const SOURCE = [
  'driver_id,event_timestamp,conv_rate,trips',
  ...Array.from({ length: 200 }, (_, i) => `${1000 + (i % 10)},${iso(T0 + i * H)},${((i * 37) % 100) / 100},${(i * 7) % 23}`),
].join('\n');

const DEFS = `
entities:
  - name: driver
    join_keys: [{ name: driver_id, type: int }]
feature_views:
  - name: driver_stats
    entities: [driver]
    source: { dataset: driver_src, timestamp: event_timestamp }
    ttl: 2d
    features:
      - { name: conv_rate, type: float }
      - { name: trips, type: int }
feature_services:
  - name: churn_features
    features: [driver_stats:conv_rate, driver_stats:trips]
`;

describe('training on a feature service’s retrieval', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await uploadCsv(server, 'driver_src', SOURCE);
    const applied = await server.json('POST', '/api/v1/features/apply', { yaml: DEFS });
    assert.equal(applied.status, 200, JSON.stringify(applied.body));
    const rows = Array.from({ length: 150 }, (_, i) => ({ driver_id: 1000 + (i % 10), event_timestamp: iso(T0 + (20 + i) * H), churned: i % 3 === 0 ? 'yes' : 'no' }));
    const retrieved = await server.json('POST', '/api/v1/features/retrieve', { feature_service: 'churn_features', entity_rows: rows, save_as: 'churn_training' });
    assert.equal(retrieved.status, 200, JSON.stringify(retrieved.body));
  });
  after(() => server?.close());

  it('uses the service’s features, records the service, and links the model version as a consumer', async () => {
    const plan = (await server.json('POST', '/api/v1/training/jobs?dry_run=true', { dataset: 'churn_training@latest', target: 'churned', feature_service: 'churn_features', model: 'logistic_regression' })).body.plan;
    assert.deepEqual(plan.features, ['conv_rate', 'trips']);
    assert.equal(plan.feature_service.name, 'churn_features');
    const job = await train(server, { dataset: 'churn_training@latest', target: 'churned', feature_service: 'churn_features', model: 'logistic_regression', register_as: 'churn', bootstrap: { n: 0 } });
    const r = job.result;
    assert.deepEqual(r.features, ['conv_rate', 'trips']);
    const service = `churn_features@${plan.feature_service.version}`;
    const mv = (await server.json('GET', '/api/v1/models/churn/versions/1')).body;
    assert.ok(mv.tags.some((t: { key: string; value: string }) => t.key === 'mloop.feature_service' && t.value === service));
    const run = (await server.json('GET', `/api/2.0/mlflow/runs/get?run_id=${r.run_id}`)).body.run;
    assert.ok(run.data.tags.some((t: { key: string; value: string }) => t.key === 'mloop.feature_service' && t.value === service));
    assert.ok(run.inputs.dataset_inputs[0].tags.some((t: { key: string; value: string }) => t.key === 'mloop.feature_service' && t.value === service));
    const impact = (await server.json('GET', '/api/v1/lineage/impact?feature_view=driver_stats')).body;
    const consumers = impact.consumers.map((c: { kind: string; id: string }) => `${c.kind}:${c.id}`);
    assert.ok(consumers.includes('model_version:churn/1'), consumers.join(' '));
  });

  it('keeps impact analysis in step when the model is renamed and the version deleted', async () => {
    const consumers = async () =>
      (await server.json('GET', '/api/v1/lineage/impact?feature_view=driver_stats')).body.consumers
        .filter((c: { kind: string }) => c.kind === 'model_version')
        .map((c: { id: string }) => c.id);
    assert.ok((await consumers()).includes('churn/1'));
    const renamed = await server.json('POST', '/api/2.0/mlflow/registered-models/rename', { name: 'churn', new_name: 'churn2' });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    const afterRename = await consumers();
    assert.ok(afterRename.includes('churn2/1') && !afterRename.includes('churn/1'), afterRename.join(' '));
    const deleted = await server.json('DELETE', '/api/2.0/mlflow/model-versions/delete', { name: 'churn2', version: '1' });
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.deepEqual(await consumers(), []);
  });

  it('refuses an unknown feature service and a dataset without the service’s features', async () => {
    const unknown = await server.json('POST', '/api/v1/training/jobs', { dataset: 'churn_training@latest', target: 'churned', feature_service: 'nope', model: 'logistic_regression' });
    assert.equal(unknown.status, 400);
    assert.deepEqual(unknown.body.errors.map((e: { field: string }) => e.field), ['feature_service']);
    await uploadCsv(server, 'other', 'x,label\n1,a\n2,b\n3,a\n4,b\n5,a\n');
    const wrong = await server.json('POST', '/api/v1/training/jobs', { dataset: 'other@latest', target: 'label', feature_service: 'churn_features', model: 'logistic_regression' });
    assert.equal(wrong.status, 400);
    assert.deepEqual(wrong.body.errors.map((e: { field: string }) => e.field), ['feature_service']);
    assert.match(wrong.body.detail, /lacks feature\(s\) conv_rate, trips of feature service "churn_features"/);
  });
});
