/**
 * Exact TreeSHAP (Lundberg, Erion & Lee 2018, "Consistent Individualized Feature Attribution for Tree
 * Ensembles", Algorithm 2): per-row Shapley values of a tree ensemble's raw output under the
 * path-dependent conditional expectation, where a feature outside the coalition splits a row between both
 * children in proportion to their training cover. Polynomial time: O(leaves × depth²) per tree and row.
 *
 * The ensemble's raw output is the margin (log-odds for binary; one output per class for multiclass).
 * For every row and output, the values sum to the raw prediction minus the base value.
 */
import type { Matrix } from '../types.ts';
import type { Tree } from './tree.ts';

/** What TreeSHAP needs of an ensemble. */
export interface TreeEnsemble {
  readonly nFeatures: number;
  /** Outputs of the raw prediction (classes for multiclass, else 1); tree t adds to output t % treesPerIteration. */
  readonly treesPerIteration: number;
  /** Raw prediction before any tree, per output. */
  readonly baseline: Float64Array;
  readonly trees: readonly Tree[];
}

/** SHAP values of some rows. */
export interface TreeShapValues {
  readonly rows: number;
  readonly nOutputs: number;
  readonly nFeatures: number;
  /** `values[(row * nOutputs + output) * nFeatures + feature]`. */
  readonly values: Float64Array;
  /** The expected raw output over the training cover, per output: raw(x) = base + Σ values. */
  readonly baseValues: Float64Array;
}

/**
 * SHAP values of every row of `x` (NaN = missing) for every output of `model`, in raw (margin) space.
 * Rows follow the trees exactly as prediction does: float32 values, `<= threshold` goes left, missing
 * values follow the learned direction.
 */
export function treeShap(model: TreeEnsemble, x: Matrix): TreeShapValues {
  if (x.cols !== model.nFeatures) throw new Error(`treeShap: expected ${model.nFeatures} columns, got ${x.cols}`);
  const K = model.treesPerIteration;
  const F = model.nFeatures;
  const values = new Float64Array(x.rows * K * F);
  const baseValues = Float64Array.from(model.baseline);
  const x32 = Float32Array.from(x.data);
  let maxDepth = 0;
  for (const tree of model.trees) maxDepth = Math.max(maxDepth, treeDepth(tree));
  const state = new PathState(maxDepth + 2);
  const phi = new Float64Array(F);
  for (let t = 0; t < model.trees.length; t++) {
    const tree = model.trees[t];
    const k = t % K;
    baseValues[k] += expectedValue(tree);
    for (let r = 0; r < x.rows; r++) {
      phi.fill(0);
      state.row = x32;
      state.offset = r * F;
      state.phi = phi;
      recurse(tree, state, 0, 0, 0, 1, 1, -1);
      const out = (r * K + k) * F;
      for (let f = 0; f < F; f++) values[out + f] += phi[f];
    }
  }
  return { rows: x.rows, nOutputs: K, nFeatures: F, values, baseValues };
}

/** The cover-weighted mean leaf value of `tree`: its expected output over the training rows. */
export function expectedValue(tree: Tree): number {
  const mean = (node: number): number => {
    if (tree.feature[node] < 0) return tree.value[node];
    const l = tree.left[node];
    const r = tree.right[node];
    return (mean(l) * tree.cover[l] + mean(r) * tree.cover[r]) / tree.cover[node];
  };
  return mean(0);
}

function treeDepth(tree: Tree): number {
  const depth = (node: number): number => (tree.feature[node] < 0 ? 0 : 1 + Math.max(depth(tree.left[node]), depth(tree.right[node])));
  return depth(0);
}

/**
 * The "unique path" of the algorithm, one segment per recursion level laid out back to back as in the
 * reference implementation: the segment of a level starts right after its parent's.
 */
class PathState {
  readonly feature: Int32Array;
  readonly zero: Float64Array;
  readonly one: Float64Array;
  readonly weight: Float64Array;
  row = new Float32Array(0);
  offset = 0;
  phi = new Float64Array(0);

  constructor(maxDepth: number) {
    const size = (maxDepth * (maxDepth + 1)) / 2 + maxDepth + 1;
    this.feature = new Int32Array(size);
    this.zero = new Float64Array(size);
    this.one = new Float64Array(size);
    this.weight = new Float64Array(size);
  }
}

function recurse(
  tree: Tree,
  s: PathState,
  node: number,
  parentStart: number,
  depth: number,
  parentZero: number,
  parentOne: number,
  parentFeature: number,
): void {
  // This level's copy of the path starts after the parent's (depth + 1 elements).
  const start = parentStart + depth + 1;
  s.feature.copyWithin(start, parentStart, parentStart + depth + 1);
  s.zero.copyWithin(start, parentStart, parentStart + depth + 1);
  s.one.copyWithin(start, parentStart, parentStart + depth + 1);
  s.weight.copyWithin(start, parentStart, parentStart + depth + 1);
  extend(s, start, depth, parentZero, parentOne, parentFeature);

  const f = tree.feature[node];
  if (f < 0) {
    const v = tree.value[node];
    for (let i = 1; i <= depth; i++) {
      const w = unwoundSum(s, start, depth, i);
      s.phi[s.feature[start + i]] += w * (s.one[start + i] - s.zero[start + i]) * v;
    }
    return;
  }
  const value = s.row[s.offset + f];
  const left = tree.left[node];
  const right = tree.right[node];
  const goLeft = value !== value ? tree.missingLeft[node] === 1 : value <= tree.threshold[node];
  const hot = goLeft ? left : right;
  const cold = goLeft ? right : left;
  const cover = tree.cover[node];
  const hotZero = tree.cover[hot] / cover;
  const coldZero = tree.cover[cold] / cover;
  let incomingZero = 1;
  let incomingOne = 1;
  // A feature already on the path is unwound first, so that it appears once with its combined fractions.
  let k = 0;
  for (; k <= depth; k++) if (s.feature[start + k] === f) break;
  if (k <= depth) {
    incomingZero = s.zero[start + k];
    incomingOne = s.one[start + k];
    unwind(s, start, depth, k);
    depth -= 1;
  }
  recurse(tree, s, hot, start, depth + 1, hotZero * incomingZero, incomingOne, f);
  recurse(tree, s, cold, start, depth + 1, coldZero * incomingZero, 0, f);
}

function extend(s: PathState, start: number, depth: number, zero: number, one: number, feature: number): void {
  const w = s.weight;
  s.feature[start + depth] = feature;
  s.zero[start + depth] = zero;
  s.one[start + depth] = one;
  w[start + depth] = depth === 0 ? 1 : 0;
  for (let i = depth - 1; i >= 0; i--) {
    w[start + i + 1] += (one * w[start + i] * (i + 1)) / (depth + 1);
    w[start + i] = (zero * w[start + i] * (depth - i)) / (depth + 1);
  }
}

function unwind(s: PathState, start: number, depth: number, index: number): void {
  const w = s.weight;
  const one = s.one[start + index];
  const zero = s.zero[start + index];
  let next = w[start + depth];
  for (let i = depth - 1; i >= 0; i--) {
    if (one !== 0) {
      const tmp = w[start + i];
      w[start + i] = (next * (depth + 1)) / ((i + 1) * one);
      next = tmp - (w[start + i] * zero * (depth - i)) / (depth + 1);
    } else {
      w[start + i] = (w[start + i] * (depth + 1)) / (zero * (depth - i));
    }
  }
  for (let i = index; i < depth; i++) {
    s.feature[start + i] = s.feature[start + i + 1];
    s.zero[start + i] = s.zero[start + i + 1];
    s.one[start + i] = s.one[start + i + 1];
  }
}

function unwoundSum(s: PathState, start: number, depth: number, index: number): number {
  const w = s.weight;
  const one = s.one[start + index];
  const zero = s.zero[start + index];
  let next = w[start + depth];
  let total = 0;
  for (let i = depth - 1; i >= 0; i--) {
    if (one !== 0) {
      const tmp = (next * (depth + 1)) / ((i + 1) * one);
      total += tmp;
      next = w[start + i] - (tmp * zero * (depth - i)) / (depth + 1);
    } else if (zero !== 0) {
      total += w[start + i] / zero / ((depth - i) / (depth + 1));
    }
  }
  return total;
}
