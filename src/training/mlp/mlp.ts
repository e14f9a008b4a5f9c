/**
 * Multi-layer perceptron with scikit-learn `MLPClassifier`/`MLPRegressor` semantics and defaults:
 * ReLU hidden layers, a sigmoid (binary), softmax (multiclass) or identity (regression) output, Glorot
 * uniform initialization, mini-batch Adam, an L2 penalty `alpha` (½·alpha·‖W‖² per batch, divided by the
 * batch size), and stopping after `nIterNoChange` epochs without a `tol` improvement of the training
 * loss — or, with `earlyStopping`, of the score (accuracy or R²) on a held-out `validationFraction`,
 * restoring the best weights. Every random choice (initialization, shuffling, the validation split)
 * comes from the seed. With `dp`, it trains by DP-SGD with per-example clipping (see `../dp/dp-sgd.ts`).
 */
import { invalidParam, MloopError } from '../../core/errors.ts';
import { Random } from '../../core/random.ts';
import { checkBoolean, checkClassIndices, checkFiniteFeatures, checkFiniteValues, checkInteger, checkNumber, checkRowCount } from '../checks.ts';
import { addGaussianNoise, BatchSampler, type ClipObserver, clipFactor, dpPreprocess, type DpSgdParams, type PrivacyReport, resolveDpSgdParams } from '../dp/dp-sgd.ts';
import { validationSplit } from '../early-stopping.ts';
import { binaryProbabilities } from '../linear/linear-onnx.ts';
import { checkMatrix, takeRows, takeValues } from '../matrix.ts';
import type { OnnxGraphBuilder } from '../onnx/builder.ts';
import { int } from '../onnx/builder.ts';
import type { Estimator } from '../pipeline.ts';
import type { FitOptions, FittedModel, Matrix, OnnxModelOutputs, Target, Task } from '../types.ts';
import { threadBudget } from '../workers.ts';
import { BatchEngine } from './batches.ts';
import { Adam, Network } from './network.ts';

/** Hyperparameters of {@link mlp}; defaults are scikit-learn's. */
export interface MlpParams {
  /** Units of each hidden layer. Default [100]. */
  readonly hiddenLayerSizes?: readonly number[];
  /** L2 penalty. Default 1e-4. */
  readonly alpha?: number;
  /** Rows per mini-batch; `auto` = min(200, rows). */
  readonly batchSize?: number | 'auto';
  /** Adam step size. Default 1e-3. */
  readonly learningRateInit?: number;
  /** Maximum epochs. Default 200. */
  readonly maxIter?: number;
  /** Minimum improvement of loss or score that resets the patience counter. Default 1e-4. */
  readonly tol?: number;
  /** Epochs without improvement before stopping. Default 10. */
  readonly nIterNoChange?: number;
  /** Stop on a held-out validation score instead of the training loss. Default false. */
  readonly earlyStopping?: boolean;
  /** Share of training rows held out for early stopping. Default 0.1. */
  readonly validationFraction?: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
  /** Shuffle rows each epoch. Default true. */
  readonly shuffle?: boolean;
  /** Upper bound on threads (this one included) for large data sets. Default: every core. */
  readonly threads?: number;
  /** Train with DP-SGD (Adam on clipped, noised gradients) instead. */
  readonly dp?: DpSgdParams;
}

/** Resolved {@link MlpParams}. */
export type ResolvedMlpParams = Required<Omit<MlpParams, 'dp' | 'hiddenLayerSizes'>> & { hiddenLayerSizes: number[]; dp?: DpSgdParams };

/** How the fit went. */
export interface MlpFitInfo {
  readonly epochs: number;
  /** Mean training loss per epoch (with the L2 term, as sklearn's `loss_curve_`). */
  readonly lossCurve: number[];
  /** Validation score per epoch when early stopping. */
  readonly validationScores?: number[];
  readonly bestValidationScore?: number;
  readonly stopReason: 'no_improvement' | 'max_iter' | 'dp_budget';
  /** Threads that computed gradients. */
  readonly threads?: number;
}

/** Serialized {@link MlpModel}. */
export interface MlpState {
  kind: 'mlp';
  version: 1;
  task: Task;
  nFeatures: number;
  nClasses: number;
  /** Layer sizes from input to output. */
  layers: number[];
  /** Per layer: fan_in × fan_out weights, row-major. */
  weights: number[][];
  biases: number[][];
  info?: MlpFitInfo;
  privacy?: PrivacyReport;
  [key: string]: unknown;
}

/** A trained MLP. */
export class MlpModel implements FittedModel {
  readonly kind = 'mlp' as const;
  readonly task: Task;
  readonly nFeatures: number;
  readonly nClasses: number;
  readonly layers: readonly number[];
  readonly weights: readonly Float64Array[];
  readonly biases: readonly Float64Array[];
  readonly info?: MlpFitInfo;
  readonly privacy?: PrivacyReport;

  constructor(s: { task: Task; nClasses: number; layers: number[]; weights: Float64Array[]; biases: Float64Array[]; info?: MlpFitInfo; privacy?: PrivacyReport }) {
    this.task = s.task;
    this.nClasses = s.nClasses;
    this.layers = s.layers;
    this.nFeatures = s.layers[0];
    this.weights = s.weights;
    this.biases = s.biases;
    this.info = s.info;
    this.privacy = s.privacy;
  }

  /** regression → value; binary → P(class 1); multiclass → probabilities row-major. */
  predict(x: Matrix): Float64Array {
    checkMatrix(x, 'MLP input', this.nFeatures);
    const out = this.layers[this.layers.length - 1];
    const result = new Float64Array(x.rows * out);
    const chunk = 1024;
    const net = new Network(this.layers, this.weights, this.biases, this.task);
    const buffers = net.buffers(Math.min(chunk, Math.max(1, x.rows)));
    for (let start = 0; start < x.rows; start += chunk) {
      const m = Math.min(chunk, x.rows - start);
      const output = net.forward(x.data.subarray(start * x.cols, (start + m) * x.cols), m, buffers);
      result.set(output.subarray(0, m * out), start * out);
    }
    return result;
  }

  /** See {@link FittedModel.toJSON}. */
  toJSON(): MlpState {
    return {
      kind: 'mlp',
      version: 1,
      task: this.task,
      nFeatures: this.nFeatures,
      nClasses: this.nClasses,
      layers: [...this.layers],
      weights: this.weights.map((w) => Array.from(w)),
      biases: this.biases.map((b) => Array.from(b)),
      ...(this.info ? { info: this.info } : {}),
      ...(this.privacy ? { privacy: this.privacy } : {}),
    };
  }

  /** See {@link FittedModel.exportOnnx}. */
  exportOnnx(graph: OnnxGraphBuilder, input: string): OnnxModelOutputs {
    let t = input;
    const last = this.layers.length - 2;
    for (let l = 0; l <= last; l++) {
      const w = graph.constant(graph.fresh(`mlp_w${l}`), { type: 'float', dims: [this.layers[l], this.layers[l + 1]], values: this.weights[l] });
      const b = graph.constant(graph.fresh(`mlp_b${l}`), { type: 'float', dims: [this.layers[l + 1]], values: this.biases[l] });
      [t] = graph.node('Gemm', [t, w, b], [graph.fresh(`mlp_z${l}`)]);
      if (l < last) [t] = graph.node('Relu', [t], [graph.fresh(`mlp_a${l}`)]);
    }
    if (this.task === 'regression') return { value: t };
    if (this.task === 'binary') return { probabilities: binaryProbabilities(graph, graph.node('Sigmoid', [t], [graph.fresh('mlp_p1')])[0]) };
    return { probabilities: graph.node('Softmax', [t], [graph.fresh('mlp_proba')], { axis: int(1) })[0] };
  }
}

/** Reads an {@link MlpModel} back from its `toJSON` state. */
export function restoreMlp(state: { kind: string; [key: string]: unknown }): MlpModel {
  const s = state as MlpState;
  const bad = (why: string) => new MloopError('INVALID_PARAMETER_VALUE', `MLP state: ${why}`);
  if (s.kind !== 'mlp' || s.version !== 1) throw bad('not a version-1 MLP');
  if (!['binary', 'multiclass', 'regression'].includes(s.task)) throw bad('bad task');
  if (!Array.isArray(s.layers) || s.layers.length < 2 || !s.layers.every((n) => Number.isInteger(n) && n >= 1)) throw bad('bad layers');
  const L = s.layers.length - 1;
  if (!Array.isArray(s.weights) || !Array.isArray(s.biases) || s.weights.length !== L || s.biases.length !== L) throw bad(`needs ${L} weight and bias arrays`);
  for (let l = 0; l < L; l++) {
    if (s.weights[l].length !== s.layers[l] * s.layers[l + 1] || !s.weights[l].every(Number.isFinite)) throw bad(`layer ${l} weights malformed`);
    if (s.biases[l].length !== s.layers[l + 1] || !s.biases[l].every(Number.isFinite)) throw bad(`layer ${l} biases malformed`);
  }
  const outputs = s.layers[L];
  const expected = s.task === 'multiclass' ? s.nClasses : 1;
  if (outputs !== expected) throw bad(`output layer has ${outputs} units, task ${s.task} needs ${expected}`);
  return new MlpModel({
    task: s.task,
    nClasses: s.task === 'regression' ? 1 : s.nClasses,
    layers: [...s.layers],
    weights: s.weights.map((w) => Float64Array.from(w)),
    biases: s.biases.map((b) => Float64Array.from(b)),
    info: s.info,
    privacy: s.privacy,
  });
}

/** Checks hyperparameters and fills in defaults; throws naming the first bad one. */
export function resolveMlpParams(p: MlpParams = {}): ResolvedMlpParams {
  const r = {
    hiddenLayerSizes: [...(p.hiddenLayerSizes ?? [100])],
    alpha: p.alpha ?? 1e-4,
    batchSize: p.batchSize ?? 'auto',
    learningRateInit: p.learningRateInit ?? 1e-3,
    maxIter: p.maxIter ?? 200,
    tol: p.tol ?? 1e-4,
    nIterNoChange: p.nIterNoChange ?? 10,
    earlyStopping: p.earlyStopping ?? false,
    validationFraction: p.validationFraction ?? 0.1,
    beta1: p.beta1 ?? 0.9,
    beta2: p.beta2 ?? 0.999,
    epsilon: p.epsilon ?? 1e-8,
    shuffle: p.shuffle ?? true,
    threads: p.threads ?? threadBudget(),
  };
  if (!Array.isArray(r.hiddenLayerSizes) || !r.hiddenLayerSizes.every((n) => Number.isInteger(n) && n >= 1)) {
    throw invalidParam('hiddenLayerSizes', `must be a list of integers ≥ 1, got ${JSON.stringify(p.hiddenLayerSizes)}`);
  }
  checkNumber('alpha', r.alpha, (v) => v >= 0, 'must be a number ≥ 0');
  if (r.batchSize !== 'auto') checkNumber('batchSize', r.batchSize, (v) => Number.isInteger(v) && v >= 1, 'must be "auto" or an integer ≥ 1');
  checkNumber('learningRateInit', r.learningRateInit, (v) => v > 0, 'must be a number > 0');
  checkInteger('maxIter', r.maxIter, 1);
  checkNumber('tol', r.tol, (v) => v >= 0, 'must be a number ≥ 0');
  checkInteger('nIterNoChange', r.nIterNoChange, 1);
  checkNumber('validationFraction', r.validationFraction, (v) => v > 0 && v < 1, 'must be in (0, 1)');
  checkNumber('beta1', r.beta1, (v) => v >= 0 && v < 1, 'must be in [0, 1)');
  checkNumber('beta2', r.beta2, (v) => v >= 0 && v < 1, 'must be in [0, 1)');
  checkNumber('epsilon', r.epsilon, (v) => v > 0, 'must be a number > 0');
  checkBoolean('earlyStopping', r.earlyStopping);
  checkBoolean('shuffle', r.shuffle);
  checkInteger('threads', r.threads, 1);
  if (p.dp !== undefined) {
    resolveDpSgdParams(p.dp, 'dp');
    if (r.earlyStopping) throw invalidParam('earlyStopping', 'cannot be combined with dp (validation on the private rows would spend privacy the accountant does not count)');
  }
  return { ...r, ...(p.dp ? { dp: p.dp } : {}) };
}

/**
 * The MLP as an estimator for pipelines (classification and regression); checks hyperparameters now.
 * Under `dp`, rare categories stay out of the preprocessing (see `dpPreprocess`).
 */
export function mlp(params: MlpParams = {}): Estimator {
  const resolved = resolveMlpParams(params);
  return {
    kind: 'mlp',
    tasks: ['binary', 'multiclass', 'regression'],
    preprocess: resolved.dp ? dpPreprocess(resolved.dp) : {},
    params: { ...resolved },
    fit: (x, target, options) => fitMlp(x, target, options, resolved),
  };
}

/** Fits an MLP on a preprocessed matrix. */
export async function fitMlp(
  x: Matrix,
  target: Target,
  options: FitOptions,
  params: MlpParams = {},
  extra: { /** Start from these weights instead of a random initialization (warm start). */ initial?: MlpModel; /** Sees each example's clipped gradient norm under DP. */ observe?: ClipObserver } = {},
): Promise<MlpModel> {
  const p = resolveMlpParams(params);
  checkMatrix(x, 'features');
  const n = x.rows;
  const y = target.values;
  checkRowCount('target', y, n, 'labels');
  const task = target.task;
  const nClasses = task === 'regression' ? 1 : options.nClasses;
  if (task === 'regression') checkFiniteValues('target', y);
  else {
    if (!Number.isInteger(nClasses) || nClasses < 2) throw invalidParam('nClasses', `must be ≥ 2, got ${nClasses}`);
    checkClassIndices('target', y, nClasses);
  }
  checkFiniteFeatures(x, 'the MLP');
  if (options.sampleWeight) throw invalidParam('sampleWeight', 'the MLP does not support sample weights (as sklearn’s MLP)');
  const outputs = task === 'multiclass' ? nClasses : 1;
  const layers = [x.cols, ...p.hiddenLayerSizes, outputs];
  const rng = new Random(options.seed);
  let net: Network;
  if (extra.initial) {
    const init = extra.initial;
    if (init.task !== task || init.layers.join() !== layers.join()) {
      throw invalidParam('initial', `has layers ${init.layers.join('-')} for ${init.task}, this fit needs ${layers.join('-')} for ${task}`);
    }
    net = new Network(layers, init.weights, init.biases, task);
  } else {
    net = Network.init(layers, task, rng.fork(1));
  }
  if (p.dp) {
    const privacy = trainPrivate(net, x, y, p, p.dp, rng.fork(2), options, extra.observe);
    return modelOf(net, nClasses, { epochs: 0, lossCurve: [], stopReason: 'dp_budget' }, privacy);
  }
  const trained = await trainAdam(net, x, y, p, rng, options);
  return modelOf(trained.net, nClasses, trained.info);
}

/** The model of a trained network (weights copied out of the optimizer's array). */
function modelOf(net: Network, nClasses: number, info: MlpFitInfo, privacy?: PrivacyReport): MlpModel {
  return new MlpModel({
    task: net.task,
    nClasses,
    layers: net.layers,
    weights: net.weights.map((w) => Float64Array.from(w)),
    biases: net.biases.map((b) => Float64Array.from(b)),
    info,
    privacy,
  });
}

async function trainAdam(initial: Network, x: Matrix, y: Float64Array, p: ResolvedMlpParams, rng: Random, options: FitOptions): Promise<{ net: Network; info: MlpFitInfo }> {
  let train = x;
  let yTrain = y;
  let xVal: Matrix | null = null;
  let yVal: Float64Array | null = null;
  if (p.earlyStopping) {
    const nVal = Math.ceil(p.validationFraction * y.length);
    if (nVal < 2 || y.length - nVal < 2) throw invalidParam('validationFraction', `leaves too few rows for training or validation (${y.length} rows)`);
    const split = validationSplit(y, initial.task === 'regression' ? 0 : options.nClasses, p.validationFraction, rng.fork(3));
    train = takeRows(x, split.train);
    yTrain = takeValues(y, split.train);
    xVal = takeRows(x, split.validation);
    yVal = takeValues(y, split.validation);
  }
  const n = train.rows;
  const batchSize = p.batchSize === 'auto' ? Math.min(200, n) : Math.min(p.batchSize, n);
  const engine = await BatchEngine.create(initial, train, yTrain, batchSize, p.threads);
  const net = engine.net;
  try {
    const grad = new Float64Array(net.params.length);
    const adam = new Adam(net.params.length, p.learningRateInit, p.beta1, p.beta2, p.epsilon);
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    const shuffler = rng.fork(4);
    const lossCurve: number[] = [];
    const validationScores: number[] = [];
    let bestLoss = Infinity;
    let bestScore = -Infinity;
    let best: Float64Array | null = null;
    let noImprovement = 0;
    let stopReason: MlpFitInfo['stopReason'] = 'max_iter';
    let epoch = 0;
    while (epoch < p.maxIter) {
      epoch++;
      if (p.shuffle) shuffler.shuffle(order);
      let accumulated = 0;
      for (let start = 0; start < n; start += batchSize) {
        const m = Math.min(batchSize, n - start);
        const lossSum = engine.gradient(order.subarray(start, start + m), grad);
        accumulated += lossSum + 0.5 * p.alpha * net.weightNorm2();
        net.addL2(grad, p.alpha / m);
        adam.step(net.params, grad);
      }
      const loss = accumulated / n;
      if (!Number.isFinite(loss)) throw new MloopError('INVALID_STATE', `MLP training diverged at epoch ${epoch} (loss ${loss}); lower learningRateInit`);
      lossCurve.push(loss);
      options.onProgress?.(epoch / p.maxIter, `epoch ${epoch}, loss ${loss.toPrecision(6)}`);
      if (xVal && yVal) {
        const score = validationScore(net, xVal, yVal);
        validationScores.push(score);
        noImprovement = score < bestScore + p.tol ? noImprovement + 1 : 0;
        if (score > bestScore) {
          bestScore = score;
          best = net.snapshot();
        }
      } else {
        noImprovement = loss > bestLoss - p.tol ? noImprovement + 1 : 0;
        if (loss < bestLoss) bestLoss = loss;
      }
      if (noImprovement > p.nIterNoChange) {
        stopReason = 'no_improvement';
        break;
      }
    }
    if (best) net.params.set(best);
    return {
      net,
      info: {
        epochs: epoch,
        lossCurve,
        ...(xVal ? { validationScores, bestValidationScore: bestScore } : {}),
        stopReason,
        threads: engine.threads,
      },
    };
  } finally {
    engine.close();
  }
}

/** Accuracy (classification) or R² (regression), as sklearn's `score`. */
function validationScore(net: Network, x: Matrix, y: Float64Array): number {
  const k = net.layers[net.layers.length - 1];
  const buf = net.buffers(x.rows);
  const out = net.forward(x.data, x.rows, buf);
  if (net.task === 'regression') {
    let mean = 0;
    for (let i = 0; i < y.length; i++) mean += y[i];
    mean /= y.length;
    let ssRes = 0;
    let ssTot = 0;
    for (let i = 0; i < y.length; i++) {
      ssRes += (y[i] - out[i]) ** 2;
      ssTot += (y[i] - mean) ** 2;
    }
    return ssTot === 0 ? (ssRes === 0 ? 1 : 0) : 1 - ssRes / ssTot;
  }
  let correct = 0;
  for (let i = 0; i < y.length; i++) {
    let label: number;
    if (net.task === 'binary') label = out[i] > 0.5 ? 1 : 0;
    else {
      label = 0;
      for (let c = 1; c < k; c++) if (out[i * k + c] > out[i * k + label]) label = c;
    }
    if (label === y[i]) correct++;
  }
  return correct / y.length;
}

/**
 * DP-SGD for the MLP. Per-example gradient norms come without materializing per-example gradients:
 * for a dense layer the example's gradient is a_i ⊗ δ_i, whose squared norm is ‖a_i‖²·‖δ_i‖², plus
 * ‖δ_i‖² for the bias. Each example's deltas are then scaled by its clip factor, and the batched
 * gradient of the scaled deltas is exactly the sum of clipped per-example gradients.
 */
function trainPrivate(net: Network, x: Matrix, y: Float64Array, p: ResolvedMlpParams, dpParams: DpSgdParams, rng: Random, options: FitOptions, observe?: ClipObserver): PrivacyReport {
  const dp = resolveDpSgdParams(dpParams, 'dp');
  const n = x.rows;
  const d = x.cols;
  const sampler = new BatchSampler(n, dp, rng.fork(1));
  const noise = rng.fork(2);
  // A Poisson batch can exceed its expected size; grow the buffers when it does.
  let capacity = Math.max(1, Math.ceil(dp.batchSize * 1.5) + 16);
  let buf = net.buffers(capacity);
  let batchX = new Float64Array(capacity * d);
  const grad = new Float64Array(net.params.length);
  const adam = new Adam(net.params.length, dp.learningRate ?? p.learningRateInit, p.beta1, p.beta2, p.epsilon);
  const L = net.layers.length - 1;
  let norms = new Float64Array(capacity);
  for (let step = 0; step < sampler.steps; step++) {
    const rows = sampler.next();
    const m = rows.length;
    grad.fill(0);
    if (m > 0) {
      if (m > capacity) {
        capacity = m;
        buf = net.buffers(capacity);
        batchX = new Float64Array(capacity * d);
        norms = new Float64Array(capacity);
      }
      for (let i = 0; i < m; i++) batchX.set(x.data.subarray(rows[i] * d, rows[i] * d + d), i * d);
      net.forward(batchX, m, buf);
      net.backward(y, rows, m, buf, 1);
      norms.fill(0, 0, m);
      for (let l = 0; l < L; l++) {
        const fanIn = net.layers[l];
        const fanOut = net.layers[l + 1];
        const a = l === 0 ? batchX : buf.act[l];
        const dl = buf.delta[l + 1];
        for (let i = 0; i < m; i++) {
          let aa = 1;
          for (let j = 0; j < fanIn; j++) aa += a[i * fanIn + j] * a[i * fanIn + j];
          let dd = 0;
          for (let c = 0; c < fanOut; c++) dd += dl[i * fanOut + c] * dl[i * fanOut + c];
          norms[i] += aa * dd;
        }
      }
      for (let i = 0; i < m; i++) {
        const norm = Math.sqrt(norms[i]);
        const f = clipFactor(norm, dp.maxGradNorm);
        observe?.(rows[i], norm, norm * f);
        if (f === 1) continue;
        for (let l = 1; l <= L; l++) {
          const size = net.layers[l];
          const dl = buf.delta[l];
          for (let c = 0; c < size; c++) dl[i * size + c] *= f;
        }
      }
      net.gradients(batchX, m, buf, grad);
    }
    addGaussianNoise(grad, dp.noiseMultiplier * dp.maxGradNorm, noise);
    for (let i = 0; i < grad.length; i++) grad[i] /= dp.batchSize;
    net.addL2(grad, p.alpha / dp.batchSize);
    adam.step(net.params, grad);
    if (step % 50 === 0) options.onProgress?.(step / sampler.steps, `DP-SGD step ${step + 1} of ${sampler.steps}`);
  }
  return sampler.report(dp);
}
