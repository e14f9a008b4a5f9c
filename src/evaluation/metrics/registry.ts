/**
 * Metrics by name: the table that slices, bootstrap intervals, gates and (later) the service use to
 * compute a metric from one {@link EvaluationData} bundle. Names follow scikit-learn's scorer names
 * without the `neg_` prefix; {@link MetricDefinition.greaterIsBetter} says which way is better.
 */
import { invalidParam } from '../../core/errors.ts';
import {
  accuracy,
  averagePrecision,
  balancedAccuracy,
  brierScore,
  labelsFromScores,
  logLoss,
  precisionRecallF1,
  rocAuc,
  type Average,
} from './classification.ts';
import { expectedCalibrationError } from './calibration.ts';
import { checkClassIndices, checkFinite, checkWeights, requireLength, requireNonEmpty, type ScoreMatrix, type Vector } from './common.ts';
import { meanAbsoluteError, meanAbsolutePercentageError, r2Score, rootMeanSquaredError } from './regression.ts';

/** The kind of problem a bundle of predictions belongs to. */
export type EvaluationTask = 'binary' | 'multiclass' | 'regression';

/** True values and a model's predictions on the same rows: what every named metric reads. */
export interface EvaluationData {
  readonly task: EvaluationTask;
  /** Class indices (classification) or target values (regression). */
  readonly yTrue: Vector;
  /**
   * Predicted class indices (classification) or values (regression). For classification it may be
   * omitted when `yScore` is given: P(class 1) > 0.5 (binary) or the arg-max (multiclass) is used.
   */
  readonly yPred?: Vector;
  /** Binary: P(class 1), one per row. Multiclass: probabilities row-major, rows × nClasses. */
  readonly yScore?: Vector;
  /** Number of classes; required for multiclass scores. */
  readonly nClasses?: number;
  readonly sampleWeight?: Vector;
}

/** One named metric. */
export interface MetricDefinition {
  readonly name: string;
  /** Tasks the metric applies to. */
  readonly tasks: readonly EvaluationTask[];
  readonly greaterIsBetter: boolean;
  /** What it reads: predicted labels/values, or scores. */
  readonly needs: 'predictions' | 'scores';
  /** Short description for reports. */
  readonly description: string;
  /**
   * For a metric that is a plain proportion of unweighted counts (accuracy, recall, precision): its
   * numerator and denominator, so slices can give a Wilson interval. Absent for other metrics.
   */
  proportion?(data: EvaluationData): { k: number; n: number };
  /** Computes the metric; throws an `MloopError` when it is undefined on `data`. */
  compute(data: EvaluationData): number;
}

/** Predicted labels or values of `data`: `yPred`, or for classification the labels its scores imply. */
export function predictions(data: EvaluationData): Vector {
  if (data.yPred) return data.yPred;
  return labelsFromScores(scores(data));
}

function scores(data: EvaluationData): Vector | ScoreMatrix {
  if (!data.yScore) throw invalidParam('yScore', `metric needs predicted scores for a ${data.task} task`);
  if (data.task === 'multiclass') {
    const k = data.nClasses;
    if (k === undefined) throw invalidParam('nClasses', 'is required with multiclass scores');
    return { rows: data.yTrue.length, cols: k, data: data.yScore };
  }
  return data.yScore;
}

function binaryScores(data: EvaluationData): Vector {
  const s = scores(data);
  if (!('length' in s)) throw invalidParam('yScore', 'expected one probability per row');
  return s as Vector;
}

const w = (d: EvaluationData) => ({ sampleWeight: d.sampleWeight });

function prf(name: string, which: 'precision' | 'recall' | 'f1', average: Average): MetricDefinition {
  const tasks: EvaluationTask[] = average === 'binary' ? ['binary'] : ['binary', 'multiclass'];
  const what = { precision: 'precision', recall: 'recall', f1: 'F1' }[which];
  const def: MetricDefinition = {
    name,
    tasks,
    greaterIsBetter: true,
    needs: 'predictions',
    description: average === 'binary' ? `${what} of class 1` : `${what}, ${average}-averaged over classes`,
    compute: (d) => precisionRecallF1(d.yTrue, predictions(d), { average, ...w(d) })[which],
  };
  if (average !== 'binary' || which === 'f1') return def;
  return {
    ...def,
    proportion: (d) => {
      const p = predictions(d);
      let k = 0;
      let n = 0;
      for (let i = 0; i < d.yTrue.length; i++) {
        const inDenominator = which === 'recall' ? d.yTrue[i] === 1 : p[i] === 1;
        if (!inDenominator) continue;
        n++;
        if (d.yTrue[i] === 1 && p[i] === 1) k++;
      }
      return { k, n };
    },
  };
}

const CLASSIFICATION: EvaluationTask[] = ['binary', 'multiclass'];

const DEFINITIONS: MetricDefinition[] = [
  {
    name: 'accuracy',
    tasks: CLASSIFICATION,
    greaterIsBetter: true,
    needs: 'predictions',
    description: 'fraction of rows whose predicted class is right',
    compute: (d) => accuracy(d.yTrue, predictions(d), w(d)),
    proportion: (d) => {
      const p = predictions(d);
      let k = 0;
      for (let i = 0; i < d.yTrue.length; i++) if (d.yTrue[i] === p[i]) k++;
      return { k, n: d.yTrue.length };
    },
  },
  {
    name: 'balanced_accuracy',
    tasks: CLASSIFICATION,
    greaterIsBetter: true,
    needs: 'predictions',
    description: 'mean recall over the classes present',
    compute: (d) => balancedAccuracy(d.yTrue, predictions(d), w(d)),
  },
  prf('precision', 'precision', 'binary'),
  prf('recall', 'recall', 'binary'),
  prf('f1', 'f1', 'binary'),
  ...(['macro', 'micro', 'weighted'] as const).flatMap((a) => [
    prf(`precision_${a}`, 'precision', a),
    prf(`recall_${a}`, 'recall', a),
    prf(`f1_${a}`, 'f1', a),
  ]),
  {
    name: 'roc_auc',
    tasks: CLASSIFICATION,
    greaterIsBetter: true,
    needs: 'scores',
    description: 'area under the ROC curve (multiclass: one-vs-rest, macro)',
    compute: (d) => rocAuc(d.yTrue, scores(d), w(d)),
  },
  {
    name: 'average_precision',
    tasks: ['binary'],
    greaterIsBetter: true,
    needs: 'scores',
    description: 'area under the precision-recall curve (step-wise)',
    compute: (d) => averagePrecision(d.yTrue, binaryScores(d), w(d)),
  },
  {
    name: 'log_loss',
    tasks: CLASSIFICATION,
    greaterIsBetter: false,
    needs: 'scores',
    description: 'cross-entropy of the predicted probabilities',
    compute: (d) => logLoss(d.yTrue, scores(d), w(d)),
  },
  {
    name: 'brier_score',
    tasks: ['binary'],
    greaterIsBetter: false,
    needs: 'scores',
    description: 'mean squared error of P(class 1)',
    compute: (d) => brierScore(d.yTrue, binaryScores(d), w(d)),
  },
  {
    name: 'ece',
    tasks: CLASSIFICATION,
    greaterIsBetter: false,
    needs: 'scores',
    description: 'expected calibration error, 10 uniform bins (multiclass: top label)',
    compute: (d) => expectedCalibrationError(d.yTrue, scores(d)),
  },
  {
    name: 'mae',
    tasks: ['regression'],
    greaterIsBetter: false,
    needs: 'predictions',
    description: 'mean absolute error',
    compute: (d) => meanAbsoluteError(d.yTrue, predictions(d), w(d)),
  },
  {
    name: 'rmse',
    tasks: ['regression'],
    greaterIsBetter: false,
    needs: 'predictions',
    description: 'root mean squared error',
    compute: (d) => rootMeanSquaredError(d.yTrue, predictions(d), w(d)),
  },
  {
    name: 'mape',
    tasks: ['regression'],
    greaterIsBetter: false,
    needs: 'predictions',
    description: 'mean absolute percentage error (a fraction)',
    compute: (d) => meanAbsolutePercentageError(d.yTrue, predictions(d), w(d)),
  },
  {
    name: 'r2',
    tasks: ['regression'],
    greaterIsBetter: true,
    needs: 'predictions',
    description: 'coefficient of determination',
    compute: (d) => r2Score(d.yTrue, predictions(d), w(d)),
  },
];

/** Every named metric. */
export const METRICS: ReadonlyMap<string, MetricDefinition> = new Map(DEFINITIONS.map((d) => [d.name, d]));

/** The definition of metric `name`; throws naming the known metrics when there is none. */
export function getMetric(name: string): MetricDefinition {
  const def = METRICS.get(name);
  if (!def) throw invalidParam('metric', `unknown metric ${JSON.stringify(name)}; known: ${[...METRICS.keys()].join(', ')}`);
  return def;
}

/** Names of the metrics that apply to `task` (and, without scores, only those that read predictions). */
export function defaultMetrics(task: EvaluationTask, hasScores: boolean): string[] {
  return DEFINITIONS.filter((d) => d.tasks.includes(task) && (hasScores || d.needs === 'predictions')).map((d) => d.name);
}

/** Checks `data` is well formed (lengths, labels, task) before any metric reads it. */
export function checkEvaluationData(data: EvaluationData): void {
  const n = data.yTrue.length;
  requireNonEmpty('yTrue', data.yTrue);
  if (data.task !== 'binary' && data.task !== 'multiclass' && data.task !== 'regression') {
    throw invalidParam('task', `unknown task ${JSON.stringify(data.task)}; expected binary, multiclass or regression`);
  }
  if (data.task === 'regression') {
    checkFinite('yTrue', data.yTrue);
    if (!data.yPred) throw invalidParam('yPred', 'is required for regression');
  } else {
    const k = checkClassIndices('yTrue', data.yTrue);
    if (data.task === 'binary' && k > 2) throw invalidParam('yTrue', `binary task but found class ${k - 1}`);
    if (data.task === 'multiclass') {
      if (data.nClasses === undefined || !Number.isInteger(data.nClasses) || data.nClasses < 2) {
        throw invalidParam('nClasses', `multiclass needs an integer number of classes >= 2, got ${data.nClasses}`);
      }
      if (k > data.nClasses) throw invalidParam('yTrue', `has class ${k - 1} but nClasses is ${data.nClasses}`);
    }
    if (!data.yPred && !data.yScore) throw invalidParam('yPred', 'either yPred or yScore is required');
  }
  if (data.yPred) requireLength('yPred', data.yPred, n);
  if (data.yScore) {
    const expected = data.task === 'multiclass' ? n * (data.nClasses ?? 0) : n;
    if (data.yScore.length !== expected) {
      throw invalidParam('yScore', `length ${data.yScore.length}, expected ${expected}${data.task === 'multiclass' ? ' (rows × nClasses)' : ''}`);
    }
  }
  checkWeights(data.sampleWeight, n);
}

/** Computes metric `name` on `data`; throws when the metric is unknown, does not apply, or is undefined. */
export function computeMetric(name: string, data: EvaluationData): number {
  const def = getMetric(name);
  if (!def.tasks.includes(data.task)) {
    throw invalidParam('metric', `${JSON.stringify(name)} does not apply to a ${data.task} task`);
  }
  return def.compute(data);
}

/** The rows `rows` of `data` (in that order, repeats allowed): for slices and bootstrap resamples. */
export function subsetData(data: EvaluationData, rows: ArrayLike<number>): EvaluationData {
  const pick = (v: Vector) => {
    const out = new Float64Array(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = v[rows[i]];
    return out;
  };
  let yScore: Float64Array | undefined;
  if (data.yScore) {
    const k = data.task === 'multiclass' ? (data.nClasses as number) : 1;
    yScore = new Float64Array(rows.length * k);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      for (let c = 0; c < k; c++) yScore[i * k + c] = data.yScore[r * k + c];
    }
  }
  return {
    task: data.task,
    nClasses: data.nClasses,
    yTrue: pick(data.yTrue),
    yPred: data.yPred ? pick(data.yPred) : undefined,
    yScore,
    sampleWeight: data.sampleWeight ? pick(data.sampleWeight) : undefined,
  };
}
