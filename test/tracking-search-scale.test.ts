/**
 * Run search at scale, on every metadata backend: 10,000 runs, a metric filter and a metric order.
 * Checks the rows against an in-memory oracle and, on SQLite, that the query plan probes indexes
 * instead of scanning. Timings are reported as diagnostics only; they never fail the test.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { systemClock } from '../src/core/clock.ts';
import { systemContext } from '../src/core/context.ts';
import { newHexId } from '../src/core/ids.ts';
import { parseFilter, parseOrderBy } from '../src/core/search/index.ts';
import type { MetadataStore } from '../src/storage/ports.ts';
import { runFilterCondition, runOrderBy } from '../src/tracking/search-sql.ts';
import { TrackingService } from '../src/tracking/service.ts';
import { metadataBackends, type Opened } from './support/backends.ts';

const RUNS = 10_000;

/** A deterministic pseudo-random value in [0, 1) for run `i` and metric `k`. */
function value(i: number, k: number): number {
  return ((i * 7919 + k * 104729) % 10007) / 10007;
}

for (const backend of metadataBackends()) {
  describe(`run search over ${RUNS} runs (${backend.name})`, { skip: backend.skip }, () => {
    let opened: Opened<MetadataStore>;
    let tracking: TrackingService;
    let experimentId: string;
    const expected: { id: string; rmse: number; mae: number; start: number }[] = [];
    before(async () => {
      opened = await backend.open();
      tracking = new TrackingService({ metadata: opened.store, clock: systemClock });
      experimentId = (await tracking.createExperiment(systemContext(), { name: 'scale' })).experiment_id;
      const other = (await tracking.createExperiment(systemContext(), { name: 'scale-other' })).experiment_id;
      // Bulk setup straight into the tables: 20,000 runs (half in another experiment), 2 metrics and a param each.
      await opened.store.transaction(async (trx) => {
        for (const [experiment, offset] of [
          [experimentId, 0],
          [other, RUNS],
        ] as const) {
          for (let start = 0; start < RUNS; start += 1000) {
            const runs = [];
            const metrics = [];
            const params = [];
            for (let i = start; i < start + 1000; i++) {
              const id = newHexId();
              runs.push({ run_uuid: id, experiment_id: Number(experiment), run_name: `r${i}`, user_id: 'u', status: 'FINISHED', start_time: offset + i, end_time: null, lifecycle_stage: 'active', artifact_uri: '', deleted_time: null });
              // Every tenth run has no mae; every hundredth has a NaN rmse.
              const nan = i % 100 === 0;
              metrics.push({ run_uuid: id, key: 'rmse', value: nan ? 0 : value(i, 1), is_nan: nan ? 1 : 0, timestamp: 0, step: 0 });
              if (i % 10 !== 0) metrics.push({ run_uuid: id, key: 'mae', value: value(i, 2), is_nan: 0, timestamp: 0, step: 0 });
              params.push({ run_uuid: id, key: 'model', value: i % 3 === 0 ? 'cnn' : 'gbt' });
              if (experiment === experimentId) expected.push({ id, rmse: nan ? Number.NaN : value(i, 1), mae: i % 10 !== 0 ? value(i, 2) : Number.NaN, start: i });
            }
            await trx.insertInto('runs').values(runs).execute();
            await trx.insertInto('latest_metrics').values(metrics).execute();
            await trx.insertInto('params').values(params).execute();
          }
        }
      });
      await sql`analyze`.execute(opened.store.db);
    });
    after(() => opened?.cleanup());

    it('filters on a metric and orders by another, as an oracle does', async (t) => {
      const started = performance.now();
      const page = await tracking.searchRuns(systemContext(), {
        experiment_ids: [experimentId],
        filter: 'metrics.rmse < 0.5',
        order_by: ['metrics.mae DESC'],
        max_results: 100,
      });
      t.diagnostic(`search took ${(performance.now() - started).toFixed(1)} ms`);
      // Oracle: rmse < 0.5 (NaN never matches); mae descending, missing mae last; then start_time DESC.
      const oracle = expected
        .filter((r) => r.rmse < 0.5)
        .sort((a, b) => {
          const am = Number.isNaN(a.mae) ? 1 : 0;
          const bm = Number.isNaN(b.mae) ? 1 : 0;
          if (am !== bm) return am - bm;
          if (!am && a.mae !== b.mae) return b.mae - a.mae;
          return b.start - a.start;
        });
      assert.deepEqual(
        page.runs.map((r) => r.info.run_id),
        oracle.slice(0, 100).map((r) => r.id),
      );
      assert.ok(page.next_page_token);
      const last = await tracking.searchRuns(systemContext(), {
        experiment_ids: [experimentId],
        filter: 'metrics.rmse < 0.5',
        order_by: ['metrics.mae DESC'],
        max_results: 1000,
        page_token: Buffer.from(`{"offset": ${oracle.length - 50}}`).toString('base64'),
      });
      assert.deepEqual(
        last.runs.map((r) => r.info.run_id),
        oracle.slice(-50).map((r) => r.id),
      );
      assert.equal(last.next_page_token, undefined);
    });

    it('returns a default page of 1,000 full runs', async (t) => {
      const started = performance.now();
      const page = await tracking.searchRuns(systemContext(), {
        experiment_ids: [experimentId],
        filter: "metrics.rmse > 0.1 AND params.model = 'gbt'",
        order_by: ['metrics.rmse ASC'],
      });
      t.diagnostic(`search of a 1,000-run page took ${(performance.now() - started).toFixed(1)} ms`);
      assert.equal(page.runs.length, 1000);
      const values = page.runs.map((r) => r.data.metrics.find((m) => m.key === 'rmse')!.value);
      assert.ok(values.every((v, i) => v > 0.1 && (i === 0 || values[i - 1] <= v)));
      assert.ok(page.runs.every((r) => r.data.params[0].value === 'gbt'));
    });

    it('probes indexes instead of scanning tables (SQLite query plan)', { skip: backend.name !== 'sqlite' && 'query plans are checked on SQLite' }, async () => {
      const parsed = parseFilter('metrics.rmse < 0.5', 'runs');
      const { joins, orderBy } = runOrderBy(parseOrderBy(['metrics.mae DESC'], 'runs'));
      const query = tracking.store.searchRunsSql({
        experimentIds: [Number(experimentId)],
        stages: ['active'],
        conditions: parsed.map((c) => runFilterCondition(c)),
        joins,
        orderBy,
        limit: 101,
        offset: 0,
      });
      const plan = await sql<{ detail: string }>`explain query plan ${query}`.execute(opened.store.db);
      const details = plan.rows.map((r) => r.detail);
      assert.ok(details.some((d) => /SEARCH runs USING INDEX/.test(d)), details.join('\n'));
      assert.ok(details.filter((d) => /SEARCH (f|o0) USING INDEX .*\(run_uuid=\? AND key=\?\)/.test(d)).length >= 2, details.join('\n'));
      assert.ok(!details.some((d) => /^SCAN (runs|latest_metrics|f|o0)\b/.test(d)), details.join('\n'));
    });
  });
}
