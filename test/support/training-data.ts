/**
 * Test data for the trainers: the reference CSVs copied into `test/fixtures/data` (all-numeric,
 * with a `target` column), read into a {@link Table}, and the oracle fixtures of
 * `scripts/fixtures/training.py`.
 */
import { readFileSync } from 'node:fs';
import type { Table } from '../../src/training/types.ts';

const FIXTURES = new URL('../fixtures/', import.meta.url);

/** Reads `test/fixtures/data/<name>.csv` (numbers only) as a table of numeric columns. */
export function readNumericCsv(name: 'breast_cancer' | 'wine' | 'diabetes'): Table {
  const text = readFileSync(new URL(`data/${name}.csv`, FIXTURES), 'utf8').trim();
  const lines = text.split('\n');
  const header = lines[0].split(',');
  const rows = lines.length - 1;
  const columns = header.map((h) => ({ name: h, kind: 'numeric' as const, values: new Float64Array(rows) }));
  for (let r = 0; r < rows; r++) {
    const cells = lines[r + 1].split(',');
    for (let c = 0; c < header.length; c++) columns[c].values[r] = Number(cells[c]);
  }
  return { rows, columns };
}

/** Parses `test/fixtures/training/<name>.json`. */
export function trainingFixture<T = any>(name: string): T {
  return JSON.parse(readFileSync(new URL(`training/${name}.json`, FIXTURES), 'utf8')) as T;
}

/** `test/fixtures/data/reference_metrics.json`. */
export function referenceMetrics(): Record<string, Record<string, number>> {
  return JSON.parse(readFileSync(new URL('data/reference_metrics.json', FIXTURES), 'utf8'));
}

/** Largest absolute difference between two sequences of equal length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
