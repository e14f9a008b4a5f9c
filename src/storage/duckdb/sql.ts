/**
 * Quoting for the few places DuckDB cannot take a bound parameter: identifiers, and file paths in
 * `COPY ... TO` and table-function options. Values go through parameters everywhere else.
 */

/** Quotes an identifier (`fare` → `"fare"`, `a"b` → `"a""b"`). */
export function quoteIdent(name: string): string {
  if (name.includes('\u0000')) throw new RangeError('identifier contains a NUL character');
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a string literal (`it's` → `'it''s'`). */
export function quoteLiteral(value: string): string {
  if (value.includes('\u0000')) throw new RangeError('string literal contains a NUL character');
  return `'${value.replaceAll("'", "''")}'`;
}

/** A DuckDB `{'k': 'v', ...}` struct literal of strings, as `KV_METADATA` and `types=` take. */
export function structLiteral(entries: Record<string, string>): string {
  return `{${Object.entries(entries)
    .map(([k, v]) => `${quoteLiteral(k)}: ${quoteLiteral(v)}`)
    .join(', ')}}`;
}

/** A DuckDB list literal of strings (`['a', 'b']`). */
export function listLiteral(values: readonly string[]): string {
  return `[${values.map(quoteLiteral).join(', ')}]`;
}
