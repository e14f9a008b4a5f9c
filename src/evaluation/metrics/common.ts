/**
 * Input types and checks shared by the metric functions. Every metric takes plain arrays or typed
 * arrays; classification labels are class indices 0..k−1 (the convention of `training/types.ts`),
 * and the positive class of a binary problem is 1.
 */
import { invalidParam } from '../../core/errors.ts';

/** A numeric vector: a plain array or any typed array. */
export type Vector = ArrayLike<number>;

/** Row-major scores, one row per sample and one column per class (`FittedModel.predict` output shape). */
export interface ScoreMatrix {
  readonly rows: number;
  readonly cols: number;
  /** `data[r * cols + c]`. */
  readonly data: Vector;
}

/** Options of every metric that accepts sample weights. */
export interface WeightOptions {
  /** Non-negative per-sample weights; omitted means all 1. */
  readonly sampleWeight?: Vector;
}

/** True when `x` is a {@link ScoreMatrix} rather than a vector. */
export function isScoreMatrix(x: Vector | ScoreMatrix): x is ScoreMatrix {
  return typeof (x as ScoreMatrix).cols === 'number' && typeof (x as ScoreMatrix).rows === 'number' && 'data' in x;
}

/** Throws unless `v` has at least one element. */
export function requireNonEmpty(field: string, v: Vector): void {
  if (v.length === 0) throw invalidParam(field, 'is empty');
}

/** Throws unless `v` has `n` elements. */
export function requireLength(field: string, v: Vector, n: number): void {
  if (v.length !== n) throw invalidParam(field, `length ${v.length} does not match yTrue length ${n}`);
}

/**
 * Throws unless every element of `v` is a class index (a non-negative integer); returns the number of
 * classes it implies (largest index + 1).
 */
export function checkClassIndices(field: string, v: Vector): number {
  let max = -1;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (!Number.isInteger(x) || x < 0) {
      throw invalidParam(field, `expected a class index (non-negative integer) at row ${i}, found ${x}`);
    }
    if (x > max) max = x;
  }
  return max + 1;
}

/** Throws unless every element of `v` is a binary label (0 or 1). */
export function checkBinaryLabels(field: string, v: Vector): void {
  for (let i = 0; i < v.length; i++) {
    if (v[i] !== 0 && v[i] !== 1) throw invalidParam(field, `expected a binary label 0 or 1 at row ${i}, found ${v[i]}`);
  }
}

/** Throws unless every element of `v` is a probability in [0, 1]. */
export function checkProbabilities(field: string, v: Vector): void {
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (!(x >= 0 && x <= 1)) throw invalidParam(field, `probability outside [0, 1] at index ${i}: ${x}`);
  }
}

/** Throws unless every element of `v` is finite. */
export function checkFinite(field: string, v: Vector): void {
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) throw invalidParam(field, `non-finite value at row ${i}: ${v[i]}`);
  }
}

/**
 * Validates optional sample weights for `n` rows: finite, non-negative and not all zero. Returns them
 * as a Float64Array, or undefined when absent.
 */
export function checkWeights(w: Vector | undefined, n: number): Float64Array | undefined {
  if (w === undefined) return undefined;
  requireLength('sampleWeight', w, n);
  let sum = 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = w[i];
    if (!(Number.isFinite(x) && x >= 0)) throw invalidParam('sampleWeight', `expected a finite weight >= 0 at row ${i}, found ${x}`);
    out[i] = x;
    sum += x;
  }
  if (sum === 0) throw invalidParam('sampleWeight', 'weights sum to zero');
  return out;
}

/** The weighted mean of `values` (plain mean when `w` is undefined), as `numpy.average`. */
export function weightedMean(values: Float64Array, w: Float64Array | undefined): number {
  let num = 0;
  if (w === undefined) {
    for (let i = 0; i < values.length; i++) num += values[i];
    return num / values.length;
  }
  let den = 0;
  for (let i = 0; i < values.length; i++) {
    num += values[i] * w[i];
    den += w[i];
  }
  return num / den;
}

/** Checks a score matrix's shape against `n` rows and returns its data. */
export function checkScoreMatrix(field: string, m: ScoreMatrix, n: number): Vector {
  if (m.rows !== n) throw invalidParam(field, `has ${m.rows} rows but yTrue has length ${n}`);
  if (!Number.isInteger(m.cols) || m.cols < 2) throw invalidParam(field, `needs at least 2 columns, has ${m.cols}`);
  if (m.data.length !== m.rows * m.cols) {
    throw invalidParam(field, `data length ${m.data.length} is not rows × cols = ${m.rows * m.cols}`);
  }
  return m.data;
}
