import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDb } from '../storage/duckdb/engine.ts';
import type { ColumnProfile, DatasetSchema } from './domain.ts';
import { histogramEdges, profileParquet, quantileSorted } from './profile.ts';

describe('profileParquet', () => {
  let duck: DuckDb;
  let dir: string;
  let path: string;
  const schema: DatasetSchema = {
    columns: [
      { name: 'x', type: 'float', nullable: true, tags: [] },
      { name: 'k', type: 'integer', nullable: false, tags: [] },
      { name: 'flat', type: 'float', nullable: false, tags: [] },
      { name: 'empty', type: 'float', nullable: true, tags: [] },
      { name: 'wild', type: 'float', nullable: false, tags: [] },
      { name: 'at', type: 'timestamp', nullable: false, tags: [] },
      { name: 's', type: 'string', nullable: true, tags: [] },
    ],
  };
  before(async () => {
    duck = await DuckDb.open({ threads: 2 });
    dir = await mkdtemp(join(tmpdir(), 'mloop-profile-'));
    path = join(dir, 'p.parquet');
    await duck.withConnection((c) =>
      c.copyToParquet(
        `SELECT CASE WHEN i % 10 = 0 THEN NULL ELSE CAST(i AS DOUBLE) / 7 END AS x, i % 3 AS k, 2.5 AS flat, CAST(NULL AS DOUBLE) AS empty,
                CASE WHEN i = 1 THEN 'inf'::DOUBLE WHEN i = 2 THEN '-inf'::DOUBLE ELSE CAST(i AS DOUBLE) END AS wild,
                TIMESTAMPTZ '2024-01-01 00:00:00+00' + INTERVAL (i) SECOND AS "at",
                CASE WHEN i % 4 = 0 THEN NULL ELSE 'v' || (i % 5) END AS s
         FROM range(20000) t(i)`,
        path,
      ),
    );
  });
  after(async () => {
    duck.close();
    await rm(dir, { recursive: true, force: true });
  });

  const column = (columns: readonly ColumnProfile[], name: string) => columns.find((c) => c.name === name)!;

  it('handles constant, empty and infinite columns and profiles timestamps in epoch ms', async () => {
    const p = await profileParquet(duck, path, schema);
    assert.equal(p.row_count, 20_000);
    const flat = column(p.columns, 'flat');
    assert.deepEqual([flat.min, flat.max, flat.std, flat.distinct], [2.5, 2.5, 0, 1]);
    assert.deepEqual(flat.histogram, { edges: [2, 3], counts: [20_000] });
    const empty = column(p.columns, 'empty');
    assert.deepEqual([empty.count, empty.nulls, empty.null_fraction, empty.distinct, empty.histogram], [0, 20_000, 1, 0, undefined]);
    const wild = column(p.columns, 'wild');
    assert.equal(wild.infinite, 2);
    assert.equal(wild.count, 20_000);
    assert.equal(wild.max, 19_999);
    assert.ok(Number.isFinite(wild.mean));
    const at = column(p.columns, 'at');
    assert.equal(at.min, Date.parse('2024-01-01T00:00:00Z'));
    assert.equal(at.max, Date.parse('2024-01-01T00:00:00Z') + 19_999_000);
    const k = column(p.columns, 'k');
    assert.deepEqual(k.histogram!.edges, [-0.5, 0.5, 1.5, 2.5]);
    const s = column(p.columns, 's');
    assert.equal(s.nulls, 5000);
    assert.deepEqual(s.top!.map((t) => [t.value, t.count]), [['v0', 3000], ['v1', 3000], ['v2', 3000], ['v3', 3000], ['v4', 3000]], 'ties by value');
  });

  it('estimates above the exact-row limit, close to the exact figures', async () => {
    const exact = await profileParquet(duck, path, schema);
    const estimated = await profileParquet(duck, path, schema, { maxExactRows: 1000 });
    assert.equal(estimated.exact, false);
    for (const name of ['x', 'k', 'at']) {
      const a = column(exact.columns, name);
      const b = column(estimated.columns, name);
      assert.equal(b.distinct_exact, false);
      assert.equal(b.nulls, a.nulls, name);
      assert.equal(b.min, a.min, name);
      assert.equal(b.max, a.max, name);
      assert.ok(Math.abs(b.mean! - a.mean!) <= 1e-9 * Math.abs(a.mean!) + 1e-9, name);
      assert.ok(Math.abs(b.distinct - a.distinct) <= 0.1 * a.distinct + 1, `${name} distinct ${b.distinct} vs ${a.distinct}`);
      const range = (a.max as number) - (a.min as number);
      for (const key of Object.keys(a.quantiles!)) assert.ok(Math.abs(b.quantiles![key] - a.quantiles![key]) <= 0.02 * range, `${name} ${key}`);
      assert.deepEqual(b.histogram!.edges, a.histogram!.edges, name);
      const total = (h: readonly number[]) => h.reduce((x, y) => x + y, 0);
      assert.equal(total(b.histogram!.counts), total(a.histogram!.counts), name);
    }
  });

  it('quantiles and edges follow numpy', () => {
    assert.equal(quantileSorted([1, 2, 3, 4], 0.5), 2.5);
    assert.equal(quantileSorted([1, 2, 3, 4], 0.01), 1.03);
    assert.equal(quantileSorted([7], 0.99), 7);
    assert.deepEqual(histogramEdges(0, 10, false, 5), [0, 2, 4, 6, 8, 10]);
    assert.deepEqual(histogramEdges(1, 3, true, 20), [0.5, 1.5, 2.5, 3.5]);
  });
});
