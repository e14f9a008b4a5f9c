/**
 * The values requests carry, checked and converted to the transformation language's: entity columns
 * of online reads, inline entity and logged rows, pushed source rows; and their way back out
 * (timestamps as ISO 8601) and the comparison the skew check makes.
 */
import { MloopError, invalidParam, type FieldError } from '../core/errors.ts';
import type { ResolvedView } from './domain.ts';
import type { DuckColumn } from './duck-values.ts';
import type { ExprType, ExprValue } from './expr.ts';

/**
 * Checks the entity columns of an online request against the join keys and request fields the
 * selected features need: every one present, nothing unknown, one length, values of the right type
 * (keys never null). Errors name every offending column or value (the first 20).
 */
export function checkEntityColumns(
  entities: Readonly<Record<string, readonly unknown[]>>,
  keys: ReadonlyMap<string, ExprType>,
  requestFields: ReadonlyMap<string, ExprType>,
): { rows: number; columns: string[] } {
  const columns = Object.keys(entities);
  const unknown = columns.filter((c) => !keys.has(c) && !requestFields.has(c));
  if (unknown.length > 0) {
    throw new MloopError('INVALID_PARAMETER_VALUE', `unknown entities: ${unknown.join(', ')} (expected ${[...keys.keys(), ...requestFields.keys()].join(', ')})`, {
      fields: unknown.map((c) => ({ field: `entities.${c}`, reason: `unknown entity key or request field "${c}"` })),
    });
  }
  const missing = [...keys.keys(), ...requestFields.keys()].filter((k) => !(k in entities));
  if (missing.length > 0) {
    throw new MloopError('INVALID_PARAMETER_VALUE', `missing entities: ${missing.join(', ')}`, {
      fields: missing.map((c) => ({ field: `entities.${c}`, reason: 'is required' })),
    });
  }
  let rows = -1;
  const errors: FieldError[] = [];
  for (const c of columns) {
    const values = entities[c];
    if (!Array.isArray(values)) {
      errors.push({ field: `entities.${c}`, reason: 'expected an array of values' });
      continue;
    }
    if (rows === -1) rows = values.length;
    else if (values.length !== rows) errors.push({ field: `entities.${c}`, reason: `has ${values.length} values, other columns ${rows}` });
    const keyType = keys.get(c);
    const type: ExprType = keyType ?? requestFields.get(c)!;
    values.forEach((v, i) => {
      const reason = typeError(v, type, keyType !== undefined);
      if (reason && errors.length < 20) errors.push({ field: `entities.${c}[${i}]`, reason });
    });
  }
  if (errors.length > 0) throw new MloopError('INVALID_PARAMETER_VALUE', errors.map((e) => `${e.field}: ${e.reason}`).join('; '), { fields: errors });
  return { rows: Math.max(rows, 0), columns };
}

/** Why `v` is not a value of `type` (a key must not be null), or undefined when it is. */
function typeError(v: unknown, type: ExprType, isKey: boolean): string | undefined {
  if (v === null || v === undefined) return isKey ? 'an entity key must not be null' : undefined;
  switch (type) {
    case 'int':
      return typeof v === 'number' && Number.isSafeInteger(v) ? undefined : `expected an integer, got ${JSON.stringify(v)}`;
    case 'float':
      return typeof v === 'number' ? undefined : `expected a number, got ${JSON.stringify(v)}`;
    case 'string':
      return typeof v === 'string' ? undefined : `expected a string, got ${JSON.stringify(v)}`;
    case 'bool':
      return typeof v === 'boolean' ? undefined : `expected true or false, got ${JSON.stringify(v)}`;
    case 'timestamp':
      return typeof v === 'number' || (typeof v === 'string' && !Number.isNaN(Date.parse(v))) ? undefined : `expected a timestamp, got ${JSON.stringify(v)}`;
  }
}

/** Converts a JSON value to a language value of `type`; throws naming `field`. */
export function coerce(v: unknown, type: ExprType, field: string): ExprValue {
  if (v === null || v === undefined) return null;
  if (type === 'timestamp') {
    const ms = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : Number.NaN;
    if (!Number.isFinite(ms)) throw invalidParam(field, `expected a timestamp (ISO 8601 or epoch milliseconds), got ${JSON.stringify(v)}`);
    return ms;
  }
  const reason = typeError(v, type, false);
  if (reason) throw invalidParam(field, reason);
  return v as ExprValue;
}

/** The type of a column of inline rows that no definition types: int, float (mixed with int), bool, else string. */
export function inferType(rows: readonly Record<string, unknown>[], name: string): ExprType {
  let type: ExprType | undefined;
  for (const row of rows) {
    const v = row[name];
    if (v === null || v === undefined) continue;
    const t: ExprType = typeof v === 'number' ? (Number.isSafeInteger(v) ? 'int' : 'float') : typeof v === 'boolean' ? 'bool' : 'string';
    if (type === undefined || type === t) type = t;
    else if ((type === 'int' && t === 'float') || (type === 'float' && t === 'int')) type = 'float';
    else type = 'string';
  }
  return type ?? 'string';
}

/** The typed source columns a pushed row must have: keys, timestamp, and what the features read. */
export function sourceColumns(view: ResolvedView): DuckColumn[] {
  return [
    ...view.keys.map((k) => ({ name: k.name, type: k.type as ExprType })),
    { name: view.spec.source.timestamp, type: 'timestamp' as ExprType },
    ...Object.entries(view.sourceColumns).map(([name, type]) => ({ name, type })),
  ];
}

/** Checks and converts one pushed source row; keys and event time are required, unknown columns refused. */
export function checkSourceRow(row: Record<string, unknown>, columns: DuckColumn[], where: string): Record<string, ExprValue> {
  const unknown = Object.keys(row).filter((k) => !columns.some((c) => c.name === k));
  if (unknown.length > 0) throw invalidParam(`${where}.${unknown[0]}`, `unknown column "${unknown[0]}" (expected ${columns.map((c) => c.name).join(', ')})`);
  const out: Record<string, ExprValue> = {};
  columns.forEach((c, i) => {
    const v = coerce(row[c.name], c.type, `${where}.${c.name}`);
    if (v === null && i <= columns.findIndex((x) => x.type === 'timestamp')) throw invalidParam(`${where}.${c.name}`, 'is required');
    out[c.name] = v;
  });
  return out;
}

/**
 * Whether a served and a recomputed value agree (NaN equals NaN; numbers within a relative tolerance):
 * the skew check's rule, which `skew.ts` applies in SQL and is tested against.
 */
export function sameValue(a: unknown, b: unknown, tolerance: number): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null);
  if (typeof a === 'number' && typeof b === 'number') {
    if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
    if (a === b) return true;
    return tolerance > 0 && Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(a), Math.abs(b));
  }
  return a === b;
}

/** Renders TIMESTAMP columns (epoch ms after conversion) as ISO 8601 strings. */
export function isoTimestamps(timestampColumns: ReadonlySet<string>) {
  return (row: Record<string, ExprValue>): Record<string, unknown> => {
    const out: Record<string, unknown> = { ...row };
    for (const c of timestampColumns) if (typeof out[c] === 'number') out[c] = new Date(out[c] as number).toISOString();
    return out;
  };
}
