/**
 * Statistical building blocks of the evaluation module: the normal and chi-square distributions,
 * binomial and hypergeometric probabilities, the tests built on them (two-proportion z-test,
 * Fisher's exact test, McNemar's test), the Wilson score interval and numpy's linear percentile.
 * Each is checked against SciPy/numpy in `stats.test.ts`.
 */
import { invalidParam } from '../core/errors.ts';

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** ln Γ(x) for x > 0 (Lanczos, g = 7; relative error about 1e-15). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (z + i);
  return HALF_LOG_2PI + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

const LOG_FACTORIALS: number[] = [0];
/** ln n! for a non-negative integer; exact summation up to 256 keeps small counts precise. */
export function logFactorial(n: number): number {
  if (n < 257) {
    for (let i = LOG_FACTORIALS.length; i <= n; i++) LOG_FACTORIALS[i] = LOG_FACTORIALS[i - 1] + Math.log(i);
    return LOG_FACTORIALS[n];
  }
  return logGamma(n + 1);
}

/** ln C(n, k). */
export function logChoose(n: number, k: number): number {
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k);
}

/** Regularized lower incomplete gamma P(a, x) by its series (converges fast for x < a + 1). */
function gammaPSeries(a: number, x: number): number {
  let sum = 1 / a;
  let term = sum;
  for (let n = 1; n < 10_000; n++) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * 1e-17) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
}

/** Regularized upper incomplete gamma Q(a, x) by its continued fraction (modified Lentz), for x ≥ a + 1. */
function gammaQFraction(a: number, x: number): number {
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

/** Regularized upper incomplete gamma Q(a, x) = 1 − P(a, x). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  return x < a + 1 ? 1 - gammaPSeries(a, x) : gammaQFraction(a, x);
}

/** Complementary error function. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  return x >= 0 ? gammaQ(0.5, x * x) : 2 - gammaQ(0.5, x * x);
}

/** Standard normal CDF Φ(z). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** Standard normal survival function 1 − Φ(z), accurate in the upper tail. */
export function normalSf(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/** Standard normal quantile Φ⁻¹(p) for p in (0, 1). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) {
    if (p === 0) return -Infinity;
    if (p === 1) return Infinity;
    throw invalidParam('p', `must be a probability in [0, 1], got ${p}`);
  }
  if (p === 0.5) return 0;
  if (p > 0.5) return -normalQuantile(1 - p);
  // Abramowitz & Stegun 26.2.23 as the start (error < 4.5e-4), then Halley steps on the lower tail.
  const t = Math.sqrt(-2 * Math.log(p));
  let x = -(t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t));
  for (let i = 0; i < 4; i++) {
    const e = normalCdf(x) - p;
    const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
    const step = u / (1 + (x * u) / 2);
    x -= step;
    if (Math.abs(step) < 1e-15 * Math.max(1, Math.abs(x))) break;
  }
  return x;
}

/** Survival function of the chi-square distribution with `df` degrees of freedom. */
export function chiSquareSf(x: number, df: number): number {
  return gammaQ(df / 2, x / 2);
}

/**
 * P(X ≤ k) for X ~ Binomial(n, p). Terms come from the recurrence t₍ᵢ₊₁₎ = tᵢ (n − i) / (i + 1) · p/q,
 * which is exact for p = ½ while C(n, i) fits in a double (McNemar's case); log space for large n.
 */
export function binomialCdf(k: number, n: number, p: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  if (p === 0) return 1;
  if (p === 1) return 0;
  const q = 1 - p;
  const start = Math.pow(q, n);
  if (start > 1e-250) {
    const ratio = p / q;
    let term = start;
    let sum = term;
    for (let i = 0; i < k; i++) {
      term = ((term * (n - i)) / (i + 1)) * ratio;
      sum += term;
    }
    return Math.min(1, sum);
  }
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  let max = -Infinity;
  const terms = new Float64Array(k + 1);
  for (let i = 0; i <= k; i++) {
    terms[i] = logChoose(n, i) + i * lp + (n - i) * lq;
    if (terms[i] > max) max = terms[i];
  }
  let sum = 0;
  for (let i = 0; i <= k; i++) sum += Math.exp(terms[i] - max);
  return Math.min(1, Math.exp(max) * sum);
}

/** The result of a hypothesis test. */
export interface TestResult {
  /** Which test was run. */
  readonly test: 'z' | 'fisher' | 'mcnemar_exact' | 'mcnemar_chi2';
  /** The test statistic (z, odds ratio, min(b, c) or χ²). */
  readonly statistic: number;
  /** Two-sided p-value. */
  readonly pValue: number;
}

/**
 * Two-sided two-proportion z-test with the pooled variance: H0 says `k1/n1` and `k2/n2` estimate the
 * same proportion. A pooled proportion of 0 or 1 (no variance) gives z = 0 and p = 1.
 */
export function twoProportionZTest(k1: number, n1: number, k2: number, n2: number): TestResult {
  checkCounts(k1, n1, k2, n2);
  const pooled = (k1 + k2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (se === 0) return { test: 'z', statistic: 0, pValue: 1 };
  const z = (k1 / n1 - k2 / n2) / se;
  return { test: 'z', statistic: z, pValue: Math.min(1, 2 * normalSf(Math.abs(z))) };
}

/**
 * Fisher's exact test, two-sided, on the table [[k1, n1 − k1], [k2, n2 − k2]]: the p-value sums the
 * hypergeometric probabilities of every table with the same margins that is no more likely than the
 * observed one (a relative tolerance of 1e-7 keeps tables of equal probability together, as R does).
 * The statistic is the sample odds ratio, as `scipy.stats.fisher_exact` reports it.
 */
export function fisherExactTest(k1: number, n1: number, k2: number, n2: number): TestResult {
  checkCounts(k1, n1, k2, n2);
  const a = k1;
  const b = n1 - k1;
  const c = k2;
  const d = n2 - k2;
  const col = a + c;
  const total = n1 + n2;
  const lo = Math.max(0, col - n2);
  const hi = Math.min(n1, col);
  const logDenominator = logChoose(total, col);
  const pmf = (x: number) => Math.exp(logChoose(n1, x) + logChoose(n2, col - x) - logDenominator);
  const observed = pmf(a);
  let p = 0;
  for (let x = lo; x <= hi; x++) {
    const px = pmf(x);
    if (px <= observed * (1 + 1e-7)) p += px;
  }
  const oddsRatio = b * c === 0 ? (a * d === 0 ? NaN : Infinity) : (a * d) / (b * c);
  return { test: 'fisher', statistic: oddsRatio, pValue: Math.min(1, p) };
}

/**
 * McNemar's test on paired outcomes: `b` pairs where only the first model is right, `c` where only the
 * second is. Exact (two-sided binomial with p = ½, as statsmodels' `mcnemar(exact=True)`) when
 * `exact` is true, else the χ² statistic with continuity correction (|b − c| − 1)² / (b + c).
 */
export function mcnemarTest(b: number, c: number, exact: boolean): TestResult {
  for (const [name, v] of [['b', b], ['c', c]] as const) {
    if (!Number.isInteger(v) || v < 0) throw invalidParam(name, `must be a non-negative integer count, got ${v}`);
  }
  const n = b + c;
  if (exact) {
    const k = Math.min(b, c);
    return { test: 'mcnemar_exact', statistic: k, pValue: n === 0 ? 1 : Math.min(1, 2 * binomialCdf(k, n, 0.5)) };
  }
  if (n === 0) return { test: 'mcnemar_chi2', statistic: 0, pValue: 1 };
  const stat = (Math.abs(b - c) - 1) ** 2 / n;
  return { test: 'mcnemar_chi2', statistic: stat, pValue: chiSquareSf(stat, 1) };
}

/** A two-sided interval. */
export interface Interval {
  readonly lower: number;
  readonly upper: number;
}

/** Wilson score interval for a proportion `k / n` at the given two-sided confidence level. */
export function wilsonInterval(k: number, n: number, confidence: number): Interval {
  if (!(n > 0) || !(k >= 0) || k > n) throw invalidParam('k', `needs 0 <= k <= n and n > 0, got k=${k}, n=${n}`);
  checkConfidence(confidence);
  const z = normalQuantile(0.5 + confidence / 2);
  const p = k / n;
  const denom = 2 * (n + z * z);
  const center = (2 * n * p + z * z) / denom;
  const half = (z * Math.sqrt(4 * n * p * (1 - p) + z * z)) / denom;
  return { lower: Math.max(0, center - half), upper: Math.min(1, center + half) };
}

/**
 * The q-th percentile (q in [0, 100]) of `sorted` (ascending), by numpy's default linear method,
 * reproducing its floating-point steps so that values equal to a data point stay equal.
 */
export function percentileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) throw invalidParam('values', 'percentile of an empty array');
  const virtual = (n - 1) * (q / 100);
  if (virtual >= n - 1) return sorted[n - 1];
  if (virtual < 0) return sorted[0];
  const prev = Math.floor(virtual);
  const gamma = virtual - prev;
  const a = sorted[prev];
  const b = sorted[prev + 1];
  const diff = b - a;
  return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
}

/** Checks a confidence level lies strictly between 0 and 1. */
export function checkConfidence(confidence: number, field = 'confidence'): void {
  if (!(confidence > 0 && confidence < 1)) throw invalidParam(field, `must be in (0, 1), got ${confidence}`);
}

function checkCounts(k1: number, n1: number, k2: number, n2: number): void {
  const fields = { k1, n1, k2, n2 };
  for (const [name, v] of Object.entries(fields)) {
    if (!Number.isInteger(v) || v < 0) throw invalidParam(name, `must be a non-negative integer count, got ${v}`);
  }
  if (n1 === 0 || n2 === 0) throw invalidParam(n1 === 0 ? 'n1' : 'n2', 'a proportion needs at least one trial');
  if (k1 > n1) throw invalidParam('k1', `exceeds n1 (${k1} > ${n1})`);
  if (k2 > n2) throw invalidParam('k2', `exceeds n2 (${k2} > ${n2})`);
}
