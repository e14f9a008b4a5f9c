/**
 * Multi-layer perceptron with scikit-learn `MLPClassifier`/`MLPRegressor` semantics and defaults:
 * ReLU hidden layers, a sigmoid (binary), softmax (multiclass) or identity (regression) output, Glorot
 * uniform initialization, mini-batch Adam, an L2 penalty `alpha` (½·alpha·‖W‖² per batch, divided by the
 * batch size), and stopping after `nIterNoChange` epochs without a `tol` improvement of the training
 * loss — or, with `earlyStopping`, of the score (accuracy or R²) on a held-out `validationFraction`,
 * restoring the best weights. Every random choice (initialization, shuffling, the validation split)
 * comes from the seed. With `dp`, it trains by DP-SGD with per-example clipping (see `../dp/dp-sgd.ts`).
 */
import type { Worker } from 'node:worker_threads';
import { invalidParam, MloopError } from '../../core/errors.ts';
import { Random } from '../../core/random.ts';
import { addGaussianNoise, BatchSampler, type ClipObserver, type DpSgdParams, type PrivacyReport, resolveDpSgdParams } from '../dp/dp-sgd.ts';
import { binaryProbabilities } from '../linear/linear-onnx.ts';
import { checkMatrix, gemm, gemmTN, isShared, sharedMatrix, sigmoid, softmaxRows, takeRows, takeValues } from '../matrix.ts';
import { threadBudget, WorkerPool } from '../optim/parallel.ts';
import type { OnnxGraphBuilder } from '../onnx/builder.ts';
import { int } from '../onnx/builder.ts';
import type { Estimator } from '../pipeline.ts';
import type { FitOptions, FittedModel, Matrix, OnnxModelOutputs, Target, Task } from '../types.ts';

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
  const finite = (name: string, v: unknown, ok: (x: number) => boolean, rule: string) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw invalidParam(name, `${rule}, got ${String(v)}`);
  };
  finite('alpha', r.alpha, (v) => v >= 0, 'must be a number ≥ 0');
  if (r.batchSize !== 'auto') finite('batchSize', r.batchSize, (v) => Number.isInteger(v) && v >= 1, 'must be "auto" or an integer ≥ 1');
  finite('learningRateInit', r.learningRateInit, (v) => v > 0, 'must be a number > 0');
  finite('maxIter', r.maxIter, (v) => Number.isInteger(v) && v >= 1, 'must be an integer ≥ 1');
  finite('tol', r.tol, (v) => v >= 0, 'must be a number ≥ 0');
  finite('nIterNoChange', r.nIterNoChange, (v) => Number.isInteger(v) && v >= 1, 'must be an integer ≥ 1');
  finite('validationFraction', r.validationFraction, (v) => v > 0 && v < 1, 'must be in (0, 1)');
  finite('beta1', r.beta1, (v) => v >= 0 && v < 1, 'must be in [0, 1)');
  finite('beta2', r.beta2, (v) => v >= 0 && v < 1, 'must be in [0, 1)');
  finite('epsilon', r.epsilon, (v) => v > 0, 'must be a number > 0');
  if (typeof r.earlyStopping !== 'boolean') throw invalidParam('earlyStopping', 'must be a boolean');
  if (typeof r.shuffle !== 'boolean') throw invalidParam('shuffle', 'must be a boolean');
  finite('threads', r.threads, (v) => Number.isInteger(v) && v >= 1, 'must be an integer ≥ 1');
  if (p.dp !== undefined) {
    resolveDpSgdParams(p.dp, 'dp');
    if (r.earlyStopping) throw invalidParam('earlyStopping', 'cannot be combined with dp (validation on the private rows would spend privacy the accountant does not count)');
  }
  return { ...r, ...(p.dp ? { dp: p.dp } : {}) };
}

/** The MLP as an estimator for pipelines (classification and regression); checks hyperparameters now. */
export function mlp(params: MlpParams = {}): Estimator {
  const resolved = resolveMlpParams(params);
  return {
    kind: 'mlp',
    tasks: ['binary', 'multiclass', 'regression'],
    preprocess: {},
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
  if (y.length !== n) throw invalidParam('target', `has ${y.length} labels for ${n} rows`);
  const task = target.task;
  const nClasses = task === 'regression' ? 1 : options.nClasses;
  if (task !== 'regression') {
    if (!Number.isInteger(nClasses) || nClasses < 2) throw invalidParam('nClasses', `must be ≥ 2, got ${nClasses}`);
    for (let i = 0; i < n; i++) if (!(Number.isInteger(y[i]) && y[i] >= 0 && y[i] < nClasses)) throw invalidParam('target', `label ${y[i]} at row ${i} is not a class index below ${nClasses}`);
  }
  for (let i = 0; i < x.data.length; i++) {
    if (!Number.isFinite(x.data[i])) throw invalidParam('features', `value ${x.data[i]} at row ${Math.floor(i / x.cols)}, column ${i % x.cols}; the MLP needs imputed, finite features`);
  }
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
    return net.toModel(nClasses, { epochs: 0, lossCurve: [], stopReason: 'dp_budget' }, privacy);
  }
  const trained = await trainAdam(net, x, y, p, rng, options);
  return trained.net.toModel(nClasses, trained.info);
}

/** Buffers of one forward/backward pass over up to `capacity` rows. */
export interface Buffers {
  readonly capacity: number;
  /** Activations per layer (index 0 unused: the input is read in place). */
  readonly act: Float64Array[];
  /** Deltas per layer (index 0 unused). */
  readonly delta: Float64Array[];
}

/** Weights of a network and the passes over it, all in flat typed arrays (exported for the worker). */
export class Network {
  declare readonly layers: number[];
  declare readonly task: Task;
  /** All weights and biases in one array (the optimizer's view): per layer W then b. */
  declare readonly params: Float64Array;
  declare readonly weights: Float64Array[];
  declare readonly biases: Float64Array[];

  constructor(layers: readonly number[], weights: readonly Float64Array[], biases: readonly Float64Array[], task: Task) {
    const size = weights.reduce((s, w, l) => s + w.length + biases[l].length, 0);
    const params = new Float64Array(size);
    let o = 0;
    for (let l = 0; l < weights.length; l++) {
      params.set(weights[l], o);
      o += weights[l].length;
      params.set(biases[l], o);
      o += biases[l].length;
    }
    this.layers = [...layers];
    this.task = task;
    this.params = params;
    this.weights = [];
    this.biases = [];
    attachViews(this);
  }

  /** A network whose weights are views of `params` (e.g. shared memory written by another thread). */
  static over(layers: readonly number[], task: Task, params: Float64Array): Network {
    const net = Object.create(Network.prototype) as Network;
    Object.assign(net, { layers: [...layers], task, params, weights: [], biases: [] });
    attachViews(net);
    return net;
  }

  /** This network with its parameters copied into a `SharedArrayBuffer`. */
  share(): Network {
    const params = new Float64Array(new SharedArrayBuffer(this.params.length * 8));
    params.set(this.params);
    return Network.over(this.layers, this.task, params);
  }

  /** Glorot-uniform initialization, as sklearn's `_init_coef` (bound √(6/(fan_in+fan_out)) for ReLU). */
  static init(layers: number[], task: Task, rng: Random): Network {
    const weights: Float64Array[] = [];
    const biases: Float64Array[] = [];
    for (let l = 0; l < layers.length - 1; l++) {
      const bound = Math.sqrt(6 / (layers[l] + layers[l + 1]));
      weights.push(Float64Array.from({ length: layers[l] * layers[l + 1] }, () => (2 * rng.next() - 1) * bound));
      biases.push(Float64Array.from({ length: layers[l + 1] }, () => (2 * rng.next() - 1) * bound));
    }
    return new Network(layers, weights, biases, task);
  }

  buffers(capacity: number): Buffers {
    const act = this.layers.map((size, l) => (l === 0 ? new Float64Array(0) : new Float64Array(capacity * size)));
    const delta = this.layers.map((size, l) => (l === 0 ? new Float64Array(0) : new Float64Array(capacity * size)));
    return { capacity, act, delta };
  }

  /** Forward pass over m rows of `input`; returns the output activations (m × outputs). */
  forward(input: Float64Array, m: number, buf: Buffers): Float64Array {
    const L = this.layers.length - 1;
    let a = input;
    for (let l = 0; l < L; l++) {
      const fanIn = this.layers[l];
      const fanOut = this.layers[l + 1];
      const z = buf.act[l + 1];
      const b = this.biases[l];
      for (let i = 0; i < m; i++) z.set(b, i * fanOut);
      gemm(a, this.weights[l], z, m, fanIn, fanOut, true);
      if (l < L - 1) {
        for (let i = 0; i < m * fanOut; i++) if (z[i] < 0) z[i] = 0;
      }
      a = z;
    }
    const out = buf.act[L];
    const k = this.layers[L];
    if (this.task === 'binary') {
      for (let i = 0; i < m; i++) out[i] = sigmoid(out[i]);
    } else if (this.task === 'multiclass') {
      softmaxRows(out, m, k);
    }
    return out;
  }

  /** Mean loss of m rows (sklearn's `log_loss`/`binary_log_loss`/`squared_loss`), from the output activations. */
  loss(out: Float64Array, y: Float64Array, rows: ArrayLike<number> | null, m: number): number {
    const k = this.layers[this.layers.length - 1];
    const label = (i: number) => y[rows === null ? i : rows[i]];
    const eps = Number.EPSILON;
    let s = 0;
    if (this.task === 'regression') {
      for (let i = 0; i < m; i++) s += (out[i] - label(i)) ** 2;
      return s / m / 2;
    }
    if (this.task === 'binary') {
      for (let i = 0; i < m; i++) {
        const p = Math.min(1 - eps, Math.max(eps, out[i]));
        s -= label(i) === 1 ? Math.log(p) : Math.log(1 - p);
      }
      return s / m;
    }
    for (let i = 0; i < m; i++) s -= Math.log(Math.min(1 - eps, Math.max(eps, out[i * k + label(i)])));
    return s / m;
  }

  /**
   * Backward pass after {@link forward}: the output delta is (out − y)·scale per row (the derivative of
   * every output/loss pairing here); hidden deltas go through the ReLU. Leaves deltas in `buf.delta`.
   */
  backward(y: Float64Array, rows: ArrayLike<number> | null, m: number, buf: Buffers, scale: number): void {
    const L = this.layers.length - 1;
    const k = this.layers[L];
    const out = buf.act[L];
    const dL = buf.delta[L];
    for (let i = 0; i < m; i++) {
      const yi = y[rows === null ? i : rows[i]];
      if (this.task === 'multiclass') {
        for (let c = 0; c < k; c++) dL[i * k + c] = (out[i * k + c] - (c === yi ? 1 : 0)) * scale;
      } else {
        dL[i] = (out[i] - yi) * scale;
      }
    }
    for (let l = L - 1; l >= 1; l--) {
      // δ_l = δ_{l+1}·W_lᵀ ⊙ [a_l > 0]
      const fan = this.layers[l];
      const next = this.layers[l + 1];
      const w = this.weights[l];
      const dn = buf.delta[l + 1];
      const dl = buf.delta[l];
      const a = buf.act[l];
      for (let i = 0; i < m; i++) {
        const oi = i * fan;
        const on = i * next;
        for (let j = 0; j < fan; j++) {
          if (a[oi + j] <= 0) {
            dl[oi + j] = 0;
            continue;
          }
          let s = 0;
          const wo = j * next;
          for (let c = 0; c < next; c++) s += dn[on + c] * w[wo + c];
          dl[oi + j] = s;
        }
      }
    }
  }

  /** Gradient of the weights from the deltas: ∂W_l = A_lᵀ·δ_{l+1}, ∂b_l = Σ δ_{l+1} (into `grad`, the params layout). */
  gradients(input: Float64Array, m: number, buf: Buffers, grad: Float64Array): void {
    let o = 0;
    for (let l = 0; l < this.layers.length - 1; l++) {
      const fanIn = this.layers[l];
      const fanOut = this.layers[l + 1];
      const a = l === 0 ? input : buf.act[l];
      const d = buf.delta[l + 1];
      gemmTN(a, d, grad.subarray(o, o + fanIn * fanOut), m, fanIn, fanOut);
      o += fanIn * fanOut;
      const gb = grad.subarray(o, o + fanOut);
      gb.fill(0);
      for (let i = 0; i < m; i++) for (let c = 0; c < fanOut; c++) gb[c] += d[i * fanOut + c];
      o += fanOut;
    }
  }

  /** Σ‖W‖² over the weight matrices (biases are not penalized). */
  weightNorm2(): number {
    let s = 0;
    for (const w of this.weights) for (let i = 0; i < w.length; i++) s += w[i] * w[i];
    return s;
  }

  /** Adds `alpha`·W to the weight part of `grad`. */
  addL2(grad: Float64Array, alpha: number): void {
    let o = 0;
    for (let l = 0; l < this.weights.length; l++) {
      const w = this.weights[l];
      for (let i = 0; i < w.length; i++) grad[o + i] += alpha * w[i];
      o += w.length + this.biases[l].length;
    }
  }

  snapshot(): Float64Array {
    return Float64Array.from(this.params);
  }

  toModel(nClasses: number, info: MlpFitInfo, privacy?: PrivacyReport): MlpModel {
    return new MlpModel({
      task: this.task,
      nClasses,
      layers: this.layers,
      weights: this.weights.map((w) => Float64Array.from(w)),
      biases: this.biases.map((b) => Float64Array.from(b)),
      info,
      privacy,
    });
  }
}

/** Points each layer's weight and bias arrays at its slice of `net.params`. */
function attachViews(net: Network): void {
  let o = 0;
  for (let l = 0; l < net.layers.length - 1; l++) {
    const w = net.layers[l] * net.layers[l + 1];
    net.weights.push(net.params.subarray(o, o + w));
    o += w;
    net.biases.push(net.params.subarray(o, o + net.layers[l + 1]));
    o += net.layers[l + 1];
  }
}

/** Adam as in sklearn's `AdamOptimizer`. */
class Adam {
  readonly #m: Float64Array;
  readonly #v: Float64Array;
  #t = 0;

  constructor(size: number, readonly lr: number, readonly beta1: number, readonly beta2: number, readonly eps: number) {
    this.#m = new Float64Array(size);
    this.#v = new Float64Array(size);
  }

  step(params: Float64Array, grad: Float64Array): void {
    this.#t++;
    const { beta1, beta2, eps } = this;
    const lrT = (this.lr * Math.sqrt(1 - beta2 ** this.#t)) / (1 - beta1 ** this.#t);
    const m = this.#m;
    const v = this.#v;
    for (let i = 0; i < params.length; i++) {
      const g = grad[i];
      m[i] = beta1 * m[i] + (1 - beta1) * g;
      v[i] = beta2 * v[i] + (1 - beta2) * g * g;
      params[i] -= (lrT * m[i]) / (Math.sqrt(v[i]) + eps);
    }
  }
}

async function trainAdam(initial: Network, x: Matrix, y: Float64Array, p: ResolvedMlpParams, rng: Random, options: FitOptions): Promise<{ net: Network; info: MlpFitInfo }> {
  let train = x;
  let yTrain = y;
  let xVal: Matrix | null = null;
  let yVal: Float64Array | null = null;
  if (p.earlyStopping) {
    const split = validationSplit(y, initial.task, p.validationFraction, rng.fork(3));
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

/**
 * Σ loss over the rows of one part of a mini-batch of `batchRows` rows, and its gradient (without the
 * L2 term; deltas scaled by 1/batchRows) into `grad`. Shared by the main thread and the MLP worker.
 */
export function partGradient(net: Network, x: Float64Array, d: number, y: Float64Array, rows: ArrayLike<number>, batchRows: number, buf: Buffers, batchX: Float64Array, grad: Float64Array): number {
  const m = rows.length;
  for (let i = 0; i < m; i++) batchX.set(x.subarray(rows[i] * d, rows[i] * d + d), i * d);
  const out = net.forward(batchX, m, buf);
  const loss = net.loss(out, y, rows, m) * m;
  net.backward(y, rows, m, buf, 1 / batchRows);
  net.gradients(batchX, m, buf, grad);
  return loss;
}

/** Training sets from this many rows split each mini-batch in two halves, so two threads can share it. */
const SPLIT_MIN_ROWS = 20_000;
const mlpPool = new WorkerPool(new URL('./mlp-worker.ts', import.meta.url));

/** Starts the MLP's worker ahead of time. */
export function warmMlpWorkers(): Promise<void> {
  return mlpPool.warm(threadBudget(2) - 1);
}

/**
 * Gradients of mini-batches. Large training sets split every batch into two fixed halves whose
 * gradients are added in order — on a worker thread over shared memory when one is available, else
 * both here — so the result does not depend on the number of threads.
 */
class BatchEngine {
  readonly net: Network;
  readonly #x: Matrix;
  readonly #y: Float64Array;
  readonly #split: boolean;
  readonly #buf: Buffers;
  readonly #batchX: Float64Array;
  readonly #other: Float64Array;
  readonly #worker: Worker | null;
  readonly #rows: Uint32Array | null;
  readonly #meta: Float64Array | null;
  readonly #ctrl: Int32Array | null;

  private constructor(net: Network, x: Matrix, y: Float64Array, batchSize: number, split: boolean, worker: Worker | null) {
    this.net = net;
    this.#x = x;
    this.#y = y;
    this.#split = split;
    const part = split ? Math.ceil(batchSize / 2) : batchSize;
    this.#buf = net.buffers(part);
    this.#batchX = new Float64Array(part * x.cols);
    this.#worker = worker;
    const p = net.params.length;
    this.#other = worker ? new Float64Array(new SharedArrayBuffer(p * 8)) : new Float64Array(split ? p : 0);
    this.#rows = worker ? new Uint32Array(new SharedArrayBuffer(batchSize * 4)) : null;
    this.#meta = worker ? new Float64Array(new SharedArrayBuffer(4 * 8)) : null;
    this.#ctrl = worker ? new Int32Array(new SharedArrayBuffer(4 * 4)) : null;
    if (worker) {
      const setup: MlpWorkerSetup = {
        type: 'setup', layers: net.layers, task: net.task, params: net.params, x: x.data, cols: x.cols, y,
        rows: this.#rows!, grad: this.#other, meta: this.#meta!, ctrl: this.#ctrl!, partCapacity: part,
      };
      worker.postMessage(setup);
    }
  }

  static async create(initial: Network, x: Matrix, y: Float64Array, batchSize: number, maxThreads: number): Promise<BatchEngine> {
    const split = x.rows >= SPLIT_MIN_ROWS && batchSize >= 2;
    let worker: Worker | null = null;
    if (split && threadBudget(maxThreads) > 1) {
      try {
        [worker] = await mlpPool.acquire(1);
      } catch {
        worker = null;
      }
    }
    if (!worker) return new BatchEngine(initial, x, y, batchSize, split, null);
    return new BatchEngine(initial.share(), isShared(x) ? x : copyShared(x), y.buffer instanceof SharedArrayBuffer ? y : copySharedVector(y), batchSize, true, worker);
  }

  /** Threads in use, this one included. */
  get threads(): number {
    return this.#worker ? 2 : 1;
  }

  /** Σ loss over `rows` (one mini-batch); writes the batch gradient (without L2) into `grad`. */
  gradient(rows: Uint32Array, grad: Float64Array): number {
    const m = rows.length;
    const { data, cols } = this.#x;
    if (!this.#split) return partGradient(this.net, data, cols, this.#y, rows, m, this.#buf, this.#batchX, grad);
    const h = Math.ceil(m / 2);
    const ctrl = this.#ctrl;
    if (ctrl !== null) {
      this.#rows!.set(rows);
      this.#meta![0] = h;
      this.#meta![1] = m;
      Atomics.store(ctrl, 1, 0);
      Atomics.add(ctrl, 0, 1);
      Atomics.notify(ctrl, 0);
    }
    let loss = partGradient(this.net, data, cols, this.#y, rows.subarray(0, h), m, this.#buf, this.#batchX, grad);
    if (ctrl !== null) {
      while (Atomics.load(ctrl, 1) === 0) Atomics.wait(ctrl, 1, 0);
      if (Atomics.load(ctrl, 3) !== 0) throw new MloopError('INTERNAL_ERROR', 'MLP: the gradient worker failed');
      loss += this.#meta![2];
    } else {
      loss += partGradient(this.net, data, cols, this.#y, rows.subarray(h, m), m, this.#buf, this.#batchX, this.#other);
    }
    const other = this.#other;
    for (let i = 0; i < grad.length; i++) grad[i] += other[i];
    return loss;
  }

  /** Releases the worker. */
  close(): void {
    if (!this.#worker || !this.#ctrl) return;
    Atomics.store(this.#ctrl, 2, 1);
    Atomics.add(this.#ctrl, 0, 1);
    Atomics.notify(this.#ctrl, 0);
    mlpPool.release([this.#worker]);
  }
}

/** The `setup` message of the MLP worker. */
export interface MlpWorkerSetup {
  readonly type: 'setup';
  readonly layers: readonly number[];
  readonly task: Task;
  readonly params: Float64Array;
  readonly x: Float64Array;
  readonly cols: number;
  readonly y: Float64Array;
  /** The batch's row indices; the worker takes rows [meta[0], meta[1]). */
  readonly rows: Uint32Array;
  readonly grad: Float64Array;
  /** [start of the worker's half, batch size, loss out]. */
  readonly meta: Float64Array;
  /** [generation, done, stop, error]. */
  readonly ctrl: Int32Array;
  readonly partCapacity: number;
}

function copyShared(x: Matrix): Matrix {
  const m = sharedMatrix(x.rows, x.cols);
  m.data.set(x.data);
  return m;
}

function copySharedVector(v: Float64Array): Float64Array {
  const out = new Float64Array(new SharedArrayBuffer(v.length * 8));
  out.set(v);
  return out;
}

/** Stratified (classification) or plain random hold-out of a `fraction` of the rows. */
function validationSplit(y: Float64Array, task: Task, fraction: number, rng: Random): { train: Uint32Array; validation: Uint32Array } {
  const n = y.length;
  const nVal = Math.ceil(fraction * n);
  if (nVal < 2 || n - nVal < 2) throw invalidParam('validationFraction', `leaves too few rows for training or validation (${n} rows)`);
  const validation: number[] = [];
  if (task === 'regression') {
    const perm = rng.permutation(n);
    validation.push(...perm.subarray(0, nVal));
  } else {
    const groups = new Map<number, number[]>();
    for (let i = 0; i < n; i++) {
      const g = groups.get(y[i]);
      if (g) g.push(i);
      else groups.set(y[i], [i]);
    }
    // Largest-remainder allocation of the validation rows over classes keeps every class's share.
    const classes = [...groups.keys()].sort((a, b) => a - b);
    const quotas = classes.map((c) => (groups.get(c)!.length * nVal) / n);
    const take = quotas.map(Math.floor);
    let left = nVal - take.reduce((s, v) => s + v, 0);
    const byRemainder = classes.map((_, i) => i).sort((a, b) => quotas[b] - take[b] - (quotas[a] - take[a]) || a - b);
    for (const i of byRemainder) {
      if (left === 0) break;
      take[i]++;
      left--;
    }
    classes.forEach((c, i) => {
      const members = rng.shuffle(Uint32Array.from(groups.get(c)!));
      validation.push(...members.subarray(0, take[i]));
    });
  }
  const isVal = new Uint8Array(n);
  for (const i of validation) isVal[i] = 1;
  const train: number[] = [];
  for (let i = 0; i < n; i++) if (!isVal[i]) train.push(i);
  return { train: Uint32Array.from(train), validation: Uint32Array.from(validation).sort() };
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
        const f = norm > dp.maxGradNorm ? dp.maxGradNorm / norm : 1;
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
