/**
 * The catalogue of model kinds the training service offers: for each, the tasks it learns, its
 * hyperparameters (with defaults and the trainer's own range checks) and whether it trains with
 * differential privacy; the preprocessing a model needs comes with its estimator. Requests name hyperparameters in the trainer's spelling
 * (`C`, `maxIter`, `learning_rate`) or in scikit-learn's snake_case (`max_iter`, `hidden_layer_sizes`);
 * both resolve to the trainer's name, which is what gets logged.
 */
import { invalidParam, isMloopError, MloopError } from '../core/errors.ts';
import type { DpSgdParams } from './dp/dp-sgd.ts';
import { logisticRegression, resolveLogisticParams } from './linear/logistic.ts';
import { resolveRidgeParams, ridgeRegression } from './linear/ridge.ts';
import { mlp, resolveMlpParams } from './mlp/mlp.ts';
import { histGradientBoosting, resolveHgbtParams, restoreHistGradientBoosting } from './trees/hgbt.ts';
import type { Estimator, ModelRestorers } from './pipeline.ts';
import type { Task } from './types.ts';

/** Model kinds a training request may name. `ridge` and `linear_regression` make the same model family. */
export const MODEL_KINDS = ['logistic_regression', 'linear_regression', 'ridge', 'hist_gradient_boosting', 'mlp'] as const;

/** A model kind of a request. */
export type ModelKindName = (typeof MODEL_KINDS)[number];

/** Hyperparameters as given in a request. */
export type HyperParams = Readonly<Record<string, unknown>>;

/** One entry of the catalogue. */
export interface ModelKindSpec {
  readonly kind: ModelKindName;
  readonly description: string;
  readonly tasks: readonly Task[];
  /** Trains with DP-SGD when the request has `dp`. */
  readonly supportsDp: boolean;
  /** Hyperparameters with their defaults, in the trainer's spelling. */
  readonly defaults: Readonly<Record<string, unknown>>;
  /** The hyperparameter that counts training iterations (successive halving's `iterations` resource). */
  readonly iterationParam?: string;
  /** Checks hyperparameters and returns them complete, in the trainer's spelling (defaults filled). */
  resolve(params: HyperParams, dp?: DpSgdParams): Record<string, unknown>;
  /** An estimator for already resolved hyperparameters. */
  create(resolved: Record<string, unknown>, dp?: DpSgdParams): Estimator;
}

/** Converts `maxIter` → `max_iter`. */
function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Converts `max_iter` → `maxIter`. */
export function camelCase(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Renames request keys to the trainer's spelling and refuses unknown ones, naming `params.<key>`.
 * `names` are the trainer's own names; `threads`-like keys are accepted too.
 */
function canonicalKeys(params: HyperParams, names: readonly string[]): { values: Record<string, unknown>; given: Map<string, string> } {
  const values: Record<string, unknown> = {};
  const given = new Map<string, string>();
  for (const [key, value] of Object.entries(params)) {
    const canonical = names.find((n) => n === key || snake(n) === key || camelCase(n) === key);
    if (!canonical) throw invalidParam(`params.${key}`, `unknown hyperparameter; known: ${names.join(', ')}`);
    if (given.has(canonical)) throw invalidParam(`params.${key}`, `given twice (also as ${given.get(canonical)})`);
    given.set(canonical, key);
    values[canonical] = value;
  }
  return { values, given };
}

/** Runs a trainer's own checks, renaming the field of its error to `params.<key as given>`. */
function checked<T>(given: Map<string, string>, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (!isMloopError(error) || error.code !== 'INVALID_PARAMETER_VALUE') throw error;
    const field = error.fields[0]?.field ?? '';
    if (field.startsWith('dp')) throw error;
    const shown = given.get(field) ?? field;
    throw invalidParam(`params.${shown}`, error.fields[0]?.reason ?? error.message);
  }
}

const LOGISTIC_NAMES = ['C', 'maxIter', 'tol', 'fitIntercept', 'threads'] as const;
const RIDGE_NAMES = ['alpha', 'fitIntercept'] as const;
const MLP_NAMES = [
  'hiddenLayerSizes',
  'alpha',
  'batchSize',
  'learningRateInit',
  'maxIter',
  'tol',
  'nIterNoChange',
  'earlyStopping',
  'validationFraction',
  'beta1',
  'beta2',
  'epsilon',
  'shuffle',
  'threads',
] as const;

function withoutThreads(o: Record<string, unknown>): Record<string, unknown> {
  const { threads: _threads, ...rest } = o;
  return rest;
}

const logistic: ModelKindSpec = {
  kind: 'logistic_regression',
  description: 'logistic regression with an L2 penalty (binary and multinomial), L-BFGS as scikit-learn lbfgs; DP-SGD with dp',
  tasks: ['binary', 'multiclass'],
  supportsDp: true,
  defaults: withoutThreads({ ...resolveLogisticParams({ threads: 1 }) }),
  iterationParam: 'maxIter',
  resolve(params, dp) {
    const { values, given } = canonicalKeys(params, LOGISTIC_NAMES);
    const resolved = checked(given, () => resolveLogisticParams({ ...values, ...(dp ? { dp } : {}) }));
    const { dp: _dp, ...rest } = resolved;
    return values.threads === undefined ? withoutThreads(rest) : rest;
  },
  create: (resolved, dp) => logisticRegression({ ...resolved, ...(dp ? { dp } : {}) }),
};

function ridgeSpec(kind: 'ridge' | 'linear_regression'): ModelKindSpec {
  const names = kind === 'ridge' ? RIDGE_NAMES : (['fitIntercept'] as const);
  return {
    kind,
    description: kind === 'ridge' ? 'ridge regression (L2 penalty alpha), closed form as scikit-learn Ridge' : 'ordinary least squares (minimum-norm solution), as scikit-learn LinearRegression',
    tasks: ['regression'],
    supportsDp: false,
    defaults: kind === 'ridge' ? { ...resolveRidgeParams({}) } : { fitIntercept: true },
      resolve(params) {
      const { values, given } = canonicalKeys(params, names);
      const resolved = checked(given, () => resolveRidgeParams({ ...values, ...(kind === 'linear_regression' ? { alpha: 0 } : {}) }));
      return kind === 'ridge' ? { ...resolved } : { fitIntercept: resolved.fitIntercept };
    },
    create: (resolved) => ridgeRegression({ ...resolved, alpha: kind === 'ridge' ? (resolved.alpha as number) : 0 }),
  };
}

const mlpSpec: ModelKindSpec = {
  kind: 'mlp',
  description: 'multi-layer perceptron (ReLU, Adam, mini-batches, early stopping) as scikit-learn MLPClassifier/MLPRegressor; DP-SGD with dp',
  tasks: ['binary', 'multiclass', 'regression'],
  supportsDp: true,
  defaults: withoutThreads({ ...resolveMlpParams({ threads: 1 }) }),
  iterationParam: 'maxIter',
  resolve(params, dp) {
    const { values, given } = canonicalKeys(params, MLP_NAMES);
    const resolved = checked(given, () => resolveMlpParams({ ...(values as object), ...(dp ? { dp } : {}) }));
    const { dp: _dp, ...rest } = resolved;
    return values.threads === undefined ? withoutThreads(rest) : rest;
  },
  create: (resolved, dp) => mlp({ ...(resolved as object), ...(dp ? { dp } : {}) }),
};

const HGBT_NAMES = [
  'learning_rate',
  'max_iter',
  'max_leaf_nodes',
  'max_depth',
  'min_samples_leaf',
  'l2_regularization',
  'max_bins',
  'early_stopping',
  'validation_fraction',
  'n_iter_no_change',
  'tol',
  'n_threads',
] as const;

const hgbt: ModelKindSpec = {
  kind: 'hist_gradient_boosting',
  description: 'histogram gradient-boosted trees (binary log-loss, multiclass softmax, squared error; native missing values, early stopping) as scikit-learn HistGradientBoosting*',
  tasks: ['binary', 'multiclass', 'regression'],
  supportsDp: false,
  defaults: { ...resolveHgbtParams({}) },
  iterationParam: 'max_iter',
  resolve(params) {
    const { values, given } = canonicalKeys(params, HGBT_NAMES);
    const resolved = checked(given, () => resolveHgbtParams(values));
    return { ...resolved, ...(values.n_threads !== undefined ? { n_threads: values.n_threads } : {}) };
  },
  create: (resolved) => histGradientBoosting(resolved),
};

const CATALOGUE = new Map<ModelKindName, ModelKindSpec>([
  ['hist_gradient_boosting', hgbt],
  ['logistic_regression', logistic],
  ['linear_regression', ridgeSpec('linear_regression')],
  ['ridge', ridgeSpec('ridge')],
  ['mlp', mlpSpec],
]);

/** Restore functions of model families beyond the built-in linear ones and the MLP, for `restorePipeline`. */
export const EXTRA_RESTORERS: ModelRestorers = { hist_gradient_boosting: restoreHistGradientBoosting };

/** Every model kind that can be trained here, with its facts. */
export function modelKinds(): ModelKindSpec[] {
  return [...CATALOGUE.values()];
}

/** The catalogue entry of `kind`; throws naming `field` when unknown or not available in this build. */
export function modelKind(kind: string, field = 'model'): ModelKindSpec {
  const spec = CATALOGUE.get(kind as ModelKindName);
  if (spec) return spec;
  if ((MODEL_KINDS as readonly string[]).includes(kind)) {
    throw new MloopError('INVALID_PARAMETER_VALUE', `${field}: ${kind} is not available in this build`, { fields: [{ field, reason: `${kind} is not available in this build` }] });
  }
  throw invalidParam(field, `unknown model kind ${JSON.stringify(kind)}; known: ${[...CATALOGUE.keys()].join(', ')}`);
}

/**
 * Checks a model request — kind, task, hyperparameters, DP settings — and returns the resolved
 * hyperparameters. Errors name `model`, `params.<name>` or `dp.<name>`.
 */
export function resolveModel(kind: string, task: Task, params: HyperParams = {}, dp?: DpSgdParams): { spec: ModelKindSpec; params: Record<string, unknown> } {
  const spec = modelKind(kind);
  if (!spec.tasks.includes(task)) {
    throw invalidParam('model', `${kind} does not learn ${task} tasks (it learns ${spec.tasks.join(', ')})`);
  }
  if (dp !== undefined && !spec.supportsDp) throw invalidParam('dp', `${kind} does not train with differential privacy (logistic_regression and mlp do)`);
  return { spec, params: spec.resolve(params, dp) };
}
