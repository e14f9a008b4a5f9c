/**
 * The hot loops of histogram gradient boosting — partitioning a node's rows, gradient histograms, the
 * subtraction trick, best-split search, gradients, binning — over typed arrays shared by the threads
 * (SharedArrayBuffers, and one shared WebAssembly memory for the arrays that the WebAssembly loops of
 * `wasm.ts` address; without it the same loops run as JavaScript).
 *
 * A task is described in the control block `ctl` and run by one or two "participants" (the main thread
 * and a worker). A node's histograms are built from one chunk of rows (small nodes: the same sums, in
 * the same order, as scikit-learn) or two (nodes of PARALLEL_MIN_ROWS rows or more) whose partial
 * histograms are then added. The number of chunks depends on the node's size only, never on the number
 * of threads, so neither does the model:
 *
 *   phase 1, per chunk: partition the chunk's rows by the split; histogram the rows of the child that
 *            needs it (the smaller one, or both when the parent's histogram was given up);
 *   barrier;
 *   phase 2, per feature range: add the chunks' partial histograms, subtract from the parent for the
 *            larger child, find each child's best split; per chunk: copy the rows back in place.
 */
import { type BinScratch, binFeature, makeBinScratch } from './binning.ts';
import { computeGradients } from './loss.ts';
import { type WasmKernels, compileKernels } from './wasm.ts';

/** Values per histogram bin: sum of gradients, sum of hessians, count. */
export const BIN_STRIDE = 3;
/** Most threads a task can be shared by (one per chunk of rows). */
export const MAX_THREADS = 2;

/** Task codes. */
export const TASK = { ROOT: 1, SPLIT: 2, GRADIENTS: 3, BIN: 4, TRANSPOSE: 5, RAW_UPDATE: 6 } as const;

/** Offsets in the control block. */
export const C = {
  CODE: 0,
  /** Threads taking part in the task (1 or 2). */
  PARTICIPANTS: 1,
  CLASS: 2,
  CONST_HESS: 3,
  L2: 4,
  MIN_LEAF: 5,
  MIN_HESS: 6,
  LOSS: 7,
  N_CLASSES: 8,
  MAX_BINS: 9,
  /** RAW_UPDATE: also compute the next gradients. */
  THEN_GRADIENTS: 10,
  /** The node being split (ROOT: the root): rows partition[START, END), its histogram slot or -1. */
  START: 11,
  END: 12,
  PARENT_SLOT: 13,
  /** SPLIT: feature, bin and missing-value direction of the split. */
  FEATURE: 14,
  BIN: 15,
  MISSING_LEFT: 16,
  /** SPLIT: 0 when the left child is the smaller one, 1 when the right one is. */
  SMALL: 17,
  /** ROOT/SPLIT: chunks of rows (1 or 2). */
  CHUNKS: 18,
  /** Child blocks (ROOT uses child 0 for the root itself), CHILD_STRIDE apart. */
  CHILD: 20,
  /** SPLIT results: left and right row counts of each chunk, at COUNTS + 2 × chunk. */
  COUNTS: 36,
  /** ROOT: gradient and hessian sums of each chunk, at ROOT_SUMS + 2 × chunk. */
  ROOT_SUMS: 40,
  SIZE: 44,
} as const;

/** Offsets inside a child block: its histogram slot (-1: none needed), whether to search its split, its sums and value. */
export const CH = { SLOT: 0, FIND: 1, SUM_G: 2, SUM_H: 3, VALUE: 4 } as const;
/** Size of a child block. */
export const CHILD_STRIDE = 8;

/** Offsets inside a split result; results of thread t, child c start at (t * 2 + c) * RESULT_STRIDE. */
export const R = { GAIN: 0, FEATURE: 1, BIN: 2, MISSING_LEFT: 3, SUM_GL: 4, SUM_HL: 5, N_L: 6 } as const;
/** Size of a split result. */
export const RESULT_STRIDE = 8;
/** Where ROOT leaves the root's gradient and hessian sums in `res`. */
export const ROOT_SUMS_RESULT = RESULT_STRIDE * 2 * MAX_THREADS;
/** Length of `res`. */
export const RESULT_SIZE = ROOT_SUMS_RESULT + 2;

/** Histogram slots for chunk 1's partial histograms of the two children (after the node slots). */
export const PARTIAL_SLOTS = 2;

/** The arrays a task reads and writes; shared between threads when there are several. */
export interface KernelArrays {
  readonly n: number;
  readonly nFeatures: number;
  /** Bins per feature histogram, including the missing-value bin (max_bins + 1). */
  readonly nBins: number;
  readonly nClasses: number;
  /** Node histogram slots; the PARTIAL_SLOTS partial slots follow them. */
  readonly slots: number;
  /** Column-major feature values of the training rows, `xcol[f * n + row]` (read by BIN). */
  readonly xcol: Float64Array;
  /** Rows whose values set the bin thresholds; empty for all rows. */
  readonly sample: Uint32Array;
  /** Thresholds written by BIN: feature f's are `thresholds[f * (maxBins - 1) ...]`, nBinsNonMissing[f] - 1 of them. */
  readonly thresholds: Float32Array;
  /** Column-major bins, `binned[f * n + row]` (read by the partition). */
  readonly binned: Uint8Array;
  /** Row-major bins, `rowBinned[row * nFeatures + f]` (read by the histograms). */
  readonly rowBinned: Uint8Array;
  /** Class-major gradients and hessians, `[k * n + row]`. */
  readonly grad: Float32Array;
  readonly hess: Float32Array;
  /** Row indices grouped by node: a node owns `partition[start, end)`. */
  readonly partition: Uint32Array;
  /** Rows going left and right during a split, at the positions of their chunk. */
  readonly leftRows: Uint32Array;
  readonly rightRows: Uint32Array;
  /** Per chunk, 256 bytes: whether each bin value goes left in the current split. */
  readonly goLeft: Uint8Array;
  /** Histogram slots, each `nFeatures * nBins * BIN_STRIDE` doubles. */
  readonly hist: Float64Array;
  /** Bins used by present values, per feature. */
  readonly nBinsNonMissing: Uint16Array;
  /** 1 when the feature has missing values in the training rows. */
  readonly hasMissing: Uint8Array;
  readonly y: Float64Array;
  /** Row-major raw predictions `[row * nClasses + k]`. */
  readonly raw: Float64Array;
  /** Per-row weights, or length 0. */
  readonly weight: Float64Array;
  /** The new tree's leaf value per partition position, added to `raw` by RAW_UPDATE. */
  readonly positionValue: Float64Array;
  readonly ctl: Float64Array;
  readonly res: Float64Array;
  /**
   * The WebAssembly memory holding rowBinned, grad, hess, partition, leftRows, rightRows and hist, when
   * the histogram loop runs as WebAssembly; null to run it as JavaScript.
   */
  readonly memory: WebAssembly.Memory | null;
}

/** State private to one thread: compiled histogram kernels, binning buffers and the barrier to meet the other thread at. */
export interface KernelScratch {
  readonly kernels: Map<string, HistKernel>;
  wasm: WasmKernels | null;
  bin: BinScratch | null;
  /** Waits until every participant of the task has called it. */
  readonly barrier: () => void;
}

/** Makes a thread's private state. */
export function makeScratch(barrier: () => void = () => {}): KernelScratch {
  return { kernels: new Map(), wasm: null, bin: null, barrier };
}

/** Runs thread `t`'s share of the task in `a.ctl`, shared among `p` participants. */
export function runTask(a: KernelArrays, s: KernelScratch, t: number, p: number): void {
  const ctl = a.ctl;
  const code = ctl[C.CODE];
  const n = a.n;
  const r0 = Math.floor((n * t) / p);
  const r1 = Math.floor((n * (t + 1)) / p);
  const f0 = Math.floor((a.nFeatures * t) / p);
  const f1 = Math.floor((a.nFeatures * (t + 1)) / p);
  switch (code) {
    case TASK.GRADIENTS:
      gradients(a, r0, r1);
      return;
    case TASK.RAW_UPDATE: {
      const { raw, partition, positionValue } = a;
      const K = a.nClasses;
      const k = ctl[C.CLASS] | 0;
      for (let j = r0; j < r1; j++) raw[partition[j] * K + k] += positionValue[j];
      if (ctl[C.THEN_GRADIENTS] === 1) {
        if (p > 1) s.barrier();
        gradients(a, r0, r1);
      }
      return;
    }
    case TASK.BIN:
      binFeatures(a, s, f0, f1);
      return;
    case TASK.TRANSPOSE:
      transposeRows(a, r0, r1);
      return;
    case TASK.ROOT:
    case TASK.SPLIT:
      for (let c = t; c < ctl[C.CHUNKS]; c += p) splitPhase1(a, s, c, code === TASK.ROOT);
      if (p > 1) s.barrier();
      splitPhase2(a, t, p, code === TASK.ROOT);
      return;
  }
}

function gradients(a: KernelArrays, r0: number, r1: number): void {
  const weight = a.weight.length > 0 ? a.weight : null;
  computeGradients(a.ctl[C.LOSS], a.y, a.raw, weight, a.grad, a.hess, a.n, a.ctl[C.N_CLASSES], r0, r1);
}

/** Rows [start, end) of chunk c of the node in the control block. */
function chunkRange(ctl: Float64Array, c: number): [number, number] {
  const start = ctl[C.START] | 0;
  const m = (ctl[C.END] | 0) - start;
  // Integers (| 0) so that V8 indexes the typed arrays without float conversions.
  const chunks = ctl[C.CHUNKS];
  return [(start + Math.floor((m * c) / chunks)) | 0, (start + Math.floor((m * (c + 1)) / chunks)) | 0];
}

function slotOffset(a: KernelArrays, slot: number): number {
  return (slot * a.nFeatures * a.nBins * BIN_STRIDE) | 0;
}

function partialSlot(a: KernelArrays, child: number): number {
  return a.slots + child;
}

/** Does child `c` get its histogram from its own rows (rather than parent − sibling)? */
function builtFromRows(ctl: Float64Array, c: number, root: boolean): boolean {
  if (root) return c === 0;
  const slot = ctl[C.CHILD + c * CHILD_STRIDE + CH.SLOT];
  if (slot < 0) return false;
  return ctl[C.PARENT_SLOT] < 0 || c === ctl[C.SMALL];
}

/** Phase 1 of ROOT/SPLIT for one chunk: partition its rows and histogram them (all features). */
function splitPhase1(a: KernelArrays, s: KernelScratch, chunk: number, root: boolean): void {
  const ctl = a.ctl;
  const [cs, ce] = chunkRange(ctl, chunk);
  const k = ctl[C.CLASS] | 0;
  const constHess = ctl[C.CONST_HESS] === 1;
  if (root) {
    const part = a.partition;
    for (let j = cs; j < ce; j++) part[j] = j;
    const off = chunkTarget(a, chunk, 0);
    buildHistogram(a, s, k, constHess, null, cs, ce - cs, off);
    let G = 0;
    let H = 0;
    for (let b = 0; b < a.nBins; b++) {
      G += a.hist[off + b * 3];
      H += a.hist[off + b * 3 + 1];
    }
    ctl[C.ROOT_SUMS + 2 * chunk] = G;
    ctl[C.ROOT_SUMS + 2 * chunk + 1] = H;
    if (ctl[C.CHUNKS] === 1) {
      ctl[C.ROOT_SUMS + 2] = 0;
      ctl[C.ROOT_SUMS + 3] = 0;
    }
    return;
  }
  const leftRows = a.leftRows;
  const rightRows = a.rightRows;
  const col = (ctl[C.FEATURE] | 0) * a.n;
  const bin = ctl[C.BIN];
  // goLeft[b] for every bin value, so that the partition loop has no data-dependent branch.
  const goLeft = a.goLeft.subarray(256 * chunk, 256 * (chunk + 1));
  for (let b = 0; b < 256; b++) goLeft[b] = b <= bin ? 1 : 0;
  goLeft[a.nBins - 1] = ctl[C.MISSING_LEFT];
  const nl = partition(a, s, cs, ce, col, goLeft);
  const l = cs + nl;
  const r = ce - nl;
  ctl[C.COUNTS + 2 * chunk] = nl;
  ctl[C.COUNTS + 2 * chunk + 1] = ce - cs - nl;
  if (ctl[C.CHUNKS] === 1) {
    ctl[C.COUNTS + 2] = 0;
    ctl[C.COUNTS + 3] = 0;
  }
  if (builtFromRows(ctl, 0, false)) buildHistogram(a, s, k, constHess, leftRows, cs, l - cs, chunkTarget(a, chunk, 0));
  if (builtFromRows(ctl, 1, false)) buildHistogram(a, s, k, constHess, rightRows, cs, r - cs, chunkTarget(a, chunk, 1));
}

/** Stable partition of `partition[cs, ce)` into leftRows/rightRows (from position cs); returns the left count. */
function partition(a: KernelArrays, s: KernelScratch, cs: number, ce: number, col: number, goLeft: Uint8Array): number {
  if (a.memory !== null) {
    s.wasm ??= compileKernels(a.memory, { nFeatures: a.nFeatures, featStride: a.nBins * BIN_STRIDE, block: KERNEL_BLOCK });
    return s.wasm.partition(a.partition.byteOffset, cs, ce, a.binned.byteOffset + col, goLeft.byteOffset, a.leftRows.byteOffset, a.rightRows.byteOffset);
  }
  const part = a.partition;
  const binned = a.binned;
  const leftRows = a.leftRows;
  const rightRows = a.rightRows;
  let l = cs;
  let r = cs;
  for (let j = cs; j < ce; j++) {
    const i = part[j];
    const left = goLeft[binned[col + i]];
    leftRows[l] = i;
    rightRows[r] = i;
    l += left;
    r += left ^ 1;
  }
  return l - cs;
}

/** Where chunk `chunk` writes child `c`'s histogram: the child's own slot for chunk 0, a partial slot for chunk 1. */
function chunkTarget(a: KernelArrays, chunk: number, c: number): number {
  return chunk === 0 ? slotOffset(a, a.ctl[C.CHILD + c * CHILD_STRIDE + CH.SLOT]) : slotOffset(a, partialSlot(a, c));
}

/** Phase 2 of ROOT/SPLIT for thread t of p: copy rows back, complete the children's histograms, find their splits. */
function splitPhase2(a: KernelArrays, t: number, p: number, root: boolean): void {
  const ctl = a.ctl;
  const f0 = Math.floor((a.nFeatures * t) / p) | 0;
  const f1 = Math.floor((a.nFeatures * (t + 1)) / p) | 0;
  const featStride = a.nBins * BIN_STRIDE;
  const lo = (f0 * featStride) | 0;
  const hi = (f1 * featStride) | 0;
  const hist = a.hist;
  const children = root ? 1 : 2;
  let nLeft = 0;
  if (!root) {
    nLeft = ctl[C.COUNTS] + ctl[C.COUNTS + 2];
    const start = ctl[C.START] | 0;
    for (let c = t; c < ctl[C.CHUNKS]; c += p) {
      const [cs] = chunkRange(ctl, c);
      const leftBefore = c === 0 ? 0 : ctl[C.COUNTS];
      const rightBefore = c === 0 ? 0 : ctl[C.COUNTS + 1];
      const nl = ctl[C.COUNTS + 2 * c];
      const nr = ctl[C.COUNTS + 2 * c + 1];
      a.partition.set(a.leftRows.subarray(cs, cs + nl), start + leftBefore);
      a.partition.set(a.rightRows.subarray(cs, cs + nr), start + nLeft + rightBefore);
    }
  }
  // Chunk 0 wrote into the child's slot: add chunk 1, and derive the larger child in the same pass.
  const twoChunks = ctl[C.CHUNKS] === 2;
  const subtract = !root && ctl[C.PARENT_SLOT] >= 0;
  const large = 1 - ctl[C.SMALL];
  const largeSlot = subtract ? ctl[C.CHILD + large * CHILD_STRIDE + CH.SLOT] : -1;
  for (let c = 0; c < children; c++) {
    if (!builtFromRows(ctl, c, root)) continue;
    const out = slotOffset(a, ctl[C.CHILD + c * CHILD_STRIDE + CH.SLOT]);
    const p1 = slotOffset(a, partialSlot(a, c));
    if (subtract && largeSlot >= 0 && c !== large) {
      const parent = slotOffset(a, ctl[C.PARENT_SLOT]);
      const big = slotOffset(a, largeSlot);
      if (twoChunks) {
        for (let i = lo; i < hi; i++) {
          const v = hist[out + i] + hist[p1 + i];
          hist[out + i] = v;
          hist[big + i] = hist[parent + i] - v;
        }
      } else {
        for (let i = lo; i < hi; i++) hist[big + i] = hist[parent + i] - hist[out + i];
      }
    } else if (twoChunks) {
      for (let i = lo; i < hi; i++) hist[out + i] += hist[p1 + i];
    }
  }
  const m = (ctl[C.END] | 0) - (ctl[C.START] | 0);
  for (let c = 0; c < children; c++) {
    const cb = C.CHILD + c * CHILD_STRIDE;
    const out = (t * 2 + c) * RESULT_STRIDE;
    a.res[out + R.GAIN] = -1;
    let G = ctl[cb + CH.SUM_G];
    let H = ctl[cb + CH.SUM_H];
    if (root) {
      // The root's sums come from its chunks; every thread adds them the same way.
      G = ctl[C.ROOT_SUMS] + ctl[C.ROOT_SUMS + 2];
      H = ctl[C.CONST_HESS] === 1 ? m : ctl[C.ROOT_SUMS + 1] + ctl[C.ROOT_SUMS + 3];
      if (t === 0) {
        a.res[ROOT_SUMS_RESULT] = G;
        a.res[ROOT_SUMS_RESULT + 1] = H;
      }
      if (H < ctl[C.MIN_HESS]) continue;
    }
    if (ctl[cb + CH.FIND] !== 1) continue;
    const rows = root ? m : c === 0 ? nLeft : m - nLeft;
    findBestSplit(a, slotOffset(a, ctl[cb + CH.SLOT]), rows, G, H, ctl[cb + CH.VALUE], ctl[C.CONST_HESS] === 1, f0, f1, out);
  }
}

/** Learns thresholds and bins the training rows of features [f0, f1). */
function binFeatures(a: KernelArrays, s: KernelScratch, f0: number, f1: number): void {
  const n = a.n;
  const maxBins = a.ctl[C.MAX_BINS];
  s.bin ??= makeBinScratch(a.sample.length > 0 ? a.sample.length : n);
  for (let f = f0; f < f1; f++) {
    const { thresholds, hasMissing } = binFeature(a.xcol.subarray(f * n, (f + 1) * n), a.sample, maxBins, a.binned, f * n, s.bin);
    a.thresholds.set(thresholds, f * (maxBins - 1));
    a.nBinsNonMissing[f] = thresholds.length + 1;
    a.hasMissing[f] = hasMissing ? 1 : 0;
  }
}

/** Copies rows [r0, r1) of the column-major bins into the row-major bins. */
function transposeRows(a: KernelArrays, r0: number, r1: number): void {
  const { n, nFeatures: F, binned, rowBinned } = a;
  // Blocks of rows keep the F column streams and the written rows in cache together.
  for (let b0 = r0; b0 < r1; b0 += 4096) {
    const b1 = Math.min(r1, b0 + 4096);
    for (let f = 0; f < F; f++) {
      const col = f * n;
      for (let i = b0; i < b1; i++) rowBinned[i * F + f] = binned[col + i];
    }
  }
}

/**
 * Histograms of all features over `m` rows — `rows[start, start + m)`, or the rows start.. in order when
 * `rows` is null — written at `off`. Rows are read from the row-major bins, one row at a time for a
 * block of features, so that each row costs one cache line and one gradient load.
 */
function buildHistogram(
  a: KernelArrays,
  s: KernelScratch,
  k: number,
  constHess: boolean,
  rows: Uint32Array | null,
  start: number,
  m: number,
  off: number,
): void {
  const n = a.n;
  const F = a.nFeatures;
  const featStride = a.nBins * BIN_STRIDE;
  a.hist.fill(0, off, off + F * featStride);
  if (a.memory !== null) {
    s.wasm ??= compileKernels(a.memory, { nFeatures: F, featStride, block: KERNEL_BLOCK });
    const rowsPtr = (rows ?? a.partition).byteOffset;
    const gPtr = a.grad.byteOffset + 4 * k * n;
    const hPtr = a.hess.byteOffset + 4 * k * n;
    for (let b = 0; b * KERNEL_BLOCK < F; b++) {
      const kernel = s.wasm.kernel(rows === null, constHess, b);
      kernel(rowsPtr, start, m, gPtr, hPtr, a.hist.byteOffset + 8 * (off + b * KERNEL_BLOCK * featStride), a.rowBinned.byteOffset);
    }
    return;
  }
  const g = a.grad.subarray(k * n, (k + 1) * n);
  const h = a.hess.subarray(k * n, (k + 1) * n);
  for (let fa = 0; fa < F; fa += KERNEL_BLOCK) {
    const fb = Math.min(F, fa + KERNEL_BLOCK);
    const kernel = histKernel(s, rows === null, constHess, F, featStride, fa, fb);
    kernel(rows ?? a.partition, start, m, g, h, a.hist.subarray(off + fa * featStride, off + fb * featStride), a.rowBinned);
  }
}

/** Features per compiled histogram kernel. */
const KERNEL_BLOCK = 32;

/** A compiled histogram loop for one block of features. */
export type HistKernel = (
  rows: Uint32Array,
  start: number,
  m: number,
  grad: Float32Array,
  hess: Float32Array,
  hist: Float64Array,
  rowBinned: Uint8Array,
) => void;

/**
 * The histogram loop for features [fa, fb), generated with the feature offsets as constants: V8 then
 * compiles one straight run of loads and adds per row, about 1.6× faster than a loop over features.
 * Two rows are interleaved per iteration so that their (cache-missing) loads overlap.
 */
function histKernel(s: KernelScratch, contiguous: boolean, constHess: boolean, stride: number, featStride: number, fa: number, fb: number): HistKernel {
  const key = `${contiguous ? 'r' : 'c'}${constHess ? 'k' : 'h'}:${stride}:${featStride}:${fa}:${fb}`;
  const cached = s.kernels.get(key);
  if (cached) return cached;
  const row = (suffix: string, index: string): string[] => {
    const lines = [
      `  const i${suffix} = ${contiguous ? `start + ${index}` : `rows[start + ${index}]`};`,
      `  const g${suffix} = grad[i${suffix}];`,
      `  const r${suffix} = i${suffix} * ${stride};`,
    ];
    if (!constHess) lines.push(`  const h${suffix} = hess[i${suffix}];`);
    return lines;
  };
  const update = (suffix: string, f: number): string =>
    `{ const p = ${(f - fa) * featStride} + rowBinned[r${suffix} + ${f}] * 3; hist[p] += g${suffix};${constHess ? '' : ` hist[p + 1] += h${suffix};`} hist[p + 2] += 1; }`;
  const body: string[] = ['"use strict";', 'let j = 0;', 'for (; j + 1 < m; j += 2) {', ...row('a', 'j'), ...row('b', 'j + 1')];
  for (let f = fa; f < fb; f++) body.push(`  ${update('a', f)} ${update('b', f)}`);
  body.push('}', 'if (j < m) {', ...row('a', 'j'));
  for (let f = fa; f < fb; f++) body.push(`  ${update('a', f)}`);
  body.push('}');
  const kernel = new Function('rows', 'start', 'm', 'grad', 'hess', 'hist', 'rowBinned', body.join('\n')) as HistKernel;
  s.kernels.set(key, kernel);
  return kernel;
}

/**
 * The best split over features [f0, f1) of a node with `n` rows, gradient sum `G`, hessian sum `H` and
 * value `value`, scanning bins left to right (missing values go right) and, for features with missing
 * values, right to left (missing values go left). Ties keep the first candidate, as scikit-learn does.
 */
function findBestSplit(
  a: KernelArrays,
  off: number,
  n: number,
  G: number,
  H: number,
  value: number,
  constHess: boolean,
  f0: number,
  f1: number,
  out: number,
): void {
  off |= 0;
  const ctl = a.ctl;
  const hist = a.hist;
  const l2 = ctl[C.L2];
  const minLeaf = ctl[C.MIN_LEAF];
  const minHess = ctl[C.MIN_HESS];
  const featStride = a.nBins * BIN_STRIDE;
  const lossCurrent = G * value;
  let bestGain = -1;
  let bestFeature = -1;
  let bestBin = 0;
  let bestMissingLeft = 0;
  let bestGL = 0;
  let bestHL = 0;
  let bestNL = 0;
  for (let f = f0; f < f1; f++) {
    const hb = off + f * featStride;
    const nbnm = a.nBinsNonMissing[f];
    const hasMissing = a.hasMissing[f];
    let featGain = -1;
    let fBin = 0;
    let fMissingLeft = 0;
    let fGL = 0;
    let fHL = 0;
    let fNL = 0;
    let gl = 0;
    let hl = 0;
    let nl = 0;
    const end = nbnm - 1 + hasMissing;
    for (let b = 0; b < end; b++) {
      const p = hb + b * 3;
      gl += hist[p];
      const c = hist[p + 2];
      nl += c;
      hl += constHess ? c : hist[p + 1];
      const nr = n - nl;
      const hr = H - hl;
      const gr = G - gl;
      if (nl < minLeaf) continue;
      if (nr < minLeaf) break;
      if (hl < minHess) continue;
      if (hr < minHess) break;
      const vl = -gl / (hl + l2 + 1e-15);
      const vr = -gr / (hr + l2 + 1e-15);
      const gain = lossCurrent - gl * vl - gr * vr;
      if (gain > featGain && gain > 0) {
        featGain = gain;
        fBin = b;
        fMissingLeft = 0;
        fGL = gl;
        fHL = hl;
        fNL = nl;
      }
    }
    if (hasMissing === 1) {
      let gr = 0;
      let hr = 0;
      let nr = 0;
      for (let b = nbnm - 2; b >= 0; b--) {
        const p = hb + (b + 1) * 3;
        gr += hist[p];
        const c = hist[p + 2];
        nr += c;
        hr += constHess ? c : hist[p + 1];
        const nl2 = n - nr;
        const hl2 = H - hr;
        const gl2 = G - gr;
        if (nr < minLeaf) continue;
        if (nl2 < minLeaf) break;
        if (hr < minHess) continue;
        if (hl2 < minHess) break;
        const vl = -gl2 / (hl2 + l2 + 1e-15);
        const vr = -gr / (hr + l2 + 1e-15);
        const gain = lossCurrent - gl2 * vl - gr * vr;
        if (gain > featGain && gain > 0) {
          featGain = gain;
          fBin = b;
          fMissingLeft = 1;
          fGL = gl2;
          fHL = hl2;
          fNL = nl2;
        }
      }
    }
    if (featGain > bestGain) {
      bestGain = featGain;
      bestFeature = f;
      bestBin = fBin;
      bestMissingLeft = fMissingLeft;
      bestGL = fGL;
      bestHL = fHL;
      bestNL = fNL;
    }
  }
  const res = a.res;
  res[out + R.GAIN] = bestGain;
  res[out + R.FEATURE] = bestFeature;
  res[out + R.BIN] = bestBin;
  res[out + R.MISSING_LEFT] = bestMissingLeft;
  res[out + R.SUM_GL] = bestGL;
  res[out + R.SUM_HL] = bestHL;
  res[out + R.N_L] = bestNL;
}
