/**
 * Point-in-time correctness of offline retrieval against two independent oracles — a brute-force scan
 * in TypeScript and pandas `merge_asof` with `tolerance` — on generated data with ties, late rows
 * and entity rows exactly at TTL boundaries; and window aggregations against the TypeScript path
 * that materialization uses.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Random } from '../core/random.ts';
import { resolveView, type EntitySpec, type FeatureViewSpec } from './domain.ts';
import { DuckDb, type DuckDbConnection } from '../storage/duckdb/engine.ts';
import { exprRows, loadRows } from './duck-values.ts';
import type { ExprValue } from './expr.ts';
import { retrievalSql, tieCheckSql } from './retrieval.ts';
import { windowValue, type WindowRow } from './windows.ts';

const PYTHON = '/usr/bin/python3';
const pandasMissing = spawnSync(PYTHON, ['-c', 'import pandas'], { stdio: 'ignore' }).status !== 0 ? 'pandas is not installed (apt-get install python3-pandas)' : undefined;

const BASE = Date.UTC(2024, 0, 1);
const TTL = 30_000;
const entities = new Map<string, EntitySpec>([['driver', { name: 'driver', join_keys: [{ name: 'driver_id', type: 'int' }] }]]);

interface Event {
  driver_id: number;
  ts: number;
  seq: number;
  rate: number | null;
  name: string | null;
}

function generate(seed: number, nEvents: number, nRows: number) {
  const rng = new Random(seed);
  const events: Event[] = [];
  for (let seq = 0; seq < nEvents; seq++) {
    // Few distinct times so that ties in (driver, ts) are common; file order is not time order (late rows).
    events.push({
      driver_id: rng.int(12),
      ts: BASE + rng.int(120) * 1000,
      seq,
      rate: rng.next() < 0.1 ? null : (rng.int(161) - 80) / 8,
      name: rng.next() < 0.1 ? null : ['a', 'b', 'ü', ''][rng.int(4)],
    });
  }
  const rows: { __rid: number; driver_id: number | null; event_timestamp: number; label: number }[] = [];
  for (let rid = 0; rid < nRows; rid++) {
    const e = events[rng.int(events.length)];
    const pick = rng.int(7);
    const t =
      pick === 0 ? e.ts : pick === 1 ? e.ts + TTL : pick === 2 ? e.ts + TTL + 1 : pick === 3 ? e.ts - 1 : pick === 4 ? BASE - 5000 : BASE + rng.int(200_000);
    rows.push({ __rid: rid, driver_id: rng.next() < 0.05 ? 99 : rng.next() < 0.02 ? null : e.driver_id, event_timestamp: t, label: rng.int(2) });
  }
  return { events, rows };
}

/** The oracle: for each row, scan every event. */
function bruteForce(events: Event[], rows: ReturnType<typeof generate>['rows']): { rate: number | null; name: string | null }[] {
  return rows.map((r) => {
    let best: Event | undefined;
    for (const e of events) {
      if (e.driver_id !== r.driver_id || e.ts > r.event_timestamp) continue;
      if (!best || e.ts > best.ts || (e.ts === best.ts && e.seq > best.seq)) best = e;
    }
    if (!best || best.ts < r.event_timestamp - TTL) return { rate: null, name: null };
    return { rate: best.rate, name: best.name };
  });
}

const viewSpec: FeatureViewSpec = {
  name: 'driver_stats',
  entities: ['driver'],
  source: { dataset: 'driver_events', timestamp: 'ts' },
  ttl: TTL,
  features: [
    { name: 'rate', type: 'float' },
    { name: 'name', type: 'string' },
    { name: 'rate_x2', type: 'float', expr: 'rate * 2' },
  ],
};

describe('point-in-time retrieval', () => {
  let duck: DuckDb;
  let dir: string;
  before(async () => {
    duck = await DuckDb.open({ threads: 2 });
    dir = await mkdtemp(join(tmpdir(), 'mloop-pit-'));
  });
  after(async () => {
    duck.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs `fn` on one connection, which holds the tables it loads. */
  const connected = <T>(fn: (c: DuckDbConnection) => Promise<T>) => duck.withConnection(fn);

  async function retrieve(events: Event[], rows: ReturnType<typeof generate>['rows'], unique = false, c?: DuckDbConnection): Promise<Record<string, ExprValue>[]> {
    if (!c) return connected((own) => retrieve(events, rows, unique, own));
    await loadRows(c, 'src', [
      { name: 'driver_id', type: 'int' },
      { name: 'ts', type: 'timestamp' },
      { name: 'seq', type: 'int' },
      { name: 'rate', type: 'float' },
      { name: 'name', type: 'string' },
    ], events);
    await loadRows(c, 'ent', [
      { name: '__rid', type: 'int' },
      { name: 'driver_id', type: 'int' },
      { name: 'event_timestamp', type: 'timestamp' },
      { name: 'label', type: 'int' },
    ], rows);
    const view = resolveView(viewSpec, entities, 'v1');
    const sql = retrievalSql({
      entity: 'ent',
      timestamp: 'event_timestamp',
      entityColumns: ['driver_id', 'event_timestamp', 'label'],
      views: [{ view, from: '(SELECT *, seq AS file_row_number FROM src)', features: ['rate', 'name', 'rate_x2'], unique }],
    });
    return exprRows(c, sql);
  }

  it('matches a brute-force scan: ties, late rows, TTL boundaries, unknown and null keys', async () => {
    for (const seed of [1, 2, 3]) {
      const { events, rows } = generate(seed, 3000, 3000);
      const got = await retrieve(events, rows);
      const want = bruteForce(events, rows);
      assert.equal(got.length, rows.length);
      for (let i = 0; i < rows.length; i++) {
        assert.equal(got[i].driver_id, rows[i].driver_id);
        assert.equal(got[i].event_timestamp, rows[i].event_timestamp);
        assert.deepEqual({ rate: got[i].rate, name: got[i].name }, want[i], `seed ${seed} row ${i}: ${JSON.stringify(rows[i])}`);
        assert.equal(got[i].rate_x2, want[i].rate === null ? null : want[i].rate! * 2);
      }
      // The test data must exercise what it claims to.
      assert.ok(want.filter((w) => w.rate === null).length > 100);
    }
  });

  it('skips tie-breaking on sources without ties and still matches the brute-force scan', async () => {
    const { events, rows } = generate(4, 3000, 3000);
    const last = new Map<string, Event>();
    for (const e of events) last.set(`${e.driver_id}|${e.ts}`, e);
    const tieFree = [...last.values()].sort((a, b) => a.seq - b.seq);
    const view = resolveView(viewSpec, entities, 'v1');
    const got = await connected(async (c) => {
      await loadRows(c, 'src', [{ name: 'driver_id', type: 'int' }, { name: 'ts', type: 'timestamp' }], events);
      assert.ok(((await exprRows(c, tieCheckSql(view, 'src')))[0].ties as number) > 0);
      const result = await retrieve(tieFree, rows, true, c);
      assert.equal((await exprRows(c, tieCheckSql(view, 'src')))[0].ties, 0);
      return result;
    });
    const want = bruteForce(tieFree, rows);
    for (let i = 0; i < rows.length; i++) {
      assert.deepEqual({ rate: got[i].rate, name: got[i].name }, want[i], `row ${i}`);
      assert.equal(got[i].rate_x2, want[i].rate === null ? null : want[i].rate! * 2);
    }
  });

  it('matches pandas merge_asof with tolerance', { skip: pandasMissing }, async () => {
    const { events, rows } = generate(11, 5000, 5000);
    const got = await retrieve(events, rows);
    const csv = (header: string[], items: object[]) =>
      [header.join(','), ...items.map((r) => header.map((h) => { const v = (r as Record<string, unknown>)[h]; return v === null ? '' : typeof v === 'string' ? JSON.stringify(v) : String(v); }).join(','))].join('\n');
    await writeFile(join(dir, 'events.csv'), csv(['driver_id', 'ts', 'seq', 'rate'], events));
    await writeFile(join(dir, 'rows.csv'), csv(['__rid', 'driver_id', 'event_timestamp'], rows.filter((r) => r.driver_id !== null)));
    const script = `
import pandas as pd, sys
d = sys.argv[1]
ev = pd.read_csv(d + '/events.csv')
rw = pd.read_csv(d + '/rows.csv')
ev['ts'] = pd.to_datetime(ev['ts'], unit='ms')
rw['event_timestamp'] = pd.to_datetime(rw['event_timestamp'], unit='ms')
ev = ev.sort_values(['ts', 'seq'], kind='stable')
rw = rw.sort_values('event_timestamp', kind='stable')
out = pd.merge_asof(rw, ev, left_on='event_timestamp', right_on='ts', by='driver_id', tolerance=pd.Timedelta(milliseconds=${TTL}), direction='backward', allow_exact_matches=True)
out.sort_values('__rid')[['__rid', 'rate', 'seq']].to_csv(d + '/out.csv', index=False)
`;
    const result = spawnSync(PYTHON, ['-c', script, dir], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.ok(existsSync(join(dir, 'out.csv')));
    const lines = (await readFile(join(dir, 'out.csv'), 'utf8')).trim().split('\n').slice(1);
    const pandas = new Map(lines.map((l) => {
      const [rid, rate, seq] = l.split(',');
      return [Number(rid), { rate: rate === '' ? null : Number(rate), seq: seq === '' ? null : Number(seq) }];
    }));
    let compared = 0;
    for (let i = 0; i < rows.length; i++) {
      if (rows[i].driver_id === null) continue;
      const p = pandas.get(i)!;
      assert.equal(got[i].rate, p.rate, `row ${i}: ${JSON.stringify(rows[i])} pandas matched seq ${p.seq}`);
      compared++;
    }
    assert.ok(compared > 4500);
  });

  it('never returns a value from the future', async () => {
    const { events, rows } = generate(5, 2000, 2000);
    const got = await retrieve(events, rows);
    const byValue = new Map<string, number>();
    for (const e of events) if (e.rate !== null) byValue.set(`${e.driver_id}|${e.rate}`, Math.min(byValue.get(`${e.driver_id}|${e.rate}`) ?? Infinity, e.ts));
    for (let i = 0; i < rows.length; i++) {
      if (got[i].rate === null) continue;
      const earliest = byValue.get(`${rows[i].driver_id}|${got[i].rate}`);
      assert.ok(earliest !== undefined && earliest <= rows[i].event_timestamp);
    }
  });
});

describe('window aggregations: offline SQL and the materialization path agree', () => {
  let duck: DuckDb;
  before(async () => {
    duck = await DuckDb.open({ threads: 2 });
  });
  after(() => duck.close());

  it('on count/sum/mean/min/max over time windows and last-N, with ties, NULLs, NaN and ±Infinity', async () => {
    const rng = new Random(42);
    const specials = [NaN, Infinity, -Infinity];
    const events = Array.from({ length: 4000 }, (_, seq) => ({
      machine: ['m1', 'm2', 'm3', 'm4', 'm5'][rng.int(5)],
      ts: BASE + rng.int(600) * 1000,
      seq,
      // Tenths are not dyadic: sums and means come out in the last bits only when both sides add in time order.
      temp: rng.next() < 0.1 ? null : rng.next() < 0.01 ? specials[rng.int(3)] : (rng.int(801) - 400) / 10,
      code: rng.next() < 0.1 ? null : ['x', 'y', 'Z', 'é'][rng.int(4)],
    }));
    const spec: FeatureViewSpec = {
      name: 'machine_windows',
      entities: ['machine'],
      source: { dataset: 'readings', timestamp: 'ts', columns: { temp: 'float', code: 'string' } },
      features: [
        { name: 'n_1m', type: 'int', aggregation: { fn: 'count', window: 60_000 } },
        { name: 'n_temp_5m', type: 'int', aggregation: { fn: 'count', expr: 'temp', window: 300_000 } },
        { name: 'sum_2m', type: 'float', aggregation: { fn: 'sum', expr: 'temp', window: 120_000 } },
        { name: 'mean_30s', type: 'float', aggregation: { fn: 'mean', expr: 'temp', window: 30_000 } },
        { name: 'min_5m', type: 'float', aggregation: { fn: 'min', expr: 'temp', window: 300_000 } },
        { name: 'max_5m', type: 'float', aggregation: { fn: 'max', expr: 'temp * 2', window: 300_000 } },
        { name: 'max_code_1m', type: 'string', aggregation: { fn: 'max', expr: 'code', window: 60_000 } },
        { name: 'mean_last_5', type: 'float', aggregation: { fn: 'mean', expr: 'temp', last: 5 } },
        { name: 'min_last_3', type: 'string', aggregation: { fn: 'min', expr: 'lower(code)', last: 3 } },
        { name: 'count_last_10', type: 'int', aggregation: { fn: 'count', last: 10 } },
      ],
    };
    const machineEntities = new Map<string, EntitySpec>([['machine', { name: 'machine', join_keys: [{ name: 'machine_id', type: 'string' }] }]]);
    const view = resolveView(spec, machineEntities, 'w1');
    const queries = Array.from({ length: 3000 }, (_, rid) => {
      const e = events[rng.int(events.length)];
      const pick = rng.int(5);
      const t = pick === 0 ? e.ts : pick === 1 ? e.ts + 60_000 : pick === 2 ? e.ts + 30_000 - 1 : pick === 3 ? e.ts - 1 : BASE + rng.int(700_000);
      return { __rid: rid, machine_id: rng.next() < 0.03 ? 'unknown' : e.machine, ts_q: t };
    });
    const got = await duck.withConnection(async (c) => {
      await loadRows(c, 'readings', [
        { name: 'machine_id', type: 'string' },
        { name: 'ts', type: 'timestamp' },
        { name: 'seq', type: 'int' },
        { name: 'temp', type: 'float' },
        { name: 'code', type: 'string' },
      ], events.map((e) => ({ ...e, machine_id: e.machine })));
      await loadRows(c, 'q', [{ name: '__rid', type: 'int' }, { name: 'machine_id', type: 'string' }, { name: 'ts_q', type: 'timestamp' }], queries);
      const names = spec.features.map((f) => f.name);
      return exprRows(
        c,
        retrievalSql({ entity: 'q', timestamp: 'ts_q', entityColumns: ['machine_id', 'ts_q'], views: [{ view, from: '(SELECT *, seq AS file_row_number FROM readings)', features: names }] }),
      );
    });
    // The materialization path: rows per entity sorted by (t, seq), each argument evaluated by the TypeScript evaluator.
    const sorted = [...events].sort((a, b) => a.ts - b.ts || a.seq - b.seq);
    // How often adding in file order would have given another sum: the data must tell the orders apart.
    let orderMatters = 0;
    for (let r = 0; r < queries.length; r++) {
      const query = queries[r];
      const mine = sorted.filter((e) => e.machine === query.machine_id);
      for (const w of view.windowFeatures) {
        const rows: WindowRow[] = mine.map((e) => ({ t: e.ts, seq: e.seq, value: w.expr ? w.expr.fn({ temp: e.temp, code: e.code }) : 1 }));
        const want = windowValue(w.agg, rows, query.ts_q);
        const have = got[r][w.spec.name] as ExprValue;
        const same = have === want || (typeof have === 'number' && typeof want === 'number' && Number.isNaN(have) && Number.isNaN(want));
        assert.ok(same, `${w.spec.name} for ${JSON.stringify(query)}: SQL ${String(have)}, TypeScript ${String(want)}`);
        if (w.spec.name === 'sum_2m' && typeof want === 'number') {
          const inFileOrder = mine
            .filter((e) => e.temp !== null && e.ts <= query.ts_q && e.ts > query.ts_q - w.agg.window!)
            .sort((a, b) => a.seq - b.seq)
            .reduce((sum, e) => sum + e.temp!, 0);
          if (inFileOrder !== want && !Number.isNaN(want)) orderMatters++;
        }
      }
    }
    assert.ok(orderMatters > 100, `only ${orderMatters} sums depend on the order of addition`);
  });
});
