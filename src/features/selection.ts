/**
 * Feature selections: which views, on-demand views and output names a feature service or a list of
 * feature references stands for.
 */
import type { RequestContext } from '../core/context.ts';
import { MloopError, invalidParam, type FieldError } from '../core/errors.ts';
import type { FeatureStoreContext } from './context.ts';
import { resolveView, type EntitySpec, type FeatureServiceSpec, type FeatureViewSpec, type OnDemandSpec, type ResolvedView } from './domain.ts';
import { compileExpr, type CompiledExpr, type ExprType } from './expr.ts';

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

/**
 * Resolves a feature service or a feature list into views, on-demand views and output names.
 * Unknown services, views or features give one 400 that names every one of them.
 */
export async function resolveSelection(env: FeatureStoreContext, ctx: RequestContext, selector: FeatureSelector): Promise<Selection> {
  if ((selector.feature_service === undefined) === (selector.features === undefined)) {
    throw invalidParam('features', 'give either feature_service or features');
  }
  const db = env.deps.metadata.db;
  let refs: readonly string[];
  let service: { name: string; version: string } | undefined;
  let field = 'features';
  if (selector.feature_service !== undefined) {
    const def = await env.queries.get(db, ctx.project, 'feature_service', selector.feature_service);
    if (!def) throw invalidParam('feature_service', `unknown feature service "${selector.feature_service}"`);
    refs = (def.spec as FeatureServiceSpec).features;
    service = { name: def.name, version: def.version };
    field = 'feature_service';
  } else {
    refs = selector.features!;
    if (refs.length === 0) throw invalidParam('features', 'name at least one feature');
  }
  const heads = await env.queries.heads(db, ctx.project);
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

/** The columns the expressions of an on-demand view read: the features of its sources and its request fields, by plain name. */
export function onDemandColumns(
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
