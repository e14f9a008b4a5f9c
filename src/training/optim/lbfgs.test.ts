import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../../core/random.ts';
import { cholesky, choleskySolve } from '../matrix.ts';
import { lbfgs, type Objective, wolfeLineSearch } from './lbfgs.ts';

/** Extended Rosenbrock: Σ 100(x_{2i} − x_{2i−1}²)² + (1 − x_{2i−1})², minimum 0 at all ones. */
const rosenbrock: Objective = (x, g) => {
  let f = 0;
  g.fill(0);
  for (let i = 0; i < x.length; i += 2) {
    const t = x[i + 1] - x[i] * x[i];
    const u = 1 - x[i];
    f += 100 * t * t + u * u;
    g[i] += -400 * x[i] * t - 2 * u;
    g[i + 1] += 200 * t;
  }
  return f;
};

function quadratic(n: number, rng: Random): { f: Objective; a: Float64Array; b: Float64Array } {
  const m = Float64Array.from({ length: n * n }, () => rng.normal());
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = i === j ? 0.5 : 0;
    for (let k = 0; k < n; k++) s += m[i * n + k] * m[j * n + k];
    a[i * n + j] = s;
  }
  const b = Float64Array.from({ length: n }, () => rng.normal());
  const f: Objective = (x, g) => {
    let v = 0;
    for (let i = 0; i < n; i++) {
      let ax = 0;
      for (let j = 0; j < n; j++) ax += a[i * n + j] * x[j];
      g[i] = ax - b[i];
      v += 0.5 * x[i] * ax - b[i] * x[i];
    }
    return v;
  };
  return { f, a, b };
}

describe('lbfgs', () => {
  it('finds the minimum of the extended Rosenbrock function (all ones, f = 0)', () => {
    const x0 = Float64Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? -1.2 : 1));
    const r = lbfgs(rosenbrock, x0, { maxIter: 1000, gtol: 1e-10, ftol: 0 });
    assert.ok(r.converged, r.reason);
    for (const v of r.x) assert.ok(Math.abs(v - 1) < 1e-8, `x = ${v}`);
    assert.ok(r.f < 1e-16);
  });

  it('solves a convex quadratic: x = A⁻¹b (checked with a Cholesky solve)', () => {
    const { f, a, b } = quadratic(20, new Random(3));
    const r = lbfgs(f, new Float64Array(20), { maxIter: 500, gtol: 1e-7, ftol: 0 });
    assert.equal(r.reason, 'gtol');
    const l = Float64Array.from(a);
    assert.ok(cholesky(l, 20));
    const exact = Float64Array.from(b);
    choleskySolve(l, 20, exact);
    // ‖x − x*‖ ≤ ‖∇f‖/λ_min, and λ_min ≥ 0.5 by construction
    for (let i = 0; i < 20; i++) assert.ok(Math.abs(r.x[i] - exact[i]) < 1e-6);
  });

  it('stops on ftol and maxIter as documented', () => {
    const x0 = Float64Array.of(-1.2, 1);
    const capped = lbfgs(rosenbrock, x0, { maxIter: 3, gtol: 0, ftol: 0 });
    assert.equal(capped.reason, 'max_iter');
    assert.equal(capped.iterations, 3);
    assert.equal(capped.converged, false);
    const loose = lbfgs(rosenbrock, x0, { maxIter: 1000, gtol: 0, ftol: 1e-3 });
    assert.equal(loose.reason, 'ftol');
    assert.deepEqual(Array.from(x0), [-1.2, 1], 'x0 is not modified');
  });

  it('every accepted step satisfies the strong Wolfe conditions', () => {
    const c1 = 1e-4;
    const c2 = 0.9;
    const rng = new Random(5);
    let accepted = 0;
    for (let trial = 0; trial < 200; trial++) {
      const n = 2 * (1 + rng.int(4));
      const x = Float64Array.from({ length: n }, () => 3 * rng.normal());
      const g = new Float64Array(n);
      const f0 = rosenbrock(x, g);
      // a descent direction: −g, perturbed
      const d = Float64Array.from(g, (v) => -v * (0.5 + rng.next()));
      let slope = 0;
      for (let i = 0; i < n; i++) slope += g[i] * d[i];
      const alpha0 = [1e-6, 1e-3, 1, 10][trial % 4];
      const xOut = new Float64Array(n);
      const gOut = new Float64Array(n);
      const r = wolfeLineSearch(rosenbrock, x, f0, d, slope, alpha0, xOut, gOut, { c1, c2, maxEvaluations: 40 });
      if (!r.ok) continue;
      accepted++;
      const check = new Float64Array(n);
      const fa = rosenbrock(xOut, check);
      let slopeA = 0;
      for (let i = 0; i < n; i++) {
        assert.ok(Math.abs(xOut[i] - (x[i] + r.alpha * d[i])) <= 1e-12 * (1 + Math.abs(xOut[i])));
        slopeA += check[i] * d[i];
      }
      assert.equal(fa, r.f);
      assert.ok(fa <= f0 + c1 * r.alpha * slope, 'sufficient decrease');
      assert.ok(Math.abs(slopeA) <= c2 * Math.abs(slope), 'curvature');
    }
    assert.ok(accepted >= 190, `${accepted} of 200 line searches succeeded`);
  });

  it('rejects bad options by name', () => {
    assert.throws(() => lbfgs(rosenbrock, Float64Array.of(0, 0), { memory: 0 }), /memory/);
    assert.throws(() => lbfgs(rosenbrock, Float64Array.of(0, 0), { c1: 0.95, c2: 0.9 }), /c1, c2/);
  });
});
