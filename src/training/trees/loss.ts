/**
 * The losses of histogram gradient boosting, as scikit-learn 1.2 defines them (`HalfBinomialLoss`,
 * `HalfMultinomialLoss`, `HalfSquaredError`): the baseline raw prediction, gradients and hessians, and
 * the mean loss used for early stopping. Raw predictions are row-major `[row * K + k]`; gradients and
 * hessians are class-major `[k * n + row]` so that each tree reads one contiguous column.
 */

/** The loss of a task. */
export type LossKind = 'binary' | 'multiclass' | 'squared_error';

/** Numeric codes of {@link LossKind}, for the worker protocol. */
export const LOSS_CODE: Record<LossKind, number> = { binary: 0, multiclass: 1, squared_error: 2 };

const EPS = 2.220446049250313e-16;

/**
 * The constant raw prediction that minimises the loss (scikit-learn's `fit_intercept_only`): the mean
 * for squared error, the log-odds of the mean for binary, centred log-probabilities for multiclass.
 */
export function baselinePrediction(kind: LossKind, y: Float64Array, weight: Float64Array | undefined, nClasses: number): Float64Array {
  const n = y.length;
  let wsum = 0;
  for (let i = 0; i < n; i++) wsum += weight ? weight[i] : 1;
  if (kind === 'squared_error') {
    let s = 0;
    for (let i = 0; i < n; i++) s += (weight ? weight[i] : 1) * y[i];
    return Float64Array.of(s / wsum);
  }
  if (kind === 'binary') {
    let s = 0;
    for (let i = 0; i < n; i++) s += (weight ? weight[i] : 1) * y[i];
    const eps = 10 * EPS;
    const p = Math.min(Math.max(s / wsum, eps), 1 - eps);
    return Float64Array.of(Math.log(p / (1 - p)));
  }
  const p = new Float64Array(nClasses);
  for (let i = 0; i < n; i++) p[y[i]] += weight ? weight[i] : 1;
  let meanLog = 0;
  for (let k = 0; k < nClasses; k++) {
    p[k] = Math.min(Math.max(p[k] / wsum, EPS), 1 - EPS);
    meanLog += Math.log(p[k]);
  }
  meanLog /= nClasses;
  const out = new Float64Array(nClasses);
  for (let k = 0; k < nClasses; k++) out[k] = Math.log(p[k]) - meanLog;
  return out;
}

/**
 * Writes gradients and hessians of rows `[r0, r1)` into `grad` and `hess` (class-major, float32). With
 * `constantHessian` (squared error without weights) hessians are left untouched.
 */
export function computeGradients(
  lossCode: number,
  y: Float64Array,
  raw: Float64Array,
  weight: Float64Array | null,
  grad: Float32Array,
  hess: Float32Array,
  n: number,
  nClasses: number,
  r0: number,
  r1: number,
): void {
  r0 |= 0;
  r1 |= 0;
  if (lossCode === 0) {
    for (let i = r0; i < r1; i++) {
      const z = raw[i];
      const yi = y[i];
      let g: number;
      let h: number;
      if (z > -37) {
        const e = Math.exp(-z);
        g = (1 - yi - yi * e) / (1 + e);
        h = e / ((1 + e) * (1 + e));
      } else {
        const e = Math.exp(z);
        g = e - yi;
        h = e / ((1 + e) * (1 + e));
      }
      if (weight !== null) {
        g *= weight[i];
        h *= weight[i];
      }
      grad[i] = g;
      hess[i] = h;
    }
  } else if (lossCode === 1) {
    const K = nClasses;
    for (let i = r0; i < r1; i++) {
      const o = i * K;
      let max = raw[o];
      for (let k = 1; k < K; k++) if (raw[o + k] > max) max = raw[o + k];
      let sum = 0;
      for (let k = 0; k < K; k++) sum += Math.exp(raw[o + k] - max);
      const w = weight !== null ? weight[i] : 1;
      const yi = y[i];
      for (let k = 0; k < K; k++) {
        const p = Math.exp(raw[o + k] - max) / sum;
        grad[k * n + i] = w * (p - (yi === k ? 1 : 0));
        hess[k * n + i] = w * p * (1 - p);
      }
    }
  } else {
    for (let i = r0; i < r1; i++) {
      if (weight !== null) {
        grad[i] = weight[i] * (raw[i] - y[i]);
        hess[i] = weight[i];
      } else {
        grad[i] = raw[i] - y[i];
      }
    }
  }
}

/** The (weighted) mean loss of raw predictions `raw` against `y`: half log-loss terms as scikit-learn. */
export function meanLoss(kind: LossKind, y: Float64Array, raw: Float64Array, weight: Float64Array | null, nClasses: number): number {
  const n = y.length;
  let total = 0;
  let wsum = 0;
  for (let i = 0; i < n; i++) {
    let l: number;
    if (kind === 'binary') {
      const z = raw[i];
      // log(1 + exp(z)) - y z, computed without overflow.
      l = (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - y[i] * z;
    } else if (kind === 'multiclass') {
      const o = i * nClasses;
      let max = raw[o];
      for (let k = 1; k < nClasses; k++) if (raw[o + k] > max) max = raw[o + k];
      let s = 0;
      for (let k = 0; k < nClasses; k++) s += Math.exp(raw[o + k] - max);
      l = max + Math.log(s) - raw[o + y[i]];
    } else {
      const d = y[i] - raw[i];
      l = 0.5 * d * d;
    }
    const w = weight !== null ? weight[i] : 1;
    total += w * l;
    wsum += w;
  }
  return total / wsum;
}
