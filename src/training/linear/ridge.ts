/**
 * Linear and ridge regression with scikit-learn `Ridge` semantics: minimizes
 * Σᵢ swᵢ·(yᵢ − xᵢ·w − b)² + alpha·‖w‖², the intercept unpenalized (fitted by centering X and y on their
 * weighted means). Solved in closed form from the Gram matrix: Cholesky for alpha > 0; for alpha = 0
 * (`linearRegression`) the minimum-norm least-squares solution, so collinear columns (e.g. one-hot
 * blocks next to an intercept) are handled as `LinearRegression`/`lstsq` handle them.
 */
import { invalidParam, MloopError } from '../../core/errors.ts';
import { checkBoolean, checkFiniteFeatures, checkFiniteValues, checkNumber, checkRowCount, checkSampleWeights } from '../checks.ts';
import { checkMatrix, cholesky, choleskySolve, pseudoSolve } from '../matrix.ts';
import type { OnnxGraphBuilder } from '../onnx/builder.ts';
import type { Estimator } from '../pipeline.ts';
import type { FitOptions, FittedModel, Matrix, OnnxModelOutputs, Target } from '../types.ts';
import { exportLinearOnnx, linearScores } from './linear-onnx.ts';

/** Hyperparameters of {@link ridgeRegression}. */
export interface RidgeParams {
  /** L2 penalty strength, ≥ 0 (0 is ordinary least squares). Default 1, as sklearn's `Ridge`. */
  readonly alpha?: number;
  /** Fit an (unpenalized) intercept. Default true. */
  readonly fitIntercept?: boolean;
}

/** Serialized {@link LinearRegressionModel}. */
export interface LinearRegressionState {
  kind: 'linear_regression';
  version: 1;
  nFeatures: number;
  coef: number[];
  intercept: number;
  params: { alpha: number; fitIntercept: boolean };
  [key: string]: unknown;
}

/** A trained linear (or ridge) regression. */
export class LinearRegressionModel implements FittedModel {
  readonly kind = 'linear_regression' as const;
  readonly task = 'regression' as const;
  readonly nClasses = 1;
  readonly nFeatures: number;
  readonly coef: Float64Array;
  readonly intercept: number;
  readonly alpha: number;
  readonly fitIntercept: boolean;

  constructor(s: { coef: Float64Array; intercept: number; alpha: number; fitIntercept: boolean }) {
    this.nFeatures = s.coef.length;
    this.coef = s.coef;
    this.intercept = s.intercept;
    this.alpha = s.alpha;
    this.fitIntercept = s.fitIntercept;
  }

  /** See {@link FittedModel.predict}. */
  predict(x: Matrix): Float64Array {
    checkMatrix(x, 'linear regression input', this.nFeatures);
    return linearScores(x, this.coef, Float64Array.of(this.intercept), 1);
  }

  /** See {@link FittedModel.toJSON}. */
  toJSON(): LinearRegressionState {
    return {
      kind: 'linear_regression',
      version: 1,
      nFeatures: this.nFeatures,
      coef: Array.from(this.coef),
      intercept: this.intercept,
      params: { alpha: this.alpha, fitIntercept: this.fitIntercept },
    };
  }

  /** See {@link FittedModel.exportOnnx}. */
  exportOnnx(graph: OnnxGraphBuilder, input: string): OnnxModelOutputs {
    return { value: exportLinearOnnx(graph, input, this.coef, Float64Array.of(this.intercept), 1, this.nFeatures, 'identity') };
  }
}

/** Reads a {@link LinearRegressionModel} back from its `toJSON` state. */
export function restoreLinearRegression(state: { kind: string; [key: string]: unknown }): LinearRegressionModel {
  const s = state as LinearRegressionState;
  const bad = (why: string) => new MloopError('INVALID_PARAMETER_VALUE', `linear regression state: ${why}`);
  if (s.kind !== 'linear_regression' || s.version !== 1) throw bad('not a version-1 linear regression');
  if (!Array.isArray(s.coef) || s.coef.length < 1 || s.coef.length !== s.nFeatures || !s.coef.every(Number.isFinite)) throw bad('coef must hold nFeatures finite numbers');
  if (!Number.isFinite(s.intercept)) throw bad('intercept must be finite');
  return new LinearRegressionModel({ coef: Float64Array.from(s.coef), intercept: s.intercept, alpha: s.params?.alpha ?? 0, fitIntercept: s.params?.fitIntercept ?? true });
}

/** Checks hyperparameters and fills in defaults. */
export function resolveRidgeParams(params: RidgeParams = {}): Required<RidgeParams> {
  const alpha = checkNumber('alpha', params.alpha ?? 1, (v) => v >= 0, 'must be a finite number ≥ 0');
  const fitIntercept = checkBoolean('fitIntercept', params.fitIntercept ?? true);
  return { alpha, fitIntercept };
}

/** Ridge regression as an estimator; checks hyperparameters now. */
export function ridgeRegression(params: RidgeParams = {}): Estimator {
  const p = resolveRidgeParams(params);
  return { kind: 'linear_regression', tasks: ['regression'], preprocess: {}, params: { ...p }, fit: (x, target, options) => fitRidge(x, target, options, p) };
}

/** Ordinary least squares (ridge with alpha = 0, minimum-norm solution) as an estimator. */
export function linearRegression(params: Omit<RidgeParams, 'alpha'> = {}): Estimator {
  return ridgeRegression({ ...params, alpha: 0 });
}

/** Fits ridge regression on a preprocessed matrix. */
export function fitRidge(x: Matrix, target: Target, options: Pick<FitOptions, 'sampleWeight'>, params: RidgeParams = {}): LinearRegressionModel {
  const { alpha, fitIntercept } = resolveRidgeParams(params);
  checkMatrix(x, 'features');
  const { rows: n, cols: d, data } = x;
  const y = target.values;
  if (target.task !== 'regression') throw invalidParam('task', 'linear regression is for regression');
  if (n < 1) throw invalidParam('features', 'needs at least one row');
  checkRowCount('target', y, n);
  checkFiniteValues('target', y);
  checkFiniteFeatures(x, 'linear regression');
  const sw = options.sampleWeight;
  if (sw) checkSampleWeights(sw, n);
  let wsum = 0;
  const xMean = new Float64Array(d);
  let yMean = 0;
  if (fitIntercept) {
    for (let i = 0; i < n; i++) {
      const w = sw ? sw[i] : 1;
      wsum += w;
      yMean += w * y[i];
      for (let j = 0; j < d; j++) xMean[j] += w * data[i * d + j];
    }
    yMean /= wsum;
    for (let j = 0; j < d; j++) xMean[j] /= wsum;
  }
  const gram = new Float64Array(d * d);
  const rhs = new Float64Array(d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const w = sw ? sw[i] : 1;
    if (w === 0) continue;
    for (let j = 0; j < d; j++) row[j] = data[i * d + j] - xMean[j];
    const r = w * (y[i] - yMean);
    for (let a = 0; a < d; a++) {
      const wa = w * row[a];
      rhs[a] += r * row[a];
      if (wa === 0) continue;
      const o = a * d;
      for (let b = 0; b <= a; b++) gram[o + b] += wa * row[b];
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) gram[b * d + a] = gram[a * d + b];
  let coef: Float64Array;
  if (alpha > 0) {
    for (let j = 0; j < d; j++) gram[j * d + j] += alpha;
    const l = Float64Array.from(gram);
    if (cholesky(l, d)) {
      coef = Float64Array.from(rhs);
      choleskySolve(l, d, coef);
    } else {
      coef = pseudoSolve(gram, d, rhs);
    }
  } else {
    coef = pseudoSolve(gram, d, rhs);
  }
  const intercept = fitIntercept ? yMean - coef.reduce((s, c, j) => s + c * xMean[j], 0) : 0;
  return new LinearRegressionModel({ coef, intercept, alpha, fitIntercept });
}
