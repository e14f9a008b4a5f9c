/**
 * Data splits and cross-validation, seeded: a holdout split (optionally stratified by class), k-fold
 * and stratified k-fold assignments, and cross-validation of a pipeline that reports every metric per
 * fold, its mean and standard deviation over folds, and the metric of the pooled out-of-fold
 * predictions (how scikit-learn's `cross_val_predict` figures, and `reference_metrics.json`, are made).
 *
 * Stratified folds: the rows of each class are shuffled, the classes are laid end to end, and rows
 * are dealt to folds in turn, so each fold holds each class in proportion (±1 row) and fold sizes differ
 * by at most one. The folds are not scikit-learn's (which draw from numpy's generator); pass `folds`
 * explicitly to reproduce another tool's folds exactly.
 */
import { invalidParam, isMloopError, MloopError } from '../core/errors.ts';
import { Random } from '../core/random.ts';
import { computeMetric, defaultMetrics, getMetric, type EvaluationData } from '../evaluation/metrics/registry.ts';
import { fitPipeline, type Estimator, type Pipeline } from './pipeline.ts';
import { encodeTarget, type PreprocessOptions } from './preprocess.ts';
import type { Column, Table, Target, Task } from './types.ts';

/** Row indices of a two-way split, each ascending. */
export interface Split {
  readonly train: Uint32Array;
  readonly test: Uint32Array;
}

/** Options of {@link holdoutSplit}. */
export interface HoldoutOptions {
  /** Share of rows held out, in (0, 1). */
  readonly fraction: number;
  readonly seed: number;
  /** Class index of each row: hold out each class in proportion, keeping at least one row of each for training. */
  readonly stratify?: ArrayLike<number>;
}

/** Splits rows 0..n-1 into training and held-out rows. The held-out count is ceil(fraction · n), as scikit-learn. */
export function holdoutSplit(n: number, options: HoldoutOptions): Split {
  const { fraction, seed } = options;
  if (!(fraction > 0 && fraction < 1)) throw invalidParam('split.holdout', `must be in (0, 1), got ${fraction}`);
  const nTest = Math.ceil(fraction * n);
  if (nTest < 1 || n - nTest < 1) throw invalidParam('split.holdout', `leaves no rows for training or for the holdout of ${n} rows`);
  const rng = new Random(seed);
  const isTest = new Uint8Array(n);
  if (options.stratify) {
    const groups = groupRows(options.stratify, n);
    // Largest-remainder allocation of the held-out count over classes, each keeping a training row.
    const quotas = groups.map((rows) => (nTest * rows.length) / n);
    const counts = quotas.map((q, i) => Math.min(Math.floor(q), groups[i].length - 1));
    let left = nTest - counts.reduce((a, b) => a + b, 0);
    const order = quotas.map((_q, i) => i).sort((a, b) => quotas[b] - Math.floor(quotas[b]) - (quotas[a] - Math.floor(quotas[a])) || a - b);
    for (let pass = 0; left > 0 && pass < 2; pass++) {
      for (const i of order) {
        if (left === 0) break;
        if (counts[i] < groups[i].length - 1) {
          counts[i]++;
          left--;
        }
      }
    }
    groups.forEach((rows, i) => {
      const shuffled = rng.fork(i).shuffle(Uint32Array.from(rows));
      for (let j = 0; j < counts[i]; j++) isTest[shuffled[j]] = 1;
    });
  } else {
    const perm = rng.permutation(n);
    for (let j = 0; j < nTest; j++) isTest[perm[j]] = 1;
  }
  return fromMask(isTest);
}

/** Fold of each row (0..k-1) for k-fold cross-validation, rows shuffled with `seed` (in order when `shuffle` is false). */
export function kFold(n: number, k: number, options: { seed: number; shuffle?: boolean }): Int32Array {
  checkK(n, k);
  const order = options.shuffle === false ? Uint32Array.from({ length: n }, (_, i) => i) : new Random(options.seed).permutation(n);
  const fold = new Int32Array(n);
  // Contiguous blocks of the (shuffled) order, the first n % k folds one row larger, as KFold.
  const base = Math.floor(n / k);
  const extra = n % k;
  let pos = 0;
  for (let f = 0; f < k; f++) {
    const size = base + (f < extra ? 1 : 0);
    for (let j = 0; j < size; j++) fold[order[pos++]] = f;
  }
  return fold;
}

/** Fold of each row for stratified k-fold cross-validation (see the module comment). */
export function stratifiedKFold(classes: ArrayLike<number>, k: number, options: { seed: number; shuffle?: boolean }): Int32Array {
  const n = classes.length;
  checkK(n, k);
  const rng = new Random(options.seed);
  const groups = groupRows(classes, n);
  const fold = new Int32Array(n);
  let pos = 0;
  groups.forEach((rows, i) => {
    const ordered = options.shuffle === false ? Uint32Array.from(rows) : rng.fork(i).shuffle(Uint32Array.from(rows));
    for (const r of ordered) fold[r] = pos++ % k;
  });
  return fold;
}

function checkK(n: number, k: number): void {
  if (!Number.isInteger(k) || k < 2) throw invalidParam('cv.folds', `must be an integer ≥ 2, got ${k}`);
  if (k > n) throw invalidParam('cv.folds', `${k} folds need at least ${k} rows, there are ${n}`);
}

function groupRows(classes: ArrayLike<number>, n: number): number[][] {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const c = classes[i];
    let g = groups.get(c);
    if (!g) groups.set(c, (g = []));
    g.push(i);
  }
  return [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([, rows]) => rows);
}

function fromMask(isTest: Uint8Array): Split {
  let nTest = 0;
  for (const v of isTest) nTest += v;
  const train = new Uint32Array(isTest.length - nTest);
  const test = new Uint32Array(nTest);
  let a = 0;
  let b = 0;
  for (let i = 0; i < isTest.length; i++) (isTest[i] ? test : train)[isTest[i] ? b++ : a++] = i;
  return { train, test };
}

/** The rows `rows` of `table`, in that order. */
export function subsetTable(table: Table, rows: ArrayLike<number>): Table {
  const columns: Column[] = table.columns.map((c) => {
    if (c.kind === 'numeric') {
      const values = new Float64Array(rows.length);
      for (let i = 0; i < rows.length; i++) values[i] = c.values[rows[i]];
      return { name: c.name, kind: 'numeric', values };
    }
    const values = new Array<string | null>(rows.length);
    for (let i = 0; i < rows.length; i++) values[i] = c.values[rows[i]];
    return { name: c.name, kind: 'categorical', values };
  });
  return { rows: rows.length, columns };
}

/** What is being learned: the target column, its task and the feature columns. */
export interface LearningProblem {
  readonly target: string;
  /** `classification` picks binary or multiclass from the classes of the whole table. */
  readonly task: Task | 'classification';
  readonly features: readonly string[];
}

/** The encoded target of the whole table, so that every subset shares the same class indices. */
export function encodeProblemTarget(table: Table, problem: LearningProblem): Target {
  const column = table.columns.find((c) => c.name === problem.target);
  if (!column) throw invalidParam('target', `column "${problem.target}" is not in the table`);
  return encodeTarget(column, problem.task);
}

/** Predictions of a pipeline on `rows` of `table`, as the evaluation metrics read them. */
export function evaluationData(pipeline: Pipeline, table: Table, target: Target, rows: ArrayLike<number>): EvaluationData {
  const sub = subsetTable(table, rows);
  const yTrue = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) yTrue[i] = target.values[rows[i]];
  const raw = pipeline.predict(sub);
  if (target.task === 'regression') return { task: 'regression', yTrue, yPred: raw };
  if (target.task === 'binary') return { task: 'binary', yTrue, yScore: raw };
  return { task: 'multiclass', yTrue, yScore: raw, nClasses: target.classes!.length };
}

/** Metric value or null (and why) when it is undefined on these rows (e.g. one class only). */
export function safeMetric(name: string, data: EvaluationData): { value: number | null; error?: string } {
  try {
    const v = computeMetric(name, data);
    return Number.isFinite(v) ? { value: v } : { value: null, error: `${name} is ${v}` };
  } catch (error) {
    if (isMloopError(error)) return { value: null, error: error.message };
    throw error;
  }
}

/** The metrics reported by default for a task. */
export function defaultTaskMetrics(task: Task): string[] {
  if (task === 'binary') return ['roc_auc', 'accuracy', 'log_loss', 'f1', 'precision', 'recall', 'balanced_accuracy', 'average_precision', 'brier_score'];
  if (task === 'multiclass') return ['accuracy', 'f1_macro', 'log_loss', 'roc_auc', 'balanced_accuracy', 'f1_weighted'];
  return ['rmse', 'mae', 'r2'];
}

/** Checks metric names against a task; errors name `field[i]`. */
export function checkMetrics(names: readonly string[], task: Task, field = 'metrics'): string[] {
  const applicable = new Set(defaultMetrics(task, true));
  names.forEach((m, i) => {
    getMetric(m);
    if (!applicable.has(m)) throw invalidParam(`${field}[${i}]`, `metric ${m} does not apply to a ${task} task`);
  });
  return [...names];
}

/** One metric summarized over folds. */
export interface FoldSummary {
  /** Mean over the folds where the metric is defined. */
  readonly mean: number | null;
  /** Population standard deviation over those folds (numpy's `std`, as scikit-learn's `cv_results_`). */
  readonly std: number | null;
  /** Per fold; null where undefined. */
  readonly values: (number | null)[];
  /** On the pooled out-of-fold predictions. */
  readonly pooled: number | null;
}

/** Result of {@link crossValidate}. */
export interface CrossValidationResult {
  readonly k: number;
  readonly task: Task;
  readonly metrics: Record<string, FoldSummary>;
  readonly folds: { readonly fold: number; readonly trainRows: number; readonly testRows: number; readonly metrics: Record<string, number | null> }[];
  /** Out-of-fold predictions of every evaluated row, as `EvaluationData` reads them (rows in `rows` order). */
  readonly outOfFold: EvaluationData;
}

/** Options of {@link crossValidate}. */
export interface CrossValidateOptions {
  /** Fold of each row of `table` (−1 leaves a row out). */
  readonly folds: Int32Array;
  /** Makes a fresh estimator per fold. */
  readonly estimator: () => Estimator;
  readonly seed: number;
  readonly preprocess?: PreprocessOptions;
  /** Metric names; default by task. */
  readonly metrics?: readonly string[];
  /** Use only these training rows of each fold (successive halving on rows); default all. */
  readonly maxTrainRows?: number;
  readonly onProgress?: (fraction: number, message: string) => void;
}

/** Cross-validates a pipeline of `problem` on `table` over the given folds. */
export async function crossValidate(table: Table, problem: LearningProblem, options: CrossValidateOptions): Promise<CrossValidationResult> {
  const target = encodeProblemTarget(table, problem);
  const task = target.task;
  const metrics = options.metrics ? checkMetrics(options.metrics, task) : defaultTaskMetrics(task);
  const folds = options.folds;
  if (folds.length !== table.rows) throw invalidParam('cv.folds', `has ${folds.length} entries for ${table.rows} rows`);
  let k = 0;
  for (const f of folds) k = Math.max(k, f + 1);
  if (k < 2) throw invalidParam('cv.folds', 'needs at least two folds');
  const evaluated: number[] = [];
  for (let i = 0; i < folds.length; i++) if (folds[i] >= 0) evaluated.push(i);
  const position = new Int32Array(table.rows).fill(-1);
  evaluated.forEach((row, i) => (position[row] = i));
  const width = task === 'multiclass' ? target.classes!.length : 1;
  const oof = new Float64Array(evaluated.length * width);
  const perFold: CrossValidationResult['folds'] = [];
  for (let f = 0; f < k; f++) {
    options.onProgress?.(f / k, `fold ${f + 1} of ${k}`);
    let train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < folds.length; i++) {
      if (folds[i] < 0) continue;
      (folds[i] === f ? test : train).push(i);
    }
    if (test.length === 0) throw invalidParam('cv.folds', `fold ${f} has no rows`);
    if (options.maxTrainRows !== undefined && train.length > options.maxTrainRows) train = subsample(train, options.maxTrainRows, target, options.seed + f);
    const pipeline = await fitPipeline(subsetTable(table, train), options.estimator(), {
      target: problem.target,
      task: problem.task,
      features: problem.features,
      seed: options.seed,
      preprocess: options.preprocess,
      onProgress: options.onProgress ? (p, m) => options.onProgress!((f + p) / k, `fold ${f + 1} of ${k}: ${m}`) : undefined,
    });
    checkClasses(pipeline, target, `fold ${f + 1}`);
    const data = evaluationData(pipeline, table, target, test);
    const values = data.task === 'regression' ? data.yPred! : data.yScore!;
    test.forEach((row, i) => {
      const p = position[row];
      for (let c = 0; c < width; c++) oof[p * width + c] = values[i * width + c];
    });
    const m: Record<string, number | null> = {};
    for (const name of metrics) m[name] = safeMetric(name, data).value;
    perFold.push({ fold: f, trainRows: train.length, testRows: test.length, metrics: m });
  }
  const yTrue = Float64Array.from(evaluated, (r) => target.values[r]);
  const outOfFold: EvaluationData =
    task === 'regression' ? { task, yTrue, yPred: oof } : task === 'binary' ? { task, yTrue, yScore: oof } : { task, yTrue, yScore: oof, nClasses: width };
  const summary: Record<string, FoldSummary> = {};
  for (const name of metrics) {
    const values = perFold.map((f) => f.metrics[name]);
    const defined = values.filter((v): v is number => v !== null);
    const mean = defined.length === 0 ? null : defined.reduce((a, b) => a + b, 0) / defined.length;
    const std = mean === null ? null : Math.sqrt(defined.reduce((a, b) => a + (b - mean) * (b - mean), 0) / defined.length);
    summary[name] = { mean, std, values, pooled: safeMetric(name, outOfFold).value };
  }
  options.onProgress?.(1, 'cross-validation done');
  return { k, task, metrics: summary, folds: perFold, outOfFold };
}

/** Fails when a pipeline learned other classes than the whole table has (a class absent from its training rows). */
export function checkClasses(pipeline: Pipeline, target: Target, where: string): void {
  if (target.task === 'regression') return;
  const got = pipeline.target.classes ?? [];
  const want = target.classes ?? [];
  if (got.length !== want.length || got.some((c, i) => c !== want[i])) {
    const missing = want.filter((c) => !got.includes(c));
    throw new MloopError(
      'INVALID_PARAMETER_VALUE',
      `${where}: class${missing.length > 1 ? 'es' : ''} ${missing.map((c) => JSON.stringify(c)).join(', ')} absent from the training rows; use a stratified split or more data`,
      { fields: [{ field: 'split', reason: `class ${missing.join(', ')} absent from training rows` }] },
    );
  }
}

/** A seeded subsample of `rows` (stratified by class for classification), ascending. */
function subsample(rows: number[], size: number, target: Target, seed: number): number[] {
  const n = rows.length;
  const classes = target.task === 'regression' ? undefined : rows.map((r) => target.values[r]);
  const split = holdoutSplit(n, { fraction: 1 - size / n, seed, stratify: classes });
  return Array.from(split.train, (i) => rows[i]);
}
