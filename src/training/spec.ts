/**
 * Training and tuning requests: their zod schemas (the API, SDK and CLI send these shapes) and the
 * resolved plans that jobs run. A request is checked completely — syntax here, data and
 * hyperparameters in the service — before a job exists; the plan stored with the job holds every
 * resolved choice (full dataset version, features, task, hyperparameters with defaults, seeds).
 */
import { z } from 'zod';
import { MODEL_KINDS } from './estimators.ts';
import type { DpSgdParams } from './dp/dp-sgd.ts';
import type { PreprocessOptions } from './preprocess.ts';
import type { Task } from './types.ts';

const name = (what: string) => z.string({ error: `expected the ${what} as a string` }).min(1, 'must not be empty').max(1000, 'at most 1000 characters');

const preprocessSchema = z.strictObject({
  numericImputation: z.enum(['mean', 'median', 'none']).optional(),
  categoricalImputation: z.enum(['most_frequent', 'none']).optional(),
  standardize: z.boolean().optional(),
  categoricalEncoding: z.enum(['onehot', 'ordinal']).optional(),
  maxCategories: z.number().int().min(1).max(100_000).optional(),
});

const dpSchema = z.strictObject({
  noiseMultiplier: z.number(),
  maxGradNorm: z.number(),
  batchSize: z.number(),
  epochs: z.number(),
  delta: z.number().optional(),
  sampling: z.enum(['poisson', 'fixed']).optional(),
  learningRate: z.number().optional(),
  conversion: z.enum(['improved', 'classic']).optional(),
  minCategoryCount: z.number().optional(),
});

const splitSchema = z.strictObject({
  /** Share of rows held out for the metrics of the trained model; default 0.2. */
  holdout: z.number({ error: 'expected a number' }).gt(0, 'must be in (0, 1)').lt(1, 'must be in (0, 1)').default(0.2),
  /** Hold out each class in proportion; default true for classification. */
  stratify: z.boolean().optional(),
  seed: z.number().int('expected an integer').min(0).max(2 ** 32 - 1).default(0),
});

const bootstrapSchema = z.strictObject({
  /** Resamples of the holdout for metric intervals; 0 turns intervals off. Default 500. */
  n: z.number().int().min(0).max(10_000).default(500),
  confidence: z.number().gt(0).lt(1).default(0.95),
});

/** The fields of a training request (also the base of a tuning request). */
const trainingFields = {
  /** Dataset version, `name@version` (version: sha256, unique prefix or `latest`). */
  dataset: name('dataset reference name@version'),
  /** The feature service whose retrieval produced `dataset` (recorded in lineage; its features are the default features). */
  feature_service: name('feature service name').optional(),
  target: name('target column'),
  task: z.enum(['binary', 'multiclass', 'regression', 'classification']).optional(),
  features: z.array(name('feature column'), { error: 'expected a list of column names' }).min(1, 'give at least one feature').max(100_000).optional(),
  /** Columns left out of the default features. */
  exclude: z.array(name('column'), { error: 'expected a list of column names' }).max(100_000).optional(),
  model: z.enum(MODEL_KINDS, { error: `expected one of ${MODEL_KINDS.join(', ')}` }),
  params: z.record(z.string(), z.unknown(), { error: 'expected an object of hyperparameters' }).default({}),
  preprocess: preprocessSchema.optional(),
  dp: dpSchema.optional(),
  split: splitSchema.default({ holdout: 0.2, seed: 0 }),
  /** Seed of the trainer; default the split seed. */
  seed: z.number().int('expected an integer').min(0).max(2 ** 32 - 1).optional(),
  metrics: z.array(z.string()).max(50).optional(),
  bootstrap: bootstrapSchema.default({ n: 500, confidence: 0.95 }),
  /** Experiment name (created when missing); default `Default`. */
  experiment: z.string().min(1).max(500).optional(),
  run_name: z.string().min(1).max(250).optional(),
  /** Register the trained model as a new version of this registered model (created when missing). */
  register_as: z.string().min(1).max(256).optional(),
  /** Description of the registered version. */
  description: z.string().max(10_000).optional(),
  tags: z.record(z.string().min(1).max(250), z.string().max(5000)).optional(),
};

/** Schema of `POST /api/v1/training/jobs`. */
export const trainingRequestSchema = z.strictObject(trainingFields);

/** A training request as sent. */
export type TrainingRequest = z.input<typeof trainingRequestSchema>;

/** One hyperparameter's search space: a list of values, or a distribution. */
export const paramSpaceSchema = z.union([
  z.array(z.unknown()).min(1, 'give at least one value').max(1000),
  z.strictObject({ values: z.array(z.unknown()).min(1).max(1000) }),
  z
    .strictObject({
      distribution: z.enum(['uniform', 'loguniform', 'int']),
      low: z.number(),
      high: z.number(),
    })
    .refine((d) => d.low <= d.high, { error: 'low must not exceed high', path: ['low'] })
    .refine((d) => d.distribution !== 'loguniform' || d.low > 0, { error: 'loguniform needs low > 0', path: ['low'] })
    .refine((d) => d.distribution !== 'int' || (Number.isInteger(d.low) && Number.isInteger(d.high)), { error: 'int needs integer bounds', path: ['low'] }),
]);

/** A search space as sent. */
export type ParamSpace = z.output<typeof paramSpaceSchema>;

/**
 * Why a tuning request cannot take `dp`: every trial (each fold of each candidate) trains on the same
 * rows, and the accountant only counts the final refit, so the recorded ε would under-report the
 * privacy spent. Until the search itself is accounted, tuning with DP is refused.
 */
export const TUNING_DP_REASON =
  'tuning does not take dp: every trial trains on the same rows, and the privacy spent by the hyperparameter search is not accounted (epsilon would count only the final refit); tune without dp, then train the chosen hyperparameters with dp';

/** Schema of `POST /api/v1/training/tuning-jobs`. */
export const tuningRequestSchema = z.strictObject({
  ...trainingFields,
  dp: z.never({ error: TUNING_DP_REASON }).optional(),
  search: z.strictObject({
    strategy: z.enum(['grid', 'random', 'halving']),
    space: z.record(z.string(), paramSpaceSchema).refine((s) => Object.keys(s).length > 0, { error: 'give at least one hyperparameter to search' }),
    /** Random search: trials; halving: candidates drawn when the space is not a grid. Default 10. */
    n_trials: z.number().int().min(1).max(500).optional(),
    seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
    /** Halving: keep the best 1/factor of the candidates at each rung. Default 3. */
    factor: z.number().gt(1).max(100).default(3),
    /** Halving: what grows from rung to rung — training `rows` (default) or `iterations` of the trainer. */
    resource: z.enum(['rows', 'iterations']).default('rows'),
    min_resource: z.number().int().min(1).optional(),
    max_resource: z.number().int().min(1).optional(),
  }),
  cv: z
    .strictObject({
      folds: z.number().int().min(2).max(20).default(5),
      /** Default true for classification. */
      stratified: z.boolean().optional(),
      seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
    })
    .default({ folds: 5, seed: 0 }),
  /** The metric that ranks trials; default roc_auc (binary), accuracy (multiclass), rmse (regression). */
  objective: z.string().optional(),
  /** At most this many trials (CV runs) in all; default 200. */
  max_trials: z.number().int().min(1).max(2000).default(200),
});

/** A tuning request as sent. */
export type TuningRequest = z.input<typeof tuningRequestSchema>;

/** A training request resolved and checked: what a training job runs. */
export interface TrainingPlan {
  readonly dataset: { readonly name: string; readonly version: string };
  readonly feature_service?: { readonly name: string; readonly version: string };
  readonly target: string;
  readonly task: Task;
  readonly features: readonly string[];
  readonly model: { readonly kind: string; readonly params: Record<string, unknown> };
  readonly preprocess?: PreprocessOptions;
  readonly dp?: DpSgdParams;
  readonly split: { readonly holdout: number; readonly stratify: boolean; readonly seed: number };
  readonly seed: number;
  readonly metrics: readonly string[];
  readonly bootstrap: { readonly n: number; readonly confidence: number };
  readonly experiment?: string;
  readonly run_name?: string;
  readonly register_as?: string;
  readonly description?: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** One trial of a tuning plan's candidates: hyperparameters in the trainer's spelling. */
export type Candidate = Record<string, unknown>;

/** A tuning request resolved and checked: what a tuning job runs. */
export interface TuningPlan extends TrainingPlan {
  readonly search: {
    readonly strategy: 'grid' | 'random' | 'halving';
    readonly space: Readonly<Record<string, ParamSpace>>;
    /** The candidates, resolved (defaults filled) — every one checked before the job was accepted. */
    readonly candidates: readonly Candidate[];
    readonly seed: number;
    readonly factor: number;
    readonly resource: 'rows' | 'iterations';
    /** Halving: resource per rung, smallest first. */
    readonly rungs: readonly number[];
  };
  readonly cv: { readonly folds: number; readonly stratified: boolean; readonly seed: number };
  readonly objective: string;
  readonly max_trials: number;
}
