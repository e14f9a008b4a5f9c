/**
 * The MLP's network — flat weight arrays, forward and backward passes over a batch of rows, the
 * gradient of a part of a mini-batch — and the Adam optimizer: what the training thread and the
 * mini-batch worker (`mlp-worker.ts`) both run. Hot loops work in caller-owned buffers.
 */
import type { Random } from '../../core/random.ts';
import { gemm, gemmTN, sigmoid, softmaxRows } from '../matrix.ts';
import type { Task } from '../types.ts';

/** Buffers of one forward/backward pass over up to `capacity` rows. */
export interface Buffers {
  readonly capacity: number;
  /** Activations per layer (index 0 unused: the input is read in place). */
  readonly act: Float64Array[];
  /** Deltas per layer (index 0 unused). */
  readonly delta: Float64Array[];
}

/** Weights of a network and the passes over it, all in flat typed arrays. */
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

  /** Work space of a forward and backward pass over up to `capacity` rows. */
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

  /** A copy of the parameters. */
  snapshot(): Float64Array {
    return Float64Array.from(this.params);
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
export class Adam {
  readonly #m: Float64Array;
  readonly #v: Float64Array;
  #t = 0;

  constructor(size: number, readonly lr: number, readonly beta1: number, readonly beta2: number, readonly eps: number) {
    this.#m = new Float64Array(size);
    this.#v = new Float64Array(size);
  }

  /** One Adam step of `params` along `grad` (bias-corrected step size, as sklearn). */
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

/**
 * Σ loss over the rows of one part of a mini-batch of `batchRows` rows, and its gradient (without the
 * L2 term; deltas scaled by 1/batchRows) into `grad`. Shared by the training thread and the mini-batch worker.
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
