/**
 * The explanations of an evaluation report — permutation importance and SHAP values over a model's raw
 * input columns — for any model that can predict a matrix of raw values: a pipeline trained by mloop
 * (synchronously, on the compute worker) or an external ONNX file scored in onnxruntime (asynchronously).
 * Both run the same {@link explainSteps}; TreeSHAP of boosted trees (`training/compute.ts`) reports
 * through the same {@link shapSummary}.
 *
 * Every output is explained: the value of a regression, P(class 1) of a binary classifier, and the
 * probability of each class of a multiclass one.
 */
import { invalidParam } from '../../core/errors.ts';
import type { Column, Table, Task } from '../../training/types.ts';
import { kernelShapSteps } from './kernel-shap.ts';
import { permutationImportanceSteps } from './permutation.ts';
import type { FeatureMatrix, Predicting } from './types.ts';

/** Global importance of each raw input column. */
export interface ExplainImportance {
  readonly feature: string;
  readonly mean: number;
  readonly std: number;
}

/** SHAP values of one model output over the explained rows. */
export interface ShapOutputSummary {
  /** Output explained: `P(<target> = <class>)`, `log-odds(<target> = <class>)` (binary trees), `margin(<target> = <class>)` (multiclass trees) or the target (a regression value). */
  readonly output: string;
  /** The class whose output this is (classification). */
  readonly class?: string;
  /** φ₀: the mean output over the background (KernelSHAP) or the trees' expected margin (TreeSHAP). */
  readonly baseValue: number;
  /** Mean |SHAP| per input column, largest first. */
  readonly meanAbs: { readonly feature: string; readonly value: number }[];
  /** A few explained rows: prediction, and each column's contribution. */
  readonly examples: { readonly row: number; readonly prediction: number; readonly values: Record<string, number> }[];
  /** Largest |Σφ + φ₀ − f(x)| over explained rows (local accuracy; 0 up to rounding). */
  readonly maxAdditivityError: number;
}

/** SHAP values of a model: every output, plus the last output's summary at the top level. */
export interface ShapExplanation {
  /** `tree`: exact TreeSHAP of the boosted trees' margin; `kernel`: KernelSHAP of the predicted probability or value. */
  readonly method: 'tree' | 'kernel';
  readonly rows: number;
  readonly background: number;
  readonly exact: boolean;
  /** Every explained output: the value (regression), class 1 (binary), each class (multiclass). */
  readonly outputs: ShapOutputSummary[];
  /** The last of `outputs` (class 1 of a binary model, the last class of a multiclass one), as reported before `outputs`. */
  readonly output: string;
  readonly baseValue: number;
  readonly meanAbs: ShapOutputSummary['meanAbs'];
  readonly examples: ShapOutputSummary['examples'];
  /** Largest |Σφ + φ₀ − f(x)| over explained rows and every output. */
  readonly maxAdditivityError: number;
}

/** The explanations of an evaluation report. */
export interface ExplainOutput {
  readonly permutation?: { readonly metric: string; readonly baseline: number; readonly rows: number; readonly features: ExplainImportance[] };
  readonly shap?: ShapExplanation;
}

/** Which explanations to compute, and how. */
export interface ExplainSettings {
  readonly permutation?: { readonly metric: string; readonly nRepeats: number; readonly seed: number; readonly maxRows: number };
  readonly shap?: { readonly rows: number; readonly background: number; readonly seed: number; readonly nSamples?: number };
}

/** What the explanations need to know of the model besides its predictions. */
export interface ExplainedModel {
  readonly task: Task;
  /** The target column, for the output labels. */
  readonly target: string;
  /** Class labels (classification), in the order of the model's probabilities. */
  readonly classes?: readonly string[];
  /** The raw input columns, in the order of the matrix's columns. */
  readonly features: readonly string[];
}

/** Progress callback of the explanations. */
export type ExplainProgress = (fraction: number, message: string) => void;

/**
 * Raw input columns as a dense matrix for the explainers: numeric values as they are, categories as
 * their index in a per-column dictionary (NaN when missing), so that permuting or replacing a cell
 * swaps whole raw values. `decode` turns such a matrix back into a table of the same columns.
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

/** What {@link shapSummary} summarises: SHAP values of `rows` explained rows for each output. */
export interface ShapValues {
  readonly method: 'tree' | 'kernel';
  readonly exact: boolean;
  readonly background: number;
  readonly features: readonly string[];
  /** Label (and class) of each output. */
  readonly outputs: readonly { readonly output: string; readonly class?: string }[];
  /** φ₀ per output. */
  readonly baseValue: ArrayLike<number>;
  readonly rows: number;
  /** φ of row r, output o, feature j. */
  value(r: number, o: number, j: number): number;
  /** f(x) of row r, output o. */
  prediction(r: number, o: number): number;
  /** Explained rows reported as examples (the first ones); default 5. */
  readonly examples?: number;
}

/** The report's summary of SHAP values: per output mean |φ|, examples and the additivity error. */
export function shapSummary(v: ShapValues): ShapExplanation {
  const nExamples = Math.min(v.rows, v.examples ?? 5);
  const outputs = v.outputs.map(({ output, class: cls }, o): ShapOutputSummary => {
    const meanAbs = new Float64Array(v.features.length);
    let maxErr = 0;
    const examples: ShapOutputSummary['examples'][number][] = [];
    for (let r = 0; r < v.rows; r++) {
      let sum = v.baseValue[o];
      const values: Record<string, number> = {};
      v.features.forEach((feature, j) => {
        const phi = v.value(r, o, j);
        meanAbs[j] += Math.abs(phi) / v.rows;
        sum += phi;
        values[feature] = phi;
      });
      const prediction = v.prediction(r, o);
      maxErr = Math.max(maxErr, Math.abs(sum - prediction));
      if (r < nExamples) examples.push({ row: r, prediction, values });
    }
    return {
      output,
      ...(cls !== undefined ? { class: cls } : {}),
      baseValue: v.baseValue[o],
      meanAbs: v.features.map((feature, j) => ({ feature, value: meanAbs[j] })).sort((a, b) => b.value - a.value),
      examples,
      maxAdditivityError: maxErr,
    };
  });
  const last = outputs[outputs.length - 1];
  return {
    method: v.method,
    rows: v.rows,
    background: v.background,
    exact: v.exact,
    outputs,
    output: last.output,
    baseValue: last.baseValue,
    meanAbs: last.meanAbs,
    examples: last.examples,
    maxAdditivityError: Math.max(...outputs.map((o) => o.maxAdditivityError)),
  };
}

/** Label and class of each output a model of `task` predicts (`prefix` names the scale: `P`, `log-odds`, `margin`). */
export function outputLabels(model: Pick<ExplainedModel, 'task' | 'target' | 'classes'>, prefix: string): { output: string; class?: string }[] {
  if (model.task === 'regression') return [{ output: model.target }];
  const classes = model.classes ?? [];
  const explained = model.task === 'binary' ? [classes[1] ?? '1'] : classes;
  return explained.map((c) => ({ output: `${prefix}(${model.target} = ${c})`, class: c }));
}

/**
 * Permutation importance and KernelSHAP of a model over the raw matrix `matrix` (rows in a random
 * order: the first rows are explained, background rows are spread over all of them), as a computation
 * that yields what it needs predicted. Predictions are one value per row for regression and binary
 * models (P(class 1)), and one probability per class per row for multiclass models.
 */
export function* explainSteps(model: ExplainedModel, matrix: FeatureMatrix, yTrue: Float64Array, settings: ExplainSettings, onProgress?: ExplainProgress): Predicting<ExplainOutput> {
  const { task, features } = model;
  const nClasses = task === 'multiclass' ? model.classes?.length : undefined;
  const out: { permutation?: ExplainOutput['permutation']; shap?: ExplainOutput['shap'] } = {};
  if (settings.permutation && matrix.rows >= 2) {
    onProgress?.(0.1, 'permutation importance');
    const rows = Math.min(matrix.rows, settings.permutation.maxRows);
    const sub = { rows, cols: matrix.cols, data: matrix.data.subarray(0, rows * matrix.cols) };
    const result = yield* permutationImportanceSteps(sub, yTrue.subarray(0, rows), {
      task,
      nClasses,
      metric: settings.permutation.metric,
      nRepeats: settings.permutation.nRepeats,
      seed: settings.permutation.seed,
      featureNames: features,
    });
    out.permutation = {
      metric: result.metric,
      baseline: result.baseline,
      rows,
      features: result.features.map((f) => ({ feature: f.name!, mean: f.mean, std: f.std })).sort((a, b) => b.mean - a.mean),
    };
  }
  if (settings.shap && matrix.rows >= 1) {
    onProgress?.(0.5, 'KernelSHAP');
    const nBackground = Math.min(matrix.rows, settings.shap.background);
    const nRows = Math.min(matrix.rows, settings.shap.rows);
    // Background: evenly spaced rows; explained rows: the first ones (the caller shuffles).
    const step = matrix.rows / nBackground;
    const m = matrix.cols;
    const bg = new Float64Array(nBackground * m);
    for (let i = 0; i < nBackground; i++) bg.set(matrix.data.subarray(Math.floor(i * step) * m, (Math.floor(i * step) + 1) * m), i * m);
    const x = { rows: nRows, cols: m, data: matrix.data.slice(0, nRows * m) };
    const result = yield* kernelShapSteps({ rows: nBackground, cols: m, data: bg }, x, { seed: settings.shap.seed, ...(settings.shap.nSamples ? { nSamples: settings.shap.nSamples } : {}) });
    const outputs = outputLabels(model, 'P');
    if (result.nOutputs !== outputs.length) throw invalidParam('model', `predicts ${result.nOutputs} values per row; a ${task} model explains ${outputs.length}`);
    out.shap = shapSummary({
      method: 'kernel',
      exact: result.rows.every((r) => r.exact),
      background: nBackground,
      features,
      outputs,
      baseValue: result.baseValue,
      rows: nRows,
      value: (r, o, j) => result.rows[r].values[o * m + j],
      prediction: (r, o) => result.rows[r].prediction[o],
    });
  }
  onProgress?.(1, 'explanations done');
  return out;
}
