/**
 * Histogram gradient-boosted trees in the manner of scikit-learn's `HistGradientBoostingClassifier` and
 * `HistGradientBoostingRegressor`: binned features, leaf-wise trees grown from gradient/hessian
 * histograms, native missing values, binary log-loss / multiclass softmax / squared error, early stopping
 * on a validation split scored by the loss.
 *
 * Inputs are the preprocessed numeric matrix (NaN = missing). Training shares its work between the
 * calling thread and a worker thread when the data is large enough (see `threads.ts`); the model does
 * not depend on the number of threads. A fit keeps the calling thread busy until it returns: run it on a
 * worker thread where an event loop must stay free.
 */
import { invalidParam } from '../../core/errors.ts';
import { Random } from '../../core/random.ts';
import { checkClassIndices, checkFiniteValues, checkInteger, checkNumber, checkRowCount, checkSampleWeights } from '../checks.ts';
import { validationSplit } from '../early-stopping.ts';
import type { OnnxGraphBuilder } from '../onnx/builder.ts';
import type { Estimator } from '../pipeline.ts';
import type { FitOptions, FittedModel, Matrix, OnnxModelOutputs, Target, Task } from '../types.ts';
import { BINNING_SUBSAMPLE, binRows } from './binning.ts';
import { TreeGrower, histogramSlots, slotBytes } from './grower.ts';
import { C, MAX_THREADS, PARTIAL_SLOTS, RESULT_SIZE, TASK, type KernelArrays } from './kernels.ts';
import { LOSS_CODE, type LossKind, baselinePrediction, meanLoss } from './loss.ts';
import { exportTreeEnsembleOnnx } from './onnx.ts';
import { allocate, chooseThreads, openRunner } from './threads.ts';
import { WasmHeap, heapBytes } from './wasm.ts';
import { type Tree, type TreeJson, addTreeBinned, predictTreeRow, treeFromJson, treeToJson } from './tree.ts';

/** Hyperparameters, named and defaulted as scikit-learn's. */
export interface HistGradientBoostingParams {
  /** Shrinkage applied to every leaf; > 0. Default 0.1. */
  readonly learning_rate?: number;
  /** Boosting iterations (one tree per iteration, or one per class for multiclass); ≥ 1. Default 100. */
  readonly max_iter?: number;
  /** Most leaves per tree (≥ 2), or null for no limit. Default 31. */
  readonly max_leaf_nodes?: number | null;
  /** Deepest leaf depth (root = 0; ≥ 1), or null for no limit. Default null. */
  readonly max_depth?: number | null;
  /** Fewest training rows per leaf; ≥ 1. Default 20. */
  readonly min_samples_leaf?: number;
  /** L2 penalty on leaf values; ≥ 0. Default 0. */
  readonly l2_regularization?: number;
  /** Bins for present values, 2..255 (one more bin holds missing values). Default 255. */
  readonly max_bins?: number;
  /** 'auto' stops early when there are more than 10,000 rows. Default 'auto'. */
  readonly early_stopping?: 'auto' | boolean;
  /** Share of rows held out to score early stopping, in (0, 1). Default 0.1. */
  readonly validation_fraction?: number;
  /** Stop when none of the last this many iterations improved the validation loss by more than tol. Default 10. */
  readonly n_iter_no_change?: number;
  /** Smallest improvement that counts; ≥ 0. Default 1e-7. */
  readonly tol?: number;
  /** Threads to train with; default: 2 on large data when the machine has two cores, else 1. */
  readonly n_threads?: number;
}

/** Hyperparameters with every default filled in. */
export interface ResolvedHgbtParams {
  readonly learning_rate: number;
  readonly max_iter: number;
  readonly max_leaf_nodes: number | null;
  readonly max_depth: number | null;
  readonly min_samples_leaf: number;
  readonly l2_regularization: number;
  readonly max_bins: number;
  readonly early_stopping: 'auto' | boolean;
  readonly validation_fraction: number;
  readonly n_iter_no_change: number;
  readonly tol: number;
}

/** Checks `params` and fills in defaults; throws an `INVALID_PARAMETER_VALUE` naming the first bad one. */
export function resolveHgbtParams(params: HistGradientBoostingParams = {}): ResolvedHgbtParams {
  const nullable = (name: keyof HistGradientBoostingParams, value: unknown, min: number): number | null =>
    value === null ? null : checkNumber(name, value, (v) => Number.isInteger(v) && v >= min, `must be an integer ≥ ${min} or null`);
  const es = params.early_stopping ?? 'auto';
  if (es !== 'auto' && es !== true && es !== false) throw invalidParam('early_stopping', `must be 'auto', true or false, got ${JSON.stringify(es)}`);
  if (params.n_threads !== undefined) checkInteger('n_threads', params.n_threads, 1, MAX_THREADS);
  return {
    learning_rate: checkNumber('learning_rate', params.learning_rate ?? 0.1, (v) => v > 0, 'must be a number > 0'),
    max_iter: checkInteger('max_iter', params.max_iter ?? 100, 1),
    max_leaf_nodes: nullable('max_leaf_nodes', params.max_leaf_nodes === undefined ? 31 : params.max_leaf_nodes, 2),
    max_depth: nullable('max_depth', params.max_depth === undefined ? null : params.max_depth, 1),
    min_samples_leaf: checkInteger('min_samples_leaf', params.min_samples_leaf ?? 20, 1),
    l2_regularization: checkNumber('l2_regularization', params.l2_regularization ?? 0, (v) => v >= 0, 'must be a number ≥ 0'),
    max_bins: checkInteger('max_bins', params.max_bins ?? 255, 2, 255),
    early_stopping: es,
    validation_fraction: checkNumber('validation_fraction', params.validation_fraction ?? 0.1, (v) => v > 0 && v < 1, 'must be a number in (0, 1)'),
    n_iter_no_change: checkInteger('n_iter_no_change', params.n_iter_no_change ?? 10, 1),
    tol: checkNumber('tol', params.tol ?? 1e-7, (v) => v >= 0, 'must be a number ≥ 0'),
  };
}

/** A fitted histogram gradient boosting model. */
export class HistGradientBoostingModel implements FittedModel {
  readonly kind = 'hist_gradient_boosting' as const;
  /** Trees per iteration: the number of classes for multiclass, else 1. */
  readonly treesPerIteration: number;

  /**
   * @param trees iteration-major: tree `i * treesPerIteration + k` is iteration i's tree for class k.
   * @param baseline the raw prediction before any tree, per class (length treesPerIteration).
   * @param validationScores negated validation loss before the first and after every iteration, when
   *   early stopping ran.
   */
  constructor(
    readonly task: Task,
    readonly nFeatures: number,
    readonly nClasses: number,
    readonly params: ResolvedHgbtParams,
    readonly baseline: Float64Array,
    readonly trees: readonly Tree[],
    readonly validationScores: readonly number[] = [],
  ) {
    this.treesPerIteration = task === 'multiclass' ? nClasses : 1;
    if (baseline.length !== this.treesPerIteration || trees.length % this.treesPerIteration !== 0) {
      throw new Error('hist_gradient_boosting: baseline and trees do not match the number of classes');
    }
  }

  /** Boosting iterations the model holds (fewer than max_iter when early stopping stopped it). */
  get nIter(): number {
    return this.trees.length / this.treesPerIteration;
  }

  /** Raw predictions (margins; log-odds for binary), row-major `[row * treesPerIteration + k]`. */
  predictRaw(x: Matrix): Float64Array {
    this.#checkInput(x);
    const K = this.treesPerIteration;
    const out = new Float64Array(x.rows * K);
    for (let r = 0; r < x.rows; r++) for (let k = 0; k < K; k++) out[r * K + k] = this.baseline[k];
    // Splits compare float32 values, exactly as the ONNX tree operators do.
    const x32 = Float32Array.from(x.data);
    const cols = x.cols;
    for (let t = 0; t < this.trees.length; t++) {
      const tree = this.trees[t];
      const k = t % K;
      for (let r = 0; r < x.rows; r++) out[r * K + k] += predictTreeRow(tree, x32, r * cols);
    }
    return out;
  }

  /** See {@link FittedModel.predict}. */
  predict(x: Matrix): Float64Array {
    const raw = this.predictRaw(x);
    if (this.task === 'regression') return raw;
    if (this.task === 'binary') return raw.map((z) => 1 / (1 + Math.exp(-z)));
    const K = this.nClasses;
    const out = new Float64Array(raw.length);
    for (let r = 0; r < x.rows; r++) {
      const o = r * K;
      let max = -Infinity;
      for (let k = 0; k < K; k++) max = Math.max(max, raw[o + k]);
      let sum = 0;
      for (let k = 0; k < K; k++) sum += out[o + k] = Math.exp(raw[o + k] - max);
      for (let k = 0; k < K; k++) out[o + k] /= sum;
    }
    return out;
  }

  /** See {@link FittedModel.toJSON}; read back with {@link restoreHistGradientBoosting}. */
  toJSON(): HistGradientBoostingJson {
    return {
      kind: this.kind,
      version: 1,
      task: this.task,
      nFeatures: this.nFeatures,
      nClasses: this.nClasses,
      params: this.params,
      baseline: Array.from(this.baseline),
      trees: this.trees.map(treeToJson),
      validationScores: [...this.validationScores],
    };
  }

  /** See {@link FittedModel.exportOnnx}: an `ai.onnx.ml` TreeEnsembleClassifier or TreeEnsembleRegressor. */
  exportOnnx(graph: OnnxGraphBuilder, input: string): OnnxModelOutputs {
    return exportTreeEnsembleOnnx(this, graph, input);
  }

  #checkInput(x: Matrix): void {
    if (x.cols !== this.nFeatures) throw invalidParam('x', `expected ${this.nFeatures} columns, got ${x.cols}`);
    if (x.data.length !== x.rows * x.cols) throw invalidParam('x', `data has ${x.data.length} values, expected rows × cols = ${x.rows * x.cols}`);
  }
}

/** The JSON form of a {@link HistGradientBoostingModel}. */
export type HistGradientBoostingJson = {
  kind: 'hist_gradient_boosting';
  version: 1;
  task: Task;
  nFeatures: number;
  nClasses: number;
  params: ResolvedHgbtParams;
  baseline: number[];
  trees: TreeJson[];
  validationScores: number[];
};

/** Reads a model written by {@link HistGradientBoostingModel.toJSON}. */
export function restoreHistGradientBoosting(json: unknown): HistGradientBoostingModel {
  const j = json as Partial<HistGradientBoostingJson> | null;
  if (!j || j.kind !== 'hist_gradient_boosting' || j.version !== 1) {
    throw invalidParam('model', 'not a hist_gradient_boosting model (version 1)');
  }
  if (j.task !== 'binary' && j.task !== 'multiclass' && j.task !== 'regression') throw invalidParam('model.task', `unknown task ${JSON.stringify(j.task)}`);
  if (!Number.isInteger(j.nFeatures) || !Number.isInteger(j.nClasses) || !Array.isArray(j.baseline) || !Array.isArray(j.trees)) {
    throw invalidParam('model', 'nFeatures, nClasses, baseline or trees missing');
  }
  try {
    const trees = j.trees.map(treeFromJson);
    for (const tree of trees) {
      for (const f of tree.feature) if (f >= j.nFeatures!) throw new Error(`tree splits on feature ${f} of ${j.nFeatures}`);
    }
    return new HistGradientBoostingModel(
      j.task,
      j.nFeatures!,
      j.nClasses!,
      resolveHgbtParams(j.params ?? {}),
      Float64Array.from(j.baseline),
      trees,
      j.validationScores ?? [],
    );
  } catch (error) {
    throw invalidParam('model', error instanceof Error ? error.message : String(error));
  }
}

/**
 * The histogram gradient boosting estimator for pipelines: trees need no scaling or imputation (NaN is
 * native) and take categories as ordinal codes.
 */
export function histGradientBoosting(params: HistGradientBoostingParams = {}): Estimator {
  const resolved = resolveHgbtParams(params);
  return {
    kind: 'hist_gradient_boosting',
    tasks: ['binary', 'multiclass', 'regression'],
    preprocess: { numericImputation: 'none', categoricalImputation: 'none', standardize: false, categoricalEncoding: 'ordinal' },
    params: { ...resolved, ...(params.n_threads !== undefined ? { n_threads: params.n_threads } : {}) },
    fit: (x, target, options) => fitHistGradientBoosting(x, target, options, params),
  };
}

/**
 * Fits histogram gradient-boosted trees to the rows of `x` (NaN = missing) and the target (class
 * indices for classification). Deterministic for `options.seed`, whatever the number of threads.
 * Throws `INVALID_PARAMETER_VALUE` naming the bad hyperparameter or input before any work starts.
 */
export async function fitHistGradientBoosting(
  x: Matrix,
  target: Target,
  options: FitOptions,
  params: HistGradientBoostingParams = {},
): Promise<HistGradientBoostingModel> {
  const p = resolveHgbtParams(params);
  if (target.task !== options.task) throw invalidParam('task', `target is ${target.task}, options say ${options.task}`);
  const y = target.values;
  const lossKind = checkData(x, y, options);
  const n = x.rows;
  const K = options.task === 'multiclass' ? options.nClasses : 1;
  const weight = options.sampleWeight;
  const rng = new Random(options.seed);
  const splitRng = rng.fork(1);
  const binRng = rng.fork(2);

  const earlyStopping = p.early_stopping === 'auto' ? n > 10_000 : p.early_stopping;
  let trainRows: Uint32Array | null = null;
  let valRows: Uint32Array | null = null;
  if (earlyStopping) {
    ({ train: trainRows, validation: valRows } = validationSplit(y, options.task === 'regression' ? 0 : options.nClasses, p.validation_fraction, splitRng));
    if (trainRows.length === 0 || valRows.length === 0) {
      throw invalidParam('validation_fraction', `leaves an empty training or validation set for ${n} rows`);
    }
  }
  const nTrain = trainRows ? trainRows.length : n;
  const threads = chooseThreads(nTrain, x.cols, params.n_threads);
  const shared = threads > 1;
  const F = x.cols;
  const nBins = p.max_bins + 1;
  const missingBin = p.max_bins;

  const pick = (values: Float64Array, rows: Uint32Array | null): Float64Array => {
    const out = allocate(Float64Array, rows ? rows.length : values.length, shared);
    if (rows) for (let j = 0; j < rows.length; j++) out[j] = values[rows[j]];
    else out.set(values);
    return out;
  };
  const yTrain = pick(y, trainRows);
  const wTrain = weight ? pick(weight, trainRows) : allocate(Float64Array, 0, shared);
  const baseline = baselinePrediction(lossKind, yTrain, weight ? wTrain : undefined, options.nClasses);

  const slots = histogramSlots(growerParams(p, lossKind, weight), slotBytes(F, nBins));
  const histLength = ((slots + PARTIAL_SLOTS) * slotBytes(F, nBins)) / 8;
  const heap = wasmHeap([F * nTrain, F * nTrain, 4 * K * nTrain, 4 * K * nTrain, 4 * nTrain, 4 * nTrain, 4 * nTrain, 512, 8 * histLength]);
  const place = <T>(ctor: { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number }, length: number): T =>
    heap ? heap.allocate(ctor, length) : allocate(ctor, length, shared);
  const arrays: KernelArrays = {
    n: nTrain,
    nFeatures: F,
    nBins,
    nClasses: K,
    xcol: columnsOf(x, trainRows, shared),
    sample: binningSample(nTrain, binRng, shared),
    thresholds: allocate(Float32Array, F * (p.max_bins - 1), shared),
    binned: place(Uint8Array, F * nTrain),
    rowBinned: place(Uint8Array, F * nTrain),
    grad: place(Float32Array, K * nTrain),
    hess: place(Float32Array, K * nTrain),
    slots,
    partition: place(Uint32Array, nTrain),
    leftRows: place(Uint32Array, nTrain),
    rightRows: place(Uint32Array, nTrain),
    goLeft: place(Uint8Array, 512),
    hist: place(Float64Array, histLength),
    nBinsNonMissing: allocate(Uint16Array, F, shared),
    hasMissing: allocate(Uint8Array, F, shared),
    y: yTrain,
    raw: allocate(Float64Array, K * nTrain, shared),
    weight: wTrain,
    positionValue: allocate(Float64Array, nTrain, shared),
    ctl: allocate(Float64Array, C.SIZE, shared),
    res: allocate(Float64Array, RESULT_SIZE, shared),
    memory: heap ? heap.memory : null,
  };
  for (let i = 0; i < nTrain; i++) for (let k = 0; k < K; k++) arrays.raw[i * K + k] = baseline[k];
  for (let i = 0; i < nTrain; i++) arrays.partition[i] = i;
  if (!weight && lossKind === 'squared_error') arrays.hess.fill(1);

  const runner = await openRunner(arrays, threads);
  const trees: Tree[] = [];
  const scores: number[] = [];
  try {
    const ctl = arrays.ctl;
    ctl[C.MAX_BINS] = p.max_bins;
    ctl[C.CODE] = TASK.BIN;
    runner.run();
    ctl[C.CODE] = TASK.TRANSPOSE;
    runner.run();
    const thresholds = Array.from({ length: F }, (_, f) =>
      arrays.thresholds.slice(f * (p.max_bins - 1), f * (p.max_bins - 1) + arrays.nBinsNonMissing[f] - 1),
    );

    let valBinned: Uint8Array | null = null;
    let valRaw: Float64Array | null = null;
    let yVal: Float64Array | null = null;
    let wVal: Float64Array | null = null;
    if (valRows) {
      valBinned = binRows(x, valRows, thresholds, p.max_bins);
      yVal = pick(y, valRows);
      wVal = weight ? pick(weight, valRows) : null;
      valRaw = new Float64Array(valRows.length * K);
      for (let i = 0; i < valRows.length; i++) for (let k = 0; k < K; k++) valRaw[i * K + k] = baseline[k];
      scores.push(-meanLoss(lossKind, yVal, valRaw, wVal, K));
    }

    const grower = new TreeGrower(arrays, runner, growerParams(p, lossKind, weight), thresholds, slots);
    ctl[C.LOSS] = LOSS_CODE[lossKind];
    ctl[C.N_CLASSES] = K;
    ctl[C.CODE] = TASK.GRADIENTS;
    runner.run();
    for (let iter = 0; iter < p.max_iter; iter++) {
      // The last tree of an iteration hands over the gradients of the next one.
      for (let k = 0; k < K; k++) trees.push(grower.growTree(k, k === K - 1 && iter < p.max_iter - 1));
      options.onProgress?.((iter + 1) / p.max_iter, `iteration ${iter + 1} of at most ${p.max_iter}`);
      if (valRows && valBinned && valRaw && yVal) {
        for (let k = 0; k < K; k++) addTreeBinned(trees[trees.length - K + k], valBinned, valRows.length, missingBin, valRaw, K, k);
        scores.push(-meanLoss(lossKind, yVal, valRaw, wVal, K));
        if (shouldStop(scores, p.n_iter_no_change, p.tol)) break;
      }
    }
  } finally {
    runner.close();
  }
  return new HistGradientBoostingModel(options.task, F, options.task === 'regression' ? 1 : options.nClasses, p, baseline, trees, scores);
}

let webAssemblyKernels = true;

/**
 * Turns the WebAssembly histogram and partition loops on (the default) or off; off runs the same
 * arithmetic in JavaScript, about half as fast, with identical models. For tests, and for engines
 * without shared WebAssembly memory (which fall back to JavaScript by themselves).
 */
export function useWebAssemblyKernels(enabled: boolean): void {
  webAssemblyKernels = enabled;
}

/** A WebAssembly heap for arrays of these byte sizes, or null when the engine cannot provide one (over 4 GiB). */
function wasmHeap(sizes: number[]): WasmHeap | null {
  if (!webAssemblyKernels) return null;
  const bytes = heapBytes(sizes);
  if (bytes > 2 ** 32 - 65536) return null;
  try {
    return new WasmHeap(bytes);
  } catch {
    return null;
  }
}

/** Column-major copy of `rows` of `x` (all rows when null). */
function columnsOf(x: Matrix, rows: Uint32Array | null, shared: boolean): Float64Array {
  const m = rows ? rows.length : x.rows;
  const F = x.cols;
  const data = x.data;
  const out = allocate(Float64Array, F * m, shared);
  for (let j = 0; j < m; j++) {
    const o = (rows ? rows[j] : j) * F;
    for (let f = 0; f < F; f++) out[f * m + j] = data[o + f];
  }
  return out;
}

/** Rows that set the bin thresholds: all (empty list) up to BINNING_SUBSAMPLE rows, else a random subset. */
function binningSample(n: number, rng: Random, shared: boolean): Uint32Array {
  if (n <= BINNING_SUBSAMPLE) return allocate(Uint32Array, 0, shared);
  const all = new Uint32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  // Partial Fisher–Yates: the first BINNING_SUBSAMPLE entries become a uniform sample without replacement.
  for (let i = 0; i < BINNING_SUBSAMPLE; i++) {
    const j = i + rng.int(n - i);
    const t = all[i];
    all[i] = all[j];
    all[j] = t;
  }
  const out = allocate(Uint32Array, BINNING_SUBSAMPLE, shared);
  out.set(all.subarray(0, BINNING_SUBSAMPLE));
  return out;
}

function growerParams(p: ResolvedHgbtParams, lossKind: LossKind, weight: Float64Array | undefined) {
  return {
    maxLeafNodes: p.max_leaf_nodes,
    maxDepth: p.max_depth,
    minSamplesLeaf: p.min_samples_leaf,
    l2Regularization: p.l2_regularization,
    learningRate: p.learning_rate,
    constantHessian: lossKind === 'squared_error' && !weight,
  };
}

/** scikit-learn's rule: stop when none of the last n scores beats the one n+1 back by more than tol. */
function shouldStop(scores: readonly number[], nIterNoChange: number, tol: number): boolean {
  const ref = nIterNoChange + 1;
  if (scores.length < ref) return false;
  const reference = scores[scores.length - ref] + tol;
  for (let i = scores.length - ref + 1; i < scores.length; i++) if (scores[i] > reference) return false;
  return true;
}

function checkData(x: Matrix, y: Float64Array, options: FitOptions): LossKind {
  const { task, nClasses } = options;
  if (x.rows < 1 || x.cols < 1) throw invalidParam('x', `needs at least one row and one column, got ${x.rows} × ${x.cols}`);
  if (x.data.length !== x.rows * x.cols) throw invalidParam('x', `data has ${x.data.length} values, expected rows × cols = ${x.rows * x.cols}`);
  checkRowCount('y', y, x.rows);
  if (!Number.isInteger(options.seed)) throw invalidParam('seed', `must be an integer, got ${options.seed}`);
  if (options.sampleWeight) checkSampleWeights(options.sampleWeight, x.rows);
  if (task === 'regression') {
    checkFiniteValues('y', y);
    return 'squared_error';
  }
  if (task === 'binary' && nClasses !== 2) throw invalidParam('nClasses', `binary task needs 2 classes, got ${nClasses}`);
  if (task === 'multiclass' && !(Number.isInteger(nClasses) && nClasses >= 3)) throw invalidParam('nClasses', `multiclass task needs at least 3 classes, got ${nClasses}`);
  if (checkClassIndices('y', y, nClasses) < 2) throw invalidParam('y', 'training data has a single class');
  return task === 'binary' ? 'binary' : 'multiclass';
}
