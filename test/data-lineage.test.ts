/**
 * What other modules use: derived versions with parents and transformation (and the dependencies
 * that keep parents alive), diffs of two versions, tables for the trainers and local Parquet paths for
 * the feature store.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { systemContext } from '../src/core/context.ts';
import type { DatasetService } from '../src/data/service.ts';
import { quoteLiteral } from '../src/storage/duckdb/sql.ts';
import { tempDir } from './support/backends.ts';
import { contentBlobs, filesIn, uploadDataset } from './support/data.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const V1 = [
  'ride_id,fare,zone,pickup_at,shared,driver',
  '1,12.5,A1,2024-03-01T08:00:00Z,true,d1',
  '2,7.25,B2,2024-03-01T08:05:00Z,false,d2',
  '3,,A1,2024-03-01T08:07:30Z,,d1',
  '4,30,C3,2024-03-01T09:00:00Z,false,',
  '5,22,A1,2024-03-01T09:30:00Z,true,d3',
].join('\n');

const V2 = [
  'ride_id,fare,zone,pickup_at,shared,tip',
  '1,42.5,C3,2024-03-02T08:00:00Z,true,1',
  '2,37.25,C3,2024-03-02T08:05:00Z,false,0',
  '3,45,C3,2024-03-02T08:07:30Z,false,2',
].join('\n');

describe('lineage, diff and access for other modules', () => {
  let server: TestServer;
  let datasets: DatasetService;
  let v1: string;
  const ctx = systemContext('lineage-test');
  before(async () => {
    server = await startTestServer();
    datasets = server.app.services.datasets;
    v1 = (await uploadDataset(server, 'rides', V1)).body.version.version;
  });
  after(() => server?.close());

  it('records parents and transformation of a derived version, and protects its parents', async () => {
    const parent = await datasets.localParquetPath(ctx, 'rides', v1);
    assert.equal(parent.version, v1);
    const sql = `SELECT ride_id, fare FROM read_parquet(${quoteLiteral(parent.path)}) WHERE fare > 10`;
    const derived = await datasets.createDerived(ctx, {
      name: 'expensive',
      parents: [{ name: 'rides', version: v1.slice(0, 8) }],
      transformation: { kind: 'sql', description: 'rides over 10', params: { sql: 'fare > 10' } },
      source: { sql },
    });
    assert.equal(derived.created, true);
    assert.equal(derived.version.row_count, 3);
    assert.deepEqual(derived.version.lineage.parents, [{ name: 'rides', version: v1 }]);
    assert.equal(derived.version.source.format, 'derived');

    const got = await server.json('GET', `/api/v1/datasets/expensive/versions/latest?profile=false`);
    assert.deepEqual(got.body.lineage, { parents: [{ name: 'rides', version: v1 }], transformation: { kind: 'sql', description: 'rides over 10', params: { sql: 'fare > 10' } } });

    const again = await datasets.createDerived(ctx, { name: 'expensive', parents: [{ name: 'rides', version: v1 }], transformation: { kind: 'sql' }, source: { sql } });
    assert.equal(again.created, false, 'the same derived data is the same version');

    const refused = await server.json('DELETE', `/api/v1/datasets/rides/versions/${v1}`);
    assert.equal(refused.status, 409);
    assert.match(refused.body.detail, new RegExp(`dataset_version default/expensive@${derived.version.version}`));
    assert.equal((await server.json('DELETE', `/api/v1/datasets/expensive/versions/${derived.version.version}`)).status, 200);
    assert.deepEqual((await server.json('GET', `/api/v1/datasets/rides/versions/${v1}/dependents`)).body.dependents, []);
  });

  it('derives from a local Parquet file too, and checks parents and transformation', async () => {
    const dir = await tempDir();
    try {
      const path = join(dir.path, 'split.parquet');
      const parent = await datasets.localParquetPath(ctx, 'rides', 'latest');
      const duck = await datasets.duck();
      await duck.withConnection((c) => c.copyToParquet(`SELECT * FROM read_parquet(${quoteLiteral(parent.path)}) WHERE ride_id % 2 = 1`, path));
      const split = await datasets.createDerived(ctx, { name: 'rides-odd', parents: [{ name: 'rides', version: 'latest' }], transformation: { kind: 'split' }, source: { parquetPath: path } });
      assert.equal(split.version.row_count, 3);
      await assert.rejects(
        datasets.createDerived(ctx, { name: 'x', parents: [{ name: 'nope', version: 'latest' }], transformation: { kind: 'split' }, source: { parquetPath: path } }),
        (e: any) => e.code === 'RESOURCE_DOES_NOT_EXIST',
      );
      await assert.rejects(
        datasets.createDerived(ctx, { name: 'x', parents: [], transformation: { kind: 'Bad Kind' }, source: { parquetPath: path } }),
        (e: any) => e.code === 'INVALID_PARAMETER_VALUE' && /transformation\.kind/.test(e.message),
      );
    } finally {
      await dir.cleanup();
    }
  });

  it('writes a query on the caller\'s connection straight into canonical form: the bytes canonicalize makes of the same rows', async () => {
    const parent = await datasets.localParquetPath(ctx, 'rides', v1);
    // A query only the caller's connection can run (a temporary table), in an order of its own.
    const schema = {
      columns: [
        { name: 'zone', nullable: false, tags: ['entity'] },
        { name: 'fare_x2', nullable: true, description: 'twice the fare' },
        { name: 'pickup_at', nullable: false, tags: ['timestamp'] },
        { name: 'shared', nullable: true },
      ],
    };
    const duck = await datasets.duck();
    const once = await duck.withConnection(async (connection) => {
      await connection.run(`CREATE TEMP TABLE t AS SELECT ride_id, zone, fare * 2 AS fare_x2, CAST(pickup_at AS TIMESTAMP) AS pickup_at, shared FROM read_parquet(${quoteLiteral(parent.path)})`);
      try {
        return await datasets.createDerived(ctx, {
          name: 'rides-x2',
          parents: [{ name: 'rides', version: v1 }],
          transformation: { kind: 'sql' },
          source: { query: { connection, sql: 'SELECT * FROM t ORDER BY ride_id DESC', order: 'ride_id' } },
          schema,
        });
      } finally {
        await connection.run('DROP TABLE t');
      }
    });
    assert.equal(once.created, true);
    assert.equal(once.version.row_count, 5);
    assert.deepEqual(
      once.version.schema.columns.map((c) => [c.name, c.type, c.nullable, c.tags]),
      [['zone', 'string', false, ['entity']], ['fare_x2', 'float', true, []], ['pickup_at', 'timestamp', false, ['timestamp']], ['shared', 'boolean', true, []]],
    );
    // The long way: the same rows written as plain Parquet, then canonicalized with that schema.
    const dir = await tempDir();
    try {
      const plain = join(dir.path, 'plain.parquet');
      await duck.withConnection((c) =>
        c.copyToParquet(`SELECT zone, fare * 2 AS fare_x2, pickup_at, shared FROM read_parquet(${quoteLiteral(parent.path)}) ORDER BY ride_id`, plain, { compression: 'snappy' }),
      );
      const twice = await datasets.createDerived(ctx, { name: 'rides-x2', parents: [], transformation: { kind: 'sql' }, source: { parquetPath: plain }, schema: once.version.schema });
      assert.equal(twice.version.version, once.version.version);
      assert.equal(twice.created, false);
    } finally {
      await dir.cleanup();
    }
    // Its profile was deferred; readers get it all the same.
    const profile = await datasets.getProfile(ctx, 'rides-x2', once.version.version);
    assert.equal(profile.row_count, 5);
    assert.equal(profile.columns.find((c) => c.name === 'fare_x2')!.max, 60);
    const got = await server.json('GET', `/api/v1/datasets/rides-x2/versions/${once.version.version}`);
    assert.deepEqual(got.body.profile, profile);
  });

  it('refuses a one-pass write whose schema misstates the query, and keeps nothing', async () => {
    const parent = await datasets.localParquetPath(ctx, 'rides', v1);
    const blobs = await contentBlobs(server.blobs);
    const from = `SELECT ride_id, fare, driver FROM read_parquet(${quoteLiteral(parent.path)})`;
    const attempt = (schema: unknown) =>
      datasets.duck().then((duck) =>
        duck.withConnection((connection) =>
          datasets.createDerived(ctx, { name: 'misstated', parents: [], transformation: { kind: 'sql' }, source: { query: { connection, sql: from, order: 'ride_id' } }, schema }),
        ),
      );
    await assert.rejects(attempt({ columns: [{ name: 'fare', nullable: false }, { name: 'driver', nullable: true }] }), (e: any) => e.code === 'INVALID_PARAMETER_VALUE' && /column "fare" is declared not nullable, but 1 value is missing/.test(e.message));
    await assert.rejects(attempt({ columns: [{ name: 'fare', nullable: true }] }), (e: any) => e.code === 'INVALID_PARAMETER_VALUE' && /column "driver" needs a declared nullability/.test(e.message));
    await assert.rejects(attempt({ columns: [{ name: 'fare', nullable: true, type: 'integer' }, { name: 'driver', nullable: true }] }), (e: any) => e.code === 'INVALID_PARAMETER_VALUE' && /declared integer/.test(e.message));
    await assert.rejects(attempt({ columns: [{ name: 'fare', nullable: true }, { name: 'driver', nullable: true }, { name: 'ghost', nullable: true }] }), (e: any) => /"ghost" not in the query/.test(e.message));
    assert.deepEqual(await contentBlobs(server.blobs), blobs);
    assert.deepEqual(await filesIn(await datasets.workDir()), []);
    assert.equal((await server.json('GET', '/api/v1/datasets/misstated')).status, 404);
  });

  it('diffs two versions: schema, row count and per-column distances', async () => {
    const v2 = (await uploadDataset(server, 'rides', V2)).body.version.version;
    const same = await server.json('GET', `/api/v1/datasets/rides/versions/${v1}/diff?base=${v1}`);
    assert.equal(same.status, 200);
    assert.equal(same.body.identical, true);
    for (const c of same.body.columns) {
      if (c.kind === 'numeric') assert.equal(c.ks, 0, c.name);
      else assert.equal(c.js_distance, 0, c.name);
    }
    const diff = await server.json('GET', `/api/v1/datasets/rides/versions/${v2}/diff?base=${v1.slice(0, 12)}`);
    assert.equal(diff.status, 200, JSON.stringify(diff.body));
    const d = diff.body;
    assert.equal(d.identical, false);
    assert.deepEqual(d.row_count, { base: 5, target: 3, change: -2, relative_change: -0.4 });
    assert.deepEqual(d.schema.added.map((c: any) => c.name), ['tip']);
    assert.deepEqual(d.schema.removed.map((c: any) => c.name), ['driver']);
    assert.deepEqual(d.schema.changed, [
      { name: 'fare', nullable: { from: true, to: false } },
      { name: 'shared', nullable: { from: true, to: false } },
    ]);
    const fare = d.columns.find((c: any) => c.name === 'fare');
    assert.equal(fare.kind, 'numeric');
    assert.ok(fare.psi > 0.25, `fare PSI ${fare.psi}`);
    assert.ok(fare.ks > 0.5, `fare KS ${fare.ks}`);
    const zone = d.columns.find((c: any) => c.name === 'zone');
    assert.equal(zone.kind, 'categorical');
    // base: A1 3/5, B2 1/5, C3 1/5; target: C3 only.
    assert.ok(Math.abs(zone.total_variation - 0.8) < 1e-12);
    assert.ok(zone.js_distance > 0.7 && zone.js_distance < 1);
    const across = await server.json('GET', `/api/v1/datasets/rides-odd/versions/latest/diff?base=rides@${v1}`);
    assert.equal(across.status, 200);
    assert.equal(across.body.base.dataset, 'rides');
    assert.equal((await server.json('GET', `/api/v1/datasets/rides/versions/${v2}/diff`)).status, 400);
  });

  it('reads a version as the trainers’ Table', async () => {
    const table = await datasets.readTable(ctx, 'rides', v1);
    assert.equal(table.rows, 5);
    const byName = Object.fromEntries(table.columns.map((c) => [c.name, c]));
    assert.equal(byName.ride_id.kind, 'numeric');
    assert.deepEqual(Array.from(byName.ride_id.values as Float64Array), [1, 2, 3, 4, 5]);
    const fare = byName.fare.values as Float64Array;
    assert.ok(fare instanceof Float64Array);
    assert.deepEqual([fare[0], fare[1], fare[3]], [12.5, 7.25, 30]);
    assert.ok(Number.isNaN(fare[2]), 'null is NaN');
    assert.deepEqual(Array.from(byName.shared.values as Float64Array).map((x) => (Number.isNaN(x) ? null : x)), [1, 0, null, 0, 1]);
    assert.equal((byName.pickup_at.values as Float64Array)[0], Date.parse('2024-03-01T08:00:00Z'));
    assert.equal(byName.zone.kind, 'categorical');
    assert.deepEqual(byName.driver.values, ['d1', 'd2', 'd1', null, 'd3']);

    const some = await datasets.readTable(ctx, 'rides', v1, { columns: ['zone', 'fare'], limit: 2 });
    assert.equal(some.rows, 2);
    assert.deepEqual(some.columns.map((c) => c.name), ['zone', 'fare']);
    assert.deepEqual(some.columns[0].values, ['A1', 'B2']);
    await assert.rejects(datasets.readTable(ctx, 'rides', v1, { columns: ['nope'] }), (e: any) => e.code === 'INVALID_PARAMETER_VALUE' && /no column "nope"/.test(e.message));
  });

  it('gives the feature store a local Parquet file to query', async () => {
    const { path, version, schema } = await datasets.localParquetPath(ctx, 'rides', v1);
    assert.equal(version, v1);
    assert.equal(schema.columns.length, 6);
    const rows = await (await datasets.duck()).rows<{ n: number; z: string }>(`SELECT count(*) AS n, max(zone) AS z FROM read_parquet(${quoteLiteral(path)})`);
    assert.deepEqual(rows, [{ n: 5, z: 'C3' }]);
  });
});
