/**
 * Feature views keep their sources: while a view's current version reads a dataset, deleting the
 * dataset is refused (409 naming the view), and so is deleting the version a view pins. A view of the
 * latest version goes on with the latest left when another version is deleted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { metadataBackends } from './support/backends.ts';
import { uploadDataset } from './support/data.ts';
import { startTestServer } from './support/server.ts';

const FIRST = 'driver_id,event_timestamp,conv_rate\n1,2024-05-01T00:00:00Z,0.5\n';
const SECOND = 'driver_id,event_timestamp,conv_rate\n1,2024-05-01T00:00:00Z,0.5\n1,2024-05-01T01:00:00Z,0.75\n';

const defs = (latestSource: string, pinnedSource: string) => `
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
    source: { dataset: ${pinnedSource}, timestamp: event_timestamp }
    features: [{ name: pinned_rate, type: float, expr: conv_rate }]
`;

for (const backend of metadataBackends()) {
  describe(`feature view sources and deletion (${backend.name})`, { skip: backend.skip }, () => {
    it('refuses to delete a source dataset or a pinned source version while a current view reads it', async () => {
      const server = await startTestServer({ metadata: backend });
      try {
        const first = (await uploadDataset(server, 'src', FIRST)).body.version.version as string;
        const second = (await uploadDataset(server, 'src', SECOND)).body.version.version as string;
        assert.equal((await uploadDataset(server, 'other', FIRST)).status, 201);
        const pinned = `src, version: ${first.slice(0, 12)}, columns: { conv_rate: float }`;
        const applied = await server.json('POST', '/api/v1/features/apply', { yaml: defs('src', pinned) });
        assert.equal(applied.status, 200, JSON.stringify(applied.body));

        const dataset = await server.json('DELETE', '/api/v1/datasets/src');
        assert.equal(dataset.status, 409, JSON.stringify(dataset.body));
        assert.match(dataset.body.detail, /dataset "src" cannot be deleted: 2 dependents use it: /);
        assert.match(dataset.body.detail, /feature_view reads_latest \(its latest version\)/);
        assert.match(dataset.body.detail, new RegExp(`feature_view reads_pinned \\(version ${first.slice(0, 12)}\\)`));

        const version = await server.json('DELETE', `/api/v1/datasets/src/versions/${first}`);
        assert.equal(version.status, 409, JSON.stringify(version.body));
        assert.match(version.body.detail, new RegExp(`dataset "src" version ${first.slice(0, 12)} cannot be deleted: 1 dependent uses it: feature_view reads_pinned$`));

        // A version no view pins may go: the view of the latest reads the one left.
        assert.equal((await server.json('DELETE', `/api/v1/datasets/src/versions/${second}`)).status, 200);
        const materialized = await server.json('POST', '/api/v1/features/materialize', { end: '2024-05-02T00:00:00Z' });
        assert.equal(materialized.status, 200, JSON.stringify(materialized.body));
        assert.deepEqual(
          materialized.body.views.map((v: any) => [v.view, v.dataset.name, v.dataset.version, v.written]),
          [
            ['reads_latest', 'src', first, 1],
            ['reads_pinned', 'src', first, 1],
          ],
        );

        // Once the current views read another dataset, their old versions keep nothing.
        assert.equal((await server.json('POST', '/api/v1/features/apply', { yaml: defs('other', 'other, columns: { conv_rate: float }') })).status, 200);
        const freed = await server.json('DELETE', '/api/v1/datasets/src');
        assert.equal(freed.status, 200, JSON.stringify(freed.body));
        assert.equal(freed.body.deleted_versions, 1);
      } finally {
        await server.close();
      }
    });
  });
}
