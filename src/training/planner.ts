/**
 * The checks of training and tuning requests, made completely before a job exists: the dataset version
 * (exists, passed validation), the target and feature columns against the version's stored schema and
 * profile (missing labels, a single class, all-null or infinite features — answered at once, without
 * reading the data), the model kind and every hyperparameter against the trainer's ranges (for tuning,
 * every candidate), DP settings, metrics, the objective and the search budget. Bad input is a 400 naming
 * the field; the result is the plan a job runs.
 */
import type { RequestContext } from '../core/context.ts';
import { invalidParam, isMloopError, MloopError } from '../core/errors.ts';
import { parseInput } from '../core/validation.ts';
import type { ColumnProfile, ColumnSchema, DatasetVersion } from '../data/domain.ts';
import { formatVersionRef, parseVersionRef } from '../data/domain.ts';
import type { DatasetService } from '../data/service.ts';
import { validateModelName } from '../registry/domain.ts';
import { checkMetrics, defaultTaskMetrics } from './cv.ts';
import { camelCase, modelKind, resolveModel } from './estimators.ts';
import type { TrainingDeps } from './service.ts';
import { trainingRequestSchema, tuningRequestSchema, type Candidate, type TrainingPlan, type TuningPlan } from './spec.ts';
import { gridCandidates, gridSize, halvingRungs, isGrid, randomCandidates, survivors } from './tuning/search.ts';
import type { Task } from './types.ts';

/** Column tags whose columns are left out of the default features. */
const EXCLUDED_TAGS = ['pii', 'timestamp', 'entity', 'label'] as const;

/** Turns training and tuning requests into plans (see the module comment). */
export class TrainingPlanner {
  constructor(readonly deps: Pick<TrainingDeps, 'datasets' | 'features' | 'tracking'>) {}

  /** Checks a training request completely (see the module comment) and returns the plan a job runs. */
  async planTraining(ctx: RequestContext, body: unknown): Promise<TrainingPlan> {
    const request = parseInput(trainingRequestSchema, body, 'body');
    return this.#plan(ctx, request);
  }

  /** Checks a tuning request completely (including every candidate's hyperparameters) and returns its plan. */
  async planTuning(ctx: RequestContext, body: unknown): Promise<TuningPlan> {
    const request = parseInput(tuningRequestSchema, body, 'body');
    const { search, cv, objective: objectiveName, max_trials, ...training } = request;
    const base = await this.#plan(ctx, training);
    const spec = modelKind(base.model.kind);
    const objective = objectiveName ?? defaultObjective(base.task);
    try {
      checkMetrics([objective], base.task, 'objective');
    } catch (error) {
      if (isMloopError(error)) throw invalidParam('objective', error.fields[0]?.reason ?? error.message);
      throw error;
    }
    const metrics = base.metrics.includes(objective) ? base.metrics : [objective, ...base.metrics];
    for (const key of Object.keys(search.space)) {
      if (key in request.params) throw invalidParam(`search.space.${key}`, `is also fixed in params; search it or fix it, not both`);
    }
    let raw: Candidate[];
    if (search.strategy === 'grid') {
      if (!isGrid(search.space)) throw invalidParam('search.space', 'grid search needs a list of values for every hyperparameter');
      const size = gridSize(search.space);
      if (size > max_trials) throw invalidParam('search.space', `the grid has ${size} combinations, more than max_trials (${max_trials})`);
      raw = gridCandidates(search.space);
    } else if (search.strategy === 'random') {
      raw = randomCandidates(search.space, search.n_trials ?? 10, search.seed);
    } else {
      raw = isGrid(search.space) && search.n_trials === undefined ? gridCandidates(search.space) : randomCandidates(search.space, search.n_trials ?? 10, search.seed);
    }
    // Every candidate is checked now, against the same rules as a training request.
    const candidates = raw.map((c) => {
      try {
        return resolveModel(base.model.kind, base.task, { ...request.params, ...c }, base.dp).params;
      } catch (error) {
        if (isMloopError(error) && error.fields[0]?.field.startsWith('params.')) {
          const key = error.fields[0].field.slice('params.'.length);
          const field = key in search.space ? `search.space.${key}` : error.fields[0].field;
          throw invalidParam(field, `${error.fields[0].reason} (candidate ${JSON.stringify(c)})`);
        }
        throw error;
      }
    });
    const stratified = cv.stratified ?? base.task !== 'regression';
    const rows = await this.#rowCount(ctx, base);
    const trainRows = rows - Math.ceil(base.split.holdout * rows);
    if (cv.folds > trainRows) throw invalidParam('cv.folds', `${cv.folds} folds need at least ${cv.folds} training rows, there are ${trainRows}`);
    let rungs: number[] = [];
    if (search.strategy === 'halving') {
      if (search.resource === 'iterations') {
        if (!spec.iterationParam) throw invalidParam('search.resource', `${spec.kind} has no iteration budget; use resource "rows"`);
        if (spec.iterationParam in search.space || Object.keys(search.space).some((k) => camelCase(k) === spec.iterationParam)) {
          throw invalidParam('search.resource', `the resource "iterations" sets ${spec.iterationParam}, which the search space also sets`);
        }
        const maxIter = Number(candidates[0][spec.iterationParam]);
        rungs = halvingRungs(candidates.length, { factor: search.factor, maxResource: search.max_resource ?? maxIter, minResource: search.min_resource, floor: 1 });
      } else {
        const foldTrain = Math.floor((trainRows * (cv.folds - 1)) / cv.folds);
        const maxResource = Math.min(search.max_resource ?? foldTrain, foldTrain);
        const classes = base.task === 'regression' ? 1 : await this.#classCount(ctx, base);
        rungs = halvingRungs(candidates.length, { factor: search.factor, maxResource, minResource: search.min_resource, floor: Math.min(maxResource, 2 * classes * cv.folds) });
      }
      let n = candidates.length;
      let trials = 0;
      for (let i = 0; i < rungs.length; i++) {
        trials += n;
        n = survivors(n, search.factor);
      }
      if (trials > max_trials) throw invalidParam('search', `successive halving would run ${trials} trials, more than max_trials (${max_trials})`);
    } else if (candidates.length > max_trials) {
      throw invalidParam('search.n_trials', `${candidates.length} trials exceed max_trials (${max_trials})`);
    }
    return {
      ...base,
      metrics,
      search: { strategy: search.strategy, space: search.space, candidates, seed: search.seed, factor: search.factor, resource: search.resource, rungs },
      cv: { folds: cv.folds, stratified, seed: cv.seed },
      objective,
      max_trials,
    };
  }

  async #rowCount(ctx: RequestContext, plan: TrainingPlan): Promise<number> {
    return (await this.deps.datasets.getVersion(ctx, plan.dataset.name, plan.dataset.version, { profile: false })).row_count;
  }

  async #classCount(ctx: RequestContext, plan: TrainingPlan): Promise<number> {
    const version = await this.deps.datasets.getVersion(ctx, plan.dataset.name, plan.dataset.version);
    return version.profile?.columns.find((c) => c.name === plan.target)?.distinct ?? 2;
  }

  /** The checks shared by training and tuning requests. */
  async #plan(ctx: RequestContext, request: ReturnType<typeof trainingRequestSchema.parse>): Promise<TrainingPlan> {
    const ref = parseVersionRef(request.dataset, 'dataset');
    const version = await usableDatasetVersion(this.deps.datasets, ctx, ref.name, ref.version);
    const profile = version.profile!;
    const columns = new Map(version.schema.columns.map((c) => [c.name, c]));
    const profiles = new Map(profile.columns.map((c) => [c.name, c]));
    const shown = formatVersionRef(version.dataset, version.version.slice(0, 12));

    let featureService: { name: string; version: string; outputs: string[] } | undefined;
    if (request.feature_service !== undefined) featureService = await this.#featureService(ctx, request.feature_service);

    // Target.
    const target = columns.get(request.target);
    if (!target) throw invalidParam('target', `column "${request.target}" is not in dataset ${shown} (columns: ${[...columns.keys()].join(', ')})`);
    const targetProfile = profiles.get(request.target)!;
    if (targetProfile.nulls > 0) {
      throw invalidParam('target', `column "${request.target}" has ${targetProfile.nulls} missing label${targetProfile.nulls > 1 ? 's' : ''} (null or NaN) in ${shown}; drop or fill those rows first`);
    }
    if ((targetProfile.infinite ?? 0) > 0) throw invalidParam('target', `column "${request.target}" holds ±Infinity in ${targetProfile.infinite} rows of ${shown}`);
    const task = resolveTask(request.task, target, targetProfile);

    // Features.
    const features = this.#features(request, columns, profiles, featureService, shown);

    // Rows.
    const rows = version.row_count;
    const nHoldout = Math.ceil(request.split.holdout * rows);
    if (rows - nHoldout < 2 || nHoldout < 1) {
      throw invalidParam('split.holdout', `${request.split.holdout} of ${rows} rows leaves ${rows - nHoldout} for training and ${nHoldout} for the holdout; need at least 2 and 1`);
    }

    // Model and hyperparameters.
    const { params } = resolveModel(request.model, task, request.params, request.dp);
    if (request.dp && request.dp.batchSize > rows - nHoldout) {
      throw invalidParam('dp.batchSize', `${request.dp.batchSize} exceeds the ${rows - nHoldout} training rows`);
    }
    const metrics = checkMetrics(request.metrics ?? defaultTaskMetrics(task), task);

    if (request.register_as !== undefined) validateModelName(request.register_as, 'register_as');
    if (request.experiment !== undefined) await this.#checkExperiment(ctx, request.experiment);
    const tags = request.tags ?? {};
    for (const key of Object.keys(tags)) {
      if (/^(mloop|mlflow)\./.test(key)) throw invalidParam(`tags.${key}`, 'keys starting with mloop. or mlflow. are reserved');
      if (!/^[\w\-. /:]+$/.test(key)) throw invalidParam(`tags.${key}`, 'keys may hold letters, digits, _ - . space / and :');
    }

    return {
      dataset: { name: version.dataset, version: version.version },
      ...(featureService ? { feature_service: { name: featureService.name, version: featureService.version } } : {}),
      target: request.target,
      task,
      features,
      model: { kind: request.model, params },
      ...(request.preprocess ? { preprocess: request.preprocess } : {}),
      ...(request.dp ? { dp: request.dp } : {}),
      split: { holdout: request.split.holdout, stratify: request.split.stratify ?? task !== 'regression', seed: request.split.seed },
      seed: request.seed ?? request.split.seed,
      metrics,
      bootstrap: request.bootstrap,
      ...(request.experiment !== undefined ? { experiment: request.experiment } : {}),
      ...(request.run_name !== undefined ? { run_name: request.run_name } : {}),
      ...(request.register_as !== undefined ? { register_as: request.register_as } : {}),
      ...(request.description !== undefined ? { description: request.description } : {}),
      tags,
    };
  }

  async #featureService(ctx: RequestContext, name: string): Promise<{ name: string; version: string; outputs: string[] }> {
    try {
      const selection = await this.deps.features.select(ctx, { feature_service: name });
      if (!selection.service) throw invalidParam('feature_service', `"${name}" is not a feature service`);
      return { name: selection.service.name, version: selection.service.version, outputs: selection.outputs.map((o) => o.output) };
    } catch (error) {
      if (isMloopError(error) && (error.code === 'RESOURCE_DOES_NOT_EXIST' || error.code === 'INVALID_PARAMETER_VALUE')) {
        throw invalidParam('feature_service', error.fields[0]?.reason ?? error.message);
      }
      throw error;
    }
  }

  async #checkExperiment(ctx: RequestContext, name: string): Promise<void> {
    try {
      const experiment = await this.deps.tracking.getExperimentByName(ctx, name);
      if (experiment.lifecycle_stage !== 'active') throw invalidParam('experiment', `experiment "${name}" is deleted; restore it or choose another name`);
    } catch (error) {
      if (isMloopError(error) && error.code === 'RESOURCE_DOES_NOT_EXIST') return;
      throw error;
    }
  }

  #features(
    request: { features?: string[]; exclude?: string[]; target: string },
    columns: Map<string, ColumnSchema>,
    profiles: Map<string, ColumnProfile>,
    featureService: { name: string; outputs: string[] } | undefined,
    shown: string,
  ): string[] {
    let features: string[];
    const explicit = request.features !== undefined;
    (request.exclude ?? []).forEach((c, i) => {
      if (!columns.has(c)) throw invalidParam(`exclude[${i}]`, `column "${c}" is not in dataset ${shown}`);
    });
    if (explicit) {
      features = request.features!;
      const seen = new Set<string>();
      features.forEach((name, i) => {
        const column = columns.get(name);
        if (!column) throw invalidParam(`features[${i}]`, `column "${name}" is not in dataset ${shown} (columns: ${[...columns.keys()].join(', ')})`);
        if (name === request.target) throw invalidParam(`features[${i}]`, `"${name}" is the target column`);
        if (seen.has(name)) throw invalidParam(`features[${i}]`, `column "${name}" is listed twice`);
        if (column.tags.includes('pii')) throw invalidParam(`features[${i}]`, `column "${name}" is tagged pii and cannot be a feature`);
        seen.add(name);
      });
    } else if (featureService) {
      const missing = featureService.outputs.filter((o) => !columns.has(o));
      if (missing.length > 0) throw invalidParam('feature_service', `dataset ${shown} lacks feature(s) ${missing.join(', ')} of feature service "${featureService.name}"; retrieve the features with this service first`);
      features = featureService.outputs.filter((o) => o !== request.target && !(request.exclude ?? []).includes(o));
    } else {
      features = [...columns.values()]
        .filter((c) => c.name !== request.target)
        .filter((c) => c.type !== 'timestamp' && !c.tags.some((t) => (EXCLUDED_TAGS as readonly string[]).includes(t)))
        .filter((c) => !(request.exclude ?? []).includes(c.name))
        .map((c) => c.name);
    }
    if (features.length === 0) throw invalidParam('features', `no feature columns left in dataset ${shown} (columns tagged ${EXCLUDED_TAGS.join(', ')} and timestamps are left out unless listed)`);
    features.forEach((name, i) => {
      const p = profiles.get(name)!;
      const field = explicit ? `features[${i}]` : 'features';
      if (p.count === 0) throw invalidParam(field, `column "${name}" is entirely missing (all ${p.nulls} values are null) in ${shown}${explicit ? '' : '; list the features or exclude it'}`);
      if ((p.infinite ?? 0) > 0) throw invalidParam(field, `column "${name}" holds ±Infinity in ${p.infinite} rows of ${shown}`);
    });
    return features;
  }
}

// ------------------------------------------------------------------ helpers

/** The task of a request: as given (`classification` resolved by the number of classes), else inferred from the target column. */
function resolveTask(requested: string | undefined, column: ColumnSchema, profile: ColumnProfile): Task {
  const classes = profile.distinct;
  const numeric = column.type === 'integer' || column.type === 'float';
  let task: Task;
  if (requested === 'regression') {
    if (!numeric) throw invalidParam('task', `regression needs a numeric target; column "${column.name}" is ${column.type}`);
    return 'regression';
  }
  if (requested === undefined) {
    // Text and flags are classes; integers with few distinct values are classes; other numbers are values.
    if (column.type === 'string' || column.type === 'boolean' || (column.type === 'integer' && classes <= 20)) task = classes > 2 ? 'multiclass' : 'binary';
    else if (numeric) return 'regression';
    else throw invalidParam('target', `column "${column.name}" is a ${column.type}; give task to say what to learn from it`);
  } else {
    task = requested === 'classification' ? (classes > 2 ? 'multiclass' : 'binary') : (requested as Task);
  }
  if (classes < 2) throw invalidParam('target', `classification needs at least two classes; column "${column.name}" holds a single value${profile.top?.[0] ? ` (${JSON.stringify(profile.top[0].value)})` : ''}`);
  if (task === 'binary' && classes !== 2) throw invalidParam('task', `binary classification needs two classes; column "${column.name}" has ${classes}`);
  if (task === 'multiclass' && classes < 3) throw invalidParam('task', `multiclass classification needs three or more classes; column "${column.name}" has ${classes}`);
  if (classes > 1000) throw invalidParam('task', `column "${column.name}" has ${classes} distinct values, too many classes; use task "regression" for a numeric target`);
  return task;
}

/** The objective of a tuning request that names none. */
function defaultObjective(task: Task): string {
  return task === 'binary' ? 'roc_auc' : task === 'multiclass' ? 'accuracy' : 'rmse';
}

/**
 * The dataset version a training or evaluation request names, with its profile. Unknown versions and
 * versions whose validation failed are errors on the request's `dataset` field.
 */
export async function usableDatasetVersion(datasets: DatasetService, ctx: RequestContext, name: string, selector: string): Promise<DatasetVersion> {
  try {
    await datasets.assertUsable(ctx, name, selector);
    return await datasets.getVersion(ctx, name, selector);
  } catch (error) {
    if (isMloopError(error) && (error.code === 'RESOURCE_DOES_NOT_EXIST' || error.code === 'INVALID_STATE' || error.code === 'INVALID_PARAMETER_VALUE')) {
      const reason = error.code === 'INVALID_PARAMETER_VALUE' ? (error.fields[0]?.reason ?? error.message) : error.message;
      throw new MloopError(error.code === 'INVALID_STATE' ? 'INVALID_STATE' : 'INVALID_PARAMETER_VALUE', `dataset: ${reason}`, {
        fields: [{ field: 'dataset', reason }, ...error.fields.filter((f) => f.field !== 'version' && f.field !== 'dataset')],
        cause: error,
      });
    }
    throw error;
  }
}
