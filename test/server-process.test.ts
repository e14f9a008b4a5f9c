/**
 * `mloop server` started the way operators start it: from the environment alone, on PostgreSQL,
 * S3 and Redis when those are configured (CI), with JSON logs that carry each request's id.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPostgresDatabase, createTestBucket, tempDir } from './support/backends.ts';
import { spawnServer } from './support/process.ts';

const pgUrl = process.env.MLOOP_TEST_POSTGRES_URL;
const s3Endpoint = process.env.MLOOP_TEST_S3_ENDPOINT;
const redisUrl = process.env.MLOOP_TEST_REDIS_URL;

describe('mloop server as a process', () => {
  it('logs every request as JSON with the request id the client sent', async () => {
    const home = await tempDir();
    const server = await spawnServer([], { MLOOP_HOME: home.path });
    try {
      const response = await fetch(`${server.url}/api/2.0/mlflow/experiments/get?experiment_id=0`, { headers: { 'x-request-id': 'trace-4711' } });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('x-request-id'), 'trace-4711');
      const deadline = Date.now() + 5000;
      while (!server.logs.some((l) => l.reqId === 'trace-4711' && l.msg === 'request completed') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const lines = server.logs.filter((l) => l.reqId === 'trace-4711');
      assert.ok(lines.some((l) => l.msg === 'incoming request'), JSON.stringify(lines));
      const completed = lines.find((l) => l.msg === 'request completed') as { res?: { statusCode?: number } } | undefined;
      assert.equal(completed?.res?.statusCode, 200, JSON.stringify(lines));
      assert.ok(server.logs.every((l) => typeof l.level === 'number' && typeof l.time === 'number'));
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      await home.cleanup();
    }
  });

  it(
    'runs on PostgreSQL, S3 and Redis configured through the environment, and keeps its data across restarts',
    { skip: pgUrl && s3Endpoint && redisUrl ? undefined : 'needs MLOOP_TEST_POSTGRES_URL, MLOOP_TEST_S3_ENDPOINT and MLOOP_TEST_REDIS_URL' },
    async () => {
      const home = await tempDir();
      const database = await createPostgresDatabase(pgUrl!);
      const bucket = await createTestBucket();
      const env = {
        MLOOP_HOME: home.path,
        MLOOP_DATABASE_URL: database.url,
        MLOOP_ARTIFACTS: `s3://${bucket}/team/artifacts`,
        MLOOP_S3_ENDPOINT: s3Endpoint!,
        MLOOP_S3_FORCE_PATH_STYLE: 'true',
        MLOOP_S3_REGION: 'us-east-1',
        MLOOP_S3_ACCESS_KEY_ID: 'S3RVER',
        MLOOP_S3_SECRET_ACCESS_KEY: 'S3RVER',
        MLOOP_REDIS_URL: redisUrl!,
      };
      try {
        let server = await spawnServer([], env);
        let runId: string;
        try {
          const ready = await (await fetch(`${server.url}/readyz`)).json();
          assert.deepEqual(ready, { status: 'ready', checks: { metadata: 'ok', artifacts: 'ok', online: 'ok' } });
          const created = await fetch(`${server.url}/api/2.0/mlflow/runs/create`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ experiment_id: '0', run_name: 'on-postgres' }),
          });
          assert.equal(created.status, 200);
          runId = ((await created.json()) as any).run.info.run_id;
          const put = await fetch(`${server.url}/api/2.0/mlflow-artifacts/artifacts/0/${runId}/artifacts/model.onnx`, { method: 'PUT', body: 'weights' });
          assert.equal(put.status, 200);
        } finally {
          server.child.kill('SIGTERM');
          assert.equal((await server.exited).code, 0);
        }
        // Nothing of it lives in the home folder: a second server with an empty home sees it all.
        const otherHome = await tempDir();
        server = await spawnServer([], { ...env, MLOOP_HOME: otherHome.path });
        try {
          const run = ((await (await fetch(`${server.url}/api/2.0/mlflow/runs/get?run_id=${runId}`)).json()) as any).run;
          assert.equal(run.info.run_name, 'on-postgres');
          const read = await fetch(`${server.url}/api/2.0/mlflow-artifacts/artifacts/0/${runId}/artifacts/model.onnx`);
          assert.equal(await read.text(), 'weights');
        } finally {
          server.child.kill('SIGTERM');
          await server.exited;
          await otherHome.cleanup();
        }
      } finally {
        await database.drop();
        await home.cleanup();
      }
    },
  );
});
