/**
 * Regression metrics with scikit-learn 1.2.1 semantics (checked against its values in
 * `regression.test.ts`). All accept sample weights.
 */
import { checkFinite, checkWeights, requireLength, requireNonEmpty, weightedMean, type Vector, type WeightOptions } from './common.ts';

/** Guard of MAPE's denominator: float64 machine epsilon, as scikit-learn. */
export const MAPE_EPS = 2.220446049250313e-16;

function check(yTrue: Vector, yPred: Vector, options: WeightOptions): Float64Array | undefined {
  requireNonEmpty('yTrue', yTrue);
  requireLength('yPred', yPred, yTrue.length);
  checkFinite('yTrue', yTrue);
  checkFinite('yPred', yPred);
  return checkWeights(options.sampleWeight, yTrue.length);
}

function mapRows(yTrue: Vector, yPred: Vector, f: (t: number, p: number) => number): Float64Array {
  const out = new Float64Array(yTrue.length);
  for (let i = 0; i < out.length; i++) out[i] = f(yTrue[i], yPred[i]);
  return out;
}

/** Mean absolute error. */
export function meanAbsoluteError(yTrue: Vector, yPred: Vector, options: WeightOptions = {}): number {
  const w = check(yTrue, yPred, options);
  return weightedMean(mapRows(yTrue, yPred, (t, p) => Math.abs(p - t)), w);
}

/** Root mean squared error: √(weighted mean of squared errors). */
export function rootMeanSquaredError(yTrue: Vector, yPred: Vector, options: WeightOptions = {}): number {
  const w = check(yTrue, yPred, options);
  return Math.sqrt(weightedMean(mapRows(yTrue, yPred, (t, p) => (t - p) ** 2), w));
}

/**
 * Mean absolute percentage error as a fraction (not ×100): |ŷ − y| / max(|y|, ε). A zero target
 * gives a huge term rather than an error, exactly as scikit-learn.
 */
export function meanAbsolutePercentageError(yTrue: Vector, yPred: Vector, options: WeightOptions = {}): number {
  const w = check(yTrue, yPred, options);
  return weightedMean(mapRows(yTrue, yPred, (t, p) => Math.abs(p - t) / Math.max(Math.abs(t), MAPE_EPS)), w);
}

/**
 * Coefficient of determination R². As scikit-learn (`force_finite=True`): perfect predictions give 1
 * even for a constant target, imperfect predictions of a constant target give 0, and fewer than two
 * samples give NaN (R² is not defined there).
 */
export function r2Score(yTrue: Vector, yPred: Vector, options: WeightOptions = {}): number {
  const w = check(yTrue, yPred, options);
  const n = yTrue.length;
  if (n < 2) return NaN;
  const mean = weightedMean(Float64Array.from(yTrue), w);
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    const weight = w ? w[i] : 1;
    num += weight * (yTrue[i] - yPred[i]) ** 2;
    den += weight * (yTrue[i] - mean) ** 2;
  }
  if (num === 0) return 1;
  if (den === 0) return 0;
  return 1 - num / den;
}
