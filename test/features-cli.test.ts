/** `mloop features ...` against a real server process: apply, materialize with progress, online, retrieve, push, skew, impact. */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from './support/backends.ts';
import { runCli, spawnServer, type ServerProcess } from './support/process.ts';

const DEFS = `
entities:
  - name: machine
    join_keys: [{ name: machine_id, type: string }]
feature_views:
  - name: machine_stats
    entities: [machine]
    source: { dataset: readings, timestamp: ts, columns: { temp: float } }
    features:
      - { name: temp, type: float }
      - { name: hot, type: bool, expr: temp > 80 }
      - { name: temp_mean_last_3, type: float, aggregation: { fn: mean, expr: temp, last: 3 } }
feature_services:
  - name: maintenance
    features: [machine_stats]
`;
const CSV = `machine_id,ts,temp
m1,2024-01-01T00:00:00Z,70
m1,2024-01-01T01:00:00Z,82
m1,2024-01-01T02:00:00Z,90
m2,2024-01-01T00:30:00Z,60
`;

describe('mloop features (CLI)', () => {
  let server: ServerProcess;
  let home: { path: string; cleanup(): Promise<void> };
  const cli = (...args: string[]) => runCli([...args, '--url', server.url]);
  before(async () => {
    home = await tempDir();
    server = await spawnServer(['--home', join(home.path, 'home')], { MLOOP_LOG_LEVEL: 'warn' });
    await writeFile(join(home.path, 'defs.yaml'), DEFS);
    await writeFile(join(home.path, 'readings.csv'), CSV);
    await writeFile(join(home.path, 'entities.csv'), 'machine_id,ts,failed\nm1,2024-01-01T01:30:00Z,0\nm1,2024-01-01T03:00:00Z,1\nm2,2024-01-01T00:00:00Z,0\n');
    const upload = await fetch(`${server.url}/api/v1/datasets/readings/versions`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: CSV });
    assert.equal(upload.status, 201);
  });
  after(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    await home?.cleanup();
  });

  it('applies, materializes with progress and reads online', async () => {
    const apply = await cli('features', 'apply', join(home.path, 'defs.yaml'), '--json');
    assert.equal(apply.code, 0, apply.stderr);
    assert.deepEqual(JSON.parse(apply.stdout).results.map((r: { status: string }) => r.status), ['created', 'created', 'created']);
    const list = await cli('features', 'list');
    assert.match(list.stdout, /feature_view\s+machine_stats/);
    const mat = await cli('features', 'materialize', '--end', '2024-01-01T03:00:00Z', '--json');
    assert.equal(mat.code, 0, mat.stderr);
    // Per entity, a record of its row-level features and one of its window features.
    assert.match(mat.stderr, /machine_stats: write online 4\/4/);
    assert.equal(JSON.parse(mat.stdout).views[0].entities, 2);
    const online = await cli('features', 'online', '--service', 'maintenance', '--entity', 'machine_id=m1', '--entity', 'machine_id=m9', '--json');
    assert.equal(online.code, 0, online.stderr);
    const body = JSON.parse(online.stdout);
    assert.deepEqual(body.results[0].values, { temp: 90, hot: true, temp_mean_last_3: (70 + 82 + 90) / 3 });
    assert.equal(body.results[1].statuses.temp, 'NOT_FOUND');
    const text = await cli('features', 'online', '--feature', 'machine_stats:temp', '--entity', 'machine_id=m2');
    assert.match(text.stdout, /temp\s+60\s+PRESENT/);
    // From a start time: m2 has no row after it, and keeps its row-level values and their event time.
    const fromStart = await cli('features', 'materialize', '--start', '2024-01-01T01:30:00Z', '--end', '2024-01-01T04:00:00Z', '--json');
    assert.equal(fromStart.code, 0, fromStart.stderr);
    assert.deepEqual(JSON.parse(fromStart.stdout).views.map((v: { start: number; entities: number }) => [v.start, v.entities]), [[Date.UTC(2024, 0, 1, 1, 30), 2]]);
    const after = await cli('features', 'online', '--service', 'maintenance', '--entity', 'machine_id=m1', '--entity', 'machine_id=m2', '--json');
    const [m1, m2] = JSON.parse(after.stdout).results;
    assert.deepEqual(m2.values, { temp: 60, hot: false, temp_mean_last_3: 60 });
    assert.deepEqual(m2.statuses, { temp: 'PRESENT', hot: 'PRESENT', temp_mean_last_3: 'PRESENT' });
    assert.equal(m2.event_timestamps.temp, '2024-01-01T00:30:00.000Z');
    assert.equal(m2.event_timestamps.temp_mean_last_3, '2024-01-01T04:00:00.000Z');
    assert.equal(m1.values.temp, 90);
  });

  it('retrieves a training set from a file of entity rows', async () => {
    const res = await cli('features', 'retrieve', '--service', 'maintenance', '--entities', join(home.path, 'entities.csv'), '--timestamp-column', 'ts', '--save-as', 'train', '--rows', '10', '--json');
    assert.equal(res.code, 0, res.stderr);
    const body = JSON.parse(res.stdout);
    assert.equal(body.dataset.name, 'train');
    assert.deepEqual(body.rows.map((r: { temp: number | null }) => r.temp), [82, 90, null]);
    assert.deepEqual(body.rows.map((r: { temp_mean_last_3: number | null }) => r.temp_mean_last_3), [76, (70 + 82 + 90) / 3, null]);
    // The file went up as a dataset version (streamed, not read whole), a parent of the training set.
    const entities = await (await fetch(`${server.url}/api/v1/datasets/train-entities/versions/latest?profile=false`)).json();
    assert.equal(entities.row_count, 3);
    assert.equal(entities.source.name, 'entities.csv');
    const saved = await (await fetch(`${server.url}/api/v1/datasets/train/versions/${body.dataset.version}?profile=false`)).json();
    assert.deepEqual(saved.lineage.parents[0], { name: 'train-entities', version: entities.version });
  });

  it('pushes, checks skew and shows impact; bad input exits non-zero naming the problem', async () => {
    await writeFile(join(home.path, 'push.jsonl'), '{"machine_id":"m2","ts":"2024-01-01T04:00:00Z","temp":99}\n');
    const push = await cli('features', 'push', 'machine_stats', join(home.path, 'push.jsonl'), '--json');
    assert.equal(push.code, 1);
    assert.match(push.stderr, /window features/);
    const skewFile = join(home.path, 'logged.jsonl');
    await writeFile(skewFile, '{"machine_id":"m1","ts":"2024-01-01T03:00:00Z","temp":90}\n{"machine_id":"m2","ts":"2024-01-01T03:00:00Z","temp":61}\n');
    const skew = await cli('features', 'skew', '--feature', 'machine_stats:temp', '--logged', skewFile, '--timestamp-column', 'ts', '--json');
    assert.equal(skew.code, 0, skew.stderr);
    assert.equal(JSON.parse(skew.stdout).features[0].mismatch_rate, 0.5);
    // The same log as RFC 4180 CSV: quoted fields, a quoted line break in a column the check ignores.
    const skewCsv = join(home.path, 'logged.csv');
    await writeFile(skewCsv, 'machine_id,ts,temp,note\r\n"m1",2024-01-01T03:00:00Z,90,"a, b"\r\nm2,2024-01-01T03:00:00Z,61,"two\nlines"\r\n');
    const fromCsv = await cli('features', 'skew', '--feature', 'machine_stats:temp', '--logged', skewCsv, '--timestamp-column', 'ts', '--json');
    assert.equal(fromCsv.code, 0, fromCsv.stderr);
    assert.equal(JSON.parse(fromCsv.stdout).features[0].mismatch_rate, 0.5);
    const impact = await cli('features', 'impact', 'machine_stats', '--json');
    assert.equal(impact.code, 0, impact.stderr);
    assert.ok(JSON.parse(impact.stdout).consumers.some((c: { kind: string }) => c.kind === 'feature_service'));
    const bad = await cli('features', 'online', '--feature', 'machine_stats:nope', '--entity', 'machine_id=m1', '--json');
    assert.equal(bad.code, 1);
    assert.match(JSON.parse(bad.stderr).error.message, /machine_stats:nope/);
  });
});
