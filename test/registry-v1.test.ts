/**
 * mloop's own registry API under `/api/v1/models`, on every metadata backend: the shapes the CLI and
 * SDK rely on, and RFC 9457 problem details for errors.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { metadataBackends } from './support/backends.ts';
import { createRun, mlflowOk, type CreatedRun } from './support/registry.ts';
import { startTestServer, type TestServer } from './support/server.ts';

for (const backend of metadataBackends()) {
  describe(`registry: /api/v1/models (${backend.name})`, { skip: backend.skip }, () => {
    let server: TestServer;
    let run: CreatedRun;
    before(async () => {
      server = await startTestServer({ metadata: backend });
      run = await createRun(server);
    });
    after(() => server?.close());

    const v1 = (method: string, path: string, body?: unknown) => server.json(method, `/api/v1${path}`, body);

    function assertProblem(response: { status: number; body: any; headers: Headers }, status: number, code: string): void {
      assert.equal(response.status, status, JSON.stringify(response.body));
      assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal(response.body.status, status);
      assert.equal(response.body.code, code);
      assert.equal(typeof response.body.title, 'string');
      assert.equal(typeof response.body.detail, 'string');
    }

    it('creates a model (201) with tags as an object, and gets it', async () => {
      const created = await v1('POST', '/models', { name: 'fraud', description: 'card fraud', tags: { owner: 'risk', tier: '1' } });
      assert.equal(created.status, 201);
      assert.equal(created.body.name, 'fraud');
      assert.equal(created.body.description, 'card fraud');
      assert.deepEqual(created.body.tags, [
        { key: 'owner', value: 'risk' },
        { key: 'tier', value: '1' },
      ]);
      assert.deepEqual(created.body.latest_versions, []);
      assert.deepEqual(created.body.aliases, []);
      const got = await v1('GET', '/models/fraud');
      assert.equal(got.status, 200);
      assert.deepEqual(got.body, created.body);
    });

    it('answers problems: duplicate, missing field, unknown model', async () => {
      assertProblem(await v1('POST', '/models', { name: 'fraud' }), 400, 'RESOURCE_ALREADY_EXISTS');
      const missing = await v1('POST', '/models', { description: 'no name' });
      assertProblem(missing, 400, 'INVALID_PARAMETER_VALUE');
      assert.deepEqual(missing.body.errors.map((e: { field: string }) => e.field), ['name']);
      const badTags = await v1('POST', '/models', { name: 'x', tags: { a: 1 } });
      assertProblem(badTags, 400, 'INVALID_PARAMETER_VALUE');
      assert.match(badTags.body.errors[0].field, /^tags/);
      assertProblem(await v1('GET', '/models/unknown'), 404, 'RESOURCE_DOES_NOT_EXIST');
      assertProblem(await v1('GET', '/models/unknown/versions'), 404, 'RESOURCE_DOES_NOT_EXIST');
    });

    it('registers versions and lists them newest first', async () => {
      for (let i = 0; i < 3; i++) {
        const created = await v1('POST', '/models/fraud/versions', { source: `runs:/${run.runId}/model`, tags: { i: String(i) } });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        assert.equal(created.body.version, String(i + 1));
        assert.equal(created.body.run_id, run.runId);
        assert.deepEqual(created.body.tags, [{ key: 'i', value: String(i) }]);
      }
      const list = await v1('GET', '/models/fraud/versions');
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.versions.map((v: { version: string }) => v.version), ['3', '2', '1']);
      const one = await v1('GET', '/models/fraud/versions/2');
      assert.equal(one.status, 200);
      assert.equal(one.body.version, '2');
      assert.equal(one.body.storage_location, `${run.artifactUri}/model`);
      assertProblem(await v1('GET', '/models/fraud/versions/9'), 404, 'RESOURCE_DOES_NOT_EXIST');
      assertProblem(await v1('GET', '/models/fraud/versions/two'), 400, 'INVALID_PARAMETER_VALUE');
      assertProblem(await v1('POST', '/models/fraud/versions', { source: 'file:///etc/passwd' }), 400, 'INVALID_PARAMETER_VALUE');
      const model = await v1('GET', '/models/fraud');
      assert.deepEqual(model.body.latest_versions.map((v: { version: string }) => v.version), ['3']);
    });

    it('walks an alias through its lifecycle: set, get, move, delete (204), gone', async () => {
      const set = await v1('PUT', '/models/fraud/aliases/champion', { version: '2' });
      assert.equal(set.status, 200);
      assert.equal(set.body.version, '2');
      assert.deepEqual(set.body.aliases, ['champion']);
      assert.equal((await v1('GET', '/models/fraud/aliases/champion')).body.version, '2');
      const moved = await v1('PUT', '/models/fraud/aliases/champion', { version: 3 });
      assert.equal(moved.body.version, '3');
      assert.deepEqual((await v1('GET', '/models/fraud')).body.aliases, [{ alias: 'champion', version: '3' }]);
      const deleted = await server.fetch('/api/v1/models/fraud/aliases/champion', { method: 'DELETE' });
      assert.equal(deleted.status, 204);
      assert.equal(await deleted.text(), '');
      assertProblem(await v1('GET', '/models/fraud/aliases/champion'), 404, 'RESOURCE_DOES_NOT_EXIST');
      assertProblem(await v1('PUT', '/models/fraud/aliases/latest', { version: '1' }), 400, 'INVALID_PARAMETER_VALUE');
      assertProblem(await v1('PUT', '/models/fraud/aliases/x', {}), 400, 'INVALID_PARAMETER_VALUE');
      assertProblem(await v1('PUT', '/models/fraud/aliases/x', { version: '42' }), 404, 'RESOURCE_DOES_NOT_EXIST');
    });

    it('lists models with filter, max_results and page_token', async () => {
      for (const name of ['list-a', 'list-b', 'list-c']) assert.equal((await v1('POST', '/models', { name })).status, 201);
      const first = await v1('GET', `/models?filter=${encodeURIComponent("name LIKE 'list-%'")}&max_results=2`);
      assert.equal(first.status, 200);
      assert.deepEqual(first.body.models.map((m: { name: string }) => m.name), ['list-a', 'list-b']);
      assert.ok(first.body.next_page_token);
      const second = await v1('GET', `/models?filter=${encodeURIComponent("name LIKE 'list-%'")}&max_results=2&page_token=${encodeURIComponent(first.body.next_page_token)}`);
      assert.deepEqual(second.body.models.map((m: { name: string }) => m.name), ['list-c']);
      assert.equal(second.body.next_page_token, undefined);
      const all = await v1('GET', '/models');
      assert.deepEqual(all.body.models.map((m: { name: string }) => m.name), ['fraud', 'list-a', 'list-b', 'list-c']);
      assertProblem(await v1('GET', '/models?max_results=5000'), 400, 'INVALID_PARAMETER_VALUE');
      assertProblem(await v1('GET', `/models?filter=${encodeURIComponent('name ~ 1')}`), 400, 'INVALID_PARAMETER_VALUE');
    });

    it('handles names that need URL encoding, and sees MLflow-made models', async () => {
      const name = 'team/model with spaces';
      await mlflowOk(server, 'POST', 'registered-models/create', { name });
      const got = await v1('GET', `/models/${encodeURIComponent(name)}`);
      assert.equal(got.status, 200);
      assert.equal(got.body.name, name);
      assert.deepEqual((await v1('GET', `/models/${encodeURIComponent(name)}/versions`)).body, { versions: [] });
    });
  });
}
