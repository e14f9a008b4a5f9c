/**
 * mloop's own tracking API (`/api/v1`) on every metadata backend: experiments and runs as resources,
 * RFC 9457 problem details for errors, and the typed SDK client the CLI uses.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MloopApi, MloopClientError } from '../src/sdk/client.ts';
import { metadataBackends } from './support/backends.ts';
import { startTestServer, type TestServer } from './support/server.ts';

for (const backend of metadataBackends()) {
  describe(`tracking /api/v1 (${backend.name})`, { skip: backend.skip }, () => {
    let server: TestServer;
    let api: MloopApi;
    before(async () => {
      server = await startTestServer({ metadata: backend });
      api = new MloopApi({ url: server.url });
    });
    after(() => server?.close());

    const mlflow = async (path: string, body: unknown) => {
      const response = await server.json('POST', `/api/2.0/mlflow/${path}`, body);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      return response.body;
    };

    it('creates, gets, renames, lists and deletes experiments', async () => {
      const created = await server.json('POST', '/api/v1/experiments', { name: 'v1-exp', tags: { team: 'ml', stage: 'dev' } });
      assert.equal(created.status, 201);
      assert.equal(created.body.name, 'v1-exp');
      assert.deepEqual(created.body.tags, [
        { key: 'stage', value: 'dev' },
        { key: 'team', value: 'ml' },
      ]);
      const id = created.body.experiment_id as string;
      assert.deepEqual(await api.getExperiment(id), created.body);
      const renamed = await server.json('PATCH', `/api/v1/experiments/${id}`, { name: 'v1-renamed' });
      assert.equal(renamed.status, 200);
      assert.equal(renamed.body.name, 'v1-renamed');
      const listed = await api.listExperiments({ filter: "name LIKE 'v1-%'" });
      assert.deepEqual(
        listed.experiments.map((e) => e.name),
        ['v1-renamed'],
      );
      const paged = await api.listExperiments({ maxResults: 1, orderBy: ['name ASC'] });
      assert.equal(paged.experiments.length, 1);
      assert.ok(paged.next_page_token);
      const second = await api.listExperiments({ maxResults: 1, orderBy: ['name ASC'], pageToken: paged.next_page_token });
      assert.notEqual(second.experiments[0].experiment_id, paged.experiments[0].experiment_id);
      const deleted = await server.fetch(`/api/v1/experiments/${id}`, { method: 'DELETE' });
      assert.equal(deleted.status, 204);
      assert.equal(await deleted.text(), '');
      assert.equal((await api.getExperiment(id)).lifecycle_stage, 'deleted');
      assert.equal((await api.listExperiments({ filter: "name LIKE 'v1-%'" })).experiments.length, 0);
      assert.equal((await api.listExperiments({ filter: "name LIKE 'v1-%'", viewType: 'ALL' })).experiments.length, 1);
    });

    it('lists runs of one or more experiments, gets runs and metric histories', async () => {
      const { experiment_id } = await mlflow('experiments/create', { name: 'v1-runs' });
      const runIds: string[] = [];
      for (let i = 0; i < 3; i++) {
        const { run } = await mlflow('runs/create', { experiment_id, run_name: `r${i}`, start_time: 1000 + i });
        runIds.push(run.info.run_id);
        await mlflow('runs/log-batch', {
          run_id: run.info.run_id,
          metrics: [
            { key: 'train/loss', value: 1 / (i + 1), timestamp: 1, step: 0 },
            { key: 'train/loss', value: i === 2 ? 'NaN' : 0.5 / (i + 1), timestamp: 2, step: 1 },
          ],
        });
      }
      const all = await api.listRuns([experiment_id]);
      assert.deepEqual(
        all.runs.map((r) => r.info.run_id),
        [...runIds].reverse(),
      );
      const ordered = await api.listRuns([experiment_id, '0'], { orderBy: ['metrics.`train/loss` ASC'], maxResults: 2 });
      assert.deepEqual(
        ordered.runs.map((r) => r.info.run_name),
        ['r1', 'r0'],
      );
      assert.ok(ordered.next_page_token);
      const rest = await api.listRuns([experiment_id, '0'], { orderBy: ['metrics.`train/loss` ASC'], maxResults: 2, pageToken: ordered.next_page_token });
      assert.deepEqual(
        rest.runs.map((r) => r.info.run_name),
        ['r2'],
      );
      const filtered = await api.listRuns([experiment_id], { filter: "attributes.run_name = 'r1'" });
      assert.deepEqual(
        filtered.runs.map((r) => r.info.run_id),
        [runIds[1]],
      );
      const run = await api.getRun(runIds[2]);
      assert.equal(run.info.run_name, 'r2');
      assert.deepEqual(run.data.metrics, [{ key: 'train/loss', value: 'NaN' as unknown as number, timestamp: 2, step: 1 }]);
      const history = await api.getMetricHistory(runIds[2], 'train/loss');
      assert.deepEqual(
        history.metrics.map((m) => m.value),
        [1 / 3, 'NaN'],
      );
      // The key may also be given unencoded, slashes and all.
      const raw = await server.json('GET', `/api/v1/runs/${runIds[0]}/metrics/train/loss`);
      assert.equal(raw.status, 200);
      assert.equal(raw.body.metrics.length, 2);
      // Without experiment_id, every experiment of the project is searched.
      const everywhere = await server.json('GET', `/api/v1/runs?filter=${encodeURIComponent("attributes.run_name = 'r0'")}`);
      assert.equal(everywhere.status, 200);
      assert.deepEqual(
        everywhere.body.runs.map((r: { info: { run_id: string } }) => r.info.run_id),
        [runIds[0]],
      );
    });

    it('answers errors as problem details naming the field', async () => {
      const missing = await server.json('GET', '/api/v1/runs/ffffffffffffffffffffffffffffffff');
      assert.equal(missing.status, 404);
      assert.equal(missing.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      assert.equal(missing.body.code, 'RESOURCE_DOES_NOT_EXIST');
      const noExperiment = await server.json('GET', '/api/v1/experiments/99999');
      assert.equal(noExperiment.status, 404);
      const badBody = await server.json('POST', '/api/v1/experiments', { name: 5 });
      assert.equal(badBody.status, 400);
      assert.equal(badBody.body.errors[0].field, 'name');
      const badTags = await server.json('POST', '/api/v1/experiments', { name: 'x', tags: ['a'] });
      assert.equal(badTags.status, 400);
      assert.equal(badTags.body.errors[0].field, 'tags');
      const dup = await server.json('POST', '/api/v1/experiments', { name: 'Default' });
      assert.equal(dup.status, 400);
      assert.equal(dup.body.code, 'RESOURCE_ALREADY_EXISTS');
      const badFilter = await server.json('GET', `/api/v1/runs?experiment_id=0&filter=${encodeURIComponent('metrics.x <')}`);
      assert.equal(badFilter.status, 400);
      assert.equal(badFilter.body.errors[0].field, 'filter');
      const badMax = await server.json('GET', '/api/v1/runs?max_results=abc');
      assert.equal(badMax.status, 400);
      assert.equal(badMax.body.errors[0].field, 'max_results');
      const badView = await server.json('GET', '/api/v1/experiments?view_type=SOME');
      assert.equal(badView.status, 400);
      assert.equal(badView.body.errors[0].field, 'view_type');
      const patchMissing = await server.json('PATCH', '/api/v1/experiments/0', {});
      assert.equal(patchMissing.status, 400);
      assert.equal(patchMissing.body.errors[0].field, 'name');
      await assert.rejects(api.getRun('nope'), (error: unknown) => error instanceof MloopClientError && error.status === 404);
    });
  });
}
