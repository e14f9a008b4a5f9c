/**
 * Bad data files get a 4xx that names the line (or row) and column, and change nothing: no dataset,
 * no blob, no temporary file left behind.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDb } from '../src/storage/duckdb/engine.ts';
import { tempDir } from './support/backends.ts';
import { contentBlobs, filesIn, uploadDataset } from './support/data.ts';
import { startTestServer, type TestServer } from './support/server.ts';

/** A CSV of `n` good rows with `bad` replacing the fare of the row on `line` (header is line 1). */
function csvWithBadFare(n: number, line: number, bad: string): string {
  const lines = ['id,fare,zone'];
  for (let i = 1; i <= n; i++) lines.push(`${i},${i + 0.5},z${i % 7}`);
  lines[line - 1] = `${line - 1},${bad},z0`;
  return lines.join('\n');
}

describe('bad data files', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ maxArtifactBytes: 64 * 1024 });
  });
  after(() => server?.close());

  /** Uploads, expects `status` and a detail matching `detail`, then checks nothing was kept. */
  async function refused(
    name: string,
    body: string | Uint8Array,
    status: number,
    detail: RegExp,
    options: { contentType?: string; query?: Record<string, string> } = {},
  ): Promise<any> {
    const result = await uploadDataset(server, name, body, options);
    assert.equal(result.status, status, JSON.stringify(result.body));
    assert.match(result.body.detail, detail);
    assert.doesNotMatch(result.body.detail, /\/tmp\/|mloop-data-/, 'no server paths in messages');
    assert.equal((await server.json('GET', `/api/v1/datasets/${name}`)).status, 404, 'no dataset was created');
    assert.deepEqual(await contentBlobs(server.blobs), [], 'no blob was stored');
    assert.deepEqual(await filesIn(await server.app.services.datasets.workDir()), [], 'no temporary file is left');
    return result.body;
  }

  it('ragged CSV rows: names the line and the expected columns', async () => {
    const body = await refused('ragged', 'id,fare,zone\n1,2.5,A\n2,3.5\n3,4.5,C\n', 400, /line 3 has 2 fields, expected 3 \(id, fare, zone\)/);
    assert.equal(body.code, 'INVALID_PARAMETER_VALUE');
    await refused('ragged', 'id,fare\n1,2.5\n2,3.5,extra\n', 400, /line 3 has 3 fields, expected 2/);
  });

  it('counts physical lines when a quoted value spans several', async () => {
    // Line 2 opens a value that ends on line 4; the bad record is on line 6 (record 4).
    const spanning = 'id,note\n1,"first\nsecond\nthird"\n2,"say ""hi"""\n';
    await refused('spanning', `${spanning}3,ok,extra\n4,fine\n`, 400, /line 6 has 3 fields, expected 2/);
    const schema = JSON.stringify({ columns: [{ name: 'id', type: 'integer' }] });
    await refused('spanning', `${spanning}x,bad id\n4,fine\n`, 400, /column "id" expected integer, found "x" at line 6/, { query: { schema } });
    // Found after DuckDB has read the file (the settled type check), located the same way.
    const notNull = JSON.stringify({ columns: [{ name: 'id', type: 'integer', nullable: false }] });
    await refused('spanning', `${spanning},missing id\n`, 400, /the first at line 6/, { query: { schema: notNull } });
    // The same with CRLF line ends.
    const crlf = (text: string) => text.replace(/\n/g, '\r\n');
    await refused('spanning', crlf(`${spanning}3,ok,extra\n4,fine\n`), 400, /line 6 has 3 fields, expected 2/);
    await refused('spanning', crlf(`${spanning}x,bad id\n4,fine\n`), 400, /column "id" expected integer, found "x" at line 6/, { query: { schema } });
    await refused('spanning', crlf('id,fare\n1,2.5\n2,3.5\n3,4.5,extra\n'), 400, /line 4 has 3 fields, expected 2/);
  });

  it('invalid UTF-8: CSV and JSON Lines, by line (and column for CSV)', async () => {
    const csv = Buffer.concat([Buffer.from('id,name\n1,ok\n2,'), Buffer.from([0xff, 0xfe, 0x41]), Buffer.from('\n3,fine\n')]);
    await refused('latin', csv, 400, /invalid UTF-8 at line 3, column "name"/);
    const header = Buffer.concat([Buffer.from('id,n'), Buffer.from([0xe9]), Buffer.from('\n1,2\n')]);
    await refused('latin', header, 400, /invalid UTF-8 at line 1/);
    const jsonl = Buffer.concat([Buffer.from('{"id":1,"name":"ok"}\n{"id":2,"name":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n')]);
    await refused('latin', jsonl, 400, /invalid UTF-8 at line 2/, { contentType: 'application/x-ndjson' });
  });

  it('unparseable numbers under a declared schema: line and column, with the value', async () => {
    const schema = JSON.stringify({ columns: [{ name: 'fare', type: 'float' }] });
    const body = await refused('fares', csvWithBadFare(1500, 1204, 'abc'), 400, /dataset "fares": column "fare" expected float, found "abc" at line 1,204/, {
      query: { schema },
    });
    assert.deepEqual(body.errors, [{ field: 'fare', reason: 'column "fare" expected float, found "abc" at line 1,204' }]);
    const ints = JSON.stringify({ columns: [{ name: 'fare', type: 'integer' }] });
    await refused('fares', 'id,fare\n1,2\n2,2.5\n', 400, /column "fare" expected integer, found "2.5" at line 3/, { query: { schema: ints } });
    await refused('fares', '{"id":1,"fare":2}\n\n{"id":2,"fare":"x"}\n', 400, /column "fare" expected float, found "x" at line 3/, {
      contentType: 'application/x-ndjson',
      query: { schema },
    });
  });

  it('unparseable timestamps under a declared schema: line and column', async () => {
    const schema = JSON.stringify({ columns: [{ name: 'at', type: 'timestamp' }] });
    await refused('events', 'id,at\n1,2024-01-01T00:00:00Z\n2,2024-01-02\n3,yesterday\n4,2024-01-04\n', 400, /column "at" expected timestamp, found "yesterday" at line 4/, {
      query: { schema },
    });
  });

  it('declared not nullable, with a missing value', async () => {
    const schema = JSON.stringify({ columns: [{ name: 'fare', nullable: false }] });
    await refused('fares', 'id,fare\n1,2\n2,\n', 400, /column "fare" is declared not nullable, but 1 value is missing, the first at line 3/, { query: { schema } });
  });

  it('malformed JSON Lines and nested values', async () => {
    await refused('events', '{"id":1}\n{"id":2,\n{"id":3}\n', 400, /malformed JSON at line 2/, { contentType: 'application/x-ndjson' });
    await refused('events', '{"id":1,"tags":{"a":1}}\n', 400, /column "tags" has type STRUCT/, { contentType: 'application/x-ndjson' });
  });

  it('a file that is not what it claims, an empty file, duplicate or reserved column names', async () => {
    await refused('broken', 'this is not parquet at all', 400, /cannot read the file as Parquet/, { contentType: 'application/vnd.apache.parquet' });
    await refused('broken', '', 400, /the file is empty/);
    await refused('broken', 'a,b,A\n1,2,3\n', 400, /columns 1 and 3 are both named "A"/);
    await refused('broken', 'a,,b\n1,2,3\n', 400, /column 2 has an empty name/);
    await refused('broken', 'file_row_number,b\n1,2\n', 400, /column name "file_row_number" is reserved/);
    await refused('broken', 'a,b\n1,2\n"unterminated,3\n4,5\n', 400, /unterminated quoted value starting at line 3/);
    await refused('broken', 'a,b\n1,"x"y\n', 400, /line 2/);
  });

  it('a Parquet file with a column type datasets do not hold', async () => {
    const duck = await DuckDb.open({ threads: 1 });
    const dir = await tempDir();
    try {
      const path = join(dir.path, 'list.parquet');
      await duck.withConnection((c) => c.copyToParquet('SELECT 1 AS id, [1, 2] AS xs', path));
      await refused('lists', await readFile(path), 400, /column "xs" has type INTEGER\[\], which datasets do not hold/, {
        contentType: 'application/vnd.apache.parquet',
      });
    } finally {
      duck.close();
      await dir.cleanup();
    }
  });

  it('unknown formats, bad declared schemas and oversized bodies', async () => {
    await refused('x', 'a,b\n1,2\n', 415, /cannot upload text\/plain: send text\/csv, application\/vnd\.apache\.parquet or application\/x-ndjson/, { contentType: 'text/plain' });
    await refused('x', 'a,b\n1,2\n', 415, /give \?format=/, { contentType: 'application/octet-stream' });
    await refused('x', 'a,b\n1,2\n', 400, /format: expected csv, parquet or jsonl/, { query: { format: 'xlsx' } });
    await refused('x', 'a,b\n1,2\n', 400, /schema must be JSON/, { query: { schema: '{columns:' } });
    const badType = await refused('x', 'a,b\n1,2\n', 400, /columns\[0\]\.type/, { query: { schema: JSON.stringify({ columns: [{ name: 'a', type: 'decimal' }] }) } });
    assert.equal(badType.errors[0].field, 'columns[0].type');
    await refused('x', 'a,b\n1,2\n', 400, /declared column "c" not found in the file \(it has a, b\)/, { query: { schema: JSON.stringify({ columns: [{ name: 'c' }] }) } });
    await refused('x', 'a,b\n1,2\n', 400, /strict and does not declare column "b"/, {
      query: { schema: JSON.stringify({ strict: true, columns: [{ name: 'a' }] }) },
    });
    await refused('x', `a\n${'1\n'.repeat(40_000)}`, 413, /exceeds the limit of 65536 bytes/);
  });

  it('bad declared schemas via PUT name the field', async () => {
    const put = await server.json('PUT', '/api/v1/datasets/x/schema', { columns: [{ name: 'a', tags: ['Not A Tag'] }] });
    assert.equal(put.status, 400);
    assert.equal(put.body.errors[0].field, 'columns[0].tags[0]');
    const twice = await server.json('PUT', '/api/v1/datasets/x/schema', { columns: [{ name: 'a' }, { name: 'A' }] });
    assert.equal(twice.status, 400);
    assert.match(twice.body.detail, /declared twice/);
    const text = await server.fetch('/api/v1/datasets/x/schema', { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'columns: []' });
    assert.equal(text.status, 415);
    assert.equal((await server.json('GET', '/api/v1/datasets/x')).status, 404);
  });
});

describe('uploads that are not raw data', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server?.close());

  it('refuses a JSON body, even with ?format=', async () => {
    const response = await server.fetch('/api/v1/datasets/x/versions?format=csv', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    assert.equal(response.status, 415);
    assert.match(((await response.json()) as { detail: string }).detail, /not as application\/json/);
  });
});
