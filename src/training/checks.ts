/**
 * The checks every trainer makes before any work, written once: hyperparameters against their ranges,
 * and the input — one target value and one weight per row, class indices, finite values. Each failure
 * is an `INVALID_PARAMETER_VALUE` naming the field, and the value and row where there is one.
 */
import { invalidParam } from '../core/errors.ts';
import type { Matrix } from './types.ts';

/** A value as an error message shows it: numbers as they print, anything else as JSON. */
function shown(value: unknown): string {
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

/**
 * Returns `value` when it is a finite number that satisfies `ok`; otherwise throws on `field` with
 * `rule` (e.g. `must be a number ≥ 0`) and the value given.
 */
export function checkNumber(field: string, value: unknown, ok: (v: number) => boolean, rule: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) throw invalidParam(field, `${rule}, got ${shown(value)}`);
  return value;
}

/** Returns `value` when it is an integer ≥ `min` (and ≤ `max`); otherwise throws on `field`. */
export function checkInteger(field: string, value: unknown, min: number, max = Infinity): number {
  const rule = max === Infinity ? `must be an integer ≥ ${min}` : `must be an integer in ${min}..${max}`;
  return checkNumber(field, value, (v) => Number.isInteger(v) && v >= min && v <= max, rule);
}

/** Returns `value` when it is a boolean; otherwise throws on `field`. */
export function checkBoolean(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalidParam(field, `must be a boolean, got ${shown(value)}`);
  return value;
}

/** Throws on `field` unless `values` holds one entry per row of the input. */
export function checkRowCount(field: string, values: ArrayLike<number>, rows: number, noun = 'values'): void {
  if (values.length !== rows) throw invalidParam(field, `has ${values.length} ${noun} for ${rows} rows`);
}

/**
 * Throws on `field` unless every entry is a class index below `nClasses`; returns the number of
 * distinct classes present.
 */
export function checkClassIndices(field: string, values: ArrayLike<number>, nClasses: number): number {
  const seen = new Uint8Array(nClasses);
  let distinct = 0;
  for (let i = 0; i < values.length; i++) {
    const c = values[i];
    if (!(Number.isInteger(c) && c >= 0 && c < nClasses)) throw invalidParam(field, `label ${c} at row ${i} is not a class index below ${nClasses}`);
    if (seen[c] === 0) {
      seen[c] = 1;
      distinct++;
    }
  }
  return distinct;
}

/** Throws on `field` unless every entry is finite. */
export function checkFiniteValues(field: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) throw invalidParam(field, `value ${values[i]} at row ${i} is not finite`);
}

/** Throws on `features` unless every feature value is finite: `trainer` needs imputed features. */
export function checkFiniteFeatures(x: Matrix, trainer: string): void {
  const data = x.data;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw invalidParam('features', `value ${data[i]} at row ${Math.floor(i / x.cols)}, column ${i % x.cols}; ${trainer} needs imputed, finite features`);
  }
}

/** Throws on `sampleWeight` unless it holds one finite weight ≥ 0 per row, not all zero. */
export function checkSampleWeights(weights: ArrayLike<number>, rows: number): void {
  checkRowCount('sampleWeight', weights, rows, 'weights');
  let sum = 0;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i];
    if (!(w >= 0 && Number.isFinite(w))) throw invalidParam('sampleWeight', `weight ${w} at row ${i} is not a finite number ≥ 0`);
    sum += w;
  }
  if (!(sum > 0)) throw invalidParam('sampleWeight', 'weights sum to zero');
}
