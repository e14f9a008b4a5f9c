/**
 * Online reads against offline retrieval at the same time, on every online backend: a view that mixes
 * row-level and window features is materialized in full, then incrementally, then from a given start
 * (`POST /api/v1/features/materialize {"start": ...}`), and after each run every value, status and
 * event timestamp served online is checked against point-in-time retrieval and against a brute-force
 * oracle written here — with an entity whose window empties, rows older than the TTL, late rows, and
 * sums of tenths in a file order that is not time order. On-demand features get their request fields
 * converted to the declared types online as offline.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../src/core/clock.ts';
import { onlineBackends } from './support/backends.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const T0 = Date.UTC(2024, 4, 1);
const M = 60_000;
const TTL = 60 * M;
const WINDOW = 120 * M;
const iso = (ms: number) => new Date(ms).toISOString();

const DEFS = `
entities:
  - name: driver
    join_keys: [{ name: driver_id, type: int }]
feature_views:
  - name: mixed
    entities: [driver]
    source: { dataset: events, timestamp: event_timestamp }
    ttl: 1h
    features:
      - { name: conv_rate, type: float }
      - { name: conv_x10, type: float, expr: conv_rate * 10 }
      - { name: n_2h, type: int, aggregation: { fn: count, window: 2h } }
      - { name: sum_2h, type: float, aggregation: { fn: sum, expr: conv_rate, window: 2h } }
      - { name: mean_2h, type: float, aggregation: { fn: mean, expr: conv_rate, window: 2h } }
      - { name: max_2h, type: float, aggregation: { fn: max, expr: conv_rate, window: 2h } }
      - { name: mean_last_3, type: float, aggregation: { fn: mean, expr: conv_rate, last: 3 } }
on_demand_feature_views:
  - name: req
    sources: [mixed]
    request:
      - { name: r_int, type: int }
      - { name: r_float, type: float }
      - { name: r_str, type: string }
      - { name: r_bool, type: bool }
      - { name: r_at, type: timestamp }
    features:
      - { name: i2, type: int, expr: cast(r_int * 2 as int) }
      - { name: f3, type: float, expr: r_float * 3 }
      - { name: s2, type: string, expr: "concat(r_str, '!')" }
      - { name: not_b, type: bool, expr: NOT r_bool }
      - { name: at_ms, type: int, expr: epoch_ms(r_at) }
      - { name: at_hour, type: int, expr: hour(r_at) }
      - { name: at, type: timestamp, expr: r_at }
`;

const ROW_FEATURES = ['conv_rate', 'conv_x10'];
const WINDOW_FEATURES = ['n_2h', 'sum_2h', 'mean_2h', 'max_2h', 'mean_last_3'];
const FEATURES = [...ROW_FEATURES, ...WINDOW_FEATURES].map((f) => `mixed:${f}`);
/** 4 is never in the source. */
const DRIVERS = [1, 2, 3, 4];

interface Row {
  readonly driver: number;
  readonly t: number;
  readonly conv: number;
}

/** Rows of the first source version, in file order (driver 1's are in reverse time order). */
const V1: Row[] = [
  { driver: 1, t: T0 + 20 * M, conv: 0.3 },
  { driver: 2, t: T0 + 5 * M, conv: 0.7 },
  { driver: 1, t: T0 + 10 * M, conv: 0.2 },
  { driver: 3, t: T0 + 30 * M, conv: 0.9 },
  { driver: 1, t: T0, conv: 0.1 },
];
/** Then a new reading of driver 2 and a late one of driver 1 (older than the first run's end). */
const V2: Row[] = [...V1, { driver: 2, t: T0 + 90 * M, conv: 0.4 }, { driver: 1, t: T0 + 15 * M, conv: 0.25 }];
/** Then another reading of driver 2. */
const V3: Row[] = [...V2, { driver: 2, t: T0 + 190 * M, conv: 0.6 }];

const csv = (rows: Row[]) => ['driver_id,event_timestamp,conv_rate', ...rows.map((r) => `${r.driver},${iso(r.t)},${r.conv}`)].join('\n');

/** What is expected of one feature of one entity online at time `at`, after a run that ended at `end`. */
interface Expected {
  readonly value: number | null;
  readonly status: 'PRESENT' | 'NOT_FOUND' | 'OUTSIDE_MAX_AGE';
  readonly event_timestamp: string | null;
}

/**
 * The oracle, by brute force over the rows: the newest row at or before `at` (ties: later in the file)
 * within the TTL for row-level features; the rows of (at − 2h, at] or the last 3, added in time order,
 * for window features, which hold as of the run's `end`.
 */
function oracle(rows: Row[], driver: number, at: number, end: number): Record<string, Expected> {
  const mine = rows
    .map((r, seq) => ({ ...r, seq }))
    .filter((r) => r.driver === driver && r.t <= at)
    .sort((a, b) => a.t - b.t || a.seq - b.seq);
  const newest = mine.at(-1);
  const out: Record<string, Expected> = {};
  const fresh = newest !== undefined && at - newest.t <= TTL;
  const rowStatus = newest === undefined ? 'NOT_FOUND' : fresh ? 'PRESENT' : 'OUTSIDE_MAX_AGE';
  const rowTime = newest ? iso(newest.t) : null;
  out.conv_rate = { value: fresh ? newest.conv : null, status: rowStatus, event_timestamp: rowTime };
  out.conv_x10 = { value: fresh ? newest.conv * 10 : null, status: rowStatus, event_timestamp: rowTime };
  const windowed = mine.filter((r) => r.t > at - WINDOW).map((r) => r.conv);
  const sum = (xs: number[]) => (xs.length === 0 ? null : xs.reduce((a, b) => a + b));
  const window = (value: number | null): Expected =>
    mine.length === 0 ? { value: null, status: 'NOT_FOUND', event_timestamp: null } : { value, status: 'PRESENT', event_timestamp: iso(end) };
  out.n_2h = window(windowed.length);
  out.sum_2h = window(sum(windowed));
  out.mean_2h = window(windowed.length === 0 ? null : sum(windowed)! / windowed.length);
  out.max_2h = window(windowed.length === 0 ? null : Math.max(...windowed));
  const last = mine.slice(-3).map((r) => r.conv);
  out.mean_last_3 = window(last.length === 0 ? null : sum(last)! / last.length);
  return out;
}

for (const online of onlineBackends()) {
  describe(`online reads equal offline retrieval at the same time (online store: ${online.name})`, { skip: online.skip }, () => {
    let server: TestServer;
    const clock = new ManualClock(T0);
    before(async () => {
      server = await startTestServer({ online, clock });
      const applied = await server.json('POST', '/api/v1/features/apply', { yaml: DEFS });
      assert.equal(applied.status, 200, JSON.stringify(applied.body));
    });
    after(async () => server?.close());

    async function upload(rows: Row[]): Promise<void> {
      const res = await server.fetch('/api/v1/datasets/events/versions', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: csv(rows) });
      assert.equal(res.status, 201, await res.text());
    }

    async function materialize(body: Record<string, unknown>) {
      const res = await server.json('POST', '/api/v1/features/materialize', body);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.views[0] as { start: number | null; end: number; entities: number };
    }

    /** Reads online and offline at the clock's now and checks both against the oracle, value, status and time. */
    async function compare(rows: Row[], end: number, label: string): Promise<Record<number, Record<string, Expected>>> {
      const at = clock.now();
      const on = await server.json('POST', '/api/v1/features/online', { features: FEATURES, entities: { driver_id: DRIVERS } });
      assert.equal(on.status, 200, JSON.stringify(on.body));
      const off = await server.json('POST', '/api/v1/features/retrieve', {
        features: FEATURES,
        entity_rows: DRIVERS.map((d) => ({ driver_id: d, event_timestamp: iso(at) })),
        return_rows: DRIVERS.length,
      });
      assert.equal(off.status, 200, JSON.stringify(off.body));
      const expected: Record<number, Record<string, Expected>> = {};
      DRIVERS.forEach((driver, i) => {
        const want = oracle(rows, driver, at, end);
        expected[driver] = want;
        const got = on.body.results[i];
        for (const f of [...ROW_FEATURES, ...WINDOW_FEATURES]) {
          const where = `${label}: driver ${driver}, ${f}`;
          assert.deepEqual({ value: got.values[f], status: got.statuses[f], event_timestamp: got.event_timestamps[f] }, want[f], `${where} online`);
          if (got.statuses[f] === 'NOT_FOUND') {
            // An entity the source has not seen by then: offline counts 0 rows; online has no record of it.
            assert.equal(off.body.rows[i][f], f === 'n_2h' ? 0 : null, `${where} offline`);
          } else {
            assert.equal(off.body.rows[i][f], got.values[f], `${where} offline equals online`);
          }
        }
      });
      return expected;
    }

    it('after a full run, an incremental run and a run from a start time', async () => {
      // 1. Full, at T0+45m.
      await upload(V1);
      clock.set(T0 + 45 * M);
      const full = await materialize({});
      assert.equal(full.start, null);
      assert.equal(full.entities, 3);
      const first = await compare(V1, T0 + 45 * M, 'full');
      // Tenths added in time order (the file has them the other way round).
      assert.equal(first[1].sum_2h.value, 0.1 + 0.2 + 0.3);
      assert.notEqual(0.1 + 0.2 + 0.3, 0.3 + 0.2 + 0.1);
      assert.equal(first[1].mean_2h.value, (0.1 + 0.2 + 0.3) / 3);

      // 2. Incremental, at T0+1h45: driver 1 has no new row (only a late one, before the mark) but its
      // row stays, now older than the TTL, and its windows take the late row in; driver 3's only row is
      // 75 minutes old.
      await upload(V2);
      clock.set(T0 + 105 * M);
      const incremental = await materialize({ incremental: true });
      assert.equal(incremental.start, T0 + 45 * M);
      const second = await compare(V2, T0 + 105 * M, 'incremental');
      assert.equal(second[1].conv_rate.status, 'OUTSIDE_MAX_AGE');
      assert.equal(second[3].conv_rate.status, 'OUTSIDE_MAX_AGE');
      assert.equal(second[3].conv_rate.event_timestamp, iso(T0 + 30 * M));
      assert.equal(second[3].n_2h.value, 1);
      assert.equal(second[1].n_2h.value, 4);

      // 3. From a given start, at T0+3h30: the windows of drivers 1 and 3 are empty now; driver 2's
      // reading at T0+1h30 is exactly 2 hours old, so out of the window.
      await upload(V3);
      clock.set(T0 + 210 * M);
      const fromStart = await materialize({ start: iso(T0 + 180 * M) });
      assert.equal(fromStart.start, T0 + 180 * M);
      assert.equal(fromStart.end, T0 + 210 * M);
      const third = await compare(V3, T0 + 210 * M, 'start');
      assert.deepEqual([third[1].n_2h.value, third[1].sum_2h.value, third[1].max_2h.value], [0, null, null]);
      assert.equal(third[1].mean_last_3.value, (0.2 + 0.25 + 0.3) / 3);
      assert.equal(third[3].n_2h.value, 0);
      assert.deepEqual([third[2].n_2h.value, third[2].conv_rate.value], [1, 0.6]);
    });

    it('converts request fields to their declared types online as offline retrieval does', async () => {
      const names = ['i2', 'f3', 's2', 'not_b', 'at_ms', 'at_hour', 'at'];
      const request = {
        r_int: [7, -3, null],
        r_float: [0.1, 2, null],
        r_str: ['héllo', '', null],
        r_bool: [true, false, null],
        // ISO text, epoch milliseconds, nothing.
        r_at: ['2024-01-01T05:00:00Z', Date.UTC(2024, 0, 1, 23, 59, 59, 999), null],
      };
      const on = await server.json('POST', '/api/v1/features/online', { features: ['req'], entities: { driver_id: [1, 2, 4], ...request } });
      assert.equal(on.status, 200, JSON.stringify(on.body));
      const off = await server.json('POST', '/api/v1/features/retrieve', {
        features: ['req'],
        entity_rows: [0, 1, 2].map((i) => ({
          driver_id: [1, 2, 4][i],
          event_timestamp: iso(clock.now()),
          ...Object.fromEntries(Object.entries(request).map(([k, v]) => [k, v[i]])),
        })),
        return_rows: 3,
      });
      assert.equal(off.status, 200, JSON.stringify(off.body));
      for (let i = 0; i < 3; i++) {
        for (const name of names) {
          const offline = off.body.rows[i][name];
          // Timestamps are ISO text in a saved dataset and epoch milliseconds online.
          const want = name === 'at' && typeof offline === 'string' ? Date.parse(offline) : offline;
          assert.equal(on.body.results[i].values[name], want, `row ${i}, ${name}`);
        }
      }
      assert.deepEqual(on.body.results[0].values, { i2: 14, f3: 0.1 * 3, s2: 'héllo!', not_b: false, at_ms: Date.UTC(2024, 0, 1, 5), at_hour: 5, at: Date.UTC(2024, 0, 1, 5) });
      assert.equal(on.body.results[1].values.at_hour, 23);
      // concat skips NULLs; everything else of nothing is NULL.
      assert.deepEqual(on.body.results[2].values, { i2: null, f3: null, s2: '!', not_b: null, at_ms: null, at_hour: null, at: null });
    });
  });
}
