/**
 * KernelSHAP (Lundberg & Lee, 2017) for any model given its `predict` function and a background set.
 *
 * The value of a coalition S of features for row x is v(S) = mean over background rows b of
 * f(x_S, b_S̄) (features outside S taken from the background: the interventional form). SHAP values
 * solve the weighted least squares min Σ_z π(z) (v(z) − φ₀ − Σ_{j∈z} φ_j)² with the Shapley kernel
 * π(z) = (M − 1) / (C(M, |z|) |z| (M − |z|)), subject to φ₀ = v(∅) (the base value: the mean prediction
 * over the background) and Σ φ_j = f(x) − φ₀ (local accuracy, enforced exactly by eliminating one
 * unknown). With every coalition enumerated (M ≤ `exactMaxFeatures`) the solution is the exact Shapley
 * value; beyond that, coalitions are sampled from the kernel (sizes in proportion to their kernel
 * mass, each paired with its complement), which gives an estimate that still sums exactly.
 *
 * Features equal to x in every background row cannot change any prediction; they get 0 and are left
 * out of the regression (as the `shap` package does), which lowers the variance of the sampled case.
 */
import { invalidParam } from '../../core/errors.ts';
import { Random } from '../../core/random.ts';
import { runPredicting, runPredictingAsync, type AsyncPredictFn, type FeatureMatrix, type Predicting, type PredictFn } from './types.ts';

/** Options of {@link kernelShap}. */
export interface KernelShapOptions {
  /** Enumerate every coalition when the number of varying features is at most this; default 12. */
  readonly exactMaxFeatures?: number;
  /** Coalitions sampled per row otherwise; default 2M + 2048 (the `shap` package's default). */
  readonly nSamples?: number;
  /** Seed of the coalition sampling; default 0. */
  readonly seed?: number;
  /** Largest number of rows passed to one `predict` call; default 65,536. */
  readonly batchRows?: number;
}

/** SHAP values of one explained row. */
export interface RowExplanation {
  /** f(x) per output. */
  readonly prediction: Float64Array;
  /** SHAP values, `values[o * nFeatures + j]` for output o and feature j. */
  readonly values: Float64Array;
  /** True when every coalition was enumerated (exact Shapley values). */
  readonly exact: boolean;
  /** Number of distinct coalitions evaluated. */
  readonly nCoalitions: number;
}

/** Result of {@link kernelShap}. */
export interface KernelShapResult {
  readonly nFeatures: number;
  /** Number of model outputs (1 for regression or P(class 1); k for class probabilities). */
  readonly nOutputs: number;
  /** Mean prediction over the background, per output (φ₀). */
  readonly baseValue: Float64Array;
  /** One explanation per row of `x`. */
  readonly rows: RowExplanation[];
}

/** Predicts `m` (yielding it), checking the output size. */
function* predictChecked(m: FeatureMatrix, nOutputs: number): Predicting<ArrayLike<number>> {
  const out = yield m;
  if (out.length !== m.rows * nOutputs) {
    throw invalidParam('predict', `returned ${out.length} values for ${m.rows} rows; expected ${m.rows * nOutputs}`);
  }
  return out;
}

/** Coalitions as 0/1 rows over the varying features, with their regression weights. */
interface Coalitions {
  readonly masks: Uint8Array[];
  readonly weights: number[];
  readonly exact: boolean;
}

function choose(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return Math.round(c);
}

function kernelWeight(m: number, s: number): number {
  return (m - 1) / (choose(m, s) * s * (m - s));
}

function enumerate(m: number): Coalitions {
  const masks: Uint8Array[] = [];
  const weights: number[] = [];
  const full = (1 << m) - 1;
  for (let bits = 1; bits < full; bits++) {
    const mask = new Uint8Array(m);
    let s = 0;
    for (let j = 0; j < m; j++) {
      if (bits & (1 << j)) {
        mask[j] = 1;
        s++;
      }
    }
    masks.push(mask);
    weights.push(kernelWeight(m, s));
  }
  return { masks, weights, exact: true };
}

function sample(m: number, nSamples: number, random: Random): Coalitions {
  // Sizes drawn in proportion to their total kernel mass (m − 1) / (s (m − s)); within a size every
  // subset is equally likely, so sampled coalitions follow the kernel and enter with equal weight.
  const mass = new Float64Array(m);
  let total = 0;
  for (let s = 1; s < m; s++) {
    mass[s] = (m - 1) / (s * (m - s));
    total += mass[s];
  }
  const counts = new Map<string, { mask: Uint8Array; count: number }>();
  const add = (mask: Uint8Array) => {
    const key = mask.join('');
    const entry = counts.get(key);
    if (entry) entry.count++;
    else counts.set(key, { mask, count: 1 });
  };
  const order = new Uint32Array(m);
  for (let i = 0; i < nSamples; i += 2) {
    let u = random.next() * total;
    let s = 1;
    while (s < m - 1 && u >= mass[s]) {
      u -= mass[s];
      s++;
    }
    for (let j = 0; j < m; j++) order[j] = j;
    random.shuffle(order);
    const mask = new Uint8Array(m);
    for (let j = 0; j < s; j++) mask[order[j]] = 1;
    const complement = mask.map((v) => 1 - v);
    add(mask);
    add(complement);
  }
  const masks: Uint8Array[] = [];
  const weights: number[] = [];
  for (const { mask, count } of counts.values()) {
    masks.push(mask);
    weights.push(count);
  }
  return { masks, weights, exact: false };
}

/** Solves the symmetric positive-definite system `a x = b` (n×n, several right-hand sides) in place. */
function solve(a: Float64Array, b: Float64Array, n: number, nrhs: number): void {
  // Gaussian elimination with partial pivoting: robust when sampling leaves the system near-singular.
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r * n + col]) > Math.abs(a[pivot * n + col])) pivot = r;
    if (Math.abs(a[pivot * n + col]) < 1e-300) {
      throw invalidParam('nSamples', 'too few coalitions to estimate SHAP values; raise nSamples');
    }
    if (pivot !== col) {
      for (let c = 0; c < n; c++) [a[col * n + c], a[pivot * n + c]] = [a[pivot * n + c], a[col * n + c]];
      for (let c = 0; c < nrhs; c++) [b[col * nrhs + c], b[pivot * nrhs + c]] = [b[pivot * nrhs + c], b[col * nrhs + c]];
    }
    for (let r = col + 1; r < n; r++) {
      const f = a[r * n + col] / a[col * n + col];
      if (f === 0) continue;
      for (let c = col; c < n; c++) a[r * n + c] -= f * a[col * n + c];
      for (let c = 0; c < nrhs; c++) b[r * nrhs + c] -= f * b[col * nrhs + c];
    }
  }
  for (let col = n - 1; col >= 0; col--) {
    for (let c = 0; c < nrhs; c++) {
      let s = b[col * nrhs + c];
      for (let k = col + 1; k < n; k++) s -= a[col * n + k] * b[k * nrhs + c];
      b[col * nrhs + c] = s / a[col * n + col];
    }
  }
}

/**
 * SHAP values of each row of `x` for the model `predict`, against the rows of `background`.
 * Deterministic for a given seed; exact (all coalitions) when at most `exactMaxFeatures` features vary.
 */
export function kernelShap(predict: PredictFn, background: FeatureMatrix, x: FeatureMatrix, options: KernelShapOptions = {}): KernelShapResult {
  return runPredicting(kernelShapSteps(background, x, options), predict);
}

/** {@link kernelShap} of a model that predicts asynchronously (the same numbers). */
export function kernelShapAsync(predict: AsyncPredictFn, background: FeatureMatrix, x: FeatureMatrix, options: KernelShapOptions = {}): Promise<KernelShapResult> {
  return runPredictingAsync(kernelShapSteps(background, x, options), predict);
}

/** {@link kernelShap} as a computation that yields the matrices it needs predicted. */
export function* kernelShapSteps(background: FeatureMatrix, x: FeatureMatrix, options: KernelShapOptions = {}): Predicting<KernelShapResult> {
  const m = x.cols;
  if (background.cols !== m) throw invalidParam('background', `has ${background.cols} columns but x has ${m}`);
  if (background.rows < 1) throw invalidParam('background', 'needs at least one row');
  if (background.data.length !== background.rows * m) throw invalidParam('background', 'data length is not rows × cols');
  if (x.data.length !== x.rows * m) throw invalidParam('x', 'data length is not rows × cols');
  if (m < 1) throw invalidParam('x', 'has no features');
  const exactMax = options.exactMaxFeatures ?? 12;
  if (!Number.isInteger(exactMax) || exactMax < 1 || exactMax > 20) {
    throw invalidParam('exactMaxFeatures', `must be an integer in [1, 20], got ${exactMax}`);
  }
  const batchRows = options.batchRows ?? 65_536;
  if (!Number.isInteger(batchRows) || batchRows < background.rows) {
    throw invalidParam('batchRows', `must be an integer of at least the ${background.rows} background rows, got ${batchRows}`);
  }
  const nB = background.rows;
  const backgroundPred = yield background;
  if (backgroundPred.length === 0 || backgroundPred.length % nB !== 0) {
    throw invalidParam('predict', `returned ${backgroundPred.length} values for ${nB} background rows`);
  }
  const nOutputs = backgroundPred.length / nB;
  const baseValue = new Float64Array(nOutputs);
  for (let r = 0; r < nB; r++) for (let o = 0; o < nOutputs; o++) baseValue[o] += backgroundPred[r * nOutputs + o];
  for (let o = 0; o < nOutputs; o++) baseValue[o] /= nB;
  const random = new Random(options.seed ?? 0);

  const rows: RowExplanation[] = [];
  for (let xi = 0; xi < x.rows; xi++) {
    const row = x.data.subarray(xi * m, (xi + 1) * m);
    const prediction = Float64Array.from(yield* predictChecked({ rows: 1, cols: m, data: Float64Array.from(row) }, nOutputs));
    const values = new Float64Array(nOutputs * m);
    const varying: number[] = [];
    for (let j = 0; j < m; j++) {
      for (let b = 0; b < nB; b++) {
        const v = background.data[b * m + j];
        if (!(v === row[j] || (Number.isNaN(v) && Number.isNaN(row[j])))) {
          varying.push(j);
          break;
        }
      }
    }
    const mv = varying.length;
    if (mv === 0) {
      rows.push({ prediction, values, exact: true, nCoalitions: 0 });
      continue;
    }
    if (mv === 1) {
      for (let o = 0; o < nOutputs; o++) values[o * m + varying[0]] = prediction[o] - baseValue[o];
      rows.push({ prediction, values, exact: true, nCoalitions: 0 });
      continue;
    }
    const nSamples = options.nSamples ?? 2 * mv + 2048;
    if (!Number.isInteger(nSamples) || nSamples < 2) throw invalidParam('nSamples', `must be an integer >= 2, got ${nSamples}`);
    const enumerable = mv <= exactMax || (mv <= 30 && 2 ** mv - 2 <= nSamples);
    const { masks, weights, exact } = enumerable ? enumerate(mv) : sample(mv, nSamples, random);

    // v(z) for each coalition: background rows with the coalition's features set from x.
    const nZ = masks.length;
    const v = new Float64Array(nZ * nOutputs);
    const perBatch = Math.max(1, Math.floor(batchRows / nB));
    for (let start = 0; start < nZ; start += perBatch) {
      const end = Math.min(nZ, start + perBatch);
      const data = new Float64Array((end - start) * nB * m);
      for (let z = start; z < end; z++) {
        const offset = (z - start) * nB * m;
        data.set(background.data, offset);
        const mask = masks[z];
        for (let k = 0; k < mv; k++) {
          if (!mask[k]) continue;
          const j = varying[k];
          for (let b = 0; b < nB; b++) data[offset + b * m + j] = row[j];
        }
      }
      const out = yield* predictChecked({ rows: (end - start) * nB, cols: m, data }, nOutputs);
      for (let z = start; z < end; z++) {
        for (let b = 0; b < nB; b++) {
          const r = (z - start) * nB + b;
          for (let o = 0; o < nOutputs; o++) v[z * nOutputs + o] += out[r * nOutputs + o];
        }
        for (let o = 0; o < nOutputs; o++) v[z * nOutputs + o] /= nB;
      }
    }

    // Eliminate the last varying feature with the local-accuracy constraint, then solve the normal
    // equations of the remaining mv − 1 unknowns for every output at once.
    const p = mv - 1;
    const ata = new Float64Array(p * p);
    const aty = new Float64Array(p * nOutputs);
    const a = new Float64Array(p);
    const delta = new Float64Array(nOutputs);
    for (let o = 0; o < nOutputs; o++) delta[o] = prediction[o] - baseValue[o];
    for (let z = 0; z < nZ; z++) {
      const mask = masks[z];
      const last = mask[p];
      for (let k = 0; k < p; k++) a[k] = mask[k] - last;
      const w = weights[z];
      for (let r = 0; r < p; r++) {
        if (a[r] === 0) continue;
        const wa = w * a[r];
        for (let c = 0; c < p; c++) ata[r * p + c] += wa * a[c];
        for (let o = 0; o < nOutputs; o++) aty[r * nOutputs + o] += wa * (v[z * nOutputs + o] - baseValue[o] - last * delta[o]);
      }
    }
    solve(ata, aty, p, nOutputs);
    for (let o = 0; o < nOutputs; o++) {
      let sum = 0;
      for (let k = 0; k < p; k++) {
        values[o * m + varying[k]] = aty[k * nOutputs + o];
        sum += aty[k * nOutputs + o];
      }
      values[o * m + varying[p]] = delta[o] - sum;
    }
    rows.push({ prediction, values, exact, nCoalitions: nZ });
  }
  return { nFeatures: m, nOutputs, baseValue, rows };
}
