/**
 * Permutation importance (global), with scikit-learn's `permutation_importance` semantics: the
 * importance of a feature is the drop of the score when that feature's column is shuffled, repeated
 * `nRepeats` times; the mean and the (population) standard deviation are reported. Scores are
 * "greater is better": for a loss such as RMSE the drop is `loss(permuted) − loss(original)`, as with
 * scikit-learn's `neg_` scorers.
 */
import { invalidParam } from '../../core/errors.ts';
import { Random } from '../../core/random.ts';
import type { Vector } from '../metrics/common.ts';
import { computeMetric, getMetric, type EvaluationData, type EvaluationTask } from '../metrics/registry.ts';
import { runPredicting, runPredictingAsync, type AsyncPredictFn, type FeatureMatrix, type Predicting, type PredictFn } from './types.ts';

/** A custom score of predictions against true values; greater must be better. */
export type Scorer = (yTrue: Vector, predictions: ArrayLike<number>) => number;

/** Options of {@link permutationImportance}. */
export interface PermutationImportanceOptions {
  /** Task of the model, which says how to read its predictions (as in `EvaluationData`). */
  readonly task: EvaluationTask;
  /** Number of classes for a multiclass model. */
  readonly nClasses?: number;
  /** A metric name from the registry (default `accuracy`, or `r2` for regression) … */
  readonly metric?: string;
  /** … or a custom scorer, which takes precedence. */
  readonly scorer?: Scorer;
  readonly sampleWeight?: Vector;
  /** Shuffles per feature; default 5. */
  readonly nRepeats?: number;
  /** Seed of the shuffles; default 0. */
  readonly seed?: number;
  /**
   * Row order to apply to feature `feature` in repeat `repeat` (the permuted column is
   * `column[order[i]]`). Default: seeded random permutations. Lets a caller reproduce another
   * tool's shuffles exactly.
   */
  readonly shuffle?: (feature: number, repeat: number) => ArrayLike<number>;
  /** Names reported with each feature. */
  readonly featureNames?: readonly string[];
}

/** Importance of one feature. */
export interface FeatureImportance {
  readonly feature: number;
  readonly name?: string;
  /** Score drop of each repeat. */
  readonly importances: number[];
  readonly mean: number;
  /** Population standard deviation over repeats (numpy's `std`, ddof = 0). */
  readonly std: number;
}

/** Result of {@link permutationImportance}. */
export interface PermutationImportanceResult {
  /** Score on the unpermuted data (greater is better; a loss is negated). */
  readonly baseline: number;
  /** Name of the metric used, or `custom`. */
  readonly metric: string;
  readonly features: FeatureImportance[];
}

/** Permutation importance of every feature of `x` for the model `predict` against `yTrue`. */
export function permutationImportance(predict: PredictFn, x: FeatureMatrix, yTrue: Vector, options: PermutationImportanceOptions): PermutationImportanceResult {
  return runPredicting(permutationImportanceSteps(x, yTrue, options), predict);
}

/** {@link permutationImportance} of a model that predicts asynchronously (the same numbers). */
export function permutationImportanceAsync(predict: AsyncPredictFn, x: FeatureMatrix, yTrue: Vector, options: PermutationImportanceOptions): Promise<PermutationImportanceResult> {
  return runPredictingAsync(permutationImportanceSteps(x, yTrue, options), predict);
}

/** {@link permutationImportance} as a computation that yields the matrices it needs predicted. */
export function* permutationImportanceSteps(x: FeatureMatrix, yTrue: Vector, options: PermutationImportanceOptions): Predicting<PermutationImportanceResult> {
  const { rows, cols } = x;
  if (x.data.length !== rows * cols) throw invalidParam('x', `data length ${x.data.length} is not rows × cols = ${rows * cols}`);
  if (rows < 2) throw invalidParam('x', 'needs at least 2 rows to permute');
  if (yTrue.length !== rows) throw invalidParam('yTrue', `length ${yTrue.length} does not match the ${rows} rows of x`);
  const nRepeats = options.nRepeats ?? 5;
  if (!Number.isInteger(nRepeats) || nRepeats < 1) throw invalidParam('nRepeats', `must be a positive integer, got ${nRepeats}`);
  if (options.featureNames && options.featureNames.length !== cols) {
    throw invalidParam('featureNames', `has ${options.featureNames.length} names for ${cols} features`);
  }
  const metric = options.scorer ? 'custom' : (options.metric ?? (options.task === 'regression' ? 'r2' : 'accuracy'));
  let score: (pred: ArrayLike<number>) => number;
  if (options.scorer) {
    const scorer = options.scorer;
    score = (pred) => scorer(yTrue, pred);
  } else {
    const def = getMetric(metric);
    const sign = def.greaterIsBetter ? 1 : -1;
    score = (pred) => {
      const data: EvaluationData =
        options.task === 'regression'
          ? { task: 'regression', yTrue, yPred: pred, sampleWeight: options.sampleWeight }
          : { task: options.task, yTrue, yScore: pred, nClasses: options.nClasses, sampleWeight: options.sampleWeight };
      return sign * computeMetric(metric, data);
    };
  }
  const baseline = score(yield x);
  const random = new Random(options.seed ?? 0);
  const permuted = new Float64Array(x.data);
  const column = new Float64Array(rows);
  const features: FeatureImportance[] = [];
  for (let j = 0; j < cols; j++) {
    for (let r = 0; r < rows; r++) column[r] = x.data[r * cols + j];
    const importances: number[] = [];
    for (let rep = 0; rep < nRepeats; rep++) {
      const order = options.shuffle ? options.shuffle(j, rep) : random.permutation(rows);
      if (order.length !== rows) throw invalidParam('shuffle', `returned ${order.length} rows for ${rows}`);
      for (let r = 0; r < rows; r++) permuted[r * cols + j] = column[order[r]];
      importances.push(baseline - score(yield { rows, cols, data: permuted }));
    }
    for (let r = 0; r < rows; r++) permuted[r * cols + j] = column[r];
    const mean = importances.reduce((a, b) => a + b, 0) / nRepeats;
    const std = Math.sqrt(importances.reduce((a, b) => a + (b - mean) ** 2, 0) / nRepeats);
    features.push({ feature: j, ...(options.featureNames ? { name: options.featureNames[j] } : {}), importances, mean, std });
  }
  return { baseline, metric, features };
}
