/**
 * Malformed input on every tracking route (MLflow API and /api/v1): bad JSON, wrong types, missing
 * fields, unknown ids. Each must get a 4xx that names the offending field — never a 5xx — and must
 * change nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { metadataBackends } from './support/backends.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const M = '/api/2.0/mlflow';
const UNKNOWN_RUN = 'f'.repeat(32);

/** A route, a valid request for it, and which of its fields are required. */
interface RouteCase {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly valid: () => Record<string, unknown>;
  readonly required: readonly string[];
  /** Fields that, given an unknown id, make a 404. */
  readonly unknown?: Record<string, unknown>;
}

for (const backend of metadataBackends()) {
  describe(`tracking routes refuse malformed input (${backend.name})`, { skip: backend.skip }, () => {
    let server: TestServer;
    let experimentId: string;
    let runId: string;
    let counter = 0;
    before(async () => {
      server = await startTestServer({ metadata: backend });
      experimentId = (await server.json('POST', `${M}/experiments/create`, { name: 'malformed' })).body.experiment_id;
      runId = (await server.json('POST', `${M}/runs/create`, { experiment_id: experimentId })).body.run.info.run_id;
    });
    after(() => server?.close());

    const send = async (method: string, path: string, input: Record<string, unknown>) => {
      if (method === 'GET') {
        const params = new URLSearchParams();
        for (const [k, v] of Object.entries(input)) {
          if (Array.isArray(v)) for (const item of v) params.append(k, String(item));
          else params.append(k, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));
        }
        return server.json('GET', `${path}?${params}`);
      }
      return server.json(method, path, input);
    };

    const routes = (): RouteCase[] => [
      { method: 'POST', path: 'experiments/create', valid: () => ({ name: `m-${++counter}`, artifact_location: 's3://b/p', tags: [{ key: 'k', value: 'v' }] }), required: ['name'] },
      { method: 'GET', path: 'experiments/get', valid: () => ({ experiment_id: experimentId }), required: ['experiment_id'], unknown: { experiment_id: '99999' } },
      { method: 'GET', path: 'experiments/get-by-name', valid: () => ({ experiment_name: 'malformed' }), required: ['experiment_name'], unknown: { experiment_name: 'nope' } },
      { method: 'POST', path: 'experiments/search', valid: () => ({ max_results: 10, filter: "name = 'x'", order_by: ['name'], view_type: 'ALL', page_token: '' }), required: [] },
      { method: 'GET', path: 'experiments/search', valid: () => ({ max_results: 10, filter: "name = 'x'", order_by: ['name'], view_type: 'ALL' }), required: [] },
      { method: 'POST', path: 'experiments/update', valid: () => ({ experiment_id: experimentId, new_name: 'malformed' }), required: ['experiment_id', 'new_name'], unknown: { experiment_id: '99999' } },
      { method: 'POST', path: 'experiments/delete', valid: () => ({ experiment_id: '99999' }), required: ['experiment_id'], unknown: { experiment_id: '99999' } },
      { method: 'POST', path: 'experiments/restore', valid: () => ({ experiment_id: '99999' }), required: ['experiment_id'], unknown: { experiment_id: '99999' } },
      { method: 'POST', path: 'experiments/set-experiment-tag', valid: () => ({ experiment_id: experimentId, key: 'k', value: 'v' }), required: ['experiment_id', 'key'], unknown: { experiment_id: '99999' } },
      { method: 'POST', path: 'experiments/delete-experiment-tag', valid: () => ({ experiment_id: experimentId, key: 'k' }), required: ['experiment_id', 'key'], unknown: { experiment_id: '99999' } },
      { method: 'POST', path: 'runs/create', valid: () => ({ experiment_id: experimentId, user_id: 'u', run_name: 'r', start_time: 1, tags: [{ key: 'k', value: 'v' }] }), required: [], unknown: { experiment_id: '99999' } },
      { method: 'GET', path: 'runs/get', valid: () => ({ run_id: runId }), required: ['run_id'], unknown: { run_id: UNKNOWN_RUN } },
      { method: 'POST', path: 'runs/update', valid: () => ({ run_id: runId, status: 'RUNNING', end_time: 5, run_name: 'r' }), required: ['run_id'], unknown: { run_id: UNKNOWN_RUN } },
      { method: 'POST', path: 'runs/delete', valid: () => ({ run_id: UNKNOWN_RUN }), required: ['run_id'], unknown: { run_id: UNKNOWN_RUN } },
      { method: 'POST', path: 'runs/restore', valid: () => ({ run_id: runId }), required: ['run_id'], unknown: { run_id: UNKNOWN_RUN } },
      { method: 'POST', path: 'runs/log-metric', valid: () => ({ run_id: runId, key: 'm', value: 1.5, timestamp: 1, step: 0 }), required: ['run_id', 'key', 'value', 'timestamp'], unknown: { run_id: UNKNOWN_RUN } },
      { method: 'POST', path: 'runs/log-parameter', valid: () => ({ run_id: runId, key: `p${++counter}`, value: 'v' }), required: ['run_id', 'key'], unknown: { run_id: UNKNOWN_RUN } },
      { method: 'POST', path: 'runs/set-tag', valid: () => ({ run_id: runId, key: 't', value: 'v' }), required: ['run_id', 'key'], unknown: { run_id: UNKNOWN_RUN } },
      { method: 'POST', path: 'runs/delete-tag', valid: () => ({ run_id: runId, key: 'never-set' }), required: ['run_id', 'key'], unknown: { run_id: UNKNOWN_RUN } },
      {
        method: 'POST',
        path: 'runs/log-batch',
        valid: () => ({ run_id: runId, metrics: [{ key: 'b', value: 1, timestamp: 1, step: 1 }], params: [{ key: `bp${++counter}`, value: 'v' }], tags: [{ key: 't', value: 'v' }] }),
        required: ['run_id'],
        unknown: { run_id: UNKNOWN_RUN },
      },
      {
        method: 'POST',
        path: 'runs/log-inputs',
        valid: () => ({ run_id: runId, datasets: [{ tags: [{ key: 'k', value: 'v' }], dataset: { name: 'd', digest: 'x', source_type: 'local', source: 's' } }] }),
        required: ['run_id'],
        unknown: { run_id: UNKNOWN_RUN },
      },
      { method: 'POST', path: 'runs/search', valid: () => ({ experiment_ids: [experimentId], filter: '', run_view_type: 'ALL', max_results: 5, order_by: [], page_token: '' }), required: [] },
      { method: 'GET', path: 'runs/search', valid: () => ({ experiment_ids: [experimentId], max_results: 5 }), required: [] },
      { method: 'GET', path: 'metrics/get-history', valid: () => ({ run_id: runId, metric_key: 'm', max_results: 5 }), required: ['run_id', 'metric_key'], unknown: { run_id: UNKNOWN_RUN } },
    ];

    it('accepts the valid form of every request (the baseline of the cases below)', async () => {
      for (const route of routes()) {
        const response = await send(route.method, `${M}/${route.path}`, route.valid());
        // delete/restore of an unknown experiment or run, and delete-tag of an unset tag, are 404 even when well formed.
        assert.ok(response.status === 200 || response.status === 404, `${route.method} ${route.path}: ${response.status} ${JSON.stringify(response.body)}`);
      }
    });

    it('refuses wrong types with a 4xx naming the field', async () => {
      // true and {} are the wrong type for every field of these requests (strings, integers, doubles, lists, enums).
      for (const route of routes()) {
        const fields = Object.keys(route.valid());
        for (const field of fields) {
          for (const bad of route.method === 'GET' ? [{ a: 1 }, ['x', 'y']] : [true, {}]) {
            const input = { ...route.valid(), [field]: bad };
            const response = await send(route.method, `${M}/${route.path}`, input);
            const where = `${route.method} ${route.path} ${field}=${JSON.stringify(bad)}`;
            // A GET list field takes repeated values; an object rendered as text is a valid string value there.
            if (response.status === 200 || response.status === 404) {
              assert.ok(route.method === 'GET', `${where}: accepted`);
              continue;
            }
            assert.ok(response.status >= 400 && response.status < 500, `${where}: ${response.status} ${JSON.stringify(response.body)}`);
            assert.equal(typeof response.body.error_code, 'string', where);
            assert.match(response.body.message, new RegExp(field.replace(/[[\]]/g, '\\$&')), `${where}: ${response.body.message}`);
          }
        }
      }
    });

    it('refuses missing required fields with a 4xx naming the field', async () => {
      for (const route of routes()) {
        for (const field of route.required) {
          const input = route.valid();
          delete input[field];
          const response = await send(route.method, `${M}/${route.path}`, input);
          const where = `${route.method} ${route.path} without ${field}`;
          assert.ok(response.status >= 400 && response.status < 500, `${where}: ${response.status}`);
          assert.match(response.body.message, new RegExp(field), `${where}: ${response.body.message}`);
        }
      }
    });

    it('refuses malformed nested items, naming the item', async () => {
      const cases: [string, Record<string, unknown>, RegExp][] = [
        ['runs/log-batch', { run_id: runId, metrics: [{ value: 1, timestamp: 1 }] }, /metrics\[0\]\.key/],
        ['runs/log-batch', { run_id: runId, metrics: [{ key: 'a', timestamp: 1 }] }, /metrics\[0\]\.value/],
        ['runs/log-batch', { run_id: runId, metrics: [{ key: 'a', value: 1, timestamp: 1.5 }] }, /metrics\[0\]\.timestamp/],
        ['runs/log-batch', { run_id: runId, metrics: ['x'] }, /metrics\[0\]/],
        ['runs/log-batch', { run_id: runId, params: [{ value: 'x' }] }, /params\[0\]\.key/],
        ['runs/log-batch', { run_id: runId, tags: [{ key: 1 }] }, /tags\[0\]\.key/],
        ['runs/log-inputs', { run_id: runId, datasets: [{}] }, /datasets\[0\]\.dataset/],
        ['experiments/create', { name: 'n', tags: [{ value: 'v' }] }, /tags\[0\]\.key/],
        ['runs/create', { tags: [{ key: 'a/../b', value: 'v' }] }, /tags\[0\]\.key/],
      ];
      for (const [path, body, field] of cases) {
        const response = await server.json('POST', `${M}/${path}`, body);
        assert.equal(response.status, 400, `${path} ${JSON.stringify(body)}`);
        assert.equal(response.body.error_code, 'INVALID_PARAMETER_VALUE');
        assert.match(response.body.message, field);
      }
    });

    it('answers unknown ids with RESOURCE_DOES_NOT_EXIST', async () => {
      for (const route of routes()) {
        if (!route.unknown) continue;
        const response = await send(route.method, `${M}/${route.path}`, { ...route.valid(), ...route.unknown });
        assert.equal(response.status, 404, `${route.method} ${route.path}: ${JSON.stringify(response.body)}`);
        assert.equal(response.body.error_code, 'RESOURCE_DOES_NOT_EXIST');
      }
    });

    it('refuses bad JSON and non-object bodies on every POST route', async () => {
      for (const route of routes().filter((r) => r.method === 'POST')) {
        // (A JSON null body counts as an empty one, as in MLflow.)
        for (const body of ['{"run_id": ', '[1, 2]', '"text"', '42', '{"a": NaN']) {
          const response = await server.json('POST', `${M}/${route.path}`, body);
          assert.ok(response.status >= 400 && response.status < 500, `${route.path} ${body}: ${response.status}`);
          assert.equal(typeof response.body.error_code, 'string');
        }
      }
    });

    it('changed nothing while refusing all of the above', async () => {
      const run = (await server.json('GET', `${M}/runs/get?run_id=${runId}`)).body.run;
      assert.equal(run.info.lifecycle_stage, 'active');
      assert.deepEqual(
        run.data.metrics.map((m: { key: string }) => m.key),
        ['b', 'm'],
      );
      const experiments = (await server.json('POST', `${M}/experiments/search`, { view_type: 'ALL', max_results: 1000 })).body.experiments;
      assert.ok(experiments.every((e: { lifecycle_stage: string }) => e.lifecycle_stage === 'active'));
    });

    it('refuses malformed input on the /api/v1 routes with problem details naming the field', async () => {
      const cases: [string, string, unknown, string][] = [
        ['GET', '/api/v1/experiments?max_results=x', undefined, 'max_results'],
        ['GET', '/api/v1/experiments?view_type=NOPE', undefined, 'view_type'],
        ['GET', '/api/v1/experiments?filter=name%20%3D', undefined, 'filter'],
        ['GET', '/api/v1/experiments?page_token=%%%', undefined, 'page_token'],
        ['GET', '/api/v1/experiments?order_by=nope.x', undefined, 'order_by[0]'],
        ['POST', '/api/v1/experiments', {}, 'name'],
        ['POST', '/api/v1/experiments', { name: ['x'] }, 'name'],
        ['POST', '/api/v1/experiments', { name: 'x', tags: { k: 1 } }, 'tags.k'],
        ['POST', '/api/v1/experiments', { name: 'x', artifact_location: 5 }, 'artifact_location'],
        ['POST', '/api/v1/experiments', '{"name": ', 'body'],
        ['PATCH', '/api/v1/experiments/0', { name: 7 }, 'name'],
        ['GET', '/api/v1/runs?max_results=0', undefined, 'max_results'],
        ['GET', '/api/v1/runs?view_type=7', undefined, 'view_type'],
        ['GET', '/api/v1/runs?order_by=metrics.a&order_by=metrics.a', undefined, 'order_by[1]'],
        ['GET', `/api/v1/runs/${UNKNOWN_RUN}/metrics/m?max_results=-1`, undefined, 'max_results'],
      ];
      for (const [method, path, body, field] of cases) {
        const response = await server.json(method, path, body);
        assert.ok(response.status >= 400 && response.status < 500, `${method} ${path}: ${response.status}`);
        assert.equal(response.headers.get('content-type'), 'application/problem+json; charset=utf-8', `${method} ${path}`);
        assert.ok(
          (response.body.errors ?? []).some((e: { field: string }) => e.field === field),
          `${method} ${path}: ${JSON.stringify(response.body)}`,
        );
      }
      for (const path of ['/api/v1/experiments/99999', '/api/v1/experiments/abc', `/api/v1/runs/${UNKNOWN_RUN}`, `/api/v1/runs/${UNKNOWN_RUN}/metrics/m`]) {
        const response = await server.json('GET', path);
        assert.equal(response.status, 404, path);
        assert.equal(response.body.code, 'RESOURCE_DOES_NOT_EXIST');
      }
      assert.equal((await server.fetch('/api/v1/experiments/99999', { method: 'DELETE' })).status, 404);
      assert.equal((await server.json('PATCH', '/api/v1/experiments/99999', { name: 'x' })).status, 404);
    });
  });
}
