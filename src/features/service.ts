/**
 * The feature store's operations: apply definitions, resolve feature selections, offline
 * (point-in-time) retrieval, materialization into the online store, online reads with on-demand
 * features, push, consumers and impact analysis, and the training/serving skew check.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../core/clock.ts';
import type { RequestContext } from '../core/context.ts';
import { MloopError, invalidParam, isMloopError, notFound, type FieldError } from '../core/errors.ts';
import { newHexId } from '../core/ids.ts';
import type { ColumnType, DatasetSchema } from '../data/domain.ts';
import { isLatestMoved, type DatasetService } from '../data/service.ts';
import type { LineageNode, LineageService } from '../lineage/service.ts';
import { sharedDuckDb, type DuckDb, type DuckDbConnection } from '../storage/duckdb/engine.ts';
import type { MetadataStore, OnlineRecord, OnlineStore, OnlineValue, OnlineWrite } from '../storage/ports.ts';
import {
  definitionVersion,
  parseDefinitions,
  resolveView,
  type Definition,
  type DefinitionKind,
  type EntitySpec,
  type FeatureServiceSpec,
  type FeatureViewSpec,
  type OnDemandSpec,
  type ResolvedView,
} from './domain.ts';
import { exprRows, loadRows, type DuckColumn } from './duck-values.ts';
import { compileExpr, sqlIdent, sqlString, toSql, type CompiledExpr, type ExprType, type ExprValue } from './expr.ts';
import { checkEntityColumns, checkSourceRow, coerce, inferType, isoTimestamps, sourceColumns } from './request-values.ts';
import { retrievalSql, tieCheckSql, type RetrievalOnDemand, type RetrievalView } from './retrieval.ts';
import { compareSkew } from './skew.ts';
import { FeatureStoreQueries } from './store.ts';
import { windowValue, type WindowRow } from './windows.ts';

/**
 * What the feature store uses of the data module: the usability gate and local Parquet files of
 * versions (sources, entity rows, logged rows), and derived versions (training sets, pushed rows).
 */
export type FeatureDatasets = Pick<DatasetService, 'assertUsable' | 'localParquetPath' | 'createDerived' | 'deleteVersion'>;

/** What {@link FeatureStoreService} needs. */
export interface FeatureStoreDeps {
  readonly metadata: MetadataStore;
  readonly online: OnlineStore;
  readonly datasets: FeatureDatasets;
  readonly lineage: LineageService;
  readonly clock: Clock;
  /** Folder for scratch files (pushed rows before they are saved into their source dataset). */
  readonly scratchDir: string;
  /** Checks that a model version exists before it is linked (the registry's `getModelVersion`). */
  readonly modelVersionExists?: (ctx: RequestContext, name: string, version: string) => Promise<unknown>;
  /** Close the online store when the service closes (it was opened for it). */
  readonly closeOnline?: boolean;
  /** The DuckDB engine; the process's shared one by default (one buffer pool and thread pool for every module). */
  readonly duck?: DuckDb;
}

/** Status of one online value. */
export type ValueStatus = 'PRESENT' | 'NOT_FOUND' | 'OUTSIDE_MAX_AGE';

/** Which features a request wants: a feature service, or a list of `view:feature` / `view` references. */
export interface FeatureSelector {
  readonly feature_service?: string;
  readonly features?: readonly string[];
  /** Name output columns `view__feature` instead of `feature`. */
  readonly full_feature_names?: boolean;
}

/** One output feature of a selection. */
export interface SelectedFeature {
  readonly view: string;
  readonly feature: string;
  readonly type: ExprType;
  /** Output name (`feature`, or `view__feature` with full names). */
  readonly output: string;
  readonly onDemand: boolean;
}

/** A resolved selection: the views and on-demand views involved, and the output features in order. */
export interface Selection {
  readonly service?: { name: string; version: string };
  readonly outputs: readonly SelectedFeature[];
  /** Feature views with the features to read from them (outputs plus what on-demand features need). */
  readonly views: ReadonlyMap<string, { resolved: ResolvedView; features: string[] }>;
  readonly onDemand: readonly { spec: OnDemandSpec; version: string; features: { name: string; output: string; expr: CompiledExpr }[] }[];
  /** Join keys needed, with types. */
  readonly keys: ReadonlyMap<string, 'int' | 'string'>;
  /** Request fields on-demand features need, with types. */
  readonly requestFields: ReadonlyMap<string, ExprType>;
}

/** Input of {@link FeatureStoreService.getOnlineFeatures}. */
export interface OnlineInput extends FeatureSelector {
  /** Entity keys and request fields as columns: `{ driver_id: [1001, 1002], val_to_add: [1, 2] }`. */
  readonly entities: Readonly<Record<string, readonly unknown[]>>;
}

/** One value of an online answer. */
export interface OnlineFeatureValue {
  readonly value: OnlineValue;
  readonly status: ValueStatus;
  /** Event time of the value (ISO 8601), or null when there is none. */
  readonly event_timestamp: string | null;
}

/** The answer of an online read: per entity row, the values of every selected feature. */
export interface OnlineResult {
  readonly feature_names: readonly string[];
  readonly entity_names: readonly string[];
  readonly rows: readonly { readonly entity: Record<string, unknown>; readonly features: Record<string, OnlineFeatureValue> }[];
}

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

/** Progress of a long operation. */
export interface Progress {
  readonly phase: string;
  readonly view?: string;
  readonly done: number;
  readonly total: number;
}

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

/** Input of {@link FeatureStoreService.push}. */
export interface PushInput {
  readonly feature_view: string;
  /** Source rows (keys, event time, source columns). */
  readonly rows: readonly Record<string, unknown>[];
  /** Where to write (default `online`). */
  readonly to?: 'online' | 'offline' | 'online_and_offline';
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

/** A consumer found by impact analysis. */
export interface Consumer {
  readonly kind: string;
  readonly id: string;
  readonly depth: number;
  readonly via: { kind: string; id: string; relation: string };
}

const ENTITY_TS_DEFAULT = 'event_timestamp';
/** How many times an append is made again on a latest version that moved before it gives up (409). */
const APPEND_ATTEMPTS = 10;
const SELECTION_TTL_MS = 5_000;
const WRITE_BATCH = 2_000;

/** The feature store. */
export class FeatureStoreService {
  readonly queries = new FeatureStoreQueries();
  readonly #selections = new Map<string, { at: number; selection: Selection }>();
  readonly #uniqueSources = new Map<string, boolean>();
  /** The last work queued on each key, for {@link #exclusive}. */
  readonly #queues = new Map<string, Promise<void>>();

  constructor(readonly deps: FeatureStoreDeps) {}

  /** Runs `fn` on a DuckDB connection of its own (its temporary tables go with it). */
  async #withConnection<T>(fn: (conn: DuckDbConnection) => Promise<T>): Promise<T> {
    return (await (this.deps.duck ? Promise.resolve(this.deps.duck) : sharedDuckDb())).withConnection(fn);
  }

  /** Closes the online store when it was opened for this service. */
  async close(): Promise<void> {
    if (this.deps.closeOnline) await this.deps.online.close();
  }

  // ------------------------------------------------------------------ registry

  /**
   * Validates a definitions document (YAML text or an object) and stores every definition whose
   * content changed as a new version, keeping the old ones. All or nothing.
   */
  async apply(ctx: RequestContext, input: string | unknown): Promise<{ results: { kind: DefinitionKind; name: string; version: string; status: 'created' | 'updated' | 'unchanged' }[] }> {
    const doc = parseDefinitions(input);
    const db = this.deps.metadata.db;
    const heads = await this.queries.heads(db, ctx.project);
    const headOf = (kind: DefinitionKind, name: string) => heads.find((h) => h.kind === kind && h.name === name);
    checkUnique(doc.entities, 'entities');
    checkUnique(doc.feature_views, 'feature_views');
    checkUnique(doc.on_demand_feature_views, 'on_demand_feature_views');
    checkUnique(doc.feature_services, 'feature_services');

    const planned: Omit<Definition, 'current' | 'created_at'>[] = [];
    const entities = new Map<string, { spec: EntitySpec; version: string }>();
    for (const h of heads) if (h.kind === 'entity') entities.set(h.name, { spec: h.spec as EntitySpec, version: h.version });
    for (const spec of doc.entities) {
      const version = definitionVersion('entity', spec, {});
      entities.set(spec.name, { spec, version });
      planned.push({ kind: 'entity', name: spec.name, version, spec, refs: {} });
    }
    const entitySpecs = new Map([...entities].map(([k, v]) => [k, v.spec]));

    const views = new Map<string, { spec: FeatureViewSpec; version: string; resolved: ResolvedView }>();
    for (const h of heads) {
      if (h.kind !== 'feature_view' || doc.feature_views.some((v) => v.name === h.name)) continue;
      const spec = h.spec as FeatureViewSpec;
      views.set(h.name, { spec, version: h.version, resolved: resolveView(spec, entitySpecs, h.version) });
    }
    doc.feature_views.forEach((spec, i) => {
      if (doc.on_demand_feature_views.some((o) => o.name === spec.name) || headOf('on_demand_feature_view', spec.name)) {
        throw invalidParam(`feature_views[${i}].name`, `"${spec.name}" is already an on-demand feature view`);
      }
      const refs = Object.fromEntries(spec.entities.map((e) => [`entity:${e}`, entities.get(e)?.version ?? '']));
      const version = definitionVersion('feature_view', spec, refs);
      const resolved = resolveView(spec, entitySpecs, version, `feature_views[${i}]`);
      views.set(spec.name, { spec, version, resolved });
      planned.push({ kind: 'feature_view', name: spec.name, version, spec, refs });
    });

    const onDemand = new Map<string, { spec: OnDemandSpec; version: string }>();
    for (const h of heads) if (h.kind === 'on_demand_feature_view') onDemand.set(h.name, { spec: h.spec as OnDemandSpec, version: h.version });
    doc.on_demand_feature_views.forEach((spec, i) => {
      const columns = onDemandColumns(spec, views, `on_demand_feature_views[${i}]`);
      spec.features.forEach((f, j) => {
        let expr: CompiledExpr;
        try {
          expr = compileExpr(f.expr, columns);
        } catch (error) {
          throw invalidParam(`on_demand_feature_views[${i}].features[${j}].expr`, (error as Error).message);
        }
        if (expr.type !== f.type && !(expr.type === 'int' && f.type === 'float')) {
          throw invalidParam(`on_demand_feature_views[${i}].features[${j}].type`, `expression yields ${expr.type}, declared ${f.type} (use cast)`);
        }
      });
      const refs = Object.fromEntries(spec.sources.map((s) => [`feature_view:${s}`, views.get(s)!.version]));
      const version = definitionVersion('on_demand_feature_view', spec, refs);
      onDemand.set(spec.name, { spec, version });
      planned.push({ kind: 'on_demand_feature_view', name: spec.name, version, spec, refs });
    });

    doc.feature_services.forEach((spec, i) => {
      const refs: Record<string, string> = {};
      spec.features.forEach((ref, j) => {
        const [viewName, feature] = ref.split(':');
        const view = views.get(viewName);
        const od = onDemand.get(viewName);
        if (!view && !od) throw invalidParam(`feature_services[${i}].features[${j}]`, `unknown feature view "${viewName}"`);
        const names = view ? view.spec.features.map((f) => f.name) : od!.spec.features.map((f) => f.name);
        if (feature !== undefined && !names.includes(feature)) {
          throw invalidParam(`feature_services[${i}].features[${j}]`, `feature view "${viewName}" has no feature "${feature}"`);
        }
        if (view) refs[`feature_view:${viewName}`] = view.version;
        else refs[`on_demand_feature_view:${viewName}`] = od!.version;
      });
      const version = definitionVersion('feature_service', spec, refs);
      planned.push({ kind: 'feature_service', name: spec.name, version, spec, refs });
    });

    const now = this.deps.clock.now();
    const results = await this.deps.metadata.transaction(async (trx) => {
      const out: { kind: DefinitionKind; name: string; version: string; status: 'created' | 'updated' | 'unchanged' }[] = [];
      for (const def of planned) {
        const { created, previous } = await this.queries.put(trx, ctx.project, { ...def, created_at: now }, ctx.actor.name, now);
        out.push({ kind: def.kind, name: def.name, version: def.version, status: previous === def.version ? 'unchanged' : created && previous === undefined ? 'created' : 'updated' });
      }
      // Lineage: each definition hangs off what it refers to.
      const edges = planned.flatMap((def) => {
        const dst: LineageNode = { kind: def.kind, id: `${def.name}@${def.version}` };
        const fromRefs = Object.entries(def.refs).map(([ref, version]) => {
          const [kind, name] = ref.split(':');
          return { src: { kind, id: `${name}@${version}` }, dst, relation: 'consumed_by' };
        });
        if (def.kind === 'feature_view') {
          const spec = def.spec as FeatureViewSpec;
          const id = spec.source.version ? `${spec.source.dataset}@${spec.source.version}` : spec.source.dataset;
          fromRefs.push({ src: { kind: 'dataset', id }, dst, relation: 'source_of' });
        }
        return fromRefs;
      });
      await this.deps.lineage.record(ctx, edges, trx);
      return out;
    });
    this.#selections.clear();
    return { results };
  }

  /** The current version of every definition (of one kind when given). */
  list(ctx: RequestContext, kind?: DefinitionKind): Promise<Definition[]> {
    return this.queries.heads(this.deps.metadata.db, ctx.project, kind);
  }

  /** One definition: the current version, or `version` (a sha256 or a unique prefix). */
  async get(ctx: RequestContext, kind: DefinitionKind, name: string, version?: string): Promise<Definition> {
    const def = await this.queries.get(this.deps.metadata.db, ctx.project, kind, name, version);
    if (!def) throw notFound(`${kind.replaceAll('_', ' ')} "${name}"${version ? ` version ${version}` : ''} does not exist`);
    return def;
  }

  /** Every version of a definition, oldest first. */
  async versions(ctx: RequestContext, kind: DefinitionKind, name: string): Promise<Definition[]> {
    const versions = await this.queries.versions(this.deps.metadata.db, ctx.project, kind, name);
    if (versions.length === 0) throw notFound(`${kind.replaceAll('_', ' ')} "${name}" does not exist`);
    return versions;
  }

  // ------------------------------------------------------------------ selections

  /**
   * Resolves a feature service or a feature list into views, on-demand views and output names.
   * Unknown services, views or features give one 400 that names every one of them.
   */
  async select(ctx: RequestContext, selector: FeatureSelector): Promise<Selection> {
    const cacheKey = `${ctx.project}\u0000${selector.feature_service ?? ''}\u0000${(selector.features ?? []).join(',')}\u0000${selector.full_feature_names ? 1 : 0}`;
    const cached = this.#selections.get(cacheKey);
    const now = Date.now();
    if (cached && now - cached.at < SELECTION_TTL_MS) return cached.selection;
    const selection = await this.#select(ctx, selector);
    this.#selections.set(cacheKey, { at: now, selection });
    return selection;
  }

  async #select(ctx: RequestContext, selector: FeatureSelector): Promise<Selection> {
    if ((selector.feature_service === undefined) === (selector.features === undefined)) {
      throw invalidParam('features', 'give either feature_service or features');
    }
    const db = this.deps.metadata.db;
    let refs: readonly string[];
    let service: { name: string; version: string } | undefined;
    let field = 'features';
    if (selector.feature_service !== undefined) {
      const def = await this.queries.get(db, ctx.project, 'feature_service', selector.feature_service);
      if (!def) throw invalidParam('feature_service', `unknown feature service "${selector.feature_service}"`);
      refs = (def.spec as FeatureServiceSpec).features;
      service = { name: def.name, version: def.version };
      field = 'feature_service';
    } else {
      refs = selector.features!;
      if (refs.length === 0) throw invalidParam('features', 'name at least one feature');
    }
    const heads = await this.queries.heads(db, ctx.project);
    const entitySpecs = new Map(heads.filter((h) => h.kind === 'entity').map((h) => [h.name, h.spec as EntitySpec]));
    const viewDefs = new Map(heads.filter((h) => h.kind === 'feature_view').map((h) => [h.name, h]));
    const odDefs = new Map(heads.filter((h) => h.kind === 'on_demand_feature_view').map((h) => [h.name, h]));
    const unknown: FieldError[] = [];
    const outputs: SelectedFeature[] = [];
    const views = new Map<string, { resolved: ResolvedView; features: string[] }>();
    const odSelected = new Map<string, string[]>();
    const useView = (name: string) => {
      let entry = views.get(name);
      if (!entry) {
        const def = viewDefs.get(name)!;
        entry = { resolved: resolveView(def.spec as FeatureViewSpec, entitySpecs, def.version), features: [] };
        views.set(name, entry);
      }
      return entry;
    };
    refs.forEach((ref, i) => {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_][A-Za-z0-9_]*))?$/.exec(ref);
      const where = `${field}[${i}]`;
      if (!m) {
        unknown.push({ field: where, reason: `"${ref}" is not "view:feature"` });
        return;
      }
      const [, viewName, feature] = m;
      const view = viewDefs.get(viewName);
      const od = odDefs.get(viewName);
      if (!view && !od) {
        unknown.push({ field: where, reason: `unknown feature view "${viewName}"` });
        return;
      }
      const specFeatures: { name: string; type: ExprType }[] = view ? (view.spec as FeatureViewSpec).features : (od!.spec as OnDemandSpec).features;
      const wanted = feature === undefined ? specFeatures : specFeatures.filter((f) => f.name === feature);
      if (wanted.length === 0) {
        unknown.push({ field: where, reason: `unknown feature "${ref}"` });
        return;
      }
      for (const f of wanted) {
        const output = selector.full_feature_names ? `${viewName}__${f.name}` : f.name;
        if (outputs.some((o) => o.view === viewName && o.feature === f.name)) continue;
        outputs.push({ view: viewName, feature: f.name, type: f.type, output, onDemand: !view });
        if (view) {
          const entry = useView(viewName);
          if (!entry.features.includes(f.name)) entry.features.push(f.name);
        } else {
          odSelected.set(viewName, [...(odSelected.get(viewName) ?? []), f.name]);
        }
      }
    });
    if (unknown.length > 0) {
      throw new MloopError('INVALID_PARAMETER_VALUE', `unknown features: ${unknown.map((u) => u.reason.replace(/^unknown /, '')).join('; ')}`, { fields: unknown });
    }
    const seen = new Map<string, SelectedFeature>();
    for (const o of outputs) {
      const other = seen.get(o.output);
      if (other) throw invalidParam(field, `features "${other.view}:${other.feature}" and "${o.view}:${o.feature}" share the name "${o.output}"; set full_feature_names`);
      seen.set(o.output, o);
    }
    const onDemand: Selection['onDemand'][number][] = [];
    const requestFields = new Map<string, ExprType>();
    for (const [name, features] of odSelected) {
      const def = odDefs.get(name)!;
      const spec = def.spec as OnDemandSpec;
      const sourceViews = new Map<string, { spec: FeatureViewSpec; version: string; resolved: ResolvedView }>();
      for (const s of spec.sources) {
        const entry = useView(s);
        sourceViews.set(s, { spec: entry.resolved.spec, version: entry.resolved.version, resolved: entry.resolved });
        // On-demand features read every feature of their sources.
        for (const f of entry.resolved.spec.features) if (!entry.features.includes(f.name)) entry.features.push(f.name);
      }
      const columns = onDemandColumns(spec, sourceViews, `on_demand_feature_view ${name}`);
      for (const r of spec.request) requestFields.set(r.name, r.type);
      onDemand.push({
        spec,
        version: def.version,
        features: spec.features.filter((f) => features.includes(f.name)).map((f) => ({
          name: f.name,
          output: outputs.find((o) => o.view === name && o.feature === f.name)!.output,
          expr: compileExpr(f.expr, columns),
        })),
      });
    }
    const keys = new Map<string, 'int' | 'string'>();
    for (const { resolved } of views.values()) for (const k of resolved.keys) keys.set(k.name, k.type);
    return { service, outputs, views, onDemand, keys, requestFields };
  }

  // ------------------------------------------------------------------ online

  /** Reads the latest values of the selected features for each entity row, computing on-demand features. */
  async getOnlineFeatures(ctx: RequestContext, input: OnlineInput): Promise<OnlineResult> {
    const selection = await this.select(ctx, input);
    const { rows, columns } = checkEntityColumns(input.entities, selection.keys, selection.requestFields);
    const now = this.deps.clock.now();
    const results = Array.from({ length: rows }, (_, r) => ({
      entity: Object.fromEntries(columns.map((c) => [c, input.entities[c][r]])) as Record<string, unknown>,
      features: {} as Record<string, OnlineFeatureValue>,
    }));
    // Values of every feature read, by plain name, for on-demand expressions.
    const inputs: Record<string, ExprValue>[] = selection.onDemand.length > 0 ? Array.from({ length: rows }, () => ({})) : [];
    const outputOf = new Map(selection.outputs.filter((o) => !o.onDemand).map((o) => [`${o.view}:${o.feature}`, o.output]));
    const put = (r: number, view: string, f: string, record: OnlineRecord | undefined, stale: boolean) => {
      const present = record !== undefined && f in record.values;
      const value = present && !stale ? record.values[f] : null;
      if (inputs.length > 0) inputs[r][f] = value;
      const output = outputOf.get(`${view}:${f}`);
      if (output === undefined) return;
      results[r].features[output] = {
        value,
        status: !present ? 'NOT_FOUND' : stale ? 'OUTSIDE_MAX_AGE' : 'PRESENT',
        event_timestamp: present ? new Date(record.eventTime).toISOString() : null,
      };
    };
    await Promise.all(
      [...selection.views.values()].map(async ({ resolved, features }) => {
        const keys = Array.from({ length: rows }, (_, r) => entityKey(resolved.keys.map((k) => input.entities[k.name][r])));
        const windowNames = new Set(resolved.windowFeatures.map((w) => w.spec.name));
        const rowWanted = features.filter((f) => !windowNames.has(f));
        const windowWanted = features.filter((f) => windowNames.has(f));
        const [rowRecords, windowRecords] = await Promise.all([
          rowWanted.length > 0 ? this.deps.online.read(onlineTable(ctx.project, resolved.name), keys) : [],
          windowWanted.length > 0 ? this.deps.online.read(onlineWindowTable(ctx.project, resolved.name), keys) : [],
        ]);
        for (let r = 0; r < rows; r++) {
          // A row-level value is as old as its source row: past the TTL it is not served, as offline retrieval would not.
          const record = rowRecords[r];
          const stale = record !== undefined && resolved.ttlMs > 0 && now - record.eventTime > resolved.ttlMs;
          for (const f of rowWanted) put(r, resolved.name, f, record, stale);
          // Window values hold as of the run that computed them; offline retrieval applies no TTL to them either.
          for (const f of windowWanted) put(r, resolved.name, f, windowRecords[r], false);
        }
      }),
    );
    for (const od of selection.onDemand) {
      for (let r = 0; r < rows; r++) {
        const row = inputs[r];
        // As the types declare, like offline retrieval's entity rows: a timestamp sent as ISO text is epoch milliseconds.
        for (const field of od.spec.request) row[field.name] = coerce(input.entities[field.name]?.[r], field.type, `entities.${field.name}[${r}]`);
        for (const f of od.features) results[r].features[f.output] = { value: f.expr.fn(row), status: 'PRESENT', event_timestamp: null };
      }
    }
    return { feature_names: selection.outputs.map((o) => o.output), entity_names: columns, rows: results };
  }

  /**
   * Writes fresh source rows: to the online store (row-level features computed by the same compiled
   * expressions as offline) and/or appended to the view's source dataset as a new version.
   */
  async push(ctx: RequestContext, input: PushInput): Promise<{ online_written: number; online_skipped: number; dataset?: { name: string; version: string } }> {
    const def = await this.queries.get(this.deps.metadata.db, ctx.project, 'feature_view', input.feature_view);
    if (!def) throw invalidParam('feature_view', `unknown feature view "${input.feature_view}"`);
    const view = await this.#resolveView(ctx, def);
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
      const appended = to === 'online' ? undefined : await this.#appendToSource(ctx, view, columns, rows);
      if (to !== 'offline') {
        const table = onlineTable(ctx.project, view.name);
        const writes: OnlineWrite[] = rows.map((row) => ({
          table,
          key: entityKey(view.keys.map((k) => row[k.name])),
          eventTime: row[view.spec.source.timestamp] as number,
          values: Object.fromEntries(view.rowFeatures.map((f) => [f.spec.name, f.expr.fn(row)])),
        }));
        try {
          const result = await this.deps.online.write(writes);
          written = result.written;
          skipped = result.skipped;
        } catch (error) {
          // Both stores or neither: take back the source version this push just made.
          if (appended?.created) await this.deps.datasets.deleteVersion(ctx, appended.name, appended.version).catch(() => undefined);
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
    return this.#exclusive(`${ctx.project}\u0000${view.spec.source.dataset}`, pushed);
  }

  /**
   * Appends rows to the view's source: a new version made of the latest one and the rows, committed
   * only while that is still the latest; when another append (of another process) got in first, made
   * again on the new latest.
   */
  async #appendToSource(ctx: RequestContext, view: ResolvedView, columns: DuckColumn[], rows: Record<string, ExprValue>[]) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#appendOnce(ctx, view, columns, rows);
      } catch (error) {
        if (!isLatestMoved(error) || attempt >= APPEND_ATTEMPTS) throw error;
      }
    }
  }

  async #appendOnce(ctx: RequestContext, view: ResolvedView, columns: DuckColumn[], rows: Record<string, ExprValue>[]) {
    // A view whose source has no version yet gets its first one from the pushed rows.
    const source = await this.#resolveDataset(ctx, view.spec.source.dataset).catch((error: unknown) => {
      if (isMloopError(error) && error.code === 'RESOURCE_DOES_NOT_EXIST') return undefined;
      throw error;
    });
    const table = `push_${newHexId()}`;
    const out = await this.#scratch('push.parquet');
    try {
      await this.#withConnection(async (conn) => {
        await loadRows(conn, table, columns, rows);
        const union = source ? `SELECT * FROM read_parquet(${sqlString(source.path)}) UNION ALL BY NAME SELECT * FROM ${table}` : `SELECT * FROM ${table}`;
        await conn.copyToParquet(union, out, { compression: 'uncompressed' });
      });
      const added = await this.deps.datasets.createDerived(ctx, {
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

  // ------------------------------------------------------------------ offline

  /**
   * Point-in-time retrieval: joins the selected features onto entity rows as of each row's event
   * time, saves the result as a dataset version linked to the feature view versions it used.
   */
  async retrieve(ctx: RequestContext, input: RetrieveInput, onProgress?: (p: Progress) => void): Promise<RetrieveResult> {
    const selection = await this.select(ctx, input);
    const tsColumn = input.timestamp_column ?? ENTITY_TS_DEFAULT;
    const name = input.save_as ?? `features-${selection.service?.name ?? 'adhoc'}`;
    const entityTable = `entities_${newHexId()}`;
    return this.#withConnection(async (conn) => {
      try {
        onProgress?.({ phase: 'load entity rows', done: 0, total: 1 });
        const entities = await this.#loadEntities(ctx, conn, entityTable, input, tsColumn, selection);
        const { plan, used, hidden } = await this.#retrievalPlan(ctx, conn, selection, entityTable, tsColumn, entities.columns.map((c) => c.name));
        onProgress?.({ phase: 'join features', done: 0, total: 1 });
        // Written once, straight into canonical form, on this connection (which holds the entity rows);
        // the canonical writer puts the rows in entity order.
        const joined = retrievalSql(plan, { ordered: false });
        const sql = hidden.length > 0 ? `SELECT * EXCLUDE (${hidden.map(sqlIdent).join(', ')}) FROM (${joined})` : joined;
        const sources = used.map((u) => ({ name: u.dataset.slice(0, u.dataset.lastIndexOf('@')), version: u.dataset.slice(u.dataset.lastIndexOf('@') + 1) }));
        const parents = [...entities.parents, ...sources].filter((p, i, all) => all.findIndex((q) => q.name === p.name && q.version === p.version) === i);
        const saved = await this.deps.datasets.createDerived(ctx, {
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
        await this.deps.lineage.record(ctx, [
          ...used.map((u) => ({ src: { kind: 'feature_view', id: `${u.name}@${u.version}` }, dst, relation: 'retrieved_into' })),
          ...(selection.service ? [{ src: { kind: 'feature_service', id: `${selection.service.name}@${selection.service.version}` }, dst, relation: 'retrieved_into' }] : []),
          ...entities.parents.map((p) => ({ src: { kind: 'dataset', id: `${p.name}@${p.version}` }, dst, relation: 'entity_rows_of' })),
        ]);
        let rows: Record<string, unknown>[] | undefined;
        if (input.return_rows) {
          const { path } = await this.deps.datasets.localParquetPath(ctx, name, version.version);
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

  async #retrievalPlan(ctx: RequestContext, conn: DuckDbConnection, selection: Selection, entity: string, tsColumn: string, entityColumns: string[]) {
    const used: { name: string; version: string; dataset: string }[] = [];
    const views: RetrievalView[] = [];
    const outputOf = new Map(selection.outputs.filter((o) => !o.onDemand).map((o) => [`${o.view}:${o.feature}`, o.output]));
    const hidden = new Map<string, string>();
    for (const { resolved, features } of selection.views.values()) {
      const source = await this.#resolveDataset(ctx, resolved.spec.source.dataset, resolved.spec.source.version);
      used.push({ name: resolved.name, version: resolved.version, dataset: `${source.name}@${source.version}` });
      const from = `read_parquet(${sqlString(source.path)}, file_row_number=true)`;
      views.push({ view: resolved, from, features, unique: resolved.rowFeatures.length > 0 && (await this.#unique(conn, resolved, source.path, from)) });
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
  async #loadEntities(
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
      const ds = await this.#resolveDataset(ctx, name, at === -1 ? undefined : input.entity_dataset.slice(at + 1), fields.dataset);
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

  /**
   * A dataset version (the latest when `version` is absent) with a local file DuckDB can read. A
   * version whose validation failed is refused (INVALID_STATE, as training refuses it): sources,
   * entity rows and logged rows all pass this gate; `field` is the request field that named the
   * dataset (entity_dataset, logged_dataset), which the refusal then names.
   */
  async #resolveDataset(ctx: RequestContext, name: string, version?: string, field?: string): Promise<{ name: string; version: string; path: string; schema: DatasetSchema }> {
    const usable = await this.deps.datasets.assertUsable(ctx, name, version ?? 'latest', field ? { field } : {});
    const found = await this.deps.datasets.localParquetPath(ctx, name, usable.version);
    return { name, ...found };
  }

  // ------------------------------------------------------------------ materialization

  /**
   * Writes the latest values of each view as of `end` into the online store: for row-level features
   * the newest source row per entity with event time in (start, end], stamped with that row's event
   * time; window features as of `end` for every entity with a row at or before `end` (empty windows
   * included), stamped `end`, in a table of their own. Incremental runs start at the view's
   * high-water mark.
   */
  async materialize(ctx: RequestContext, input: MaterializeInput, onProgress?: (p: Progress) => void): Promise<{ views: MaterializeViewResult[] }> {
    const end = input.end ?? this.deps.clock.now();
    if (input.start !== undefined && input.start >= end) throw invalidParam('start', `start (${new Date(input.start).toISOString()}) must be before end (${new Date(end).toISOString()})`);
    const heads = await this.queries.heads(this.deps.metadata.db, ctx.project, 'feature_view');
    let defs = heads.filter((h) => (h.spec as FeatureViewSpec).online !== false);
    if (input.views && input.views.length > 0) {
      const unknown = input.views.filter((v) => !heads.some((h) => h.name === v));
      if (unknown.length > 0) throw invalidParam('views', `unknown feature view(s): ${unknown.join(', ')}`);
      defs = heads.filter((h) => input.views!.includes(h.name));
    }
    const results: MaterializeViewResult[] = [];
    for (const def of defs) results.push(await this.#materializeView(ctx, def, input, end, onProgress));
    return { views: results };
  }

  async #materializeView(ctx: RequestContext, def: Definition, input: MaterializeInput, end: number, onProgress?: (p: Progress) => void): Promise<MaterializeViewResult> {
    const view = await this.#resolveView(ctx, def);
    const db = this.deps.metadata.db;
    const mark = await this.queries.materialization(db, ctx.project, view.name, view.version);
    const start = input.start ?? (input.incremental && mark ? Number(mark.high_water) : undefined);
    const source = await this.#resolveDataset(ctx, view.spec.source.dataset, view.spec.source.version);
    const from = `read_parquet(${sqlString(source.path)}, file_row_number=true)`;
    const writes = await this.#withConnection(async (conn) => {
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
        for (const [key, values] of await this.#windowValues(conn, view, from, end)) out.push({ table, key, eventTime: end, values });
      }
      return out;
    });
    let written = 0;
    let skipped = 0;
    const entities = new Set(writes.map((w) => w.key)).size;
    for (let i = 0; i < writes.length; i += WRITE_BATCH) {
      const result = await this.deps.online.write(writes.slice(i, i + WRITE_BATCH));
      written += result.written;
      skipped += result.skipped;
      onProgress?.({ phase: 'write online', view: view.name, done: Math.min(i + WRITE_BATCH, writes.length), total: writes.length });
    }
    if (writes.length === 0) onProgress?.({ phase: 'write online', view: view.name, done: 0, total: 0 });
    const now = this.deps.clock.now();
    await this.queries.markMaterialized(db, {
      project: ctx.project,
      view: view.name,
      view_version: view.version,
      high_water: end,
      last_start: start ?? null,
      rows_written: written,
      dataset_version: source.version,
      updated_at: now,
    });
    await this.deps.lineage.record(ctx, [
      { src: { kind: 'dataset', id: `${source.name}@${source.version}` }, dst: { kind: 'feature_view', id: `${view.name}@${view.version}` }, relation: 'materialized_into' },
    ]);
    return { view: view.name, version: view.version, dataset: { name: source.name, version: source.version }, start: start ?? null, end, entities, written, skipped };
  }

  /**
   * Window features as of `end` of every entity with a source row at or before `end`, computed by the
   * TypeScript window path; an entity whose windows hold no row gets their empty values (count 0,
   * the rest null), as offline retrieval gives.
   */
  async #windowValues(conn: DuckDbConnection, view: ResolvedView, from: string, end: number): Promise<Map<string, Record<string, OnlineValue>>> {
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

  // ------------------------------------------------------------------ consumers and impact

  /** Records that a model version consumes a feature service (its current version); for the training step. */
  async linkModelVersion(ctx: RequestContext, input: { model: string; version: string | number; feature_service: string }): Promise<{ feature_service: { name: string; version: string }; model_version: string }> {
    const service = await this.queries.get(this.deps.metadata.db, ctx.project, 'feature_service', input.feature_service);
    if (!service) throw invalidParam('feature_service', `unknown feature service "${input.feature_service}"`);
    await this.deps.modelVersionExists?.(ctx, input.model, String(input.version));
    const id = `${input.model}/${input.version}`;
    await this.deps.lineage.record(ctx, [
      { src: { kind: 'feature_service', id: `${service.name}@${service.version}` }, dst: { kind: 'model_version', id }, relation: 'consumed_by' },
    ]);
    return { feature_service: { name: service.name, version: service.version }, model_version: id };
  }

  /** Everything downstream of any version of feature view `name`: services, on-demand views, models, deployments, training sets. */
  async impact(ctx: RequestContext, name: string): Promise<{ feature_view: string; versions: string[]; consumers: Consumer[] }> {
    const versions = await this.queries.viewVersions(this.deps.metadata.db, ctx.project, name);
    if (versions.length === 0) throw notFound(`feature view "${name}" does not exist`);
    const reached = await this.deps.lineage.downstream(ctx, versions.map((v) => ({ kind: 'feature_view', id: `${name}@${v}` })));
    return {
      feature_view: name,
      versions,
      consumers: reached.map((r) => ({ kind: r.node.kind, id: r.node.id, depth: r.depth, via: { kind: r.via.src.kind, id: r.via.src.id, relation: r.via.relation } })),
    };
  }

  // ------------------------------------------------------------------ skew

  /**
   * Compares feature values that serving logged with an offline recomputation for the same entities
   * and times; reports per-feature mismatch rates. The counting is done in DuckDB, over the
   * recomputation joined to the logged rows (`skew.ts`); only the first mismatching rows of each
   * feature are read, as examples.
   */
  async skew(ctx: RequestContext, input: SkewInput): Promise<{ rows: number; features: SkewFeature[] }> {
    const selection = await this.select(ctx, input);
    const tsColumn = input.timestamp_column ?? ENTITY_TS_DEFAULT;
    const tolerance = input.tolerance ?? 0;
    const logged = `logged_${newHexId()}`;
    return this.#withConnection(async (conn) => {
      try {
        const loaded = await this.#loadEntities(ctx, conn, logged, { entity_rows: input.logged_rows, entity_dataset: input.logged_dataset }, tsColumn, selection, {
          rows: 'logged_rows',
          dataset: 'logged_dataset',
        });
        const columns = loaded.columns.map((c) => c.name);
        const compared = selection.outputs.filter((o) => columns.includes(o.output));
        if (compared.length === 0) throw invalidParam(input.logged_dataset ? 'logged_dataset' : 'logged_rows', `holds none of the selected features (${selection.outputs.map((o) => o.output).join(', ')})`);
        const keep = columns.filter((c) => !compared.some((o) => o.output === c));
        const { plan } = await this.#retrievalPlan(ctx, conn, selection, `(SELECT __rid, ${keep.map(sqlIdent).join(', ')} FROM ${sqlIdent(logged)})`, tsColumn, keep);
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

  // ------------------------------------------------------------------ helpers

  async #resolveView(ctx: RequestContext, def: Definition): Promise<ResolvedView> {
    const entities = await this.queries.heads(this.deps.metadata.db, ctx.project, 'entity');
    return resolveView(def.spec as FeatureViewSpec, new Map(entities.map((e) => [e.name, e.spec as EntitySpec])), def.version);
  }

  /**
   * Whether no two rows of a source share join keys and event time. Dataset versions never change
   * (they are named by content), so the answer is kept for the life of the process.
   */
  async #unique(conn: DuckDbConnection, view: ResolvedView, path: string, from: string): Promise<boolean> {
    const key = `${path}\u0000${view.keys.map((k) => k.name).join(',')}\u0000${view.spec.source.timestamp}`;
    let answer = this.#uniqueSources.get(key);
    if (answer === undefined) {
      const [{ ties }] = await exprRows(conn, tieCheckSql(view, from));
      answer = ties === 0;
      this.#uniqueSources.set(key, answer);
    }
    return answer;
  }

  /** Runs `fn` once the work queued on `key` before it has finished: one at a time per key. */
  async #exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#queues.get(key) ?? Promise.resolve();
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    const queued = before.then(() => done);
    this.#queues.set(key, queued);
    await before;
    try {
      return await fn();
    } finally {
      release();
      if (this.#queues.get(key) === queued) this.#queues.delete(key);
    }
  }

  async #scratch(name: string): Promise<string> {
    await mkdir(this.deps.scratchDir, { recursive: true });
    return join(this.deps.scratchDir, `${newHexId()}-${name}`);
  }
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

/** The online-store table of a view's row-level features, each record stamped with its source row's event time. */
export function onlineTable(project: string, view: string): string {
  return `${project}/${view}`;
}

/**
 * The online-store table of a view's window features, each record stamped with the end of the run
 * that computed it. Apart from the row-level table so that neither replaces the other's values or
 * time. No view name holds `#`, so this never names another view's table.
 */
export function onlineWindowTable(project: string, view: string): string {
  return `${project}/${view}#windows`;
}

/** The online-store key of an entity: its join-key values as a JSON array. */
export function entityKey(values: readonly unknown[]): string {
  return JSON.stringify(values);
}

function checkUnique(items: readonly { name: string }[], field: string): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (seen.has(item.name)) throw invalidParam(`${field}[${i}].name`, `"${item.name}" is defined twice`);
    seen.add(item.name);
  });
}

function onDemandColumns(
  spec: OnDemandSpec,
  views: ReadonlyMap<string, { spec: FeatureViewSpec }>,
  where: string,
): Record<string, ExprType> {
  const columns: Record<string, ExprType> = {};
  const from = new Map<string, string>();
  spec.sources.forEach((s, i) => {
    const view = views.get(s);
    if (!view) throw invalidParam(`${where}.sources[${i}]`, `unknown feature view "${s}"`);
    for (const f of view.spec.features) {
      if (from.has(f.name)) throw invalidParam(`${where}.sources[${i}]`, `feature "${f.name}" is in both "${from.get(f.name)}" and "${s}"`);
      from.set(f.name, s);
      columns[f.name] = f.type;
    }
  });
  spec.request.forEach((r, i) => {
    if (columns[r.name]) throw invalidParam(`${where}.request[${i}].name`, `"${r.name}" is also a feature of "${from.get(r.name)}"`);
    columns[r.name] = r.type;
  });
  return columns;
}
