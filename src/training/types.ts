/**
 * The shared vocabulary of the trainers: tables in, matrices through, fitted models out.
 *
 * Flow: a {@link Table} (columns from a dataset version) → a learned preprocessor (standardize,
 * one-hot, impute — fitted on training rows only) → a dense {@link Matrix} → an estimator's `fit` →
 * a {@link FittedModel}. The preprocessor and the model together form a pipeline that predicts from
 * tables and exports to one ONNX file.
 */
import type { OnnxGraphBuilder } from './onnx/builder.ts';

/** Learning tasks. */
export type Task = 'binary' | 'multiclass' | 'regression';

/** A dense row-major matrix of doubles. `NaN` marks a missing value where a model allows it. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  /** `data[r * cols + c]`. */
  readonly data: Float64Array;
}

/** Makes a zero matrix. */
export function zeros(rows: number, cols: number): Matrix {
  return { rows, cols, data: new Float64Array(rows * cols) };
}

/** A numeric column; `NaN` is missing. */
export interface NumericColumn {
  readonly name: string;
  readonly kind: 'numeric';
  readonly values: Float64Array;
}

/** A categorical column; `null` is missing. */
export interface CategoricalColumn {
  readonly name: string;
  readonly kind: 'categorical';
  readonly values: readonly (string | null)[];
}

/** A column of a {@link Table}. */
export type Column = NumericColumn | CategoricalColumn;

/** Columnar in-memory data, as read from a dataset version. */
export interface Table {
  readonly rows: number;
  readonly columns: readonly Column[];
}

/**
 * A training target. Classification labels are class indices `0..classes.length-1` (as doubles);
 * `classes` holds the original label values in sorted order, as scikit-learn orders them.
 */
export interface Target {
  readonly task: Task;
  readonly values: Float64Array;
  readonly classes?: readonly string[];
}

/** Options every `fit` accepts. */
export interface FitOptions {
  readonly task: Task;
  /** Number of classes (2 for binary); 1 for regression. */
  readonly nClasses: number;
  /** Seed of every random choice the trainer makes; same seed, same model. */
  readonly seed: number;
  /** Optional per-row weights. */
  readonly sampleWeight?: Float64Array;
  /** Called now and then with progress in [0, 1] and a short message. */
  readonly onProgress?: (fraction: number, message: string) => void;
}

/** Model families mloop trains. */
export type ModelKind = 'logistic_regression' | 'linear_regression' | 'hist_gradient_boosting' | 'mlp';

/** The outputs a model adds to an ONNX graph. */
export interface OnnxModelOutputs {
  /** Classification: name of a float tensor [N, nClasses] of class probabilities. */
  readonly probabilities?: string;
  /** Regression: name of a float tensor [N, 1] of predictions. */
  readonly value?: string;
}

/** A trained model over preprocessed features. */
export interface FittedModel {
  readonly kind: ModelKind;
  readonly task: Task;
  readonly nFeatures: number;
  /** 2 for binary, k for multiclass, 1 for regression. */
  readonly nClasses: number;
  /**
   * Predictions for each row of `x`: regression → the value (length rows); binary → P(class 1)
   * (length rows); multiclass → probabilities row-major (length rows × nClasses).
   */
  predict(x: Matrix): Float64Array;
  /** Serializable state; `restore` functions of each family read it back. */
  toJSON(): { kind: ModelKind; [key: string]: unknown };
  /**
   * Appends this model's operators to `graph`, reading the float tensor `input` [N, nFeatures], and
   * returns the names of its outputs. Must agree with {@link predict} within 1e-5.
   */
  exportOnnx(graph: OnnxGraphBuilder, input: string): OnnxModelOutputs;
}
