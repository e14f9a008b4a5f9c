/**
 * The feature store consumes no dataset version whose validation failed: a source, entity-row or
 * logged dataset version with a failed `error` rule stops retrieval, materialization, the skew check
 * and offline pushes with the 400 training gives, naming the version.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../src/core/clock.ts';
import { uploadDataset } from './support/data.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const BAD_SOURCE = 'driver_id,event_timestamp,conv_rate\n1,2024-05-01T00:00:00Z,0.5\n2,2024-05-01T01:00:00Z,-5\n';
const GOOD_SOURCE = 'driver_id,event_timestamp,conv_rate\n1,2024-05-01T00:00:00Z,0.5\n2,2024-05-01T01:00:00Z,0.25\n';
const ENTITIES = 'driver_id,event_timestamp\n1,2024-05-02T00:00:00Z\n2,2024-05-02T00:00:00Z\n';
const LOGGED = 'driver_id,event_timestamp,conv_rate\n1,2024-05-02T00:00:00Z,0.5\n2,2024-05-02T00:00:00Z,0.25\n';
const NON_NEGATIVE = { rules: [{ rule: 'range', column: 'conv_rate', min: 0 }] };
const AT_MOST_ONE_ROW = { rules: [{ rule: 'row_count', max: 1 }] };

const DEFS = `
entities:
  - name: driver
    join_keys: [{ name: driver_id, type: int }]
feature_views:
  - name: checked
    entities: [driver]
    source: { dataset: checked_src, timestamp: event_timestamp }
    features:
      - { name: conv_rate, type: float }
  - name: clean
    entities: [driver]
    source: { dataset: clean_src, timestamp: event_timestamp, columns: { conv_rate: float } }
    features:
      - { name: clean_rate, type: float, expr: conv_rate }
`;

describe('feature store and failed validations', () => {
  const clock = new ManualClock(Date.parse('2024-05-03T00:00:00Z'));
  let server: TestServer;
  let failedRef: string;
  before(async () => {
    server = await startTestServer({ clock });
    for (const [name, csv] of [['checked_src', BAD_SOURCE], ['clean_src', GOOD_SOURCE], ['entity_rows', ENTITIES], ['served_log', LOGGED]]) {
      const added = await uploadDataset(server, name, csv);
      assert.equal(added.status, 201, JSON.stringify(added.body));
    }
    const applied = await server.json('POST', '/api/v1/features/apply', { yaml: DEFS });
    assert.equal(applied.status, 200, JSON.stringify(applied.body));
    // Before any validation the source is usable.
    const retrieved = await retrieve(['checked:conv_rate']);
    assert.equal(retrieved.status, 200, JSON.stringify(retrieved.body));
    const report = await server.json('POST', '/api/v1/datasets/checked_src/versions/latest/validations', NON_NEGATIVE);
    assert.equal(report.body.status, 'failed');
    failedRef = `checked_src@${report.body.version.slice(0, 12)}`;
  });
  after(() => server?.close());

  const retrieve = (features: string[], extra: Record<string, unknown> = {}) =>
    server.json('POST', '/api/v1/features/retrieve', {
      features,
      ...(extra.entity_dataset ? {} : { entity_rows: [{ driver_id: 1, event_timestamp: '2024-05-02T00:00:00Z' }] }),
      return_rows: 5,
      ...extra,
    });

  /** The refusal training gives: 400 INVALID_STATE naming the version and the failed rule. */
  const assertRefused = (response: { status: number; body: any }, ref: string, rule: string) => {
    assert.equal(response.status, 400, JSON.stringify(response.body));
    assert.equal(response.body.code, 'INVALID_STATE');
    assert.ok(response.body.detail.includes(`dataset ${ref} failed validation and cannot be used: ${rule}`), response.body.detail);
  };

  it('refuses point-in-time retrieval from a source version that failed validation', async () => {
    assertRefused(await retrieve(['checked:conv_rate']), failedRef, 'range(conv_rate)');
    const ok = await retrieve(['clean:clean_rate']);
    assert.equal(ok.status, 200, 'a view over a clean source is unaffected');
    assert.deepEqual(ok.body.rows.map((r: any) => r.clean_rate), [0.5]);
  });

  it('refuses to materialize such a source, and materializes the others', async () => {
    assertRefused(await server.json('POST', '/api/v1/features/materialize', { end: '2024-05-02T00:00:00Z' }), failedRef, 'range(conv_rate)');
    assertRefused(await server.json('POST', '/api/v1/features/materialize', { views: ['checked'], end: '2024-05-02T00:00:00Z' }), failedRef, 'range(conv_rate)');
    const online = await server.json('POST', '/api/v1/features/online', { features: ['checked:conv_rate'], entities: { driver_id: [2] } });
    assert.equal(online.body.results[0].statuses.conv_rate, 'NOT_FOUND', 'nothing of the failed version reached the online store');
    const clean = await server.json('POST', '/api/v1/features/materialize', { views: ['clean'], end: '2024-05-02T00:00:00Z' });
    assert.equal(clean.status, 200, JSON.stringify(clean.body));
    assert.equal(clean.body.views[0].written, 2);
  });

  it('refuses the skew check and an offline push over such a source', async () => {
    const logged = [{ driver_id: 1, event_timestamp: '2024-05-02T00:00:00Z', conv_rate: 0.5 }];
    assertRefused(await server.json('POST', '/api/v1/features/skew', { features: ['checked:conv_rate'], logged_rows: logged }), failedRef, 'range(conv_rate)');
    const before = (await server.json('GET', '/api/v1/datasets/checked_src/versions')).body;
    const push = await server.json('POST', '/api/v1/features/push', {
      feature_view: 'checked',
      to: 'offline',
      rows: [{ driver_id: 3, event_timestamp: '2024-05-01T02:00:00Z', conv_rate: 0.75 }],
    });
    assertRefused(push, failedRef, 'range(conv_rate)');
    assert.deepEqual((await server.json('GET', '/api/v1/datasets/checked_src/versions')).body, before, 'no version built on the failed one');
  });

  it('refuses entity-row and logged datasets that failed validation', async () => {
    for (const name of ['entity_rows', 'served_log']) {
      const report = await server.json('POST', `/api/v1/datasets/${name}/versions/latest/validations`, AT_MOST_ONE_ROW);
      assert.equal(report.body.status, 'failed');
    }
    const entities = (await server.json('GET', '/api/v1/datasets/entity_rows/versions/latest?profile=false')).body.version.slice(0, 12);
    const logged = (await server.json('GET', '/api/v1/datasets/served_log/versions/latest?profile=false')).body.version.slice(0, 12);
    const retrieved = await retrieve(['clean:clean_rate'], { entity_dataset: 'entity_rows' });
    assertRefused(retrieved, `entity_rows@${entities}`, 'row_count');
    const skew = await server.json('POST', '/api/v1/features/skew', { features: ['clean:clean_rate'], logged_dataset: 'served_log' });
    assertRefused(skew, `served_log@${logged}`, 'row_count');
    // The error names the request field that named the dataset, as other bad input does.
    assert.deepEqual(retrieved.body.errors, [{ field: 'entity_dataset', reason: 'row_count: 2 rows; expected ≤ 1' }]);
    assert.deepEqual(skew.body.errors, [{ field: 'logged_dataset', reason: 'row_count: 2 rows; expected ≤ 1' }]);
  });

  it('uses the source again once its latest version is one that did not fail', async () => {
    clock.advance(1000);
    assert.equal((await uploadDataset(server, 'checked_src', GOOD_SOURCE)).status, 201);
    const retrieved = await retrieve(['checked:conv_rate']);
    assert.equal(retrieved.status, 200, JSON.stringify(retrieved.body));
    assert.deepEqual(retrieved.body.rows.map((r: any) => r.conv_rate), [0.5]);
  });
});
