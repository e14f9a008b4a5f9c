/**
 * Canonical Parquet is deterministic: the same logical data gives the same bytes — and so the same
 * version — whether it arrives as CSV (twice), JSON Lines or Parquet with another layout (other
 * integer widths, naive millisecond timestamps, row groups of 7,777 rows, snappy). Row order and
 * column order are part of the data.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Random } from '../src/core/random.ts';
import { DuckDb } from '../src/storage/duckdb/engine.ts';
import { quoteLiteral } from '../src/storage/duckdb/sql.ts';
import { tempDir } from './support/backends.ts';
import { contentBlobs, uploadDataset } from './support/data.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const ROWS = 150_000;

interface Row {
  id: number;
  value: number | null;
  name: string | null;
  flag: boolean | null;
  at: string;
}

function generate(seed: number): Row[] {
  const rng = new Random(seed);
  const names = ['plain', 'with,comma', 'with "quote"', 'multi\nline', 'Zürich ✓', '', ' padded '];
  return Array.from({ length: ROWS }, (_, i) => ({
    id: i * 3 - 1000,
    value: rng.next() < 0.03 ? null : rng.next() < 0.5 ? Math.round(rng.normal() * 1e6) / 1e3 : rng.normal() * 10 ** rng.int(12) - 1e-7,
    name: rng.next() < 0.02 ? null : names[rng.int(names.length)],
    flag: rng.next() < 0.05 ? null : rng.next() < 0.5,
    at: new Date(Date.UTC(2024, 0, 1) + rng.int(365 * 86_400) * 1000 + rng.int(1000)).toISOString(),
  }));
}

function csvField(value: unknown): string {
  if (value === null) return '';
  const text = String(value);
  return text === '' || /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function toCsv(rows: readonly Row[], columns: readonly (keyof Row)[] = ['id', 'value', 'name', 'flag', 'at']): string {
  return [columns.join(','), ...rows.map((r) => columns.map((c) => csvField(r[c])).join(','))].join('\n') + '\n';
}

function toJsonl(rows: readonly Row[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

describe('canonical Parquet is deterministic', () => {
  let server: TestServer;
  let rows: Row[];
  let dir: { path: string; cleanup(): Promise<void> };
  before(async () => {
    server = await startTestServer();
    dir = await tempDir();
    rows = generate(42);
  });
  after(async () => {
    await server?.close();
    await dir?.cleanup();
  });

  it('gives one version for the same data as CSV twice, JSON Lines and Parquet of another layout', async () => {
    const csv = toCsv(rows);
    const first = await uploadDataset(server, 'events', csv);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const version: string = first.body.version.version;
    assert.equal(first.body.version.row_count, ROWS);
    assert.deepEqual(
      first.body.version.schema.columns.map((c: { name: string; type: string; nullable: boolean }) => [c.name, c.type, c.nullable]),
      [
        ['id', 'integer', false],
        ['value', 'float', true],
        ['name', 'string', true],
        ['flag', 'boolean', true],
        ['at', 'timestamp', false],
      ],
    );
    const blobs = await contentBlobs(server.blobs);

    const again = await uploadDataset(server, 'events', csv);
    assert.equal(again.status, 200);
    assert.equal(again.body.version.version, version);

    const jsonl = toJsonl(rows);
    await import('node:fs/promises').then((fs) => fs.writeFile(join(dir.path, 'events.jsonl'), jsonl));
    const fromJsonl = await uploadDataset(server, 'events', jsonl, { contentType: 'application/x-ndjson' });
    assert.equal(fromJsonl.status, 200, JSON.stringify(fromJsonl.body));
    assert.equal(fromJsonl.body.version.version, version, 'JSON Lines gives the same version');

    // Parquet written differently: INTEGER ids, TIMESTAMP_MS without zone, small row groups, snappy.
    const duck = await DuckDb.open({ threads: 2 });
    const parquet = join(dir.path, 'events.parquet');
    try {
      await duck.withConnection((c) =>
        c.copyToParquet(
          `SELECT CAST(id AS INTEGER) AS id, CAST(value AS DOUBLE) AS value, name, flag, CAST(CAST("at" AS TIMESTAMPTZ) AS TIMESTAMP_MS) AS "at"
           FROM read_json(${quoteLiteral(join(dir.path, 'events.jsonl'))}, format = 'newline_delimited',
                          columns = {id: 'BIGINT', value: 'DOUBLE', name: 'VARCHAR', flag: 'BOOLEAN', "at": 'VARCHAR'})`,
          parquet,
          { rowGroupSize: 7777, compression: 'snappy' },
        ),
      );
    } finally {
      duck.close();
    }
    const fromParquet = await uploadDataset(server, 'events', await readFile(parquet), { contentType: 'application/vnd.apache.parquet' });
    assert.equal(fromParquet.status, 200, JSON.stringify(fromParquet.body));
    assert.equal(fromParquet.body.version.version, version, 'Parquet of another layout gives the same version');
    assert.deepEqual(await contentBlobs(server.blobs), blobs, 'and nothing new was stored');

    const stored = await server.fetch(`/api/v1/datasets/events/versions/${version}/content?format=csv`);
    const roundTrip = await uploadDataset(server, 'events', await stored.text());
    assert.equal(roundTrip.body.version.version, version, 'the CSV export reads back to the same version');
  });

  it('gives another version when rows or columns are in another order', async () => {
    const base = (await server.json('GET', '/api/v1/datasets/events/versions/latest?profile=false')).body.version;
    const swapped = [rows[1], rows[0], ...rows.slice(2)];
    const reordered = await uploadDataset(server, 'events', toCsv(swapped));
    assert.equal(reordered.status, 201);
    assert.notEqual(reordered.body.version.version, base);
    const columns = await uploadDataset(server, 'events', toCsv(rows, ['value', 'id', 'name', 'flag', 'at']));
    assert.equal(columns.status, 201);
    assert.notEqual(columns.body.version.version, base);
  });
});
