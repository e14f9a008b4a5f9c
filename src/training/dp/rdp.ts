/**
 * Rényi-DP accountant for the sampled Gaussian mechanism (Mironov, Talwar & Zhang, "Rényi Differential
 * Privacy of the Sampled Gaussian Mechanism", 2019) — the accountant of TensorFlow Privacy's
 * `rdp_accountant` and Opacus' `RDPAccountant`: RDP at integer orders from the binomial expansion, at
 * fractional orders from the two-sided series with erfc terms, composed over steps by addition, then
 * converted to (ε, δ) at the best order.
 */
import { invalidParam } from '../../core/errors.ts';

/** Orders Opacus and TensorFlow Privacy use by default: 1.1, 1.2, …, 10.9, 12, 13, …, 63. */
export const DEFAULT_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, i) => 1 + (i + 1) / 10),
  ...Array.from({ length: 52 }, (_, i) => 12 + i),
]);

/**
 * How RDP becomes (ε, δ)-DP: `improved` is Balle et al. 2020 / Canonne–Kamath–Steinke, used by current
 * TensorFlow Privacy and Opacus (ε = r + log(1 − 1/α) − (log δ + log α)/(α − 1)); `classic` is
 * Mironov 2017 (ε = r − log δ / (α − 1)), used by TensorFlow Privacy ≤ 0.5 and its published tutorial figures.
 */
export type RdpConversion = 'improved' | 'classic';

/** RDP ε(α) of `steps` compositions of the sampled Gaussian mechanism, one value per order. */
export function computeRdp(sampleRate: number, noiseMultiplier: number, steps: number, orders: readonly number[] = DEFAULT_ORDERS): Float64Array {
  if (!(sampleRate >= 0 && sampleRate <= 1)) throw invalidParam('sampleRate', `must be in [0, 1], got ${sampleRate}`);
  if (!(noiseMultiplier >= 0 && Number.isFinite(noiseMultiplier))) throw invalidParam('noiseMultiplier', `must be a finite number ≥ 0, got ${noiseMultiplier}`);
  if (!(Number.isInteger(steps) && steps >= 0)) throw invalidParam('steps', `must be an integer ≥ 0, got ${steps}`);
  for (const a of orders) if (!(a > 1)) throw invalidParam('orders', `every order must be > 1, got ${a}`);
  return Float64Array.from(orders, (alpha) => rdpOneStep(sampleRate, noiseMultiplier, alpha) * steps);
}

/** The smallest ε over the orders for a given δ, and the order that achieves it. */
export function rdpToEpsilon(orders: readonly number[], rdp: ArrayLike<number>, delta: number, conversion: RdpConversion = 'improved'): { epsilon: number; order: number } {
  if (!(delta > 0 && delta < 1)) throw invalidParam('delta', `must be in (0, 1), got ${delta}`);
  if (orders.length !== rdp.length) throw invalidParam('rdp', 'needs one value per order');
  let best = Infinity;
  let order = Number.NaN;
  for (let i = 0; i < orders.length; i++) {
    const a = orders[i];
    const r = rdp[i];
    if (!(r >= 0)) continue;
    let eps: number;
    if (conversion === 'classic') {
      eps = r - Math.log(delta) / (a - 1);
    } else if (delta * delta + Math.expm1(-r) >= 0) {
      // δ ≥ √(1 − e^{−KL}) already: ε = 0 suffices.
      eps = 0;
    } else if (a > 1.01) {
      eps = r + Math.log1p(-1 / a) - Math.log(delta * a) / (a - 1);
    } else {
      eps = Infinity;
    }
    if (eps < best) {
      best = eps;
      order = a;
    }
  }
  return { epsilon: Math.max(0, best), order };
}

/** Options of {@link dpSgdEpsilon}. */
export interface DpSgdAccounting {
  readonly sampleRate: number;
  readonly noiseMultiplier: number;
  readonly steps: number;
  readonly delta: number;
  readonly orders?: readonly number[];
  readonly conversion?: RdpConversion;
}

/** ε spent by DP-SGD with Poisson sampling at rate q, noise multiplier σ, after `steps` steps, for δ. */
export function dpSgdEpsilon(a: DpSgdAccounting): { epsilon: number; order: number } {
  const orders = a.orders ?? DEFAULT_ORDERS;
  if (a.noiseMultiplier === 0 && a.sampleRate > 0 && a.steps > 0) return { epsilon: Infinity, order: Number.NaN };
  return rdpToEpsilon(orders, computeRdp(a.sampleRate, a.noiseMultiplier, a.steps, orders), a.delta, a.conversion);
}

function rdpOneStep(q: number, sigma: number, alpha: number): number {
  if (q === 0) return 0;
  if (sigma === 0) return Infinity;
  if (q === 1) return alpha / (2 * sigma * sigma);
  if (!Number.isFinite(alpha)) return Infinity;
  const logA = Number.isInteger(alpha) ? logAInt(q, sigma, alpha) : logAFrac(q, sigma, alpha);
  return logA / (alpha - 1);
}

/** log A_α for integer α: log Σ_{i=0}^{α} C(α,i) (1−q)^{α−i} q^i exp((i² − i)/(2σ²)). */
function logAInt(q: number, sigma: number, alpha: number): number {
  let logA = -Infinity;
  let logBinom = 0;
  const lq = Math.log(q);
  const l1q = Math.log1p(-q);
  for (let i = 0; i <= alpha; i++) {
    if (i > 0) logBinom += Math.log((alpha - i + 1) / i);
    const s = logBinom + i * lq + (alpha - i) * l1q + (i * i - i) / (2 * sigma * sigma);
    logA = logAdd(logA, s);
  }
  return logA;
}

/** log A_α for fractional α, by the two-sided series of Mironov et al. (Section 3.3). */
function logAFrac(q: number, sigma: number, alpha: number): number {
  let logA0 = -Infinity;
  let logA1 = -Infinity;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  const lq = Math.log(q);
  const l1q = Math.log1p(-q);
  const s2 = Math.SQRT2 * sigma;
  let coef = 1;
  for (let i = 0; ; i++) {
    if (i > 0) coef *= (alpha - i + 1) / i;
    const logCoef = Math.log(Math.abs(coef));
    const j = alpha - i;
    const logT0 = logCoef + i * lq + j * l1q;
    const logT1 = logCoef + j * lq + i * l1q;
    const logE0 = Math.log(0.5) + logErfc((i - z0) / s2);
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / s2);
    const logS0 = logT0 + (i * i - i) / (2 * sigma * sigma) + logE0;
    const logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1;
    if (coef > 0) {
      logA0 = logAdd(logA0, logS0);
      logA1 = logAdd(logA1, logS1);
    } else {
      logA0 = logSub(logA0, logS0);
      logA1 = logSub(logA1, logS1);
    }
    if (Math.max(logS0, logS1) < -30 || i > 10_000) break;
  }
  return logAdd(logA0, logA1);
}

function logAdd(a: number, b: number): number {
  const hi = Math.max(a, b);
  const lo = Math.min(a, b);
  if (hi === -Infinity) return -Infinity;
  return hi + Math.log1p(Math.exp(lo - hi));
}

function logSub(a: number, b: number): number {
  if (b === -Infinity) return a;
  if (a <= b) throw new Error('rdp: log of a negative number');
  return a + Math.log(-Math.expm1(b - a));
}

/**
 * log erfc(x), accurate in the far tails: a positive-term series for erf on |x| < 2, Lentz's continued
 * fraction for the scaled erfcx on x ≥ 2 (so log erfc(x) = −x² + log erfcx(x) never underflows).
 */
export function logErfc(x: number): number {
  if (x >= 2) return -x * x + Math.log(erfcxLarge(x));
  if (x > -2) return Math.log(1 - erfSeries(x));
  return Math.log(2 - Math.exp(-x * x) * erfcxLarge(-x));
}

/** erfc(x) for any x. */
export function erfc(x: number): number {
  if (x >= 2) return Math.exp(-x * x) * erfcxLarge(x);
  if (x > -2) return 1 - erfSeries(x);
  return 2 - Math.exp(-x * x) * erfcxLarge(-x);
}

/** erf(x) = 2/√π · e^{−x²} Σ 2ⁿ x^{2n+1} / (1·3·…·(2n+1)) — all terms positive, no cancellation. */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (Math.abs(term) < 1e-17 * Math.abs(sum)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
}

/** e^{x²}·erfc(x) for x ≥ 2 by the continued fraction 1/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))). */
function erfcxLarge(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const an = n / 2;
    d = x + an * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = x + an / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return 1 / (Math.sqrt(Math.PI) * f);
}
