/**
 * Dense linear-algebra helpers over row-major `Float64Array`s, shared by the linear models, the MLP and
 * DP-SGD. Kernels take explicit dimensions and write into caller-owned buffers so that hot loops
 * allocate nothing.
 */
import { MloopError } from '../core/errors.ts';
import type { Matrix } from './types.ts';

/** A matrix over a `SharedArrayBuffer`, so worker threads can read it without a copy. */
export function sharedMatrix(rows: number, cols: number): Matrix {
  return { rows, cols, data: new Float64Array(new SharedArrayBuffer(rows * cols * 8)) };
}

/** True when the matrix's storage can be handed to worker threads as is. */
export function isShared(m: Matrix): boolean {
  return m.data.buffer instanceof SharedArrayBuffer;
}

/** The rows `indices` of `m`, copied into a new matrix. */
export function takeRows(m: Matrix, indices: ArrayLike<number>): Matrix {
  const { cols } = m;
  const out = new Float64Array(indices.length * cols);
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i] * cols;
    out.set(m.data.subarray(src, src + cols), i * cols);
  }
  return { rows: indices.length, cols, data: out };
}

/** The entries `indices` of `v`. */
export function takeValues(v: Float64Array, indices: ArrayLike<number>): Float64Array {
  const out = new Float64Array(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = v[indices[i]];
  return out;
}

/**
 * C[m×n] = A[m×k] · B[k×n] (+ C when `accumulate`), all row-major. Register-blocked two rows of C by
 * four rows of B: each load of B serves two rows and each load/store of C four multiply-adds, about
 * 1.6× faster than the plain i-k-j loop in V8.
 */
export function gemm(
  a: Float64Array,
  b: Float64Array,
  c: Float64Array,
  m: number,
  k: number,
  n: number,
  accumulate = false,
): void {
  if (!accumulate) c.fill(0, 0, m * n);
  let i = 0;
  for (; i + 1 < m; i += 2) {
    const c0 = i * n;
    const c1 = c0 + n;
    const r0 = i * k;
    const r1 = r0 + k;
    let p = 0;
    for (; p + 3 < k; p += 4) {
      const a00 = a[r0 + p];
      const a01 = a[r0 + p + 1];
      const a02 = a[r0 + p + 2];
      const a03 = a[r0 + p + 3];
      const a10 = a[r1 + p];
      const a11 = a[r1 + p + 1];
      const a12 = a[r1 + p + 2];
      const a13 = a[r1 + p + 3];
      const b0 = p * n;
      const b1 = b0 + n;
      const b2 = b1 + n;
      const b3 = b2 + n;
      for (let j = 0; j < n; j++) {
        const x0 = b[b0 + j];
        const x1 = b[b1 + j];
        const x2 = b[b2 + j];
        const x3 = b[b3 + j];
        c[c0 + j] += a00 * x0 + a01 * x1 + a02 * x2 + a03 * x3;
        c[c1 + j] += a10 * x0 + a11 * x1 + a12 * x2 + a13 * x3;
      }
    }
    for (; p < k; p++) {
      const v0 = a[r0 + p];
      const v1 = a[r1 + p];
      const bp = p * n;
      for (let j = 0; j < n; j++) {
        c[c0 + j] += v0 * b[bp + j];
        c[c1 + j] += v1 * b[bp + j];
      }
    }
  }
  for (; i < m; i++) {
    const ci = i * n;
    const ai = i * k;
    for (let p = 0; p < k; p++) {
      const av = a[ai + p];
      const bp = p * n;
      for (let j = 0; j < n; j++) c[ci + j] += av * b[bp + j];
    }
  }
}

/**
 * C[k×n] = Aᵀ · B where A is m×k and B is m×n (+ C when `accumulate`). Blocked two rows of C by four
 * rows of A and B, for the same reason as {@link gemm}.
 */
export function gemmTN(
  a: Float64Array,
  b: Float64Array,
  c: Float64Array,
  m: number,
  k: number,
  n: number,
  accumulate = false,
): void {
  if (!accumulate) c.fill(0, 0, k * n);
  let i = 0;
  for (; i + 3 < m; i += 4) {
    const a0 = i * k;
    const a1 = a0 + k;
    const a2 = a1 + k;
    const a3 = a2 + k;
    const b0 = i * n;
    const b1 = b0 + n;
    const b2 = b1 + n;
    const b3 = b2 + n;
    let p = 0;
    for (; p + 1 < k; p += 2) {
      const u0 = a[a0 + p];
      const u1 = a[a1 + p];
      const u2 = a[a2 + p];
      const u3 = a[a3 + p];
      const v0 = a[a0 + p + 1];
      const v1 = a[a1 + p + 1];
      const v2 = a[a2 + p + 1];
      const v3 = a[a3 + p + 1];
      const cp = p * n;
      const cq = cp + n;
      for (let j = 0; j < n; j++) {
        const x0 = b[b0 + j];
        const x1 = b[b1 + j];
        const x2 = b[b2 + j];
        const x3 = b[b3 + j];
        c[cp + j] += u0 * x0 + u1 * x1 + u2 * x2 + u3 * x3;
        c[cq + j] += v0 * x0 + v1 * x1 + v2 * x2 + v3 * x3;
      }
    }
    for (; p < k; p++) {
      const u0 = a[a0 + p];
      const u1 = a[a1 + p];
      const u2 = a[a2 + p];
      const u3 = a[a3 + p];
      const cp = p * n;
      for (let j = 0; j < n; j++) c[cp + j] += u0 * b[b0 + j] + u1 * b[b1 + j] + u2 * b[b2 + j] + u3 * b[b3 + j];
    }
  }
  for (; i < m; i++) {
    const ai = i * k;
    const bi = i * n;
    for (let p = 0; p < k; p++) {
      const av = a[ai + p];
      const cp = p * n;
      for (let j = 0; j < n; j++) c[cp + j] += av * b[bi + j];
    }
  }
}

/** Logistic sigmoid, written to avoid overflow for large |z|. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** log(1 + exp(z)) without overflow or loss of precision. */
export function log1pExp(z: number): number {
  if (z > 0) return z + Math.log1p(Math.exp(-z));
  return Math.log1p(Math.exp(z));
}

/**
 * Replaces each row of `z` (rows × k) by its softmax and returns Σ logsumexp(row), the term the
 * cross-entropy needs.
 */
export function softmaxRows(z: Float64Array, rows: number, k: number): number {
  let lse = 0;
  for (let i = 0; i < rows; i++) {
    const o = i * k;
    let max = -Infinity;
    for (let j = 0; j < k; j++) if (z[o + j] > max) max = z[o + j];
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const e = Math.exp(z[o + j] - max);
      z[o + j] = e;
      sum += e;
    }
    for (let j = 0; j < k; j++) z[o + j] /= sum;
    lse += max + Math.log(sum);
  }
  return lse;
}

/**
 * In-place Cholesky factorization of the symmetric positive-definite n×n matrix `a` (lower triangle
 * is used and overwritten with L). Returns false when `a` is not positive definite.
 */
export function cholesky(a: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let p = 0; p < j; p++) d -= a[j * n + p] * a[j * n + p];
    if (!(d > 0)) return false;
    const ljj = Math.sqrt(d);
    a[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let p = 0; p < j; p++) s -= a[i * n + p] * a[j * n + p];
      a[i * n + j] = s / ljj;
    }
  }
  return true;
}

/** Solves L·Lᵀ·x = b in place of `b`, with L from {@link cholesky}. */
export function choleskySolve(l: Float64Array, n: number, b: Float64Array): void {
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let p = 0; p < i; p++) s -= l[i * n + p] * b[p];
    b[i] = s / l[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i];
    for (let p = i + 1; p < n; p++) s -= l[p * n + i] * b[p];
    b[i] = s / l[i * n + i];
  }
}

/**
 * Eigen-decomposition of a symmetric n×n matrix by cyclic Jacobi rotations: returns eigenvalues and
 * the eigenvectors as the columns of a row-major n×n matrix. Meant for the small Gram matrices of
 * linear models (n up to a few hundred).
 */
export function symmetricEigen(input: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(input.subarray(0, n * n));
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale += a[i] * a[i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
    if (off <= 1e-30 * scale || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const app = a[p * n + p];
        const aqq = a[q * n + q];
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  return { values, vectors: v };
}

/**
 * Solves the symmetric positive semi-definite system A·x = b for the minimum-norm x, treating
 * eigenvalues below `rcond`·max as zero (what a least-squares solver does with collinear columns).
 */
export function pseudoSolve(a: Float64Array, n: number, b: Float64Array, rcond = 1e-12): Float64Array {
  const { values, vectors } = symmetricEigen(a, n);
  let max = 0;
  for (let i = 0; i < n; i++) max = Math.max(max, Math.abs(values[i]));
  const x = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    if (values[j] <= rcond * max) continue;
    let proj = 0;
    for (let i = 0; i < n; i++) proj += vectors[i * n + j] * b[i];
    proj /= values[j];
    for (let i = 0; i < n; i++) x[i] += proj * vectors[i * n + j];
  }
  return x;
}

/** Throws unless `m` is a well-formed matrix with `cols` columns (when given). */
export function checkMatrix(m: Matrix, what: string, cols?: number): void {
  if (m.data.length !== m.rows * m.cols) {
    throw new MloopError('INVALID_PARAMETER_VALUE', `${what}: data length ${m.data.length} is not rows × cols (${m.rows} × ${m.cols})`);
  }
  if (cols !== undefined && m.cols !== cols) {
    throw new MloopError('INVALID_PARAMETER_VALUE', `${what}: expected ${cols} features, found ${m.cols}`);
  }
}
