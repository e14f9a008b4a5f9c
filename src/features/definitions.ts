/**
 * The feature store's registry: applying a definitions document (each changed definition a new
 * version, with its lineage), and reading definitions and their versions.
 */
import type { RequestContext } from '../core/context.ts';
import { invalidParam, notFound } from '../core/errors.ts';
import type { LineageNode } from '../lineage/service.ts';
import type { FeatureStoreContext } from './context.ts';
import {
  definitionVersion,
  parseDefinitions,
  resolveView,
  type Definition,
  type DefinitionKind,
  type EntitySpec,
  type FeatureViewSpec,
  type OnDemandSpec,
  type ResolvedView,
} from './domain.ts';
import { compileExpr, type CompiledExpr } from './expr.ts';
import { onDemandColumns } from './selection.ts';

/** What applying a document did to one definition. */
export interface AppliedDefinition {
  readonly kind: DefinitionKind;
  readonly name: string;
  readonly version: string;
  readonly status: 'created' | 'updated' | 'unchanged';
}

/**
 * Validates a definitions document (YAML text or an object) and stores every definition whose
 * content changed as a new version, keeping the old ones. All or nothing.
 */
export async function applyDefinitions(env: FeatureStoreContext, ctx: RequestContext, input: string | unknown): Promise<{ results: AppliedDefinition[] }> {
  const doc = parseDefinitions(input);
  const db = env.deps.metadata.db;
  const heads = await env.queries.heads(db, ctx.project);
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

  const now = env.deps.clock.now();
  const results = await env.deps.metadata.transaction(async (trx) => {
    const out: { kind: DefinitionKind; name: string; version: string; status: 'created' | 'updated' | 'unchanged' }[] = [];
    for (const def of planned) {
      const { created, previous } = await env.queries.put(trx, ctx.project, { ...def, created_at: now }, ctx.actor.name, now);
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
    await env.deps.lineage.record(ctx, edges, trx);
    return out;
  });
  return { results };
}

/** The current version of every definition (of one kind when given). */
export function listDefinitions(env: FeatureStoreContext, ctx: RequestContext, kind?: DefinitionKind): Promise<Definition[]> {
  return env.queries.heads(env.deps.metadata.db, ctx.project, kind);
}

/** One definition: the current version, or `version` (a sha256 or a unique prefix). */
export async function getDefinition(env: FeatureStoreContext, ctx: RequestContext, kind: DefinitionKind, name: string, version?: string): Promise<Definition> {
  const def = await env.queries.get(env.deps.metadata.db, ctx.project, kind, name, version);
  if (!def) throw notFound(`${kind.replaceAll('_', ' ')} "${name}"${version ? ` version ${version}` : ''} does not exist`);
  return def;
}

/** Every version of a definition, oldest first. */
export async function definitionVersions(env: FeatureStoreContext, ctx: RequestContext, kind: DefinitionKind, name: string): Promise<Definition[]> {
  const versions = await env.queries.versions(env.deps.metadata.db, ctx.project, kind, name);
  if (versions.length === 0) throw notFound(`${kind.replaceAll('_', ' ')} "${name}" does not exist`);
  return versions;
}

function checkUnique(items: readonly { name: string }[], field: string): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (seen.has(item.name)) throw invalidParam(`${field}[${i}].name`, `"${item.name}" is defined twice`);
    seen.add(item.name);
  });
}
