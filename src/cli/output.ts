/** How CLI commands print: JSON with `--json`, aligned tables and key/value blocks otherwise. */

/** Options every command shares. */
export interface OutputOptions {
  readonly json?: boolean;
}

/** Prints `data` as JSON, or as the text `render` makes of it. */
export function print<T>(data: T, options: OutputOptions, render: (data: T) => string): void {
  process.stdout.write(options.json ? `${JSON.stringify(data, null, 2)}\n` : `${render(data)}\n`);
}

/** An aligned text table. */
export function table(rows: readonly object[], columns: readonly string[]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((row) => columns.map((c) => formatCell((row as Record<string, unknown>)[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (values: readonly string[]) => values.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n');
}

/** A block of `key: value` lines. */
export function keyValues(entries: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(entries).map((k) => k.length));
  return Object.entries(entries)
    .map(([k, v]) => `${k.padEnd(width)}  ${formatCell(v)}`)
    .join('\n');
}

function formatCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
