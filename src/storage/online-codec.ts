/**
 * How online-store adapters encode a record's values as text: JSON, with the non-finite numbers JSON
 * lacks written as `{"$f":"NaN"}`, `{"$f":"Infinity"}`, `{"$f":"-Infinity"}` (values are never
 * objects otherwise, so the form is unambiguous).
 */
import type { OnlineValue } from './ports.ts';

/** Encodes feature values as text. */
export function encodeOnlineValues(values: Readonly<Record<string, OnlineValue>>): string {
  return JSON.stringify(values, (_key, v: unknown) =>
    typeof v === 'number' && !Number.isFinite(v) ? { $f: Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity' } : v,
  );
}

/** Decodes what {@link encodeOnlineValues} wrote. */
export function decodeOnlineValues(text: string): Record<string, OnlineValue> {
  return JSON.parse(text, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && '$f' in v ? Number((v as { $f: string }).$f) : v,
  ) as Record<string, OnlineValue>;
}
