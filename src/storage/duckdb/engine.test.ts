import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDb, sharedDuckDb } from './engine.ts';
import { listLiteral, quoteIdent, quoteLiteral, structLiteral } from './sql.ts';

describe('DuckDb engine', () => {
  let duck: DuckDb;
  let dir: string;
  before(async () => {
    duck = await DuckDb.open({ threads: 2, maxConcurrentQueries: 1 });
    dir = await mkdtemp(join(tmpdir(), 'mloop-duck-'));
  });
  after(async () => {
    duck.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('binds parameters, returns safe integers as numbers and reads time in UTC', async () => {
    const rows = await duck.rows<{ a: number; b: string; big: bigint; tz: string; t: Date }>(
      `SELECT $1::BIGINT + 1 AS a, $2 AS b, 9007199254740993::BIGINT AS big, current_setting('TimeZone') AS tz,
              TIMESTAMPTZ '2024-01-01 10:00:00+02' AS t`,
      [41, "it's"],
    );
    assert.deepEqual(rows, [{ a: 42, b: "it's", big: 9007199254740993n, tz: 'UTC', t: new Date('2024-01-01T08:00:00Z') }]);
  });

  it('quotes identifiers and literals so that names with quotes survive', async () => {
    assert.equal(quoteIdent('a"b'), '"a""b"');
    assert.equal(quoteLiteral("o'k"), "'o''k'");
    assert.equal(listLiteral(['x', "y'"]), "['x', 'y''']");
    assert.equal(structLiteral({ "k'": 'v' }), "{'k''': 'v'}");
    assert.throws(() => quoteIdent('a\u0000'));
    const rows = await duck.rows(`SELECT 1 AS ${quoteIdent('we"ird name')}, ${quoteLiteral("it's")} AS s`);
    assert.deepEqual(rows, [{ 'we"ird name': 1, s: "it's" }]);
  });

  it('writes Parquet with footer metadata and a fixed row-group size', async () => {
    const path = join(dir, "o'dd.parquet");
    const written = await duck.withConnection((c) => c.copyToParquet('SELECT range AS i FROM range(5000)', path, { rowGroupSize: 2048, kvMetadata: { 'mloop.test': '{"a":1}' } }));
    assert.equal(written, 5000);
    const kv = await duck.rows<{ key: string; value: Uint8Array }>(`SELECT decode(key) AS key, value FROM parquet_kv_metadata(${quoteLiteral(path)})`);
    assert.equal(kv[0].key, 'mloop.test');
    assert.equal(Buffer.from(kv[0].value).toString(), '{"a":1}');
    const groups = await duck.rows(`SELECT count(DISTINCT row_group_id) AS n FROM parquet_metadata(${quoteLiteral(path)})`);
    assert.deepEqual(groups, [{ n: 3 }]);
  });

  it('counts statements and streams chunks', async () => {
    await duck.withConnection(async (c) => {
      assert.equal(await c.statementCount('SELECT 1; SELECT 2'), 2);
      let rows = 0;
      await c.forEachChunk('SELECT range FROM range(5000)', undefined, (chunk) => (rows += chunk.rowCount));
      assert.equal(rows, 5000);
    });
  });

  it('runs at most maxConcurrentQueries units of work at once', async () => {
    let active = 0;
    let most = 0;
    await Promise.all(
      [1, 2, 3].map(() =>
        duck.withConnection(async (c) => {
          active++;
          most = Math.max(most, active);
          await c.run('SELECT sum(range) FROM range(100000)');
          active--;
        }),
      ),
    );
    assert.equal(most, 1);
  });

  it('shares one instance per process', async () => {
    assert.equal(await sharedDuckDb(), await sharedDuckDb());
  });
});
