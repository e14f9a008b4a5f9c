/**
 * Tracking throughput over HTTP against SQLite, with the limit measured in the same run.
 *
 * 1. `log-batch` of 1,000 metric points per call against a real `mloop server` process (log level
 *    `warn`): p50/p95 ms per call, client included, and points per second; alternating with it, the raw
 *    better-sqlite3 insert of the same rows in one transaction on a database with the same schema and
 *    pragmas (the limit).
 *    Goal: ≥ 25% of the raw rate end to end, p50 ≤ 10 ms.
 * 2. `runs/search` over 10,000 runs with a metric filter and `order_by` on a metric. Goal: p50 ≤ 100 ms.
 */
import { join } from 'node:path';
import { SqliteMetadataStore } from '../src/storage/sqlite/metadata-store.ts';
import { tempDir } from '../test/support/backends.ts';
import { spawnServer } from '../test/support/process.ts';
import { progress, quantile, round, time } from './_stats.ts';

const BATCH = 1000;

export async function main(args: string[]): Promise<unknown> {
  const calls = Number(args[0] ?? 200);
  const searchRuns = Number(args[1] ?? 10_000);
  const home = await tempDir('mloop-bench-');
  const server = await spawnServer(['--home', home.path], { MLOOP_LOG_LEVEL: 'warn' });
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${server.url}/api/2.0/mlflow/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await response.json()) as any;
    if (!response.ok) throw new Error(`${path}: ${JSON.stringify(json)}`);
    return json;
  };
  try {
    // --- log-batch over HTTP
    const { run } = await post('runs/create', { experiment_id: '0', run_name: 'bench' });
    const runId: string = run.info.run_id;
    const batch = (call: number) => ({
      run_id: runId,
      metrics: Array.from({ length: BATCH }, (_, i) => ({ key: `m${i % 20}`, value: Math.sin(call * BATCH + i), timestamp: 1_700_000_000_000 + call, step: call * 100 + Math.floor(i / 20) })),
    });
    for (let c = 0; c < 20; c++) await post('runs/log-batch', batch(c));

    // The limit: raw better-sqlite3 insert of the same rows, one transaction per batch, on a database
    // with the same schema and pragmas. Calls alternate with the HTTP ones, so that both see the same
    // load on a shared machine.
    const raw = new SqliteMetadataStore({ path: join(home.path, 'raw.db') });
    await raw.migrate();
    raw.connection.prepare(
      "insert into runs (run_uuid, experiment_id, run_name, user_id, status, start_time, lifecycle_stage, artifact_uri) values ('r', 0, 'r', 'u', 'RUNNING', 0, 'active', 'x')",
    ).run();
    const insert = raw.connection.prepare('insert into metrics (run_uuid, key, value, is_nan, timestamp, step) values (?, ?, ?, 0, ?, ?)');
    const insertBatch = raw.connection.transaction((rows: { key: string; value: number; timestamp: number; step: number }[]) => {
      for (const r of rows) insert.run('r', r.key, r.value, r.timestamp, r.step);
    });
    for (let c = 0; c < 20; c++) insertBatch(batch(c).metrics);

    const httpMs: number[] = [];
    const rawMs: number[] = [];
    progress(`log-batch: ${calls} calls of ${BATCH} points, each followed by the raw insert of the same rows`);
    for (let c = 20; c < 20 + calls; c++) {
      const body = batch(c);
      httpMs.push(await time(() => post('runs/log-batch', body)));
      rawMs.push(await time(() => insertBatch(body.metrics)));
    }
    await raw.close();

    const httpP50 = quantile(httpMs, 0.5);
    const rawP50 = quantile(rawMs, 0.5);
    const httpRate = (BATCH * calls) / (httpMs.reduce((a, b) => a + b, 0) / 1000);
    const rawRate = (BATCH * calls) / (rawMs.reduce((a, b) => a + b, 0) / 1000);

    // --- search over many runs
    progress(`search: seeding ${searchRuns} runs`);
    const { experiment_id } = await post('experiments/create', { name: 'search-bench' });
    let seeded = 0;
    const seedOne = async (i: number) => {
      const { run: r } = await post('runs/create', { experiment_id, run_name: `run-${i}`, start_time: 1_700_000_000_000 + i });
      await post('runs/log-batch', {
        run_id: r.info.run_id,
        metrics: [
          { key: 'rmse', value: ((i * 7919) % 10_000) / 10_000, timestamp: 1, step: 0 },
          { key: 'accuracy', value: ((i * 104729) % 10_000) / 10_000, timestamp: 1, step: 0 },
        ],
        params: [
          { key: 'model', value: i % 2 ? 'gbt' : 'logreg' },
          { key: 'lr', value: String((i % 10) / 100) },
        ],
        tags: [{ key: 'team', value: `t${i % 5}` }],
      });
      if (++seeded % 2000 === 0) progress(`  ${seeded}/${searchRuns}`);
    };
    for (let i = 0; i < searchRuns; i += 8) await Promise.all(Array.from({ length: Math.min(8, searchRuns - i) }, (_, k) => seedOne(i + k)));
    const searchMs = async (maxResults: number) => {
      const body = { experiment_ids: [experiment_id], filter: 'metrics.rmse < 0.5', order_by: ['metrics.rmse ASC'], max_results: maxResults };
      const first = await post('runs/search', body);
      if (first.runs.length !== maxResults) throw new Error(`search returned ${first.runs.length} runs, expected ${maxResults}`);
      const out: number[] = [];
      for (let k = 0; k < 30; k++) out.push(await time(() => post('runs/search', body)));
      return out;
    };
    const search100 = await searchMs(100);
    const search1000 = await searchMs(1000);

    return {
      log_batch: {
        points_per_call: BATCH,
        calls,
        http_p50_ms: round(httpP50),
        http_p95_ms: round(quantile(httpMs, 0.95)),
        http_points_per_s: Math.round(httpRate),
        raw_sqlite_p50_ms: round(rawP50),
        raw_sqlite_points_per_s: Math.round(rawRate),
        fraction_of_raw: round(httpRate / rawRate, 3),
        goal: 'fraction_of_raw >= 0.25 and http_p50_ms <= 10',
      },
      search: {
        runs: searchRuns,
        filter: 'metrics.rmse < 0.5',
        order_by: 'metrics.rmse ASC',
        p50_ms_100_results: round(quantile(search100, 0.5)),
        p95_ms_100_results: round(quantile(search100, 0.95)),
        p50_ms_1000_results: round(quantile(search1000, 0.5)),
        goal: 'p50 <= 100 ms',
      },
      machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
    };
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
    await home.cleanup();
  }
}
