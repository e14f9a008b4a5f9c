/**
 * Validation rules over a dataset version, declared in YAML or JSON, run with DuckDB.
 *
 * ```yaml
 * rules:
 *   - { rule: column, column: fare, type: float }
 *   - { rule: null_fraction, column: fare, max: 0.01 }
 *   - { rule: range, column: fare, min: 0, max: 500 }
 *   - { rule: allowed_values, column: payment, values: [cash, card] }
 *   - { rule: regex, column: zone, pattern: '^[A-Z]{2}[0-9]+$' }
 *   - { rule: unique, columns: [ride_id] }
 *   - { rule: row_count, min: 1000 }
 *   - { rule: freshness, column: pickup_at, max_age: 2d }
 *   - { rule: sql, expression: "dropoff_at >= pickup_at", severity: warn }
 * ```
 *
 * Row rules fail the rows for which their condition is false: `range` and `allowed_values` skip nulls,
 * `regex` finds the pattern anywhere in the value (anchor it with ^ and $) using RE2, and `sql`
 * follows SQL CHECK semantics (a null result passes). `unique` fails every row whose key occurs more
 * than once. `freshness` compares the newest timestamp with the injected clock. A rule on a column the
 * version lacks fails; a malformed rule, regex or unsafe expression is refused before anything runs.
 */
import { z } from 'zod';
import { invalidParam } from '../core/errors.ts';
import { sha256Hex } from '../core/hashing.ts';
import { parseInput } from '../core/validation.ts';
import type { DuckDbConnection } from '../storage/duckdb/engine.ts';
import { listLiteral, quoteIdent, quoteLiteral } from '../storage/duckdb/sql.ts';
import { COLUMN_TYPES, type ColumnSchema, type ColumnType, type DatasetSchema } from './domain.ts';
import { checkPredicate } from './predicate.ts';

const severity = z.enum(['error', 'warn'], { error: 'expected error or warn' }).default('error');
const common = {
  name: z.string().min(1).max(200).optional(),
  severity,
  description: z.string().max(2000).optional(),
};
const column = z.string().min(1, 'must name a column');
const ageText = z
  .union([z.number().positive('must be positive'), z.string().regex(/^\d+(\.\d+)?\s*(ms|s|m|h|d|w)$/, 'expected a duration such as 90s, 36h or 7d')])
  .transform(parseDuration);

/** One rule, as declared. */
export const ruleSchema = z.discriminatedUnion(
  'rule',
  [
    z.strictObject({
      rule: z.literal('column'),
      column,
      type: z
        .enum([...COLUMN_TYPES, 'categorical'], { error: `expected one of ${COLUMN_TYPES.join(', ')}` })
        .transform((t): ColumnType => (t === 'categorical' ? 'string' : t))
        .optional(),
      ...common,
    }),
    z.strictObject({ rule: z.literal('null_fraction'), column, max: z.number().min(0).max(1, 'a fraction in [0, 1]'), ...common }),
    z
      .strictObject({
        rule: z.literal('range'),
        column,
        min: z.union([z.number(), z.string()]).optional(),
        max: z.union([z.number(), z.string()]).optional(),
        ...common,
      })
      .refine((r) => r.min !== undefined || r.max !== undefined, { message: 'give min, max or both', path: ['min'] }),
    z.strictObject({
      rule: z.literal('allowed_values'),
      column,
      values: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1, 'list at least one value').max(10_000),
      ...common,
    }),
    z.strictObject({ rule: z.literal('regex'), column, pattern: z.string().min(1).max(1000), ...common }),
    z
      .strictObject({
        rule: z.literal('unique'),
        columns: z.array(column).min(1, 'name at least one column').max(32).optional(),
        column: column.optional(),
        ...common,
      })
      .refine((r) => (r.columns === undefined) !== (r.column === undefined), { message: 'give either column or columns', path: ['columns'] }),
    z
      .strictObject({ rule: z.literal('row_count'), min: z.number().int().min(0).optional(), max: z.number().int().min(0).optional(), ...common })
      .refine((r) => r.min !== undefined || r.max !== undefined, { message: 'give min, max or both', path: ['min'] }),
    z.strictObject({ rule: z.literal('freshness'), column, max_age: ageText, ...common }),
    z.strictObject({ rule: z.literal('sql'), expression: z.string().min(1).max(4000), ...common }),
  ],
  { error: 'expected rule to be one of column, null_fraction, range, allowed_values, regex, unique, row_count, freshness, sql' },
);

/** A rule after validation. */
export type Rule = z.output<typeof ruleSchema>;

/** A rules document: `{ rules: [...] }`. */
export const rulesDocumentSchema = z.strictObject({ rules: z.array(ruleSchema).min(1, 'list at least one rule').max(500) });

/** A validated rules document. */
export type RulesDocument = z.output<typeof rulesDocumentSchema>;

/** Parses a rules document (an object, or a bare list of rules). */
export function parseRules(input: unknown): RulesDocument {
  return parseInput(rulesDocumentSchema, Array.isArray(input) ? { rules: input } : input, 'rules');
}

/** The id of a rules set: the sha256 of its canonical JSON. */
export function rulesDigest(document: RulesDocument): string {
  return sha256Hex(canonicalJson(document));
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** `36h` → milliseconds. */
export function parseDuration(value: number | string): number {
  if (typeof value === 'number') return value * 1000;
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/.exec(value)!;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[match[2] as 'ms']!;
  return Number(match[1]) * unit;
}

/** The outcome of one rule. */
export interface RuleResult {
  readonly name: string;
  readonly rule: Rule['rule'];
  readonly severity: 'error' | 'warn';
  readonly passed: boolean;
  /** Rows that fail (row rules); null for rules about the whole version. */
  readonly failing_count: number | null;
  readonly failing_fraction: number | null;
  readonly message: string;
  /** What was measured (null fraction, row count, newest timestamp...). */
  readonly observed?: unknown;
  /** Up to {@link SAMPLE_ROWS} failing rows, each with its 1-based row number in `_row`. */
  readonly sample?: readonly Record<string, unknown>[];
}

/** Failing rows kept per rule. */
export const SAMPLE_ROWS = 5;

/** Overall outcome: failed when an `error` rule failed, warned when only `warn` rules failed. */
export type ReportStatus = 'passed' | 'warned' | 'failed';

/** The result of running a rules set on a version. */
export interface ValidationOutcome {
  readonly status: ReportStatus;
  readonly row_count: number;
  readonly summary: { readonly rules: number; readonly passed: number; readonly failed_errors: number; readonly failed_warnings: number };
  readonly results: readonly RuleResult[];
}

/** Default name of a rule: `range(fare)`. */
export function ruleName(rule: Rule): string {
  if (rule.name) return rule.name;
  switch (rule.rule) {
    case 'unique':
      return `unique(${(rule.columns ?? [rule.column!]).join(', ')})`;
    case 'row_count':
      return 'row_count';
    case 'sql':
      return `sql(${rule.expression.length > 60 ? `${rule.expression.slice(0, 57)}...` : rule.expression})`;
    default:
      return `${rule.rule}(${rule.column})`;
  }
}

const NUMERIC: ReadonlySet<ColumnType> = new Set(['integer', 'float', 'timestamp']);

/** A rule turned into SQL: a condition true for failing rows, or a check of the whole version. */
type Plan =
  | {
      kind: 'rows';
      index: number;
      failing: string;
      params?: unknown[];
      message: (failing: number, rows: number) => string;
      /** Whether the rule passes with this many failing rows; default: none may fail. */
      passes?: (failing: number, rows: number) => boolean;
    }
  | { kind: 'unique'; index: number; columns: string[] }
  | { kind: 'done'; index: number; result: Omit<RuleResult, 'name' | 'rule' | 'severity'> }
  | { kind: 'freshness'; index: number; column: ColumnSchema; maxAgeMs: number }
  | { kind: 'row_count'; index: number; min?: number; max?: number };

/**
 * Runs `document` against the Parquet file at `path` (schema `schema`); `now` is the clock's time for
 * freshness. Refuses (INVALID_PARAMETER_VALUE) unsafe SQL and invalid regexes before running.
 */
export async function runValidation(
  conn: DuckDbConnection,
  path: string,
  schema: DatasetSchema,
  document: RulesDocument,
  now: number,
): Promise<ValidationOutcome> {
  const from = `read_parquet(${quoteLiteral(path)}, file_row_number = true)`;
  const columns = new Map(schema.columns.map((c) => [c.name, c]));
  const plans: Plan[] = [];
  for (const [index, rule] of document.rules.entries()) plans.push(await planRule(conn, rule, index, columns, from));

  const rowCount = Number((await conn.first<{ n: number }>(`SELECT count(*) AS n FROM ${from}`))?.n ?? 0);
  const rowPlans = plans.filter((p): p is Extract<Plan, { kind: 'rows' }> => p.kind === 'rows');
  const counts = new Map<number, number>();
  if (rowPlans.length > 0) {
    const params: unknown[] = [];
    const selects = rowPlans.map((p) => {
      const failing = renumber(p.failing, params.length);
      params.push(...(p.params ?? []));
      return `count(*) FILTER (WHERE ${failing}) AS f${p.index}`;
    });
    let row: Record<string, number> | undefined;
    try {
      row = await conn.first<Record<string, number>>(`SELECT ${selects.join(', ')} FROM ${from}`, params as never);
    } catch (error) {
      // A value an expression cannot handle (a cast, a division) fails the whole scan: name the rule.
      for (const p of rowPlans) {
        try {
          await conn.run(`SELECT count(*) FILTER (WHERE ${p.failing}) FROM ${from}`, p.params as never);
        } catch (own) {
          throw invalidParam(`rules[${p.index}]`, `cannot be evaluated on this version: ${firstLine(own)}`);
        }
      }
      throw error;
    }
    for (const p of rowPlans) counts.set(p.index, Number(row?.[`f${p.index}`] ?? 0));
  }

  const results: RuleResult[] = [];
  for (const plan of plans) {
    const rule = document.rules[plan.index];
    const head = { name: ruleName(rule), rule: rule.rule, severity: rule.severity };
    if (plan.kind === 'done') {
      results.push({ ...head, ...plan.result });
    } else if (plan.kind === 'rows') {
      const failing = counts.get(plan.index) ?? 0;
      const passed = plan.passes ? plan.passes(failing, rowCount) : failing === 0;
      results.push({
        ...head,
        passed,
        failing_count: failing,
        failing_fraction: rowCount === 0 ? 0 : failing / rowCount,
        message: plan.message(failing, rowCount),
        ...(!passed && failing > 0 ? { sample: await sampleRows(conn, from, plan.failing, plan.params) } : {}),
      });
    } else if (plan.kind === 'unique') {
      const key = plan.columns.map(quoteIdent).join(', ');
      const windowed = `(SELECT *, count(*) OVER (PARTITION BY ${key}) AS __mloop_k FROM ${from})`;
      const failing = Number((await conn.first<{ n: number }>(`SELECT count(*) AS n FROM ${windowed} WHERE __mloop_k > 1`))?.n ?? 0);
      const groups = failing === 0 ? 0 : Number((await conn.first<{ n: number }>(`SELECT count(*) AS n FROM (SELECT ${key} FROM ${from} GROUP BY ALL HAVING count(*) > 1)`))?.n ?? 0);
      results.push({
        ...head,
        passed: failing === 0,
        failing_count: failing,
        failing_fraction: rowCount === 0 ? 0 : failing / rowCount,
        message: failing === 0 ? `every key (${plan.columns.join(', ')}) is unique` : `${failing} rows share ${groups} duplicated key${groups > 1 ? 's' : ''} (${plan.columns.join(', ')})`,
        ...(failing > 0
          ? {
              sample: await sampleFrom(
                conn,
                `SELECT * EXCLUDE (__mloop_k) FROM ${windowed} WHERE __mloop_k > 1 ORDER BY ${key}, file_row_number LIMIT ${SAMPLE_ROWS}`,
              ),
            }
          : {}),
      });
    } else if (plan.kind === 'row_count') {
      const ok = (plan.min === undefined || rowCount >= plan.min) && (plan.max === undefined || rowCount <= plan.max);
      const bounds = [plan.min !== undefined ? `≥ ${plan.min}` : '', plan.max !== undefined ? `≤ ${plan.max}` : ''].filter(Boolean).join(' and ');
      results.push({ ...head, passed: ok, failing_count: null, failing_fraction: null, observed: rowCount, message: `${rowCount} rows; expected ${bounds}` });
    } else {
      const ref = quoteIdent(plan.column.name);
      const newest = (await conn.first<{ ms: number | null }>(`SELECT epoch_ms(max(${ref})) AS ms FROM ${from}`))?.ms ?? null;
      if (newest === null) {
        results.push({ ...head, passed: false, failing_count: null, failing_fraction: null, observed: null, message: `column "${plan.column.name}" has no timestamps` });
      } else {
        const age = now - Number(newest);
        const ok = age <= plan.maxAgeMs;
        results.push({
          ...head,
          passed: ok,
          failing_count: null,
          failing_fraction: null,
          observed: { newest: new Date(Number(newest)).toISOString(), age_ms: age },
          message: `newest ${plan.column.name} is ${new Date(Number(newest)).toISOString()}, ${formatAge(age)} old; allowed ${formatAge(plan.maxAgeMs)}`,
        });
      }
    }
  }
  // Rules of the same kind on the same column would share a default name: number the repeats.
  const seen = new Map<string, number>();
  for (const [i, r] of results.entries()) {
    const n = (seen.get(r.name) ?? 0) + 1;
    seen.set(r.name, n);
    if (n > 1) results[i] = { ...r, name: `${r.name} #${n}` };
  }
  const failedErrors = results.filter((r) => !r.passed && r.severity === 'error').length;
  const failedWarnings = results.filter((r) => !r.passed && r.severity === 'warn').length;
  return {
    status: failedErrors > 0 ? 'failed' : failedWarnings > 0 ? 'warned' : 'passed',
    row_count: rowCount,
    summary: { rules: results.length, passed: results.filter((r) => r.passed).length, failed_errors: failedErrors, failed_warnings: failedWarnings },
    results,
  };
}

/** Shifts `$1..$n` in `sql` by `offset` so that several conditions share one parameter list. */
function renumber(sql: string, offset: number): string {
  return offset === 0 ? sql : sql.replace(/\$(\d+)/g, (_m, d: string) => `$${Number(d) + offset}`);
}

function formatAge(ms: number): string {
  const abs = Math.abs(ms);
  const text = abs >= 86_400_000 ? `${(abs / 86_400_000).toFixed(1)}d` : abs >= 3_600_000 ? `${(abs / 3_600_000).toFixed(1)}h` : `${(abs / 1000).toFixed(0)}s`;
  return ms < 0 ? `-${text}` : text;
}

function failed(message: string): Extract<Plan, { kind: 'done' }>['result'] {
  return { passed: false, failing_count: null, failing_fraction: null, message };
}

async function planRule(conn: DuckDbConnection, rule: Rule, index: number, columns: Map<string, ColumnSchema>, from: string): Promise<Plan> {
  const need = (name: string): ColumnSchema | Plan => columns.get(name) ?? { kind: 'done', index, result: failed(`column "${name}" is not in this version`) };
  const isPlan = (x: ColumnSchema | Plan): x is Plan => 'kind' in x;
  switch (rule.rule) {
    case 'column': {
      const c = columns.get(rule.column);
      if (!c) return { kind: 'done', index, result: failed(`column "${rule.column}" is not in this version`) };
      const ok = rule.type === undefined || rule.type === c.type;
      return {
        kind: 'done',
        index,
        result: {
          passed: ok,
          failing_count: null,
          failing_fraction: null,
          observed: c.type,
          message: ok ? `column "${c.name}" is present${rule.type ? ` with type ${c.type}` : ''}` : `column "${c.name}" has type ${c.type}, expected ${rule.type}`,
        },
      };
    }
    case 'null_fraction': {
      const c = need(rule.column);
      if (isPlan(c)) return c;
      // The failing rows are the nulls; whether the rule passes depends on their share.
      return {
        kind: 'rows',
        index,
        failing: `${quoteIdent(c.name)} IS NULL`,
        passes: (n, rows) => rows === 0 || n / rows <= rule.max,
        message: (n, rows) => `null fraction ${rows === 0 ? 0 : Number((n / rows).toPrecision(4))} (${n} of ${rows}); allowed ${rule.max}`,
      };
    }
    case 'range': {
      const c = need(rule.column);
      if (isPlan(c)) return c;
      if (!NUMERIC.has(c.type)) return { kind: 'done', index, result: failed(`range needs a numeric or timestamp column; "${c.name}" is ${c.type}`) };
      const bound = (v: number | string | undefined, field: string): string | undefined => {
        if (v === undefined) return undefined;
        if (c.type === 'timestamp') {
          const ms = typeof v === 'number' ? v : Date.parse(v);
          if (!Number.isFinite(ms)) throw invalidParam(`rules[${index}].${field}`, `expected a timestamp, got ${JSON.stringify(v)}`);
          return `epoch_ms(${quoteIdent(c.name)}) ${field === 'min' ? '<' : '>'} ${ms}`;
        }
        if (typeof v !== 'number') throw invalidParam(`rules[${index}].${field}`, `expected a number, got ${JSON.stringify(v)}`);
        return `${quoteIdent(c.name)} ${field === 'min' ? '<' : '>'} ${v}`;
      };
      const parts = [bound(rule.min, 'min'), bound(rule.max, 'max')].filter(Boolean);
      return {
        kind: 'rows',
        index,
        failing: `(${parts.join(' OR ')})`,
        message: (n) => `${n} value${n === 1 ? '' : 's'} outside [${rule.min ?? '-∞'}, ${rule.max ?? '∞'}]`,
      };
    }
    case 'allowed_values': {
      const c = need(rule.column);
      if (isPlan(c)) return c;
      const numeric = c.type === 'integer' || c.type === 'float';
      if (numeric && rule.values.some((v) => typeof v !== 'number')) {
        throw invalidParam(`rules[${index}].values`, `column "${c.name}" is ${c.type}; list numbers`);
      }
      if (numeric && (rule.values as number[]).some((v) => !Number.isFinite(v))) throw invalidParam(`rules[${index}].values`, 'numbers must be finite');
      // Lists are written as literals: DuckDB cannot bind a list parameter of unknown type.
      const list = numeric ? `CAST([${(rule.values as number[]).map((v) => String(v)).join(', ')}] AS DOUBLE[])` : `CAST(${listLiteral(rule.values.map(String))} AS VARCHAR[])`;
      const failing = `(${quoteIdent(c.name)} IS NOT NULL AND NOT list_contains(${list}, CAST(${quoteIdent(c.name)} AS ${numeric ? 'DOUBLE' : 'VARCHAR'})))`;
      return { kind: 'rows', index, failing, message: (n) => `${n} value${n === 1 ? '' : 's'} not in the allowed list` };
    }
    case 'regex': {
      try {
        await conn.run('SELECT regexp_matches(\'\', $1)', [rule.pattern]);
      } catch (error) {
        throw invalidParam(`rules[${index}].pattern`, `invalid regular expression: ${firstLine(error)}`);
      }
      const c = need(rule.column);
      if (isPlan(c)) return c;
      return {
        kind: 'rows',
        index,
        failing: `(${quoteIdent(c.name)} IS NOT NULL AND NOT regexp_matches(CAST(${quoteIdent(c.name)} AS VARCHAR), $1))`,
        params: [rule.pattern],
        message: (n) => `${n} value${n === 1 ? '' : 's'} not matching /${rule.pattern}/`,
      };
    }
    case 'unique': {
      const names = rule.columns ?? [rule.column!];
      for (const name of names) {
        const c = need(name);
        if (isPlan(c)) return c;
      }
      return { kind: 'unique', index, columns: names };
    }
    case 'row_count':
      return { kind: 'row_count', index, min: rule.min, max: rule.max };
    case 'freshness': {
      const c = need(rule.column);
      if (isPlan(c)) return c;
      if (c.type !== 'timestamp') return { kind: 'done', index, result: failed(`freshness needs a timestamp column; "${c.name}" is ${c.type}`) };
      return { kind: 'freshness', index, column: c, maxAgeMs: rule.max_age };
    }
    case 'sql': {
      let checked: { sql: string; unknown: string[] };
      try {
        checked = await checkPredicate(conn, rule.expression, [...columns.keys()]);
      } catch (error) {
        throw relabel(error, `rules[${index}].expression`);
      }
      if (checked.unknown.length > 0) {
        return { kind: 'done', index, result: failed(`column${checked.unknown.length > 1 ? 's' : ''} ${checked.unknown.map((u) => `"${u}"`).join(', ')} not in this version`) };
      }
      const failing = `(NOT coalesce(CAST((${checked.sql}) AS BOOLEAN), true))`;
      try {
        // Binding without reading a row surfaces type errors (a string compared with a number...).
        await conn.run(`SELECT ${failing} FROM ${from} LIMIT 0`);
      } catch (error) {
        throw invalidParam(`rules[${index}].expression`, `cannot be evaluated on this version: ${firstLine(error)}`);
      }
      return { kind: 'rows', index, failing, message: (n) => `${n} row${n === 1 ? '' : 's'} where the expression is false` };
    }
  }
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0];
}

function relabel(error: unknown, field: string): unknown {
  const e = error as { fields?: { field: string; reason: string }[] };
  if (e?.fields?.length === 1 && e.fields[0].field === 'expression') return invalidParam(field, e.fields[0].reason);
  return error;
}

async function sampleRows(conn: DuckDbConnection, from: string, failing: string, params: unknown[] | undefined): Promise<Record<string, unknown>[]> {
  return sampleFrom(conn, `SELECT * FROM ${from} WHERE ${failing} ORDER BY file_row_number LIMIT ${SAMPLE_ROWS}`, params);
}

async function sampleFrom(conn: DuckDbConnection, sql: string, params?: unknown[]): Promise<Record<string, unknown>[]> {
  const rows = await conn.rows(sql, params as never);
  return rows.map((row) => {
    const out: Record<string, unknown> = { _row: Number(row.file_row_number) + 1 };
    for (const [key, value] of Object.entries(row)) if (key !== 'file_row_number') out[key] = jsonValue(value);
    return out;
  });
}

/** A DuckDB value as JSON can hold it. */
export function jsonValue(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && !Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
  return value;
}
