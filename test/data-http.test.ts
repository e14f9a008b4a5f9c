/**
 * Datasets over HTTP on every backend: upload, content addressing (same data, same version, nothing
 * new stored), list, get, download (Parquet and CSV), declared schemas, dependents and deletion.
 * Metadata runs on SQLite and PostgreSQL, blobs on a local folder and S3.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { contentKey } from '../src/storage/content.ts';
import { blobBackends, metadataBackends } from './support/backends.ts';
import { contentBlobs, uploadDataset } from './support/data.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const RIDES = [
  'ride_id,fare,zone,pickup_at,shared',
  '1,12.5,A1,2024-03-01T08:00:00Z,true',
  '2,7.25,B2,2024-03-01T08:05:00Z,false',
  '3,,A1,2024-03-01T08:07:30Z,',
  '4,30,C3,2024-03-01T09:00:00Z,false',
].join('\n');

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

const [sqlite, postgres] = metadataBackends();
const [local, s3] = blobBackends();
const matrix = [
  { name: 'sqlite + local', metadata: sqlite, blobs: local },
  { name: 'postgres + local', metadata: postgres, blobs: local, skip: postgres.skip },
  { name: 'sqlite + s3', metadata: sqlite, blobs: s3, skip: s3.skip },
];

for (const backend of matrix) {
  describe(`datasets over HTTP: ${backend.name}`, { skip: backend.skip }, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ metadata: backend.metadata, blobs: backend.blobs });
    });
    after(() => server?.close());

    it('stores an upload once, named by the sha256 of its canonical Parquet', async () => {
      const first = await uploadDataset(server, 'rides', RIDES, { query: { source: 'rides.csv', description: 'first day' } });
      assert.equal(first.status, 201, JSON.stringify(first.body));
      assert.equal(first.body.created, true);
      const v = first.body.version;
      assert.match(v.version, /^[0-9a-f]{64}$/);
      assert.equal(v.row_count, 4);
      assert.deepEqual(
        v.schema.columns.map((c: any) => [c.name, c.type, c.nullable]),
        [
          ['ride_id', 'integer', false],
          ['fare', 'float', true],
          ['zone', 'string', false],
          ['pickup_at', 'timestamp', false],
          ['shared', 'boolean', true],
        ],
      );
      assert.deepEqual(v.source.name, 'rides.csv');
      assert.equal(v.source.sha256, sha256(Buffer.from(RIDES)));
      assert.ok(await server.blobs.stat(contentKey(v.version)));

      const stored = await contentBlobs(server.blobs);
      const again = await uploadDataset(server, 'rides', RIDES);
      assert.equal(again.status, 200);
      assert.equal(again.body.created, false);
      assert.equal(again.body.version.version, v.version);
      assert.deepEqual(await contentBlobs(server.blobs), stored, 'nothing new is stored');

      const parquet = await server.fetch(`/api/v1/datasets/rides/versions/${v.version}/content`);
      assert.equal(parquet.status, 200);
      assert.equal(parquet.headers.get('content-type'), 'application/vnd.apache.parquet');
      assert.match(parquet.headers.get('content-disposition') ?? '', /rides-[0-9a-f]{12}\.parquet/);
      assert.equal(sha256(new Uint8Array(await parquet.arrayBuffer())), v.version, 'the version id is the sha256 of the file');
    });

    it('lists datasets and versions and gets one by sha256, prefix or latest', async () => {
      const list = await server.json('GET', '/api/v1/datasets');
      assert.equal(list.status, 200);
      const rides = list.body.datasets.find((d: any) => d.name === 'rides');
      assert.equal(rides.version_count, 1);
      const versions = await server.json('GET', '/api/v1/datasets/rides/versions');
      assert.equal(versions.body.versions.length, 1);
      const id: string = versions.body.versions[0].version;
      assert.equal(versions.body.versions[0].profile, undefined, 'listings leave profiles out');
      for (const selector of [id, id.slice(0, 10), 'latest']) {
        const got = await server.json('GET', `/api/v1/datasets/rides/versions/${selector}`);
        assert.equal(got.status, 200, selector);
        assert.equal(got.body.version, id);
        assert.equal(got.body.profile.row_count, 4);
        assert.equal(got.body.description, 'first day');
      }
      const lean = await server.json('GET', `/api/v1/datasets/rides/versions/latest?profile=false`);
      assert.equal(lean.body.profile, undefined);
      const profile = await server.json('GET', `/api/v1/datasets/rides/versions/latest/profile`);
      assert.equal(profile.body.columns.find((c: any) => c.name === 'fare').nulls, 1);
    });

    it('exports CSV that ingests back to the same version', async () => {
      const csv = await server.fetch('/api/v1/datasets/rides/versions/latest/content?format=csv');
      assert.equal(csv.status, 200);
      assert.equal(csv.headers.get('content-type'), 'text/csv; charset=utf-8');
      const text = await csv.text();
      assert.match(text, /^ride_id,fare,zone,pickup_at,shared\n1,12.5,A1,2024-03-01 08:00:00\+00,true\n/);
      const original = (await server.json('GET', '/api/v1/datasets/rides/versions/latest?profile=false')).body.version;
      const copy = await uploadDataset(server, 'rides-copy', text);
      assert.equal(copy.status, 201);
      assert.equal(copy.body.version.version, original, 'same logical data, same version, even under another name');
    });

    it('applies a declared schema: types, nullability and tags (and they are part of the version)', async () => {
      const schema = { columns: [{ name: 'ride_id', type: 'string', tags: ['entity'] }, { name: 'fare', type: 'float', tags: ['label'] }] };
      const put = await server.json('PUT', '/api/v1/datasets/rides-typed/schema', schema);
      assert.equal(put.status, 200, JSON.stringify(put.body));
      const added = await uploadDataset(server, 'rides-typed', RIDES);
      assert.equal(added.status, 201, JSON.stringify(added.body));
      const columns = added.body.version.schema.columns;
      assert.deepEqual(columns[0], { name: 'ride_id', type: 'string', nullable: false, tags: ['entity'] });
      assert.deepEqual(columns[1].tags, ['label']);
      const plain = (await server.json('GET', '/api/v1/datasets/rides/versions/latest?profile=false')).body.version;
      assert.notEqual(added.body.version.version, plain);
      // A schema given with the upload wins over the stored one.
      const inline = await uploadDataset(server, 'rides-typed', RIDES, { query: { schema: JSON.stringify({ columns: [{ name: 'zone', tags: ['pii'] }] }) } });
      assert.equal(inline.status, 201);
      assert.deepEqual(inline.body.version.schema.columns[0], { name: 'ride_id', type: 'integer', nullable: false, tags: [] });
      assert.deepEqual(inline.body.version.schema.columns[2].tags, ['pii']);
      assert.equal((await server.json('GET', '/api/v1/datasets/rides-typed/schema')).body.schema.columns.length, 2);
    });

    it('refuses to delete a version something depends on (409), then deletes it and its file', async () => {
      const id: string = (await server.json('GET', '/api/v1/datasets/rides/versions/latest?profile=false')).body.version;
      const dep = await server.json('POST', `/api/v1/datasets/rides/versions/${id}/dependents`, { kind: 'model_version', id: 'churn/3' });
      assert.equal(dep.status, 201);
      const refused = await server.json('DELETE', `/api/v1/datasets/rides/versions/${id}`);
      assert.equal(refused.status, 409);
      assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.match(refused.body.detail, /model_version churn\/3/);
      const refusedAll = await server.json('DELETE', '/api/v1/datasets/rides');
      assert.equal(refusedAll.status, 409);
      const listed = await server.json('GET', `/api/v1/datasets/rides/versions/${id}/dependents`);
      assert.deepEqual(listed.body.dependents.map((d: any) => [d.kind, d.id]), [['model_version', 'churn/3']]);

      const removed = await server.json('DELETE', `/api/v1/datasets/rides/versions/${id}/dependents`, { kind: 'model_version', id: 'churn/3' });
      assert.equal(removed.status, 200);
      const deleted = await server.json('DELETE', `/api/v1/datasets/rides/versions/${id}`);
      assert.equal(deleted.status, 200);
      assert.equal((await server.json('GET', `/api/v1/datasets/rides/versions/${id}`)).status, 404);
      assert.ok(await server.blobs.stat(contentKey(id)), 'rides-copy still holds the same content');
      assert.equal((await server.json('DELETE', '/api/v1/datasets/rides-copy')).body.deleted_versions, 1);
      assert.equal(await server.blobs.stat(contentKey(id)), undefined, 'the file goes with the last version that holds it');
      assert.equal((await server.json('GET', '/api/v1/datasets/rides-copy')).status, 404);
    });

    it('fetches versions back from the blob store when the local copy is gone', async () => {
      const added = await uploadDataset(server, 'refetch', RIDES.replace('12.5', '13.5'));
      const id: string = added.body.version.version;
      await rm(await server.app.services.datasets.cacheDir(), { recursive: true, force: true });
      const table = await server.app.services.datasets.readTable({ actor: { name: 't' }, project: 'default', requestId: 't' }, 'refetch', id);
      assert.equal(table.rows, 4);
      assert.equal((table.columns[1].values as Float64Array)[0], 13.5);
    });

    it('answers 404 for unknown datasets, versions and projects, 400 for bad names', async () => {
      assert.equal((await server.json('GET', '/api/v1/datasets/nope')).status, 404);
      assert.equal((await server.json('GET', '/api/v1/datasets/refetch/versions/abcdef123')).status, 404);
      assert.equal((await server.json('GET', '/api/v1/datasets/refetch/versions/xyz')).status, 400);
      assert.equal((await server.json('GET', '/api/v1/datasets/.hidden')).status, 400);
      const other = await uploadDataset(server, 'rides', RIDES, { project: 'nope' });
      assert.equal(other.status, 404);
      assert.match(other.body.detail, /project "nope" does not exist/);
    });
  });
}
