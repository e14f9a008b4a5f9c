/**
 * A model pipeline: the preprocessing learned on the training rows plus a {@link FittedModel}. It
 * predicts from a {@link Table}, serializes to JSON, and exports as ONE ONNX file whose graph reads the
 * raw columns and holds both the preprocessing and the model.
 *
 * The ONNX contract (also written into the file's metadata as `mloop.signature`):
 * - inputs: one per raw feature column, named after the column; numeric → float [N,1] (`NaN` is
 *   missing), categorical → string [N,1] (`""` is missing).
 * - classification outputs: `label` int64 [N] — the index of the predicted class into
 *   `signature.classes` (also in metadata `mloop.classes`), the argmax of the probabilities with ties
 *   to the lower index — and `probabilities` float [N,k] (k = 2 for binary).
 * - regression output: `variable` float [N,1].
 * The graph computes in float32; the TypeScript pipeline computes in float64.
 */
import { invalidParam, MloopError } from '../core/errors.ts';
import { restoreLogisticRegression } from './linear/logistic.ts';
import { restoreLinearRegression } from './linear/ridge.ts';
import { restoreMlp } from './mlp/mlp.ts';
import { OnnxGraphBuilder, int } from './onnx/builder.ts';
import { fitPreprocessor, type PreprocessOptions, type Preprocessor, type PreprocessorState, restorePreprocessor, splitTable } from './preprocess.ts';
import type { FitOptions, FittedModel, Matrix, ModelKind, Table, Target, Task } from './types.ts';

/** A trainer as pipelines use it: hyperparameters checked when it is made, `fit` over a preprocessed matrix. */
export interface Estimator {
  readonly kind: ModelKind;
  /** Tasks this estimator can learn. */
  readonly tasks: readonly Task[];
  /** Preprocessing the model needs (e.g. trees: no imputation, no scaling); pipeline options override it. */
  readonly preprocess: PreprocessOptions;
  /** Resolved hyperparameters, for logging. */
  readonly params: Readonly<Record<string, unknown>>;
  fit(x: Matrix, target: Target, options: FitOptions): Promise<FittedModel> | FittedModel;
}

/** Options of {@link fitPipeline}. */
export interface FitPipelineOptions {
  /** Name of the target column. */
  readonly target: string;
  /** `classification` picks binary or multiclass from the number of classes. */
  readonly task: Task | 'classification';
  /** Feature columns; default every column except the target. */
  readonly features?: readonly string[];
  /** Seed of every random choice. */
  readonly seed: number;
  /** Overrides of the estimator's preprocessing. */
  readonly preprocess?: PreprocessOptions;
  readonly sampleWeight?: Float64Array;
  readonly onProgress?: (fraction: number, message: string) => void;
}

/** What a pipeline predicts. */
export interface PipelineTarget {
  readonly name: string;
  readonly task: Task;
  /** Classification: class labels, in the order of class indices. */
  readonly classes?: readonly string[];
}

/** Serialized {@link Pipeline}. */
export interface PipelineState {
  readonly version: 1;
  readonly target: PipelineTarget;
  readonly preprocessor: PreprocessorState;
  readonly model: { kind: ModelKind; [key: string]: unknown };
}

/** A tensor in a {@link ModelSignature}. */
export interface TensorSpec {
  readonly name: string;
  readonly type: 'float' | 'string' | 'int64';
  readonly shape: readonly (number | string)[];
}

/** Inputs and outputs of an exported pipeline. */
export interface ModelSignature {
  readonly inputs: readonly (TensorSpec & { readonly kind: 'numeric' | 'categorical' })[];
  readonly outputs: readonly TensorSpec[];
  readonly task: Task;
  readonly classes?: readonly string[];
  /** How `label` encodes a class. */
  readonly label?: 'class_index';
  /** How missing values are written in inputs. */
  readonly missing: { readonly numeric: 'NaN'; readonly categorical: '' };
}

/** An exported ONNX file and its signature. */
export interface OnnxExport {
  readonly bytes: Uint8Array;
  readonly signature: ModelSignature;
}

/** Output names of an exported pipeline. */
export const ONNX_OUTPUTS = Object.freeze({ label: 'label', probabilities: 'probabilities', value: 'variable' });

/** Restore functions by model kind; the built-in kinds are always known. */
export type ModelRestorers = Partial<Record<ModelKind, (state: { kind: ModelKind; [key: string]: unknown }) => FittedModel>>;

const BUILTIN_RESTORERS: ModelRestorers = {
  logistic_regression: restoreLogisticRegression,
  linear_regression: restoreLinearRegression,
  mlp: restoreMlp,
};

/** Preprocessor + model. */
export class Pipeline {
  readonly preprocessor: Preprocessor;
  readonly model: FittedModel;
  readonly target: PipelineTarget;

  constructor(preprocessor: Preprocessor, model: FittedModel, target: PipelineTarget) {
    if (model.nFeatures !== preprocessor.nFeatures) {
      throw new MloopError('INVALID_PARAMETER_VALUE', `pipeline: the model reads ${model.nFeatures} features, the preprocessor makes ${preprocessor.nFeatures}`);
    }
    if (model.task !== target.task) throw new MloopError('INVALID_PARAMETER_VALUE', `pipeline: model task ${model.task} differs from target task ${target.task}`);
    if (target.task !== 'regression' && target.classes?.length !== model.nClasses) {
      throw new MloopError('INVALID_PARAMETER_VALUE', `pipeline: ${target.classes?.length ?? 0} class labels for a model of ${model.nClasses} classes`);
    }
    this.preprocessor = preprocessor;
    this.model = model;
    this.target = target;
  }

  /** The feature matrix of `table`. */
  transform(table: Table): Matrix {
    return this.preprocessor.transform(table);
  }

  /** The model's raw output per row (see {@link FittedModel.predict}). */
  predict(table: Table): Float64Array {
    return this.model.predict(this.transform(table));
  }

  /** Classification: class probabilities, rows × k row-major (k = 2 for binary). */
  predictProba(table: Table): Float64Array {
    const k = this.#classCount();
    const p = this.predict(table);
    if (k > 2) return p;
    const out = new Float64Array(p.length * 2);
    for (let i = 0; i < p.length; i++) {
      out[2 * i] = 1 - p[i];
      out[2 * i + 1] = p[i];
    }
    return out;
  }

  /** Classification: the index of the most probable class per row (ties to the lower index, as ONNX ArgMax). */
  predictLabel(table: Table): Int32Array {
    const k = this.#classCount();
    const proba = this.predictProba(table);
    const n = proba.length / k;
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (proba[i * k + c] > proba[i * k + best]) best = c;
      out[i] = best;
    }
    return out;
  }

  /** Classification: the predicted class label per row. */
  predictClass(table: Table): string[] {
    const classes = this.target.classes!;
    return Array.from(this.predictLabel(table), (i) => classes[i]);
  }

  /** Serializable state; {@link restorePipeline} reads it back. */
  toJSON(): PipelineState {
    return { version: 1, target: this.target, preprocessor: this.preprocessor.toJSON(), model: this.model.toJSON() };
  }

  /** The signature of {@link exportOnnx}'s file. */
  signature(): ModelSignature {
    const inputs = this.preprocessor.inputs.map((c) => ({ name: c.name, kind: c.kind, type: c.kind === 'numeric' ? ('float' as const) : ('string' as const), shape: ['N', 1] }));
    const missing = { numeric: 'NaN', categorical: '' } as const;
    if (this.target.task === 'regression') {
      return { inputs, outputs: [{ name: ONNX_OUTPUTS.value, type: 'float', shape: ['N', 1] }], task: 'regression', missing };
    }
    const k = this.model.nClasses;
    return {
      inputs,
      outputs: [
        { name: ONNX_OUTPUTS.label, type: 'int64', shape: ['N'] },
        { name: ONNX_OUTPUTS.probabilities, type: 'float', shape: ['N', k] },
      ],
      task: this.target.task,
      classes: this.target.classes,
      label: 'class_index',
      missing,
    };
  }

  /** Exports preprocessing and model as one ONNX model (see the module comment for the contract). */
  exportOnnx(options: { name?: string; metadata?: Record<string, string>; docString?: string } = {}): OnnxExport {
    const signature = this.signature();
    const outputNames = new Set(signature.outputs.map((o) => o.name));
    for (const input of signature.inputs) {
      if (outputNames.has(input.name)) throw invalidParam(`column "${input.name}"`, 'has the name of an ONNX output; rename the column to export');
    }
    const graph = new OnnxGraphBuilder(options.name ?? `mloop_${this.model.kind}`);
    const features = this.preprocessor.exportOnnx(graph);
    const out = this.model.exportOnnx(graph, features);
    if (this.target.task === 'regression') {
      if (!out.value) throw new MloopError('INTERNAL_ERROR', `${this.model.kind}: exportOnnx gave no value output for regression`);
      graph.node('Identity', [out.value], [ONNX_OUTPUTS.value]);
      graph.output(ONNX_OUTPUTS.value, 'float', ['N', 1]);
    } else {
      if (!out.probabilities) throw new MloopError('INTERNAL_ERROR', `${this.model.kind}: exportOnnx gave no probabilities output for classification`);
      graph.node('Identity', [out.probabilities], [ONNX_OUTPUTS.probabilities]);
      graph.node('ArgMax', [ONNX_OUTPUTS.probabilities], [ONNX_OUTPUTS.label], { axis: int(1), keepdims: int(0) });
      graph.output(ONNX_OUTPUTS.label, 'int64', ['N']);
      graph.output(ONNX_OUTPUTS.probabilities, 'float', ['N', this.model.nClasses]);
    }
    const metadata: Record<string, string> = {
      ...options.metadata,
      'mloop.signature': JSON.stringify(signature),
      'mloop.task': this.target.task,
      'mloop.target': this.target.name,
      'mloop.model_kind': this.model.kind,
      'mloop.feature_names': JSON.stringify(this.preprocessor.featureNames),
    };
    if (this.target.classes) metadata['mloop.classes'] = JSON.stringify(this.target.classes);
    const bytes = graph.build({ metadata, docString: options.docString ?? `mloop ${this.model.kind} pipeline predicting ${this.target.name}` });
    return { bytes, signature };
  }

  #classCount(): number {
    if (this.target.task === 'regression') throw invalidParam('task', 'class predictions need a classification pipeline');
    return this.model.nClasses;
  }
}

/**
 * Fits a pipeline: separates and checks the target, learns preprocessing on the rows of `table`, then
 * fits `estimator`. Every check on the input (target column, labels, classes, all-missing features,
 * the estimator's task) runs before any training work.
 */
export async function fitPipeline(table: Table, estimator: Estimator, options: FitPipelineOptions): Promise<Pipeline> {
  if (!Number.isInteger(options.seed)) throw invalidParam('seed', `must be an integer, got ${options.seed}`);
  const { features, target } = splitTable(table, { target: options.target, task: options.task, features: options.features });
  if (!estimator.tasks.includes(target.task)) {
    throw invalidParam('task', `${estimator.kind} does not learn ${target.task} tasks (it learns ${estimator.tasks.join(', ')})`);
  }
  if (options.sampleWeight && options.sampleWeight.length !== table.rows) {
    throw invalidParam('sampleWeight', `has ${options.sampleWeight.length} weights for ${table.rows} rows`);
  }
  const preprocessor = fitPreprocessor(features, { ...estimator.preprocess, ...options.preprocess });
  const x = preprocessor.transform(features, { shared: table.rows * preprocessor.nFeatures >= 1 << 20 });
  const nClasses = target.task === 'regression' ? 1 : target.classes!.length;
  const model = await estimator.fit(x, target, {
    task: target.task,
    nClasses,
    seed: options.seed,
    sampleWeight: options.sampleWeight,
    onProgress: options.onProgress,
  });
  return new Pipeline(preprocessor, model, { name: options.target, task: target.task, ...(target.classes ? { classes: target.classes } : {}) });
}

/**
 * Rebuilds a pipeline from {@link Pipeline.toJSON}. Models of kinds other than the built-in linear,
 * logistic and MLP models (e.g. `hist_gradient_boosting`) need their restore function in `restorers`.
 */
export function restorePipeline(state: PipelineState, restorers: ModelRestorers = {}): Pipeline {
  if (state === null || typeof state !== 'object' || state.version !== 1) throw new MloopError('INVALID_PARAMETER_VALUE', 'pipeline state: unsupported or missing version');
  const restore = { ...BUILTIN_RESTORERS, ...restorers }[state.model?.kind];
  if (!restore) throw new MloopError('INVALID_PARAMETER_VALUE', `pipeline state: no restore function for model kind ${JSON.stringify(state.model?.kind)}`);
  const t = state.target;
  if (!t || typeof t.name !== 'string' || !['binary', 'multiclass', 'regression'].includes(t.task)) throw new MloopError('INVALID_PARAMETER_VALUE', 'pipeline state: malformed target');
  return new Pipeline(restorePreprocessor(state.preprocessor), restore(state.model), t);
}
