/**
 * Calibration: the reliability curve of `sklearn.calibration.calibration_curve` (uniform or quantile
 * bins, same edges and same bin assignment) and the expected calibration error built on it.
 */
import { invalidParam } from '../../core/errors.ts';
import { percentileSorted } from '../stats.ts';
import {
  checkBinaryLabels,
  checkClassIndices,
  checkProbabilities,
  checkScoreMatrix,
  isScoreMatrix,
  requireLength,
  requireNonEmpty,
  type ScoreMatrix,
  type Vector,
} from './common.ts';

/** How bin edges are chosen: equal widths on [0, 1], or quantiles of the predicted probabilities. */
export type BinStrategy = 'uniform' | 'quantile';

/** Options of {@link calibrationCurve} and {@link expectedCalibrationError}. */
export interface CalibrationOptions {
  /** Number of bins; default 5 for the curve (scikit-learn's default), 10 for ECE. */
  readonly nBins?: number;
  /** Default `'uniform'`. */
  readonly strategy?: BinStrategy;
}

/** One non-empty bin of a calibration curve. */
export interface CalibrationBin {
  /** Position of the bin among all `edges.length − 1` bins. */
  readonly index: number;
  readonly lower: number;
  readonly upper: number;
  readonly count: number;
  /** Mean predicted probability (scikit-learn's `prob_pred`). */
  readonly meanPredicted: number;
  /** Fraction of positives (scikit-learn's `prob_true`). */
  readonly fractionPositive: number;
}

/** A calibration curve: the bin edges and the non-empty bins in order. */
export interface CalibrationCurve {
  readonly edges: number[];
  readonly bins: CalibrationBin[];
}

function binEdges(yProb: Vector, nBins: number, strategy: BinStrategy): number[] {
  if (!Number.isInteger(nBins) || nBins < 1) throw invalidParam('nBins', `must be a positive integer, got ${nBins}`);
  // numpy.linspace(0, 1, nBins + 1): i * step, last point set to exactly 1.
  const step = 1 / nBins;
  const grid = Array.from({ length: nBins + 1 }, (_, i) => (i === nBins ? 1 : i * step));
  if (strategy === 'uniform') return grid;
  if (strategy === 'quantile') {
    const sorted = Float64Array.from(yProb).sort();
    return grid.map((q) => percentileSorted(sorted, q * 100));
  }
  throw invalidParam('strategy', `unknown strategy ${JSON.stringify(strategy)}; expected uniform or quantile`);
}

/**
 * Reliability curve of a binary classifier: for each non-empty bin of predicted P(class 1), the mean
 * prediction and the observed fraction of positives. A probability equal to an inner edge falls in the
 * lower bin (`numpy.searchsorted(edges[1:-1], p)`), as in scikit-learn.
 */
export function calibrationCurve(yTrue: Vector, yProb: Vector, options: CalibrationOptions = {}): CalibrationCurve {
  requireNonEmpty('yTrue', yTrue);
  requireLength('yProb', yProb, yTrue.length);
  checkBinaryLabels('yTrue', yTrue);
  checkProbabilities('yProb', yProb);
  const edges = binEdges(yProb, options.nBins ?? 5, options.strategy ?? 'uniform');
  const nb = edges.length - 1;
  const sums = new Float64Array(nb);
  const trues = new Float64Array(nb);
  const totals = new Float64Array(nb);
  for (let i = 0; i < yProb.length; i++) {
    const p = yProb[i];
    let lo = 1;
    let hi = nb;
    // First inner edge >= p; bins 0..nb-1.
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (edges[mid] < p) lo = mid + 1;
      else hi = mid;
    }
    const b = lo - 1;
    sums[b] += p;
    trues[b] += yTrue[i];
    totals[b]++;
  }
  const bins: CalibrationBin[] = [];
  for (let b = 0; b < nb; b++) {
    if (totals[b] === 0) continue;
    bins.push({
      index: b,
      lower: edges[b],
      upper: edges[b + 1],
      count: totals[b],
      meanPredicted: sums[b] / totals[b],
      fractionPositive: trues[b] / totals[b],
    });
  }
  return { edges, bins };
}

/**
 * Expected calibration error: Σ_b (n_b / n) · |acc_b − conf_b| over the non-empty bins of
 * {@link calibrationCurve}, i.e. the count-weighted mean gap between accuracy and confidence.
 * Binary (`yProb` a vector of P(class 1)): acc_b is the fraction of positives and conf_b the mean
 * P(class 1). Multiclass (a score matrix): top-label ECE — conf is the largest probability of a row,
 * acc whether its arg-max is the true class. Default 10 uniform bins.
 */
export function expectedCalibrationError(yTrue: Vector, yProb: Vector | ScoreMatrix, options: CalibrationOptions = {}): number {
  requireNonEmpty('yTrue', yTrue);
  const n = yTrue.length;
  let outcome: Vector = yTrue;
  let confidence: Vector;
  if (isScoreMatrix(yProb)) {
    const data = checkScoreMatrix('yProb', yProb, n);
    checkProbabilities('yProb', data);
    const k = checkClassIndices('yTrue', yTrue);
    const cols = yProb.cols;
    if (k > cols) throw invalidParam('yTrue', `has class ${k - 1} but yProb has ${cols} columns`);
    const conf = new Float64Array(n);
    const hit = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      let best = 0;
      for (let c = 1; c < cols; c++) if (data[r * cols + c] > data[r * cols + best]) best = c;
      conf[r] = data[r * cols + best];
      hit[r] = best === yTrue[r] ? 1 : 0;
    }
    outcome = hit;
    confidence = conf;
  } else {
    confidence = yProb;
  }
  const curve = calibrationCurve(outcome, confidence, { nBins: options.nBins ?? 10, strategy: options.strategy });
  let ece = 0;
  for (const bin of curve.bins) ece += (bin.count / n) * Math.abs(bin.fractionPositive - bin.meanPredicted);
  return ece;
}
