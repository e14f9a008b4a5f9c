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

/** `m` itself when its storage can be handed to worker threads as is, else a copy in shared memory. */
export function shareMatrix(m: Matrix): Matrix {
  if (m.data.buffer instanceof SharedArrayBuffer) return m;
  const out = sharedMatrix(m.rows, m.cols);
  out.data.set(m.data);
  return out;
}

/** `v` itself when it lies in shared memory already, else a copy there. */
export function shareVector(v: Float64Array): Float64Array {
  if (v.buffer instanceof SharedArrayBuffer) return v;
  const out = new Float64Array(new SharedArrayBuffer(v.length * 8));
  out.set(v);
  return out;
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

/** C[m×n] = A[m×k] · B[k×n] (+ C when `accumulate`), all row-major. See {@link blockedProduct}. */
export function gemm(a: Float64Array, b: Float64Array, c: Float64Array, m: number, k: number, n: number, accumulate = false): void {
  blockedProduct(a, k, 1, b, c, m, k, n, accumulate, true);
}

/** C[k×n] = Aᵀ · B where A is m×k and B is m×n (+ C when `accumulate`). See {@link blockedProduct}. */
export function gemmTN(a: Float64Array, b: Float64Array, c: Float64Array, m: number, k: number, n: number, accumulate = false): void {
  blockedProduct(a, 1, k, b, c, k, m, n, accumulate, false);
}

/**
 * C[rows×n] (+)= Σₛ A(r, s)·B[s, ·] over `terms` terms, where A(r, s) = a[r·rowStride + s·termStride]
 * (A itself: rowStride = terms, termStride = 1; a transposed matrix: rowStride = 1, termStride = rows).
 * Register-blocked two rows of C by four terms: each load of B serves two rows and each load/store of
 * C four multiply-adds, about 1.6× faster than the plain loop in V8. Every entry of C adds its terms four
 * at a time, in order, then the leftover ones singly — except that a lone last row adds all its terms
 * singly when `loneRowByTerms` (the order `gemm` has always used; kept so trained models do not change).
 */
function blockedProduct(
  a: Float64Array,
  rowStride: number,
  termStride: number,
  b: Float64Array,
  c: Float64Array,
  rows: number,
  terms: number,
  n: number,
  accumulate: boolean,
  loneRowByTerms: boolean,
): void {
  if (!accumulate) c.fill(0, 0, rows * n);
  const t1 = termStride;
  const t2 = 2 * termStride;
  const t3 = 3 * termStride;
  let r = 0;
  for (; r + 1 < rows; r += 2) {
    const c0 = r * n;
    const c1 = c0 + n;
    const r0 = r * rowStride;
    const r1 = r0 + rowStride;
    let s = 0;
    for (; s + 3 < terms; s += 4) {
      const o0 = r0 + s * termStride;
      const o1 = r1 + s * termStride;
      const a00 = a[o0];
      const a01 = a[o0 + t1];
      const a02 = a[o0 + t2];
      const a03 = a[o0 + t3];
      const a10 = a[o1];
      const a11 = a[o1 + t1];
      const a12 = a[o1 + t2];
      const a13 = a[o1 + t3];
      const b0 = s * n;
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
    for (; s < terms; s++) {
      const v0 = a[r0 + s * termStride];
      const v1 = a[r1 + s * termStride];
      const bs = s * n;
      for (let j = 0; j < n; j++) {
        c[c0 + j] += v0 * b[bs + j];
        c[c1 + j] += v1 * b[bs + j];
      }
    }
  }
  if (r === rows) return;
  const ci = r * n;
  const ri = r * rowStride;
  let s = 0;
  if (!loneRowByTerms) {
    for (; s + 3 < terms; s += 4) {
      const o = ri + s * termStride;
      const u0 = a[o];
      const u1 = a[o + t1];
      const u2 = a[o + t2];
      const u3 = a[o + t3];
      const b0 = s * n;
      const b1 = b0 + n;
      const b2 = b1 + n;
      const b3 = b2 + n;
      for (let j = 0; j < n; j++) c[ci + j] += u0 * b[b0 + j] + u1 * b[b1 + j] + u2 * b[b2 + j] + u3 * b[b3 + j];
    }
  }
  for (; s < terms; s++) {
    const v = a[ri + s * termStride];
    const bs = s * n;
    for (let j = 0; j < n; j++) c[ci + j] += v * b[bs + j];
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
