/**
 * Dependents and deletion: a derived version holds its parents until it is deleted — alone or with
 * its dataset — and then releases them in the same transaction; versions appended to their own
 * dataset go with it. The dependents listed of a version or a dataset are the ones its deletion is
 * refused for, feature views that read it included.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemContext } from '../src/core/context.ts';
import { quoteLiteral } from '../src/storage/duckdb/sql.ts';
import { metadataBackends } from './support/backends.ts';
import { contentBlobs, uploadDataset } from './support/data.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const ROWS = 'driver_id,event_timestamp,conv_rate\n1,2024-05-01T00:00:00Z,0.5\n2,2024-05-01T00:00:00Z,0.25\n';
const MORE = `${ROWS}1,2024-05-01T01:00:00Z,0.75\n`;
const ENTITIES = 'driver_id,event_timestamp\n1,2024-05-01T02:00:00Z\n2,2024-05-01T02:00:00Z\n';

const VIEWS = (latestSource: string, pinnedSource: string) => `
entities:
  - name: driver
    join_keys: [{ name: driver_id, type: int }]
feature_views:
  - name: reads_latest
    entities: [driver]
    source: { dataset: ${latestSource}, timestamp: event_timestamp }
    features: [{ name: conv_rate, type: float }]
  - name: reads_pinned
    entities: [driver]
    source: { dataset: ${pinnedSource}, timestamp: event_timestamp, columns: { conv_rate: float } }
    features: [{ name: pinned_rate, type: float, expr: conv_rate }]
`;

const ctx = systemContext('dependents-test');

/** Derives a version of `name` from `parent` (a version of `parentName`) through the data service. */
async function derive(server: TestServer, name: string, parentName: string, parent: string, where: string): Promise<string> {
  const datasets = server.app.services.datasets;
  const { path } = await datasets.localParquetPath(ctx, parentName, parent);
  const derived = await datasets.createDerived(ctx, {
    name,
    parents: [{ name: parentName, version: parent }],
    transformation: { kind: 'sql', params: { where } },
    source: { sql: `SELECT * FROM read_parquet(${quoteLiteral(path)}) WHERE ${where}` },
  });
  assert.equal(derived.created, true);
  return derived.version.version;
}

const listed = (body: any) => body.dependents.map((d: any) => `${d.kind} ${d.id} ${d.version}`);

for (const backend of metadataBackends()) {
  describe(`dependents and deletion (${backend.name})`, { skip: backend.skip }, () => {
    it('a derived dataset releases its parents when it is deleted, and a derived version when it is', async () => {
      const server = await startTestServer({ metadata: backend });
      try {
        const a = (await uploadDataset(server, 'a', ROWS)).body.version.version as string;
        const b1 = await derive(server, 'b', 'a', a, 'driver_id = 1');
        const b2 = await derive(server, 'b', 'a', a, 'driver_id = 2');
        const c = await derive(server, 'c', 'a', a, 'conv_rate > 0.3');
        assert.deepEqual(
          listed((await server.json('GET', '/api/v1/datasets/a/dependents')).body).sort(),
          [`dataset_version default/b@${b1} ${a}`, `dataset_version default/b@${b2} ${a}`, `dataset_version default/c@${c} ${a}`].sort(),
        );

        const refused = await server.json('DELETE', '/api/v1/datasets/a');
        assert.equal(refused.status, 409, JSON.stringify(refused.body));
        assert.match(refused.body.detail, /dataset "a" cannot be deleted: 3 dependents use it: /);

        // One version of b goes: only it lets go of a.
        assert.equal((await server.json('DELETE', `/api/v1/datasets/b/versions/${b1}`)).status, 200);
        assert.deepEqual(
          listed((await server.json('GET', `/api/v1/datasets/a/versions/${a}/dependents`)).body).sort(),
          [`dataset_version default/b@${b2} ${a}`, `dataset_version default/c@${c} ${a}`].sort(),
        );
        // Then the whole of b, and of c.
        assert.equal((await server.json('DELETE', '/api/v1/datasets/b')).status, 200);
        assert.equal((await server.json('DELETE', '/api/v1/datasets/a')).status, 409);
        const deleted = await server.json('DELETE', '/api/v1/datasets/c');
        assert.deepEqual([deleted.status, deleted.body], [200, { deleted_versions: 1, versions: [c] }]);
        assert.deepEqual((await server.json('GET', '/api/v1/datasets/a/dependents')).body.dependents, []);

        const freed = await server.json('DELETE', '/api/v1/datasets/a');
        assert.deepEqual([freed.status, freed.body], [200, { deleted_versions: 1, versions: [a] }]);
        assert.equal((await server.json('GET', '/api/v1/datasets/a')).status, 404);
      } finally {
        await server.close();
      }
    });

    it('a training set retrieved from an entity dataset holds it until the training set is deleted', async () => {
      const server = await startTestServer({ metadata: backend });
      try {
        assert.equal((await uploadDataset(server, 'src', MORE)).status, 201);
        const entities = (await uploadDataset(server, 'ents', ENTITIES)).body.version.version as string;
        assert.equal((await server.json('POST', '/api/v1/features/apply', { yaml: VIEWS('src', 'src') })).status, 200);
        const retrieved = await server.json('POST', '/api/v1/features/retrieve', { features: ['reads_latest:conv_rate'], entity_dataset: 'ents', save_as: 'training' });
        assert.equal(retrieved.status, 200, JSON.stringify(retrieved.body));
        const training = retrieved.body.dataset.version as string;

        const refused = await server.json('DELETE', '/api/v1/datasets/ents');
        assert.equal(refused.status, 409, JSON.stringify(refused.body));
        assert.match(refused.body.detail, new RegExp(`dataset_version default/training@${training} \\(version ${entities.slice(0, 12)}\\)`));

        assert.equal((await server.json('DELETE', '/api/v1/datasets/training')).status, 200);
        assert.deepEqual((await server.json('GET', '/api/v1/datasets/ents/dependents')).body.dependents, []);
        // The source is still read by the views; the entity rows are free.
        assert.equal((await server.json('DELETE', '/api/v1/datasets/src')).status, 409);
        assert.equal((await server.json('DELETE', '/api/v1/datasets/ents')).status, 200);
      } finally {
        await server.close();
      }
    });

    it('versions appended to their own dataset go with it; alone, the one appended to stays held', async () => {
      const server = await startTestServer({ metadata: backend });
      try {
        assert.equal((await uploadDataset(server, 'other', ROWS)).status, 201);
        assert.equal((await server.json('POST', '/api/v1/features/apply', { yaml: VIEWS('src', 'other') })).status, 200);
        assert.equal((await uploadDataset(server, 'src', ROWS)).status, 201);
        const rows = [{ driver_id: 3, event_timestamp: '2024-05-01T03:00:00Z', conv_rate: 0.125 }];
        const first = await server.json('POST', '/api/v1/features/push', { feature_view: 'reads_latest', to: 'offline', rows });
        assert.equal(first.status, 200, JSON.stringify(first.body));
        const second = await server.json('POST', '/api/v1/features/push', { feature_view: 'reads_latest', to: 'offline', rows: [{ ...rows[0], driver_id: 4 }] });
        assert.equal(second.status, 200, JSON.stringify(second.body));
        const versions = (await server.json('GET', '/api/v1/datasets/src/versions')).body.versions.map((v: any) => v.version as string);
        assert.equal(versions.length, 3);
        assert.deepEqual(versions.slice(0, 2), [second.body.dataset.version, first.body.dataset.version]);

        // Not while the view reads it; then the first version alone is held by the one appended to it.
        const read = await server.json('DELETE', '/api/v1/datasets/src');
        assert.equal(read.status, 409);
        assert.match(read.body.detail, /dataset "src" cannot be deleted: 1 dependent uses it: feature_view reads_latest \(its latest version\)$/);
        assert.equal((await server.json('POST', '/api/v1/features/apply', { yaml: VIEWS('other', 'other') })).status, 200);
        const held = await server.json('DELETE', `/api/v1/datasets/src/versions/${versions[2]}`);
        assert.equal(held.status, 409);
        assert.match(held.body.detail, new RegExp(`dataset_version default/src@${versions[1]}$`));
        assert.deepEqual(listed((await server.json('GET', `/api/v1/datasets/src/versions/${versions[2]}/dependents`)).body), [`dataset_version default/src@${versions[1]} ${versions[2]}`]);
        // Of the dataset, nothing: what its versions record on each other goes with them.
        assert.deepEqual((await server.json('GET', '/api/v1/datasets/src/dependents')).body.dependents, []);

        const deleted = await server.json('DELETE', '/api/v1/datasets/src');
        assert.deepEqual([deleted.status, deleted.body], [200, { deleted_versions: 3, versions }]);
        // Gone whole: a new dataset of the same name starts with nothing held.
        const again = (await uploadDataset(server, 'src', ROWS)).body.version.version as string;
        assert.equal(again, versions[2]);
        assert.deepEqual((await server.json('GET', '/api/v1/datasets/src/dependents')).body.dependents, []);
      } finally {
        await server.close();
      }
    });

    it('lists the feature views that keep a dataset or version, as its deletion names them', async () => {
      const server = await startTestServer({ metadata: backend });
      try {
        const first = (await uploadDataset(server, 'src', ROWS)).body.version.version as string;
        const second = (await uploadDataset(server, 'src', MORE)).body.version.version as string;
        const applied = await server.json('POST', '/api/v1/features/apply', { yaml: VIEWS('src', `src, version: ${first.slice(0, 12)}`) });
        assert.equal(applied.status, 200, JSON.stringify(applied.body));
        const derived = await derive(server, 'derived', 'src', second, 'driver_id = 1');
        const view = (await server.json('GET', '/api/v1/features/definitions/feature_view/reads_pinned')).body;

        const ofFirst = (await server.json('GET', `/api/v1/datasets/src/versions/${first.slice(0, 8)}/dependents`)).body.dependents;
        assert.deepEqual(ofFirst, [{ dataset: 'src', version: first, kind: 'feature_view', id: 'reads_pinned', created_at: view.created_at, created_by: ofFirst[0].created_by }]);
        assert.equal(typeof ofFirst[0].created_by, 'string');
        const refusedFirst = await server.json('DELETE', `/api/v1/datasets/src/versions/${first}`);
        assert.equal(refusedFirst.status, 409);
        assert.match(refusedFirst.body.detail, /1 dependent uses it: feature_view reads_pinned$/);

        // The latest is read by reads_latest, which keeps the dataset, not the version: only the derived one is listed.
        assert.deepEqual(listed((await server.json('GET', `/api/v1/datasets/src/versions/latest/dependents`)).body), [`dataset_version default/derived@${derived} ${second}`]);
        assert.deepEqual(listed((await server.json('GET', '/api/v1/datasets/src/dependents')).body), [
          `dataset_version default/derived@${derived} ${second}`,
          'feature_view reads_latest latest',
          `feature_view reads_pinned ${first}`,
        ]);
        const refused = await server.json('DELETE', '/api/v1/datasets/src');
        assert.equal(refused.status, 409);
        assert.match(refused.body.detail, /3 dependents use it: dataset_version default\/derived@\w+ \(version \w+\), feature_view reads_latest \(its latest version\), feature_view reads_pinned \(version \w+\)$/);

        // Once the views read another dataset, the listings and the deletions agree again.
        assert.equal((await uploadDataset(server, 'other', ROWS)).status, 201);
        assert.equal((await server.json('POST', '/api/v1/features/apply', { yaml: VIEWS('other', 'other') })).status, 200);
        assert.deepEqual((await server.json('GET', `/api/v1/datasets/src/versions/${first}/dependents`)).body.dependents, []);
        assert.equal((await server.json('DELETE', `/api/v1/datasets/src/versions/${first}`)).status, 200);
        assert.deepEqual(listed((await server.json('GET', '/api/v1/datasets/src/dependents')).body), [`dataset_version default/derived@${derived} ${second}`]);
      } finally {
        await server.close();
      }
    });

    // SQLite runs one transaction at a time, so only the PostgreSQL run can interleave the two.
    it('a commit racing a deletion of its dataset or of what it derives from: one waits for the other, nothing lost, no 5xx', async () => {
      const server = await startTestServer({ metadata: backend });
      const datasets = server.app.services.datasets;
      const outcomes = new Map<string, number>();
      try {
        // A push's append (ifLatest) vs the deletion of its dataset; a derivation vs the deletion of
        // the version it derives from; a derivation into another dataset vs the deletion of its parent's.
        const races = [
          { child: 'd', ifLatest: true, deleting: () => '/api/v1/datasets/d' },
          { child: 'd', ifLatest: false, deleting: (base: string) => `/api/v1/datasets/d/versions/${base}` },
          { child: 'e', ifLatest: false, deleting: () => '/api/v1/datasets/d' },
        ];
        for (let round = 0; round < 90; round++) {
          const race = races[round % races.length];
          const base = (await uploadDataset(server, 'd', `a,b\n${round},1\n`)).body.version.version as string;
          const [derived, deletion] = await Promise.all([
            datasets
              .createDerived(ctx, {
                name: race.child,
                parents: [{ name: 'd', version: base }],
                transformation: { kind: 'sql', params: {} },
                source: { sql: `SELECT ${round} AS a, 2 AS b` },
                ...(race.ifLatest ? { ifLatest: base } : {}),
              })
              .then(
                (added) => ({ version: added.version.version, status: added.created ? 201 : 200 }),
                (error: any) => ({ version: undefined, status: Number(error.status ?? 500), detail: String(error.message) }),
              ),
            // Spread over the commit's course: before it starts, while it converts, while it commits.
            new Promise((resolve) => setTimeout(resolve, (Math.floor(round / races.length) % 15) * 4)).then(() => server.json('DELETE', race.deleting(base))),
          ]);
          const key = `${race.deleting('<v>')} ${deletion.status} / commit ${derived.status}`;
          outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
          assert.ok(deletion.status < 500, `${key}: ${JSON.stringify(deletion.body)}`);
          assert.ok([200, 201, 404, 409].includes(derived.status), `${key}: ${JSON.stringify(derived)}`);
          if (derived.version !== undefined) {
            // Acknowledged: still there, or deleted by a deletion that said so.
            const there = (await server.json('GET', `/api/v1/datasets/${race.child}/versions/${derived.version}`)).status === 200;
            assert.ok(there || (deletion.status === 200 && deletion.body.versions?.includes(derived.version)), `${key}: version ${derived.version} lost`);
          }
          for (const name of new Set([race.child, 'd'])) {
            const cleared = await server.json('DELETE', `/api/v1/datasets/${name}`);
            assert.ok([200, 404].includes(cleared.status), JSON.stringify(cleared.body));
          }
        }
        // Every file went with the versions that held it.
        assert.deepEqual(await contentBlobs(server.blobs), [], JSON.stringify(Object.fromEntries(outcomes)));
      } finally {
        await server.close();
      }
    });
  });
}
