/**
 * Malformed input to every registry route (MLflow and /api/v1), on every metadata backend: broken
 * JSON, bodies that are not JSON objects, the wrong content type, missing fields, wrong types,
 * prototype-polluting keys, oversized values. Every answer is a 4xx that names the field at fault
 * where there is one; none is a 5xx; nothing is written.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { metadataBackends } from './support/backends.ts';
import { createRun, mlflowOk, qs, type CreatedRun } from './support/registry.ts';
import { startTestServer, type TestServer } from './support/server.ts';

/** A route, a valid input, and the fields it requires. */
interface Route {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT';
  readonly path: string;
  /** A valid input (query for GET, JSON body otherwise); strings only where MLflow takes strings. */
  readonly valid: (run: CreatedRun) => Record<string, unknown>;
  readonly required: readonly string[];
}

const M = '/api/2.0/mlflow';

const MLFLOW_ROUTES: Route[] = [
  { method: 'POST', path: `${M}/registered-models/create`, valid: () => ({ name: 'fresh', description: 'd', tags: [{ key: 'k', value: 'v' }] }), required: ['name'] },
  { method: 'GET', path: `${M}/registered-models/get`, valid: () => ({ name: 'base' }), required: ['name'] },
  { method: 'POST', path: `${M}/registered-models/rename`, valid: () => ({ name: 'base', new_name: 'renamed' }), required: ['name', 'new_name'] },
  { method: 'PATCH', path: `${M}/registered-models/update`, valid: () => ({ name: 'base', description: 'd' }), required: ['name'] },
  { method: 'DELETE', path: `${M}/registered-models/delete`, valid: () => ({ name: 'base' }), required: ['name'] },
  { method: 'GET', path: `${M}/registered-models/search`, valid: () => ({ filter: "name = 'base'", max_results: '10' }), required: [] },
  { method: 'GET', path: `${M}/registered-models/get-latest-versions`, valid: () => ({ name: 'base' }), required: ['name'] },
  { method: 'POST', path: `${M}/registered-models/get-latest-versions`, valid: () => ({ name: 'base', stages: ['None'] }), required: ['name'] },
  { method: 'POST', path: `${M}/registered-models/set-tag`, valid: () => ({ name: 'base', key: 'k', value: 'v' }), required: ['name', 'key'] },
  { method: 'DELETE', path: `${M}/registered-models/delete-tag`, valid: () => ({ name: 'base', key: 'k' }), required: ['name', 'key'] },
  { method: 'POST', path: `${M}/registered-models/alias`, valid: () => ({ name: 'base', alias: 'a', version: '1' }), required: ['name', 'alias', 'version'] },
  { method: 'DELETE', path: `${M}/registered-models/alias`, valid: () => ({ name: 'base', alias: 'a' }), required: ['name', 'alias'] },
  { method: 'GET', path: `${M}/registered-models/alias`, valid: () => ({ name: 'base', alias: 'a' }), required: ['name', 'alias'] },
  {
    method: 'POST',
    path: `${M}/model-versions/create`,
    valid: (run) => ({ name: 'base', source: `runs:/${run.runId}/m`, run_id: run.runId, tags: [{ key: 'k', value: 'v' }], description: 'd', run_link: 'l' }),
    required: ['name', 'source'],
  },
  { method: 'GET', path: `${M}/model-versions/get`, valid: () => ({ name: 'base', version: '1' }), required: ['name', 'version'] },
  { method: 'PATCH', path: `${M}/model-versions/update`, valid: () => ({ name: 'base', version: '1', description: 'd' }), required: ['name', 'version'] },
  { method: 'DELETE', path: `${M}/model-versions/delete`, valid: () => ({ name: 'base', version: '1' }), required: ['name', 'version'] },
  { method: 'GET', path: `${M}/model-versions/search`, valid: () => ({ filter: "name = 'base'" }), required: [] },
  { method: 'POST', path: `${M}/model-versions/set-tag`, valid: () => ({ name: 'base', version: '1', key: 'k', value: 'v' }), required: ['name', 'version', 'key'] },
  { method: 'DELETE', path: `${M}/model-versions/delete-tag`, valid: () => ({ name: 'base', version: '1', key: 'k' }), required: ['name', 'version', 'key'] },
  {
    method: 'POST',
    path: `${M}/model-versions/transition-stage`,
    valid: () => ({ name: 'base', version: '1', stage: 'Staging', archive_existing_versions: false }),
    required: ['name', 'version', 'stage'],
  },
  { method: 'GET', path: `${M}/model-versions/get-download-uri`, valid: () => ({ name: 'base', version: '1' }), required: ['name', 'version'] },
];

const V1_BODY_ROUTES: Route[] = [
  { method: 'POST', path: '/api/v1/models', valid: () => ({ name: 'fresh', description: 'd', tags: { k: 'v' } }), required: ['name'] },
  { method: 'POST', path: '/api/v1/models/base/versions', valid: (run) => ({ source: `runs:/${run.runId}/m`, tags: { k: 'v' } }), required: ['source'] },
  { method: 'PUT', path: '/api/v1/models/base/aliases/a', valid: () => ({ version: '1' }), required: ['version'] },
];

/** Values of the wrong type for a field expecting a string (or a list, for tags/stages). */
const WRONG_TYPES: unknown[] = [{}, ['x'], true, { nested: { deep: 1 } }];

for (const backend of metadataBackends()) {
  describe(`registry: malformed input (${backend.name})`, { skip: backend.skip }, () => {
    let server: TestServer;
    let run: CreatedRun;
    before(async () => {
      server = await startTestServer({ metadata: backend });
      run = await createRun(server);
      await mlflowOk(server, 'POST', 'registered-models/create', { name: 'base' });
      await mlflowOk(server, 'POST', 'model-versions/create', { name: 'base', source: `runs:/${run.runId}/m` });
    });
    after(() => server?.close());

    /** Sends `body` (raw text) or `query` to a route; asserts a 4xx, and returns the parsed body. */
    async function send(route: Route, input: { body?: string; query?: string; contentType?: string }, what: string): Promise<any> {
      const url = input.query === undefined ? route.path : `${route.path}?${input.query}`;
      const headers: Record<string, string> = {};
      if (input.body !== undefined) headers['content-type'] = input.contentType ?? 'application/json';
      const response = await server.fetch(url, { method: route.method, headers, body: input.body });
      const text = await response.text();
      assert.ok(response.status >= 400 && response.status < 500, `${route.method} ${route.path} ${what}: ${response.status} ${text}`);
      return JSON.parse(text);
    }

    function messageOf(body: any): string {
      return body.message ?? `${body.detail} ${JSON.stringify(body.errors ?? [])}`;
    }

    async function assertUnchanged(): Promise<void> {
      const models = await mlflowOk(server, 'GET', 'registered-models/search');
      assert.deepEqual(models.registered_models.map((m: { name: string }) => m.name), ['base']);
      const model = models.registered_models[0];
      assert.deepEqual(model.tags, []);
      assert.deepEqual(model.aliases, []);
      assert.equal(model.description, undefined);
      const versions = await mlflowOk(server, 'GET', 'model-versions/search');
      assert.deepEqual(versions.model_versions.map((v: { version: string; current_stage: string; tags: unknown[] }) => [v.version, v.current_stage, v.tags]), [['1', 'None', []]]);
    }

    const bodyRoutes = [...MLFLOW_ROUTES.filter((r) => r.method !== 'GET'), ...V1_BODY_ROUTES];
    const queryRoutes = MLFLOW_ROUTES.filter((r) => r.method === 'GET');

    it('refuses bodies that are not JSON objects', async () => {
      for (const route of bodyRoutes) {
        for (const body of ['{', '{"name": }', 'null', '[]', '"name"', '42', '{"name": "base",}', '\u0000']) {
          await send(route, { body }, `body ${JSON.stringify(body)}`);
        }
      }
      await assertUnchanged();
    });

    it('refuses a JSON API body sent as another content type with 415', async () => {
      for (const route of bodyRoutes) {
        for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
          const body = JSON.stringify(route.valid(run));
          const url = route.path;
          const response = await server.fetch(url, { method: route.method, headers: { 'content-type': contentType }, body });
          assert.equal(response.status, 415, `${route.method} ${url} as ${contentType}: ${response.status}`);
        }
      }
      await assertUnchanged();
    });

    it('names each missing required field', async () => {
      for (const route of [...bodyRoutes, ...queryRoutes]) {
        for (const field of route.required) {
          const input = { ...route.valid(run) };
          delete input[field];
          const body =
            route.method === 'GET'
              ? await send(route, { query: qs(input as Record<string, string>) }, `without ${field}`)
              : await send(route, { body: JSON.stringify(input) }, `without ${field}`);
          assert.match(messageOf(body), new RegExp(field), `${route.method} ${route.path} without ${field}`);
        }
      }
      await assertUnchanged();
    });

    it('names each field given a value of the wrong type', async () => {
      for (const route of bodyRoutes) {
        for (const field of Object.keys(route.valid(run))) {
          for (const wrong of WRONG_TYPES) {
            // A list is the right type for a list field; a non-string scalar is wrong for every field.
            if (Array.isArray(wrong) && (field === 'stages' || field === 'tags')) continue;
            if (field === 'archive_existing_versions' && typeof wrong === 'boolean') continue;
            if (field === 'tags' && route.path.startsWith('/api/v1') && typeof wrong === 'object' && !Array.isArray(wrong) && Object.keys(wrong as object).length === 0) continue;
            const input = { ...route.valid(run), [field]: wrong };
            const body = await send(route, { body: JSON.stringify(input) }, `${field}=${JSON.stringify(wrong)}`);
            assert.match(messageOf(body), new RegExp(field), `${route.method} ${route.path} ${field}=${JSON.stringify(wrong)}: ${messageOf(body)}`);
          }
        }
      }
      await assertUnchanged();
    });

    it('names bad tag lists', async () => {
      const route = MLFLOW_ROUTES.find((r) => r.path.endsWith('registered-models/create'))!;
      for (const tags of ['x', [1], [{ value: 'v' }], [{ key: 1, value: 'v' }], [{ key: 'k', value: 2 }], [{ key: '', value: 'v' }]]) {
        const body = await send(route, { body: JSON.stringify({ name: 'fresh', tags }) }, `tags=${JSON.stringify(tags)}`);
        assert.match(body.message, /tags|key/, JSON.stringify(tags));
      }
      await assertUnchanged();
    });

    it('refuses repeated and ill-typed query parameters on GET routes', async () => {
      for (const route of queryRoutes) {
        const valid = route.valid(run) as Record<string, string>;
        for (const field of Object.keys(valid)) {
          if (field === 'order_by') continue;
          const body = await send(route, { query: `${qs(valid)}&${field}=${encodeURIComponent(valid[field])}` }, `repeated ${field}`);
          assert.match(messageOf(body), new RegExp(field), `${route.path} repeated ${field}`);
        }
      }
      for (const route of queryRoutes.filter((r) => r.path.endsWith('search'))) {
        for (const query of ['max_results=-1', 'max_results=1e3', 'max_results=abc', 'page_token=%%%', "filter=name%20%3D%20'unterminated"]) {
          await send(route, { query }, query);
        }
      }
    });

    it('refuses prototype-polluting keys and changes nothing', async () => {
      for (const route of bodyRoutes) {
        for (const body of [
          '{"__proto__": {"polluted": true}, "name": "base"}',
          '{"constructor": {"prototype": {"polluted": true}}, "name": "base"}',
          '{"name": "base", "tags": [{"key": "k", "value": "v", "__proto__": {"polluted": true}}]}',
        ]) {
          await send(route, { body }, body);
        }
      }
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      await assertUnchanged();
    });

    it('refuses oversized names, descriptions, tag values and sources', async () => {
      const big = 'x'.repeat(70_000);
      const cases: [Route, Record<string, unknown>, string][] = [
        [MLFLOW_ROUTES[0], { name: big }, 'name'],
        [MLFLOW_ROUTES[0], { name: 'fresh', description: big }, 'description'],
        [MLFLOW_ROUTES[0], { name: 'fresh', tags: [{ key: 'k'.repeat(251), value: 'v' }] }, 'key'],
        [MLFLOW_ROUTES[0], { name: 'fresh', tags: [{ key: 'k', value: big }] }, 'value'],
        [MLFLOW_ROUTES.find((r) => r.path.endsWith('model-versions/create'))!, { name: 'base', source: `runs:/${run.runId}/${big}` }, 'source'],
        [MLFLOW_ROUTES.find((r) => r.path.endsWith('registered-models/alias') && r.method === 'POST')!, { name: 'base', alias: 'a'.repeat(300), version: '1' }, 'alias'],
        [MLFLOW_ROUTES.find((r) => r.path.endsWith('model-versions/get-download-uri'))!, { name: 'base', version: '9'.repeat(40) }, 'version'],
      ];
      for (const [route, input, field] of cases) {
        const body = route.method === 'GET' ? await send(route, { query: qs(input as Record<string, string>) }, field) : await send(route, { body: JSON.stringify(input) }, field);
        assert.match(messageOf(body), new RegExp(field), `${route.path} oversized ${field}`);
      }
      await assertUnchanged();
    });

    it('answers unknown registry endpoints and wrong methods with 4xx', async () => {
      for (const [method, path] of [
        ['GET', `${M}/registered-models/create`],
        ['POST', `${M}/registered-models/get`],
        ['GET', `${M}/registered-models/list`],
        ['PUT', `${M}/model-versions/update`],
        ['GET', '/api/v1/models/base/versions/1/whatever'],
      ]) {
        const response = await server.fetch(path, { method });
        assert.ok(response.status >= 400 && response.status < 500, `${method} ${path}: ${response.status}`);
      }
    });
  });
}
