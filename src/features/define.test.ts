/** The TypeScript definition API gives the same definitions (and versions) as the YAML form. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { definitions, entity, featureService, featureView, onDemandFeatureView } from './define.ts';
import { definitionVersion, parseDefinitions } from './domain.ts';

describe('TypeScript definition API', () => {
  it('builds the document the YAML form describes', () => {
    const driver = entity({ name: 'driver', join_keys: [{ name: 'driver_id', type: 'int' }] });
    const stats = featureView({
      name: 'driver_stats',
      entities: [driver],
      ttl: '1d',
      source: { dataset: 'driver_events', timestamp: 'event_timestamp' },
      features: [{ name: 'conv_rate', type: 'float' }, { name: 'trips_7d', type: 'int', aggregation: { fn: 'count', window: '7d' } }],
    });
    const plus = onDemandFeatureView({ name: 'plus', sources: [stats], request: [{ name: 'x', type: 'float' }], features: [{ name: 'conv_plus_x', type: 'float', expr: 'conv_rate + x' }] });
    const svc = featureService({ name: 'model', features: [{ view: stats, features: ['conv_rate'] }, plus] });
    const fromTs = parseDefinitions(definitions({ entities: [driver], feature_views: [stats], on_demand_feature_views: [plus], feature_services: [svc] }));
    const fromYaml = parseDefinitions(`
entities: [{ name: driver, join_keys: [{ name: driver_id, type: int }] }]
feature_views:
  - name: driver_stats
    entities: [driver]
    ttl: 1d
    source: { dataset: driver_events, timestamp: event_timestamp }
    features: [{ name: conv_rate, type: float }, { name: trips_7d, type: int, aggregation: { fn: count, window: 7d } }]
on_demand_feature_views:
  - { name: plus, sources: [driver_stats], request: [{ name: x, type: float }], features: [{ name: conv_plus_x, type: float, expr: conv_rate + x }] }
feature_services: [{ name: model, features: ["driver_stats:conv_rate", plus] }]
`);
    assert.deepEqual(fromTs, fromYaml);
    assert.equal(definitionVersion('feature_view', fromTs.feature_views[0], {}), definitionVersion('feature_view', fromYaml.feature_views[0], {}));
  });
});
