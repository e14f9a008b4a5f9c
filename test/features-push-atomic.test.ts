/**
 * A push to both stores writes both or neither: when the online write fails after the offline source
 * got its new version, that version is taken back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OnlineStore } from '../src/storage/ports.ts';
import { onlineBackends, type Backend } from './support/backends.ts';
import { startTestServer } from './support/server.ts';

const CSV = 'driver_id,event_timestamp,conv_rate\n1,2024-05-01T00:00:00Z,0.5\n2,2024-05-01T01:00:00Z,0.25\n';
const DEFS = `
entities:
  - name: driver
    join_keys: [{ name: driver_id, type: int }]
feature_views:
  - name: stats
    entities: [driver]
    source: { dataset: stats_src, timestamp: event_timestamp }
    features:
      - { name: conv_rate, type: float }
`;

describe('feature push to online and offline', () => {
  it('leaves the offline source as it was when the online write fails', async () => {
    let failWrites = false;
    const base = onlineBackends()[0];
    const flaky: Backend<OnlineStore> = {
      name: 'flaky',
      async open() {
        const opened = await base.open();
        const store = opened.store;
        const write = store.write.bind(store);
        const wrapped: OnlineStore = Object.assign(Object.create(Object.getPrototypeOf(store)) as OnlineStore, store);
        wrapped.write = async (writes) => {
          if (failWrites) throw new Error('online store unavailable');
          return write(writes);
        };
        for (const key of ['read', 'close', 'ping'] as const) {
          const fn = (store as unknown as Record<string, unknown>)[key];
          if (typeof fn === 'function') (wrapped as unknown as Record<string, unknown>)[key] = fn.bind(store);
        }
        return { store: wrapped, cleanup: opened.cleanup };
      },
    };
    const server = await startTestServer({ online: flaky });
    try {
      const upload = await server.fetch('/api/v1/datasets/stats_src/versions', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: CSV });
      assert.equal(upload.status, 201, await upload.text());
      assert.equal((await server.json('POST', '/api/v1/features/apply', { yaml: DEFS })).status, 200);
      const versionsBefore = (await server.json('GET', '/api/v1/datasets/stats_src/versions')).body;
      failWrites = true;
      const push = await server.json('POST', '/api/v1/features/push', {
        feature_view: 'stats',
        to: 'online_and_offline',
        rows: [{ driver_id: 3, event_timestamp: '2024-05-01T02:00:00Z', conv_rate: 0.75 }],
      });
      assert.ok(push.status >= 500 && push.status < 600, `status ${push.status}`);
      assert.deepEqual((await server.json('GET', '/api/v1/datasets/stats_src/versions')).body, versionsBefore);
      failWrites = false;
      const retry = await server.json('POST', '/api/v1/features/push', {
        feature_view: 'stats',
        to: 'online_and_offline',
        rows: [{ driver_id: 3, event_timestamp: '2024-05-01T02:00:00Z', conv_rate: 0.75 }],
      });
      assert.equal(retry.status, 200, JSON.stringify(retry.body));
      const versionsAfter = (await server.json('GET', '/api/v1/datasets/stats_src/versions')).body;
      assert.equal(JSON.stringify(versionsAfter).includes(retry.body.dataset.version), true);
    } finally {
      await server.close();
    }
  });
});
