/**
 * Walks the whole route table and sends malformed input to every route: bad JSON, bodies of the wrong
 * shape, common fields with the wrong types, NUL characters (which PostgreSQL text cannot hold),
 * hostile path parameters and query strings. No answer may be a 5xx, and every 4xx must say what was
 * wrong in the format of its API. Runs on every metadata backend: what SQLite stores, PostgreSQL may
 * refuse.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { metadataBackends } from './support/backends.ts';
import { startTestServer, type TestServer } from './support/server.ts';

/** Values that go where a path parameter stands. */
const PATH_VALUES = ['x', '0', '-1', '99999999999999999999', '%2e%2e', '..%252f..%252fetc', 'a%00b', '%00', 'seed%00', '%ff%fe', 'ü'];

/** The name of the experiment, run and registered model the walk starts with. */
const SEED = 'seed';

/** Every common field with a value of the wrong type. */
const WRONG_TYPES = {
    name: 123,
    experiment_id: { a: 1 },
    experiment_ids: 'not-a-list',
    run_id: ['x'],
    run_uuid: 5,
    key: null,
    value: { nested: true },
    timestamp: 'yesterday',
    step: 1.5,
    metrics: 'many',
    params: [1, 2],
    tags: [{ key: 1 }],
    filter: 42,
    order_by: 'x',
    max_results: -5,
    page_token: '!!!',
    version: 'latest',
    alias: ['a'],
    source: 7,
    description: 9,
    features: 'all',
    entities: [1],
    feature_service: {},
    rows: 'x',
};

/** Bodies that are not what any route wants. */
const BODIES: string[] = [
  '{',
  '[]',
  '"text"',
  '123',
  'null',
  '{}',
  '{"__proto__":{"polluted":true}}',
  JSON.stringify(WRONG_TYPES),
  JSON.stringify({ name: 'x'.repeat(10_000), max_results: 1e12, step: Number.MAX_SAFE_INTEGER * 4 }),
  JSON.stringify({ version: '999999999999999', max_results: 2 ** 40, step: -(2 ** 62), timestamp: 2 ** 62 }),
];

/**
 * Bodies whose every field has the right type and names what exists (the seeded run, experiment 0,
 * the seeded model), but whose text holds a NUL (JSON's `\u0000`): in values, keys, names, object keys.
 */
function nulBodies(runId: string): string[] {
  const nul = (s: string) => `${s}\u0000${s}`;
  const valid = { experiment_id: '0', experiment_ids: ['0'], run_id: runId, name: SEED, version: '1', key: 'k', value: 'v', timestamp: 1, step: 0 };
  const fields = [
    'name', 'new_name', 'experiment_name', 'run_name', 'user_id', 'value', 'key', 'description', 'filter',
    'alias', 'source', 'status', 'stage', 'artifact_location', 'page_token', 'run_link', 'metric_key',
  ];
  const bodies = fields.map((field) => ({ ...valid, [field]: nul(field) }) as Record<string, unknown>);
  bodies.push(
    {
      ...valid,
      tags: [{ key: 't', value: nul('v') }],
      params: [{ key: 'p', value: nul('v') }],
      metrics: [{ key: 'm', value: 1, timestamp: 1, step: 0 }],
      datasets: [{ dataset: { name: nul('d'), digest: 'x', source_type: 'local', source: 's' } }],
    },
    { ...valid, tags: { [nul('t')]: 'v' }, features: [nul('f')], entities: [{ id: nul('e') }] },
    { ...valid, order_by: [nul('name')], experiment_ids: [nul('0')] },
  );
  return bodies.map((b) => JSON.stringify(b));
}

/** Query strings for GET and DELETE routes. */
const QUERIES = [
  '',
  '?max_results=abc&page_token=%%%',
  '?filter=metrics.x%20%3E%20%27a%27%20OR%201%3D1',
  '?experiment_id=&run_id=&name=&path=..%2f..%2fetc%2fpasswd',
  '?order_by=DROP%20TABLE&view_type=NOPE&max_results=-1',
  `?name=${SEED}%00&experiment_name=a%00b&experiment_id=0%00&run_id=a%00&key=a%00b&alias=a%00b&version=1%00`,
  '?filter=name%20%3D%20%27a%00b%27&order_by=name%00&page_token=%00&view_type=ALL%00',
  `?name=${SEED}&version=1&alias=a%00b&key=k%00&stages=None%00&path=a%00b&dataset=a%00&metric_key=a%00`,
];

const wrongTypes = JSON.stringify(WRONG_TYPES);
const WRONG_TYPE_KEYS = Object.keys(WRONG_TYPES);
/** Path values with nothing wrong in them: a 400 then is about the body. */
const CLEAN_PATH_VALUES = new Set(['', 'x', '0', 'ü']);

function fill(url: string, value: string): string {
  return url.replace(/:[A-Za-z_]+/g, value).replace(/\*/g, value);
}

for (const backend of metadataBackends()) {
  describe(`malformed input to every route (${backend.name})`, { skip: backend.skip }, () => {
    let server: TestServer;
    let bodies: string[];
    before(async () => {
      server = await startTestServer({ metadata: backend });
      const experiment = await server.json('POST', '/api/2.0/mlflow/experiments/create', { name: SEED });
      assert.equal(experiment.status, 200);
      const run = await server.json('POST', '/api/2.0/mlflow/runs/create', { experiment_id: '0', run_name: SEED });
      assert.equal(run.status, 200);
      const runId: string = run.body.run.info.run_id;
      assert.equal((await server.json('POST', '/api/2.0/mlflow/registered-models/create', { name: SEED })).status, 200);
      const version = await server.json('POST', '/api/2.0/mlflow/model-versions/create', { name: SEED, source: `runs:/${runId}/model` });
      assert.equal(version.status, 200);
      bodies = [...BODIES, ...nulBodies(runId)];
    });
    after(() => server.close());

    it('never answers 5xx, and names the problem in its API format', async () => {
      const routes = server.app.routes.filter((r) => r.url.startsWith('/api/') || r.url.startsWith('/get-online-features'));
      assert.ok(routes.length > 60, `only ${routes.length} routes found`);
      const failures: string[] = [];
      let requests = 0;
      for (const route of routes) {
        for (const pathValue of route.url.includes(':') || route.url.includes('*') ? PATH_VALUES : ['']) {
          const path = fill(route.url, pathValue);
          // DELETE takes a query or, as MLflow's clients send it, a JSON body: both are tried.
          const attempts: { query: string; body?: string }[] = [
            ...(route.method === 'GET' || route.method === 'DELETE' ? QUERIES.map((query) => ({ query })) : []),
            ...(route.method === 'GET' ? [] : bodies.map((body) => ({ query: '', body }))),
          ];
          for (const { query, body } of attempts) {
            requests++;
            const response = await server.fetch(`${path}${query}`, {
              method: route.method,
              headers: body === undefined ? {} : { 'content-type': 'application/json' },
              body,
            });
            const text = await response.text();
            const where = `${route.method} ${path}${query} ${body?.slice(0, 80) ?? ''}`;
            if (response.status >= 500) {
              failures.push(`${response.status} ${where}: ${text.slice(0, 200)}`);
              continue;
            }
            if (response.status >= 400) {
              const parsed = JSON.parse(text) as { error_code?: string; message?: string; detail?: string; status?: number; errors?: { field: string }[] };
              const message = parsed.message ?? parsed.detail;
              if (typeof message !== 'string' || message.length === 0) failures.push(`${response.status} without a message: ${where}`);
              // A body of wrongly typed fields refused as invalid must name a field: one it holds, or
              // (problem details) the fields listed in `errors`.
              else if (
                body === wrongTypes &&
                CLEAN_PATH_VALUES.has(pathValue) &&
                response.status === 400 &&
                !(parsed.errors?.length ?? 0) &&
                !WRONG_TYPE_KEYS.some((k) => message.includes(k))
              ) {
                failures.push(`400 naming no field: ${where}: ${message.slice(0, 160)}`);
              }
            }
          }
        }
      }
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.deepEqual(failures, [], `${failures.length} of ${requests} requests failed`);
    });
  });
}
