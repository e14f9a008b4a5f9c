/**
 * The CPU-heavy work of training jobs and evaluations, as plain functions over in-memory tables:
 * fitting and exporting a pipeline, cross-validating a candidate, and explaining a model (permutation
 * importance, KernelSHAP) — mloop's own pipelines, and external ONNX files scored in onnxruntime. The
 * job handlers run them on a worker thread (`compute-worker.ts`) so the server keeps answering while a
 * model trains; benchmarks and tests call them directly.
 */
import { estimateMetric, type MetricEstimate } from '../evaluation/bootstrap.ts';
import { encodeRaw, explainSteps, outputLabels, shapSummary, type ExplainOutput, type ExplainSettings, type ShapExplanation as ExplainShap } from '../evaluation/explain/explanations.ts';
import { runPredicting } from '../evaluation/explain/types.ts';
import { checkClasses, crossValidate, encodeProblemTarget, evaluationData, subsetTable, type CrossValidationResult, type LearningProblem } from './cv.ts';
import type { DpSgdParams, PrivacyReport } from './dp/dp-sgd.ts';
import { EXTRA_RESTORERS, modelKind } from './estimators.ts';
import type { StoredSignature } from './model-files.ts';
import { fitPipeline, restorePipeline, type ModelSignature, type Pipeline, type PipelineState } from './pipeline.ts';
import type { PreprocessOptions } from './preprocess.ts';
import { HistGradientBoostingModel } from './trees/hgbt.ts';
import { treeShap } from './trees/shap.ts';
import type { Column, Table, Task } from './types.ts';

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

/** Permutation importance and SHAP values of a pipeline over its raw input columns (TreeSHAP for boosted trees, KernelSHAP otherwise). */
export function explainModel(input: ExplainInput, onProgress?: ProgressFn): ExplainOutput {
  const pipeline: Pipeline = restorePipeline(input.pipeline, EXTRA_RESTORERS);
  const names = pipeline.preprocessor.inputs.map((c) => c.name);
  const { matrix, decode } = encodeRaw(input.table, names);
  const tree = input.shap !== undefined && matrix.rows >= 1 && pipeline.model instanceof HistGradientBoostingModel;
  const model = { task: pipeline.target.task, target: pipeline.target.name, classes: pipeline.target.classes, features: names };
  const settings = { ...(input.permutation ? { permutation: input.permutation } : {}), ...(input.shap && !tree ? { shap: input.shap } : {}) };
  // With TreeSHAP to follow, the other explanations take the first half of the progress, and only
  // TreeSHAP's end is "done".
  const stepsProgress = tree && onProgress ? (fraction: number, message: string) => fraction < 1 && onProgress(fraction / 2, message) : onProgress;
  const out = runPredicting(explainSteps(model, matrix, input.yTrue, settings, stepsProgress), (m) => pipeline.predict(decode(m)));
  if (!tree) return out;
  onProgress?.(0.5, 'TreeSHAP');
  const shap = treeExplanation(pipeline, pipeline.model as HistGradientBoostingModel, input.table, Math.min(matrix.rows, input.shap!.rows));
  onProgress?.(1, 'explanations done');
  return { ...out, shap };
}

/** Input of {@link explainExternal}. */
export interface ExternalExplainInput {
  /** The model's ONNX file. */
  readonly onnx: Uint8Array;
  readonly signature: StoredSignature & { readonly task: Task };
  /** The rows to explain on, with (at least) the signature's input columns. */
  readonly table: Table;
  /** Class indices (classification) or values (regression), one per row of `table`. */
  readonly yTrue: Float64Array;
  readonly settings: ExplainSettings;
}

/** Permutation importance and KernelSHAP of an external ONNX file, scored in onnxruntime (see `explainExternalModel`). */
export async function explainExternal(input: ExternalExplainInput, onProgress?: ProgressFn): Promise<ExplainOutput> {
  // Imported on first use, so that workers that only train never load onnxruntime.
  const { openSession } = await import('./scoring.ts');
  const { explainExternalModel } = await import('../evaluation/external-explain.ts');
  const session = await openSession(input.onnx);
  try {
    return await explainExternalModel(session, input.signature, input.table, input.yTrue, input.settings, { ...(onProgress ? { onProgress } : {}) });
  } finally {
    await session.release();
  }
}

/**
 * Exact TreeSHAP of a boosted-tree pipeline, in the trees' margin (log-odds for classification; the
 * value for regression). Tree pipelines encode each raw column as one feature (numeric as is,
 * categories as ordinal codes), so values map one to one onto the raw input columns.
 */
function treeExplanation(pipeline: Pipeline, model: HistGradientBoostingModel, table: Table, nRows: number): ExplainShap {
  // Mean |SHAP| over up to 1,000 rows (exact and cheap enough); examples from the first rows.
  const all = pipeline.transform(table.rows > 1000 ? subsetTable(table, Array.from({ length: 1000 }, (_, i) => i)) : table);
  const x = { rows: all.rows, cols: all.cols, data: all.data };
  const shap = treeShap(model, x);
  const K = shap.nOutputs;
  const F = shap.nFeatures;
  const raw = model.predictRaw(x);
  return shapSummary({
    method: 'tree',
    exact: true,
    background: 0,
    features: pipeline.preprocessor.featureNames,
    // A binary model's margin is the log-odds of its positive class; a multiclass model's per-class
    // margins are raw softmax scores, which SHAP calls the margin output.
    outputs: outputLabels({ task: pipeline.target.task, target: pipeline.target.name, classes: pipeline.target.classes }, pipeline.target.task === 'binary' ? 'log-odds' : 'margin'),
    baseValue: shap.baseValues,
    rows: shap.rows,
    value: (r, k, f) => shap.values[(r * K + k) * F + f],
    prediction: (r, k) => raw[r * K + k],
    examples: Math.min(5, nRows),
  });
}
