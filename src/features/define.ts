/**
 * The TypeScript API of feature definitions: typed builders for what a YAML definitions file holds.
 * `definitions(...)` gathers them into the document that `FeatureStoreService.apply`,
 * `POST /api/v1/features/apply` and `MloopApi.applyFeatures` take.
 *
 * ```ts
 * const driver = entity({ name: 'driver', join_keys: [{ name: 'driver_id', type: 'int' }] });
 * const stats = featureView({
 *   name: 'driver_stats', entities: [driver], ttl: '1d',
 *   source: { dataset: 'driver_events', timestamp: 'event_timestamp' },
 *   features: [{ name: 'conv_rate', type: 'float' }, { name: 'trips_7d', type: 'int', aggregation: { fn: 'count', window: '7d' } }],
 * });
 * await client.applyFeatures(definitions({ entities: [driver], feature_views: [stats] }));
 * ```
 */
import type { DefinitionsInput } from './domain.ts';

type EntityInput = NonNullable<DefinitionsInput['entities']>[number];
type ViewInput = NonNullable<DefinitionsInput['feature_views']>[number];
type OnDemandInput = NonNullable<DefinitionsInput['on_demand_feature_views']>[number];
type ServiceInput = NonNullable<DefinitionsInput['feature_services']>[number];

/** An entity: a name and its typed join keys. */
export function entity(spec: EntityInput): EntityInput {
  return spec;
}

/** A feature view; entities may be given as names or as {@link entity} values. */
export function featureView(spec: Omit<ViewInput, 'entities'> & { entities: readonly (string | EntityInput)[] }): ViewInput {
  return { ...spec, entities: spec.entities.map((e) => (typeof e === 'string' ? e : e.name)) };
}

/** An on-demand feature view; sources may be given as names or as {@link featureView} values. */
export function onDemandFeatureView(spec: Omit<OnDemandInput, 'sources'> & { sources?: readonly (string | ViewInput)[] }): OnDemandInput {
  return { ...spec, sources: (spec.sources ?? []).map((s) => (typeof s === 'string' ? s : s.name)) };
}

/**
 * A feature service: references are `view`, `view:feature`, or a view value (all its features) —
 * optionally with the features to take from it.
 */
export function featureService(spec: Omit<ServiceInput, 'features'> & { features: readonly (string | ViewInput | OnDemandInput | { view: ViewInput | OnDemandInput; features: readonly string[] })[] }): ServiceInput {
  return {
    ...spec,
    features: spec.features.flatMap((f) => {
      if (typeof f === 'string') return [f];
      if ('view' in f) return f.features.map((name) => `${f.view.name}:${name}`);
      return [f.name];
    }),
  };
}

/** A definitions document from its parts. */
export function definitions(parts: DefinitionsInput): DefinitionsInput {
  return parts;
}
