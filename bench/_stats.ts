/** Small statistics helpers for benchmarks. */

/** The q-quantile (0..1) of `values` by linear interpolation. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Rounds to `digits` significant digits for printing. */
export function round(value: number, digits = 4): number {
  return Number(value.toPrecision(digits));
}

/** Milliseconds elapsed while `fn` runs. */
export async function time(fn: () => unknown): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Writes a progress line to stderr. */
export function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}
