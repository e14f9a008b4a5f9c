/**
 * Nothing acknowledged is lost: 1,000 concurrent `log-metric` calls, the server killed with SIGKILL
 * part-way, restarted on the same home — every acknowledged point is there and SQLite says the file is sound.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SqliteMetadataStore } from '../src/storage/sqlite/metadata-store.ts';
import { tempDir } from './support/backends.ts';
import { spawnServer } from './support/process.ts';

const POINTS = 1000;

describe('durability', () => {
  it('keeps every acknowledged log-metric across kill -9', async () => {
    const home = await tempDir();
    try {
      const first = await spawnServer(['--home', home.path], { MLOOP_LOG_LEVEL: 'warn' });
      const post = (url: string, path: string, body: unknown) =>
        fetch(`${url}/api/2.0/mlflow/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const created = await (await post(first.url, 'runs/create', { experiment_id: '0' })).json();
      const runId: string = created.run.info.run_id;

      const acked = new Set<number>();
      let killed = false;
      const calls = Array.from({ length: POINTS }, async (_, step) => {
        try {
          const response = await post(first.url, 'runs/log-metric', { run_id: runId, key: 'loss', value: step / 7, timestamp: 1_700_000_000_000 + step, step });
          if (response.status === 200) {
            await response.arrayBuffer();
            acked.add(step);
            if (!killed && acked.size >= POINTS / 4) {
              killed = true;
              first.child.kill('SIGKILL');
            }
          }
        } catch {
          // the connection died with the server: not acknowledged, so allowed to be lost
        }
      });
      await Promise.all(calls);
      const exit = await first.exited;
      assert.equal(exit.signal, 'SIGKILL', 'the server must have been killed part-way');
      assert.ok(acked.size >= POINTS / 4 && acked.size < POINTS, `acked ${acked.size}`);

      const second = await spawnServer(['--home', home.path], { MLOOP_LOG_LEVEL: 'warn' });
      try {
        const history = await (
          await fetch(`${second.url}/api/2.0/mlflow/metrics/get-history?run_id=${runId}&metric_key=loss&max_results=25000`)
        ).json();
        const stored = new Map<number, number>(history.metrics.map((m: { step: number; value: number }) => [m.step, m.value]));
        for (const step of acked) {
          assert.ok(stored.has(step), `acknowledged step ${step} was lost`);
          assert.equal(stored.get(step), step / 7);
        }
      } finally {
        second.child.kill('SIGTERM');
        await second.exited;
      }
      const store = new SqliteMetadataStore({ path: join(home.path, 'mloop.db') });
      try {
        assert.equal(store.integrityCheck(), 'ok');
      } finally {
        await store.close();
      }
    } finally {
      await home.cleanup();
    }
  });
});
