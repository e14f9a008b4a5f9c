/**
 * The skew check over a large log: 50,000 logged rows of five features (float, int, string, bool,
 * timestamp), a seeded share of them altered, null or of entities the source does not know. The
 * mismatch counts and the first examples of each feature are checked against a brute-force comparison
 * in this file, with and without a tolerance.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../src/core/clock.ts';
import { uploadDataset } from './support/data.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const T0 = Date.UTC(2024, 4, 1);
const MINUTE = 60_000;
const DAY = 86_400_000;
const ROWS = 50_000;
/** Drivers 1..KNOWN have one source row at T0; drivers up to DRIVERS appear only in the log. */
const KNOWN = 1_000;
const DRIVERS = 1_050;
const iso = (ms: number) => new Date(ms).toISOString();

const DEFS = `
entities:
  - name: driver
    join_keys: [{ name: driver_id, type: int }]
feature_views:
  - name: stats
    entities: [driver]
    source: { dataset: stats_src, timestamp: event_timestamp, columns: { event_timestamp: timestamp } }
    features:
      - { name: conv_rate, type: float }
      - { name: trips, type: int }
      - { name: zone, type: string }
      - { name: busy, type: bool, expr: "trips >= 10" }
      - { name: seen_at, type: timestamp, expr: event_timestamp }
`;
const FEATURES = ['conv_rate', 'trips', 'zone', 'busy', 'seen_at'] as const;
type Feature = (typeof FEATURES)[number];
type Value = number | string | boolean | null;

/** The source row of a known driver, as the offline recomputation must find it. */
function offline(driver: number): Record<Feature, Value> {
  if (driver > KNOWN) return { conv_rate: null, trips: null, zone: null, busy: null, seen_at: null };
  const trips = driver % 20;
  return { conv_rate: driver / 1000 + 0.123, trips, zone: `z${driver % 7}`, busy: trips >= 10, seen_at: T0 };
}

/** mulberry32: a small seeded generator, so the log is the same every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A served value: mostly the offline one, else nearly it, clearly not it, or null. */
function serve(feature: Feature, value: Value, r: number): { value: Value; text: string } {
  const as = (v: Value, text = v === null ? '' : String(v)) => ({ value: v, text });
  if (r < 0.05) return as(null);
  if (r < 0.75) {
    if (value === null) return as(null);
    return feature === 'seen_at' ? as(value, iso(value as number)) : as(value);
  }
  const known = value ?? { conv_rate: 0.5, trips: 3, zone: 'z0', busy: false, seen_at: T0 }[feature];
  const near = r < 0.87;
  switch (feature) {
    case 'conv_rate':
      return as(near ? (known as number) * (1 + 1e-9) : (known as number) + 0.01);
    case 'trips':
      return as(near ? (known as number) : (known as number) + 1);
    case 'zone':
      return as(near ? (known as string) : `${known}x`);
    case 'busy':
      return as(near ? (known as boolean) : !(known as boolean));
    case 'seen_at':
      // 400 µs later is the same millisecond; a minute later is within a 1e-6 tolerance of ~1.7e12 ms, a day is not.
      if (near) return r < 0.81 ? as(known, iso(known as number).replace('Z', '400Z')) : as((known as number) + MINUTE, iso((known as number) + MINUTE));
      return as((known as number) + DAY, iso((known as number) + DAY));
  }
}

/** Whether the skew check counts the pair as equal: null only equals null; numbers within a relative tolerance. */
function equal(served: Value, off: Value, tolerance: number): boolean {
  if (served === null || off === null) return served === off;
  if (typeof served === 'number' && typeof off === 'number') {
    return served === off || (tolerance > 0 && Math.abs(served - off) <= tolerance * Math.max(1, Math.abs(served), Math.abs(off)));
  }
  return served === off;
}

describe('skew check over 50,000 logged rows', () => {
  let server: TestServer;
  const logged: { driver: number; values: Record<Feature, Value> }[] = [];
  before(async () => {
    server = await startTestServer({ clock: new ManualClock(T0 + DAY) });
    const source = ['driver_id,event_timestamp,conv_rate,trips,zone'];
    for (let d = 1; d <= KNOWN; d++) {
      const o = offline(d);
      source.push(`${d},${iso(T0)},${o.conv_rate},${o.trips},${o.zone}`);
    }
    assert.equal((await uploadDataset(server, 'stats_src', source.join('\n'))).status, 201);
    const applied = await server.json('POST', '/api/v1/features/apply', { yaml: DEFS });
    assert.equal(applied.status, 200, JSON.stringify(applied.body));

    const next = random(20240501);
    const lines = [`driver_id,event_timestamp,${FEATURES.join(',')}`];
    for (let i = 0; i < ROWS; i++) {
      const driver = 1 + ((i * 7919) % DRIVERS);
      const expected = offline(driver);
      const served = FEATURES.map((f) => serve(f, expected[f], next()));
      logged.push({ driver, values: Object.fromEntries(FEATURES.map((f, k) => [f, served[k].value])) as Record<Feature, Value> });
      lines.push(`${driver},${iso(T0 + (1 + (i % 600)) * MINUTE)},${served.map((s) => s.text).join(',')}`);
    }
    const upload = await uploadDataset(server, 'served_log', lines.join('\n'));
    assert.equal(upload.status, 201, JSON.stringify(upload.body));
    assert.equal(upload.body.version.row_count, ROWS);
  });
  after(() => server?.close());

  for (const tolerance of [0, 1e-6]) {
    it(`counts mismatches as a brute-force comparison does (tolerance ${tolerance})`, async () => {
      const res = await server.json('POST', '/api/v1/features/skew', { features: FEATURES.map((f) => `stats:${f}`), logged_dataset: 'served_log', tolerance });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.rows, ROWS);
      assert.deepEqual(
        res.body.features.map((f: { feature: string }) => f.feature),
        [...FEATURES],
      );
      for (const [k, feature] of FEATURES.entries()) {
        const mismatched: { row: number; served: Value; offline: Value }[] = [];
        logged.forEach((row, i) => {
          const off = offline(row.driver)[feature];
          if (!equal(row.values[feature], off, tolerance)) mismatched.push({ row: i, served: row.values[feature], offline: off });
        });
        const got = res.body.features[k];
        assert.ok(mismatched.length > ROWS / 20 && mismatched.length < ROWS / 2, `${feature}: ${mismatched.length} mismatches is a fair share`);
        if (feature === 'conv_rate' || feature === 'seen_at') {
          const withinTolerance = logged.filter((row) => !equal(row.values[feature], offline(row.driver)[feature], 0) && equal(row.values[feature], offline(row.driver)[feature], 1e-6));
          assert.ok(withinTolerance.length > ROWS / 50, `${feature}: the log holds values only the tolerance lets agree`);
        }
        assert.deepEqual(
          { feature: got.feature, compared: got.compared, mismatches: got.mismatches, mismatch_rate: got.mismatch_rate },
          { feature, compared: ROWS, mismatches: mismatched.length, mismatch_rate: mismatched.length / ROWS },
        );
        assert.deepEqual(got.examples, mismatched.slice(0, 5), `${feature}: the first five mismatches`);
      }
    });
  }
});
