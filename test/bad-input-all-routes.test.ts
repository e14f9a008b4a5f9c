/**
 * Walks the whole route table and sends malformed input to every route: bad JSON, bodies of the wrong
 * shape, common fields with the wrong types, hostile path parameters and query strings. No answer may
 * be a 5xx, and every 4xx must say what was wrong in the format of its API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from './support/server.ts';

/** Values that go where a path parameter stands. */
const PATH_VALUES = ['x', '0', '-1', '99999999999999999999', '%2e%2e', '..%252f..%252fetc', 'a%00b', '%ff%fe', 'ü'];

/** Bodies that are not what any route wants. */
const BODIES: string[] = [
  '{',
  '[]',
  '"text"',
  '123',
  'null',
  '{}',
  '{"__proto__":{"polluted":true}}',
  JSON.stringify({
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
  }),
  JSON.stringify({ name: 'x'.repeat(10_000), max_results: 1e12, step: Number.MAX_SAFE_INTEGER * 4 }),
];

/** Query strings for GET and DELETE routes. */
const QUERIES = [
  '',
  '?max_results=abc&page_token=%%%',
  '?filter=metrics.x%20%3E%20%27a%27%20OR%201%3D1',
  '?experiment_id=&run_id=&name=&path=..%2f..%2fetc%2fpasswd',
  '?order_by=DROP%20TABLE&view_type=NOPE&max_results=-1',
];

function fill(url: string, value: string): string {
  return url.replace(/:[A-Za-z_]+/g, value).replace(/\*/g, value);
}

describe('malformed input to every route', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
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
        const attempts: { query: string; body?: string }[] =
          route.method === 'GET' || route.method === 'DELETE'
            ? QUERIES.map((query) => ({ query }))
            : BODIES.map((body) => ({ query: '', body }));
        for (const { query, body } of attempts) {
          requests++;
          const response = await server.fetch(`${path}${query}`, {
            method: route.method,
            headers: body === undefined ? {} : { 'content-type': 'application/json' },
            body,
          });
          const text = await response.text();
          const where = `${route.method} ${path}${query} ${body?.slice(0, 60) ?? ''}`;
          if (response.status >= 500) {
            failures.push(`${response.status} ${where}: ${text.slice(0, 200)}`);
            continue;
          }
          if (response.status >= 400) {
            const parsed = JSON.parse(text) as { error_code?: string; message?: string; detail?: string; status?: number };
            const message = parsed.message ?? parsed.detail;
            if (typeof message !== 'string' || message.length === 0) failures.push(`${response.status} without a message: ${where}`);
          }
        }
      }
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(failures, [], `${failures.length} of ${requests} requests failed`);
  });
});
