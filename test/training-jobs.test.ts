/**
 * The job machinery under training: progress is visible (and the server answers) while a model
 * trains on its worker thread; a running job can be cancelled (its run ends KILLED); jobs a crashed
 * server left RUNNING are marked FAILED when it starts again — after a real `kill -9`, and for jobs of
 * other workers whose heartbeat went stale — while a live worker's job is left alone.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { systemClock } from '../src/core/clock.ts';
import { JobStore } from '../src/jobs/store.ts';
import { buildApp } from '../src/server/app.ts';
import { blobBackends, metadataBackends, tempDir } from './support/backends.ts';
import { spawnServer, type ServerProcess } from './support/process.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { uploadFixture, waitJob } from './support/training.ts';

/** An MLP request that trains for many seconds unless stopped. */
const LONG = { dataset: 'bc@latest', target: 'target', model: 'mlp', params: { hiddenLayerSizes: [256, 256], maxIter: 100_000, tol: 0, nIterNoChange: 100_000, batchSize: 8 }, bootstrap: { n: 0 } };

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('training jobs: progress and cancellation', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await uploadFixture(server, 'bc', 'breast_cancer');
  });
  after(() => server?.close());

  it('shows progress while training, keeps answering, and cancels a running job', async () => {
    const submitted = await server.json('POST', '/api/v1/training/jobs', LONG);
    assert.equal(submitted.status, 202);
    assert.equal(submitted.body.status, 'QUEUED');
    const id = submitted.body.id as string;
    const running = await until(async () => {
      const j = (await server.json('GET', `/api/v1/training/jobs/${id}`)).body;
      return j.status === 'RUNNING' && j.progress > 0.1 && /epoch/.test(j.message) ? j : undefined;
    }, 'progress');
    assert.ok(running.progress < 1);
    // The event loop is free while the model trains: a health check answers quickly.
    const t = Date.now();
    assert.equal((await server.fetch('/healthz')).status, 200);
    assert.ok(Date.now() - t < 500, `healthz took ${Date.now() - t} ms`);

    const cancelled = await server.json('POST', `/api/v1/jobs/${id}/cancel`, {});
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.cancel_requested, true);
    const done = await waitJob(server, id, 30_000);
    assert.equal(done.status, 'CANCELLED');
    assert.equal(done.error?.code, 'CANCELLED');
    const runs = (await server.json('POST', '/api/2.0/mlflow/runs/search', { experiment_ids: ['0'], filter: `tags.\`mloop.job_id\` = '${id}'` })).body.runs;
    assert.equal(runs.length, 1);
    assert.equal(runs[0].info.status, 'KILLED');
    assert.equal((await server.json('POST', `/api/v1/jobs/${id}/cancel`, {})).status, 400, 'a finished job cannot be cancelled');
  });

  it('cancels a queued job before it starts', async () => {
    const first = (await server.json('POST', '/api/v1/training/jobs', LONG)).body.id as string;
    const second = (await server.json('POST', '/api/v1/training/jobs', { ...LONG, model: 'logistic_regression', params: {} })).body.id as string;
    const queued = (await server.json('GET', `/api/v1/jobs/${second}`)).body;
    assert.equal(queued.status, 'QUEUED', 'one job runs at a time');
    assert.equal((await server.json('POST', `/api/v1/jobs/${second}/cancel`, {})).body.status, 'CANCELLED');
    await server.json('POST', `/api/v1/jobs/${first}/cancel`, {});
    assert.equal((await waitJob(server, first)).status, 'CANCELLED');
    assert.equal((await waitJob(server, second)).status, 'CANCELLED');
    const list = (await server.json('GET', '/api/v1/jobs?kind=training&status=CANCELLED')).body.jobs;
    assert.ok(list.length >= 2);
  });
});

describe('jobs of a dead worker end FAILED at start-up', () => {
  it('marks stale RUNNING jobs of other workers FAILED, and leaves a live worker’s job alone', async () => {
    const [sqlite] = metadataBackends();
    const [local] = blobBackends();
    const metadata = await sqlite.open();
    const blobs = await local.open();
    try {
      const store = new JobStore();
      const now = Date.now();
      const row = (id: string, worker: string, heartbeat: number) => ({
        id,
        project: 'default',
        kind: 'training',
        status: 'RUNNING',
        progress: 0.4,
        message: 'epoch 3',
        spec: '{}',
        result: null,
        error: null,
        worker,
        cancel_requested: 0,
        created_at: now - 600_000,
        created_by: 'test',
        started_at: now - 600_000,
        finished_at: null,
        heartbeat_at: heartbeat,
      });
      await store.insert(metadata.store.db, row('stale', 'elsewhere:1', now - 10 * 60_000));
      await store.insert(metadata.store.db, row('alive', 'elsewhere:2', now));
      const app = await buildApp({
        config: { bodyLimitBytes: 1 << 20, maxArtifactBytes: 1 << 30 },
        metadata: metadata.store,
        blobs: blobs.store,
        clock: systemClock,
        logger: pino({ level: 'silent' }),
      });
      try {
        const ctx = { actor: { name: 'test' }, project: 'default', requestId: 't' };
        const stale = await app.services.jobs.get(ctx, 'stale');
        assert.equal(stale.status, 'FAILED');
        assert.equal(stale.error?.code, 'INTERRUPTED');
        assert.equal((await app.services.jobs.get(ctx, 'alive')).status, 'RUNNING');
      } finally {
        await app.http.close();
      }
    } finally {
      await blobs.cleanup();
      await metadata.cleanup();
    }
  });

  describe('after kill -9 of the server', () => {
    let home: { path: string; cleanup(): Promise<void> };
    let server: ServerProcess | undefined;
    before(async () => {
      home = await tempDir();
    });
    after(async () => {
      server?.child.kill('SIGKILL');
      await server?.exited;
      await home.cleanup();
    });

    it('the restarted server marks the interrupted job FAILED', async () => {
      server = await spawnServer(['--home', home.path], { MLOOP_LOG_LEVEL: 'warn' });
      const url = server.url;
      const csv = readFileSync(new URL('fixtures/data/breast_cancer.csv', import.meta.url));
      assert.equal((await fetch(`${url}/api/v1/datasets/bc/versions`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: csv })).status, 201);
      const submitted = (await (await fetch(`${url}/api/v1/training/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(LONG) })).json()) as { id: string };
      await until(async () => {
        const j = (await (await fetch(`${url}/api/v1/jobs/${submitted.id}`)).json()) as { status: string; progress: number };
        return j.status === 'RUNNING' && j.progress > 0 ? j : undefined;
      }, 'the job to run');
      server.child.kill('SIGKILL');
      await server.exited;
      server = await spawnServer(['--home', home.path], { MLOOP_LOG_LEVEL: 'warn' });
      const job = (await (await fetch(`${server.url}/api/v1/jobs/${submitted.id}`)).json()) as { status: string; error: { code: string; message: string } };
      assert.equal(job.status, 'FAILED');
      assert.equal(job.error.code, 'INTERRUPTED');
      assert.match(job.error.message, /stopped before it finished/);
    });
  });
});
