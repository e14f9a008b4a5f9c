/**
 * Model versions and aliases over MLflow's REST API, on every metadata backend: create (numbering,
 * lineage fields), get, update, delete, tags, stage transitions, download URI, search, the alias
 * lifecycle, and concurrent creation.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../src/core/clock.ts';
import { metadataBackends } from './support/backends.ts';
import { createRun, mlflowError, mlflowOk, qs, type CreatedRun } from './support/registry.ts';
import { startTestServer, type TestServer } from './support/server.ts';

for (const backend of metadataBackends()) {
  describe(`registry: model versions and aliases (${backend.name})`, { skip: backend.skip }, () => {
    let server: TestServer;
    let run: CreatedRun;
    let other: CreatedRun;
    const clock = new ManualClock(1_700_000_000_000);
    before(async () => {
      server = await startTestServer({ metadata: backend, clock });
      run = await createRun(server);
      other = await createRun(server);
    });
    after(() => server?.close());

    const createModel = (name: string) => mlflowOk(server, 'POST', 'registered-models/create', { name });
    const createVersion = async (name: string, extra: Record<string, unknown> = {}) =>
      (await mlflowOk(server, 'POST', 'model-versions/create', { name, source: `runs:/${run.runId}/model`, run_id: run.runId, ...extra })).model_version;
    const getVersion = async (name: string, version: string | number) =>
      (await mlflowOk(server, 'GET', `model-versions/get?${qs({ name, version })}`)).model_version;
    const getModel = async (name: string) => (await mlflowOk(server, 'GET', `registered-models/get?${qs({ name })}`)).registered_model;

    it('creates version 1 with MLflow’s shape and where it came from', async () => {
      await createModel('mv');
      clock.advance(1000);
      const created = await createVersion('mv', {
        description: 'first',
        run_link: 'http://elsewhere/#/runs/1',
        tags: [{ key: 'framework', value: 'onnx' }],
      });
      assert.deepEqual(created, {
        name: 'mv',
        version: '1',
        creation_timestamp: clock.now(),
        last_updated_timestamp: clock.now(),
        user_id: 'anonymous',
        current_stage: 'None',
        description: 'first',
        source: `runs:/${run.runId}/model`,
        storage_location: `${run.artifactUri}/model`,
        run_id: run.runId,
        status: 'READY',
        tags: [{ key: 'framework', value: 'onnx' }],
        run_link: 'http://elsewhere/#/runs/1',
        aliases: [],
      });
      assert.deepEqual(await getVersion('mv', '1'), created);
      assert.equal((await getModel('mv')).last_updated_timestamp, clock.now());
    });

    it('numbers versions 1, 2, 3… and never reuses a deleted number', async () => {
      await createModel('numbered');
      const numbers = [];
      for (let i = 0; i < 3; i++) numbers.push((await createVersion('numbered')).version);
      assert.deepEqual(numbers, ['1', '2', '3']);
      await mlflowOk(server, 'DELETE', 'model-versions/delete', { name: 'numbered', version: '3' });
      assert.equal((await createVersion('numbered')).version, '4');
    });

    it('takes the run from a runs:/ source when run_id is absent', async () => {
      await createModel('from-runs');
      const created = (await mlflowOk(server, 'POST', 'model-versions/create', { name: 'from-runs', source: `runs:/${other.runId}` })).model_version;
      assert.equal(created.run_id, other.runId);
      assert.equal(created.storage_location, other.artifactUri);
    });

    it('accepts an mlflow-artifacts: source inside the run’s artifacts, with or without run_id', async () => {
      await createModel('from-uri');
      const withRun = (await mlflowOk(server, 'POST', 'model-versions/create', { name: 'from-uri', source: `${run.artifactUri}/model`, run_id: run.runId })).model_version;
      assert.equal(withRun.storage_location, `${run.artifactUri}/model`);
      assert.equal(withRun.run_id, run.runId);
      const bare = (await mlflowOk(server, 'POST', 'model-versions/create', { name: 'from-uri', source: 'mlflow-artifacts:/shared/models/m1' })).model_version;
      assert.equal(bare.storage_location, 'mlflow-artifacts:/shared/models/m1');
      assert.equal(bare.run_id, undefined);
    });

    it('answers unknown versions with 404 and non-numeric versions with 400', async () => {
      const missing = await mlflowError(server, 'GET', `model-versions/get?${qs({ name: 'mv', version: 9 })}`, undefined, 404, 'RESOURCE_DOES_NOT_EXIST');
      assert.equal(missing.message, 'Model Version (name=mv, version=9) not found');
      for (const [method, path, body] of [
        ['PATCH', 'model-versions/update', { name: 'mv', version: '9', description: 'x' }],
        ['DELETE', 'model-versions/delete', { name: 'mv', version: '9' }],
        ['POST', 'model-versions/set-tag', { name: 'mv', version: '9', key: 'k', value: 'v' }],
        ['DELETE', 'model-versions/delete-tag', { name: 'mv', version: '9', key: 'k' }],
        ['POST', 'model-versions/transition-stage', { name: 'mv', version: '9', stage: 'Staging', archive_existing_versions: false }],
        ['GET', `model-versions/get-download-uri?${qs({ name: 'mv', version: 9 })}`, undefined],
        ['POST', 'registered-models/alias', { name: 'mv', alias: 'a', version: '9' }],
      ] as const) {
        await mlflowError(server, method, path, body, 404, 'RESOURCE_DOES_NOT_EXIST');
      }
      const word = await mlflowError(server, 'GET', `model-versions/get?${qs({ name: 'mv', version: 'abc' })}`, undefined, 400, 'INVALID_PARAMETER_VALUE');
      assert.match(word.message, /Parameter 'version' must be an integer, got 'abc'\./);
      await mlflowError(server, 'GET', `model-versions/get?${qs({ name: 'mv', version: '-1' })}`, undefined, 400, 'INVALID_PARAMETER_VALUE');
      await mlflowError(server, 'GET', `model-versions/get?${qs({ name: 'mv', version: '1.5' })}`, undefined, 400, 'INVALID_PARAMETER_VALUE');
    });

    it('updates and clears a version’s description', async () => {
      clock.advance(1000);
      const updated = (await mlflowOk(server, 'PATCH', 'model-versions/update', { name: 'mv', version: '1', description: 'better' })).model_version;
      assert.equal(updated.description, 'better');
      assert.equal(updated.last_updated_timestamp, clock.now());
      const cleared = (await mlflowOk(server, 'PATCH', 'model-versions/update', { name: 'mv', version: 1 })).model_version;
      assert.equal(cleared.description, undefined);
    });

    it('sets, replaces and deletes version tags', async () => {
      await mlflowOk(server, 'POST', 'model-versions/set-tag', { name: 'mv', version: '1', key: 'validated', value: 'no' });
      await mlflowOk(server, 'POST', 'model-versions/set-tag', { name: 'mv', version: 1, key: 'validated', value: 'yes' });
      assert.deepEqual((await getVersion('mv', 1)).tags, [
        { key: 'framework', value: 'onnx' },
        { key: 'validated', value: 'yes' },
      ]);
      await mlflowOk(server, 'DELETE', 'model-versions/delete-tag', { name: 'mv', version: '1', key: 'framework' });
      await mlflowOk(server, 'DELETE', 'model-versions/delete-tag', { name: 'mv', version: '1', key: 'absent' });
      assert.deepEqual((await getVersion('mv', 1)).tags, [{ key: 'validated', value: 'yes' }]);
      await mlflowError(server, 'POST', 'model-versions/set-tag', { name: 'mv', version: '1', key: '', value: 'x' }, 400, 'INVALID_PARAMETER_VALUE');
    });

    it('transitions stages case-insensitively, archiving the others when asked', async () => {
      await createModel('stages');
      for (let i = 0; i < 3; i++) await createVersion('stages');
      const move = (version: string, stage: string, archive: boolean) =>
        mlflowOk(server, 'POST', 'model-versions/transition-stage', { name: 'stages', version, stage, archive_existing_versions: archive });
      assert.equal((await move('1', 'production', false)).model_version.current_stage, 'Production');
      await move('2', 'Production', false);
      clock.advance(1000);
      const third = (await move('3', 'PRODUCTION', true)).model_version;
      assert.equal(third.current_stage, 'Production');
      assert.equal(third.last_updated_timestamp, clock.now());
      assert.equal((await getVersion('stages', 1)).current_stage, 'Archived');
      assert.equal((await getVersion('stages', 2)).current_stage, 'Archived');
      await move('1', 'None', false);
      assert.equal((await getVersion('stages', 1)).current_stage, 'None');
      const archiveNone = await mlflowError(
        server,
        'POST',
        'model-versions/transition-stage',
        { name: 'stages', version: '1', stage: 'Archived', archive_existing_versions: true },
        400,
        'INVALID_PARAMETER_VALUE',
      );
      assert.match(archiveNone.message, /not an Active stage/);
      const invalid = await mlflowError(
        server,
        'POST',
        'model-versions/transition-stage',
        { name: 'stages', version: '1', stage: 'Live', archive_existing_versions: false },
        400,
        'INVALID_PARAMETER_VALUE',
      );
      assert.equal(invalid.message, 'stage: Invalid Model Version stage: Live. Value must be one of None, Staging, Production, Archived.');
      assert.equal((await getVersion('stages', 1)).current_stage, 'None', 'a refused transition changes nothing');
    });

    it('gives the download URI: the resolved mlflow-artifacts location', async () => {
      const uri = await mlflowOk(server, 'GET', `model-versions/get-download-uri?${qs({ name: 'mv', version: '1' })}`);
      assert.deepEqual(uri, { artifact_uri: `${run.artifactUri}/model` });
    });

    describe('aliases', () => {
      before(async () => {
        await createModel('aliased');
        for (let i = 0; i < 3; i++) await createVersion('aliased');
      });
      const alias = (name: string, aliasName: string) => mlflowOk(server, 'GET', `registered-models/alias?${qs({ name, alias: aliasName })}`);

      it('sets an alias, shows it on the version and the model, and moves it', async () => {
        assert.deepEqual(await mlflowOk(server, 'POST', 'registered-models/alias', { name: 'aliased', alias: 'champion', version: '1' }), {});
        await mlflowOk(server, 'POST', 'registered-models/alias', { name: 'aliased', alias: 'challenger', version: '2' });
        const byAlias = (await alias('aliased', 'champion')).model_version;
        assert.equal(byAlias.version, '1');
        assert.deepEqual(byAlias.aliases, ['champion']);
        assert.deepEqual((await getVersion('aliased', 2)).aliases, ['challenger']);
        await mlflowOk(server, 'POST', 'registered-models/alias', { name: 'aliased', alias: 'champion', version: 2 });
        assert.deepEqual((await getVersion('aliased', 2)).aliases, ['challenger', 'champion']);
        assert.deepEqual((await getVersion('aliased', 1)).aliases, []);
        assert.deepEqual((await getModel('aliased')).aliases, [
          { alias: 'challenger', version: '2' },
          { alias: 'champion', version: '2' },
        ]);
      });

      it('deletes an alias; getting it then is RESOURCE_DOES_NOT_EXIST; deleting again succeeds', async () => {
        await mlflowOk(server, 'DELETE', 'registered-models/alias', { name: 'aliased', alias: 'challenger' });
        const gone = await mlflowError(server, 'GET', `registered-models/alias?${qs({ name: 'aliased', alias: 'challenger' })}`, undefined, 404, 'RESOURCE_DOES_NOT_EXIST');
        assert.equal(gone.message, 'Registered model alias challenger not found.');
        await mlflowOk(server, 'DELETE', `registered-models/alias?${qs({ name: 'aliased', alias: 'challenger' })}`);
      });

      it('removes the aliases of a version when the version is deleted', async () => {
        await mlflowOk(server, 'POST', 'registered-models/alias', { name: 'aliased', alias: 'shadow', version: '3' });
        await mlflowOk(server, 'POST', 'registered-models/alias', { name: 'aliased', alias: 'canary', version: '3' });
        await mlflowOk(server, 'DELETE', 'model-versions/delete', { name: 'aliased', version: '3' });
        await mlflowError(server, 'GET', `registered-models/alias?${qs({ name: 'aliased', alias: 'shadow' })}`, undefined, 404, 'RESOURCE_DOES_NOT_EXIST');
        await mlflowError(server, 'GET', `registered-models/alias?${qs({ name: 'aliased', alias: 'canary' })}`, undefined, 404, 'RESOURCE_DOES_NOT_EXIST');
        assert.deepEqual((await getModel('aliased')).aliases, [{ alias: 'champion', version: '2' }]);
        // A new version 4 does not inherit the aliases of the deleted 3.
        assert.deepEqual((await createVersion('aliased')).aliases, []);
      });

      it('refuses reserved and malformed alias names, and unknown versions or models', async () => {
        for (const [name, message] of [
          ['latest', "'latest' alias name (case insensitive) is reserved."],
          ['LATEST', "'latest' alias name (case insensitive) is reserved."],
          ['v1', "Version alias name 'v1' is reserved."],
          ['V12', "Version alias name 'V12' is reserved."],
          ['has space', 'Invalid alias name'],
          ['slash/y', 'Invalid alias name'],
          ['', 'Registered model alias name cannot be empty.'],
          ['a'.repeat(256), 'maximum length of 255'],
        ]) {
          const error = await mlflowError(server, 'POST', 'registered-models/alias', { name: 'aliased', alias: name, version: '1' }, 400, 'INVALID_PARAMETER_VALUE');
          assert.ok(error.message.includes(message), `${name}: ${error.message}`);
        }
        await mlflowError(server, 'POST', 'registered-models/alias', { name: 'aliased', alias: 'x', version: '99' }, 404, 'RESOURCE_DOES_NOT_EXIST');
        await mlflowError(server, 'POST', 'registered-models/alias', { name: 'nobody', alias: 'x', version: '1' }, 404, 'RESOURCE_DOES_NOT_EXIST');
        await mlflowError(server, 'GET', `registered-models/alias?${qs({ name: 'nobody', alias: 'x' })}`, undefined, 404, 'RESOURCE_DOES_NOT_EXIST');
        assert.deepEqual((await getModel('aliased')).aliases, [{ alias: 'champion', version: '2' }]);
      });
    });

    describe('search', () => {
      before(async () => {
        await createModel('find-a');
        await createModel('find-b');
        clock.advance(1000);
        await createVersion('find-a', { tags: [{ key: 'quality', value: 'high' }] });
        clock.advance(1000);
        await createVersion('find-a');
        clock.advance(1000);
        await mlflowOk(server, 'POST', 'model-versions/create', { name: 'find-b', source: `runs:/${other.runId}/weights`, run_id: other.runId, tags: [{ key: 'quality', value: 'low' }] });
        clock.advance(1000);
        await createVersion('find-b', { source: `runs:/${run.runId}/other-model` });
      });
      const search = async (params: Record<string, string | number | string[] | undefined>) =>
        (await mlflowOk(server, 'GET', `model-versions/search?${qs(params)}`)) as { model_versions: { name: string; version: string }[]; next_page_token?: string };
      const ids = (page: { model_versions: { name: string; version: string }[] }) => page.model_versions.map((v) => `${v.name}/${v.version}`);

      it('filters on name, run_id (= and IN), version_number, source_path and tags', async () => {
        const scope = "name LIKE 'find-%'";
        assert.deepEqual(ids(await search({ filter: "name = 'find-a'" })), ['find-a/2', 'find-a/1']);
        assert.deepEqual(ids(await search({ filter: `${scope} AND run_id = '${other.runId}'` })), ['find-b/1']);
        assert.deepEqual(ids(await search({ filter: `${scope} AND run_id IN ('${other.runId}', '${run.runId}')` })).length, 4);
        assert.deepEqual(ids(await search({ filter: `${scope} AND version_number > 1` })), ['find-b/2', 'find-a/2']);
        assert.deepEqual(ids(await search({ filter: `${scope} AND source_path LIKE '%/weights'` })), ['find-b/1']);
        assert.deepEqual(ids(await search({ filter: `${scope} AND tags.quality = 'high'` })), ['find-a/1']);
        assert.deepEqual(ids(await search({ filter: `${scope} AND tags.quality != 'high'` })), ['find-b/1']);
      });

      it('orders newest update first by default, or as asked', async () => {
        const filter = "name LIKE 'find-%'";
        assert.deepEqual(ids(await search({ filter })), ['find-b/2', 'find-b/1', 'find-a/2', 'find-a/1']);
        assert.deepEqual(ids(await search({ filter, order_by: 'version_number ASC' })), ['find-a/1', 'find-b/1', 'find-a/2', 'find-b/2']);
        assert.deepEqual(ids(await search({ filter, order_by: ['name DESC', 'version_number'] })), ['find-b/1', 'find-b/2', 'find-a/1', 'find-a/2']);
        assert.deepEqual(ids(await search({ filter, order_by: 'creation_timestamp ASC' })), ['find-a/1', 'find-a/2', 'find-b/1', 'find-b/2']);
      });

      it('pages with max_results and page_token', async () => {
        const filter = "name LIKE 'find-%'";
        const first = await search({ filter, max_results: 3 });
        assert.equal(first.model_versions.length, 3);
        const second = await search({ filter, max_results: 3, page_token: first.next_page_token });
        assert.deepEqual([...ids(first), ...ids(second)], ['find-b/2', 'find-b/1', 'find-a/2', 'find-a/1']);
        assert.equal(second.next_page_token, undefined);
      });

      it('rejects bad filters and limits', async () => {
        for (const params of [
          { filter: "run_id NOT IN ('a')" },
          { filter: "name IN ('a')" },
          { filter: "version_number = 'one'" },
          { filter: "status = 'READY'" },
          { max_results: 200_001 },
          { order_by: 'stage' },
        ]) {
          await mlflowError(server, 'GET', `model-versions/search?${qs(params)}`, undefined, 400, 'INVALID_PARAMETER_VALUE');
        }
      });
    });

    it('numbers 20 concurrent creations 1..20 exactly, per model, with two models interleaved', async () => {
      await createModel('race-1');
      await createModel('race-2');
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          server.json('POST', '/api/2.0/mlflow/model-versions/create', {
            name: i % 2 === 0 ? 'race-1' : 'race-2',
            source: `runs:/${run.runId}/model`,
            run_id: run.runId,
          }),
        ),
      );
      for (const r of results) assert.equal(r.status, 200, JSON.stringify(r.body));
      for (const name of ['race-1', 'race-2']) {
        const versions = results
          .map((r) => r.body.model_version as { name: string; version: string })
          .filter((v) => v.name === name)
          .map((v) => Number(v.version))
          .sort((a, b) => a - b);
        assert.deepEqual(versions, Array.from({ length: 20 }, (_, i) => i + 1));
        const stored = await mlflowOk(server, 'GET', `model-versions/search?${qs({ filter: `name = '${name}'`, order_by: 'version_number' })}`);
        assert.deepEqual(stored.model_versions.map((v: { version: string }) => Number(v.version)), versions);
      }
    });
  });
}
