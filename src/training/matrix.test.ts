import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../core/random.ts';
import { cholesky, choleskySolve, gemm, gemmTN, log1pExp, pseudoSolve, sigmoid, softmaxRows, symmetricEigen } from './matrix.ts';

/** Textbook triple loop, the reference for the blocked kernels. */
function naive(a: (i: number, p: number) => number, b: (p: number, j: number) => number, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) c[i * n + j] += a(i, p) * b(p, j);
  return c;
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i])), `[${i}] ${a[i]} vs ${b[i]}`);
}

describe('matrix kernels', () => {
  it('gemm and gemmTN equal the textbook product for odd sizes, zeros and accumulation', () => {
    const rng = new Random(2);
    for (const [m, k, n] of [[1, 1, 1], [5, 7, 3], [9, 4, 13], [17, 30, 2]]) {
      // ReLU-like sparsity exercises the skipped-zero paths
      const a = Float64Array.from({ length: m * k }, () => (rng.next() < 0.4 ? 0 : rng.normal()));
      const b = Float64Array.from({ length: k * n }, () => rng.normal());
      const c = new Float64Array(m * n);
      gemm(a, b, c, m, k, n);
      const want = naive((i, p) => a[i * k + p], (p, j) => b[p * n + j], m, k, n);
      close(c, want, 1e-12);
      gemm(a, b, c, m, k, n, true);
      close(c, want.map((v) => 2 * v), 1e-12);
      const bt = Float64Array.from({ length: m * n }, () => rng.normal());
      const ct = new Float64Array(k * n);
      gemmTN(a, bt, ct, m, k, n);
      close(ct, naive((i, p) => a[p * k + i], (p, j) => bt[p * n + j], k, m, n), 1e-12);
    }
  });

  it('solves SPD systems by Cholesky, refuses indefinite ones, and gives the minimum-norm solution of singular ones', () => {
    const a = Float64Array.of(4, 2, 2, 3);
    const l = Float64Array.from(a);
    assert.ok(cholesky(l, 2));
    const x = Float64Array.of(2, 1);
    choleskySolve(l, 2, x);
    close(x, [0.5, 0], 1e-15);
    assert.equal(cholesky(Float64Array.of(1, 2, 2, 1), 2), false);
    // [[1,1],[1,1]] x = [2,2]: solutions x1 + x2 = 2, minimum norm (1, 1)
    close(pseudoSolve(Float64Array.of(1, 1, 1, 1), 2, Float64Array.of(2, 2)), [1, 1], 1e-12);
  });

  it('eigen-decomposes a symmetric matrix: A·v = λ·v for every pair', () => {
    const rng = new Random(3);
    const n = 6;
    const m = Float64Array.from({ length: n * n }, () => rng.normal());
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = m[i * n + j] + m[j * n + i];
    const { values, vectors } = symmetricEigen(a, n);
    for (let e = 0; e < n; e++) {
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let j = 0; j < n; j++) av += a[i * n + j] * vectors[j * n + e];
        assert.ok(Math.abs(av - values[e] * vectors[i * n + e]) < 1e-10);
      }
    }
  });

  it('sigmoid and log(1 + e^z) stay finite and accurate at extreme arguments', () => {
    assert.equal(sigmoid(-800), 0);
    assert.equal(sigmoid(800), 1);
    assert.ok(Math.abs(sigmoid(-30) - Math.exp(-30) / (1 + Math.exp(-30))) < 1e-28);
    assert.equal(log1pExp(800), 800);
    assert.ok(Math.abs(log1pExp(-40) - Math.exp(-40)) < 1e-30);
    assert.ok(Math.abs(log1pExp(0) - Math.LN2) < 1e-16);
  });

  it('softmaxRows normalizes each row and returns Σ logsumexp without overflow', () => {
    const z = Float64Array.of(1000, 1000, 0, Math.log(3));
    const lse = softmaxRows(z, 2, 2);
    close(z, [0.5, 0.5, 0.25, 0.75], 1e-15);
    assert.ok(Math.abs(lse - (1000 + Math.LN2 + Math.log(4))) < 1e-12);
  });
});
