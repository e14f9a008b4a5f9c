/**
 * Limited-memory BFGS (Nocedal & Wright, *Numerical Optimization*, 2nd ed., Algorithm 7.4/7.5) with a
 * line search that satisfies the strong Wolfe conditions (Algorithms 3.5 and 3.6, cubic interpolation).
 *
 * Stopping rules follow SciPy's L-BFGS-B as scikit-learn calls it: the largest absolute gradient entry
 * at most `gtol`, or a relative reduction of the objective at most `ftol`
 * ((f_k − f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) ≤ ftol), or `maxIter` iterations.
 */
import { invalidParam } from '../../core/errors.ts';

/** Objective: returns f(x) and writes ∇f(x) into `grad`. Must not keep references to either array. */
export type Objective = (x: Float64Array, grad: Float64Array) => number;

/** Options of {@link lbfgs}. */
export interface LbfgsOptions {
  /** Number of correction pairs kept. Default 10 (SciPy's default). */
  readonly memory?: number;
  /** Maximum number of iterations. Default 100. */
  readonly maxIter?: number;
  /** Stop when max |∇f| ≤ gtol. Default 1e-5. */
  readonly gtol?: number;
  /** Stop when the relative reduction of f is at most ftol. Default 2.22e-9 (SciPy's factr 1e7 × eps). */
  readonly ftol?: number;
  /** Maximum objective evaluations per line search. Default 20 (SciPy's `maxls`). */
  readonly maxLineSearch?: number;
  /** Sufficient-decrease constant of the Wolfe conditions. Default 1e-4. */
  readonly c1?: number;
  /** Curvature constant of the strong Wolfe conditions. Default 0.9. */
  readonly c2?: number;
  /** Called after each iteration. */
  readonly onIteration?: (info: { iteration: number; f: number; gradMax: number; step: number }) => void;
}

/** Outcome of {@link lbfgs}. */
export interface LbfgsResult {
  readonly x: Float64Array;
  readonly f: number;
  readonly grad: Float64Array;
  readonly iterations: number;
  readonly evaluations: number;
  /** Why it stopped. */
  readonly reason: 'gtol' | 'ftol' | 'max_iter' | 'line_search_failed';
  /** True for `gtol` and `ftol`. */
  readonly converged: boolean;
}

/** Minimizes `objective` from `x0` (not modified). */
export function lbfgs(objective: Objective, x0: Float64Array, options: LbfgsOptions = {}): LbfgsResult {
  const m = options.memory ?? 10;
  const maxIter = options.maxIter ?? 100;
  const gtol = options.gtol ?? 1e-5;
  const ftol = options.ftol ?? 2.220446049250313e-9;
  const ls: LineSearchOptions = { c1: options.c1 ?? 1e-4, c2: options.c2 ?? 0.9, maxEvaluations: options.maxLineSearch ?? 20 };
  if (!Number.isInteger(m) || m < 1) throw invalidParam('memory', 'must be an integer ≥ 1');
  if (!Number.isInteger(maxIter) || maxIter < 0) throw invalidParam('maxIter', 'must be an integer ≥ 0');
  if (!(gtol >= 0)) throw invalidParam('gtol', 'must be ≥ 0');
  if (!(ftol >= 0)) throw invalidParam('ftol', 'must be ≥ 0');
  if (!(ls.c1 > 0 && ls.c1 < ls.c2 && ls.c2 < 1)) throw invalidParam('c1, c2', 'need 0 < c1 < c2 < 1');

  const n = x0.length;
  const x = Float64Array.from(x0);
  const g = new Float64Array(n);
  const d = new Float64Array(n);
  const xTrial = new Float64Array(n);
  const gTrial = new Float64Array(n);
  const sHist = Array.from({ length: m }, () => new Float64Array(n));
  const yHist = Array.from({ length: m }, () => new Float64Array(n));
  const rho = new Float64Array(m);
  const alphaBuf = new Float64Array(m);
  let stored = 0;
  let head = 0;
  let evaluations = 1;
  let f = objective(x, g);
  if (!Number.isFinite(f)) throw invalidParam('x0', `objective is ${f} at the starting point`);
  if (maxAbs(g) <= gtol) return { x, f, grad: g, iterations: 0, evaluations, reason: 'gtol', converged: true };

  for (let iter = 1; iter <= maxIter; iter++) {
    // Two-loop recursion: d = −H·g.
    for (let i = 0; i < n; i++) d[i] = -g[i];
    for (let j = 0; j < stored; j++) {
      const idx = (head - 1 - j + m) % m;
      const a = rho[idx] * dotN(sHist[idx], d, n);
      alphaBuf[idx] = a;
      axpy(-a, yHist[idx], d, n);
    }
    if (stored > 0) {
      const last = (head - 1 + m) % m;
      const gamma = dotN(sHist[last], yHist[last], n) / dotN(yHist[last], yHist[last], n);
      for (let i = 0; i < n; i++) d[i] *= gamma;
    }
    for (let j = stored - 1; j >= 0; j--) {
      const idx = (head - 1 - j + m) % m;
      const b = rho[idx] * dotN(yHist[idx], d, n);
      axpy(alphaBuf[idx] - b, sHist[idx], d, n);
    }
    let slope = dotN(g, d, n);
    if (!(slope < 0)) {
      // Not a descent direction (lost curvature information): restart from steepest descent.
      stored = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i];
      slope = dotN(g, d, n);
    }
    // First step of a fresh memory scaled to unit length, as L-BFGS-B does; later steps try α = 1.
    const alpha0 = stored === 0 ? Math.min(1, 1 / Math.sqrt(dotN(d, d, n))) : 1;
    let result = wolfeLineSearch(objective, x, f, d, slope, alpha0, xTrial, gTrial, ls);
    evaluations += result.evaluations;
    if (!result.ok && stored > 0) {
      stored = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i];
      slope = dotN(g, d, n);
      result = wolfeLineSearch(objective, x, f, d, slope, Math.min(1, 1 / Math.sqrt(dotN(d, d, n))), xTrial, gTrial, ls);
      evaluations += result.evaluations;
    }
    if (!result.ok) return { x, f, grad: g, iterations: iter - 1, evaluations, reason: 'line_search_failed', converged: false };

    const s = sHist[head];
    const y = yHist[head];
    for (let i = 0; i < n; i++) {
      s[i] = xTrial[i] - x[i];
      y[i] = gTrial[i] - g[i];
    }
    const sy = dotN(s, y, n);
    const fPrev = f;
    x.set(xTrial);
    g.set(gTrial);
    f = result.f;
    // Keep the pair only with positive curvature, so the implicit Hessian stays positive definite.
    if (sy > Number.EPSILON * dotN(y, y, n)) {
      rho[head] = 1 / sy;
      head = (head + 1) % m;
      stored = Math.min(stored + 1, m);
    }
    const gMax = maxAbs(g);
    options.onIteration?.({ iteration: iter, f, gradMax: gMax, step: result.alpha });
    if (gMax <= gtol) return { x, f, grad: g, iterations: iter, evaluations, reason: 'gtol', converged: true };
    if (fPrev - f <= ftol * Math.max(Math.abs(fPrev), Math.abs(f), 1)) {
      return { x, f, grad: g, iterations: iter, evaluations, reason: 'ftol', converged: true };
    }
  }
  return { x, f, grad: g, iterations: maxIter, evaluations, reason: 'max_iter', converged: false };
}

/** Options of {@link wolfeLineSearch}. */
export interface LineSearchOptions {
  readonly c1: number;
  readonly c2: number;
  readonly maxEvaluations: number;
}

/** Outcome of {@link wolfeLineSearch}; on success `xOut`/`gOut` hold the accepted point and its gradient. */
export interface LineSearchResult {
  readonly ok: boolean;
  readonly alpha: number;
  readonly f: number;
  readonly evaluations: number;
}

/**
 * Finds α > 0 with f(x+αd) ≤ f(x) + c1·α·∇f(x)ᵀd and |∇f(x+αd)ᵀd| ≤ c2·|∇f(x)ᵀd| (strong Wolfe),
 * by bracketing then zooming with safeguarded cubic interpolation (Nocedal & Wright, Alg. 3.5–3.6).
 * `slope` is ∇f(x)ᵀd and must be negative.
 */
export function wolfeLineSearch(
  objective: Objective,
  x: Float64Array,
  f0: number,
  d: Float64Array,
  slope: number,
  alphaInit: number,
  xOut: Float64Array,
  gOut: Float64Array,
  options: LineSearchOptions,
): LineSearchResult {
  const n = x.length;
  const { c1, c2, maxEvaluations } = options;
  let evaluations = 0;
  const phi = (alpha: number): { f: number; df: number } => {
    for (let i = 0; i < n; i++) xOut[i] = x[i] + alpha * d[i];
    evaluations++;
    const fa = objective(xOut, gOut);
    return { f: fa, df: dotN(gOut, d, n) };
  };
  const sufficient = (alpha: number, fa: number) => fa <= f0 + c1 * alpha * slope;
  const curvature = (dfa: number) => Math.abs(dfa) <= -c2 * slope;

  const zoom = (lo: number, flo: number, dlo: number, hi: number, fhi: number, dhi: number): LineSearchResult => {
    while (evaluations < maxEvaluations) {
      let alpha = cubicMin(lo, flo, dlo, hi, fhi, dhi);
      const a = Math.min(lo, hi);
      const b = Math.max(lo, hi);
      const margin = 0.1 * (b - a);
      if (!Number.isFinite(alpha) || alpha < a + margin || alpha > b - margin) alpha = (lo + hi) / 2;
      if (b - a <= 1e-16 * b) break;
      const p = phi(alpha);
      if (!Number.isFinite(p.f) || !sufficient(alpha, p.f) || p.f >= flo) {
        hi = alpha;
        fhi = Number.isFinite(p.f) ? p.f : Number.MAX_VALUE;
        dhi = Number.isFinite(p.df) ? p.df : 0;
      } else {
        if (curvature(p.df)) return { ok: true, alpha, f: p.f, evaluations };
        if (p.df * (hi - lo) >= 0) {
          hi = lo;
          fhi = flo;
          dhi = dlo;
        }
        lo = alpha;
        flo = p.f;
        dlo = p.df;
      }
    }
    return { ok: false, alpha: lo, f: flo, evaluations };
  };

  let prev = 0;
  let fPrev = f0;
  let dPrev = slope;
  let alpha = alphaInit;
  while (evaluations < maxEvaluations) {
    const p = phi(alpha);
    if (!Number.isFinite(p.f) || !sufficient(alpha, p.f) || (evaluations > 1 && p.f >= fPrev)) {
      return zoom(prev, fPrev, dPrev, alpha, Number.isFinite(p.f) ? p.f : Number.MAX_VALUE, Number.isFinite(p.df) ? p.df : 0);
    }
    if (curvature(p.df)) return { ok: true, alpha, f: p.f, evaluations };
    if (p.df >= 0) return zoom(alpha, p.f, p.df, prev, fPrev, dPrev);
    prev = alpha;
    fPrev = p.f;
    dPrev = p.df;
    alpha *= 4;
  }
  return { ok: false, alpha: prev, f: fPrev, evaluations };
}

/** Minimizer of the cubic through (a, fa, da) and (b, fb, db) (Nocedal & Wright eq. 3.59). */
function cubicMin(a: number, fa: number, da: number, b: number, fb: number, db: number): number {
  const d1 = da + db - 3 * (fa - fb) / (a - b);
  const disc = d1 * d1 - da * db;
  if (disc < 0) return Number.NaN;
  const d2 = Math.sign(b - a) * Math.sqrt(disc);
  return b - (b - a) * ((db + d2 - d1) / (db - da + 2 * d2));
}

function dotN(a: Float64Array, b: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

function axpy(alpha: number, x: Float64Array, y: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) y[i] += alpha * x[i];
}

function maxAbs(v: Float64Array): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) {
    const a = Math.abs(v[i]);
    if (a > m || Number.isNaN(a)) m = a;
  }
  return m;
}
