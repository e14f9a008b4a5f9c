/**
 * Offline reads: point-in-time retrieval of the selected features onto entity rows, saved as a
 * dataset version, and the skew check, which recomputes logged features the same way and compares.
 */
import type { RequestContext } from '../core/context.ts';
import { MloopError, invalidParam } from '../core/errors.ts';
import { newHexId } from '../core/ids.ts';
import type { ColumnType } from '../data/domain.ts';
import type { DuckDbConnection } from '../storage/duckdb/engine.ts';
import type { FeatureStoreContext, Progress } from './context.ts';
import { exprRows, loadRows } from './duck-values.ts';
import { sqlIdent, sqlString, toSql, type ExprType, type ExprValue } from './expr.ts';
import { coerce, inferType, isoTimestamps } from './request-values.ts';
import { retrievalSql, type RetrievalOnDemand, type RetrievalView } from './retrieval.ts';
import type { FeatureSelector, Selection } from './selection.ts';
import { compareSkew } from './skew.ts';

/** Input of {@link FeatureStoreService.retrieve}. */
export interface RetrieveInput extends FeatureSelector {
  /** Entity rows with keys, event time and any labels / request fields. */
  readonly entity_rows?: readonly Record<string, unknown>[];
  /** Or a dataset of entity rows, `name` or `name@version`. */
  readonly entity_dataset?: string;
  /** Event-time column of the entity rows (default `event_timestamp`). */
  readonly timestamp_column?: string;
  /** Dataset the result is saved as (default `features-<service or "adhoc">`). */
  readonly save_as?: string;
  /** Return up to this many result rows inline (default 0). */
  readonly return_rows?: number;
}

/** What {@link FeatureStoreService.retrieve} answers. */
export interface RetrieveResult {
  readonly dataset: { name: string; version: string };
  readonly row_count: number;
  readonly columns: readonly string[];
  readonly feature_views: readonly { name: string; version: string; dataset: string }[];
  readonly rows?: readonly Record<string, unknown>[];
}

/** Input of {@link FeatureStoreService.skew}. */
export interface SkewInput extends FeatureSelector {
  /** The logged features: a dataset (`name[@version]`) or rows, with keys, event time and feature columns. */
  readonly logged_dataset?: string;
  readonly logged_rows?: readonly Record<string, unknown>[];
  readonly timestamp_column?: string;
  /** Relative tolerance for floats (default 0: exact; NaN equals NaN). */
  readonly tolerance?: number;
}

/** Per-feature result of a skew check. */
export interface SkewFeature {
  readonly feature: string;
  readonly compared: number;
  readonly mismatches: number;
  readonly mismatch_rate: number;
  readonly examples: readonly { row: number; served: unknown; offline: unknown }[];
}

const ENTITY_TS_DEFAULT = 'event_timestamp';

/**
 * Point-in-time retrieval: joins the selected features onto entity rows as of each row's event
 * time, saves the result as a dataset version linked to the feature view versions it used.
 */
export async function retrieveFeatures(env: FeatureStoreContext, ctx: RequestContext, input: RetrieveInput, selection: Selection, onProgress?: (p: Progress) => void): Promise<RetrieveResult> {
  const tsColumn = input.timestamp_column ?? ENTITY_TS_DEFAULT;
  const name = input.save_as ?? `features-${selection.service?.name ?? 'adhoc'}`;
  const entityTable = `entities_${newHexId()}`;
  return env.withConnection(async (conn) => {
    try {
      onProgress?.({ phase: 'load entity rows', done: 0, total: 1 });
      const entities = await loadEntities(env, ctx, conn, entityTable, input, tsColumn, selection);
      const { plan, used, hidden } = await retrievalPlan(env, ctx, conn, selection, entityTable, tsColumn, entities.columns.map((c) => c.name));
      onProgress?.({ phase: 'join features', done: 0, total: 1 });
      // Written once, straight into canonical form, on this connection (which holds the entity rows);
      // the canonical writer puts the rows in entity order.
      const joined = retrievalSql(plan, { ordered: false });
      const sql = hidden.length > 0 ? `SELECT * EXCLUDE (${hidden.map(sqlIdent).join(', ')}) FROM (${joined})` : joined;
      const sources = used.map((u) => ({ name: u.dataset.slice(0, u.dataset.lastIndexOf('@')), version: u.dataset.slice(u.dataset.lastIndexOf('@') + 1) }));
      const parents = [...entities.parents, ...sources].filter((p, i, all) => all.findIndex((q) => q.name === p.name && q.version === p.version) === i);
      const saved = await env.deps.datasets.createDerived(ctx, {
        name,
        parents,
        transformation: {
          kind: 'point_in_time_join',
          params: {
            feature_service: selection.service ?? null,
            features: selection.outputs.map((o) => `${o.view}:${o.feature}`),
            feature_views: used.map((u) => ({ name: u.name, version: u.version })),
            timestamp_column: tsColumn,
          },
        },
        source: { query: { connection: conn, sql, order: '__rid' } },
        // Entity columns keep what is known of them; a feature is null where no value is in time.
        schema: { columns: [...entities.columns, ...selection.outputs.map((o) => ({ name: o.output, nullable: true }))] },
      });
      const version = saved.version;
      const dst = { kind: 'dataset', id: `${name}@${version.version}` };
      await env.deps.lineage.record(ctx, [
        ...used.map((u) => ({ src: { kind: 'feature_view', id: `${u.name}@${u.version}` }, dst, relation: 'retrieved_into' })),
        ...(selection.service ? [{ src: { kind: 'feature_service', id: `${selection.service.name}@${selection.service.version}` }, dst, relation: 'retrieved_into' }] : []),
        ...entities.parents.map((p) => ({ src: { kind: 'dataset', id: `${p.name}@${p.version}` }, dst, relation: 'entity_rows_of' })),
      ]);
      let rows: Record<string, unknown>[] | undefined;
      if (input.return_rows) {
        const { path } = await env.deps.datasets.localParquetPath(ctx, name, version.version);
        const timestamps = new Set(version.schema.columns.filter((c) => c.type === 'timestamp').map((c) => c.name));
        rows = (await exprRows(conn, `SELECT * FROM read_parquet(${sqlString(path)}) LIMIT ${Math.floor(input.return_rows)}`)).map(isoTimestamps(timestamps));
      }
      onProgress?.({ phase: 'done', done: 1, total: 1 });
      return {
        dataset: { name, version: version.version },
        row_count: version.row_count,
        columns: version.schema.columns.map((c) => c.name),
        feature_views: used,
        ...(rows ? { rows } : {}),
      };
    } finally {
      await dropRelation(conn, entityTable);
    }
  });
}

/**
 * Compares feature values that serving logged with an offline recomputation for the same entities
 * and times; reports per-feature mismatch rates. The counting is done in DuckDB, over the
 * recomputation joined to the logged rows (`skew.ts`); only the first mismatching rows of each
 * feature are read, as examples.
 */
export async function checkSkew(env: FeatureStoreContext, ctx: RequestContext, input: SkewInput, selection: Selection): Promise<{ rows: number; features: SkewFeature[] }> {
  const tsColumn = input.timestamp_column ?? ENTITY_TS_DEFAULT;
  const tolerance = input.tolerance ?? 0;
  const logged = `logged_${newHexId()}`;
  return env.withConnection(async (conn) => {
    try {
      const loaded = await loadEntities(env, ctx, conn, logged, { entity_rows: input.logged_rows, entity_dataset: input.logged_dataset }, tsColumn, selection, {
        rows: 'logged_rows',
        dataset: 'logged_dataset',
      });
      const columns = loaded.columns.map((c) => c.name);
      const compared = selection.outputs.filter((o) => columns.includes(o.output));
      if (compared.length === 0) throw invalidParam(input.logged_dataset ? 'logged_dataset' : 'logged_rows', `holds none of the selected features (${selection.outputs.map((o) => o.output).join(', ')})`);
      const keep = columns.filter((c) => !compared.some((o) => o.output === c));
      const { plan } = await retrievalPlan(env, ctx, conn, selection, `(SELECT __rid, ${keep.map(sqlIdent).join(', ')} FROM ${sqlIdent(logged)})`, tsColumn, keep);
      const pairs = compared.map((o, i) => `l.${sqlIdent(o.output)} AS s${i}, r.${sqlIdent(o.output)} AS o${i}`);
      const join = `SELECT r.__rid, ${pairs.join(', ')} FROM (${retrievalSql(plan, { ordered: false })}) r JOIN ${sqlIdent(logged)} l USING (__rid)`;
      const counts = await compareSkew(conn, join, compared.length, tolerance);
      const features = compared.map((o, i) => {
        const { mismatches, examples } = counts.features[i];
        return { feature: o.output, compared: counts.rows, mismatches, mismatch_rate: counts.rows === 0 ? 0 : mismatches / counts.rows, examples };
      });
      return { rows: counts.rows, features };
    } finally {
      await dropRelation(conn, logged);
    }
  });
}

async function retrievalPlan(env: FeatureStoreContext, ctx: RequestContext, conn: DuckDbConnection, selection: Selection, entity: string, tsColumn: string, entityColumns: string[]) {
  const used: { name: string; version: string; dataset: string }[] = [];
  const views: RetrievalView[] = [];
  const outputOf = new Map(selection.outputs.filter((o) => !o.onDemand).map((o) => [`${o.view}:${o.feature}`, o.output]));
  const hidden = new Map<string, string>();
  for (const { resolved, features } of selection.views.values()) {
    const source = await env.resolveDataset(ctx, resolved.spec.source.dataset, resolved.spec.source.version);
    used.push({ name: resolved.name, version: resolved.version, dataset: `${source.name}@${source.version}` });
    const from = `read_parquet(${sqlString(source.path)}, file_row_number=true)`;
    views.push({ view: resolved, from, features, unique: resolved.rowFeatures.length > 0 && (await env.unique(conn, resolved, source.path, from)) });
    for (const f of features) if (!outputOf.has(`${resolved.name}:${f}`)) hidden.set(`${resolved.name}:${f}`, `__in_${resolved.name}__${f}`);
  }
  const nameOf = (view: string, feature: string) => outputOf.get(`${view}:${feature}`) ?? hidden.get(`${view}:${feature}`)!;
  // On-demand expressions read source features by plain name and request fields from the entity rows.
  const onDemand: RetrievalOnDemand[] = selection.onDemand.flatMap((od) => {
    const columnOf = new Map<string, string>();
    for (const s of od.spec.sources) for (const f of selection.views.get(s)!.resolved.spec.features) columnOf.set(f.name, nameOf(s, f.name));
    return od.features.map((f) => ({
      name: f.output,
      expr: { ...f.expr, sql: toSql(f.expr, (c) => sqlIdent(columnOf.get(c) ?? c)) },
    }));
  });
  const plan = { entity, timestamp: tsColumn, entityColumns, views, onDemand, outputName: nameOf };
  // Inputs of on-demand features that were not asked for are dropped from the result.
  return { plan, used, hidden: [...hidden.values()] };
}

/**
 * Loads the entity rows of a retrieval (or the logged rows of a skew check) as relation `table`
 * with a `__rid` column in row order: inline rows into a temporary table, a dataset as a view over
 * its file. Checks that keys, event time and request fields are there with the right types.
 * Returns the columns (with what is known of their nullability, tags and descriptions) and the
 * dataset read, if any.
 */
async function loadEntities(
  env: FeatureStoreContext,
  ctx: RequestContext,
  conn: DuckDbConnection,
  table: string,
  input: RetrieveInput,
  tsColumn: string,
  selection: Selection,
  fields = { rows: 'entity_rows', dataset: 'entity_dataset' },
): Promise<{ columns: EntityColumn[]; parents: { name: string; version: string }[] }> {
  if ((input.entity_rows === undefined) === (input.entity_dataset === undefined)) throw invalidParam(fields.rows, `give either ${fields.rows} or ${fields.dataset}`);
  const required = new Map<string, ExprType>([...selection.keys, ...selection.requestFields, [tsColumn, 'timestamp']]);
  if (input.entity_dataset !== undefined) {
    const at = input.entity_dataset.lastIndexOf('@');
    const name = at === -1 ? input.entity_dataset : input.entity_dataset.slice(0, at);
    const ds = await env.resolveDataset(ctx, name, at === -1 ? undefined : input.entity_dataset.slice(at + 1), fields.dataset);
    const columns = ds.schema.columns;
    const missing = [...required.keys()].filter((k) => !columns.some((c) => c.name === k));
    if (missing.length > 0) throw invalidParam(fields.dataset, `dataset ${name} lacks column(s) ${missing.join(', ')}`);
    const mistyped = columns.filter((c) => required.has(c.name) && !DATASET_TYPES[required.get(c.name)!].includes(c.type));
    if (mistyped.length > 0) {
      throw new MloopError('INVALID_PARAMETER_VALUE', `dataset ${name}: ${mistyped.map((c) => `column "${c.name}" is ${c.type}, expected ${required.get(c.name)}`).join('; ')}`, {
        fields: mistyped.map((c) => ({ field: `${fields.dataset}.${c.name}`, reason: `is ${c.type}, expected ${required.get(c.name)}` })),
      });
    }
    // The file's own row numbers keep the rows in order without copying them.
    await conn.run(`CREATE TEMP VIEW ${sqlIdent(table)} AS SELECT file_row_number AS __rid, * EXCLUDE (file_row_number) FROM read_parquet(${sqlString(ds.path)}, file_row_number=true)`);
    return {
      columns: columns.map((c) => ({ name: c.name, nullable: c.nullable, tags: [...c.tags], ...(c.description ? { description: c.description } : {}) })),
      parents: [{ name, version: ds.version }],
    };
  }
  const rows = input.entity_rows!;
  if (rows.length === 0) throw invalidParam(fields.rows, 'give at least one row');
  const names: string[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    for (const k of Object.keys(row)) {
      if (seen.has(k)) continue;
      seen.add(k);
      names.push(k);
    }
  }
  for (const name of names) {
    // eslint-disable-next-line no-control-regex
    if (name.startsWith('__') || /[\u0000-\u001f]/.test(name) || name.length > 255) {
      throw invalidParam(`${fields.rows}[0].${name}`, 'column names may not start with "__", hold control characters or exceed 255 characters');
    }
  }
  for (const k of [...selection.keys.keys(), tsColumn]) if (!seen.has(k)) throw invalidParam(`${fields.rows}[0].${k}`, 'is required');
  const types = new Map(required);
  for (const name of names) if (!types.has(name)) types.set(name, inferType(rows, name));
  const nullable = new Set<string>();
  const values = rows.map((row, i) => {
    const out: Record<string, ExprValue> = { __rid: i };
    for (const name of names) {
      out[name] = coerce(row[name], types.get(name)!, `${fields.rows}[${i}].${name}`);
      if (out[name] === null) nullable.add(name);
    }
    return out;
  });
  await loadRows(conn, table, [{ name: '__rid', type: 'int' }, ...names.map((name) => ({ name, type: types.get(name)! }))], values);
  return { columns: names.map((name) => ({ name, nullable: nullable.has(name) })), parents: [] };
}

/** Drops a temporary table or view, whichever it is. */
async function dropRelation(conn: DuckDbConnection, name: string): Promise<void> {
  await conn.run(`DROP VIEW IF EXISTS ${sqlIdent(name)}`).catch(() => undefined);
  await conn.run(`DROP TABLE IF EXISTS ${sqlIdent(name)}`).catch(() => undefined);
}

/** An entity column of a retrieval as the saved dataset declares it. */
interface EntityColumn {
  readonly name: string;
  readonly nullable: boolean;
  readonly tags?: readonly string[];
  readonly description?: string;
}

/** Dataset column types that hold a value of each language type. */
const DATASET_TYPES: Readonly<Record<ExprType, readonly ColumnType[]>> = {
  int: ['integer'],
  float: ['float', 'integer'],
  bool: ['boolean'],
  string: ['string'],
  timestamp: ['timestamp'],
};
