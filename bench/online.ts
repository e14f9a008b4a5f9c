/**
 * Online read of 10 features for 1 entity.
 *
 * 1. In process: `FeatureStoreService.getOnlineFeatures` (selection cache, key building, store read,
 *    statuses) on SQLite and on Redis over loopback; beside it, the bare store read (the limit).
 *    Goal: p99 ≤ 1 ms on both.
 * 2. Over HTTP: `POST /api/v1/features/online` and Feast's `POST /get-online-features` against a real
 *    `mloop server` process, one client with keep-alive. Goal: p99 ≤ 2 ms.
 * Redis runs when MLOOP_REDIS_URL or MLOOP_TEST_REDIS_URL is set.
 *
 * Usage: npm run bench -- online [calls]
 */
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { systemClock } from '../src/core/clock.ts';
import { systemContext } from '../src/core/context.ts';
import { DatasetService } from '../src/data/service.ts';
import { FeatureStoreService } from '../src/features/service.ts';
import { LineageService } from '../src/lineage/service.ts';
import { LocalBlobStore } from '../src/storage/local/blob-store.ts';
import type { OnlineStore } from '../src/storage/ports.ts';
import { RedisOnlineStore } from '../src/storage/redis/online-store.ts';
import { SqliteMetadataStore } from '../src/storage/sqlite/metadata-store.ts';
import { SqliteOnlineStore } from '../src/storage/sqlite/online-store.ts';
import { tempDir } from '../test/support/backends.ts';
import { spawnServer } from '../test/support/process.ts';
import { progress, quantile, round } from './_stats.ts';

const ENTITIES = 10_000;
const FEATURES = 10;
const DEFS = {
  entities: [{ name: 'driver', join_keys: [{ name: 'driver_id', type: 'int' }] }],
  feature_views: [
    {
      name: 'driver_stats',
      entities: ['driver'],
      source: { dataset: 'driver_stats', timestamp: 'ts' },
      features: Array.from({ length: FEATURES }, (_, k) => ({ name: `f${k}`, type: 'float' })),
    },
  ],
  feature_services: [{ name: 'model', features: ['driver_stats'] }],
};
const row = (id: number) => ({ driver_id: id, ts: Date.now() - 1000, ...Object.fromEntries(Array.from({ length: FEATURES }, (_, k) => [`f${k}`, id * 0.001 + k])) });

function summarize(samples: number[]) {
  return { p50_ms: round(quantile(samples, 0.5)), p99_ms: round(quantile(samples, 0.99)), calls: samples.length };
}

async function measure(calls: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < Math.min(2000, calls); i++) await fn(i);
  const samples: number[] = new Array(calls);
  for (let i = 0; i < calls; i++) {
    const start = process.hrtime.bigint();
    await fn(i);
    samples[i] = Number(process.hrtime.bigint() - start) / 1e6;
  }
  return samples;
}

async function inProcess(name: string, online: OnlineStore, calls: number) {
  const dir = await tempDir('mloop-bench-online-');
  const metadata = new SqliteMetadataStore({ path: join(dir.path, 'mloop.db') });
  await metadata.migrate();
  const blobs = await new LocalBlobStore(join(dir.path, 'artifacts')).init();
  const datasets = new DatasetService({ metadata, blobs, clock: systemClock, maxUploadBytes: 1024 ** 3, home: dir.path });
  const features = new FeatureStoreService({
    metadata,
    online,
    closeOnline: true,
    datasets,
    lineage: new LineageService({ metadata, clock: systemClock }),
    clock: systemClock,
    scratchDir: join(dir.path, 'scratch'),
  });
  const ctx = systemContext();
  try {
    await features.apply(ctx, DEFS);
    for (let start = 0; start < ENTITIES; start += 1000) {
      await features.push(ctx, { feature_view: 'driver_stats', rows: Array.from({ length: 1000 }, (_, i) => row(start + i)) });
    }
    const check = await features.getOnlineFeatures(ctx, { feature_service: 'model', entities: { driver_id: [42] } });
    if (Object.values(check.rows[0].features).some((f) => f.status !== 'PRESENT') || check.rows[0].features.f3.value !== 42 * 0.001 + 3) {
      throw new Error(`unexpected online answer: ${JSON.stringify(check.rows[0])}`);
    }
    progress(`${name}: in-process reads`);
    const service = await measure(calls, (i) => features.getOnlineFeatures(ctx, { feature_service: 'model', entities: { driver_id: [(i * 7919) % ENTITIES] } }));
    const raw = await measure(calls, (i) => online.read('default/driver_stats', [`[${(i * 7919) % ENTITIES}]`]));
    return { service: summarize(service), store_read: summarize(raw) };
  } finally {
    await features.close();
    await datasets.close();
    await metadata.close();
    await dir.cleanup();
  }
}

async function overHttp(name: string, env: NodeJS.ProcessEnv, calls: number) {
  const home = await tempDir('mloop-bench-online-http-');
  const server = await spawnServer(['--home', home.path], { MLOOP_LOG_LEVEL: 'warn', ...env });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const { hostname, port } = new URL(server.url);
  const post = (path: string, body: unknown) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const data = JSON.stringify(body);
      const req = request({ host: hostname, port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end(data);
    });
  try {
    const applied = await post('/api/v1/features/apply', DEFS);
    if (applied.status !== 200) throw new Error(applied.text);
    for (let start = 0; start < ENTITIES; start += 1000) {
      const pushed = await post('/api/v1/features/push', { feature_view: 'driver_stats', rows: Array.from({ length: 1000 }, (_, i) => row(start + i)) });
      if (pushed.status !== 200) throw new Error(pushed.text);
    }
    const check = JSON.parse((await post('/api/v1/features/online', { feature_service: 'model', entities: { driver_id: [42] } })).text) as { results: { statuses: Record<string, string> }[] };
    if (Object.values(check.results[0].statuses).some((s) => s !== 'PRESENT')) throw new Error(`unexpected online answer: ${JSON.stringify(check)}`);
    progress(`${name}: HTTP reads`);
    const native = await measure(calls, async (i) => {
      const r = await post('/api/v1/features/online', { feature_service: 'model', entities: { driver_id: [(i * 7919) % ENTITIES] } });
      if (r.status !== 200) throw new Error(r.text);
    });
    const feast = await measure(calls, async (i) => {
      const r = await post('/get-online-features', { feature_service: 'model', entities: { driver_id: [(i * 7919) % ENTITIES] } });
      if (r.status !== 200) throw new Error(r.text);
    });
    return { api_v1_online: summarize(native), feast_get_online_features: summarize(feast) };
  } finally {
    agent.destroy();
    server.child.kill('SIGTERM');
    await server.exited;
    await home.cleanup();
  }
}

export async function main(args: string[]): Promise<unknown> {
  const calls = Number(args[0] ?? 20_000);
  const redisUrl = process.env.MLOOP_REDIS_URL ?? process.env.MLOOP_TEST_REDIS_URL;
  const result: Record<string, unknown> = { features: FEATURES, entities: ENTITIES, goal_in_process_p99_ms: 1, goal_http_p99_ms: 2 };
  result.sqlite_in_process = await inProcess('sqlite', new SqliteOnlineStore({ path: join((await tempDir()).path, 'online.db') }), calls);
  result.redis_in_process = redisUrl
    ? await inProcess('redis', new RedisOnlineStore({ url: redisUrl, keyPrefix: `mloop-bench-${process.pid}:` }), calls)
    : { skipped: 'MLOOP_REDIS_URL is not set' };
  result.sqlite_http = await overHttp('sqlite', {}, Math.min(calls, 10_000));
  result.redis_http = redisUrl ? await overHttp('redis', { MLOOP_REDIS_URL: redisUrl }, Math.min(calls, 10_000)) : { skipped: 'MLOOP_REDIS_URL is not set' };
  return result;
}
