/**
 * Point-in-time retrieval: 1,000,000 entity rows against a feature view of 5,000,000 rows and 10
 * features (TTL 30 days), generated from fixed formulas with a seed — so that DuckDB and numpy make
 * identical data without a file between them.
 *
 * 1. mloop: `FeatureStoreService.retrieve` end to end (entity rows loaded, the generated ASOF JOIN SQL
 *    with tie-breaking and TTL, the result written to Parquet and saved as a dataset version).
 * 2. The limit: a hand-written DuckDB ASOF JOIN of the same data with the same TTL, also written to
 *    Parquet, on the same engine settings. Goal: mloop / limit ≤ 1.5. Beside it, mloop's generated
 *    SQL alone (rows kept in entity order), to separate the engine's share from the service's.
 *    Beside them, the same retrieval through the data module's DatasetService (`mloop server`'s
 *    path), where saving the result canonicalizes it as a dataset version.
 * 3. pandas `merge_asof(by=, tolerance=)` (Feast's local offline store approach) on the same data,
 *    sort included, data generation excluded.
 * Each engine's result is checked against the others by count and sum of non-null values.
 *
 * Usage: npm run bench -- pit [entityRows] [featureRows] [runs]
 */
import { spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../src/core/clock.ts';
import { systemContext } from '../src/core/context.ts';
import { DatasetService } from '../src/data/service.ts';
import { DirectoryDatasets, datasetServiceDatasets } from '../src/features/datasets.ts';
import { resolveView } from '../src/features/domain.ts';
import { retrievalSql } from '../src/features/retrieval.ts';
import { Duck } from '../src/features/duck.ts';
import { FeatureStoreService } from '../src/features/service.ts';
import { LineageService } from '../src/lineage/service.ts';
import { LocalBlobStore } from '../src/storage/local/blob-store.ts';
import { SqliteMetadataStore } from '../src/storage/sqlite/metadata-store.ts';
import { SqliteOnlineStore } from '../src/storage/sqlite/online-store.ts';
import { tempDir } from '../test/support/backends.ts';
import { progress, quantile, round, time } from './_stats.ts';

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

export async function main(args: string[]): Promise<unknown> {
  const nEntity = Number(args[0] ?? 1_000_000);
  const nSource = Number(args[1] ?? 5_000_000);
  const runs = Number(args[2] ?? 5);
  const dir = await tempDir('mloop-bench-pit-');
  const duck = await Duck.open();
  const metadata = new SqliteMetadataStore({ path: join(dir.path, 'mloop.db') });
  await metadata.migrate();
  const datasets = new DirectoryDatasets(join(dir.path, 'datasets'));
  const features = new FeatureStoreService({
    metadata,
    online: new SqliteOnlineStore({ path: ':memory:' }),
    closeOnline: true,
    datasets,
    lineage: new LineageService({ metadata, clock: systemClock }),
    clock: systemClock,
    scratchDir: join(dir.path, 'scratch'),
  });
  const ctx = systemContext();
  try {
    progress(`generating ${nSource} feature rows and ${nEntity} entity rows`);
    const srcPath = join(dir.path, 'source.parquet');
    const entPath = join(dir.path, 'entities.parquet');
    await duck.run(`COPY (${sourceSql(nSource)}) TO '${srcPath}' (FORMAT parquet)`);
    await duck.run(`COPY (${entitySql(nEntity)}) TO '${entPath}' (FORMAT parquet)`);
    await datasets.add(ctx, 'driver_stats', srcPath);
    await datasets.add(ctx, 'entity_rows', entPath);
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
    const handSql =
      `COPY (SELECT e.*, ${Array.from({ length: FEATURES }, (_, k) => ttlCase(k)).join(', ')} FROM read_parquet('${entPath}') e ` +
      `ASOF LEFT JOIN read_parquet('${srcPath}') s ON e.driver_id = s.driver_id AND e.event_timestamp >= s.ts) TO '${handOut}' (FORMAT parquet)`;

    // The SQL mloop generates for this view, alone: the engine's share of the service call.
    const view = resolveView(
      { name: 'driver_stats', entities: ['driver'], source: { dataset: 'driver_stats', timestamp: 'ts' }, ttl: TTL_DAYS * 86_400_000, features: Array.from({ length: FEATURES }, (_, k) => ({ name: `f${k}`, type: 'float' as const })) },
      new Map([['driver', { name: 'driver', join_keys: [{ name: 'driver_id', type: 'int' as const }] }]]),
      'bench',
    );
    const sqlOut = join(dir.path, 'sql.parquet');
    const mloopSql = retrievalSql({
      entity: `(SELECT file_row_number AS __rid, * EXCLUDE (file_row_number) FROM read_parquet('${entPath}', file_row_number=true))`,
      timestamp: 'event_timestamp',
      entityColumns: ['driver_id', 'event_timestamp', 'label'],
      views: [{ view, from: `read_parquet('${srcPath}', file_row_number=true)`, features: view.rowFeatures.map((f) => f.spec.name), unique: true }],
    });

    const mloopMs: number[] = [];
    const sqlMs: number[] = [];
    const handMs: number[] = [];
    let saved: { name: string; version: string } | undefined;
    for (let r = 0; r < runs; r++) {
      progress(`run ${r + 1}/${runs}: mloop retrieve`);
      mloopMs.push(await time(async () => {
        saved = (await features.retrieve(ctx, { feature_service: 'model', entity_dataset: 'entity_rows', save_as: 'training' })).dataset;
      }));
      progress(`run ${r + 1}/${runs}: hand-written ASOF JOIN`);
      handMs.push(await time(() => duck.run(handSql)));
      progress(`run ${r + 1}/${runs}: mloop's generated SQL alone`);
      sqlMs.push(await time(() => duck.run(`COPY (SELECT * EXCLUDE (__rid) FROM (${mloopSql})) TO '${sqlOut}' (FORMAT parquet)`)));
    }
    const savedPath = (await datasets.resolve(ctx, saved!.name, saved!.version)).path;
    const check = async (path: string) => {
      const [row] = await duck.rows(`SELECT count(*) AS rows, count(f0) AS count, sum(f0) AS sum FROM read_parquet('${path}')`);
      return { rows: row.rows as number, count: row.count as number, sum: row.sum as number };
    };
    const mloopCheck = await check(savedPath);
    const handCheck = await check(handOut);

    // Once more through the data module's DatasetService, as `mloop server` runs it: the entity rows
    // and the source are canonical dataset versions, and the result is canonicalized when saved.
    progress('mloop retrieve through the DatasetService (upload of both datasets first)');
    const blobs = await new LocalBlobStore(join(dir.path, 'artifacts')).init();
    const dataService = new DatasetService({ metadata, blobs, clock: systemClock, maxUploadBytes: 64 * 1024 ** 3, home: join(dir.path, 'home') });
    const served = new FeatureStoreService({
      metadata,
      online: new SqliteOnlineStore({ path: ':memory:' }),
      closeOnline: true,
      datasets: datasetServiceDatasets(dataService),
      lineage: new LineageService({ metadata, clock: systemClock }),
      clock: systemClock,
      scratchDir: join(dir.path, 'scratch2'),
    });
    let withDatasetService: { ms: number; first_ms: number } | undefined;
    try {
      await dataService.addVersion(ctx, 'driver_stats', createReadStream(srcPath), { format: 'parquet' });
      await dataService.addVersion(ctx, 'entity_rows', createReadStream(entPath), { format: 'parquet' });
      const first = await time(() => served.retrieve(ctx, { feature_service: 'model', entity_dataset: 'entity_rows', save_as: 'training2' }));
      const second = await time(() => served.retrieve(ctx, { feature_service: 'model', entity_dataset: 'entity_rows', save_as: 'training3' }));
      withDatasetService = { ms: round(second), first_ms: round(first) };
    } finally {
      await served.close();
      await dataService.close();
      await blobs.close();
    }

    progress('pandas merge_asof');
    let pandas: { ms: number; count: number; sum: number; rows: number } | { skipped: string };
    const py = spawnSync('/usr/bin/python3', ['-c', PANDAS, String(nEntity), String(nSource), String(SEED), String(ENTITIES), String(T0_S), String(YEAR_S), String(FEATURES), String(TTL_DAYS)], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    pandas = py.status === 0 ? JSON.parse(py.stdout.trim().split('\n').pop()!) : { skipped: py.stderr.trim().split('\n').pop() ?? 'python failed' };

    const mloopP50 = quantile(mloopMs, 0.5);
    const handP50 = quantile(handMs, 0.5);
    const same = (a: { count: number; sum: number }, b: { count: number; sum: number }) => a.count === b.count && Math.abs(a.sum - b.sum) <= 1e-9 * Math.abs(b.sum);
    return {
      entity_rows: nEntity,
      feature_rows: nSource,
      features: FEATURES,
      duckdb_threads: Number((await duck.rows(`SELECT current_setting('threads') AS t`))[0].t),
      mloop_ms: { median: round(mloopP50), runs: mloopMs.map((x) => round(x)) },
      mloop_with_dataset_service_ms: withDatasetService,
      mloop_sql_only_ms: { median: round(quantile(sqlMs, 0.5)), runs: sqlMs.map((x) => round(x)) },
      asof_limit_ms: { median: round(handP50), runs: handMs.map((x) => round(x)) },
      ratio_to_limit: round(mloopP50 / handP50, 3),
      ratio_sql_only_to_limit: round(quantile(sqlMs, 0.5) / handP50, 3),
      mloop_first_run_includes: 'the once-per-dataset-version tie check',
      goal_ratio: 1.5,
      pandas_merge_asof_ms: 'ms' in pandas ? round(pandas.ms) : pandas,
      ratio_pandas_to_mloop: 'ms' in pandas ? round(pandas.ms / mloopP50, 3) : null,
      checks: {
        mloop: mloopCheck,
        limit: handCheck,
        pandas: 'ms' in pandas ? { rows: pandas.rows, count: pandas.count, sum: pandas.sum } : null,
        mloop_equals_limit: same(mloopCheck, handCheck),
        mloop_equals_pandas: 'ms' in pandas ? same(mloopCheck, pandas) : null,
      },
    };
  } finally {
    duck.close();
    await features.close();
    await metadata.close();
    await dir.cleanup();
  }
}
