/**
 * Feature definitions: entities, feature views, on-demand feature views and feature services, as
 * declared in YAML or through the TypeScript API; their validation, their canonical form and the
 * content hash that versions them.
 */
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { MloopError, invalidParam, type FieldError } from '../core/errors.ts';
import { sha256Hex } from '../core/hashing.ts';
import { formatPath } from '../core/validation.ts';
import { EXPR_TYPES, compileExpr, type CompiledExpr, type ExprType } from './expr.ts';

/** The kinds of definition in the registry. */
export const DEFINITION_KINDS = ['entity', 'feature_view', 'on_demand_feature_view', 'feature_service'] as const;

/** A kind of definition. */
export type DefinitionKind = (typeof DEFINITION_KINDS)[number];

/** Types an entity join key may have. */
export const KEY_TYPES = ['int', 'string'] as const;

/** Aggregation functions of window features. */
export const AGGREGATIONS = ['count', 'sum', 'mean', 'min', 'max'] as const;

/** An aggregation function. */
export type AggregationFn = (typeof AGGREGATIONS)[number];

const NAME = z
  .string({ error: 'expected a name' })
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'use letters, digits and "_", starting with a letter or "_" (at most 128)');

const exprType = z
  .string({ error: 'expected a type' })
  .transform((t, ctx) => {
    const normalized = ({ integer: 'int', int64: 'int', float64: 'float', double: 'float', boolean: 'bool', varchar: 'string' } as Record<string, string>)[t] ?? t;
    if (!(EXPR_TYPES as readonly string[]).includes(normalized)) {
      ctx.addIssue({ code: 'custom', message: `unknown type "${t}" (expected ${EXPR_TYPES.join(', ')})` });
      return z.NEVER;
    }
    return normalized as ExprType;
  });

/** Durations: `30s`, `15m`, `2h`, `7d`, `1w`, or milliseconds as a number; 0 means "no limit". */
const duration = z.union([
  z.number().int('expected whole milliseconds').min(0, 'must not be negative'),
  z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a duration such as 30s, 15m, 2h, 7d or 1w, got "${text}"` });
      return z.NEVER;
    }
    return ms;
  }),
]);

/** Parses `30s`, `15m`, `2h`, `7d`, `1w`, `500ms` into milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/.exec(text);
  if (!m) return undefined;
  const unit = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86_400e3, w: 604_800e3 }[m[2] as 'ms'];
  return Math.round(Number(m[1]) * unit);
}

const tags = z.record(z.string(), z.string({ error: 'tag values are strings' })).optional();

const entitySchema = z.strictObject({
  name: NAME,
  join_keys: z
    .array(z.strictObject({ name: NAME, type: z.enum(KEY_TYPES, { error: 'join key type is int or string' }) }))
    .min(1, 'an entity needs at least one join key')
    .max(8),
  description: z.string().max(4000).optional(),
  owner: z.string().max(256).optional(),
  tags,
});

const aggregationSchema = z
  .strictObject({
    fn: z.enum(AGGREGATIONS, { error: `expected one of ${AGGREGATIONS.join(', ')}` }),
    /** Expression aggregated (a column or any expression); omitted for count(*). */
    expr: z.string().min(1).optional(),
    /** Time window: rows with event time in (t − window, t]. */
    window: duration.optional(),
    /** Or the last N rows with event time ≤ t. */
    last: z.number().int().min(1).max(10_000).optional(),
  })
  .refine((a) => (a.window === undefined) !== (a.last === undefined), { message: 'give exactly one of window or last' })
  .refine((a) => a.fn === 'count' || a.expr !== undefined, { message: 'sum, mean, min and max need an expr' });

const featureSchema = z.strictObject({
  name: NAME,
  type: exprType,
  /** Row-level transformation of source columns; defaults to the column of the same name. */
  expr: z.string().min(1).optional(),
  aggregation: aggregationSchema.optional(),
  description: z.string().max(4000).optional(),
  tags,
});

const featureViewSchema = z.strictObject({
  name: NAME,
  entities: z.array(NAME).min(1, 'a feature view needs at least one entity').max(8),
  source: z.strictObject({
    dataset: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'expected a dataset name'),
    /** Pin to one dataset version (sha256); the latest version is used when absent. */
    version: z.string().regex(/^[0-9a-f]{6,64}$/, 'expected a sha256 or a hex prefix').optional(),
    /** The event-timestamp column. */
    timestamp: NAME,
    /** Types of source columns that expressions read (beyond the features' own columns). */
    columns: z.record(NAME, exprType).optional(),
  }),
  /** How long a value stays valid after its event time; 0 or absent: forever. */
  ttl: duration.optional(),
  features: z.array(featureSchema).min(1, 'a feature view needs at least one feature').max(1000),
  owner: z.string().max(256).optional(),
  description: z.string().max(4000).optional(),
  tags,
  /** Whether materialization writes this view to the online store (default true). */
  online: z.boolean().optional(),
});

const onDemandSchema = z.strictObject({
  name: NAME,
  /** Feature views whose features the expressions read (by feature name). */
  sources: z.array(NAME).max(16).default([]),
  /** Fields supplied with each request. */
  request: z.array(z.strictObject({ name: NAME, type: exprType })).max(100).default([]),
  features: z.array(z.strictObject({ name: NAME, type: exprType, expr: z.string().min(1), description: z.string().max(4000).optional() })).min(1).max(1000),
  owner: z.string().max(256).optional(),
  description: z.string().max(4000).optional(),
  tags,
});

const featureServiceSchema = z.strictObject({
  name: NAME,
  /** `view` (every feature of it) or `view:feature`. */
  features: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(:[A-Za-z_][A-Za-z0-9_]*)?$/, 'expected "view" or "view:feature"')).min(1).max(10_000),
  owner: z.string().max(256).optional(),
  description: z.string().max(4000).optional(),
  tags,
});

/** A definitions document: what `features apply` takes (YAML or JSON). */
export const definitionsSchema = z.strictObject({
  entities: z.array(entitySchema).default([]),
  feature_views: z.array(featureViewSchema).default([]),
  on_demand_feature_views: z.array(onDemandSchema).default([]),
  feature_services: z.array(featureServiceSchema).default([]),
});

/** A definitions document as written. */
export type DefinitionsInput = z.input<typeof definitionsSchema>;
/** An entity. */
export type EntitySpec = z.output<typeof entitySchema>;
/** A feature of a view. */
export type FeatureSpec = z.output<typeof featureSchema>;
/** A window aggregation. */
export type AggregationSpec = z.output<typeof aggregationSchema>;
/** A feature view. */
export type FeatureViewSpec = z.output<typeof featureViewSchema>;
/** An on-demand feature view. */
export type OnDemandSpec = z.output<typeof onDemandSchema>;
/** A feature service. */
export type FeatureServiceSpec = z.output<typeof featureServiceSchema>;
/** A parsed definitions document. */
export type Definitions = z.output<typeof definitionsSchema>;

/** The spec type of each kind. */
export interface SpecOf {
  entity: EntitySpec;
  feature_view: FeatureViewSpec;
  on_demand_feature_view: OnDemandSpec;
  feature_service: FeatureServiceSpec;
}

/** A stored definition: its kind, name, content version and spec. */
export interface Definition<K extends DefinitionKind = DefinitionKind> {
  readonly kind: K;
  readonly name: string;
  /** sha256 of the canonical JSON of the spec (with resolved references). */
  readonly version: string;
  readonly spec: SpecOf[K];
  /** Versions of the definitions this one refers to, by `kind:name`. */
  readonly refs: Readonly<Record<string, string>>;
  readonly created_at: number;
  /** True for the version `apply` last made current. */
  readonly current?: boolean;
}

/** Parses a YAML or JSON definitions document; errors name the field. */
export function parseDefinitions(input: string | unknown, where = 'definitions'): Definitions {
  let raw: unknown = input;
  if (typeof input === 'string') {
    try {
      raw = parseYaml(input, { maxAliasCount: 100 });
    } catch (error) {
      throw invalidParam(where, `not valid YAML: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  const parsed = definitionsSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const fields: FieldError[] = parsed.error.issues.map((issue) => ({ field: formatPath(issue.path) || where, reason: issue.message }));
    throw new MloopError('INVALID_PARAMETER_VALUE', fields.map((f) => `${f.field}: ${f.reason}`).join('; '), { fields });
  }
  return parsed.data;
}

/** JSON with object keys sorted at every level: the canonical form that is hashed. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

/** The content version of a spec and the versions it refers to. */
export function definitionVersion(kind: DefinitionKind, spec: unknown, refs: Readonly<Record<string, string>>): string {
  return sha256Hex(canonicalJson({ kind, spec, refs }));
}

/** A feature view with everything retrieval and serving need, resolved and compiled. */
export interface ResolvedView {
  readonly name: string;
  readonly version: string;
  readonly spec: FeatureViewSpec;
  /** Join keys of its entities, in order, with types. */
  readonly keys: readonly { name: string; type: 'int' | 'string' }[];
  readonly ttlMs: number;
  /** Row-level features with their compiled expressions. */
  readonly rowFeatures: readonly { spec: FeatureSpec; expr: CompiledExpr }[];
  /** Window features with their compiled argument (absent for count(*)). */
  readonly windowFeatures: readonly { spec: FeatureSpec; agg: AggregationSpec; expr?: CompiledExpr }[];
  /** Source columns read (typed), the timestamp excluded. */
  readonly sourceColumns: Readonly<Record<string, ExprType>>;
}

/** Column types the expressions of a view may read. */
export function viewColumnTypes(spec: FeatureViewSpec): Record<string, ExprType> {
  const columns: Record<string, ExprType> = {};
  for (const f of spec.features) if (f.expr === undefined && f.aggregation === undefined) columns[f.name] = f.type;
  Object.assign(columns, spec.source.columns ?? {});
  return columns;
}

/**
 * Checks a feature view against its entities and compiles its expressions. Throws
 * INVALID_PARAMETER_VALUE naming the field at `path`.
 */
export function resolveView(spec: FeatureViewSpec, entities: ReadonlyMap<string, EntitySpec>, version: string, path = `feature_views.${spec.name}`): ResolvedView {
  const keys: { name: string; type: 'int' | 'string' }[] = [];
  spec.entities.forEach((name, i) => {
    const entity = entities.get(name);
    if (!entity) throw invalidParam(`${path}.entities[${i}]`, `unknown entity "${name}"`);
    for (const k of entity.join_keys) if (!keys.some((x) => x.name === k.name)) keys.push(k);
  });
  const columns = viewColumnTypes(spec);
  const seen = new Set<string>();
  const rowFeatures: { spec: FeatureSpec; expr: CompiledExpr }[] = [];
  const windowFeatures: { spec: FeatureSpec; agg: AggregationSpec; expr?: CompiledExpr }[] = [];
  const read: Record<string, ExprType> = {};
  spec.features.forEach((f, i) => {
    const where = `${path}.features[${i}]`;
    if (seen.has(f.name)) throw invalidParam(`${where}.name`, `feature "${f.name}" is declared twice`);
    if (keys.some((k) => k.name === f.name) || f.name === spec.source.timestamp) {
      throw invalidParam(`${where}.name`, `feature "${f.name}" has the name of a join key or of the timestamp column`);
    }
    seen.add(f.name);
    if (f.aggregation && f.expr) throw invalidParam(where, 'give expr inside aggregation, not beside it');
    const compile = (source: string, field: string) => {
      try {
        return compileExpr(source, columns);
      } catch (error) {
        throw invalidParam(field, (error as Error).message);
      }
    };
    if (f.aggregation) {
      const expr = f.aggregation.expr === undefined ? undefined : compile(f.aggregation.expr, `${where}.aggregation.expr`);
      if (expr && f.aggregation.fn !== 'count' && f.aggregation.fn !== 'min' && f.aggregation.fn !== 'max' && expr.type !== 'int' && expr.type !== 'float') {
        throw invalidParam(`${where}.aggregation.expr`, `${f.aggregation.fn} needs a number, the expression is ${expr.type}`);
      }
      const resultType = aggregationType(f.aggregation.fn, expr?.type);
      if (!assignable(resultType, f.type)) throw invalidParam(`${where}.type`, `${f.aggregation.fn} yields ${resultType}, declared ${f.type}`);
      for (const c of expr?.columns ?? []) read[c] = columns[c];
      windowFeatures.push({ spec: f, agg: f.aggregation, expr });
    } else {
      const expr = compile(f.expr ?? `"${f.name}"`, `${where}.expr`);
      if (!assignable(expr.type, f.type)) throw invalidParam(`${where}.type`, `expression yields ${expr.type}, declared ${f.type} (use cast)`);
      for (const c of expr.columns) read[c] = columns[c];
      rowFeatures.push({ spec: f, expr });
    }
  });
  return { name: spec.name, version, spec, keys, ttlMs: spec.ttl ?? 0, rowFeatures, windowFeatures, sourceColumns: read };
}

/** The result type of an aggregation over values of type `arg`. */
export function aggregationType(fn: AggregationFn, arg: ExprType | undefined): ExprType {
  if (fn === 'count') return 'int';
  if (fn === 'mean') return 'float';
  if (fn === 'sum') return 'float';
  return arg ?? 'float';
}

/** Whether a value of type `from` may be stored in a feature of type `to` (int widens to float). */
export function assignable(from: ExprType, to: ExprType): boolean {
  return from === to || (from === 'int' && to === 'float');
}
