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
import { type DpSgdParams, type PrivacyReport, resolveDpSgdParams, trainDpSgd } from '../dp/dp-sgd.ts';
import { checkMatrix, isShared, sharedMatrix, softmaxRows } from '../matrix.ts';
import type { OnnxGraphBuilder } from '../onnx/builder.ts';
import { lbfgs } from '../optim/lbfgs.ts';
import { threadBudget, WorkerPool } from '../optim/parallel.ts';
import type { Estimator } from '../pipeline.ts';
import type { FitOptions, FittedModel, Matrix, OnnxModelOutputs, Target, Task } from '../types.ts';
import { exportLinearOnnx, linearScores } from './linear-onnx.ts';
import { logisticChunk, type LogisticData } from './logistic-kernel.ts';
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
  const C = params.C ?? 1;
  const maxIter = params.maxIter ?? 100;
  const tol = params.tol ?? 1e-4;
  const fitIntercept = params.fitIntercept ?? true;
  const threads = params.threads ?? threadBudget();
  if (!(typeof C === 'number' && C > 0 && Number.isFinite(C))) throw invalidParam('C', `must be a positive finite number, got ${C}`);
  if (!Number.isInteger(maxIter) || maxIter < 1) throw invalidParam('maxIter', `must be an integer ≥ 1, got ${maxIter}`);
  if (!(typeof tol === 'number' && tol >= 0 && Number.isFinite(tol))) throw invalidParam('tol', `must be a finite number ≥ 0, got ${tol}`);
  if (typeof fitIntercept !== 'boolean') throw invalidParam('fitIntercept', 'must be a boolean');
  if (!Number.isInteger(threads) || threads < 1) throw invalidParam('threads', `must be an integer ≥ 1, got ${threads}`);
  if (params.dp !== undefined) resolveDpSgdParams(params.dp, 'dp');
  return { C, maxIter, tol, fitIntercept, threads, ...(params.dp ? { dp: params.dp } : {}) };
}

/** Logistic regression as an estimator for pipelines; checks hyperparameters now, before any work. */
export function logisticRegression(params: LogisticRegressionParams = {}): Estimator {
  const resolved = resolveLogisticParams(params);
  return {
    kind: 'logistic_regression',
    tasks: ['binary', 'multiclass'],
    preprocess: {},
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
  if (target.values.length !== x.rows) throw invalidParam('target', `has ${target.values.length} labels for ${x.rows} rows`);
  const nClasses = options.nClasses;
  if (!Number.isInteger(nClasses) || nClasses < 2) throw invalidParam('nClasses', `must be ≥ 2, got ${nClasses}`);
  for (let i = 0; i < target.values.length; i++) {
    const c = target.values[i];
    if (!(Number.isInteger(c) && c >= 0 && c < nClasses)) throw invalidParam('target', `label ${c} at row ${i} is not a class index below ${nClasses}`);
  }
  for (let i = 0; i < x.data.length; i++) {
    if (!Number.isFinite(x.data[i])) throw invalidParam('features', `value ${x.data[i]} at row ${Math.floor(i / x.cols)}, column ${i % x.cols}; logistic regression needs imputed, finite features`);
  }
  const sw = options.sampleWeight ?? null;
  if (sw !== null) {
    if (sw.length !== x.rows) throw invalidParam('sampleWeight', `has ${sw.length} weights for ${x.rows} rows`);
    for (let i = 0; i < sw.length; i++) if (!(sw[i] >= 0 && Number.isFinite(sw[i]))) throw invalidParam('sampleWeight', `weight ${sw[i]} at row ${i} is not a finite number ≥ 0`);
  }
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
  readonly #ctrl: Int32Array | null;
  readonly #workers: Worker[];
  readonly #scratch: Float64Array;
  readonly #grad: Float64Array;
  #generation = 0;

  private constructor(data: LogisticData, chunks: number, threads: number, workers: Worker[]) {
    this.#data = data;
    const p = data.outputs * data.cols + data.outputs;
    this.#bounds = new Int32Array(chunks + 1);
    for (let c = 0; c <= chunks; c++) this.#bounds[c] = Math.round((c * data.rows) / chunks);
    const shared = workers.length > 0;
    this.#partials = shared ? new Float64Array(new SharedArrayBuffer(chunks * (p + 1) * 8)) : new Float64Array(chunks * (p + 1));
    this.#params = shared ? new Float64Array(new SharedArrayBuffer(p * 8)) : new Float64Array(p);
    this.#ctrl = shared ? new Int32Array(new SharedArrayBuffer(4 * 4)) : null;
    this.#workers = workers;
    this.#scratch = new Float64Array(data.outputs);
    this.#grad = new Float64Array(p);
    this.#mine = [];
    for (let c = 0; c < chunks; c++) if (c % threads === 0) this.#mine.push(c);
    workers.forEach((w, i) => {
      const setup: LogisticWorkerSetup = {
        type: 'setup', data, params: this.#params, partials: this.#partials, ctrl: this.#ctrl!, bounds: this.#bounds,
        chunks: Array.from({ length: chunks }, (_, c) => c).filter((c) => c % threads === i + 1), startGeneration: 0,
      };
      w.postMessage(setup);
    });
  }

  static async create(x: Matrix, y: Float64Array, sw: Float64Array | null, outputs: number, maxThreads: number): Promise<LogisticObjective> {
    const big = x.rows * x.cols * outputs >= PARALLEL_MIN_WORK;
    const chunks = big ? CHUNKS : 1;
    const threads = big ? threadBudget(Math.min(maxThreads, CHUNKS)) : 1;
    let workers: Worker[] = [];
    if (threads > 1) {
      try {
        workers = await pool.acquire(threads - 1);
      } catch {
        workers = [];
      }
    }
    if (workers.length === 0) {
      return new LogisticObjective({ x: x.data, y, sw, rows: x.rows, cols: x.cols, outputs }, chunks, 1, []);
    }
    const xs = isShared(x) ? x : copyShared(x);
    const ys = toShared(y);
    const sws = sw === null ? null : toShared(sw);
    return new LogisticObjective({ x: xs.data, y: ys, sw: sws, rows: x.rows, cols: x.cols, outputs }, chunks, workers.length + 1, workers);
  }

  /** Threads in use, this one included. */
  get threads(): number {
    return this.#workers.length + 1;
  }

  /** Σ sw·loss at `w`; writes its gradient into `grad`. */
  evaluate(w: Float64Array, grad: Float64Array): number {
    const p = this.#grad.length;
    const ctrl = this.#ctrl;
    this.#params.set(w);
    if (ctrl !== null) {
      Atomics.store(ctrl, 1, 0);
      this.#generation = Atomics.add(ctrl, 0, 1) + 1;
      Atomics.notify(ctrl, 0);
    }
    for (const c of this.#mine) {
      const loss = logisticChunk(this.#data, this.#params, this.#bounds[c], this.#bounds[c + 1], this.#grad, this.#scratch);
      this.#partials.set(this.#grad, c * (p + 1));
      this.#partials[c * (p + 1) + p] = loss;
    }
    if (ctrl !== null) {
      const expected = this.#workers.length;
      for (let done = Atomics.load(ctrl, 1); done < expected; done = Atomics.load(ctrl, 1)) Atomics.wait(ctrl, 1, done);
      if (Atomics.load(ctrl, 3) !== 0) throw new MloopError('INTERNAL_ERROR', 'logistic regression: a gradient worker failed');
    }
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

  /** Lets the workers go back to the pool. */
  close(): void {
    if (this.#ctrl === null) return;
    Atomics.store(this.#ctrl, 2, 1);
    Atomics.add(this.#ctrl, 0, 1);
    Atomics.notify(this.#ctrl, 0);
    pool.release(this.#workers);
  }
}

function copyShared(x: Matrix): Matrix {
  const m = sharedMatrix(x.rows, x.cols);
  m.data.set(x.data);
  return m;
}

function toShared(v: Float64Array): Float64Array {
  const out = new Float64Array(new SharedArrayBuffer(v.length * 8));
  out.set(v);
  return out;
}
