/**
 * Registered models over MLflow's REST API, on every metadata backend: create, get, update, rename,
 * delete, tags, get-latest-versions and search (filter, order_by, paging), with MLflow's error codes
 * and messages.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../src/core/clock.ts';
import { metadataBackends } from './support/backends.ts';
import { createRun, mlflowError, mlflowOk, qs, type CreatedRun } from './support/registry.ts';
import { startTestServer, type TestServer } from './support/server.ts';

for (const backend of metadataBackends()) {
  describe(`registry: registered models (${backend.name})`, { skip: backend.skip }, () => {
    let server: TestServer;
    let run: CreatedRun;
    const clock = new ManualClock(1_700_000_000_000);
    before(async () => {
      server = await startTestServer({ metadata: backend, clock });
      run = await createRun(server);
    });
    after(() => server?.close());

    const version = (name: string) => mlflowOk(server, 'POST', 'model-versions/create', { name, source: `runs:/${run.runId}/model`, run_id: run.runId });

    it('creates a model and returns MLflow’s shape; get returns the same', async () => {
      clock.advance(1000);
      const created = await mlflowOk(server, 'POST', 'registered-models/create', {
        name: 'churn',
        description: 'predicts churn',
        tags: [
          { key: 'team', value: 'growth' },
          { key: 'domain', value: 'retail' },
        ],
      });
      assert.deepEqual(created, {
        registered_model: {
          name: 'churn',
          creation_timestamp: clock.now(),
          last_updated_timestamp: clock.now(),
          description: 'predicts churn',
          latest_versions: [],
          tags: [
            { key: 'domain', value: 'retail' },
            { key: 'team', value: 'growth' },
          ],
          aliases: [],
        },
      });
      const got = await mlflowOk(server, 'GET', `registered-models/get?name=churn`);
      assert.deepEqual(got, created);
    });

    it('refuses a second model of the same name with RESOURCE_ALREADY_EXISTS', async () => {
      const error = await mlflowError(server, 'POST', 'registered-models/create', { name: 'churn' }, 400, 'RESOURCE_ALREADY_EXISTS');
      assert.equal(error.message, 'Registered Model (name=churn) already exists.');
    });

    it('answers an unknown model with RESOURCE_DOES_NOT_EXIST on every model route', async () => {
      const missing = { name: 'nope' };
      for (const [method, path, body] of [
        ['GET', `registered-models/get?name=nope`, undefined],
        ['PATCH', 'registered-models/update', { ...missing, description: 'x' }],
        ['POST', 'registered-models/rename', { ...missing, new_name: 'other' }],
        ['DELETE', 'registered-models/delete', missing],
        ['POST', 'registered-models/set-tag', { ...missing, key: 'k', value: 'v' }],
        ['DELETE', 'registered-models/delete-tag', { ...missing, key: 'k' }],
        ['GET', `registered-models/get-latest-versions?name=nope`, undefined],
        ['POST', 'model-versions/create', { ...missing, source: `runs:/${run.runId}/model` }],
      ] as const) {
        const error = await mlflowError(server, method, path, body, 404, 'RESOURCE_DOES_NOT_EXIST');
        assert.equal(error.message, 'Registered Model with name=nope not found', path);
      }
    });

    it('validates names and tags, and writes nothing when they are bad', async () => {
      const empty = await mlflowError(server, 'POST', 'registered-models/create', { name: '' }, 400, 'INVALID_PARAMETER_VALUE');
      assert.match(empty.message, /Missing value for required parameter 'name'/);
      const missing = await mlflowError(server, 'POST', 'registered-models/create', {}, 400, 'INVALID_PARAMETER_VALUE');
      assert.match(missing.message, /name/);
      const badTag = await mlflowError(
        server,
        'POST',
        'registered-models/create',
        { name: 'half-made', tags: [{ key: 'ok', value: '1' }, { key: '../evil', value: '2' }] },
        400,
        'INVALID_PARAMETER_VALUE',
      );
      assert.match(badTag.message, /tags\[1\]\.key/);
      const longValue = await mlflowError(
        server,
        'POST',
        'registered-models/create',
        { name: 'half-made', tags: [{ key: 'k', value: 'x'.repeat(5001) }] },
        400,
        'INVALID_PARAMETER_VALUE',
      );
      assert.match(longValue.message, /5000/);
      await mlflowError(server, 'GET', 'registered-models/get?name=half-made', undefined, 404, 'RESOURCE_DOES_NOT_EXIST');
    });

    it('updates the description and the last-updated time; no description clears it', async () => {
      await mlflowOk(server, 'POST', 'registered-models/create', { name: 'upd' });
      clock.advance(5000);
      const updated = await mlflowOk(server, 'PATCH', 'registered-models/update', { name: 'upd', description: 'now described' });
      assert.equal(updated.registered_model.description, 'now described');
      assert.equal(updated.registered_model.last_updated_timestamp, clock.now());
      assert.ok(updated.registered_model.creation_timestamp < clock.now());
      const cleared = await mlflowOk(server, 'PATCH', 'registered-models/update', { name: 'upd' });
      assert.equal(cleared.registered_model.description, undefined);
    });

    it('renames a model keeping its versions, tags and aliases', async () => {
      await mlflowOk(server, 'POST', 'registered-models/create', { name: 'old-name', tags: [{ key: 'k', value: 'v' }] });
      await version('old-name');
      await version('old-name');
      await mlflowOk(server, 'POST', 'registered-models/alias', { name: 'old-name', alias: 'champion', version: '2' });
      await mlflowOk(server, 'POST', 'model-versions/set-tag', { name: 'old-name', version: '1', key: 'vk', value: 'vv' });
      clock.advance(1000);

      const renamed = await mlflowOk(server, 'POST', 'registered-models/rename', { name: 'old-name', new_name: 'new-name' });
      assert.equal(renamed.registered_model.name, 'new-name');
      assert.equal(renamed.registered_model.last_updated_timestamp, clock.now());
      assert.deepEqual(renamed.registered_model.tags, [{ key: 'k', value: 'v' }]);
      assert.deepEqual(renamed.registered_model.aliases, [{ alias: 'champion', version: '2' }]);
      assert.deepEqual(
        renamed.registered_model.latest_versions.map((v: { name: string; version: string }) => [v.name, v.version]),
        [['new-name', '2']],
      );

      await mlflowError(server, 'GET', 'registered-models/get?name=old-name', undefined, 404, 'RESOURCE_DOES_NOT_EXIST');
      const v1 = await mlflowOk(server, 'GET', `model-versions/get?${qs({ name: 'new-name', version: '1' })}`);
      assert.equal(v1.model_version.name, 'new-name');
      assert.deepEqual(v1.model_version.tags, [{ key: 'vk', value: 'vv' }]);
      const byAlias = await mlflowOk(server, 'GET', `registered-models/alias?${qs({ name: 'new-name', alias: 'champion' })}`);
      assert.equal(byAlias.model_version.version, '2');
      // Numbering continues after a rename.
      assert.equal((await version('new-name')).model_version.version, '3');
    });

    it('refuses a rename onto an existing name and changes nothing', async () => {
      await mlflowOk(server, 'POST', 'registered-models/create', { name: 'taken' });
      const error = await mlflowError(server, 'POST', 'registered-models/rename', { name: 'new-name', new_name: 'taken' }, 400, 'RESOURCE_ALREADY_EXISTS');
      assert.equal(error.message, 'Registered Model (name=taken) already exists.');
      await mlflowOk(server, 'GET', 'registered-models/get?name=new-name');
      const noNewName = await mlflowError(server, 'POST', 'registered-models/rename', { name: 'taken', new_name: '' }, 400, 'INVALID_PARAMETER_VALUE');
      assert.match(noNewName.message, /new_name/);
    });

    it('deletes a model with its versions; the name can be used again from version 1', async () => {
      await mlflowOk(server, 'POST', 'registered-models/create', { name: 'doomed', tags: [{ key: 'a', value: 'b' }] });
      await version('doomed');
      await version('doomed');
      await mlflowOk(server, 'POST', 'registered-models/alias', { name: 'doomed', alias: 'prod', version: 1 });
      assert.deepEqual(await mlflowOk(server, 'DELETE', 'registered-models/delete', { name: 'doomed' }), {});
      await mlflowError(server, 'GET', 'registered-models/get?name=doomed', undefined, 404, 'RESOURCE_DOES_NOT_EXIST');
      await mlflowError(server, 'GET', `model-versions/get?${qs({ name: 'doomed', version: 1 })}`, undefined, 404, 'RESOURCE_DOES_NOT_EXIST');
      const left = await mlflowOk(server, 'GET', `model-versions/search?${qs({ filter: "name = 'doomed'" })}`);
      assert.deepEqual(left.model_versions, []);
      await mlflowOk(server, 'POST', 'registered-models/create', { name: 'doomed' });
      assert.equal((await version('doomed')).model_version.version, '1');
      const fresh = await mlflowOk(server, 'GET', 'registered-models/get?name=doomed');
      assert.deepEqual(fresh.registered_model.tags, []);
      assert.deepEqual(fresh.registered_model.aliases, []);
    });

    it('sets, replaces and deletes tags; deleting an absent tag succeeds', async () => {
      await mlflowOk(server, 'POST', 'registered-models/create', { name: 'tagged' });
      await mlflowOk(server, 'POST', 'registered-models/set-tag', { name: 'tagged', key: 'stage.owner', value: 'ana' });
      await mlflowOk(server, 'POST', 'registered-models/set-tag', { name: 'tagged', key: 'stage.owner', value: 'bo' });
      await mlflowOk(server, 'POST', 'registered-models/set-tag', { name: 'tagged', key: 'empty' });
      let got = await mlflowOk(server, 'GET', 'registered-models/get?name=tagged');
      assert.deepEqual(got.registered_model.tags, [
        { key: 'empty', value: '' },
        { key: 'stage.owner', value: 'bo' },
      ]);
      await mlflowOk(server, 'DELETE', 'registered-models/delete-tag', { name: 'tagged', key: 'stage.owner' });
      await mlflowOk(server, 'DELETE', 'registered-models/delete-tag', { name: 'tagged', key: 'never-set' });
      got = await mlflowOk(server, 'GET', 'registered-models/get?name=tagged');
      assert.deepEqual(got.registered_model.tags, [{ key: 'empty', value: '' }]);
      const bad = await mlflowError(server, 'POST', 'registered-models/set-tag', { name: 'tagged', key: 'a\tb', value: 'x' }, 400, 'INVALID_PARAMETER_VALUE');
      assert.match(bad.message, /key/);
      await mlflowError(server, 'POST', 'registered-models/set-tag', { name: 'tagged', value: 'x' }, 400, 'INVALID_PARAMETER_VALUE');
    });

    it('returns the latest version per stage, for all stages or the ones asked', async () => {
      await mlflowOk(server, 'POST', 'registered-models/create', { name: 'staged' });
      for (let i = 0; i < 5; i++) await version('staged');
      await mlflowOk(server, 'POST', 'model-versions/transition-stage', { name: 'staged', version: '1', stage: 'Production', archive_existing_versions: false });
      await mlflowOk(server, 'POST', 'model-versions/transition-stage', { name: 'staged', version: '2', stage: 'production', archive_existing_versions: false });
      await mlflowOk(server, 'POST', 'model-versions/transition-stage', { name: 'staged', version: '3', stage: 'Staging', archive_existing_versions: false });
      const all = await mlflowOk(server, 'GET', 'registered-models/get-latest-versions?name=staged');
      const pairs = (list: { version: string; current_stage: string }[]) => list.map((v) => [v.current_stage, v.version]).sort();
      assert.deepEqual(pairs(all.model_versions), [
        ['None', '5'],
        ['Production', '2'],
        ['Staging', '3'],
      ]);
      const posted = await mlflowOk(server, 'POST', 'registered-models/get-latest-versions', { name: 'staged', stages: ['production', 'Archived'] });
      assert.deepEqual(pairs(posted.model_versions), [['Production', '2']]);
      const queried = await mlflowOk(server, 'GET', `registered-models/get-latest-versions?${qs({ name: 'staged', stages: ['Staging', 'None'] })}`);
      assert.deepEqual(pairs(queried.model_versions), [
        ['None', '5'],
        ['Staging', '3'],
      ]);
      const model = await mlflowOk(server, 'GET', 'registered-models/get?name=staged');
      assert.deepEqual(pairs(model.registered_model.latest_versions), pairs(all.model_versions));
      const bad = await mlflowError(server, 'POST', 'registered-models/get-latest-versions', { name: 'staged', stages: ['Live'] }, 400, 'INVALID_PARAMETER_VALUE');
      assert.match(bad.message, /Invalid Model Version stage: Live/);
    });

    describe('search', () => {
      const names = ['search-alpha', 'search-beta', 'Search-Gamma', 'search-delta'];
      before(async () => {
        for (const [i, name] of names.entries()) {
          clock.advance(1000);
          await mlflowOk(server, 'POST', 'registered-models/create', { name, tags: [{ key: 'tier', value: i % 2 === 0 ? 'gold' : 'silver' }] });
        }
      });
      const search = async (params: Record<string, string | number | string[] | undefined>) =>
        (await mlflowOk(server, 'GET', `registered-models/search?${qs(params)}`)) as { registered_models: { name: string }[]; next_page_token?: string };
      const namesOf = (page: { registered_models: { name: string }[] }) => page.registered_models.map((m) => m.name);

      it('filters on name with =, !=, LIKE and ILIKE', async () => {
        assert.deepEqual(namesOf(await search({ filter: "name = 'search-beta'" })), ['search-beta']);
        assert.deepEqual(namesOf(await search({ filter: "name LIKE 'search-%'" })), ['search-alpha', 'search-beta', 'search-delta']);
        assert.deepEqual(namesOf(await search({ filter: "name ILIKE 'search-%'" })), ['Search-Gamma', 'search-alpha', 'search-beta', 'search-delta']);
        assert.deepEqual(namesOf(await search({ filter: "name LIKE '%a' AND name != 'search-alpha'" })), ['Search-Gamma', 'search-beta', 'search-delta']);
        assert.deepEqual(namesOf(await search({ filter: "name = 'nothing'" })), []);
      });

      it('filters on tags, alone and with name', async () => {
        assert.deepEqual(namesOf(await search({ filter: "tags.tier = 'gold'" })), ['Search-Gamma', 'search-alpha']);
        assert.deepEqual(namesOf(await search({ filter: "tags.tier = 'silver' AND name LIKE '%beta'" })), ['search-beta']);
        assert.deepEqual(namesOf(await search({ filter: "tags.`tier` LIKE 's%' AND tags.tier != 'gold'" })), ['search-beta', 'search-delta']);
        assert.deepEqual(namesOf(await search({ filter: "tags.missing = 'x'" })), []);
      });

      it('orders by name or last update, name breaking ties', async () => {
        const filter = "name ILIKE 'search-%'";
        assert.deepEqual(namesOf(await search({ filter, order_by: 'name DESC' })), ['search-delta', 'search-beta', 'search-alpha', 'Search-Gamma']);
        assert.deepEqual(namesOf(await search({ filter, order_by: 'last_updated_timestamp DESC' })), ['search-delta', 'Search-Gamma', 'search-beta', 'search-alpha']);
        assert.deepEqual(namesOf(await search({ filter, order_by: ['timestamp ASC'] })), ['search-alpha', 'search-beta', 'Search-Gamma', 'search-delta']);
      });

      it('pages with max_results and page_token until every model is seen once', async () => {
        const filter = "name ILIKE 'search-%'";
        const seen: string[] = [];
        let token: string | undefined;
        let pages = 0;
        do {
          const page = await search({ filter, max_results: 3, page_token: token });
          seen.push(...namesOf(page));
          token = page.next_page_token;
          pages++;
        } while (token);
        assert.equal(pages, 2);
        assert.deepEqual(seen, ['Search-Gamma', 'search-alpha', 'search-beta', 'search-delta']);
      });

      it('rejects bad max_results, filters, order_by and page tokens with INVALID_PARAMETER_VALUE', async () => {
        for (const params of [
          { max_results: 1001 },
          { max_results: 0 },
          { max_results: 'ten' },
          { filter: "run_id = 'x'" },
          { filter: "name > 'a'" },
          { filter: "name = 'a' OR name = 'b'" },
          { filter: "tags.x IN ('a')" },
          { order_by: 'creation_timestamp' },
          { order_by: ['name', 'name DESC'] },
          { order_by: 'name SIDEWAYS' },
          { page_token: 'not a token' },
        ]) {
          const error = await mlflowError(server, 'GET', `registered-models/search?${qs(params)}`, undefined, 400, 'INVALID_PARAMETER_VALUE');
          assert.match(error.message, /max_results|filter|order_by|page_token/, JSON.stringify(params));
        }
        const tooMany = await mlflowError(server, 'GET', 'registered-models/search?max_results=1001', undefined, 400, 'INVALID_PARAMETER_VALUE');
        assert.match(tooMany.message, /at most 1000/);
      });

      it('returns 100 models by default, and at most 1000 when asked', async () => {
        const ctx = { actor: { name: 'test' }, project: 'default', requestId: 'bulk' };
        for (let i = 0; i < 101; i += 25) {
          await Promise.all(
            Array.from({ length: Math.min(25, 101 - i) }, (_, j) =>
              server.app.services.registry.createRegisteredModel(ctx, { name: `bulk-${String(i + j).padStart(3, '0')}` }),
            ),
          );
        }
        const first = await search({ filter: "name LIKE 'bulk-%'" });
        assert.equal(first.registered_models.length, 100);
        assert.ok(first.next_page_token);
        const rest = await search({ filter: "name LIKE 'bulk-%'", page_token: first.next_page_token });
        assert.deepEqual(namesOf(rest), ['bulk-100']);
        assert.equal(rest.next_page_token, undefined);
        const big = await search({ filter: "name LIKE 'bulk-%'", max_results: 1000 });
        assert.equal(big.registered_models.length, 101);
      });

      it('sees only the models of the caller’s project', async () => {
        await server.metadata.db.insertInto('projects').values({ name: 'other-team', description: null, created_at: 0 }).execute();
        const headers = { 'content-type': 'application/json', 'x-mloop-project': 'other-team' };
        const created = await server.fetch('/api/2.0/mlflow/registered-models/create', { method: 'POST', headers, body: JSON.stringify({ name: 'search-alpha' }) });
        assert.equal(created.status, 200, 'the same name is free in another project');
        const theirs = await server.fetch(`/api/2.0/mlflow/registered-models/search?${qs({ filter: "name LIKE 'search-%'" })}`, { headers });
        assert.deepEqual(((await theirs.json()) as { registered_models: { name: string }[] }).registered_models.map((m) => m.name), ['search-alpha']);
        const unknown = await server.fetch('/api/2.0/mlflow/registered-models/create', {
          method: 'POST',
          headers: { ...headers, 'x-mloop-project': 'no-such-project' },
          body: JSON.stringify({ name: 'x' }),
        });
        assert.equal(unknown.status, 404);
      });
    });
  });
}
