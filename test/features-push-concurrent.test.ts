/**
 * Concurrent pushes to one source lose no acknowledged row: pushes take turns within a server, and a
 * push whose base version was overtaken by another server's commit is made again on the new latest
 * (the commit checks the latest version in its transaction). On both metadata stores, with a clock
 * that stands still (every version created in the same millisecond).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ManualClock } from '../src/core/clock.ts';
import type { BlobStore, MetadataStore } from '../src/storage/ports.ts';
import { PostgresMetadataStore } from '../src/storage/postgres/metadata-store.ts';
import { SqliteMetadataStore } from '../src/storage/sqlite/metadata-store.ts';
import { blobBackends, createPostgresDatabase, metadataBackends, tempDir, type Backend } from './support/backends.ts';
import { uploadDataset } from './support/data.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const T0 = Date.parse('2024-05-01T00:00:00Z');
const CSV = 'driver_id,event_timestamp,conv_rate\n1,2024-05-01T00:00:00Z,0.01\n';
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
const PUSHES = 8;
const DRIVERS = Array.from({ length: PUSHES }, (_, i) => 10 + i);

/** A backend whose `open` hands out an already open store, left open (its owner closes it). */
function lent<T>(name: string, store: T): Backend<T> {
  return { name, open: async () => ({ store, cleanup: async () => undefined }) };
}

/** Two metadata stores over one database, as two server processes would hold: separate PostgreSQL pools; one SQLite store (in one process a second connection would block the first). */
async function twoStores(backend: string): Promise<{ stores: [MetadataStore, MetadataStore]; cleanup(): Promise<void> }> {
  if (backend === 'sqlite') {
    const dir = await tempDir();
    const store = new SqliteMetadataStore({ path: join(dir.path, 'mloop.db') });
    await store.migrate();
    return { stores: [store, store], cleanup: async () => (await store.close(), await dir.cleanup()) };
  }
  const database = await createPostgresDatabase(process.env.MLOOP_TEST_POSTGRES_URL!);
  const a = new PostgresMetadataStore({ url: database.url });
  const b = new PostgresMetadataStore({ url: database.url });
  await a.migrate();
  return { stores: [a, b], cleanup: async () => (await a.close(), await b.close(), await database.drop()) };
}

const push = (server: TestServer, driver: number, to: string) =>
  server.json('POST', '/api/v1/features/push', {
    feature_view: 'stats',
    to,
    rows: [{ driver_id: driver, event_timestamp: '2024-05-01T01:00:00Z', conv_rate: driver / 100 }],
  });

/** Every pushed row is in the source's latest version and in a retrieval from it. */
async function assertAllRows(server: TestServer): Promise<void> {
  const latest = await server.json('GET', '/api/v1/datasets/stats_src/versions/latest?profile=false');
  assert.equal(latest.body.row_count, 1 + PUSHES, 'the latest version holds the first row and every pushed one');
  const retrieved = await server.json('POST', '/api/v1/features/retrieve', {
    features: ['stats:conv_rate'],
    entity_rows: [1, ...DRIVERS].map((d) => ({ driver_id: d, event_timestamp: '2024-05-02T00:00:00Z' })),
    return_rows: 1 + PUSHES,
  });
  assert.equal(retrieved.status, 200, JSON.stringify(retrieved.body));
  assert.deepEqual(retrieved.body.rows.map((r: any) => r.conv_rate), [0.01, ...DRIVERS.map((d) => d / 100)]);
  const versions = await server.json('GET', '/api/v1/datasets/stats_src/versions');
  assert.equal(versions.body.versions.length, 1 + PUSHES, 'one version per push');
}

for (const backend of metadataBackends()) {
  describe(`concurrent pushes to one source (${backend.name})`, { skip: backend.skip }, () => {
    // Pushes take turns within one server, so this passes without the commit's compare-and-set on either backend; the two-server test exercises it.
    it(`keeps every row of ${PUSHES} concurrent pushes to one server, offline and online`, async () => {
      const server = await startTestServer({ metadata: backend, clock: new ManualClock(T0) });
      try {
        assert.equal((await uploadDataset(server, 'stats_src', CSV)).status, 201);
        assert.equal((await server.json('POST', '/api/v1/features/apply', { yaml: DEFS })).status, 200);
        const pushes = await Promise.all(DRIVERS.map((d) => push(server, d, 'online_and_offline')));
        for (const p of pushes) assert.equal(p.status, 200, JSON.stringify(p.body));
        await assertAllRows(server);
        const online = await server.json('POST', '/api/v1/features/online', { features: ['stats:conv_rate'], entities: { driver_id: DRIVERS } });
        assert.deepEqual(online.body.results.map((r: any) => r.values.conv_rate), DRIVERS.map((d) => d / 100));
      } finally {
        await server.close();
      }
    });

    it(`keeps every row of ${PUSHES} concurrent pushes spread over two servers on one database`, async () => {
      const { stores, cleanup } = await twoStores(backend.name);
      const blobs = await blobBackends()[0].open();
      const servers: TestServer[] = [];
      try {
        for (const store of stores) {
          servers.push(await startTestServer({ metadata: lent(backend.name, store), blobs: lent<BlobStore>('local', blobs.store), clock: new ManualClock(T0) }));
        }
        assert.equal((await uploadDataset(servers[0], 'stats_src', CSV)).status, 201);
        assert.equal((await servers[0].json('POST', '/api/v1/features/apply', { yaml: DEFS })).status, 200);
        const pushes = await Promise.all(DRIVERS.map((d, i) => push(servers[i % 2], d, 'offline')));
        for (const p of pushes) assert.equal(p.status, 200, JSON.stringify(p.body));
        for (const server of servers) await assertAllRows(server);
      } finally {
        for (const server of servers) await server.close();
        await blobs.cleanup();
        await cleanup();
      }
    });
  });
}
