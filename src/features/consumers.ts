/**
 * Consumers of features: models linked to the feature services they were trained on, and impact
 * analysis (everything downstream of a feature view) over the lineage graph.
 */
import type { RequestContext } from '../core/context.ts';
import { invalidParam, notFound } from '../core/errors.ts';
import type { FeatureStoreContext } from './context.ts';

/** A consumer found by impact analysis. */
export interface Consumer {
  readonly kind: string;
  readonly id: string;
  readonly depth: number;
  readonly via: { kind: string; id: string; relation: string };
}

/** Records that a model version consumes a feature service (its current version); for the training step. */
export async function linkModelVersion(env: FeatureStoreContext, ctx: RequestContext, input: { model: string; version: string | number; feature_service: string }): Promise<{ feature_service: { name: string; version: string }; model_version: string }> {
  const service = await env.queries.get(env.deps.metadata.db, ctx.project, 'feature_service', input.feature_service);
  if (!service) throw invalidParam('feature_service', `unknown feature service "${input.feature_service}"`);
  await env.deps.modelVersionExists?.(ctx, input.model, String(input.version));
  const id = `${input.model}/${input.version}`;
  await env.deps.lineage.record(ctx, [
    { src: { kind: 'feature_service', id: `${service.name}@${service.version}` }, dst: { kind: 'model_version', id }, relation: 'consumed_by' },
  ]);
  return { feature_service: { name: service.name, version: service.version }, model_version: id };
}

/** Everything downstream of any version of feature view `name`: services, on-demand views, models, deployments, training sets. */
export async function viewImpact(env: FeatureStoreContext, ctx: RequestContext, name: string): Promise<{ feature_view: string; versions: string[]; consumers: Consumer[] }> {
  const versions = await env.queries.viewVersions(env.deps.metadata.db, ctx.project, name);
  if (versions.length === 0) throw notFound(`feature view "${name}" does not exist`);
  const reached = await env.deps.lineage.downstream(ctx, versions.map((v) => ({ kind: 'feature_view', id: `${name}@${v}` })));
  return {
    feature_view: name,
    versions,
    consumers: reached.map((r) => ({ kind: r.node.kind, id: r.node.id, depth: r.depth, via: { kind: r.via.src.kind, id: r.via.src.id, relation: r.via.relation } })),
  };
}
