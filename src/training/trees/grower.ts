/**
 * Grows one tree best-first (leaf-wise), as scikit-learn's `TreeGrower`: the splittable node with the
 * largest gain is split next, until `maxLeafNodes` leaves, `maxDepth`, `minSamplesLeaf` or a lack of
 * positive gain stops it. The histogram of the smaller child is built from its rows and the larger
 * child's is the parent's minus it. Histograms live in a fixed pool of slots; when the pool runs dry
 * (only without a leaf limit) the slot of the node due to be split last is given up, and its children are
 * then both built from their rows.
 */
import { BIN_STRIDE, C, CH, CHILD_STRIDE, R, RESULT_STRIDE, ROOT_SUMS_RESULT, TASK, type KernelArrays } from './kernels.ts';
import type { TaskRunner } from './threads.ts';
import type { Tree } from './tree.ts';

/** The hyperparameters a grower needs. */
export interface GrowerParams {
  readonly maxLeafNodes: number | null;
  readonly maxDepth: number | null;
  readonly minSamplesLeaf: number;
  readonly l2Regularization: number;
  readonly learningRate: number;
  readonly constantHessian: boolean;
}

/** Nodes with fewer rows are split by one thread: below this the hand-off costs more than it saves. */
const PARALLEL_MIN_ROWS = 4096;

/** scikit-learn's `min_hessian_to_split`. */
const MIN_HESSIAN_TO_SPLIT = 1e-3;

/** Histogram slots to keep for `params` and a slot size in bytes, bounded by a memory budget. */
export function histogramSlots(params: GrowerParams, slotBytes: number): number {
  const budget = Math.max(3, Math.floor((512 * 1024 * 1024) / slotBytes));
  const wanted = params.maxLeafNodes !== null ? params.maxLeafNodes + 1 : 64;
  return Math.max(3, Math.min(wanted, budget));
}

/** Grows trees over the arrays of one fit; reuses its buffers from tree to tree. */
export class TreeGrower {
  readonly #a: KernelArrays;
  readonly #runner: TaskRunner;
  readonly #p: GrowerParams;
  readonly #thresholds: readonly Float32Array[];
  readonly #threads: number;
  readonly #freeSlots: number[] = [];
  #cap = 0;
  #start = new Int32Array(0);
  #end = new Int32Array(0);
  #depth = new Int32Array(0);
  #slot = new Int32Array(0);
  #leaf = new Uint8Array(0);
  #left = new Int32Array(0);
  #right = new Int32Array(0);
  #sumG = new Float64Array(0);
  #sumH = new Float64Array(0);
  #value = new Float64Array(0);
  #gain = new Float64Array(0);
  #feature = new Int32Array(0);
  #bin = new Int32Array(0);
  #missingLeft = new Uint8Array(0);
  #gl = new Float64Array(0);
  #hl = new Float64Array(0);
  #nl = new Float64Array(0);
  #nNodes = 0;
  #heap: number[] = [];
  #finalized: number[] = [];

  constructor(arrays: KernelArrays, runner: TaskRunner, params: GrowerParams, thresholds: readonly Float32Array[], slots: number) {
    this.#a = arrays;
    this.#runner = runner;
    this.#p = params;
    this.#thresholds = thresholds;
    this.#threads = runner.threads;
    for (let s = slots - 1; s >= 0; s--) this.#freeSlots.push(s);
    this.#grow(params.maxLeafNodes !== null ? 2 * params.maxLeafNodes : 64);
    const ctl = arrays.ctl;
    ctl[C.CONST_HESS] = params.constantHessian ? 1 : 0;
    ctl[C.L2] = params.l2Regularization;
    ctl[C.MIN_LEAF] = params.minSamplesLeaf;
    ctl[C.MIN_HESS] = MIN_HESSIAN_TO_SPLIT;
  }

  /**
   * Grows the tree of class `k` from the current gradients, adds its leaf values to the raw predictions
   * of the training rows (and, with `thenGradients`, computes the next gradients) and returns it.
   */
  growTree(k: number, thenGradients = false): Tree {
    const a = this.#a;
    const ctl = a.ctl;
    const n = a.n;
    const p = this.#p;
    this.#nNodes = 0;
    this.#heap.length = 0;
    this.#finalized.length = 0;
    ctl[C.CLASS] = k;
    const root = this.#newNode(0, n, 0, 0, 0, 0);
    if (n < 2 * p.minSamplesLeaf) {
      this.#finalize(root);
    } else {
      this.#slot[root] = this.#takeSlot();
      ctl[C.CODE] = TASK.ROOT;
      ctl[C.START] = 0;
      ctl[C.END] = n;
      this.#setChild(0, root, true);
      // The root task resets the partition and sums the gradients and hessians.
      this.#runner.run(this.#chunks(n));
      this.#sumG[root] = a.res[ROOT_SUMS_RESULT];
      this.#sumH[root] = a.res[ROOT_SUMS_RESULT + 1];
      this.#readSplit(root, 0);
      if (this.#gain[root] <= 0) this.#finalize(root);
      else this.#push(root);
    }
    while (this.#heap.length > 0) this.#split(this.#pop());
    return this.#emit(k, thenGradients);
  }

  /** Splits `node`: partitions its rows, and builds the histograms and finds the splits of the children that may split further. */
  #split(node: number): void {
    const a = this.#a;
    const ctl = a.ctl;
    const p = this.#p;
    const start = this.#start[node];
    const end = this.#end[node];
    const nLeft = this.#nl[node];
    const nRight = end - start - nLeft;
    const depth = this.#depth[node] + 1;
    const gl = this.#gl[node];
    const hl = this.#hl[node];
    const gr = this.#sumG[node] - gl;
    const hr = this.#sumH[node] - hl;
    const l2 = p.l2Regularization;
    const left = this.#newNode(start, start + nLeft, depth, gl, hl, -gl / (hl + l2 + 1e-15));
    const right = this.#newNode(start + nLeft, end, depth, gr, hr, -gr / (hr + l2 + 1e-15));
    this.#left[node] = left;
    this.#right[node] = right;
    const f = this.#feature[node];

    // The same stopping rules, in the same order, as scikit-learn's grower.
    let stopAll = false;
    let splitLeft = true;
    let splitRight = true;
    if (p.maxLeafNodes !== null && this.#finalized.length + this.#heap.length + 2 === p.maxLeafNodes) {
      stopAll = true;
      splitLeft = splitRight = false;
    } else if (p.maxDepth !== null && depth === p.maxDepth) {
      splitLeft = splitRight = false;
    } else {
      splitLeft = nLeft >= 2 * p.minSamplesLeaf;
      splitRight = nRight >= 2 * p.minSamplesLeaf;
    }
    const parentSlot = this.#slot[node];
    const small = nLeft < nRight ? 0 : 1;
    if (splitLeft || splitRight) {
      if (parentSlot >= 0) {
        // The smaller child is histogrammed from its rows, the larger one by subtraction if it needs one.
        const needs = [small === 0 || splitLeft, small === 1 || splitRight];
        if (needs[0]) this.#slot[left] = this.#takeSlot();
        if (needs[1]) this.#slot[right] = this.#takeSlot();
      } else {
        if (splitLeft) this.#slot[left] = this.#takeSlot();
        if (splitRight) this.#slot[right] = this.#takeSlot();
      }
    }
    ctl[C.CODE] = TASK.SPLIT;
    ctl[C.START] = start;
    ctl[C.END] = end;
    ctl[C.PARENT_SLOT] = parentSlot;
    ctl[C.FEATURE] = f;
    ctl[C.BIN] = this.#bin[node];
    ctl[C.MISSING_LEFT] = this.#missingLeft[node];
    ctl[C.SMALL] = small;
    this.#setChild(0, left, splitLeft);
    this.#setChild(1, right, splitRight);
    this.#runner.run(this.#chunks(end - start));
    const partitioned = ctl[C.COUNTS] + ctl[C.COUNTS + 2];
    if (partitioned !== nLeft) throw new Error(`tree grower: partition gave ${partitioned} left rows, histogram said ${nLeft}`);
    // Without missing values in training, NaN at predict time follows the larger child (as scikit-learn).
    if (a.hasMissing[f] === 0) this.#missingLeft[node] = nLeft > nRight ? 1 : 0;
    this.#releaseSlot(node);

    if (stopAll) {
      this.#finalize(left);
      this.#finalize(right);
      while (this.#heap.length > 0) this.#finalize(this.#heap.pop()!);
      return;
    }
    for (const [child, c, splittable] of [[left, 0, splitLeft], [right, 1, splitRight]] as const) {
      if (!splittable) {
        this.#finalize(child);
        continue;
      }
      this.#readSplit(child, c);
      if (this.#gain[child] <= 0) this.#finalize(child);
      else this.#push(child);
    }
  }

  /**
   * Sets the chunks of rows of a node of `rows` rows (two for large nodes, whatever the number of threads,
   * so that the sums do not depend on it) and returns the threads to run the task on.
   */
  #chunks(rows: number): number {
    const chunks = rows >= PARALLEL_MIN_ROWS ? 2 : 1;
    this.#a.ctl[C.CHUNKS] = chunks;
    return Math.min(chunks, this.#threads);
  }

  #setChild(c: number, node: number, find: boolean): void {
    const ctl = this.#a.ctl;
    const b = C.CHILD + c * CHILD_STRIDE;
    ctl[b + CH.SLOT] = this.#slot[node];
    ctl[b + CH.FIND] = find ? 1 : 0;
    ctl[b + CH.SUM_G] = this.#sumG[node];
    ctl[b + CH.SUM_H] = this.#sumH[node];
    ctl[b + CH.VALUE] = this.#value[node];
  }

  /** Takes the best of the threads' candidates for child `c`; threads hold increasing feature ranges. */
  #readSplit(node: number, c: number): void {
    const res = this.#a.res;
    const participants = this.#a.ctl[C.PARTICIPANTS];
    let best = c * RESULT_STRIDE;
    for (let t = 1; t < participants; t++) {
      const o = (t * 2 + c) * RESULT_STRIDE;
      if (res[o + R.GAIN] > res[best + R.GAIN]) best = o;
    }
    this.#gain[node] = res[best + R.GAIN];
    this.#feature[node] = res[best + R.FEATURE];
    this.#bin[node] = res[best + R.BIN];
    this.#missingLeft[node] = res[best + R.MISSING_LEFT];
    this.#gl[node] = res[best + R.SUM_GL];
    this.#hl[node] = res[best + R.SUM_HL];
    this.#nl[node] = res[best + R.N_L];
  }

  #newNode(start: number, end: number, depth: number, sumG: number, sumH: number, value: number): number {
    if (this.#nNodes === this.#cap) this.#grow(this.#cap * 2);
    const i = this.#nNodes++;
    this.#start[i] = start;
    this.#end[i] = end;
    this.#depth[i] = depth;
    this.#sumG[i] = sumG;
    this.#sumH[i] = sumH;
    this.#value[i] = value;
    this.#slot[i] = -1;
    this.#leaf[i] = 0;
    this.#left[i] = -1;
    this.#right[i] = -1;
    this.#feature[i] = -1;
    this.#gain[i] = -1;
    return i;
  }

  #finalize(node: number): void {
    this.#leaf[node] = 1;
    this.#releaseSlot(node);
    this.#finalized.push(node);
  }

  #releaseSlot(node: number): void {
    if (this.#slot[node] >= 0) {
      this.#freeSlots.push(this.#slot[node]);
      this.#slot[node] = -1;
    }
  }

  /** A free histogram slot; when none is left, the slot of the heap node with the smallest gain. */
  #takeSlot(): number {
    const free = this.#freeSlots.pop();
    if (free !== undefined) return free;
    let victim = -1;
    for (const node of this.#heap) {
      if (this.#slot[node] < 0) continue;
      if (victim < 0 || this.#gain[node] < this.#gain[victim]) victim = node;
    }
    if (victim < 0) throw new Error('tree grower: histogram pool exhausted');
    const slot = this.#slot[victim];
    this.#slot[victim] = -1;
    return slot;
  }

  #push(node: number): void {
    const heap = this.#heap;
    const gain = this.#gain;
    heap.push(node);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (gain[heap[parent]] >= gain[heap[i]]) break;
      [heap[parent], heap[i]] = [heap[i], heap[parent]];
      i = parent;
    }
  }

  #pop(): number {
    const heap = this.#heap;
    const gain = this.#gain;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && gain[heap[l]] > gain[heap[m]]) m = l;
        if (r < heap.length && gain[heap[r]] > gain[heap[m]]) m = r;
        if (m === i) break;
        [heap[m], heap[i]] = [heap[i], heap[m]];
        i = m;
      }
    }
    return top;
  }

  /** Applies the learning rate to the leaves, updates the raw predictions and packs the tree. */
  #emit(k: number, thenGradients: boolean): Tree {
    const a = this.#a;
    const nNodes = this.#nNodes;
    const lr = this.#p.learningRate;
    const tree: Tree = {
      feature: new Int32Array(nNodes),
      threshold: new Float32Array(nNodes),
      binThreshold: new Uint8Array(nNodes),
      missingLeft: new Uint8Array(nNodes),
      left: new Int32Array(nNodes),
      right: new Int32Array(nNodes),
      value: new Float64Array(nNodes),
      cover: new Float64Array(nNodes),
    };
    const positionValue = a.positionValue;
    for (let i = 0; i < nNodes; i++) {
      tree.cover[i] = this.#end[i] - this.#start[i];
      if (this.#leaf[i] === 1) {
        tree.feature[i] = -1;
        tree.left[i] = -1;
        tree.right[i] = -1;
        const v = this.#value[i] * lr;
        tree.value[i] = v;
        positionValue.fill(v, this.#start[i], this.#end[i]);
        continue;
      }
      const f = this.#feature[i];
      const bin = this.#bin[i];
      tree.feature[i] = f;
      tree.binThreshold[i] = bin;
      tree.threshold[i] = bin === a.nBinsNonMissing[f] - 1 ? Infinity : this.#thresholds[f][bin];
      tree.missingLeft[i] = this.#missingLeft[i];
      tree.left[i] = this.#left[i];
      tree.right[i] = this.#right[i];
    }
    a.ctl[C.CODE] = TASK.RAW_UPDATE;
    a.ctl[C.CLASS] = k;
    a.ctl[C.THEN_GRADIENTS] = thenGradients ? 1 : 0;
    this.#runner.run();
    return tree;
  }

  #grow(cap: number): void {
    const copy = <T extends Int32Array | Uint8Array | Float64Array>(old: T, make: (n: number) => T): T => {
      const next = make(cap);
      next.set(old as never);
      return next;
    };
    this.#start = copy(this.#start, (n) => new Int32Array(n));
    this.#end = copy(this.#end, (n) => new Int32Array(n));
    this.#depth = copy(this.#depth, (n) => new Int32Array(n));
    this.#slot = copy(this.#slot, (n) => new Int32Array(n));
    this.#leaf = copy(this.#leaf, (n) => new Uint8Array(n));
    this.#left = copy(this.#left, (n) => new Int32Array(n));
    this.#right = copy(this.#right, (n) => new Int32Array(n));
    this.#sumG = copy(this.#sumG, (n) => new Float64Array(n));
    this.#sumH = copy(this.#sumH, (n) => new Float64Array(n));
    this.#value = copy(this.#value, (n) => new Float64Array(n));
    this.#gain = copy(this.#gain, (n) => new Float64Array(n));
    this.#feature = copy(this.#feature, (n) => new Int32Array(n));
    this.#bin = copy(this.#bin, (n) => new Int32Array(n));
    this.#missingLeft = copy(this.#missingLeft, (n) => new Uint8Array(n));
    this.#gl = copy(this.#gl, (n) => new Float64Array(n));
    this.#hl = copy(this.#hl, (n) => new Float64Array(n));
    this.#nl = copy(this.#nl, (n) => new Float64Array(n));
    this.#cap = cap;
  }
}

/** Bytes of one histogram slot for `nFeatures` features and `nBins` bins. */
export function slotBytes(nFeatures: number, nBins: number): number {
  return nFeatures * nBins * BIN_STRIDE * 8;
}
