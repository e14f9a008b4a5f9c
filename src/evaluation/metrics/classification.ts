/**
 * Classification metrics with scikit-learn 1.2.1 semantics (checked against its values in
 * `classification.test.ts`). Labels are class indices; binary problems use 0/1 with 1 positive.
 *
 * Deliberate choices where scikit-learn warns or raises:
 * - ROC AUC with one class present in `yTrue` throws (scikit-learn raises too).
 * - Average precision with no positive label throws: recall is undefined there, and scikit-learn's
 *   0 (with a warning) would read as "a useless ranking".
 * - `zeroDivision` takes 0 (scikit-learn's default `"warn"` behaves as 0) or 1; there are no warnings.
 */
import { invalidParam } from '../../core/errors.ts';
import {
  checkBinaryLabels,
  checkClassIndices,
  checkFinite,
  checkProbabilities,
  checkScoreMatrix,
  checkWeights,
  isScoreMatrix,
  requireLength,
  requireNonEmpty,
  weightedMean,
  type ScoreMatrix,
  type Vector,
  type WeightOptions,
} from './common.ts';

/** How per-class precision, recall and F1 are combined. */
export type Average = 'binary' | 'macro' | 'micro' | 'weighted';

/** Options of precision, recall and F1. */
export interface PrfOptions extends WeightOptions {
  /** Default `'binary'` (positive class 1), as scikit-learn. */
  readonly average?: Average;
  /** Classes to include (macro/micro/weighted); default: every class seen in `yTrue` or `yPred`. */
  readonly labels?: readonly number[];
  /** Value of a ratio whose denominator is zero: 0 (default) or 1. */
  readonly zeroDivision?: 0 | 1;
}

/** Precision, recall and F1 from one pass. */
export interface PrfScores {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
}

/** A confusion matrix: `matrix[i][j]` counts (or weighs) samples of class `labels[i]` predicted as `labels[j]`. */
export interface ConfusionMatrix {
  readonly labels: number[];
  readonly matrix: number[][];
}

function checkPair(yTrue: Vector, yPred: Vector): void {
  requireNonEmpty('yTrue', yTrue);
  requireLength('yPred', yPred, yTrue.length);
  checkClassIndices('yTrue', yTrue);
  checkClassIndices('yPred', yPred);
}

/** Sorted classes present in any of the vectors (`sklearn.utils.multiclass.unique_labels`). */
function presentLabels(...vs: Vector[]): number[] {
  const seen = new Set<number>();
  for (const v of vs) for (let i = 0; i < v.length; i++) seen.add(v[i]);
  return [...seen].sort((a, b) => a - b);
}

/** Fraction (weighted) of samples whose predicted class equals the true class. */
export function accuracy(yTrue: Vector, yPred: Vector, options: WeightOptions = {}): number {
  checkPair(yTrue, yPred);
  const w = checkWeights(options.sampleWeight, yTrue.length);
  const hit = new Float64Array(yTrue.length);
  for (let i = 0; i < yTrue.length; i++) hit[i] = yTrue[i] === yPred[i] ? 1 : 0;
  return weightedMean(hit, w);
}

/**
 * Confusion matrix over `labels` (default: classes seen in either vector), rows true and columns
 * predicted; samples whose classes are outside `labels` are left out, as in scikit-learn.
 */
export function confusionMatrix(
  yTrue: Vector,
  yPred: Vector,
  options: WeightOptions & { readonly labels?: readonly number[] } = {},
): ConfusionMatrix {
  checkPair(yTrue, yPred);
  const w = checkWeights(options.sampleWeight, yTrue.length);
  const labels = options.labels ? [...options.labels] : presentLabels(yTrue, yPred);
  if (labels.length === 0) throw invalidParam('labels', 'is empty');
  const index = new Map<number, number>();
  labels.forEach((l, i) => {
    if (index.has(l)) throw invalidParam('labels', `class ${l} is listed twice`);
    index.set(l, i);
  });
  const k = labels.length;
  const flat = new Float64Array(k * k);
  for (let i = 0; i < yTrue.length; i++) {
    const r = index.get(yTrue[i]);
    const c = index.get(yPred[i]);
    if (r === undefined || c === undefined) continue;
    flat[r * k + c] += w ? w[i] : 1;
  }
  const matrix: number[][] = [];
  for (let r = 0; r < k; r++) matrix.push(Array.from(flat.subarray(r * k, (r + 1) * k)));
  return { labels, matrix };
}

/**
 * Balanced accuracy: the mean of per-class recall over classes present in `yTrue` (a class only
 * predicted, never true, is dropped, as scikit-learn does with a warning).
 */
export function balancedAccuracy(yTrue: Vector, yPred: Vector, options: WeightOptions = {}): number {
  const { matrix } = confusionMatrix(yTrue, yPred, options);
  let sum = 0;
  let count = 0;
  for (let r = 0; r < matrix.length; r++) {
    let rowSum = 0;
    for (const x of matrix[r]) rowSum += x;
    if (rowSum === 0) continue;
    sum += matrix[r][r] / rowSum;
    count++;
  }
  return sum / count;
}

/** Precision, recall and F1 together (`precision_recall_fscore_support` with β = 1). */
export function precisionRecallF1(yTrue: Vector, yPred: Vector, options: PrfOptions = {}): PrfScores {
  checkPair(yTrue, yPred);
  const w = checkWeights(options.sampleWeight, yTrue.length);
  const average = options.average ?? 'binary';
  const zd = options.zeroDivision ?? 0;
  if (zd !== 0 && zd !== 1) throw invalidParam('zeroDivision', `must be 0 or 1, got ${String(zd)}`);
  let labels: number[];
  if (average === 'binary') {
    const present = presentLabels(yTrue, yPred);
    const extra = present.find((l) => l !== 0 && l !== 1);
    if (extra !== undefined) {
      throw invalidParam('average', `'binary' needs classes 0 and 1 only, found class ${extra}; use 'macro', 'micro' or 'weighted'`);
    }
    labels = [1];
  } else if (average === 'macro' || average === 'micro' || average === 'weighted') {
    labels = options.labels ? [...options.labels] : presentLabels(yTrue, yPred);
    if (labels.length === 0) throw invalidParam('labels', 'is empty');
  } else {
    throw invalidParam('average', `unknown average ${JSON.stringify(average)}; expected binary, macro, micro or weighted`);
  }
  const k = labels.length;
  const index = new Map<number, number>(labels.map((l, i) => [l, i]));
  let tp = new Float64Array(k);
  let predSum = new Float64Array(k);
  let trueSum = new Float64Array(k);
  for (let i = 0; i < yTrue.length; i++) {
    const weight = w ? w[i] : 1;
    const t = index.get(yTrue[i]);
    const p = index.get(yPred[i]);
    if (t !== undefined) trueSum[t] += weight;
    if (p !== undefined) predSum[p] += weight;
    if (t !== undefined && yTrue[i] === yPred[i]) tp[t] += weight;
  }
  if (average === 'micro') {
    tp = Float64Array.of(tp.reduce((a, b) => a + b, 0));
    predSum = Float64Array.of(predSum.reduce((a, b) => a + b, 0));
    trueSum = Float64Array.of(trueSum.reduce((a, b) => a + b, 0));
  }
  const m = tp.length;
  const precision = new Float64Array(m);
  const recall = new Float64Array(m);
  const f1 = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    precision[j] = predSum[j] === 0 ? zd : tp[j] / predSum[j];
    recall[j] = trueSum[j] === 0 ? zd : tp[j] / trueSum[j];
    const denom = precision[j] + recall[j];
    f1[j] = (2 * precision[j] * recall[j]) / (denom === 0 ? 1 : denom);
  }
  if (average === 'weighted') {
    let totalTrue = 0;
    let totalPred = 0;
    for (let j = 0; j < m; j++) {
      totalTrue += trueSum[j];
      totalPred += predSum[j];
    }
    if (totalTrue === 0) {
      // scikit-learn's special case: no true samples among the labels.
      return totalPred === 0 ? { precision: zd, recall: zd, f1: zd } : { precision: 0, recall: zd, f1: 0 };
    }
    return {
      precision: weightedMean(precision, trueSum),
      recall: weightedMean(recall, trueSum),
      f1: weightedMean(f1, trueSum),
    };
  }
  return { precision: weightedMean(precision, undefined), recall: weightedMean(recall, undefined), f1: weightedMean(f1, undefined) };
}

/** Precision: TP / (TP + FP), averaged as `options.average` says. */
export function precision(yTrue: Vector, yPred: Vector, options: PrfOptions = {}): number {
  return precisionRecallF1(yTrue, yPred, options).precision;
}

/** Recall: TP / (TP + FN), averaged as `options.average` says. */
export function recall(yTrue: Vector, yPred: Vector, options: PrfOptions = {}): number {
  return precisionRecallF1(yTrue, yPred, options).recall;
}

/** F1: the harmonic mean of precision and recall, averaged as `options.average` says. */
export function f1(yTrue: Vector, yPred: Vector, options: PrfOptions = {}): number {
  return precisionRecallF1(yTrue, yPred, options).f1;
}

/** Points of a binary ranking curve at each distinct score, highest score first. */
interface BinaryCurve {
  /** Cumulative (weighted) false positives at each threshold. */
  readonly fps: Float64Array;
  /** Cumulative (weighted) true positives at each threshold. */
  readonly tps: Float64Array;
}

/** scikit-learn's `_binary_clf_curve`: zero-weight samples dropped, ties grouped into one point. */
function binaryCurve(isPositive: (i: number) => boolean, score: (i: number) => number, n: number, w: Float64Array | undefined): BinaryCurve {
  if (!w) return unweightedCurve(isPositive, score, n);
  // Copy into typed arrays once: the sort and the sweep are the hot path of bootstrap intervals.
  let m = 0;
  for (let i = 0; i < n; i++) if (!w || w[i] !== 0) m++;
  const scores = new Float64Array(m);
  const positive = new Uint8Array(m);
  const weight = new Float64Array(m);
  for (let i = 0, j = 0; i < n; i++) {
    if (w && w[i] === 0) continue;
    scores[j] = score(i);
    positive[j] = isPositive(i) ? 1 : 0;
    weight[j] = w ? w[i] : 1;
    j++;
  }
  const order = new Uint32Array(m);
  for (let j = 0; j < m; j++) order[j] = j;
  order.sort((a, b) => scores[b] - scores[a]);
  const fps: number[] = [];
  const tps: number[] = [];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < m; k++) {
    const i = order[k];
    if (positive[i]) tp += weight[i];
    else fp += weight[i];
    if (k === m - 1 || scores[order[k + 1]] !== scores[i]) {
      tps.push(tp);
      fps.push(fp);
    }
  }
  return { fps: Float64Array.from(fps), tps: Float64Array.from(tps) };
}

/** The same curve without weights: positives and negatives sorted apart (native sort), then merged. */
function unweightedCurve(isPositive: (i: number) => boolean, score: (i: number) => number, n: number): BinaryCurve {
  let nPos = 0;
  for (let i = 0; i < n; i++) if (isPositive(i)) nPos++;
  const pos = new Float64Array(nPos);
  const neg = new Float64Array(n - nPos);
  for (let i = 0, a = 0, b = 0; i < n; i++) {
    if (isPositive(i)) pos[a++] = score(i);
    else neg[b++] = score(i);
  }
  pos.sort();
  neg.sort();
  const fps: number[] = [];
  const tps: number[] = [];
  let a = pos.length - 1;
  let b = neg.length - 1;
  let tp = 0;
  let fp = 0;
  while (a >= 0 || b >= 0) {
    const t = a < 0 ? neg[b] : b < 0 ? pos[a] : Math.max(pos[a], neg[b]);
    while (a >= 0 && pos[a] === t) {
      tp++;
      a--;
    }
    while (b >= 0 && neg[b] === t) {
      fp++;
      b--;
    }
    tps.push(tp);
    fps.push(fp);
  }
  return { fps: Float64Array.from(fps), tps: Float64Array.from(tps) };
}

function binaryRocAuc(curve: BinaryCurve): number {
  const { fps, tps } = curve;
  const m = fps.length;
  const totalFp = fps[m - 1];
  const totalTp = tps[m - 1];
  let area = 0;
  let prevX = 0;
  let prevY = 0;
  for (let j = 0; j < m; j++) {
    const x = fps[j] / totalFp;
    const y = tps[j] / totalTp;
    area += ((x - prevX) * (y + prevY)) / 2;
    prevX = x;
    prevY = y;
  }
  return area;
}

/**
 * Area under the ROC curve. Binary: `yScore` is a vector of scores for class 1 (or a 2-column
 * matrix, whose column 1 is used). Multiclass: a score matrix of probabilities (rows summing to 1),
 * scored one-vs-rest and macro-averaged; every class must occur in `yTrue`. Ties in scores count
 * half, as the trapezoidal rule gives. Throws when only one class is present: the AUC is undefined.
 */
export function rocAuc(yTrue: Vector, yScore: Vector | ScoreMatrix, options: WeightOptions = {}): number {
  requireNonEmpty('yTrue', yTrue);
  const n = yTrue.length;
  const k = checkClassIndices('yTrue', yTrue);
  const w = checkWeights(options.sampleWeight, n);
  if (isScoreMatrix(yScore) && yScore.cols > 2) {
    const data = checkScoreMatrix('yScore', yScore, n);
    checkFinite('yScore', data);
    const cols = yScore.cols;
    if (k > cols) throw invalidParam('yTrue', `has class ${k - 1} but yScore has ${cols} columns`);
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += data[r * cols + c];
      // numpy.allclose(1, s) as scikit-learn checks it.
      if (!(Math.abs(s - 1) <= 1e-8 + 1e-5 * Math.abs(s))) {
        throw invalidParam('yScore', `multiclass ROC AUC needs probabilities summing to 1 per row; row ${r} sums to ${s}`);
      }
    }
    const counts = new Float64Array(cols);
    for (let i = 0; i < n; i++) if (!w || w[i] !== 0) counts[yTrue[i]]++;
    let sum = 0;
    for (let c = 0; c < cols; c++) {
      if (counts[c] === 0) throw invalidParam('yTrue', `class ${c} never occurs, so its one-vs-rest ROC AUC is undefined`);
      if (counts[c] === n) throw invalidParam('yTrue', `only class ${c} is present; ROC AUC is undefined`);
      sum += binaryRocAuc(binaryCurve((i) => yTrue[i] === c, (i) => data[i * cols + c], n, w));
    }
    return sum / cols;
  }
  const score = binaryScores('yScore', yScore, n);
  checkBinaryLabels('yTrue', yTrue);
  const curve = binaryCurve((i) => yTrue[i] === 1, (i) => score[i], n, w);
  const m = curve.tps.length;
  if (curve.tps[m - 1] === 0 || curve.fps[m - 1] === 0) {
    throw invalidParam('yTrue', `only class ${curve.tps[m - 1] === 0 ? 0 : 1} is present; ROC AUC is undefined`);
  }
  return binaryRocAuc(curve);
}

/**
 * Average precision, scikit-learn's step-wise definition Σ (Rₙ − Rₙ₋₁) Pₙ over distinct score
 * thresholds (no interpolation). Binary only; throws when `yTrue` has no positive label.
 */
export function averagePrecision(yTrue: Vector, yScore: Vector | ScoreMatrix, options: WeightOptions = {}): number {
  requireNonEmpty('yTrue', yTrue);
  const n = yTrue.length;
  checkBinaryLabels('yTrue', yTrue);
  const score = binaryScores('yScore', yScore, n);
  const w = checkWeights(options.sampleWeight, n);
  const { tps, fps } = binaryCurve((i) => yTrue[i] === 1, (i) => score[i], n, w);
  const m = tps.length;
  const totalTp = tps[m - 1];
  if (totalTp === 0) throw invalidParam('yTrue', 'has no positive label; average precision is undefined');
  let ap = 0;
  let prevRecall = 0;
  for (let j = 0; j < m; j++) {
    const r = tps[j] / totalTp;
    const ps = tps[j] + fps[j];
    ap += (r - prevRecall) * (ps === 0 ? 0 : tps[j] / ps);
    prevRecall = r;
  }
  return ap;
}

/** Clipping bound of log loss: float64 machine epsilon (scikit-learn 1.2.1's `eps="auto"`). */
export const LOG_LOSS_EPS = 2.220446049250313e-16;

/**
 * Log loss (cross-entropy, natural log). `yProb` is P(class 1) for binary problems or a score matrix
 * with one column per class (column c for class index c, so a class missing from `yTrue` is fine).
 * Probabilities are clipped to [ε, 1 − ε] and each row renormalized to sum to 1, as scikit-learn 1.2.1 does.
 */
export function logLoss(yTrue: Vector, yProb: Vector | ScoreMatrix, options: WeightOptions = {}): number {
  requireNonEmpty('yTrue', yTrue);
  const n = yTrue.length;
  const k = checkClassIndices('yTrue', yTrue);
  const w = checkWeights(options.sampleWeight, n);
  const loss = new Float64Array(n);
  const clip = (p: number) => (p < LOG_LOSS_EPS ? LOG_LOSS_EPS : p > 1 - LOG_LOSS_EPS ? 1 - LOG_LOSS_EPS : p);
  if (isScoreMatrix(yProb)) {
    const data = checkScoreMatrix('yProb', yProb, n);
    checkProbabilities('yProb', data);
    const cols = yProb.cols;
    if (k > cols) throw invalidParam('yTrue', `has class ${k - 1} but yProb has ${cols} columns`);
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += clip(data[r * cols + c]);
      loss[r] = -Math.log(clip(data[r * cols + yTrue[r]]) / s);
    }
  } else {
    requireLength('yProb', yProb, n);
    checkProbabilities('yProb', yProb);
    if (k > 2) throw invalidParam('yProb', `is a vector (binary) but yTrue has class ${k - 1}; pass a score matrix`);
    for (let r = 0; r < n; r++) {
      const p = clip(yProb[r]);
      const s = 1 - p + p;
      loss[r] = -Math.log((yTrue[r] === 1 ? p : 1 - p) / s);
    }
  }
  return weightedMean(loss, w);
}

/** Brier score of a binary problem: the (weighted) mean of (yTrue − P(class 1))². */
export function brierScore(yTrue: Vector, yProb: Vector, options: WeightOptions = {}): number {
  requireNonEmpty('yTrue', yTrue);
  const n = yTrue.length;
  requireLength('yProb', yProb, n);
  checkBinaryLabels('yTrue', yTrue);
  checkProbabilities('yProb', yProb);
  const w = checkWeights(options.sampleWeight, n);
  const sq = new Float64Array(n);
  for (let i = 0; i < n; i++) sq[i] = (yTrue[i] - yProb[i]) ** 2;
  return weightedMean(sq, w);
}

/** Binary scores from a vector, or from column 1 of a 2-column score matrix. */
function binaryScores(field: string, yScore: Vector | ScoreMatrix, n: number): Vector {
  if (isScoreMatrix(yScore)) {
    const data = checkScoreMatrix(field, yScore, n);
    if (yScore.cols !== 2) throw invalidParam(field, `binary scores need 1 or 2 columns, got ${yScore.cols}`);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = data[i * 2 + 1];
    checkFinite(field, out);
    return out;
  }
  requireLength(field, yScore, n);
  checkFinite(field, yScore);
  return yScore;
}

/**
 * Predicted classes from scores: P(class 1) > 0.5 for a vector, the first arg-max for a matrix (so a
 * tie at 0.5 goes to class 0, as scikit-learn's `predict` does).
 */
export function labelsFromScores(yScore: Vector | ScoreMatrix): Float64Array {
  if (!isScoreMatrix(yScore)) return Float64Array.from(yScore, (p) => (p > 0.5 ? 1 : 0));
  const { rows, cols, data } = yScore;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (data[r * cols + c] > data[r * cols + best]) best = c;
    out[r] = best;
  }
  return out;
}
