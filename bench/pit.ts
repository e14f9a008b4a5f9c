/**
 * Point-in-time retrieval: 1,000,000 entity rows against a feature view of 5,000,000 rows and 10
 * features (TTL 30 days), generated from fixed formulas with a seed — so that DuckDB and numpy make
 * identical data without a file between them.
 *
 * 1. mloop, as the product runs it: `FeatureStoreService.retrieve` over the data module's
 *    `DatasetService` (what `mloop server` wires together), from the entity rows and the source as
 *    dataset versions to the result committed as a new dataset version linked to the feature view
 *    versions (canonical Parquet written once, hashed, stored in a local blob store, cached, metadata
 *    and lineage recorded). Its profile is computed after the commit; the time until that is done is
 *    reported beside it. The version is deleted between runs (untimed), so every run stores it anew.
 * 2. The limit: a hand-written DuckDB ASOF JOIN of the same files with the same TTL, written to
 *    Parquet, on the same engine. Goal: mloop / limit ≤ 1.5. Also the same join over the files as
 *    generated (snappy, TIMESTAMP) before they became canonical versions (zstd, TIMESTAMPTZ), which
 *    DuckDB reads faster. Beside them, mloop's generated SQL alone,
 *    written as plain Parquet and as canonical Parquet, to separate the engine's share from the rest.
 * 3. pandas `merge_asof(by=, tolerance=)` (Feast's local offline store approach) on the same data,
 *    sort included, data generation excluded.
 * The engines alternate within each run. Each result is checked against the others by count and sum
 * of non-null values.
 *
 * Usage: npm run bench -- pit [entityRows] [featureRows] [runs]
 */
import { spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../src/core/clock.ts';
import { systemContext } from '../src/core/context.ts';
import { writeCanonicalQuery } from '../src/data/ingest.ts';
import { DatasetService } from '../src/data/service.ts';
import { resolveView } from '../src/features/domain.ts';
import { retrievalSql } from '../src/features/retrieval.ts';
import { FeatureStoreService } from '../src/features/service.ts';
import { LineageService } from '../src/lineage/service.ts';
import { DuckDb } from '../src/storage/duckdb/engine.ts';
import { quoteLiteral } from '../src/storage/duckdb/sql.ts';
import { LocalBlobStore } from '../src/storage/local/blob-store.ts';
import { SqliteMetadataStore } from '../src/storage/sqlite/metadata-store.ts';
import { SqliteOnlineStore } from '../src/storage/sqlite/online-store.ts';
import { tempDir } from '../test/support/backends.ts';
import { progress, quantile, round } from './_stats.ts';

const SEED = 20240601;
const ENTITIES = 100_000;
const T0_S = 1_704_067_200; // 2024-01-01
const YEAR_S = 365 * 86_400;
const TTL_DAYS = 30;
const FEATURES = 10;

/** DuckDB SQL of the generated tables (integer formulas, so numpy makes the very same values). */
function sourceSql(n: number): string {
  const feats = Array.from({ length: FEATURES }, (_, k) => `((i * ${(k + 3) * 40503} + ${SEED}) % 1000003) / 1000003.0 AS f${k}`).join(', ');
  return `SELECT ((i * 48271 + ${SEED}) % ${ENTITIES})::BIGINT AS driver_id, to_timestamp(${T0_S} + (i * 2654435761 + ${SEED}) % ${YEAR_S})::TIMESTAMP AS ts, ${feats} FROM range(${n}) t(i)`;
}
function entitySql(n: number): string {
  return `SELECT ((j * 69069 + ${SEED}) % ${ENTITIES})::BIGINT AS driver_id, to_timestamp(${T0_S} + (j * 284849 + ${SEED} * 13) % ${YEAR_S})::TIMESTAMP AS event_timestamp, (j % 2)::BIGINT AS label FROM range(${n}) t(j)`;
}

const PANDAS = String.raw`
import sys, time, json
import numpy as np, pandas as pd
n_e, n_s, seed, ent, t0, year, nf, ttl_days = [int(x) for x in sys.argv[1:9]]
i = np.arange(n_s, dtype=np.int64)
src = pd.DataFrame({'driver_id': (i * 48271 + seed) % ent, 'ts': pd.to_datetime(t0 + (i * 2654435761 + seed) % year, unit='s')})
for k in range(nf):
    src['f%d' % k] = ((i * ((k + 3) * 40503) + seed) % 1000003) / 1000003.0
j = np.arange(n_e, dtype=np.int64)
rows = pd.DataFrame({'driver_id': (j * 69069 + seed) % ent, 'event_timestamp': pd.to_datetime(t0 + (j * 284849 + seed * 13) % year, unit='s'), 'label': j % 2})
start = time.perf_counter()
left = rows.sort_values('event_timestamp', kind='stable')
right = src.sort_values('ts', kind='stable')
out = pd.merge_asof(left, right, left_on='event_timestamp', right_on='ts', by='driver_id', tolerance=pd.Timedelta(days=ttl_days), direction='backward')
ms = (time.perf_counter() - start) * 1000
print(json.dumps({'ms': ms, 'count': int(out['f0'].notna().sum()), 'sum': float(out['f0'].sum()), 'rows': len(out)}))
`;

/** Median and every run, rounded; with the process's CPU time (DuckDB's threads included) beside them. */
function summary(runs: readonly { ms: number; cpu: number }[]) {
  return {
    median: round(quantile(runs.map((r) => r.ms), 0.5)),
    runs: runs.map((r) => round(r.ms)),
    cpu_median: round(quantile(runs.map((r) => r.cpu), 0.5)),
  };
}

/** Wall-clock and CPU milliseconds of `fn`. */
async function measure(fn: () => Promise<unknown>): Promise<{ ms: number; cpu: number }> {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await fn();
  const used = process.cpuUsage(cpu);
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, cpu: (used.user + used.system) / 1000 };
}

export async function main(args: string[]): Promise<unknown> {
  const nEntity = Number(args[0] ?? 1_000_000);
  const nSource = Number(args[1] ?? 5_000_000);
  const runs = Number(args[2] ?? 5);
  const dir = await tempDir('mloop-bench-pit-');
  const duck = await DuckDb.open({ maxConcurrentQueries: 2 });
  const metadata = new SqliteMetadataStore({ path: join(dir.path, 'mloop.db') });
  await metadata.migrate();
  const blobs = await new LocalBlobStore(join(dir.path, 'artifacts')).init();
  const datasets = new DatasetService({ metadata, blobs, clock: systemClock, maxUploadBytes: 64 * 1024 ** 3, home: join(dir.path, 'home'), duck });
  const features = new FeatureStoreService({
    metadata,
    online: new SqliteOnlineStore({ path: ':memory:' }),
    closeOnline: true,
    datasets,
    lineage: new LineageService({ metadata, clock: systemClock }),
    clock: systemClock,
    scratchDir: join(dir.path, 'scratch'),
    duck,
  });
  const ctx = systemContext();
  try {
    progress(`generating ${nSource} feature rows and ${nEntity} entity rows; adding them as dataset versions`);
    const generated = { source: join(dir.path, 'source.parquet'), entities: join(dir.path, 'entities.parquet') };
    await duck.withConnection(async (c) => {
      await c.copyToParquet(sourceSql(nSource), generated.source, { compression: 'snappy' });
      await c.copyToParquet(entitySql(nEntity), generated.entities, { compression: 'snappy' });
    });
    await datasets.addVersion(ctx, 'driver_stats', createReadStream(generated.source), { format: 'parquet' });
    await datasets.addVersion(ctx, 'entity_rows', createReadStream(generated.entities), { format: 'parquet' });
    await datasets.settled();
    // Every engine reads the same files: the canonical versions.
    const srcPath = (await datasets.localParquetPath(ctx, 'driver_stats', 'latest')).path;
    const entPath = (await datasets.localParquetPath(ctx, 'entity_rows', 'latest')).path;
    await features.apply(ctx, {
      entities: [{ name: 'driver', join_keys: [{ name: 'driver_id', type: 'int' }] }],
      feature_views: [
        {
          name: 'driver_stats',
          entities: ['driver'],
          source: { dataset: 'driver_stats', timestamp: 'ts' },
          ttl: `${TTL_DAYS}d`,
          features: Array.from({ length: FEATURES }, (_, k) => ({ name: `f${k}`, type: 'float' })),
        },
      ],
      feature_services: [{ name: 'model', features: ['driver_stats'] }],
    });

    const handOut = join(dir.path, 'hand.parquet');
    const ttlCase = (k: number) => `CASE WHEN s.ts >= e.event_timestamp - INTERVAL ${TTL_DAYS} DAY THEN s.f${k} END AS f${k}`;
    const handJoin = (entities: string, source: string) =>
      `COPY (SELECT e.*, ${Array.from({ length: FEATURES }, (_, k) => ttlCase(k)).join(', ')} FROM read_parquet(${quoteLiteral(entities)}) e ` +
      `ASOF LEFT JOIN read_parquet(${quoteLiteral(source)}) s ON e.driver_id = s.driver_id AND e.event_timestamp >= s.ts) TO ${quoteLiteral(handOut)} (FORMAT parquet)`;
    const handSql = handJoin(entPath, srcPath);
    // The same join over the files as generated (snappy, TIMESTAMP), before they became dataset versions.
    const handRawSql = handJoin(generated.entities, generated.source);

    // The SQL mloop generates for this view, alone: the engine's share of the service call.
    const view = resolveView(
      { name: 'driver_stats', entities: ['driver'], source: { dataset: 'driver_stats', timestamp: 'ts' }, ttl: TTL_DAYS * 86_400_000, features: Array.from({ length: FEATURES }, (_, k) => ({ name: `f${k}`, type: 'float' as const })) },
      new Map([['driver', { name: 'driver', join_keys: [{ name: 'driver_id', type: 'int' as const }] }]]),
      'bench',
    );
    const mloopSql = retrievalSql({
      entity: `(SELECT file_row_number AS __rid, * EXCLUDE (file_row_number) FROM read_parquet(${quoteLiteral(entPath)}, file_row_number=true))`,
      timestamp: 'event_timestamp',
      entityColumns: ['driver_id', 'event_timestamp', 'label'],
      views: [{ view, from: `read_parquet(${quoteLiteral(srcPath)}, file_row_number=true)`, features: view.rowFeatures.map((f) => f.spec.name), unique: true }],
    });
    const mloopUnordered = retrievalSql(
      {
        entity: `(SELECT file_row_number AS __rid, * EXCLUDE (file_row_number) FROM read_parquet(${quoteLiteral(entPath)}, file_row_number=true))`,
        timestamp: 'event_timestamp',
        entityColumns: ['driver_id', 'event_timestamp', 'label'],
        views: [{ view, from: `read_parquet(${quoteLiteral(srcPath)}, file_row_number=true)`, features: view.rowFeatures.map((f) => f.spec.name), unique: true }],
      },
      { ordered: false },
    );
    const plainOut = join(dir.path, 'sql.parquet');
    const canonicalOut = join(dir.path, 'sql-canonical.parquet');
    const declared = { strict: false, columns: ['driver_id', 'event_timestamp', 'label', ...view.rowFeatures.map((f) => f.spec.name)].map((name) => ({ name, nullable: true })) };

    const product: { ms: number; cpu: number }[] = [];
    const withProfile: { ms: number; cpu: number }[] = [];
    const hand: { ms: number; cpu: number }[] = [];
    const handRaw: { ms: number; cpu: number }[] = [];
    const sqlPlain: { ms: number; cpu: number }[] = [];
    const sqlCanonical: { ms: number; cpu: number }[] = [];
    let firstRun: number | undefined;
    let savedCheck: { rows: number; count: number; sum: number } | undefined;
    const check = async (path: string) => {
      const [row] = await duck.rows<{ rows: number; count: number; sum: number }>(`SELECT count(*) AS rows, count(f0) AS count, sum(f0) AS sum FROM read_parquet(${quoteLiteral(path)})`);
      return { rows: Number(row.rows), count: Number(row.count), sum: Number(row.sum) };
    };
    // Run 0 is a warm-up (it also checks the source for ties, once per dataset version); runs 1.. are measured.
    for (let r = 0; r <= runs; r++) {
      progress(`run ${r}/${runs}: mloop retrieve → saved version`);
      let saved!: { name: string; version: string };
      const retrieved = await measure(async () => {
        saved = (await features.retrieve(ctx, { feature_service: 'model', entity_dataset: 'entity_rows', save_as: 'training' })).dataset;
      });
      const profiling = await measure(() => datasets.settled());
      if (r === 0) firstRun = retrieved.ms;
      else {
        product.push(retrieved);
        withProfile.push({ ms: retrieved.ms + profiling.ms, cpu: retrieved.cpu + profiling.cpu });
      }
      savedCheck ??= await check((await datasets.localParquetPath(ctx, saved.name, saved.version)).path);
      await datasets.deleteVersion(ctx, saved.name, saved.version);
      progress(`run ${r}/${runs}: hand-written ASOF JOIN`);
      const handRawRun = await measure(() => duck.withConnection((c) => c.run(handRawSql)));
      const handRun = await measure(() => duck.withConnection((c) => c.run(handSql)));
      progress(`run ${r}/${runs}: mloop's generated SQL alone, plain and canonical Parquet`);
      const plainRun = await measure(() => duck.withConnection((c) => c.copyToParquet(`SELECT * EXCLUDE (__rid) FROM (${mloopSql})`, plainOut, { compression: 'snappy' })));
      const canonicalRun = await measure(() =>
        duck.withConnection((c) => writeCanonicalQuery(c, { sql: mloopUnordered, order: '__rid', declared, label: 'bench', output: canonicalOut })),
      );
      if (r > 0) {
        hand.push(handRun);
        handRaw.push(handRawRun);
        sqlPlain.push(plainRun);
        sqlCanonical.push(canonicalRun);
      }
    }
    const handCheck = await check(handOut);

    progress('pandas merge_asof');
    const py = spawnSync('/usr/bin/python3', ['-c', PANDAS, String(nEntity), String(nSource), String(SEED), String(ENTITIES), String(T0_S), String(YEAR_S), String(FEATURES), String(TTL_DAYS)], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    const pandas: { ms: number; count: number; sum: number; rows: number } | { skipped: string } =
      py.status === 0 ? JSON.parse(py.stdout.trim().split('\n').pop()!) : { skipped: py.stderr.trim().split('\n').pop() ?? 'python failed' };

    const productP50 = quantile(product.map((r) => r.ms), 0.5);
    const handP50 = quantile(hand.map((r) => r.ms), 0.5);
    const cpuRatio = quantile(product.map((r) => r.cpu), 0.5) / quantile(hand.map((r) => r.cpu), 0.5);
    // Each run's engines ran back to back: the median of the runs' own ratios sees the least of a shared machine's swings.
    const paired = (limit: readonly { ms: number }[]) => round(quantile(product.map((r, i) => r.ms / limit[i].ms), 0.5), 3);
    const same = (a: { count: number; sum: number }, b: { count: number; sum: number }) => a.count === b.count && Math.abs(a.sum - b.sum) <= 1e-9 * Math.abs(b.sum);
    return {
      entity_rows: nEntity,
      feature_rows: nSource,
      features: FEATURES,
      duckdb_threads: Number((await duck.rows<{ t: string }>(`SELECT current_setting('threads') AS t`))[0].t),
      load_average: (await import('node:os')).loadavg().map((x) => round(x, 2)),
      mloop_retrieve_saved_version_ms: summary(product),
      mloop_first_run_ms: round(firstRun!),
      mloop_until_profile_stored_ms: summary(withProfile),
      asof_limit_ms: summary(hand),
      ratio_to_limit: round(productP50 / handP50, 3),
      ratio_to_limit_paired: paired(hand),
      asof_limit_generated_files_ms: summary(handRaw),
      ratio_to_limit_on_generated_files: round(productP50 / quantile(handRaw.map((r) => r.ms), 0.5), 3),
      ratio_to_limit_on_generated_files_paired: paired(handRaw),
      cpu_ratio_to_limit: round(cpuRatio, 3),
      goal_ratio: 1.5,
      mloop_sql_plain_parquet_ms: summary(sqlPlain),
      mloop_sql_canonical_parquet_ms: summary(sqlCanonical),
      ratio_sql_plain_to_limit: round(quantile(sqlPlain.map((r) => r.ms), 0.5) / handP50, 3),
      pandas_merge_asof_ms: 'ms' in pandas ? round(pandas.ms) : pandas,
      ratio_pandas_to_mloop: 'ms' in pandas ? round(pandas.ms / productP50, 3) : null,
      checks: {
        mloop: savedCheck,
        limit: handCheck,
        pandas: 'ms' in pandas ? { rows: pandas.rows, count: pandas.count, sum: pandas.sum } : null,
        mloop_equals_limit: same(savedCheck!, handCheck),
        mloop_equals_pandas: 'ms' in pandas ? same(savedCheck!, pandas) : null,
      },
    };
  } finally {
    await features.close();
    await datasets.close();
    duck.close();
    await metadata.close();
    await dir.cleanup();
  }
}
