/**
 * Point-in-time retrieval as saved data: the result is written once, straight into canonical form,
 * and is byte for byte what an upload of the same rows with the same schema makes of them (CSV or
 * Parquet); entity rows from a dataset (typed, tagged, a parent of the result) and their bad input;
 * the deferred profile of the saved version.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../src/core/clock.ts';
import { uploadDataset } from './support/data.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const T0 = Date.UTC(2024, 4, 1);
const H = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

const SOURCE = [
  'driver_id,city,event_timestamp,conv_rate,trips,active,note',
  `1001,Paris,${iso(T0)},0.5,10,true,"a ""quoted"", note"`,
  `1001,Paris,${iso(T0 + H)},0.6,12,false,`,
  `1002,Zürich,${iso(T0)},0.25,3,,😀`,
  `1002,Zürich,${iso(T0 + 2 * H)},0,4,true,""`,
  `1003,Oslo,${iso(T0 - 30 * H)},0.9,1,false,old`,
].join('\n');

const DEFS = `
entities:
  - name: driver
    join_keys: [{ name: driver_id, type: int }]
feature_views:
  - name: stats
    entities: [driver]
    source: { dataset: driver_events, timestamp: event_timestamp, columns: { event_timestamp: timestamp } }
    ttl: 1d
    features:
      - { name: conv_rate, type: float }
      - { name: trips, type: int }
      - { name: active, type: bool }
      - { name: note, type: string }
      - { name: seen_at, type: timestamp, expr: event_timestamp }
      - { name: ratio, type: float, expr: "conv_rate / (trips - 4)" }
feature_services:
  - name: model
    features: [stats]
`;

const ENTITIES = [
  'driver_id,event_timestamp,label,segment',
  `1001,${iso(T0 + 30 * 60_000)},1,a`,
  `1002,${iso(T0 + 3 * H)},0,b`,
  `1003,${iso(T0)},1,`,
  `9999,${iso(T0)},0,c`,
  `1001,${iso(T0 - H)},1,a`,
].join('\n');

describe('point-in-time retrieval, saved', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ clock: new ManualClock(T0 + 4 * H) });
    assert.equal((await uploadDataset(server, 'driver_events', SOURCE)).status, 201);
    const applied = await server.json('POST', '/api/v1/features/apply', { yaml: DEFS });
    assert.equal(applied.status, 200, JSON.stringify(applied.body));
    const entities = await uploadDataset(server, 'entity_rows', ENTITIES, {
      query: { schema: JSON.stringify({ columns: [{ name: 'driver_id', tags: ['entity'] }, { name: 'label', tags: ['label'] }, { name: 'segment', tags: ['pii'], description: 'customer segment' }] }) },
    });
    assert.equal(entities.status, 201, JSON.stringify(entities.body));
  });
  after(() => server?.close());

  it('saves exactly the bytes an upload of the same rows with the same schema makes (CSV and Parquet)', async () => {
    const rows = [
      { driver_id: 1001, event_timestamp: iso(T0 + 30 * 60_000), label: 1.5, tag: 'x,"y"' },
      { driver_id: 1002, event_timestamp: T0 + 3 * H, label: null, tag: '' },
      { driver_id: 1003, event_timestamp: iso(T0), label: 2, tag: null },
      { driver_id: 9999, event_timestamp: iso(T0), label: 0, tag: 'Ωmega' },
    ];
    const res = await server.json('POST', '/api/v1/features/retrieve', { feature_service: 'model', entity_rows: rows, save_as: 'train', return_rows: 10 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { version } = res.body.dataset;
    const saved = await server.json('GET', `/api/v1/datasets/train/versions/${version}`);
    assert.equal(saved.status, 200);
    const schema = saved.body.schema;
    assert.deepEqual(
      schema.columns.map((c: { name: string; type: string; nullable: boolean }) => [c.name, c.type, c.nullable]),
      [
        ['driver_id', 'integer', false],
        ['event_timestamp', 'timestamp', false],
        ['label', 'float', true],
        ['tag', 'string', true],
        ['conv_rate', 'float', true],
        ['trips', 'integer', true],
        ['active', 'boolean', true],
        ['note', 'string', true],
        ['seen_at', 'timestamp', true],
        ['ratio', 'float', true],
      ],
    );
    // 1003's newest row is older than the TTL; 9999 is unknown.
    assert.deepEqual(res.body.rows.map((r: { conv_rate: number | null }) => r.conv_rate), [0.5, 0, null, null]);
    assert.deepEqual(res.body.rows.map((r: { seen_at: string | null }) => r.seen_at), [iso(T0), iso(T0 + 2 * H), null, null]);
    assert.equal(res.body.rows[0].note, 'a "quoted", note');
    // conv_rate / (trips - 4) is 0/0 for 1002: NaN, which datasets hold as null.
    assert.deepEqual(res.body.rows.map((r: { ratio: number | null }) => r.ratio), [0.5 / 6, null, null, null]);

    for (const format of ['csv', 'parquet'] as const) {
      const content = await server.fetch(`/api/v1/datasets/train/versions/${version}/content?format=${format}`);
      assert.equal(content.status, 200);
      const bytes = new Uint8Array(await content.arrayBuffer());
      const again = await uploadDataset(server, `train-from-${format}`, bytes, {
        contentType: format === 'csv' ? 'text/csv' : 'application/vnd.apache.parquet',
        query: { schema: JSON.stringify(schema) },
      });
      assert.equal(again.status, 201, JSON.stringify(again.body));
      assert.equal(again.body.version.version, version, `${format} upload of the saved rows`);
    }
  });

  it('profiles the saved version after the commit; readers get the profile whenever they ask', async () => {
    const res = await server.json('POST', '/api/v1/features/retrieve', { features: ['stats:trips', 'stats:conv_rate'], entity_dataset: 'entity_rows', save_as: 'profiled' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const profile = await server.json('GET', `/api/v1/datasets/profiled/versions/${res.body.dataset.version}/profile`);
    assert.equal(profile.status, 200);
    assert.equal(profile.body.row_count, 5);
    const trips = profile.body.columns.find((c: { name: string }) => c.name === 'trips');
    assert.deepEqual([trips.count, trips.nulls, trips.min, trips.max], [2, 3, 4, 10]);
    await server.app.services.datasets.settled();
    const stored = await server.json('GET', `/api/v1/datasets/profiled/versions/${res.body.dataset.version}`);
    assert.deepEqual(stored.body.profile, profile.body);
  });

  it('reads entity rows from a dataset: row order kept, tags and descriptions carried, the dataset a parent', async () => {
    const res = await server.json('POST', '/api/v1/features/retrieve', { feature_service: 'model', entity_dataset: 'entity_rows@latest', save_as: 'from-dataset', return_rows: 10 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.rows.map((r: { driver_id: number; trips: number | null }) => [r.driver_id, r.trips]), [[1001, 10], [1002, 4], [1003, null], [9999, null], [1001, null]]);
    assert.equal(res.body.rows[1].event_timestamp, iso(T0 + 3 * H));
    const saved = await server.json('GET', `/api/v1/datasets/from-dataset/versions/${res.body.dataset.version}?profile=false`);
    const columns = Object.fromEntries(saved.body.schema.columns.map((c: { name: string }) => [c.name, c]));
    assert.deepEqual(columns.driver_id.tags, ['entity']);
    assert.deepEqual(columns.label.tags, ['label']);
    assert.deepEqual([columns.segment.tags, columns.segment.description, columns.segment.nullable], [['pii'], 'customer segment', true]);
    const entities = await server.json('GET', '/api/v1/datasets/entity_rows/versions/latest?profile=false');
    const source = await server.json('GET', '/api/v1/datasets/driver_events/versions/latest?profile=false');
    assert.deepEqual(saved.body.lineage.parents, [
      { name: 'entity_rows', version: entities.body.version },
      { name: 'driver_events', version: source.body.version },
    ]);
    assert.equal(saved.body.lineage.transformation.kind, 'point_in_time_join');
    assert.equal(saved.body.lineage.transformation.params.feature_views[0].name, 'stats');
    // The entity rows cannot go while a training set made from them exists.
    assert.equal((await server.json('DELETE', `/api/v1/datasets/entity_rows/versions/${entities.body.version}`)).status, 409);
  });

  it('refuses entity datasets that lack a key or hold one of the wrong type, naming the column', async () => {
    const strings = await uploadDataset(server, 'string_keys', `driver_id,event_timestamp\nd1001,${iso(T0)}\n`);
    assert.equal(strings.status, 201);
    const wrong = await server.json('POST', '/api/v1/features/retrieve', { feature_service: 'model', entity_dataset: 'string_keys' });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.errors[0].field, 'entity_dataset.driver_id');
    assert.match(wrong.body.detail, /column "driver_id" is string, expected int/);
    const numbers = await uploadDataset(server, 'number_times', 'driver_id,event_timestamp\n1001,1714521600000\n');
    const badTime = await server.json('POST', '/api/v1/features/retrieve', { feature_service: 'model', entity_dataset: 'number_times' });
    assert.equal(numbers.status, 201);
    assert.equal(badTime.status, 400);
    assert.equal(badTime.body.errors[0].field, 'entity_dataset.event_timestamp');
    const lacking = await server.json('POST', '/api/v1/features/retrieve', { feature_service: 'model', entity_dataset: 'string_keys', timestamp_column: 'ts' });
    assert.equal(lacking.status, 400);
    assert.match(lacking.body.detail, /lacks column\(s\) ts/);
    const missing = await server.json('POST', '/api/v1/features/retrieve', { feature_service: 'model', entity_dataset: 'nope' });
    assert.equal(missing.status, 404);
    const none = await server.json('GET', '/api/v1/datasets');
    assert.ok(!none.body.datasets.some((d: { name: string }) => d.name === 'features-model'), 'a refused retrieval saves nothing');
  });
});
