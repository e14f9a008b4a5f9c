/** The HTTP server as a whole: health, readiness, metrics, request ids and the request-body policy. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BlobStore } from '../src/storage/ports.ts';
import { blobBackends, type Backend } from './support/backends.ts';
import { rawRequest } from './support/raw-http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

describe('server basics', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ bodyLimitBytes: 64 * 1024 });
  });
  after(() => server.close());

  it('answers /healthz and /readyz', async () => {
    assert.deepEqual((await server.json('GET', '/healthz')).body, { status: 'ok' });
    const ready = await server.json('GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body.checks, { metadata: 'ok', artifacts: 'ok', online: 'ok' });
  });

  it('echoes a given request id and makes one otherwise', async () => {
    const given = await server.fetch('/healthz', { headers: { 'x-request-id': 'abc-123' } });
    assert.equal(given.headers.get('x-request-id'), 'abc-123');
    const made = await server.fetch('/healthz');
    assert.match(made.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });

  it('exposes Prometheus metrics with request durations by route and status', async () => {
    await server.json('GET', '/api/2.0/mlflow/experiments/get?experiment_id=0');
    await server.json('GET', '/api/2.0/mlflow/experiments/get?experiment_id=424242');
    const response = await server.fetch('/metrics');
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await response.text();
    assert.match(text, /^process_cpu_user_seconds_total \d/m);
    assert.match(text, /http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/api\/2.0\/mlflow\/experiments\/get",status_code="200"\} \d+/);
    assert.match(text, /http_request_duration_seconds_count\{method="GET",route="\/api\/2.0\/mlflow\/experiments\/get",status_code="404"\} 1/);
  });

  it('refuses a JSON API body that is not application/json with 415 and creates nothing', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const response = await server.fetch('/api/2.0/mlflow/experiments/create', {
        method: 'POST',
        headers: { 'content-type': type },
        body: JSON.stringify({ name: `csrf-${type}` }),
      });
      assert.equal(response.status, 415, type);
      const body = (await response.json()) as { error_code: string };
      assert.equal(typeof body.error_code, 'string');
    }
    const response = await server.fetch('/api/v1/experiments', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ name: 'csrf-v1' }),
    });
    assert.equal(response.status, 415);
    assert.equal(response.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    const found = await server.json('POST', '/api/2.0/mlflow/experiments/search', { max_results: 1000 });
    assert.deepEqual(
      found.body.experiments.map((e: { name: string }) => e.name),
      ['Default'],
    );
  });

  it('refuses a body over the configured limit with 413', async () => {
    const response = await server.json('POST', '/api/2.0/mlflow/experiments/create', { name: 'big', tags: [{ key: 'k', value: 'x'.repeat(70 * 1024) }] });
    assert.equal(response.status, 413);
    assert.equal(response.body.error_code, 'INVALID_PARAMETER_VALUE');
  });

  it('rejects malformed JSON with 400 naming the body', async () => {
    const mlflow = await server.json('POST', '/api/2.0/mlflow/experiments/create', '{"name": ');
    assert.equal(mlflow.status, 400);
    assert.equal(mlflow.body.error_code, 'MALFORMED_REQUEST');
    const v1 = await server.json('POST', '/api/v1/experiments', '{"name": ');
    assert.equal(v1.status, 400);
    assert.equal(v1.body.errors[0].field, 'body');
  });

  it('lets no __proto__ or constructor key pollute anything', async () => {
    for (const body of [
      '{"name":"p1","__proto__":{"polluted":true}}',
      '{"name":"p2","constructor":{"prototype":{"polluted":true}}}',
      '{"name":"p3","tags":[{"key":"k","value":"v","__proto__":{"polluted":true}}]}',
    ]) {
      const response = await server.json('POST', '/api/2.0/mlflow/experiments/create', body);
      assert.ok(response.status >= 400 && response.status < 500, `status ${response.status} for ${body}`);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
    }
  });

  it('refuses a NUL character in a body, a path or a query, naming the field, and writes nothing', async () => {
    const tag = await server.json('POST', '/api/2.0/mlflow/experiments/create', { name: 'nul', tags: [{ key: 'k', value: 'a\u0000b' }] });
    assert.equal(tag.status, 400);
    assert.equal(tag.body.error_code, 'INVALID_PARAMETER_VALUE');
    assert.equal(tag.body.message, 'tags[0].value: must not contain the NUL character (\\u0000)');
    const v1 = await server.json('POST', '/api/v1/experiments', { name: 'nul', tags: { 'k\u0000': 'v' } });
    assert.equal(v1.status, 400);
    assert.equal(v1.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.deepEqual(v1.body.errors, [{ field: 'tags.k\\u0000', reason: 'must not contain the NUL character (\\u0000)' }]);
    const query = await server.json('GET', '/api/2.0/mlflow/experiments/get-by-name?experiment_name=a%00b');
    assert.equal(query.status, 400);
    assert.equal(query.body.message, 'experiment_name: must not contain the NUL character (\\u0000)');
    const path = await server.json('GET', '/api/v1/runs/a%00b');
    assert.equal(path.status, 400);
    assert.deepEqual(path.body.errors, [{ field: 'id', reason: 'must not contain the NUL character (\\u0000)' }]);
    // A backslash followed by "u0000" is no NUL.
    const literal = await server.json('POST', '/api/2.0/mlflow/experiments/create', { name: 'literal \\u0000' });
    assert.equal(literal.status, 200);
    const found = await server.json('POST', '/api/2.0/mlflow/experiments/search', { filter: "name LIKE '%nul%'" });
    assert.deepEqual(found.body.experiments ?? [], []);
  });

  it('answers unknown routes with 404 in the format of their API', async () => {
    const mlflow = await server.json('GET', '/api/2.0/mlflow/nope');
    assert.equal(mlflow.status, 404);
    assert.equal(mlflow.body.error_code, 'ENDPOINT_NOT_FOUND');
    const v1 = await server.json('GET', '/api/v1/nope');
    assert.equal(v1.status, 404);
    assert.equal(v1.body.status, 404);
    assert.equal(v1.body.code, 'ENDPOINT_NOT_FOUND');
  });

  it('serves the MLflow API under /ajax-api too, with MLflow errors and the same body policy', async () => {
    for (const base of ['/api/2.0', '/ajax-api/2.0']) {
      const created = await server.json('POST', `${base}/mlflow/experiments/create`, { name: `twin${base.replace(/\//g, '-')}` });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const read = await server.json('GET', `/ajax-api/2.0/mlflow/experiments/get?experiment_id=${created.body.experiment_id}`);
      assert.equal(read.body.experiment.name, `twin${base.replace(/\//g, '-')}`);
    }
    const missing = await server.json('GET', '/ajax-api/2.0/mlflow/experiments/get?experiment_id=424242');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error_code, 'RESOURCE_DOES_NOT_EXIST');
    const unknown = await server.json('GET', '/ajax-api/2.0/mlflow/nope');
    assert.equal(unknown.body.error_code, 'ENDPOINT_NOT_FOUND');
    for (const base of ['/api/2.0', '/ajax-api/2.0']) {
      const badUrl = await rawRequest(server.url, 'GET', `${base}/mlflow-artifacts/artifacts/%E0%A4%A`);
      assert.equal(badUrl.status, 400);
      assert.equal(JSON.parse(badUrl.body).error_code, 'BAD_REQUEST', badUrl.body);
    }
    const form = await server.fetch('/ajax-api/2.0/mlflow/experiments/create', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ name: 'csrf' }),
    });
    assert.equal(form.status, 415);
    const csrf = await server.json('GET', '/api/2.0/mlflow/experiments/get-by-name?experiment_name=csrf');
    assert.equal(csrf.status, 404);
  });
});

describe('readiness', () => {
  it('answers 503 naming the store that is unreachable', async () => {
    let broken = false;
    const base = blobBackends()[0];
    const flaky: Backend<BlobStore> = {
      name: 'flaky',
      async open() {
        const opened = await base.open();
        const store = Object.create(opened.store) as BlobStore;
        store.ping = async () => {
          if (broken) throw new Error('disk gone');
          return opened.store.ping();
        };
        return { store, cleanup: opened.cleanup };
      },
    };
    const server = await startTestServer({ blobs: flaky });
    try {
      assert.equal((await server.json('GET', '/readyz')).status, 200);
      broken = true;
      const ready = await server.json('GET', '/readyz');
      assert.equal(ready.status, 503);
      assert.equal(ready.body.checks.metadata, 'ok');
      assert.match(ready.body.checks.artifacts, /disk gone/);
      assert.equal((await server.json('GET', '/healthz')).status, 200);
    } finally {
      await server.close();
    }
  });
});
