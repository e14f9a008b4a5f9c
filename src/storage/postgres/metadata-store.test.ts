/** PostgreSQL-only behaviour of the metadata store, beyond the shared contract. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { createPostgresDatabase } from '../../../test/support/backends.ts';
import { PostgresMetadataStore } from './metadata-store.ts';

const adminUrl = process.env.MLOOP_TEST_POSTGRES_URL;

describe('PostgresMetadataStore', { skip: adminUrl ? undefined : 'MLOOP_TEST_POSTGRES_URL is not set' }, () => {
  it('survives the server ending its idle connections, and reconnects', async () => {
    const database = await createPostgresDatabase(adminUrl!);
    const errors: Error[] = [];
    const store = new PostgresMetadataStore({ url: database.url, maxConnections: 4, onIdleError: (e) => errors.push(e) });
    try {
      await store.migrate();
      // Fill the pool with idle connections.
      await Promise.all(Array.from({ length: 4 }, () => store.ping()));
      const admin = new pg.Client({ connectionString: database.url });
      await admin.connect();
      try {
        await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()');
      } finally {
        await admin.end();
      }
      let recovered = false;
      for (let attempt = 0; attempt < 40 && !recovered; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        recovered = await store.ping().then(
          () => errors.length > 0,
          () => false,
        );
      }
      assert.ok(recovered, 'ping succeeds again after the connections were ended');
      assert.ok(errors.length > 0, 'the idle-connection errors were reported, not thrown');
    } finally {
      await store.close();
      await database.drop();
    }
  });
});
