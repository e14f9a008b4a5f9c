/**
 * Profiles checked against pandas and numpy (Debian's python3-pandas) on the same CSV: counts, nulls,
 * distinct counts, min, max, mean, sample std, the seven quantiles (numpy's linear interpolation),
 * histogram counts over the stored edges (numpy.histogram) and the most frequent values.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Random } from '../src/core/random.ts';
import type { ColumnProfile, DatasetProfile } from '../src/data/domain.ts';
import { tempDir } from './support/backends.ts';
import { uploadDataset } from './support/data.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const PYTHON = '/usr/bin/python3';
const havePandas = spawnSync(PYTHON, ['-c', 'import pandas, numpy'], { encoding: 'utf8' }).status === 0;

const ORACLE = String.raw`
import json, sys
import numpy as np
import pandas as pd
spec = json.load(sys.stdin)
df = pd.read_csv(spec["csv"], keep_default_na=False, na_values=[""], dtype={"city": str})
out = {"row_count": len(df), "columns": {}}
for name, edges in spec["numeric"].items():
    s = df[name]
    v = s.dropna().to_numpy(dtype=float)
    d = s.describe()
    out["columns"][name] = {
        "count": int(s.count()), "nulls": int(s.isna().sum()), "distinct": int(s.nunique()),
        "min": float(d["min"]), "max": float(d["max"]), "mean": float(d["mean"]), "std": float(d["std"]),
        "quantiles": [float(q) for q in np.quantile(v, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])],
        "histogram": [int(c) for c in np.histogram(v, bins=np.array(edges, dtype=float))[0]],
    }
for name in spec["categorical"]:
    s = df[name]
    counts = s.dropna().astype(str).value_counts()
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    out["columns"][name] = {"count": int(s.count()), "nulls": int(s.isna().sum()), "distinct": int(s.nunique()),
                            "top": [[k, int(c)] for k, c in top]}
json.dump(out, sys.stdout)
`;

function close(actual: number | undefined, expected: number, what: string, relative = 1e-9): void {
  assert.ok(actual !== undefined, `${what}: missing`);
  const tolerance = relative * Math.max(1, Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} vs pandas ${expected}`);
}

describe('profiles agree with pandas and numpy', { skip: havePandas ? undefined : 'python3 with pandas and numpy is not installed' }, () => {
  let server: TestServer;
  let dir: { path: string; cleanup(): Promise<void> };
  before(async () => {
    server = await startTestServer();
    dir = await tempDir();
  });
  after(async () => {
    await server?.close();
    await dir?.cleanup();
  });

  it('on numeric, integer, categorical and boolean columns with nulls', async () => {
    const rng = new Random(3);
    const cities = ['berlin', 'lagos', 'lima', 'osaka', 'perth', 'quito', 'riga', 'sofia'];
    const lines = ['amount,count,small,score,city,member'];
    for (let i = 0; i < 20_000; i++) {
      const amount = rng.next() < 0.05 ? '' : String(Math.exp(rng.normal() * 0.8 + 3));
      const count = String(rng.int(1000) - 200);
      const small = rng.next() < 0.1 ? '' : String(rng.int(5));
      const score = String(Math.round(rng.normal() * 100) / 4);
      const city = rng.next() < 0.03 ? '' : cities[Math.min(cities.length - 1, Math.floor(Math.abs(rng.normal()) * 3))];
      const member = rng.next() < 0.02 ? '' : rng.next() < 0.3 ? 'true' : 'false';
      lines.push([amount, count, small, score, city, member].join(','));
    }
    const csv = `${lines.join('\n')}\n`;
    const csvPath = join(dir.path, 'oracle.csv');
    await writeFile(csvPath, csv);
    const added = await uploadDataset(server, 'oracle', csv);
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const profile: DatasetProfile = (await server.json('GET', '/api/v1/datasets/oracle/versions/latest/profile')).body;
    const col = (name: string): ColumnProfile => profile.columns.find((c) => c.name === name)!;
    assert.deepEqual(
      profile.columns.map((c) => [c.name, c.type]),
      [
        ['amount', 'float'],
        ['count', 'integer'],
        ['small', 'integer'],
        ['score', 'float'],
        ['city', 'string'],
        ['member', 'boolean'],
      ],
    );
    const numeric = ['amount', 'count', 'small', 'score'];
    const spec = {
      csv: csvPath,
      numeric: Object.fromEntries(numeric.map((n) => [n, col(n).histogram!.edges])),
      categorical: ['city', 'member'],
    };
    const run = spawnSync(PYTHON, ['-c', ORACLE], { input: JSON.stringify(spec), encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const oracle = JSON.parse(run.stdout) as { row_count: number; columns: Record<string, any> };

    assert.equal(profile.row_count, oracle.row_count);
    assert.equal(profile.exact, true);
    for (const name of numeric) {
      const ours = col(name);
      const theirs = oracle.columns[name];
      assert.equal(ours.count, theirs.count, `${name} count`);
      assert.equal(ours.nulls, theirs.nulls, `${name} nulls`);
      assert.equal(ours.distinct, theirs.distinct, `${name} distinct`);
      close(ours.min as number, theirs.min, `${name} min`, 0);
      close(ours.max as number, theirs.max, `${name} max`, 0);
      close(ours.mean, theirs.mean, `${name} mean`, 1e-12);
      close(ours.std, theirs.std, `${name} std`, 1e-10);
      ['p01', 'p05', 'p25', 'p50', 'p75', 'p95', 'p99'].forEach((key, i) => close(ours.quantiles?.[key], theirs.quantiles[i], `${name} ${key}`, 1e-12));
      assert.deepEqual(ours.histogram!.counts, theirs.histogram, `${name} histogram`);
      assert.equal(ours.histogram!.counts.reduce((a, b) => a + b, 0), ours.count, `${name} histogram holds every value`);
    }
    // Few distinct integers get one bin per value.
    assert.deepEqual(col('small').histogram!.edges, [-0.5, 0.5, 1.5, 2.5, 3.5, 4.5]);
    assert.equal(col('count').histogram!.edges.length, 21);

    for (const name of ['city', 'member']) {
      const ours = col(name);
      const theirs = oracle.columns[name];
      assert.equal(ours.count, theirs.count, `${name} count`);
      assert.equal(ours.nulls, theirs.nulls, `${name} nulls`);
      assert.equal(ours.distinct, theirs.distinct, `${name} distinct`);
      const expectedTop = name === 'member' ? theirs.top.map(([k, c]: [string, number]) => [k.toLowerCase(), c]) : theirs.top;
      assert.deepEqual(
        ours.top!.map((t) => [t.value, t.count]),
        expectedTop,
        `${name} top values`,
      );
      close(ours.top![0].frequency, ours.top![0].count / theirs.count, `${name} frequency`);
      assert.equal(ours.other_count, 0);
    }
  });
});
