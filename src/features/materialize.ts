/**
 * Materialization: the latest values of each view as of a time, computed from its source dataset and
 * written into the online store in batches, with the view's high-water mark and lineage.
 */
import type { RequestContext } from '../core/context.ts';
import { invalidParam } from '../core/errors.ts';
import type { DuckDbConnection } from '../storage/duckdb/engine.ts';
import type { OnlineValue, OnlineWrite } from '../storage/ports.ts';
import type { FeatureStoreContext, Progress } from './context.ts';
import type { Definition, FeatureViewSpec, ResolvedView } from './domain.ts';
import { exprRows } from './duck-values.ts';
import { sqlIdent, sqlString, type ExprValue } from './expr.ts';
import { entityKey, onlineTable, onlineWindowTable } from './online.ts';
import { windowValue, type WindowRow } from './windows.ts';

/** Input of {@link FeatureStoreService.materialize}. */
export interface MaterializeInput {
  /** Views to materialize (default: every view with `online` not false). */
  readonly views?: readonly string[];
  /** Event-time interval (epoch ms or ISO); `end` defaults to the clock's now. */
  readonly start?: number;
  readonly end?: number;
  /** Start from each view's high-water mark (the end of its last run). */
  readonly incremental?: boolean;
}

/** What one view's materialization did. */
export interface MaterializeViewResult {
  readonly view: string;
  readonly version: string;
  readonly dataset: { name: string; version: string };
  readonly start: number | null;
  readonly end: number;
  /** Entities written (row-level values, window values or both). */
  readonly entities: number;
  /** Records stored: per entity one of row-level values and one of window values, where the view has them. */
  readonly written: number;
  /** Records not stored because the online store holds a newer one. */
  readonly skipped: number;
}

const WRITE_BATCH = 2_000;

/**
 * Writes the latest values of each view as of `end` into the online store: for row-level features
 * the newest source row per entity with event time in (start, end], stamped with that row's event
 * time; window features as of `end` for every entity with a row at or before `end` (empty windows
 * included), stamped `end`, in a table of their own. Incremental runs start at the view's
 * high-water mark.
 */
export async function materializeViews(env: FeatureStoreContext, ctx: RequestContext, input: MaterializeInput, onProgress?: (p: Progress) => void): Promise<{ views: MaterializeViewResult[] }> {
  const end = input.end ?? env.deps.clock.now();
  if (input.start !== undefined && input.start >= end) throw invalidParam('start', `start (${new Date(input.start).toISOString()}) must be before end (${new Date(end).toISOString()})`);
  const heads = await env.queries.heads(env.deps.metadata.db, ctx.project, 'feature_view');
  let defs = heads.filter((h) => (h.spec as FeatureViewSpec).online !== false);
  if (input.views && input.views.length > 0) {
    const unknown = input.views.filter((v) => !heads.some((h) => h.name === v));
    if (unknown.length > 0) throw invalidParam('views', `unknown feature view(s): ${unknown.join(', ')}`);
    defs = heads.filter((h) => input.views!.includes(h.name));
  }
  const results: MaterializeViewResult[] = [];
  for (const def of defs) results.push(await materializeView(env, ctx, def, input, end, onProgress));
  return { views: results };
}

async function materializeView(env: FeatureStoreContext, ctx: RequestContext, def: Definition, input: MaterializeInput, end: number, onProgress?: (p: Progress) => void): Promise<MaterializeViewResult> {
  const view = await env.resolveView(ctx, def);
  const db = env.deps.metadata.db;
  const mark = await env.queries.materialization(db, ctx.project, view.name, view.version);
  const start = input.start ?? (input.incremental && mark ? Number(mark.high_water) : undefined);
  const source = await env.resolveDataset(ctx, view.spec.source.dataset, view.spec.source.version);
  const from = `read_parquet(${sqlString(source.path)}, file_row_number=true)`;
  const writes = await env.withConnection(async (conn) => {
    const out: OnlineWrite[] = [];
    if (view.rowFeatures.length > 0) {
      const table = onlineTable(ctx.project, view.name);
      const keys = view.keys.map((k) => sqlIdent(k.name)).join(', ');
      // As TIMESTAMPTZ, which datasets hold: a cast to TIMESTAMP would convert every row through ICU.
      const ts = `CAST(${sqlIdent(view.spec.source.timestamp)} AS TIMESTAMPTZ)`;
      const feats = view.rowFeatures.map((f) => `${f.expr.type === 'timestamp' ? `epoch_ms(${f.expr.sql})` : f.expr.sql} AS ${sqlIdent(f.spec.name)}`).join(', ');
      const where = [`epoch_us(${ts}) <= ${Math.round(end) * 1000}`, ...(start !== undefined ? [`epoch_us(${ts}) > ${Math.round(start) * 1000}`] : [])].join(' AND ');
      const sql =
        `SELECT ${view.keys.map((k) => `CAST(${sqlIdent(k.name)} AS ${k.type === 'int' ? 'BIGINT' : 'VARCHAR'}) AS ${sqlIdent(k.name)}`).join(', ')}, ` +
        `epoch_ms(${ts}) AS __t, ${feats} FROM ${from} WHERE ${where} ` +
        `QUALIFY row_number() OVER (PARTITION BY ${keys} ORDER BY ${ts} DESC, file_row_number DESC) = 1`;
      for (const row of await exprRows(conn, sql)) {
        const key = entityKey(view.keys.map((k) => row[k.name]));
        // The row's own event time: the TTL of online reads counts from it, as offline retrieval's does.
        out.push({ table, key, eventTime: row.__t as number, values: Object.fromEntries(view.rowFeatures.map((f) => [f.spec.name, row[f.spec.name]])) });
      }
    }
    if (view.windowFeatures.length > 0) {
      const table = onlineWindowTable(ctx.project, view.name);
      for (const [key, values] of await windowValues(conn, view, from, end)) out.push({ table, key, eventTime: end, values });
    }
    return out;
  });
  let written = 0;
  let skipped = 0;
  const entities = new Set(writes.map((w) => w.key)).size;
  for (let i = 0; i < writes.length; i += WRITE_BATCH) {
    const result = await env.deps.online.write(writes.slice(i, i + WRITE_BATCH));
    written += result.written;
    skipped += result.skipped;
    onProgress?.({ phase: 'write online', view: view.name, done: Math.min(i + WRITE_BATCH, writes.length), total: writes.length });
  }
  if (writes.length === 0) onProgress?.({ phase: 'write online', view: view.name, done: 0, total: 0 });
  const now = env.deps.clock.now();
  await env.queries.markMaterialized(db, {
    project: ctx.project,
    view: view.name,
    view_version: view.version,
    high_water: end,
    last_start: start ?? null,
    rows_written: written,
    dataset_version: source.version,
    updated_at: now,
  });
  await env.deps.lineage.record(ctx, [
    { src: { kind: 'dataset', id: `${source.name}@${source.version}` }, dst: { kind: 'feature_view', id: `${view.name}@${view.version}` }, relation: 'materialized_into' },
  ]);
  return { view: view.name, version: view.version, dataset: { name: source.name, version: source.version }, start: start ?? null, end, entities, written, skipped };
}

/**
 * Window features as of `end` of every entity with a source row at or before `end`, computed by the
 * TypeScript window path; an entity whose windows hold no row gets their empty values (count 0,
 * the rest null), as offline retrieval gives.
 */
async function windowValues(conn: DuckDbConnection, view: ResolvedView, from: string, end: number): Promise<Map<string, Record<string, OnlineValue>>> {
  const keys = view.keys.map((k) => `CAST(${sqlIdent(k.name)} AS ${k.type === 'int' ? 'BIGINT' : 'VARCHAR'}) AS ${sqlIdent(k.name)}`).join(', ');
  const ts = `epoch_ms(CAST(${sqlIdent(view.spec.source.timestamp)} AS TIMESTAMPTZ))`;
  const args = view.windowFeatures.map((w, n) => `${w.expr ? w.expr.sql : 'NULL'} AS __a${n}`).join(', ');
  const maxWindow = Math.max(0, ...view.windowFeatures.map((w) => w.agg.window ?? 0));
  const maxLast = Math.max(0, ...view.windowFeatures.map((w) => w.agg.last ?? 0));
  const partition = view.keys.map((k) => sqlIdent(k.name)).join(', ');
  const sql =
    `SELECT * FROM (SELECT ${keys}, ${ts} AS __t, file_row_number AS __seq, ${args}, ` +
    `row_number() OVER (PARTITION BY ${partition} ORDER BY ${ts} DESC, file_row_number DESC) AS __rn FROM ${from} WHERE ${ts} <= ${end}) ` +
    // The newest row of each entity is always read, so that an entity whose windows are empty is still seen.
    `WHERE __t > ${end - maxWindow} OR __rn <= ${Math.max(1, maxLast)} ORDER BY ${partition}, __t, __seq`;
  const rows = await exprRows(conn, sql);
  const byEntity = new Map<string, Record<string, ExprValue>[]>();
  for (const row of rows) {
    const key = entityKey(view.keys.map((k) => row[k.name]));
    let list = byEntity.get(key);
    if (!list) byEntity.set(key, (list = []));
    list.push(row);
  }
  const out = new Map<string, Record<string, OnlineValue>>();
  for (const [key, list] of byEntity) {
    const values: Record<string, OnlineValue> = {};
    view.windowFeatures.forEach((w, n) => {
      const windowRows: WindowRow[] = list.map((r) => ({ t: r.__t as number, seq: r.__seq as number, value: w.expr ? r[`__a${n}`] : 1 }));
      values[w.spec.name] = windowValue(w.agg, windowRows, end);
    });
    out.set(key, values);
  }
  return out;
}
