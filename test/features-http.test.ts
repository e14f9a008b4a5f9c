/**
 * The feature store end to end over HTTP, on every online backend and both metadata stores: definitions and their versions,
 * point-in-time retrieval saved as a dataset, materialization (full and incremental) and online reads
 * that equal the offline values, TTL, push, Feast's /get-online-features, consumers and impact, skew.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../src/core/clock.ts';
import { metadataBackends, onlineBackends } from './support/backends.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const T0 = Date.UTC(2024, 4, 1, 0, 0, 0);
const H = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** Source rows: three drivers, hourly readings; driver 1002 has a tie at T0+2h (the later row wins). */
const SOURCE = [
  ['1001', T0, 0.5, 0.9, 10],
  ['1001', T0 + H, 0.6, 0.8, 12],
  ['1002', T0, 0.2, 0.5, 3],
  ['1002', T0 + 2 * H, 0.3, 0.4, 4],
  ['1002', T0 + 2 * H, 0.35, 0.45, 5],
  ['1003', T0 - 30 * H, 0.9, 0.9, 1],
  ['1001', T0 + 3 * H, 0.7, 0.7, 15],
];
const CSV = ['driver_id,event_timestamp,conv_rate,acc_rate,trips', ...SOURCE.map(([d, t, c, a, n]) => `${d},${iso(t as number)},${c},${a},${n}`)].join('\n');

const DEFS = `
entities:
  - name: driver
    join_keys: [{ name: driver_id, type: int }]
    description: a driver
feature_views:
  - name: driver_hourly_stats
    entities: [driver]
    source: { dataset: driver_stats_src, timestamp: event_timestamp }
    ttl: 1d
    owner: data@example.com
    tags: { team: rides }
    features:
      - { name: conv_rate, type: float }
      - { name: acc_rate, type: float }
      - { name: trips, type: int }
      - { name: conv_x_acc, type: float, expr: conv_rate * acc_rate }
      - { name: busy, type: bool, expr: "trips >= 10" }
  - name: driver_windows
    entities: [driver]
    source: { dataset: driver_stats_src, timestamp: event_timestamp, columns: { conv_rate: float } }
    features:
      - { name: readings_2h, type: int, aggregation: { fn: count, window: 2h } }
      - { name: conv_mean_last_2, type: float, aggregation: { fn: mean, expr: conv_rate, last: 2 } }
on_demand_feature_views:
  - name: conv_plus
    sources: [driver_hourly_stats]
    request: [{ name: val_to_add, type: int }]
    features:
      - { name: conv_rate_plus_val, type: float, expr: conv_rate + val_to_add }
feature_services:
  - name: driver_model
    features: [driver_hourly_stats:conv_rate, driver_hourly_stats:conv_x_acc, "driver_hourly_stats:busy", conv_plus, driver_windows]
`;

/** Every online backend on SQLite metadata, and SQLite online on PostgreSQL metadata. */
const CASES = [
  ...onlineBackends().map((online) => ({ name: `online store: ${online.name}`, online, metadata: metadataBackends()[0], skip: online.skip })),
  { name: 'metadata: postgres', online: onlineBackends()[0], metadata: metadataBackends()[1], skip: metadataBackends()[1].skip },
];

for (const { name, online, metadata, skip } of CASES) {
  describe(`feature store over HTTP (${name})`, { skip }, () => {
    let server: TestServer;
    const clock = new ManualClock(T0 + 4 * H);
    before(async () => {
      server = await startTestServer({ online, metadata, clock });
      const upload = await server.fetch('/api/v1/datasets/driver_stats_src/versions', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: CSV });
      assert.equal(upload.status, 201, await upload.text());
    });
    after(async () => server?.close());

    it('applies definitions, versions them by content, keeps old versions', async () => {
      const first = await server.json('POST', '/api/v1/features/apply', { yaml: DEFS });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.results.length, 5);
      assert.ok(first.body.results.every((r: { status: string; version: string }) => r.status === 'created' && /^[0-9a-f]{64}$/.test(r.version)));
      const again = await server.json('POST', '/api/v1/features/apply', { yaml: DEFS });
      assert.ok(again.body.results.every((r: { status: string }) => r.status === 'unchanged'));
      const changed = await server.json('POST', '/api/v1/features/apply', { yaml: DEFS.replace('description: a driver', 'description: a person who drives') });
      const statuses = Object.fromEntries(changed.body.results.map((r: { name: string; status: string }) => [r.name, r.status]));
      // The entity changed; views refer to it, so they get new versions too; the service refers to them.
      assert.equal(statuses.driver, 'updated');
      assert.equal(statuses.driver_hourly_stats, 'updated');
      assert.equal(statuses.driver_model, 'updated');
      const versions = await server.json('GET', '/api/v1/features/definitions/entity/driver/versions');
      assert.equal(versions.body.versions.length, 2);
      assert.equal(versions.body.versions.filter((v: { current: boolean }) => v.current).length, 1);
      const old = versions.body.versions.find((v: { current: boolean }) => !v.current);
      const got = await server.json('GET', `/api/v1/features/definitions/entity/driver?version=${old.version.slice(0, 12)}`);
      assert.equal(got.body.spec.description, 'a driver');
      const list = await server.json('GET', '/api/v1/features/definitions?kind=feature_view');
      assert.deepEqual(list.body.definitions.map((d: { name: string }) => d.name), ['driver_hourly_stats', 'driver_windows']);
    });

    it('refuses bad definitions, naming the field, and changes nothing', async () => {
      const before = await server.json('GET', '/api/v1/features/definitions');
      const bad = await server.json('POST', '/api/v1/features/apply', {
        yaml: DEFS.replace('expr: conv_rate * acc_rate', 'expr: conv_rate * nope').replace('description: a person who drives', 'description: x'),
      });
      assert.equal(bad.status, 400);
      assert.match(bad.body.detail, /unknown column "nope"/);
      assert.equal(bad.body.errors[0].field, 'feature_views[0].features[3].expr');
      const typo = await server.json('POST', '/api/v1/features/apply', { yaml: 'feature_views:\n  - name: v\n    entities: [ghost]\n    source: { dataset: d, timestamp: t }\n    features: [{ name: a, type: flaot }]\n' });
      assert.equal(typo.status, 400);
      assert.match(typo.body.detail, /unknown type "flaot"/);
      const yaml = await server.json('POST', '/api/v1/features/apply', { yaml: 'entities: [' });
      assert.equal(yaml.status, 400);
      const after = await server.json('GET', '/api/v1/features/definitions');
      assert.deepEqual(after.body, before.body);
    });

    it('retrieves point in time, saves the result as a dataset version linked to the views', async () => {
      const rows = [
        { driver_id: 1001, event_timestamp: iso(T0 + 30 * 60_000), label: 1, val_to_add: 2 },
        { driver_id: 1001, event_timestamp: iso(T0 + 3 * H), label: 0, val_to_add: 1 },
        { driver_id: 1002, event_timestamp: iso(T0 + 2 * H), label: 1, val_to_add: 0 },
        { driver_id: 1002, event_timestamp: iso(T0 - H), label: 0, val_to_add: 0 },
        { driver_id: 1003, event_timestamp: iso(T0), label: 1, val_to_add: 0 },
        { driver_id: 9999, event_timestamp: iso(T0), label: 0, val_to_add: 5 },
      ];
      const res = await server.json('POST', '/api/v1/features/retrieve', { feature_service: 'driver_model', entity_rows: rows, return_rows: 100, save_as: 'training_set' });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.row_count, 6);
      assert.equal(res.body.dataset.name, 'training_set');
      const r = res.body.rows;
      assert.deepEqual(r.map((x: { conv_rate: number | null }) => x.conv_rate), [0.5, 0.7, 0.35, null, null, null]);
      assert.equal(r[0].conv_x_acc, 0.5 * 0.9);
      assert.deepEqual(r.map((x: { busy: boolean | null }) => x.busy), [true, true, false, null, null, null]);
      assert.deepEqual(r.map((x: { conv_rate_plus_val: number | null }) => x.conv_rate_plus_val), [2.5, 1.7, 0.35, null, null, null]);
      // 1003's only reading is 30 h old at T0: beyond the 1-day TTL.
      assert.equal(r[4].conv_rate, null);
      // Windows are (t − 2h, t]: a reading exactly 2 h old is out.
      assert.deepEqual(r.map((x: { readings_2h: number }) => x.readings_2h), [1, 1, 2, 0, 0, 0]);
      assert.deepEqual(r.map((x: { conv_mean_last_2: number | null }) => x.conv_mean_last_2), [0.5, (0.6 + 0.7) / 2, (0.35 + 0.3) / 2, null, 0.9, null]);
      assert.deepEqual(Object.keys(r[0]), ['driver_id', 'event_timestamp', 'label', 'val_to_add', 'conv_rate', 'conv_x_acc', 'busy', 'readings_2h', 'conv_mean_last_2', 'conv_rate_plus_val']);
      const saved = await server.json('GET', `/api/v1/datasets/training_set/versions/${res.body.dataset.version}`);
      assert.equal(saved.status, 200);
      assert.ok(res.body.feature_views.some((v: { name: string }) => v.name === 'driver_hourly_stats'));
      // Retrievals share the process's DuckDB engine with the datasets module: several at once, and an upload beside them.
      const concurrent = await Promise.all([
        ...[1, 2, 3].map((n) => server.json('POST', '/api/v1/features/retrieve', { feature_service: 'driver_model', entity_rows: rows, save_as: `concurrent_${n}` })),
        server.fetch('/api/v1/datasets/unrelated/versions', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'a,b\n1,2\n' }),
      ]);
      assert.deepEqual(concurrent.map((r) => r.status), [200, 200, 200, 201]);
    });

    it('materializes, and online reads equal the offline values at the same time', async () => {
      const end = T0 + 4 * H;
      const mat = await server.json('POST', '/api/v1/features/materialize', { end: iso(end) });
      assert.equal(mat.status, 200, JSON.stringify(mat.body));
      assert.deepEqual(mat.body.views.map((v: { view: string; entities: number }) => [v.view, v.entities]), [['driver_hourly_stats', 3], ['driver_windows', 3]]);
      const entities = { driver_id: [1001, 1002, 1003, 4242], val_to_add: [1, 2, 3, 4] };
      const online = await server.json('POST', '/api/v1/features/online', { feature_service: 'driver_model', entities });
      assert.equal(online.status, 200, JSON.stringify(online.body));
      const offline = await server.json('POST', '/api/v1/features/retrieve', {
        feature_service: 'driver_model',
        entity_rows: entities.driver_id.map((d, i) => ({ driver_id: d, event_timestamp: iso(end), val_to_add: entities.val_to_add[i] })),
        return_rows: 10,
      });
      const names: string[] = online.body.feature_names;
      assert.equal(names.length, 6);
      for (let i = 0; i < 4; i++) {
        for (const name of names) {
          const status = online.body.results[i].statuses[name];
          if (status === 'PRESENT') assert.equal(online.body.results[i].values[name], offline.body.rows[i][name], `${name} of row ${i}`);
        }
      }
      const first = online.body.results[0];
      assert.equal(first.values.conv_rate, 0.7);
      assert.equal(first.statuses.conv_rate, 'PRESENT');
      assert.equal(first.event_timestamps.conv_rate, iso(T0 + 3 * H));
      assert.equal(first.values.conv_rate_plus_val, 1.7);
      // 1003's values are older than the TTL now: OUTSIDE_MAX_AGE, no value.
      assert.equal(online.body.results[2].statuses.conv_rate, 'OUTSIDE_MAX_AGE');
      assert.equal(online.body.results[2].values.conv_rate, null);
      assert.equal(online.body.results[3].statuses.conv_rate, 'NOT_FOUND');
      assert.equal(online.body.results[3].statuses.readings_2h, 'NOT_FOUND');
    });

    it('materializes incrementally from the high-water mark', async () => {
      // A new version of the source with a later reading for 1002.
      const more = `${CSV}\n1002,${iso(T0 + 5 * H)},0.99,0.99,50\n1001,${iso(T0 + 2 * H)},0.01,0.01,1`;
      const upload = await server.fetch('/api/v1/datasets/driver_stats_src/versions', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: more });
      assert.equal(upload.status, 201);
      clock.set(T0 + 6 * H);
      const inc = await server.json('POST', '/api/v1/features/materialize', { views: ['driver_hourly_stats'], incremental: true });
      assert.equal(inc.status, 200, JSON.stringify(inc.body));
      const [view] = inc.body.views;
      assert.equal(view.start, T0 + 4 * H);
      assert.equal(view.end, T0 + 6 * H);
      // Only 1002's new reading is after the mark; 1001's late row (T0+2h) is older than the stored one anyway.
      assert.equal(view.entities, 1);
      const online = await server.json('POST', '/api/v1/features/online', { features: ['driver_hourly_stats:conv_rate', 'driver_hourly_stats:trips'], entity_rows: [{ driver_id: 1002 }, { driver_id: 1001 }] });
      assert.equal(online.body.results[0].values.conv_rate, 0.99);
      assert.equal(online.body.results[0].values.trips, 50);
      assert.equal(online.body.results[1].values.conv_rate, 0.7);
    });

    it('pushes fresh rows online with the same transformation; older rows do not overwrite', async () => {
      const push = await server.json('POST', '/api/v1/features/push', {
        feature_view: 'driver_hourly_stats',
        rows: [{ driver_id: 1005, event_timestamp: iso(T0 + 6 * H), conv_rate: 0.25, acc_rate: 0.5, trips: 11 }],
      });
      assert.equal(push.status, 200, JSON.stringify(push.body));
      assert.equal(push.body.online_written, 1);
      const stale = await server.json('POST', '/api/v1/features/push', {
        feature_view: 'driver_hourly_stats',
        df: { driver_id: [1005], event_timestamp: [T0], conv_rate: [0.1], acc_rate: [0.1], trips: [1] },
      });
      assert.equal(stale.body.online_skipped, 1);
      const online = await server.json('POST', '/api/v1/features/online', { features: ['driver_hourly_stats:conv_x_acc', 'driver_hourly_stats:busy'], entities: { driver_id: [1005] } });
      assert.equal(online.body.results[0].values.conv_x_acc, 0.125);
      assert.equal(online.body.results[0].values.busy, true);
      const windowPush = await server.json('POST', '/api/v1/features/push', { feature_view: 'driver_windows', rows: [{ driver_id: 1, event_timestamp: T0, conv_rate: 1 }] });
      assert.equal(windowPush.status, 400);
      assert.match(windowPush.body.detail, /window features/);
      const toOffline = await server.json('POST', '/api/v1/features/push', {
        feature_view: 'driver_hourly_stats',
        to: 'online_and_offline',
        rows: [{ driver_id: 1006, event_timestamp: iso(T0 + 6 * H), conv_rate: 0.4, acc_rate: 0.4, trips: 2 }],
      });
      assert.equal(toOffline.status, 200, JSON.stringify(toOffline.body));
      assert.equal(toOffline.body.dataset.name, 'driver_stats_src');
      const back = await server.json('POST', '/api/v1/features/retrieve', {
        features: ['driver_hourly_stats:conv_rate'],
        entity_rows: [{ driver_id: 1006, event_timestamp: iso(T0 + 7 * H) }],
        return_rows: 1,
      });
      assert.equal(back.body.rows[0].conv_rate, 0.4);
    });

    it("answers Feast's POST /get-online-features in Feast's shape", async () => {
      const res = await server.json('POST', '/get-online-features', {
        features: ['driver_hourly_stats:conv_rate', 'driver_hourly_stats:trips'],
        entities: { driver_id: [1001, 4242] },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body.metadata.feature_names, ['driver_id', 'conv_rate', 'trips']);
      assert.deepEqual(res.body.results[0], { values: [1001, 4242], statuses: ['PRESENT', 'PRESENT'], event_timestamps: ['1970-01-01T00:00:00Z', '1970-01-01T00:00:00Z'] });
      assert.deepEqual(res.body.results[1].values, [0.7, null]);
      assert.deepEqual(res.body.results[1].statuses, ['PRESENT', 'NOT_FOUND']);
      assert.equal(res.body.results[1].event_timestamps[0], '2024-05-01T03:00:00Z');
      const service = await server.json('POST', '/get-online-features', { feature_service: 'driver_model', entities: { driver_id: [1001], val_to_add: [1] }, full_feature_names: true });
      assert.equal(service.status, 200);
      assert.ok(service.body.metadata.feature_names.includes('driver_hourly_stats__conv_rate'));
    });

    it('refuses unknown features, unknown entities and keys of the wrong type with 400s naming them', async () => {
      const unknownFeature = await server.json('POST', '/api/v1/features/online', { features: ['driver_hourly_stats:conv_rate', 'driver_hourly_stats:nope', 'ghost:x'], entities: { driver_id: [1] } });
      assert.equal(unknownFeature.status, 400);
      assert.match(unknownFeature.body.detail, /driver_hourly_stats:nope/);
      assert.match(unknownFeature.body.detail, /ghost/);
      const unknownService = await server.json('POST', '/api/v1/features/online', { feature_service: 'nope', entities: { driver_id: [1] } });
      assert.equal(unknownService.status, 400);
      assert.match(unknownService.body.detail, /unknown feature service "nope"/);
      const unknownEntity = await server.json('POST', '/api/v1/features/online', { features: ['driver_hourly_stats:conv_rate'], entities: { driver_id: [1], rider_id: [2] } });
      assert.equal(unknownEntity.status, 400);
      assert.match(unknownEntity.body.detail, /unknown entities: rider_id/);
      assert.equal(unknownEntity.body.errors[0].field, 'entities.rider_id');
      const missing = await server.json('POST', '/api/v1/features/online', { features: ['driver_hourly_stats:conv_rate'], entities: { rider_id: [2] } });
      assert.equal(missing.status, 400);
      const wrongType = await server.json('POST', '/api/v1/features/online', { features: ['driver_hourly_stats:conv_rate'], entities: { driver_id: [1001, 'abc'] } });
      assert.equal(wrongType.status, 400);
      assert.equal(wrongType.body.errors[0].field, 'entities.driver_id[1]');
      assert.match(wrongType.body.detail, /expected an integer, got "abc"/);
      const fractional = await server.json('POST', '/get-online-features', { features: ['driver_hourly_stats:conv_rate'], entities: { driver_id: [1.5] } });
      assert.equal(fractional.status, 400);
      const missingRequest = await server.json('POST', '/api/v1/features/online', { features: ['conv_plus:conv_rate_plus_val'], entities: { driver_id: [1001] } });
      assert.equal(missingRequest.status, 400);
      assert.match(missingRequest.body.detail, /val_to_add/);
      const offline = await server.json('POST', '/api/v1/features/retrieve', { features: ['driver_hourly_stats:conv_rate'], entity_rows: [{ driver_id: 'x', event_timestamp: iso(T0) }] });
      assert.equal(offline.status, 400);
      assert.equal(offline.body.errors[0].field, 'entity_rows[0].driver_id');
      const badTime = await server.json('POST', '/api/v1/features/retrieve', { features: ['driver_hourly_stats:conv_rate'], entity_rows: [{ driver_id: 1, event_timestamp: 'yesterday' }] });
      assert.equal(badTime.status, 400);
      assert.equal(badTime.body.errors[0].field, 'entity_rows[0].event_timestamp');
      const reserved = await server.json('POST', '/api/v1/features/retrieve', { features: ['driver_hourly_stats:conv_rate'], entity_rows: [{ driver_id: 1, event_timestamp: T0, __rid: 5 }] });
      assert.equal(reserved.status, 400);
      assert.equal(reserved.body.errors[0].field, 'entity_rows[0].__rid');
      const badPush = await server.json('POST', '/api/v1/features/push', { feature_view: 'driver_hourly_stats', rows: [{ driver_id: 1, event_timestamp: T0, conv_rate: 'high' }] });
      assert.equal(badPush.status, 400);
      assert.equal(badPush.body.errors[0].field, 'rows[0].conv_rate');
    });

    it('records consumers and answers impact analysis', async () => {
      const mlflow = async (path: string, body: unknown) => (await server.json('POST', `/api/2.0/mlflow/${path}`, body)).body;
      const { run } = await mlflow('runs/create', { experiment_id: '0' });
      await mlflow('registered-models/create', { name: 'eta' });
      const { model_version } = await mlflow('model-versions/create', { name: 'eta', source: `runs:/${run.info.run_id}/model`, run_id: run.info.run_id });
      const link = await server.json('POST', '/api/v1/features/consumers', { model: 'eta', version: model_version.version, feature_service: 'driver_model' });
      assert.equal(link.status, 201, JSON.stringify(link.body));
      const missingModel = await server.json('POST', '/api/v1/features/consumers', { model: 'eta', version: 99, feature_service: 'driver_model' });
      assert.equal(missingModel.status, 404);
      const impact = await server.json('GET', '/api/v1/lineage/impact?feature_view=driver_hourly_stats');
      assert.equal(impact.status, 200, JSON.stringify(impact.body));
      const kinds = new Set(impact.body.consumers.map((c: { kind: string }) => c.kind));
      for (const kind of ['feature_service', 'on_demand_feature_view', 'model_version', 'dataset']) assert.ok(kinds.has(kind), `${kind} in ${[...kinds].join(', ')}`);
      assert.ok(impact.body.consumers.some((c: { kind: string; id: string }) => c.kind === 'model_version' && c.id === `eta/${model_version.version}`));
      const unknown = await server.json('GET', '/api/v1/lineage/impact?feature_view=nope');
      assert.equal(unknown.status, 404);
    });

    it('checks training/serving skew against an offline recomputation', async () => {
      const at = T0 + 6 * H;
      const served = await server.json('POST', '/api/v1/features/online', { features: ['driver_hourly_stats:conv_rate', 'driver_hourly_stats:trips'], entities: { driver_id: [1001, 1002, 1006] } });
      const logged = served.body.results.map((r: { entity: { driver_id: number }; values: Record<string, unknown> }) => ({ driver_id: r.entity.driver_id, event_timestamp: iso(at), ...r.values }));
      const clean = await server.json('POST', '/api/v1/features/skew', { features: ['driver_hourly_stats:conv_rate', 'driver_hourly_stats:trips'], logged_rows: logged });
      assert.equal(clean.status, 200, JSON.stringify(clean.body));
      assert.deepEqual(clean.body.features.map((f: { mismatches: number }) => f.mismatches), [0, 0]);
      logged[1].conv_rate = 0.5;
      const skewed = await server.json('POST', '/api/v1/features/skew', { features: ['driver_hourly_stats:conv_rate', 'driver_hourly_stats:trips'], logged_rows: logged });
      const conv = skewed.body.features.find((f: { feature: string }) => f.feature === 'conv_rate');
      assert.equal(conv.mismatches, 1);
      assert.equal(conv.mismatch_rate, 1 / 3);
      assert.deepEqual(conv.examples[0], { row: 1, served: 0.5, offline: 0.99 });
      // The same check over a dataset of logged features.
      const csv = ['driver_id,event_timestamp,conv_rate,trips', ...logged.map((l: Record<string, unknown>) => `${l.driver_id},${l.event_timestamp},${l.conv_rate},${l.trips}`)].join('\n');
      const upload = await server.fetch('/api/v1/datasets/served_log/versions', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: csv });
      assert.equal(upload.status, 201);
      const fromDataset = await server.json('POST', '/api/v1/features/skew', { features: ['driver_hourly_stats:conv_rate', 'driver_hourly_stats:trips'], logged_dataset: 'served_log' });
      assert.equal(fromDataset.status, 200, JSON.stringify(fromDataset.body));
      assert.deepEqual(fromDataset.body.features.map((f: { feature: string; mismatches: number }) => [f.feature, f.mismatches]), [['conv_rate', 1], ['trips', 0]]);
      // The service's on-demand feature needs a request field the log lacks.
      const lacking = await server.json('POST', '/api/v1/features/skew', { feature_service: 'driver_model', logged_dataset: 'served_log' });
      assert.equal(lacking.status, 400);
      assert.equal(lacking.body.errors[0].field, 'logged_dataset');
      assert.match(lacking.body.detail, /val_to_add/);
    });
  });
}
