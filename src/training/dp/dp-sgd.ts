/**
 * DP-SGD (Abadi et al., "Deep Learning with Differential Privacy", 2016): each step samples a batch,
 * clips every example's gradient to L2 norm ≤ C, adds Gaussian noise N(0, σ²C²) to their sum, divides
 * by the expected batch size and takes a step. The privacy spent is reported by the RDP accountant of
 * `./rdp.ts` for the given δ.
 *
 * Sampling: `poisson` includes each example independently with probability q = batchSize / n (the
 * setting the accountant's guarantee is proved for, as in Opacus); `fixed` shuffles each epoch and takes
 * batches of exactly `batchSize`, accounted with the same q as TensorFlow Privacy's tutorials do — an
 * approximation, since sampling without replacement is not what the analysis assumes.
 */
import { invalidParam } from '../../core/errors.ts';
import { Random } from '../../core/random.ts';
import { checkNumber } from '../checks.ts';
import { sigmoid } from '../matrix.ts';
import { dpSgdEpsilon, type RdpConversion } from './rdp.ts';

/** Privacy hyperparameters of DP-SGD. */
export interface DpSgdParams {
  /** σ: noise standard deviation as a multiple of `maxGradNorm`; > 0. */
  readonly noiseMultiplier: number;
  /** C: every example's gradient is clipped to this L2 norm; > 0. */
  readonly maxGradNorm: number;
  /** Expected (Poisson) or exact (fixed) examples per step. */
  readonly batchSize: number;
  /** Passes over the data; steps = ceil(epochs · n / batchSize). */
  readonly epochs: number;
  /** δ of the reported (ε, δ). Default 1e-5. */
  readonly delta?: number;
  /** Default `poisson`. */
  readonly sampling?: 'poisson' | 'fixed';
  /** Step size. Default 0.1 for logistic regression (plain SGD); the MLP uses its Adam `learningRateInit` unless set. */
  readonly learningRate?: number;
  /** Conversion of the accountant. Default `improved`. */
  readonly conversion?: RdpConversion;
  /**
   * Categories seen on fewer training rows than this go to the unknown bucket of the preprocessing, so
   * rare raw values (learned without noise) stay out of the model file. Default {@link DP_MIN_CATEGORY_COUNT}.
   */
  readonly minCategoryCount?: number;
}

/** Default of {@link DpSgdParams.minCategoryCount}. */
export const DP_MIN_CATEGORY_COUNT = 20;

/**
 * What the (ε, δ) of a DP model covers: the SGD updates only. The preprocessing statistics
 * (standardization means and deviations, imputation fills, the kept category values) are learned from
 * the same rows without noise and are not private.
 */
export const DP_SCOPE = 'sgd_only';

/** What DP-SGD training spent, stored with the model. */
export interface PrivacyReport {
  readonly mechanism: 'dp-sgd';
  /** What the guarantee covers ({@link DP_SCOPE}); absent in reports written before it was recorded. */
  readonly scope?: typeof DP_SCOPE;
  readonly accountant: 'rdp';
  readonly conversion: RdpConversion;
  readonly epsilon: number;
  readonly delta: number;
  /** The RDP order at which ε was attained. */
  readonly order: number;
  readonly noiseMultiplier: number;
  readonly maxGradNorm: number;
  readonly sampling: 'poisson' | 'fixed';
  readonly sampleRate: number;
  readonly steps: number;
}

/** Checks DP parameters (naming `field.<name>` on error) and fills in defaults. */
export function resolveDpSgdParams(p: DpSgdParams, field = 'dp'): Required<Omit<DpSgdParams, 'learningRate' | 'minCategoryCount'>> & { learningRate?: number; minCategoryCount: number } {
  if (p === null || typeof p !== 'object') throw invalidParam(field, 'must be an object');
  const num = (name: string, v: unknown, ok: (x: number) => boolean, rule: string) => checkNumber(`${field}.${name}`, v, ok, rule);
  num('noiseMultiplier', p.noiseMultiplier, (v) => v > 0, 'must be a number > 0');
  num('maxGradNorm', p.maxGradNorm, (v) => v > 0, 'must be a number > 0');
  num('batchSize', p.batchSize, (v) => Number.isInteger(v) && v >= 1, 'must be an integer ≥ 1');
  num('epochs', p.epochs, (v) => v > 0, 'must be a number > 0');
  const delta = p.delta ?? 1e-5;
  num('delta', delta, (v) => v > 0 && v < 1, 'must be in (0, 1)');
  const sampling = p.sampling ?? 'poisson';
  if (sampling !== 'poisson' && sampling !== 'fixed') throw invalidParam(`${field}.sampling`, `must be "poisson" or "fixed", got ${JSON.stringify(sampling)}`);
  if (p.learningRate !== undefined) num('learningRate', p.learningRate, (v) => v > 0, 'must be a number > 0');
  const conversion = p.conversion ?? 'improved';
  if (conversion !== 'improved' && conversion !== 'classic') throw invalidParam(`${field}.conversion`, 'must be "improved" or "classic"');
  const minCategoryCount = p.minCategoryCount ?? DP_MIN_CATEGORY_COUNT;
  num('minCategoryCount', minCategoryCount, (v) => Number.isInteger(v) && v >= 1, 'must be an integer ≥ 1');
  return { noiseMultiplier: p.noiseMultiplier, maxGradNorm: p.maxGradNorm, batchSize: p.batchSize, epochs: p.epochs, delta, sampling, conversion, minCategoryCount, ...(p.learningRate !== undefined ? { learningRate: p.learningRate } : {}) };
}

/**
 * The preprocessing a DP estimator asks for: categories seen on fewer than `minCategoryCount` training
 * rows go to the unknown bucket. The statistics that remain are still learned without noise (see {@link DP_SCOPE}).
 */
export function dpPreprocess(p: DpSgdParams): { minCategoryCount: number } {
  return { minCategoryCount: resolveDpSgdParams(p).minCategoryCount };
}

/** Draws the batches of a DP-SGD run from a seeded generator. */
export class BatchSampler {
  readonly steps: number;
  readonly sampleRate: number;
  readonly #n: number;
  readonly #batchSize: number;
  readonly #poisson: boolean;
  readonly #rng: Random;
  readonly #buffer: Uint32Array;
  #perm: Uint32Array | null = null;
  #cursor = 0;

  constructor(n: number, params: { batchSize: number; epochs: number; sampling: 'poisson' | 'fixed' }, rng: Random) {
    if (params.batchSize > n) throw invalidParam('dp.batchSize', `is larger than the ${n} training rows`);
    this.#n = n;
    this.#batchSize = params.batchSize;
    this.#poisson = params.sampling === 'poisson';
    this.#rng = rng;
    this.sampleRate = params.batchSize / n;
    // the small slack keeps epochs = k·batchSize/n (a float) from rounding up to an extra step
    this.steps = Math.max(1, Math.ceil((params.epochs * n) / params.batchSize - 1e-9));
    this.#buffer = new Uint32Array(n);
  }

  /** The next batch: a view of row indices, valid until the next call. */
  next(): Uint32Array {
    if (this.#poisson) {
      // Each row joins with probability q independently; the gaps between chosen rows are geometric,
      // so drawing them costs O(batch) instead of O(n) per step.
      let m = 0;
      const q = this.sampleRate;
      if (q >= 1) {
        for (let i = 0; i < this.#n; i++) this.#buffer[i] = i;
        return this.#buffer.subarray(0, this.#n);
      }
      const logMiss = Math.log1p(-q);
      for (let i = -1; ; ) {
        i += 1 + Math.floor(Math.log(1 - this.#rng.next()) / logMiss);
        if (i >= this.#n) break;
        this.#buffer[m++] = i;
      }
      return this.#buffer.subarray(0, m);
    }
    if (this.#perm === null || this.#cursor + this.#batchSize > this.#n) {
      this.#perm = this.#rng.permutation(this.#n);
      this.#cursor = 0;
    }
    const batch = this.#perm.subarray(this.#cursor, this.#cursor + this.#batchSize);
    this.#cursor += this.#batchSize;
    return batch;
  }

  /** The privacy spent by `steps` steps. */
  report(p: { noiseMultiplier: number; maxGradNorm: number; delta: number; conversion: RdpConversion; sampling: 'poisson' | 'fixed' }, steps = this.steps): PrivacyReport {
    const { epsilon, order } = dpSgdEpsilon({ sampleRate: this.sampleRate, noiseMultiplier: p.noiseMultiplier, steps, delta: p.delta, conversion: p.conversion });
    return {
      mechanism: 'dp-sgd', scope: DP_SCOPE, accountant: 'rdp', conversion: p.conversion, epsilon, delta: p.delta, order,
      noiseMultiplier: p.noiseMultiplier, maxGradNorm: p.maxGradNorm, sampling: p.sampling, sampleRate: this.sampleRate, steps,
    };
  }
}

/** Adds N(0, std²) to every entry of `v` (the first `n`). */
export function addGaussianNoise(v: Float64Array, std: number, rng: Random, n = v.length): void {
  for (let i = 0; i < n; i++) v[i] += std * rng.normal();
}

/** The factor that brings a gradient of L2 norm `norm` within `maxNorm`. */
export function clipFactor(norm: number, maxNorm: number): number {
  return norm > maxNorm ? maxNorm / norm : 1;
}

/** Observer of each example's clipped gradient norm (tests use it to check the bound). */
export type ClipObserver = (row: number, norm: number, clippedNorm: number) => void;

/**
 * Adds Σ_{i∈batch} clip(∇ loss_i) of logistic regression into `sum` (parameter layout of
 * `../linear/logistic-kernel.ts`). A per-example gradient is r_i ⊗ [x_i, 1] with r_i = p_i − y_i, so
 * its norm is ‖r_i‖·√(‖x_i‖² + 1) and it never needs to be materialized.
 */
export function accumulateClippedLogistic(
  x: Float64Array,
  y: Float64Array,
  d: number,
  k: number,
  params: Float64Array,
  batch: ArrayLike<number>,
  maxNorm: number,
  fitIntercept: boolean,
  sum: Float64Array,
  scratch: Float64Array,
  observe?: ClipObserver,
): void {
  const bOff = k * d;
  for (let t = 0; t < batch.length; t++) {
    const i = batch[t];
    const o = i * d;
    let xx = fitIntercept ? 1 : 0;
    for (let j = 0; j < d; j++) xx += x[o + j] * x[o + j];
    let rr = 0;
    if (k === 1) {
      let z = params[d];
      for (let j = 0; j < d; j++) z += x[o + j] * params[j];
      scratch[0] = sigmoid(z) - y[i];
      rr = scratch[0] * scratch[0];
    } else {
      let max = -Infinity;
      for (let c = 0; c < k; c++) {
        let z = params[bOff + c];
        for (let j = 0; j < d; j++) z += x[o + j] * params[c * d + j];
        scratch[c] = z;
        if (z > max) max = z;
      }
      let s = 0;
      for (let c = 0; c < k; c++) {
        scratch[c] = Math.exp(scratch[c] - max);
        s += scratch[c];
      }
      for (let c = 0; c < k; c++) {
        scratch[c] = scratch[c] / s - (c === y[i] ? 1 : 0);
        rr += scratch[c] * scratch[c];
      }
    }
    const norm = Math.sqrt(rr * xx);
    const f = clipFactor(norm, maxNorm);
    observe?.(i, norm, norm * f);
    for (let c = 0; c < k; c++) {
      const r = f * scratch[c];
      if (r === 0) continue;
      const wo = c * d;
      for (let j = 0; j < d; j++) sum[wo + j] += r * x[o + j];
      if (fitIntercept) sum[bOff + c] += r;
    }
  }
}

/** Input of {@link trainDpSgd}. */
export interface DpLogisticInput {
  readonly kind: 'logistic';
  readonly x: { rows: number; cols: number; data: Float64Array };
  readonly y: Float64Array;
  readonly outputs: number;
  /** Inverse L2 strength, as in the non-private model: the objective per example is loss + ‖W‖²/(2·C·n). */
  readonly C: number;
  readonly fitIntercept: boolean;
  readonly seed: number;
  readonly dp: DpSgdParams;
  readonly onProgress?: (fraction: number, message: string) => void;
  readonly observe?: ClipObserver;
}

/** Trains logistic regression by DP-SGD; returns the parameters and the privacy spent. */
export async function trainDpSgd(input: DpLogisticInput): Promise<{ params: Float64Array; steps: number; privacy: PrivacyReport }> {
  const p = resolveDpSgdParams(input.dp);
  const { rows: n, cols: d, data: x } = input.x;
  const k = input.outputs;
  const rng = new Random(input.seed);
  const sampler = new BatchSampler(n, p, rng.fork(1));
  const noise = rng.fork(2);
  const lr = p.learningRate ?? 0.1;
  const nParams = k * d + k;
  const w = new Float64Array(nParams);
  const g = new Float64Array(nParams);
  const scratch = new Float64Array(k);
  const std = p.noiseMultiplier * p.maxGradNorm;
  const l2 = 1 / (input.C * n);
  for (let step = 0; step < sampler.steps; step++) {
    const batch = sampler.next();
    g.fill(0);
    accumulateClippedLogistic(x, input.y, d, k, w, batch, p.maxGradNorm, input.fitIntercept, g, scratch, input.observe);
    addGaussianNoise(g, std, noise, input.fitIntercept ? nParams : k * d);
    // Divide by the expected batch size, not the drawn one: the drawn size itself would leak.
    const scale = 1 / p.batchSize;
    for (let j = 0; j < k * d; j++) w[j] -= lr * (g[j] * scale + l2 * w[j]);
    if (input.fitIntercept) for (let j = k * d; j < nParams; j++) w[j] -= lr * g[j] * scale;
    if (step % 100 === 0) input.onProgress?.(step / sampler.steps, `DP-SGD step ${step + 1} of ${sampler.steps}`);
  }
  return { params: w, steps: sampler.steps, privacy: sampler.report(p) };
}
