/**
 * zod codecs for tracking's wire scalars, shared by the MLflow and `/api/v1` routes: protobuf-JSON
 * numbers (int64 as a number or a decimal string; doubles also as "NaN", "Infinity", "-Infinity"),
 * query-string values (which arrive as strings, and as arrays when repeated) and view types.
 */
import { z } from 'zod';
import { VIEW_TYPES, type ViewType } from './domain.ts';

function describe(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'an array';
  return typeof input === 'string' ? `"${input.length > 40 ? `${input.slice(0, 40)}…` : input}"` : typeof input;
}

/** A required string. */
export function str() {
  return z.string({ error: (issue) => (issue.input === undefined ? 'required' : `expected a string, got ${describe(issue.input)}`) });
}

/**
 * An experiment id: a string as in MLflow's proto, or a JSON integer (MLflow's request parser turns
 * those into strings too). Empty counts as missing, as MLflow's required-field check has it.
 */
export function experimentIdField() {
  return z
    .union([z.string(), z.number().int().nonnegative()], {
      error: (issue) => (issue.input === undefined ? 'required' : `expected a string, got ${describe(issue.input)}`),
    })
    .transform((v, ctx): string => {
      if (v === '') {
        ctx.addIssue({ code: 'custom', message: 'required (got an empty string)', input: v });
        return z.NEVER;
      }
      return String(v);
    });
}

/**
 * `value` with every object key whose value is JSON `null` left out, at any depth: protobuf's JSON
 * mapping reads `null` as "not set", so MLflow clients may send it for any optional field.
 */
export function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (v !== null) out[key] = withoutNulls(v);
  return out;
}

const INT_TEXT = /^-?\d{1,19}$/;

/** An int64: a JSON number without fraction, or a decimal string (protobuf JSON, query strings). */
export const int64 = z.custom<unknown>().transform((input, ctx): number => {
  if (typeof input === 'number' && Number.isInteger(input)) return input;
  if (typeof input === 'string' && INT_TEXT.test(input)) return Number(input);
  ctx.addIssue({ code: 'custom', message: input === undefined ? 'required' : `expected an integer, got ${describe(input)}`, input });
  return z.NEVER;
});

/** A double: a JSON number, "NaN", "Infinity", "-Infinity" or a numeric string. */
export const double = z.custom<unknown>().transform((input, ctx): number => {
  if (typeof input === 'number') return input;
  if (typeof input === 'string') {
    if (input === 'NaN') return Number.NaN;
    if (input === 'Infinity') return Number.POSITIVE_INFINITY;
    if (input === '-Infinity') return Number.NEGATIVE_INFINITY;
    if (input.trim() !== '' && !Number.isNaN(Number(input))) return Number(input);
  }
  ctx.addIssue({
    code: 'custom',
    message: input === undefined ? 'required' : `expected a number (or "NaN", "Infinity", "-Infinity"), got ${describe(input)}`,
    input,
  });
  return z.NEVER;
});

/** A list of strings that may arrive as a single string (a query-string key given once). */
export const stringList = z
  .union([z.string(), z.array(z.string())], { error: (issue) => `expected a list of strings, got ${describe(issue.input)}` })
  .transform((v) => (Array.isArray(v) ? v : [v]));

/** A view type by name or by its protobuf number (1, 2, 3). */
export const viewType = z.custom<unknown>().transform((input, ctx): ViewType => {
  if (typeof input === 'string' && (VIEW_TYPES as readonly string[]).includes(input)) return input as ViewType;
  const n = typeof input === 'number' ? input : typeof input === 'string' && /^[123]$/.test(input) ? Number(input) : 0;
  if (n >= 1 && n <= 3) return VIEW_TYPES[n - 1];
  ctx.addIssue({ code: 'custom', message: `expected one of ${VIEW_TYPES.join(', ')}, got ${describe(input)}`, input });
  return z.NEVER;
});

/** A `{key, value}` tag; a missing value is the empty string, as in protobuf. */
export const tag = z.object({ key: str(), value: str().optional().default('') });
