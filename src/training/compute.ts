/**
 * The CPU-heavy work of training jobs and evaluations, as plain functions over in-memory tables:
 * fitting and exporting a pipeline, cross-validating a candidate, and explaining a model (permutation
 * importance, KernelSHAP). The job handlers run them on a worker thread (`compute-worker.ts`) so the
 * server keeps answering while a model trains; benchmarks and tests call them directly.
 */
import { estimateMetric, type MetricEstimate } from '../evaluation/bootstrap.ts';
import { kernelShap } from '../evaluation/explain/kernel-shap.ts';
import { permutationImportance } from '../evaluation/explain/permutation.ts';
import type { FeatureMatrix } from '../evaluation/explain/types.ts';
import { checkClasses, crossValidate, encodeProblemTarget, evaluationData, subsetTable, type CrossValidationResult, type LearningProblem } from './cv.ts';
import type { DpSgdParams, PrivacyReport } from './dp/dp-sgd.ts';
import { EXTRA_RESTORERS, modelKind } from './estimators.ts';
import { fitPipeline, restorePipeline, type ModelSignature, type Pipeline, type PipelineState } from './pipeline.ts';
import type { PreprocessOptions } from './preprocess.ts';
import { HistGradientBoostingModel } from './trees/hgbt.ts';
import { treeShap } from './trees/shap.ts';
import type { Column, Table } from './types.ts';

/** A model to train: its kind, resolved hyperparameters, DP settings and preprocessing overrides. */
export interface ModelChoice {
  readonly kind: string;
  readonly params: Record<string, unknown>;
  readonly dp?: DpSgdParams;
  readonly preprocess?: PreprocessOptions;
}

/** Progress callback of compute functions. */
export type ProgressFn = (fraction: number, message: string) => void;

/** Input of {@link fitAndExport}. */
export interface FitInput {
  readonly table: Table;
  readonly problem: LearningProblem;
  readonly model: ModelChoice;
  readonly seed: number;
  readonly trainRows: Uint32Array;
  /** Held-out rows scored after the fit (may be empty). */
  readonly evalRows: Uint32Array;
  readonly metrics: readonly string[];
  readonly bootstrap: { readonly n: number; readonly confidence: number; readonly seed: number };
  /** ONNX graph name and extra metadata properties. */
  readonly onnx: { readonly name: string; readonly metadata: Record<string, string> };
}

/** A metric on the holdout with its bootstrap interval. */
export type HoldoutMetric = MetricEstimate;

/** Output of {@link fitAndExport}. */
export interface FitOutput {
  readonly pipeline: PipelineState;
  readonly onnx: Uint8Array;
  readonly signature: ModelSignature;
  readonly task: 'binary' | 'multiclass' | 'regression';
  readonly classes?: readonly string[];
  /** Metrics on `evalRows` with percentile bootstrap intervals. */
  readonly holdout: Record<string, HoldoutMetric>;
  /**
   * The pipeline's raw outputs on `evalRows` read as float32 (what the ONNX graph reads), for the
   * parity check against onnxruntime: regression values, P(class 1), or probabilities row-major.
   */
  readonly float32Predictions: Float64Array;
  /** What DP-SGD spent, when it was used. */
  readonly privacy?: PrivacyReport;
  /** Trainer facts (iterations, convergence) when the model reports them. */
  readonly fitInfo?: unknown;
  readonly featureNames: readonly string[];
}

/** Fits a pipeline on `trainRows`, scores it on `evalRows` and exports it to ONNX. */
export async function fitAndExport(input: FitInput, onProgress?: ProgressFn): Promise<FitOutput> {
  const { table, problem, model } = input;
  const target = encodeProblemTarget(table, problem);
  const spec = modelKind(model.kind);
  onProgress?.(0, `training ${model.kind} on ${input.trainRows.length} rows`);
  const pipeline = await fitPipeline(subsetTable(table, input.trainRows), spec.create(model.params, model.dp), {
    target: problem.target,
    task: problem.task,
    features: problem.features,
    seed: input.seed,
    preprocess: model.preprocess,
    onProgress: onProgress ? (p, m) => onProgress(0.05 + 0.8 * p, m) : undefined,
  });
  checkClasses(pipeline, target, 'training split');
  onProgress?.(0.86, 'scoring the holdout');
  const holdout: Record<string, HoldoutMetric> = {};
  let float32Predictions: Float64Array = new Float64Array(0);
  if (input.evalRows.length > 0) {
    const data = evaluationData(pipeline, table, target, input.evalRows);
    input.metrics.forEach((name, i) => {
      onProgress?.(0.86 + (0.08 * i) / input.metrics.length, `bootstrap interval of ${name}`);
      holdout[name] = estimateMetric(name, data, input.bootstrap);
    });
    float32Predictions = pipeline.predict(float32Table(subsetTable(table, input.evalRows)));
  }
  onProgress?.(0.95, 'exporting ONNX');
  const exported = pipeline.exportOnnx({ name: input.onnx.name, metadata: input.onnx.metadata });
  const state = pipeline.toJSON();
  const modelState = state.model as { privacy?: PrivacyReport; info?: unknown };
  return {
    pipeline: state,
    onnx: exported.bytes,
    signature: exported.signature,
    task: target.task,
    ...(target.classes ? { classes: target.classes } : {}),
    holdout,
    float32Predictions,
    ...(modelState.privacy ? { privacy: modelState.privacy } : {}),
    ...(modelState.info !== undefined ? { fitInfo: modelState.info } : {}),
    featureNames: pipeline.preprocessor.featureNames,
  };
}

/** `table` with every numeric value rounded to float32, as an ONNX float input holds it. */
export function float32Table(table: Table): Table {
  return {
    rows: table.rows,
    columns: table.columns.map((c): Column => (c.kind === 'numeric' ? { name: c.name, kind: 'numeric', values: Float64Array.from(Float32Array.from(c.values)) } : c)),
  };
}

/** Input of {@link crossValidateCandidate}. */
export interface CvInput {
  readonly table: Table;
  readonly problem: LearningProblem;
  readonly model: ModelChoice;
  readonly seed: number;
  readonly folds: Int32Array;
  readonly metrics: readonly string[];
  readonly maxTrainRows?: number;
}

/** Cross-validates one candidate (the out-of-fold predictions are left out of the answer). */
export async function crossValidateCandidate(input: CvInput, onProgress?: ProgressFn): Promise<Omit<CrossValidationResult, 'outOfFold'>> {
  const spec = modelKind(input.model.kind);
  const result = await crossValidate(input.table, input.problem, {
    folds: input.folds,
    estimator: () => spec.create(input.model.params, input.model.dp),
    seed: input.seed,
    preprocess: input.model.preprocess,
    metrics: input.metrics,
    maxTrainRows: input.maxTrainRows,
    onProgress,
  });
  const { outOfFold: _oof, ...rest } = result;
  return rest;
}

/** Input of {@link explainModel}. */
export interface ExplainInput {
  readonly pipeline: PipelineState;
  /** The rows to explain on, with (at least) the pipeline's input columns. */
  readonly table: Table;
  /** Class indices (classification) or values (regression), one per row of `table`. */
  readonly yTrue: Float64Array;
  readonly permutation?: { readonly metric: string; readonly nRepeats: number; readonly seed: number; readonly maxRows: number };
  readonly shap?: { readonly rows: number; readonly background: number; readonly seed: number; readonly nSamples?: number };
}

/** Global importance of each raw input column. */
export interface ExplainImportance {
  readonly feature: string;
  readonly mean: number;
  readonly std: number;
}

/** Output of {@link explainModel}. */
export interface ExplainOutput {
  readonly permutation?: { readonly metric: string; readonly baseline: number; readonly rows: number; readonly features: ExplainImportance[] };
  readonly shap?: {
    /** `tree`: exact TreeSHAP of the boosted trees' margin; `kernel`: KernelSHAP of the predicted probability or value. */
    readonly method: 'tree' | 'kernel';
    /** Output explained: `P(<class>)`, `log-odds(<class>)` or the regression value. */
    readonly output: string;
    readonly baseValue: number;
    readonly rows: number;
    readonly background: number;
    readonly exact: boolean;
    /** Mean |SHAP| per input column, largest first. */
    readonly meanAbs: { readonly feature: string; readonly value: number }[];
    /** A few explained rows: prediction, and each column's contribution. */
    readonly examples: { readonly row: number; readonly prediction: number; readonly values: Record<string, number> }[];
    /** Largest |Σφ + φ₀ − f(x)| over explained rows (local accuracy; 0 up to rounding). */
    readonly maxAdditivityError: number;
  };
}

/**
 * Raw input columns as a dense matrix for the explainers: numeric values as they are, categories as
 * their index in a per-column dictionary (NaN when missing), so that permuting or replacing a cell
 * swaps whole raw values.
 */
export function encodeRaw(table: Table, columns: readonly string[]): { matrix: FeatureMatrix; decode: (m: FeatureMatrix) => Table } {
  const cols = columns.map((name) => {
    const c = table.columns.find((x) => x.name === name);
    if (!c) throw new Error(`column ${name} missing from the explained table`);
    return c;
  });
  const dictionaries = cols.map((c) => (c.kind === 'categorical' ? [...new Set(c.values.filter((v): v is string => v !== null))] : undefined));
  const lookups = dictionaries.map((d) => (d ? new Map(d.map((v, i) => [v, i])) : undefined));
  const rows = table.rows;
  const k = cols.length;
  const data = new Float64Array(rows * k);
  cols.forEach((c, j) => {
    for (let r = 0; r < rows; r++) {
      if (c.kind === 'numeric') data[r * k + j] = c.values[r];
      else {
        const v = c.values[r];
        data[r * k + j] = v === null ? Number.NaN : lookups[j]!.get(v)!;
      }
    }
  });
  const decode = (m: FeatureMatrix): Table => ({
    rows: m.rows,
    columns: cols.map((c, j): Column => {
      if (c.kind === 'numeric') {
        const values = new Float64Array(m.rows);
        for (let r = 0; r < m.rows; r++) values[r] = m.data[r * k + j];
        return { name: c.name, kind: 'numeric', values };
      }
      const dict = dictionaries[j]!;
      const values = new Array<string | null>(m.rows);
      for (let r = 0; r < m.rows; r++) {
        const code = m.data[r * k + j];
        values[r] = Number.isNaN(code) ? null : dict[code];
      }
      return { name: c.name, kind: 'categorical', values };
    }),
  });
  return { matrix: { rows, cols: k, data }, decode };
}

/** Permutation importance and KernelSHAP of a pipeline over its raw input columns. */
export function explainModel(input: ExplainInput, onProgress?: ProgressFn): ExplainOutput {
  const pipeline: Pipeline = restorePipeline(input.pipeline, EXTRA_RESTORERS);
  const names = pipeline.preprocessor.inputs.map((c) => c.name);
  const { matrix, decode } = encodeRaw(input.table, names);
  const predict = (m: FeatureMatrix) => pipeline.predict(decode(m));
  const task = pipeline.target.task;
  const nClasses = task === 'multiclass' ? pipeline.model.nClasses : undefined;
  const out: { permutation?: ExplainOutput['permutation']; shap?: ExplainOutput['shap'] } = {};
  if (input.permutation && matrix.rows >= 2) {
    onProgress?.(0.1, 'permutation importance');
    const rows = Math.min(matrix.rows, input.permutation.maxRows);
    const sub = { rows, cols: matrix.cols, data: matrix.data.subarray(0, rows * matrix.cols) };
    const result = permutationImportance(predict, sub, input.yTrue.subarray(0, rows), {
      task,
      nClasses,
      metric: input.permutation.metric,
      nRepeats: input.permutation.nRepeats,
      seed: input.permutation.seed,
      featureNames: names,
    });
    out.permutation = {
      metric: result.metric,
      baseline: result.baseline,
      rows,
      features: result.features.map((f) => ({ feature: f.name!, mean: f.mean, std: f.std })).sort((a, b) => b.mean - a.mean),
    };
  }
  if (input.shap && matrix.rows >= 1 && pipeline.model instanceof HistGradientBoostingModel) {
    onProgress?.(0.5, 'TreeSHAP');
    out.shap = treeExplanation(pipeline, pipeline.model, input.table, Math.min(matrix.rows, input.shap.rows));
  } else if (input.shap && matrix.rows >= 1) {
    onProgress?.(0.5, 'KernelSHAP');
    const nBackground = Math.min(matrix.rows, input.shap.background);
    const nRows = Math.min(matrix.rows, input.shap.rows);
    // Background: evenly spaced rows; explained rows: the first ones (the caller shuffles).
    const step = matrix.rows / nBackground;
    const bg = new Float64Array(nBackground * matrix.cols);
    for (let i = 0; i < nBackground; i++) bg.set(matrix.data.subarray(Math.floor(i * step) * matrix.cols, (Math.floor(i * step) + 1) * matrix.cols), i * matrix.cols);
    const x = { rows: nRows, cols: matrix.cols, data: matrix.data.slice(0, nRows * matrix.cols) };
    // Classification: explain the probability of the last class (class 1 for binary).
    const outputIndex = task === 'multiclass' ? nClasses! - 1 : 0;
    const result = kernelShap(predict, { rows: nBackground, cols: matrix.cols, data: bg }, x, { seed: input.shap.seed, ...(input.shap.nSamples ? { nSamples: input.shap.nSamples } : {}) });
    const m = matrix.cols;
    const meanAbs = new Float64Array(m);
    let maxErr = 0;
    const examples: { row: number; prediction: number; values: Record<string, number> }[] = [];
    result.rows.forEach((row, r) => {
      let sum = result.baseValue[outputIndex];
      const values: Record<string, number> = {};
      for (let j = 0; j < m; j++) {
        const v = row.values[outputIndex * m + j];
        meanAbs[j] += Math.abs(v) / result.rows.length;
        sum += v;
        values[names[j]] = v;
      }
      maxErr = Math.max(maxErr, Math.abs(sum - row.prediction[outputIndex]));
      if (examples.length < 5) examples.push({ row: r, prediction: row.prediction[outputIndex], values });
    });
    const classes = pipeline.target.classes;
    out.shap = {
      method: 'kernel',
      output: task === 'regression' ? pipeline.target.name : `P(${pipeline.target.name} = ${classes![task === 'multiclass' ? outputIndex : 1]})`,
      baseValue: result.baseValue[outputIndex],
      rows: nRows,
      background: nBackground,
      exact: result.rows.every((r) => r.exact),
      meanAbs: names.map((feature, j) => ({ feature, value: meanAbs[j] })).sort((a, b) => b.value - a.value),
      examples,
      maxAdditivityError: maxErr,
    };
  }
  onProgress?.(1, 'explanations done');
  return out;
}

/**
 * Exact TreeSHAP of a boosted-tree pipeline, in the trees' margin (log-odds for classification; the
 * value for regression). Tree pipelines encode each raw column as one feature (numeric as is,
 * categories as ordinal codes), so values map one to one onto the raw input columns.
 */
function treeExplanation(pipeline: Pipeline, model: HistGradientBoostingModel, table: Table, nRows: number): NonNullable<ExplainOutput['shap']> {
  // Mean |SHAP| over up to 1,000 rows (exact and cheap enough); examples from the first rows.
  const all = pipeline.transform(table.rows > 1000 ? subsetTable(table, Array.from({ length: 1000 }, (_, i) => i)) : table);
  const x = { rows: all.rows, cols: all.cols, data: all.data };
  const shap = treeShap(model, x);
  const K = shap.nOutputs;
  const F = shap.nFeatures;
  const k = K - 1;
  const raw = model.predictRaw(x);
  const featureNames = pipeline.preprocessor.featureNames;
  const meanAbs = new Float64Array(F);
  let maxErr = 0;
  const examples: { row: number; prediction: number; values: Record<string, number> }[] = [];
  for (let r = 0; r < shap.rows; r++) {
    let sum = shap.baseValues[k];
    const values: Record<string, number> = {};
    for (let f = 0; f < F; f++) {
      const v = shap.values[(r * K + k) * F + f];
      meanAbs[f] += Math.abs(v) / shap.rows;
      sum += v;
      values[featureNames[f]] = v;
    }
    maxErr = Math.max(maxErr, Math.abs(sum - raw[r * K + k]));
    if (r < Math.min(5, nRows)) examples.push({ row: r, prediction: raw[r * K + k], values });
  }
  const task = pipeline.target.task;
  const classes = pipeline.target.classes;
  return {
    method: 'tree',
    output: task === 'regression' ? pipeline.target.name : `log-odds(${pipeline.target.name} = ${classes![task === 'multiclass' ? k : 1]})`,
    baseValue: shap.baseValues[k],
    rows: shap.rows,
    background: 0,
    exact: true,
    meanAbs: featureNames.map((feature, f) => ({ feature, value: meanAbs[f] })).sort((a, b) => b.value - a.value),
    examples,
    maxAdditivityError: maxErr,
  };
}
