/** Definitions: validation that names the field, canonical content versions, durations. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson, definitionVersion, parseDefinitions, parseDuration, resolveView, type EntitySpec } from './domain.ts';

const driver = new Map<string, EntitySpec>([['driver', { name: 'driver', join_keys: [{ name: 'driver_id', type: 'int' }] }]]);
const view = (features: unknown[], extra: Record<string, unknown> = {}) =>
  parseDefinitions({ feature_views: [{ name: 'v', entities: ['driver'], source: { dataset: 'd', timestamp: 'ts' }, features, ...extra }] }).feature_views[0];

describe('feature definitions', () => {
  it('versions by content: key order and YAML vs JSON do not matter, any change does', () => {
    const a = parseDefinitions('entities:\n  - name: driver\n    join_keys: [{ name: driver_id, type: int }]\n    description: x\n').entities[0];
    const b = parseDefinitions({ entities: [{ description: 'x', join_keys: [{ type: 'int', name: 'driver_id' }], name: 'driver' }] }).entities[0];
    assert.equal(canonicalJson(a), canonicalJson(b));
    assert.equal(definitionVersion('entity', a, {}), definitionVersion('entity', b, {}));
    assert.notEqual(definitionVersion('entity', a, {}), definitionVersion('entity', { ...a, description: 'y' }, {}));
    assert.notEqual(definitionVersion('feature_view', a, { 'entity:driver': '1' }), definitionVersion('feature_view', a, { 'entity:driver': '2' }));
    assert.match(definitionVersion('entity', a, {}), /^[0-9a-f]{64}$/);
  });

  it('parses durations', () => {
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration('7d'), 604_800_000);
    assert.equal(parseDuration('2w'), 1_209_600_000);
    assert.equal(parseDuration('7 days'), undefined);
    assert.equal(view([{ name: 'a', type: 'float' }], { ttl: '1d' }).ttl, 86_400_000);
  });

  it('names the bad field', () => {
    const fails = (input: unknown, field: RegExp) => assert.throws(() => parseDefinitions(input), (e: Error & { fields?: { field: string }[] }) => field.test(e.fields?.[0]?.field ?? '') || assert.fail(`${JSON.stringify(e.fields)}`));
    fails({ feature_views: [{ name: 'v', entities: ['driver'], source: { dataset: 'd', timestamp: 'ts' }, features: [{ name: 'a', type: 'float' }], ttl: 'forever' }] }, /^feature_views\[0\]\.ttl/);
    fails({ entities: [{ name: '1bad', join_keys: [{ name: 'k', type: 'int' }] }] }, /^entities\[0\]\.name$/);
    fails({ entities: [{ name: 'e', join_keys: [{ name: 'k', type: 'float' }] }] }, /^entities\[0\]\.join_keys\[0\]\.type$/);
    fails({ feature_services: [{ name: 's', features: ['a:b:c'] }] }, /^feature_services\[0\]\.features\[0\]$/);
    fails({ surprise: [] }, /^(surprise|definitions)?$/);
    assert.throws(() => parseDefinitions('entities: [\n'), /not valid YAML/);
  });

  it('checks views against entities and types', () => {
    assert.throws(() => resolveView(view([{ name: 'a', type: 'float' }], { entities: ['rider'] }), driver, 'x'), /unknown entity "rider"/);
    assert.throws(() => resolveView(view([{ name: 'a', type: 'float' }, { name: 'a', type: 'int' }]), driver, 'x'), /declared twice/);
    assert.throws(() => resolveView(view([{ name: 'a', type: 'int' }, { name: 'b', type: 'int', expr: 'a * 2' }]), driver, 'x'), /expression yields float, declared int/);
    assert.throws(() => resolveView(view([{ name: 'a', type: 'float', aggregation: { fn: 'mean', expr: 'nope', window: '1h' } }]), driver, 'x'), /unknown column "nope"/);
    assert.throws(() => view([{ name: 'a', type: 'float', aggregation: { fn: 'mean', expr: 'x', window: '1h', last: 3 } }]), /exactly one of window or last/);
    assert.throws(() => resolveView(view([{ name: 'driver_id', type: 'int' }]), driver, 'x'), /name of a join key/);
    const ok = resolveView(view([{ name: 'a', type: 'float' }, { name: 'n', type: 'int', aggregation: { fn: 'count', window: '7d' } }, { name: 'b', type: 'int', expr: 'cast(a * 2 as int)' }]), driver, 'x');
    assert.deepEqual(ok.keys, [{ name: 'driver_id', type: 'int' }]);
    assert.deepEqual(ok.rowFeatures.map((f) => f.spec.name), ['a', 'b']);
    assert.deepEqual(ok.windowFeatures.map((f) => f.spec.name), ['n']);
  });
});
