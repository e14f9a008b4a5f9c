/**
 * The MLflow tracking REST API 2.0 end to end, on every metadata backend: experiments, runs, params,
 * metrics, tags, log-batch, log-inputs, metric history and search, with MLflow's error codes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { metadataBackends } from './support/backends.ts';
import { rawRequest } from './support/raw-http.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const M = '/api/2.0/mlflow';

for (const backend of metadataBackends()) {
  describe(`MLflow tracking API (${backend.name})`, { skip: backend.skip }, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ metadata: backend });
    });
    after(() => server?.close());

    let counter = 0;
    const unique = (prefix: string) => `${prefix}-${++counter}`;
    const post = (path: string, body: unknown) => server.json('POST', `${M}/${path}`, body);
    const get = (path: string, query: Record<string, string | string[]> = {}) => {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) for (const item of Array.isArray(v) ? v : [v]) params.append(k, item);
      const qs = params.toString();
      return server.json('GET', `${M}/${path}${qs ? `?${qs}` : ''}`);
    };
    const ok = async (promise: Promise<{ status: number; body: any }>) => {
      const response = await promise;
      assert.equal(response.status, 200, JSON.stringify(response.body));
      return response.body;
    };
    const fails = async (promise: Promise<{ status: number; body: any }>, status: number, code: string, message?: RegExp) => {
      const response = await promise;
      assert.equal(response.status, status, JSON.stringify(response.body));
      assert.equal(response.body.error_code, code, JSON.stringify(response.body));
      if (message) assert.match(response.body.message, message);
      return response.body;
    };
    const newExperiment = async (extra: Record<string, unknown> = {}) =>
      (await ok(post('experiments/create', { name: unique('exp'), ...extra }))).experiment_id as string;
    const newRun = async (experiment_id: string, extra: Record<string, unknown> = {}) =>
      (await ok(post('runs/create', { experiment_id, ...extra }))).run;
    const getRun = async (run_id: string) => (await ok(get('runs/get', { run_id }))).run;
    const searchRuns = async (body: Record<string, unknown>) => ok(post('runs/search', body));

    describe('experiments', () => {
      it('has the Default experiment with id 0', async () => {
        const { experiment } = await ok(get('experiments/get', { experiment_id: '0' }));
        assert.equal(experiment.experiment_id, '0');
        assert.equal(experiment.name, 'Default');
        assert.equal(experiment.artifact_location, 'mlflow-artifacts:/0');
        assert.equal(experiment.lifecycle_stage, 'active');
        const byName = await ok(get('experiments/get-by-name', { experiment_name: 'Default' }));
        assert.equal(byName.experiment.experiment_id, '0');
      });

      it('creates, gets by id and by name, with tags and the default artifact location', async () => {
        const name = unique('created');
        const { experiment_id } = await ok(post('experiments/create', { name, tags: [{ key: 'team', value: 'ml' }, { key: 'empty' }] }));
        assert.match(experiment_id, /^\d+$/);
        const { experiment } = await ok(get('experiments/get', { experiment_id }));
        assert.equal(experiment.name, name);
        assert.equal(experiment.artifact_location, `mlflow-artifacts:/${experiment_id}`);
        assert.deepEqual(experiment.tags, [
          { key: 'empty', value: '' },
          { key: 'team', value: 'ml' },
        ]);
        assert.equal(typeof experiment.creation_time, 'number');
        assert.equal(experiment.creation_time, experiment.last_update_time);
        const byName = await ok(get('experiments/get-by-name', { experiment_name: name }));
        assert.deepEqual(byName.experiment, experiment);
      });

      it('keeps a custom artifact location and puts runs under it', async () => {
        const experiment_id = await newExperiment({ artifact_location: 's3://bucket/some/prefix/' });
        const run = await newRun(experiment_id);
        assert.equal(run.info.artifact_uri, `s3://bucket/some/prefix/${run.info.run_id}/artifacts`);
        await fails(post('experiments/create', { name: unique('bad'), artifact_location: 'runs:/abc/model' }), 400, 'INVALID_PARAMETER_VALUE', /runs:\//);
        await fails(post('experiments/create', { name: unique('bad'), artifact_location: 's3://b/p#frag' }), 400, 'INVALID_PARAMETER_VALUE', /fragments/);
      });

      it('refuses a duplicate name with RESOURCE_ALREADY_EXISTS, and bad names', async () => {
        const name = unique('dup');
        await ok(post('experiments/create', { name }));
        await fails(post('experiments/create', { name }), 400, 'RESOURCE_ALREADY_EXISTS', new RegExp(name));
        await fails(post('experiments/create', { name: '' }), 400, 'INVALID_PARAMETER_VALUE', /name/);
        await fails(post('experiments/create', { name: 'x'.repeat(501) }), 400, 'INVALID_PARAMETER_VALUE', /500/);
        await fails(post('experiments/create', {}), 400, 'INVALID_PARAMETER_VALUE', /name/);
      });

      it('answers unknown experiments with RESOURCE_DOES_NOT_EXIST', async () => {
        await fails(get('experiments/get', { experiment_id: '987654' }), 404, 'RESOURCE_DOES_NOT_EXIST', /987654/);
        await fails(get('experiments/get', { experiment_id: 'not-a-number' }), 404, 'RESOURCE_DOES_NOT_EXIST');
        await fails(get('experiments/get-by-name', { experiment_name: 'nope' }), 404, 'RESOURCE_DOES_NOT_EXIST', /nope/);
      });

      it('renames, refusing taken names and deleted experiments', async () => {
        const a = await newExperiment();
        const b = await newExperiment();
        const newName = unique('renamed');
        await ok(post('experiments/update', { experiment_id: a, new_name: newName }));
        assert.equal((await ok(get('experiments/get', { experiment_id: a }))).experiment.name, newName);
        const bName = (await ok(get('experiments/get', { experiment_id: b }))).experiment.name;
        await fails(post('experiments/update', { experiment_id: a, new_name: bName }), 400, 'RESOURCE_ALREADY_EXISTS');
        await ok(post('experiments/delete', { experiment_id: b }));
        await fails(post('experiments/update', { experiment_id: b, new_name: unique('x') }), 400, 'INVALID_STATE');
        await fails(post('experiments/update', { experiment_id: '424242', new_name: 'x' }), 404, 'RESOURCE_DOES_NOT_EXIST');
      });

      it('sets and deletes experiment tags', async () => {
        const id = await newExperiment();
        await ok(post('experiments/set-experiment-tag', { experiment_id: id, key: 'k', value: 'v1' }));
        await ok(post('experiments/set-experiment-tag', { experiment_id: id, key: 'k', value: 'v2' }));
        assert.deepEqual((await ok(get('experiments/get', { experiment_id: id }))).experiment.tags, [{ key: 'k', value: 'v2' }]);
        await ok(post('experiments/delete-experiment-tag', { experiment_id: id, key: 'k' }));
        assert.deepEqual((await ok(get('experiments/get', { experiment_id: id }))).experiment.tags, []);
        await fails(post('experiments/delete-experiment-tag', { experiment_id: id, key: 'k' }), 404, 'RESOURCE_DOES_NOT_EXIST');
        await fails(post('experiments/set-experiment-tag', { experiment_id: id, key: 'bad/../key', value: 'v' }), 400, 'INVALID_PARAMETER_VALUE');
        await fails(post('experiments/set-experiment-tag', { experiment_id: id, key: 'k', value: 'v'.repeat(5001) }), 400, 'INVALID_PARAMETER_VALUE', /5000/);
        await ok(post('experiments/delete', { experiment_id: id }));
        await fails(post('experiments/set-experiment-tag', { experiment_id: id, key: 'k', value: 'v' }), 400, 'INVALID_PARAMETER_VALUE', /active/);
      });

      it('deletes and restores an experiment together with its runs', async () => {
        const id = await newExperiment();
        const r1 = await newRun(id);
        const r2 = await newRun(id);
        await ok(post('runs/delete', { run_id: r2.info.run_id }));
        await ok(post('experiments/delete', { experiment_id: id }));
        const deleted = (await ok(get('experiments/get', { experiment_id: id }))).experiment;
        assert.equal(deleted.lifecycle_stage, 'deleted');
        assert.equal((await getRun(r1.info.run_id)).info.lifecycle_stage, 'deleted');
        assert.deepEqual((await searchRuns({ experiment_ids: [id] })).runs ?? [], []);
        assert.equal((await searchRuns({ experiment_ids: [id], run_view_type: 'DELETED_ONLY' })).runs.length, 2);
        await fails(post('experiments/delete', { experiment_id: id }), 404, 'RESOURCE_DOES_NOT_EXIST');
        await fails(post('runs/create', { experiment_id: id }), 400, 'INVALID_PARAMETER_VALUE', /active/);
        const names = async (view_type?: string) =>
          ((await ok(post('experiments/search', { max_results: 50000, ...(view_type ? { view_type } : {}) }))).experiments as { experiment_id: string }[]).map(
            (e) => e.experiment_id,
          );
        assert.ok(!(await names()).includes(id));
        assert.ok((await names('DELETED_ONLY')).includes(id));
        assert.ok((await names('ALL')).includes(id));
        await ok(post('experiments/restore', { experiment_id: id }));
        await fails(post('experiments/restore', { experiment_id: id }), 404, 'RESOURCE_DOES_NOT_EXIST');
        assert.equal((await ok(get('experiments/get', { experiment_id: id }))).experiment.lifecycle_stage, 'active');
        // As MLflow does, restoring the experiment restores every run of it.
        assert.equal((await searchRuns({ experiment_ids: [id] })).runs.length, 2);
      });

      it('searches experiments by name, tags and times, ordered and paged', async () => {
        const prefix = unique('Search');
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) {
          ids.push(await newExperiment({ name: `${prefix}-${i}`, tags: [{ key: 'parity', value: i % 2 === 0 ? 'even' : 'odd' }] }));
        }
        const names = (body: any) => (body.experiments ?? []).map((e: { name: string }) => e.name);
        const like = await ok(post('experiments/search', { filter: `name LIKE '${prefix}-%'`, order_by: ['name DESC'] }));
        assert.deepEqual(names(like), [4, 3, 2, 1, 0].map((i) => `${prefix}-${i}`));
        const caseSensitive = await ok(post('experiments/search', { filter: `name LIKE '${prefix.toLowerCase()}-%'` }));
        assert.deepEqual(names(caseSensitive), []);
        const ilike = await ok(post('experiments/search', { filter: `name ILIKE '${prefix.toLowerCase()}-%'`, order_by: ['name'] }));
        assert.equal(names(ilike).length, 5);
        const tagged = await ok(post('experiments/search', { filter: `name LIKE '${prefix}%' AND tags.parity = 'even'`, order_by: ['name ASC'] }));
        assert.deepEqual(names(tagged), [0, 2, 4].map((i) => `${prefix}-${i}`));
        const created = (await ok(get('experiments/get', { experiment_id: ids[0] }))).experiment.creation_time;
        const timed = await ok(get('experiments/search', { filter: `creation_time >= ${created} AND name LIKE '${prefix}%'`, max_results: '1000' }));
        assert.equal(names(timed).length, 5);
        // Paging: two at a time, through tokens, over the GET form.
        const seen: string[] = [];
        let token: string | undefined;
        do {
          const page = await ok(get('experiments/search', { filter: `name LIKE '${prefix}%'`, order_by: 'name', max_results: '2', ...(token ? { page_token: token } : {}) }));
          seen.push(...names(page));
          token = page.next_page_token;
        } while (token);
        assert.deepEqual(seen, [0, 1, 2, 3, 4].map((i) => `${prefix}-${i}`));
        await fails(post('experiments/search', { max_results: 50001 }), 400, 'INVALID_PARAMETER_VALUE', /max_results/);
        await fails(post('experiments/search', { filter: 'name = ' }), 400, 'INVALID_PARAMETER_VALUE', /filter/);
        await fails(post('experiments/search', { page_token: 'garbage!' }), 400, 'INVALID_PARAMETER_VALUE', /page_token/);
      });
    });

    describe('runs', () => {
      it('creates a run with MLflow defaults: Default experiment, generated name, tags, artifact URI', async () => {
        const run = await newRun('0', { user_id: 'alice', start_time: 1234 });
        assert.match(run.info.run_id, /^[0-9a-f]{32}$/);
        assert.equal(run.info.run_uuid, run.info.run_id);
        assert.equal(run.info.experiment_id, '0');
        assert.match(run.info.run_name, /^[a-z]+-[a-z]+-\d{1,3}$/);
        assert.equal(run.info.status, 'RUNNING');
        assert.equal(run.info.start_time, 1234);
        assert.equal(run.info.user_id, 'alice');
        assert.equal(run.info.lifecycle_stage, 'active');
        assert.equal(run.info.end_time, undefined);
        assert.equal(run.info.artifact_uri, `mlflow-artifacts:/0/${run.info.run_id}/artifacts`);
        assert.deepEqual(run.data.tags, [
          { key: 'mlflow.runName', value: run.info.run_name },
          { key: 'mlflow.user', value: 'alice' },
        ]);
        const fromTag = await newRun('0', { tags: [{ key: 'mlflow.runName', value: 'from-tag' }] });
        assert.equal(fromTag.info.run_name, 'from-tag');
        await fails(post('runs/create', { run_name: 'a', tags: [{ key: 'mlflow.runName', value: 'b' }] }), 400, 'INVALID_PARAMETER_VALUE', /mlflow.runName/);
        await fails(post('runs/create', { experiment_id: '99999' }), 404, 'RESOURCE_DOES_NOT_EXIST');
        const defaulted = await ok(post('runs/create', {}));
        assert.equal(defaulted.run.info.experiment_id, '0');
      });

      it('updates status, end time and name (kept in sync with the mlflow.runName tag)', async () => {
        const run = await newRun(await newExperiment(), { run_name: 'before' });
        const { run_info } = await ok(post('runs/update', { run_id: run.info.run_id, status: 'FINISHED', end_time: 5000, run_name: 'after' }));
        assert.equal(run_info.status, 'FINISHED');
        assert.equal(run_info.end_time, 5000);
        assert.equal(run_info.run_name, 'after');
        const got = await getRun(run.info.run_id);
        assert.equal(got.info.run_name, 'after');
        assert.deepEqual(got.data.tags.find((t: { key: string }) => t.key === 'mlflow.runName'), { key: 'mlflow.runName', value: 'after' });
        await ok(post('runs/set-tag', { run_id: run.info.run_id, key: 'mlflow.runName', value: 'via-tag' }));
        assert.equal((await getRun(run.info.run_id)).info.run_name, 'via-tag');
        await fails(post('runs/update', { run_id: run.info.run_id, status: 'DONE' }), 400, 'INVALID_PARAMETER_VALUE', /status/);
        // Logging to a finished run is allowed, as in MLflow.
        await ok(post('runs/log-metric', { run_id: run.info.run_id, key: 'late', value: 1, timestamp: 1 }));
      });

      it('accepts run_uuid as the old name of run_id', async () => {
        const run = await newRun(await newExperiment());
        await ok(post('runs/log-metric', { run_uuid: run.info.run_id, key: 'm', value: 1, timestamp: 1 }));
        assert.equal((await ok(get('runs/get', { run_uuid: run.info.run_id }))).run.data.metrics.length, 1);
        await ok(post('runs/update', { run_uuid: run.info.run_id, status: 'KILLED' }));
        await fails(post('runs/log-metric', { key: 'm', value: 1, timestamp: 1 }), 400, 'INVALID_PARAMETER_VALUE', /run_id/);
      });

      it('deletes and restores runs; deleted runs refuse writes and hide from search', async () => {
        const id = await newExperiment();
        const run = await newRun(id);
        const runId = run.info.run_id;
        await ok(post('runs/delete', { run_id: runId }));
        const deleted = await getRun(runId);
        assert.equal(deleted.info.lifecycle_stage, 'deleted');
        assert.deepEqual((await searchRuns({ experiment_ids: [id] })).runs ?? [], []);
        assert.equal((await searchRuns({ experiment_ids: [id], run_view_type: 'ALL' })).runs.length, 1);
        assert.equal((await searchRuns({ experiment_ids: [id], run_view_type: 2 })).runs.length, 1);
        const inactive = /must be in the 'active' state/;
        await fails(post('runs/log-metric', { run_id: runId, key: 'm', value: 1, timestamp: 1 }), 400, 'INVALID_PARAMETER_VALUE', inactive);
        await fails(post('runs/log-parameter', { run_id: runId, key: 'p', value: '1' }), 400, 'INVALID_PARAMETER_VALUE', inactive);
        await fails(post('runs/set-tag', { run_id: runId, key: 't', value: '1' }), 400, 'INVALID_PARAMETER_VALUE', inactive);
        await fails(post('runs/log-batch', { run_id: runId, metrics: [{ key: 'm', value: 1, timestamp: 1 }] }), 400, 'INVALID_PARAMETER_VALUE', inactive);
        await fails(post('runs/update', { run_id: runId, status: 'FINISHED' }), 400, 'INVALID_PARAMETER_VALUE', inactive);
        await ok(post('runs/restore', { run_id: runId }));
        assert.equal((await getRun(runId)).info.lifecycle_stage, 'active');
        await ok(post('runs/log-metric', { run_id: runId, key: 'm', value: 1, timestamp: 1 }));
        await fails(post('runs/delete', { run_id: 'f'.repeat(32) }), 404, 'RESOURCE_DOES_NOT_EXIST');
        await fails(get('runs/get', { run_id: 'f'.repeat(32) }), 404, 'RESOURCE_DOES_NOT_EXIST', /not found/);
      });

      it('keeps params immutable: the same value again is fine, another is INVALID_PARAMETER_VALUE', async () => {
        const run = await newRun(await newExperiment());
        const runId = run.info.run_id;
        await ok(post('runs/log-parameter', { run_id: runId, key: 'lr', value: '0.1' }));
        await ok(post('runs/log-parameter', { run_id: runId, key: 'lr', value: '0.1' }));
        await fails(
          post('runs/log-parameter', { run_id: runId, key: 'lr', value: '0.2' }),
          400,
          'INVALID_PARAMETER_VALUE',
          /Changing param values is not allowed. Param with key='lr' was already logged with value='0.1'/,
        );
        await fails(
          post('runs/log-batch', { run_id: runId, params: [{ key: 'lr', value: '0.3' }, { key: 'new', value: 'x' }] }),
          400,
          'INVALID_PARAMETER_VALUE',
          /Changing param values is not allowed/,
        );
        await ok(post('runs/log-batch', { run_id: runId, params: [{ key: 'lr', value: '0.1' }, { key: 'depth', value: '3' }] }));
        const got = await getRun(runId);
        assert.deepEqual(got.data.params, [
          { key: 'depth', value: '3' },
          { key: 'lr', value: '0.1' },
        ]);
        await ok(post('runs/log-parameter', { run_id: runId, key: 'empty' }));
        await fails(post('runs/log-parameter', { run_id: runId, key: 'big', value: 'x'.repeat(6001) }), 400, 'INVALID_PARAMETER_VALUE', /6000/);
        await ok(post('runs/log-parameter', { run_id: runId, key: 'big', value: 'x'.repeat(6000) }));
      });

      it('sets and deletes run tags', async () => {
        const run = await newRun(await newExperiment());
        const runId = run.info.run_id;
        await ok(post('runs/set-tag', { run_id: runId, key: 'env', value: 'dev' }));
        await ok(post('runs/set-tag', { run_id: runId, key: 'env', value: 'prod' }));
        const tags = (await getRun(runId)).data.tags;
        assert.deepEqual(tags.find((t: { key: string }) => t.key === 'env'), { key: 'env', value: 'prod' });
        await ok(post('runs/delete-tag', { run_id: runId, key: 'env' }));
        assert.equal((await getRun(runId)).data.tags.find((t: { key: string }) => t.key === 'env'), undefined);
        await fails(post('runs/delete-tag', { run_id: runId, key: 'env' }), 404, 'RESOURCE_DOES_NOT_EXIST', /No tag with name: env/);
        await fails(post('runs/set-tag', { run_id: runId, key: 'v', value: 'x'.repeat(8001) }), 400, 'INVALID_PARAMETER_VALUE', /8000/);
        await ok(post('runs/set-tag', { run_id: runId, key: 'v', value: 'x'.repeat(8000) }));
      });
    });

    describe('metrics', () => {
      it('keeps the full history and shows the latest point (max step, then timestamp, then value)', async () => {
        const run = await newRun(await newExperiment());
        const runId = run.info.run_id;
        const log = (value: number, timestamp: number, step?: number) =>
          ok(post('runs/log-metric', { run_id: runId, key: 'loss', value, timestamp, ...(step === undefined ? {} : { step }) }));
        await log(3, 100, 2);
        await log(5, 50, 1);
        await log(1, 200); // step 0
        await log(3, 100, 2); // a duplicate point: ignored
        await log(2, 100, 2); // same step and timestamp, smaller value: not the latest
        await log(4, 100, 2); // larger value wins the tie
        const latest = (await getRun(runId)).data.metrics;
        assert.deepEqual(latest, [{ key: 'loss', value: 4, timestamp: 100, step: 2 }]);
        const { metrics } = await ok(get('metrics/get-history', { run_id: runId, metric_key: 'loss' }));
        assert.deepEqual(metrics, [
          { key: 'loss', value: 1, timestamp: 200, step: 0 },
          { key: 'loss', value: 5, timestamp: 50, step: 1 },
          { key: 'loss', value: 2, timestamp: 100, step: 2 },
          { key: 'loss', value: 3, timestamp: 100, step: 2 },
          { key: 'loss', value: 4, timestamp: 100, step: 2 },
        ]);
        // Paging through the history.
        const page1 = await ok(get('metrics/get-history', { run_id: runId, metric_key: 'loss', max_results: '2' }));
        assert.equal(page1.metrics.length, 2);
        assert.ok(page1.next_page_token);
        const page2 = await ok(get('metrics/get-history', { run_id: runId, metric_key: 'loss', max_results: '2', page_token: page1.next_page_token }));
        const page3 = await ok(get('metrics/get-history', { run_id: runId, metric_key: 'loss', max_results: '2', page_token: page2.next_page_token }));
        assert.equal(page3.next_page_token, undefined);
        assert.deepEqual([...page1.metrics, ...page2.metrics, ...page3.metrics], metrics);
        assert.deepEqual((await ok(get('metrics/get-history', { run_id: runId, metric_key: 'absent' }))).metrics, []);
        await fails(get('metrics/get-history', { run_id: 'f'.repeat(32), metric_key: 'loss' }), 404, 'RESOURCE_DOES_NOT_EXIST');
      });

      // MLflow's file store keeps ±Infinity and writes it as protobuf JSON does; its SQL store clamps
      // it to ±1.7976931348623157e308. mloop keeps the value the client logged, on every backend.
      it('stores and returns NaN and ±Infinity as protobuf JSON writes them (MLflow file store semantics)', async () => {
        const run = await newRun(await newExperiment());
        const runId = run.info.run_id;
        await ok(post('runs/log-metric', { run_id: runId, key: 'nan', value: 'NaN', timestamp: 1, step: 0 }));
        await ok(post('runs/log-metric', { run_id: runId, key: 'pinf', value: 'Infinity', timestamp: 1 }));
        await ok(post('runs/log-metric', { run_id: runId, key: 'ninf', value: '-Infinity', timestamp: 1 }));
        // Python's json writes bare NaN / Infinity tokens; they are accepted too.
        const raw = await server.fetch(`${M}/runs/log-batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: `{"run_id": "${runId}", "metrics": [{"key": "bare", "value": NaN, "timestamp": 2, "step": 1}, {"key": "bare", "value": -Infinity, "timestamp": 2, "step": 0}]}`,
        });
        assert.equal(raw.status, 200, await raw.text());
        const text = await (await server.fetch(`${M}/runs/get?run_id=${runId}`)).text();
        assert.match(text, /"value":"NaN"/);
        assert.match(text, /"value":"Infinity"/);
        assert.match(text, /"value":"-Infinity"/);
        const metrics = Object.fromEntries((JSON.parse(text).run.data.metrics as { key: string; value: unknown }[]).map((m) => [m.key, m.value]));
        assert.deepEqual(metrics, { bare: 'NaN', nan: 'NaN', ninf: '-Infinity', pinf: 'Infinity' });
        const history = await ok(get('metrics/get-history', { run_id: runId, metric_key: 'bare' }));
        assert.deepEqual(
          history.metrics.map((m: { value: unknown }) => m.value),
          ['-Infinity', 'NaN'],
        );
        // Logging the same NaN point again is a duplicate, not a second point.
        await ok(post('runs/log-metric', { run_id: runId, key: 'nan', value: 'NaN', timestamp: 1, step: 0 }));
        assert.equal((await ok(get('metrics/get-history', { run_id: runId, metric_key: 'nan' }))).metrics.length, 1);
      });

      it('validates metric keys and values with MLflow messages', async () => {
        const run = await newRun(await newExperiment());
        const runId = run.info.run_id;
        await fails(post('runs/log-metric', { run_id: runId, key: 'bad*key', value: 1, timestamp: 1 }), 400, 'INVALID_PARAMETER_VALUE', /Names may only contain/);
        await fails(post('runs/log-metric', { run_id: runId, key: 'a/../b', value: 1, timestamp: 1 }), 400, 'INVALID_PARAMETER_VALUE', /resolve to 'b'/);
        await fails(post('runs/log-metric', { run_id: runId, key: 'k'.repeat(251), value: 1, timestamp: 1 }), 400, 'INVALID_PARAMETER_VALUE', /250/);
        await fails(post('runs/log-metric', { run_id: runId, key: 'k', value: 'abc', timestamp: 1 }), 400, 'INVALID_PARAMETER_VALUE', /value/);
        await fails(post('runs/log-metric', { run_id: runId, key: 'k', value: 1, timestamp: -1 }), 400, 'INVALID_PARAMETER_VALUE', /timestamp/);
        await fails(post('runs/log-metric', { run_id: runId, key: 'k', value: 1 }), 400, 'INVALID_PARAMETER_VALUE', /timestamp/);
        await ok(post('runs/log-metric', { run_id: runId, key: 'ok key/with: colon-and.dots_1', value: '1.5', timestamp: '7', step: '-3' }));
      });
    });

    describe('log-batch', () => {
      it('logs metrics, params and tags together, ignoring duplicate points', async () => {
        const run = await newRun(await newExperiment());
        const runId = run.info.run_id;
        const metrics = [];
        for (let step = 0; step < 500; step++) metrics.push({ key: 'acc', value: step / 1000, timestamp: 1000 + step, step });
        metrics.push({ key: 'acc', value: 0, timestamp: 1000, step: 0 }); // duplicate of the first
        await ok(post('runs/log-batch', { run_id: runId, metrics, params: [{ key: 'p', value: 'v' }], tags: [{ key: 't', value: 'a' }, { key: 't', value: 'b' }] }));
        const got = await getRun(runId);
        assert.deepEqual(got.data.metrics, [{ key: 'acc', value: 0.499, timestamp: 1499, step: 499 }]);
        assert.deepEqual(got.data.params, [{ key: 'p', value: 'v' }]);
        assert.deepEqual(got.data.tags.find((t: { key: string }) => t.key === 't'), { key: 't', value: 'b' });
        const history = await ok(get('metrics/get-history', { run_id: runId, metric_key: 'acc' }));
        assert.equal(history.metrics.length, 500);
        // Sending the same batch again adds nothing.
        await ok(post('runs/log-batch', { run_id: runId, metrics }));
        assert.equal((await ok(get('metrics/get-history', { run_id: runId, metric_key: 'acc' }))).metrics.length, 500);
        await ok(post('runs/log-batch', { run_id: runId }));
      });

      it('stores the same points whether numbers come plain or in their protobuf-JSON string forms', async () => {
        const plain = (await newRun(await newExperiment())).info.run_id;
        const strings = (await newRun(await newExperiment())).info.run_id;
        await ok(post('runs/log-batch', { run_uuid: plain, metrics: [{ key: 'm', value: 1.5, timestamp: 7, step: 2 }, { key: 'm', value: -1, timestamp: 8 }] }));
        await ok(post('runs/log-batch', { run_uuid: strings, metrics: [{ key: 'm', value: '1.5', timestamp: '7', step: '2' }, { key: 'm', value: -1, timestamp: 8, extra: true }] }));
        const history = async (runId: string) => (await ok(get('metrics/get-history', { run_id: runId, metric_key: 'm' }))).metrics;
        assert.deepEqual(await history(plain), [
          { key: 'm', value: -1, timestamp: 8, step: 0 },
          { key: 'm', value: 1.5, timestamp: 7, step: 2 },
        ]);
        assert.deepEqual(await history(strings), await history(plain));
        await fails(post('runs/log-batch', { run_id: plain, metrics: [{ key: 'm', value: 1, timestamp: 1, step: 0.5 }] }), 400, 'INVALID_PARAMETER_VALUE', /metrics\[0\]\.step/);
      });

      it('enforces MLflow batch limits and writes nothing from a rejected batch', async () => {
        const run = await newRun(await newExperiment());
        const runId = run.info.run_id;
        const metric = (i: number) => ({ key: `m${i % 10}`, value: i, timestamp: i, step: i });
        const param = (i: number) => ({ key: `p${i}`, value: 'v' });
        const limit = /A batch logging request can contain at most/;
        await fails(post('runs/log-batch', { run_id: runId, metrics: Array.from({ length: 1001 }, (_, i) => metric(i)) }), 400, 'INVALID_PARAMETER_VALUE', /at most 1000 metrics/);
        await fails(post('runs/log-batch', { run_id: runId, params: Array.from({ length: 101 }, (_, i) => param(i)) }), 400, 'INVALID_PARAMETER_VALUE', /at most 100 params/);
        await fails(post('runs/log-batch', { run_id: runId, tags: Array.from({ length: 101 }, (_, i) => param(i)) }), 400, 'INVALID_PARAMETER_VALUE', /at most 100 tags/);
        await fails(
          post('runs/log-batch', { run_id: runId, metrics: Array.from({ length: 950 }, (_, i) => metric(i)), params: Array.from({ length: 51 }, (_, i) => param(i)) }),
          400,
          'INVALID_PARAMETER_VALUE',
          limit,
        );
        await ok(post('runs/log-batch', { run_id: runId, metrics: Array.from({ length: 900 }, (_, i) => metric(i)), params: Array.from({ length: 50 }, (_, i) => param(i)), tags: Array.from({ length: 50 }, (_, i) => param(i)) }));
        await fails(
          post('runs/log-batch', { run_id: runId, params: [{ key: 'dup', value: '1' }, { key: 'dup', value: '1' }] }),
          400,
          'INVALID_PARAMETER_VALUE',
          /Duplicate parameter keys have been submitted: \['dup'\]/,
        );
        const before = await getRun(runId);
        // A valid metric and tag with an invalid param: nothing of it is written.
        await fails(
          post('runs/log-batch', { run_id: runId, metrics: [{ key: 'fresh', value: 1, timestamp: 1 }], tags: [{ key: 'fresh', value: '1' }], params: [{ key: 'p0', value: 'changed' }] }),
          400,
          'INVALID_PARAMETER_VALUE',
          /Changing param values/,
        );
        await fails(
          post('runs/log-batch', { run_id: runId, metrics: [{ key: 'fresh', value: 1, timestamp: 1 }], params: [{ key: 'bad key!', value: '1' }] }),
          400,
          'INVALID_PARAMETER_VALUE',
          /params\[0\]\.key/,
        );
        assert.deepEqual(await getRun(runId), before);
        assert.deepEqual((await ok(get('metrics/get-history', { run_id: runId, metric_key: 'fresh' }))).metrics, []);
        // A request over MLflow's 1 MB limit for log-batch.
        const big = Array.from({ length: 100 }, (_, i) => ({ key: `big${i}`, value: 'x'.repeat(6000) }));
        const bigTags = Array.from({ length: 100 }, (_, i) => ({ key: `big${i}`, value: 'x'.repeat(6000) }));
        await fails(post('runs/log-batch', { run_id: runId, params: big, tags: bigTags }), 400, 'INVALID_PARAMETER_VALUE', /at most 1000000 bytes/);
        // The same body sent chunked (no Content-Length) is measured as received.
        const chunked = await rawRequest(server.url, 'POST', `${M}/runs/log-batch`, {
          headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
          body: JSON.stringify({ run_id: runId, params: big, tags: bigTags }),
        });
        assert.equal(chunked.status, 400, chunked.body);
        assert.match(JSON.parse(chunked.body).message, /at most 1000000 bytes/);
        assert.deepEqual(await getRun(runId), before);
      });
    });

    describe('log-inputs', () => {
      it('records datasets once per experiment (name, digest) and shows them as run inputs', async () => {
        const id = await newExperiment();
        const r1 = await newRun(id);
        const r2 = await newRun(id);
        const dataset = { name: 'rides', digest: 'abc123', source_type: 'local', source: '{"uri": "/data/rides.csv"}', schema: '{"cols": []}' };
        await ok(post('runs/log-inputs', { run_id: r1.info.run_id, datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset }] }));
        await ok(post('runs/log-inputs', { run_id: r1.info.run_id, datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset }, { dataset }] }));
        await ok(post('runs/log-inputs', { run_id: r2.info.run_id, datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'eval' }], dataset }] }));
        const got = await getRun(r1.info.run_id);
        assert.deepEqual(got.inputs.dataset_inputs, [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset }]);
        assert.deepEqual((await getRun(r2.info.run_id)).inputs.dataset_inputs[0].tags, [{ key: 'mlflow.data.context', value: 'eval' }]);
        const rows = await server.metadata.db.selectFrom('datasets').select('dataset_uuid').where('experiment_id', '=', Number(id)).execute();
        assert.equal(rows.length, 1);
        const found = await searchRuns({ experiment_ids: [id], filter: "datasets.context = 'eval'" });
        assert.deepEqual(found.runs.map((r: { info: { run_id: string } }) => r.info.run_id), [r2.info.run_id]);
        const byName = await searchRuns({ experiment_ids: [id], filter: "datasets.name = 'rides'" });
        assert.equal(byName.runs.length, 2);
        await fails(post('runs/log-inputs', { run_id: r1.info.run_id, datasets: [{ dataset: { ...dataset, digest: 'd'.repeat(37) } }] }), 400, 'INVALID_PARAMETER_VALUE', /digest/);
        await fails(post('runs/log-inputs', { run_id: r1.info.run_id, datasets: [{ dataset: { name: 'x' } }] }), 400, 'INVALID_PARAMETER_VALUE', /digest/);
      });
    });

    describe('search runs', () => {
      let experimentId: string;
      const runIds: string[] = [];
      before(async () => {
        experimentId = await newExperiment();
        // Five runs: r0..r4, with start times 100..104.
        for (let i = 0; i < 5; i++) {
          const run = await newRun(experimentId, { run_name: `Run-${i}`, start_time: 100 + i });
          runIds.push(run.info.run_id);
        }
        const batch = (i: number, body: Record<string, unknown>) => ok(post('runs/log-batch', { run_id: runIds[i], ...body }));
        await batch(0, { metrics: [{ key: 'rmse', value: 0.5, timestamp: 1 }, { key: 'my metric', value: 1, timestamp: 1 }], params: [{ key: 'model', value: 'GBT' }], tags: [{ key: 'env', value: 'Prod' }] });
        await batch(1, { metrics: [{ key: 'rmse', value: 0.2, timestamp: 1 }], params: [{ key: 'model', value: 'gbt' }], tags: [{ key: 'env', value: 'prod' }] });
        await batch(2, { metrics: [{ key: 'rmse', value: 'NaN', timestamp: 1 }], params: [{ key: 'model', value: 'cnn' }], tags: [{ key: 'env', value: 'dev' }] });
        await batch(3, { metrics: [{ key: 'rmse', value: 0.9, timestamp: 1 }, { key: 'my metric', value: 3, timestamp: 1 }], params: [{ key: 'model', value: 'cnn' }] });
        // r4 has no rmse, no params, no tags but its name.
        await ok(post('runs/update', { run_id: runIds[3], status: 'FINISHED', end_time: 999 }));
      });

      const ids = (body: any) => (body.runs ?? []).map((r: { info: { run_id: string } }) => runIds.indexOf(r.info.run_id));
      const search = async (filter?: string, order_by?: string[], extra: Record<string, unknown> = {}) =>
        ids(await searchRuns({ experiment_ids: [experimentId], ...(filter ? { filter } : {}), ...(order_by ? { order_by } : {}), ...extra }));

      it('orders by start time DESC by default', async () => {
        assert.deepEqual(await search(), [4, 3, 2, 1, 0]);
      });

      it('filters on metrics (NaN matches no comparison)', async () => {
        assert.deepEqual(await search('metrics.rmse < 0.6'), [1, 0]);
        assert.deepEqual(await search('metrics.rmse >= 0.5', ['metrics.rmse ASC']), [0, 3]);
        assert.deepEqual(await search('metrics.rmse = 0.2'), [1]);
        assert.deepEqual(await search('metrics.rmse != 0.2'), [3, 2, 0]);
        assert.deepEqual(await search('metrics.`my metric` > 2'), [3]);
        assert.deepEqual(await search('metrics."my metric" > 0'), [3, 0]);
      });

      it('filters on params and tags with =, !=, LIKE (case-sensitive) and ILIKE', async () => {
        assert.deepEqual(await search("params.model = 'cnn'"), [3, 2]);
        assert.deepEqual(await search("params.model != 'cnn'"), [1, 0]);
        assert.deepEqual(await search("params.model LIKE 'g%'"), [1]);
        assert.deepEqual(await search("params.model ILIKE 'g%'"), [1, 0]);
        assert.deepEqual(await search("tags.env LIKE '%rod'"), [1, 0]);
        assert.deepEqual(await search("tags.env LIKE 'P%'"), [0]);
        assert.deepEqual(await search("tags.env ILIKE 'P%'"), [1, 0]);
        assert.deepEqual(await search("tags.`env` = 'dev' and params.model = 'cnn'"), [2]);
        assert.deepEqual(await search('tags.env IS NULL'), [4, 3]);
      });

      it('filters on attributes, IN included', async () => {
        assert.deepEqual(await search("attributes.status = 'FINISHED'"), [3]);
        assert.deepEqual(await search("attributes.run_name = 'Run-2'"), [2]);
        assert.deepEqual(await search("attributes.run_name ILIKE 'run-%'"), [4, 3, 2, 1, 0]);
        assert.deepEqual(await search("attributes.run_name LIKE 'run-%'"), []);
        assert.deepEqual(await search('attributes.start_time > 102'), [4, 3]);
        assert.deepEqual(await search('attributes.end_time > 0'), [3]);
        assert.deepEqual(await search(`attributes.run_id IN ('${runIds[1]}', '${runIds[4]}')`), [4, 1]);
        assert.deepEqual(await search(`attributes.run_id NOT IN ('${runIds[1]}', '${runIds[4]}')`), [3, 2, 0]);
      });

      it('orders by metrics with NaN and missing values last, in both directions', async () => {
        assert.deepEqual(await search(undefined, ['metrics.rmse ASC']), [1, 0, 3, 2, 4]);
        assert.deepEqual(await search(undefined, ['metrics.rmse DESC']), [3, 0, 1, 2, 4]);
      });

      it('orders by params, tags and attributes, missing values last', async () => {
        // Strings order by code point: 'GBT' < 'cnn' < 'gbt'.
        assert.deepEqual(await search(undefined, ['params.model ASC']), [0, 3, 2, 1, 4]);
        assert.deepEqual(await search(undefined, ['params.model DESC', 'attributes.start_time ASC']), [1, 2, 3, 0, 4]);
        assert.deepEqual(await search(undefined, ['tags.env DESC']), [1, 2, 0, 4, 3]);
        assert.deepEqual(await search(undefined, ['attributes.start_time ASC']), [0, 1, 2, 3, 4]);
        assert.deepEqual(await search(undefined, ['attributes.end_time DESC']), [3, 4, 2, 1, 0]);
        await fails(post('runs/search', { experiment_ids: [experimentId], order_by: ['metrics.rmse', 'metrics.rmse DESC'] }), 400, 'INVALID_PARAMETER_VALUE', /duplicate/);
      });

      it('pages through results with page_token', async () => {
        const seen: number[] = [];
        let token: string | undefined;
        let pages = 0;
        do {
          const body = await searchRuns({ experiment_ids: [experimentId], max_results: 2, order_by: ['metrics.rmse ASC'], ...(token ? { page_token: token } : {}) });
          seen.push(...ids(body));
          token = body.next_page_token;
          pages++;
        } while (token);
        assert.equal(pages, 3);
        assert.deepEqual(seen, [1, 0, 3, 2, 4]);
      });

      it('searches over several experiments, through GET too, and rejects bad input', async () => {
        const other = await newExperiment();
        await newRun(other);
        const both = await searchRuns({ experiment_ids: [experimentId, other] });
        assert.equal(both.runs.length, 6);
        const viaGet = await ok(get('runs/search', { experiment_ids: [experimentId, other], max_results: '3' }));
        assert.equal(viaGet.runs.length, 3);
        assert.ok(viaGet.next_page_token);
        assert.deepEqual((await searchRuns({ experiment_ids: ['123456'] })).runs ?? [], []);
        await fails(post('runs/search', { experiment_ids: [experimentId], max_results: 50001 }), 400, 'INVALID_PARAMETER_VALUE', /max_results/);
        await fails(post('runs/search', { experiment_ids: [experimentId], filter: 'metrics.rmse < 0.5 OR params.a = 1' }), 400, 'INVALID_PARAMETER_VALUE', /filter/);
        await fails(post('runs/search', { experiment_ids: [experimentId], filter: "metrics.rmse = 'abc'" }), 400, 'INVALID_PARAMETER_VALUE', /filter/);
        await fails(post('runs/search', { experiment_ids: [experimentId], order_by: ['foo.bar'] }), 400, 'INVALID_PARAMETER_VALUE', /order_by/);
        await fails(post('runs/search', { experiment_ids: 'abc' }), 400, 'INVALID_PARAMETER_VALUE', /experiment_ids/);
      });
    });

    describe('log-model', () => {
      const model = (runId: string, path: string) =>
        JSON.stringify({
          run_id: runId,
          artifact_path: path,
          utc_time_created: '2026-11-28 01:02:03.456789',
          model_uuid: `uuid-${path}`,
          flavors: { python_function: { loader_module: 'mlflow.sklearn', config: { large: true } }, sklearn: { sklearn_version: '1.2.1' } },
          signature: { inputs: '[]' },
        });

      it("appends each logged model to the run's mlflow.log-model.history tag, as MLflow does", async () => {
        const run = await newRun(await newExperiment());
        const runId = run.info.run_id;
        await ok(post('runs/log-model', { run_id: runId, model_json: model(runId, 'model') }));
        await ok(post('runs/log-model', { run_id: runId, model_json: model(runId, 'other') }));
        const tag = (await getRun(runId)).data.tags.find((t: any) => t.key === 'mlflow.log-model.history');
        assert.deepEqual(JSON.parse(tag.value), [
          {
            run_id: runId,
            utc_time_created: '2026-11-28 01:02:03.456789',
            artifact_path: 'model',
            model_uuid: 'uuid-model',
            flavors: { python_function: { loader_module: 'mlflow.sklearn' }, sklearn: { sklearn_version: '1.2.1' } },
          },
          {
            run_id: runId,
            utc_time_created: '2026-11-28 01:02:03.456789',
            artifact_path: 'other',
            model_uuid: 'uuid-other',
            flavors: { python_function: { loader_module: 'mlflow.sklearn' }, sklearn: { sklearn_version: '1.2.1' } },
          },
        ]);
      });

      // SQLite runs one transaction at a time, so only the PostgreSQL run exercises the compare-and-set.
      it('loses no entry when many clients log models to one run at once', async () => {
        const run = await newRun(await newExperiment());
        const runId = run.info.run_id;
        const paths = Array.from({ length: 12 }, (_, i) => `m${i}`);
        await Promise.all(paths.map((p) => ok(post('runs/log-model', { run_id: runId, model_json: model(runId, p) }))));
        const tag = (await getRun(runId)).data.tags.find((t: any) => t.key === 'mlflow.log-model.history');
        assert.deepEqual(JSON.parse(tag.value).map((e: any) => e.artifact_path).sort(), [...paths].sort());
      });

      it('refuses malformed model JSON, missing mandatory fields and deleted runs, changing nothing', async () => {
        const run = await newRun(await newExperiment());
        const runId = run.info.run_id;
        await fails(post('runs/log-model', { run_id: runId, model_json: '{not json' }), 400, 'INVALID_PARAMETER_VALUE', /is not a valid JSON/);
        await fails(post('runs/log-model', { run_id: runId, model_json: '[]' }), 400, 'INVALID_PARAMETER_VALUE', /JSON object/);
        await fails(
          post('runs/log-model', { run_id: runId, model_json: JSON.stringify({ run_id: runId, flavors: {} }) }),
          400,
          'INVALID_PARAMETER_VALUE',
          /missing mandatory fields: \{'artifact_path', 'utc_time_created'\}/,
        );
        await fails(post('runs/log-model', { run_id: runId }), 400, 'INVALID_PARAMETER_VALUE', /model_json/);
        assert.equal((await getRun(runId)).data.tags.find((t: any) => t.key === 'mlflow.log-model.history'), undefined);
        await ok(post('runs/delete', { run_id: runId }));
        await fails(post('runs/log-model', { run_id: runId, model_json: model(runId, 'model') }), 400, 'INVALID_PARAMETER_VALUE', /must be in the 'active' state/);
        await fails(post('runs/log-model', { run_id: 'f'.repeat(32), model_json: model(runId, 'model') }), 404, 'RESOURCE_DOES_NOT_EXIST');
      });
    });

    describe('protobuf JSON as MLflow reads it', () => {
      it('accepts integer experiment ids and reads null as an unset field', async () => {
        const id = await newExperiment();
        const run = await newRun(Number(id) as unknown as string, { run_name: null, tags: null, start_time: null });
        assert.equal(run.info.experiment_id, id);
        await ok(post('runs/log-metric', { run_id: run.info.run_id, key: 'm', value: 1, timestamp: 5, step: null }));
        await ok(post('runs/log-batch', { run_id: run.info.run_id, metrics: [{ key: 'b', value: 2, timestamp: 6, step: null }], params: null, tags: null }));
        const read = await getRun(run.info.run_id);
        assert.deepEqual(
          read.data.metrics.map((m: any) => [m.key, m.step]),
          [
            ['b', 0],
            ['m', 0],
          ],
        );
        const found = await searchRuns({ experiment_ids: [Number(id)], filter: null, order_by: null });
        assert.deepEqual(found.runs.map((r: any) => r.info.run_id), [run.info.run_id]);
        await ok(post('experiments/set-experiment-tag', { experiment_id: Number(id), key: 'k', value: 'v' }));
      });

      it('answers an empty or null required id with 400 naming it, as a missing one', async () => {
        await fails(get('experiments/get', { experiment_id: '' }), 400, 'INVALID_PARAMETER_VALUE', /experiment_id/);
        await fails(post('experiments/delete', { experiment_id: null }), 400, 'INVALID_PARAMETER_VALUE', /experiment_id: required/);
        await fails(post('runs/search', { experiment_ids: [''] }), 400, 'INVALID_PARAMETER_VALUE', /experiment_ids\.0|experiment_ids\[0\]/);
        await fails(post('runs/create', { experiment_id: -1 }), 400, 'INVALID_PARAMETER_VALUE', /experiment_id/);
        await fails(post('runs/create', { experiment_id: 1.5 }), 400, 'INVALID_PARAMETER_VALUE', /experiment_id/);
      });
    });

    describe('projects', () => {
      it('keeps experiments and runs inside their project', async () => {
        await server.metadata.db.insertInto('projects').values({ name: 'other', description: null, created_at: 0 }).execute();
        const inOther = (method: string, path: string, body?: unknown) =>
          server
            .fetch(`${M}/${path}`, {
              method,
              headers: { 'x-mloop-project': 'other', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
              body: body === undefined ? undefined : JSON.stringify(body),
            })
            .then(async (r) => ({ status: r.status, body: await r.json() }));
        const run = await newRun('0');
        assert.equal((await inOther('GET', `runs/get?run_id=${run.info.run_id}`)).status, 404);
        assert.equal((await inOther('GET', 'experiments/get?experiment_id=0')).status, 404);
        const created = await inOther('POST', 'experiments/create', { name: 'Default' });
        assert.equal(created.status, 200, JSON.stringify(created.body));
        const listed = await inOther('POST', 'experiments/search', {});
        assert.deepEqual(
          listed.body.experiments.map((e: { name: string }) => e.name),
          ['Default'],
        );
        const missing = await server.fetch(`${M}/experiments/create`, {
          method: 'POST',
          headers: { 'x-mloop-project': 'no-such-project', 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'x' }),
        });
        assert.equal(missing.status, 404);
      });
    });
  });
}
