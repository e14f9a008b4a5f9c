/**
 * Logistic regression with an L2 penalty, binary and multinomial, with scikit-learn's `lbfgs` semantics:
 * it minimizes Σᵢ swᵢ·lossᵢ + ½·‖W‖²/C, the intercept unpenalized; binary problems fit one coefficient
 * vector for the second class (sklearn's `multi_class='auto'` → `ovr` for two classes), problems with
 * more classes fit the full multinomial (softmax) model with one row of coefficients per class.
 * Solved with L-BFGS; large problems evaluate the gradient on worker threads over shared memory.
 * With `dp`, it trains by DP-SGD instead (see `../dp/dp-sgd.ts`).
 */
import type { Worker } from 'node:worker_threads';
import { invalidParam, MloopError } from '../../core/errors.ts';
import { checkBoolean, checkClassIndices, checkFiniteFeatures, checkInteger, checkNumber, checkRowCount, checkSampleWeights } from '../checks.ts';
import { dpPreprocess, type DpSgdParams, type PrivacyReport, resolveDpSgdParams, trainDpSgd } from '../dp/dp-sgd.ts';
import { checkMatrix, shareMatrix, shareVector, softmaxRows } from '../matrix.ts';
import type { OnnxGraphBuilder } from '../onnx/builder.ts';
import { lbfgs } from '../optim/lbfgs.ts';
import type { Estimator } from '../pipeline.ts';
import type { FitOptions, FittedModel, Matrix, OnnxModelOutputs, Target, Task } from '../types.ts';
import { TaskChannel, threadBudget, WorkerPool } from '../workers.ts';
import { exportLinearOnnx, linearScores } from './linear-onnx.ts';
import { logisticChunks, type LogisticData } from './logistic-kernel.ts';
import type { LogisticWorkerSetup } from './logistic-worker.ts';

/** Hyperparameters of {@link logisticRegression}; defaults are scikit-learn's. */
export interface LogisticRegressionParams {
  /** Inverse of the L2 regularization strength; > 0. Default 1. */
  readonly C?: number;
  /** Maximum L-BFGS iterations. Default 100. */
  readonly maxIter?: number;
  /** Stop when the largest absolute gradient entry is at most `tol`. Default 1e-4. */
  readonly tol?: number;
  /** Fit an (unpenalized) intercept. Default true. */
  readonly fitIntercept?: boolean;
  /** Upper bound on threads used for the gradient (this one included). Default: every core. */
  readonly threads?: number;
  /** Train with DP-SGD instead of L-BFGS, with this privacy budget. */
  readonly dp?: DpSgdParams;
}

/** How the fit went. */
export interface LogisticFitInfo {
  readonly solver: 'lbfgs' | 'dp-sgd';
  readonly iterations: number;
  readonly converged: boolean;
  /** The final objective Σ sw·loss + ½‖W‖²/C. */
  readonly objective: number;
  readonly stopReason: string;
  /** Threads that evaluated the gradient (1 unless the problem was large enough for workers). */
  readonly threads: number;
}

/** Serialized {@link LogisticRegressionModel}. */
export interface LogisticRegressionState {
  kind: 'logistic_regression';
  version: 1;
  task: Task;
  nFeatures: number;
  nClasses: number;
  /** binary: d values (for class 1); multinomial: k rows of d values, row-major. */
  coef: number[];
  intercept: number[];
  params: { C: number; fitIntercept: boolean };
  info?: LogisticFitInfo;
  privacy?: PrivacyReport;
  [key: string]: unknown;
}

const PARALLEL_MIN_WORK = 1 << 20;
/** Fixed number of row chunks for large problems: the summation order depends on it, not on the thread count, so results are identical on any machine. */
const CHUNKS = 8;
const pool = new WorkerPool(new URL('./logistic-worker.ts', import.meta.url));

/** Starts gradient workers ahead of time (servers and benchmarks do this once). */
export function warmLogisticWorkers(threads = threadBudget(CHUNKS)): Promise<void> {
  return pool.warm(Math.max(0, threads - 1));
}

/** A trained logistic regression. */
export class LogisticRegressionModel implements FittedModel {
  readonly kind = 'logistic_regression' as const;
  readonly task: Task;
  readonly nFeatures: number;
  readonly nClasses: number;
  /** binary: length d; multinomial: k×d row-major. */
  readonly coef: Float64Array;
  readonly intercept: Float64Array;
  readonly C: number;
  readonly fitIntercept: boolean;
  readonly info?: LogisticFitInfo;
  readonly privacy?: PrivacyReport;

  constructor(s: { task: Task; nFeatures: number; nClasses: number; coef: Float64Array; intercept: Float64Array; C: number; fitIntercept: boolean; info?: LogisticFitInfo; privacy?: PrivacyReport }) {
    this.task = s.task;
    this.nFeatures = s.nFeatures;
    this.nClasses = s.nClasses;
    this.coef = s.coef;
    this.intercept = s.intercept;
    this.C = s.C;
    this.fitIntercept = s.fitIntercept;
    this.info = s.info;
    this.privacy = s.privacy;
  }

  /** binary: P(class 1) per row; multinomial: class probabilities, row-major. */
  predict(x: Matrix): Float64Array {
    checkMatrix(x, 'logistic regression input', this.nFeatures);
    const k = this.nClasses === 2 ? 1 : this.nClasses;
    const z = linearScores(x, this.coef, this.intercept, k);
    if (k === 1) {
      for (let i = 0; i < z.length; i++) z[i] = 1 / (1 + Math.exp(-z[i]));
      return z;
    }
    softmaxRows(z, x.rows, k);
    return z;
  }

  /** See {@link FittedModel.toJSON}. */
  toJSON(): LogisticRegressionState {
    return {
      kind: 'logistic_regression',
      version: 1,
      task: this.task,
      nFeatures: this.nFeatures,
      nClasses: this.nClasses,
      coef: Array.from(this.coef),
      intercept: Array.from(this.intercept),
      params: { C: this.C, fitIntercept: this.fitIntercept },
      ...(this.info ? { info: this.info } : {}),
      ...(this.privacy ? { privacy: this.privacy } : {}),
    };
  }

  /** See {@link FittedModel.exportOnnx}. */
  exportOnnx(graph: OnnxGraphBuilder, input: string): OnnxModelOutputs {
    const k = this.nClasses === 2 ? 1 : this.nClasses;
    return { probabilities: exportLinearOnnx(graph, input, this.coef, this.intercept, k, this.nFeatures, k === 1 ? 'sigmoid' : 'softmax') };
  }
}

/** Reads a {@link LogisticRegressionModel} back from its `toJSON` state. */
export function restoreLogisticRegression(state: { kind: string; [key: string]: unknown }): LogisticRegressionModel {
  const s = state as LogisticRegressionState;
  const bad = (why: string) => new MloopError('INVALID_PARAMETER_VALUE', `logistic regression state: ${why}`);
  if (s.kind !== 'logistic_regression' || s.version !== 1) throw bad('not a version-1 logistic regression');
  if (!Number.isInteger(s.nFeatures) || s.nFeatures < 1 || !Number.isInteger(s.nClasses) || s.nClasses < 2) throw bad('bad nFeatures or nClasses');
  const k = s.nClasses === 2 ? 1 : s.nClasses;
  if (!Array.isArray(s.coef) || s.coef.length !== k * s.nFeatures || !s.coef.every(Number.isFinite)) throw bad(`coef must hold ${k * s.nFeatures} finite numbers`);
  if (!Array.isArray(s.intercept) || s.intercept.length !== k || !s.intercept.every(Number.isFinite)) throw bad(`intercept must hold ${k} finite numbers`);
  return new LogisticRegressionModel({
    task: s.nClasses === 2 ? 'binary' : 'multiclass',
    nFeatures: s.nFeatures,
    nClasses: s.nClasses,
    coef: Float64Array.from(s.coef),
    intercept: Float64Array.from(s.intercept),
    C: s.params?.C ?? 1,
    fitIntercept: s.params?.fitIntercept ?? true,
    info: s.info,
    privacy: s.privacy,
  });
}

/** Hyperparameters with defaults filled in. */
export type ResolvedLogisticParams = Required<Omit<LogisticRegressionParams, 'dp'>> & { dp?: DpSgdParams };

/** Checks hyperparameters and fills in defaults; throws naming the first bad one. */
export function resolveLogisticParams(params: LogisticRegressionParams = {}): ResolvedLogisticParams {
  const C = checkNumber('C', params.C ?? 1, (v) => v > 0, 'must be a positive finite number');
  const maxIter = checkInteger('maxIter', params.maxIter ?? 100, 1);
  const tol = checkNumber('tol', params.tol ?? 1e-4, (v) => v >= 0, 'must be a finite number ≥ 0');
  const fitIntercept = checkBoolean('fitIntercept', params.fitIntercept ?? true);
  const threads = checkInteger('threads', params.threads ?? threadBudget(), 1);
  if (params.dp !== undefined) resolveDpSgdParams(params.dp, 'dp');
  return { C, maxIter, tol, fitIntercept, threads, ...(params.dp ? { dp: params.dp } : {}) };
}

/**
 * Logistic regression as an estimator for pipelines; checks hyperparameters now, before any work. Under
 * `dp`, rare categories stay out of the preprocessing (see `dpPreprocess`).
 */
export function logisticRegression(params: LogisticRegressionParams = {}): Estimator {
  const resolved = resolveLogisticParams(params);
  return {
    kind: 'logistic_regression',
    tasks: ['binary', 'multiclass'],
    preprocess: resolved.dp ? dpPreprocess(resolved.dp) : {},
    params: { ...resolved },
    fit: (x, target, options) => fitLogisticRegression(x, target, options, resolved),
  };
}

/** Fits logistic regression on a preprocessed matrix. */
export async function fitLogisticRegression(
  x: Matrix,
  target: Target,
  options: FitOptions,
  params: LogisticRegressionParams = {},
): Promise<LogisticRegressionModel> {
  const p = resolveLogisticParams(params);
  checkMatrix(x, 'features');
  if (target.task === 'regression' || options.task === 'regression') throw invalidParam('task', 'logistic regression is for classification');
  checkRowCount('target', target.values, x.rows, 'labels');
  const nClasses = options.nClasses;
  if (!Number.isInteger(nClasses) || nClasses < 2) throw invalidParam('nClasses', `must be ≥ 2, got ${nClasses}`);
  checkClassIndices('target', target.values, nClasses);
  checkFiniteFeatures(x, 'logistic regression');
  const sw = options.sampleWeight ?? null;
  if (sw !== null) checkSampleWeights(sw, x.rows);
  const k = nClasses === 2 ? 1 : nClasses;
  const d = x.cols;
  const task: Task = nClasses === 2 ? 'binary' : 'multiclass';

  if (p.dp) {
    const dp = await trainDpSgd({ kind: 'logistic', x, y: target.values, outputs: k, C: p.C, fitIntercept: p.fitIntercept, seed: options.seed, dp: p.dp, onProgress: options.onProgress });
    return new LogisticRegressionModel({
      task, nFeatures: d, nClasses,
      coef: dp.params.slice(0, k * d), intercept: dp.params.slice(k * d),
      C: p.C, fitIntercept: p.fitIntercept,
      info: { solver: 'dp-sgd', iterations: dp.steps, converged: true, objective: Number.NaN, stopReason: 'budget', threads: 1 },
      privacy: dp.privacy,
    });
  }

  const objective = await LogisticObjective.create(x, target.values, sw, k, p.threads);
  try {
    const nParams = k * d + k;
    const penalty = 1 / p.C;
    const f = (w: Float64Array, g: Float64Array): number => {
      let loss = objective.evaluate(w, g);
      for (let j = 0; j < k * d; j++) {
        loss += 0.5 * penalty * w[j] * w[j];
        g[j] += penalty * w[j];
      }
      if (!p.fitIntercept) for (let c = 0; c < k; c++) g[k * d + c] = 0;
      return loss;
    };
    let iterations = 0;
    const result = lbfgs(f, new Float64Array(nParams), {
      maxIter: p.maxIter,
      gtol: p.tol,
      onIteration: (info) => {
        iterations = info.iteration;
        options.onProgress?.(Math.min(1, info.iteration / p.maxIter), `iteration ${info.iteration}, loss ${info.f.toPrecision(6)}`);
      },
    });
    const coef = result.x.slice(0, k * d);
    const intercept = result.x.slice(k * d);
    if (k > 1 && p.fitIntercept) {
      // The softmax is unchanged by a common shift of the intercepts; fix it as L-BFGS from zero does (Σ b = 0).
      let mean = 0;
      for (let c = 0; c < k; c++) mean += intercept[c];
      mean /= k;
      for (let c = 0; c < k; c++) intercept[c] -= mean;
    }
    return new LogisticRegressionModel({
      task, nFeatures: d, nClasses, coef, intercept, C: p.C, fitIntercept: p.fitIntercept,
      info: { solver: 'lbfgs', iterations: Math.max(iterations, result.iterations), converged: result.converged, objective: result.f, stopReason: result.reason, threads: objective.threads },
    });
  } finally {
    objective.close();
  }
}

/**
 * Σ sw·loss and its gradient, evaluated over fixed row chunks — on worker threads when the problem is
 * large enough to pay for the synchronization. The chunk partials are always added in chunk order, so
 * the result does not depend on the number of threads.
 */
class LogisticObjective {
  readonly #data: LogisticData;
  readonly #bounds: Int32Array;
  readonly #mine: number[];
  readonly #partials: Float64Array;
  readonly #params: Float64Array;
  readonly #channel: TaskChannel | null;
  readonly #workers: Worker[];
  readonly #scratch: Float64Array;
  readonly #grad: Float64Array;

  private constructor(data: LogisticData, bounds: Int32Array, partials: Float64Array, params: Float64Array, channel: TaskChannel | null, workers: Worker[]) {
    this.#data = data;
    this.#bounds = bounds;
    this.#partials = partials;
    this.#params = params;
    this.#channel = channel;
    this.#workers = workers;
    this.#scratch = new Float64Array(data.outputs);
    this.#grad = new Float64Array(params.length);
    this.#mine = chunksOf(0, bounds.length - 1, workers.length + 1);
  }

  static async create(x: Matrix, y: Float64Array, sw: Float64Array | null, outputs: number, maxThreads: number): Promise<LogisticObjective> {
    const big = x.rows * x.cols * outputs >= PARALLEL_MIN_WORK;
    const chunks = big ? CHUNKS : 1;
    const bounds = new Int32Array(chunks + 1);
    for (let c = 0; c <= chunks; c++) bounds[c] = Math.round((c * x.rows) / chunks);
    const p = outputs * x.cols + outputs;
    const threads = big ? threadBudget(Math.min(maxThreads, CHUNKS)) : 1;
    if (threads > 1) {
      const data: LogisticData = { x: shareMatrix(x).data, y: shareVector(y), sw: sw === null ? null : shareVector(sw), rows: x.rows, cols: x.cols, outputs };
      const partials = new Float64Array(new SharedArrayBuffer(chunks * (p + 1) * 8));
      const params = new Float64Array(new SharedArrayBuffer(p * 8));
      const channel = TaskChannel.create(threads - 1);
      try {
        const workers = await pool.open(threads - 1, (i): LogisticWorkerSetup => ({
          type: 'setup', data, params, partials, channel: channel.words, worker: i, bounds, chunks: chunksOf(i + 1, chunks, threads),
        }));
        return new LogisticObjective(data, bounds, partials, params, channel, workers);
      } catch {
        // No worker threads here: the same chunks on this thread give the same result.
      }
    }
    return new LogisticObjective({ x: x.data, y, sw, rows: x.rows, cols: x.cols, outputs }, bounds, new Float64Array(chunks * (p + 1)), new Float64Array(p), null, []);
  }

  /** Threads in use, this one included. */
  get threads(): number {
    return this.#workers.length + 1;
  }

  /** Σ sw·loss at `w`; writes its gradient into `grad`. */
  evaluate(w: Float64Array, grad: Float64Array): number {
    const p = this.#grad.length;
    this.#params.set(w);
    const mine = () => logisticChunks(this.#data, this.#params, this.#bounds, this.#mine, this.#partials, this.#grad, this.#scratch);
    if (this.#channel) this.#channel.run(mine, 'logistic regression gradient');
    else mine();
    grad.fill(0);
    let loss = 0;
    const chunks = this.#bounds.length - 1;
    for (let c = 0; c < chunks; c++) {
      const o = c * (p + 1);
      for (let j = 0; j < p; j++) grad[j] += this.#partials[o + j];
      loss += this.#partials[o + p];
    }
    return loss;
  }

  /** Ends the workers' part of the fit and lets them go back to the pool. */
  close(): void {
    if (!this.#channel) return;
    this.#channel.close();
    pool.release(this.#workers);
  }
}

/** The chunks below `chunks` that thread `thread` of `threads` evaluates (every `threads`-th one). */
function chunksOf(thread: number, chunks: number, threads: number): number[] {
  const out: number[] = [];
  for (let c = thread; c < chunks; c += threads) out.push(c);
  return out;
}
