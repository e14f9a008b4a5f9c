/**
 * Profiling a dataset version of 1,000,000 rows × 20 columns (12 float, 4 integer, 4 string; a few
 * percent nulls), generated deterministically. Goal: ≤ 3 s for the whole profile (every statistic of
 * every column, exact). Peer in the same run: pandas `describe()` with the same seven quantiles, plus
 * `nunique`, `value_counts` and a 20-bin `numpy.histogram` per column — the same numbers — on the same
 * data (read from CSV beforehand, not timed). Also reported: converting the CSV to canonical Parquet.
 *
 * `npm run bench -- profile [rows]`
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { canonicalize } from '../src/data/ingest.ts';
import { profileParquet } from '../src/data/profile.ts';
import { DuckDb } from '../src/storage/duckdb/engine.ts';
import { quoteLiteral } from '../src/storage/duckdb/sql.ts';
import { tempDir } from '../test/support/backends.ts';
import { progress, quantile, round, time } from './_stats.ts';

const RUNS = 5;
const GOAL_MS = 3000;

/** A uniform number in (0, 1) from the hash of `seed` (deterministic whatever the thread count). */
function uniform(seed: string): string {
  return `((hash(${seed}) % 1000000007)::DOUBLE + 0.5) / 1000000007`;
}

/** SQL generating the benchmark table from `range(rows)` (column `i`). */
function generator(rows: number): string {
  const columns: string[] = [];
  for (let j = 0; j < 12; j++) {
    const normal = `sqrt(-2 * ln(${uniform(`i * 40 + ${2 * j}`)})) * cos(2 * pi() * ${uniform(`i * 40 + ${2 * j + 1}`)})`;
    const value = j % 3 === 0 ? `exp(${normal} * 0.5 + ${j % 5})` : `${normal} * ${j + 1} + ${j * 10}`;
    columns.push(`CASE WHEN ${uniform(`i * 97 + ${j}`)} < 0.03 THEN NULL ELSE round(${value}, 6) END AS f${j}`);
  }
  for (let j = 0; j < 4; j++) columns.push(`CAST(hash(i * 13 + ${j}) % ${[10, 1000, 100000, 5][j]} AS BIGINT) AS i${j}`);
  for (let j = 0; j < 4; j++) {
    const k = [8, 50, 1000, 3][j];
    columns.push(`CASE WHEN ${uniform(`i * 89 + ${j}`)} < 0.02 THEN NULL ELSE 'c' || CAST(floor(pow(${uniform(`i * 71 + ${j}`)}, 2) * ${k}) AS INTEGER) END AS s${j}`);
  }
  return `SELECT ${columns.join(', ')} FROM range(${rows}) t(i) ORDER BY i`;
}

const PANDAS = String.raw`
import json, sys, time
import numpy as np
import pandas as pd
df = pd.read_csv(sys.argv[1])
qs = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]
runs = []
for _ in range(int(sys.argv[2])):
    t0 = time.perf_counter()
    num = df.select_dtypes(include="number")
    described = num.describe(percentiles=qs)
    nunique = df.nunique()
    hist = {c: np.histogram(num[c].dropna().to_numpy(), bins=20) for c in num.columns}
    cats = {c: df[c].value_counts().head(20) for c in df.columns if c not in num.columns}
    runs.append((time.perf_counter() - t0) * 1000)
print(json.dumps({"ms": runs, "columns": int(df.shape[1]), "rows": int(df.shape[0])}))
`;

export async function main(args: string[]): Promise<unknown> {
  const rows = Number(args[0] ?? 1_000_000);
  const dir = await tempDir('mloop-bench-profile-');
  const duck = await DuckDb.open();
  try {
    const csv = join(dir.path, 'profile.csv');
    progress(`generating ${rows} rows × 20 columns`);
    await duck.withConnection((c) => c.run(`COPY (${generator(rows)}) TO ${quoteLiteral(csv)} (FORMAT csv, HEADER true)`));

    progress('converting the CSV to canonical Parquet');
    let canonical: Awaited<ReturnType<typeof canonicalize>> | undefined;
    const ingestMs = await time(async () => {
      canonical = await canonicalize(duck, { path: csv, format: 'csv', label: 'bench', workDir: dir.path });
    });

    progress(`profiling, ${RUNS} runs`);
    const profileMs: number[] = [];
    let exact = false;
    for (let r = 0; r < RUNS; r++) {
      profileMs.push(
        await time(async () => {
          exact = (await profileParquet(duck, canonical!.path, canonical!.schema)).exact;
        }),
      );
    }

    progress('pandas describe() + quantiles + nunique + value_counts + histograms');
    const python = spawnSync('/usr/bin/python3', ['-c', PANDAS, csv, String(RUNS)], { encoding: 'utf8', maxBuffer: 1 << 20 });
    const pandas = python.status === 0 ? (JSON.parse(python.stdout) as { ms: number[] }) : undefined;
    if (!pandas) progress(`pandas peer failed: ${python.stderr.split('\n').slice(-3).join(' ')}`);

    const median = quantile(profileMs, 0.5);
    const pandasMedian = pandas ? quantile(pandas.ms, 0.5) : undefined;
    return {
      rows,
      columns: canonical!.schema.columns.length,
      exact,
      profile_ms: { min: round(Math.min(...profileMs)), median: round(median) },
      goal_ms: GOAL_MS,
      within_goal: median <= GOAL_MS,
      ingest_csv_ms: round(ingestMs),
      pandas_ms: pandasMedian === undefined ? null : { min: round(Math.min(...pandas!.ms)), median: round(pandasMedian) },
      ratio_to_pandas: pandasMedian === undefined ? null : round(median / pandasMedian, 3),
    };
  } finally {
    duck.close();
    await dir.cleanup();
  }
}
