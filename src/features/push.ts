/**
 * Push: fresh source rows written to the online store and/or appended to the view's source dataset,
 * both or neither.
 */
import { rm } from 'node:fs/promises';
import type { RequestContext } from '../core/context.ts';
import { invalidParam, isMloopError } from '../core/errors.ts';
import { newHexId } from '../core/ids.ts';
import { isLatestMoved } from '../data/service.ts';
import type { OnlineWrite } from '../storage/ports.ts';
import type { FeatureStoreContext } from './context.ts';
import type { ResolvedView } from './domain.ts';
import { loadRows, type DuckColumn } from './duck-values.ts';
import { sqlString, type ExprValue } from './expr.ts';
import { entityKey, onlineTable } from './online.ts';
import { checkSourceRow, sourceColumns } from './request-values.ts';

/** Input of {@link FeatureStoreService.push}. */
export interface PushInput {
  readonly feature_view: string;
  /** Source rows (keys, event time, source columns). */
  readonly rows: readonly Record<string, unknown>[];
  /** Where to write (default `online`). */
  readonly to?: 'online' | 'offline' | 'online_and_offline';
}

/** What a push wrote: online records stored and skipped, and the source version it made, if any. */
export interface PushResult {
  readonly online_written: number;
  readonly online_skipped: number;
  readonly dataset?: { name: string; version: string };
}

/** How many times an append is made again on a latest version that moved before it gives up (409). */
const APPEND_ATTEMPTS = 10;

/**
 * Writes fresh source rows: to the online store (row-level features computed by the same compiled
 * expressions as offline) and/or appended to the view's source dataset as a new version.
 */
export async function pushRows(env: FeatureStoreContext, ctx: RequestContext, input: PushInput): Promise<PushResult> {
  const def = await env.queries.get(env.deps.metadata.db, ctx.project, 'feature_view', input.feature_view);
  if (!def) throw invalidParam('feature_view', `unknown feature view "${input.feature_view}"`);
  const view = await env.resolveView(ctx, def);
  const to = input.to ?? 'online';
  if (view.windowFeatures.length > 0 && to !== 'offline') {
    throw invalidParam('feature_view', `feature view "${view.name}" has window features, which need history: push to "offline" and materialize`);
  }
  const columns = sourceColumns(view);
  const rows = input.rows.map((row, i) => checkSourceRow(row, columns, `rows[${i}]`));
  if (rows.length === 0) throw invalidParam('rows', 'push at least one row');
  const pushed = async () => {
    let written = 0;
    let skipped = 0;
    const appended = to === 'online' ? undefined : await appendToSource(env, ctx, view, columns, rows);
    if (to !== 'offline') {
      const table = onlineTable(ctx.project, view.name);
      const writes: OnlineWrite[] = rows.map((row) => ({
        table,
        key: entityKey(view.keys.map((k) => row[k.name])),
        eventTime: row[view.spec.source.timestamp] as number,
        values: Object.fromEntries(view.rowFeatures.map((f) => [f.spec.name, f.expr.fn(row)])),
      }));
      try {
        const result = await env.deps.online.write(writes);
        written = result.written;
        skipped = result.skipped;
      } catch (error) {
        // Both stores or neither: take back the source version this push just made.
        if (appended?.created) await env.deps.datasets.deleteVersion(ctx, appended.name, appended.version).catch(() => undefined);
        throw error;
      }
    }
    const dataset = appended ? { name: appended.name, version: appended.version } : undefined;
    return { online_written: written, online_skipped: skipped, ...(dataset ? { dataset } : {}) };
  };
  if (to === 'online') return pushed();
  // Pushes to one source take turns in this process, each holding it through its online write and
  // any taking back, so none builds on a version another is about to take back. Between processes
  // the commit's check that the latest version did not move keeps appends from losing rows.
  return env.exclusive(`${ctx.project}\u0000${view.spec.source.dataset}`, pushed);
}

/**
 * Appends rows to the view's source: a new version made of the latest one and the rows, committed
 * only while that is still the latest; when another append (of another process) got in first, made
 * again on the new latest.
 */
async function appendToSource(env: FeatureStoreContext, ctx: RequestContext, view: ResolvedView, columns: DuckColumn[], rows: Record<string, ExprValue>[]) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await appendOnce(env, ctx, view, columns, rows);
    } catch (error) {
      if (!isLatestMoved(error) || attempt >= APPEND_ATTEMPTS) throw error;
    }
  }
}

async function appendOnce(env: FeatureStoreContext, ctx: RequestContext, view: ResolvedView, columns: DuckColumn[], rows: Record<string, ExprValue>[]) {
  // A view whose source has no version yet gets its first one from the pushed rows.
  const source = await env.resolveDataset(ctx, view.spec.source.dataset).catch((error: unknown) => {
    if (isMloopError(error) && error.code === 'RESOURCE_DOES_NOT_EXIST') return undefined;
    throw error;
  });
  const table = `push_${newHexId()}`;
  const out = await env.scratch('push.parquet');
  try {
    await env.withConnection(async (conn) => {
      await loadRows(conn, table, columns, rows);
      const union = source ? `SELECT * FROM read_parquet(${sqlString(source.path)}) UNION ALL BY NAME SELECT * FROM ${table}` : `SELECT * FROM ${table}`;
      await conn.copyToParquet(union, out, { compression: 'uncompressed' });
    });
    const added = await env.deps.datasets.createDerived(ctx, {
      name: view.spec.source.dataset,
      parents: source ? [{ name: source.name, version: source.version }] : [],
      transformation: { kind: 'feature_push', params: { feature_view: view.name, rows: rows.length } },
      source: { parquetPath: out },
      ifLatest: source?.version ?? null,
    });
    return { name: view.spec.source.dataset, version: added.version.version, created: added.created };
  } finally {
    await rm(out, { force: true });
  }
}
