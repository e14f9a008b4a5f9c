/**
 * One regression tree of a boosted ensemble, stored as parallel typed arrays (structure of arrays), and
 * its prediction rules.
 *
 * A split sends a row left when its value, rounded to float32, is `<= threshold`; a missing value (NaN)
 * goes where `missingLeft` says. Thresholds are float32 values so that the ONNX `TreeEnsemble*`
 * operators, which compare float32 inputs, take exactly the same path. A threshold of `+Infinity` is a
 * "split on missing": every present value goes left, missing values go right.
 */

/** A fitted regression tree. Node 0 is the root; `feature[i] < 0` marks a leaf. */
export interface Tree {
  /** Split feature per node; -1 for a leaf. */
  readonly feature: Int32Array;
  /** Split threshold per node (float32 values); 0 for a leaf. */
  readonly threshold: Float32Array;
  /** Split bin per node: rows whose bin is `<= binThreshold` go left (used on binned data). */
  readonly binThreshold: Uint8Array;
  /** 1 when missing values go to the left child. */
  readonly missingLeft: Uint8Array;
  /** Left child per node; -1 for a leaf. */
  readonly left: Int32Array;
  /** Right child per node; -1 for a leaf. */
  readonly right: Int32Array;
  /** Leaf value (learning rate applied) per node; 0 for internal nodes. */
  readonly value: Float64Array;
  /** Training rows that reached each node; the cover that weights TreeSHAP's expectations. */
  readonly cover: Float64Array;
}

/** The leaf value `tree` gives the float32 row `x32[offset .. offset + nFeatures)`. */
export function predictTreeRow(tree: Tree, x32: Float32Array, offset: number): number {
  const { feature, threshold, missingLeft, left, right, value } = tree;
  let node = 0;
  let f = feature[0];
  while (f >= 0) {
    const v = x32[offset + f];
    if (v !== v) node = missingLeft[node] === 1 ? left[node] : right[node];
    else node = v <= threshold[node] ? left[node] : right[node];
    f = feature[node];
  }
  return value[node];
}

/**
 * Adds the leaf value of `tree` for every row of the column-major binned matrix `binned` (`nRows` rows)
 * to `out[row * stride + column]`. `missingBin` is the bin of missing values.
 */
export function addTreeBinned(
  tree: Tree,
  binned: Uint8Array,
  nRows: number,
  missingBin: number,
  out: Float64Array,
  stride: number,
  column: number,
): void {
  const { feature, binThreshold, missingLeft, left, right, value } = tree;
  for (let r = 0; r < nRows; r++) {
    let node = 0;
    let f = feature[0];
    while (f >= 0) {
      const b = binned[f * nRows + r];
      if (b === missingBin) node = missingLeft[node] === 1 ? left[node] : right[node];
      else node = b <= binThreshold[node] ? left[node] : right[node];
      f = feature[node];
    }
    out[r * stride + column] += value[node];
  }
}

/** The JSON form of a {@link Tree}: plain arrays; an infinite threshold is written as `null`. */
export interface TreeJson {
  feature: number[];
  threshold: (number | null)[];
  binThreshold: number[];
  missingLeft: number[];
  left: number[];
  right: number[];
  value: number[];
  cover: number[];
}

/** Serializes a tree. */
export function treeToJson(tree: Tree): TreeJson {
  return {
    feature: Array.from(tree.feature),
    threshold: Array.from(tree.threshold, (t) => (Number.isFinite(t) ? t : null)),
    binThreshold: Array.from(tree.binThreshold),
    missingLeft: Array.from(tree.missingLeft),
    left: Array.from(tree.left),
    right: Array.from(tree.right),
    value: Array.from(tree.value),
    cover: Array.from(tree.cover),
  };
}

/** Reads a tree written by {@link treeToJson}, checking that its arrays agree and its links stay inside it. */
export function treeFromJson(json: TreeJson): Tree {
  const n = json.feature.length;
  const arrays = [json.threshold, json.binThreshold, json.missingLeft, json.left, json.right, json.value, json.cover];
  if (n === 0 || arrays.some((a) => !Array.isArray(a) || a.length !== n)) {
    throw new Error('tree: node arrays are missing or differ in length');
  }
  const tree: Tree = {
    feature: Int32Array.from(json.feature),
    threshold: Float32Array.from(json.threshold, (t) => (t === null ? Infinity : t)),
    binThreshold: Uint8Array.from(json.binThreshold),
    missingLeft: Uint8Array.from(json.missingLeft),
    left: Int32Array.from(json.left),
    right: Int32Array.from(json.right),
    value: Float64Array.from(json.value),
    cover: Float64Array.from(json.cover),
  };
  for (let i = 0; i < n; i++) {
    if (tree.feature[i] < 0) continue;
    // Children always come after their parent, so a corrupt file cannot make prediction loop forever.
    if (!(tree.left[i] > i && tree.left[i] < n && tree.right[i] > i && tree.right[i] < n)) {
      throw new Error(`tree: node ${i} has children outside the tree`);
    }
  }
  return tree;
}
