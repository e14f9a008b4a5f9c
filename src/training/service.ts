/**
 * Training and tuning as jobs. A request is checked completely before a job exists — the dataset
 * version (exists, passed validation), the target and feature columns against the stored schema and
 * profile (missing labels, a single class, all-null features), the model kind and every hyperparameter
 * against the trainer's ranges — so bad input is a 400 that names the field and changes nothing. The
 * job then reads the data, trains on a worker thread, and records everything itself:
 *
 * - an MLflow run (params with seeds, holdout metrics with bootstrap intervals, tags `mloop.code_version`
 *   and `mloop.model_kind`, the dataset as a run input) whose artifacts hold `model/model.onnx`,
 *   `model/pipeline.json`, `model/signature.json` and `model/MLmodel`;
 * - with `register_as`, a model version (source `runs:/<run>/model`) tagged with its lineage (dataset
 *   versions, feature service, params hash, code version, seed), the dataset version as its dependent
 *   (so it cannot be deleted while the model exists), the feature-store consumer link, and lineage edges.
 *
 * Tuning cross-validates every candidate of a grid, a random draw or successive halving, logs each
 * trial as a child run (tag `mlflow.parentRunId`), refits the best on all training rows, scores it on
 * the holdout and registers it like a training job.
 */
import { Readable } from 'node:stream';
import type { Clock } from '../core/clock.ts';
import type { RequestContext } from '../core/context.ts';
import { invalidParam, isMloopError, MloopError } from '../core/errors.ts';
import { sha256Hex } from '../core/hashing.ts';
import { newHexId } from '../core/ids.ts';
import { joinKey } from '../core/paths.ts';
import { parseInput } from '../core/validation.ts';
import type { ColumnProfile, ColumnSchema, DatasetVersion } from '../data/domain.ts';
import { DATASET_URI_PREFIX, formatVersionRef, parseVersionRef } from '../data/domain.ts';
import type { DatasetService } from '../data/service.ts';
import { getMetric } from '../evaluation/metrics/registry.ts';
import type { FeatureStoreService } from '../features/service.ts';
import type { Job } from '../jobs/domain.ts';
import type { JobContext, JobPage, JobService } from '../jobs/service.ts';
import type { LineageService } from '../lineage/service.ts';
import type { ModelVersion } from '../registry/domain.ts';
import { validateModelName } from '../registry/domain.ts';
import type { RegistryService } from '../registry/service.ts';
import { artifactUriToKey, keyToArtifactUri, type ArtifactService } from '../tracking/artifacts.ts';
import type { Metric, Param, Tag } from '../tracking/domain.ts';
import type { TrackingService } from '../tracking/service.ts';
import { codeVersion } from './code-version.ts';
import { ComputeClient, type ComputeMode } from './compute-client.ts';
import type { FitOutput, HoldoutMetric, ModelChoice } from './compute.ts';
import { checkMetrics, defaultTaskMetrics, encodeProblemTarget, holdoutSplit, kFold, stratifiedKFold, subsetTable, type LearningProblem } from './cv.ts';
import { modelKind, modelKinds, resolveModel } from './estimators.ts';
import { checkExternalData, decodeOnnx, externalSignature, onnxFacts, type ExternalModelOptions } from './external-onnx.ts';
import { builtInSignature, mlmodelYaml, writeModelFolder, type StoredSignature } from './model-files.ts';
import { openSession, scoreTable } from './scoring.ts';
import {
  trainingRequestSchema,
  tuningRequestSchema,
  type Candidate,
  type TrainingPlan,
  type TuningPlan,
} from './spec.ts';
import { gridCandidates, gridSize, halvingRungs, isGrid, randomCandidates, survivors } from './tuning/search.ts';
import type { Table, Task } from './types.ts';

/** What {@link TrainingService} needs. */
export interface TrainingDeps {
  readonly clock: Clock;
  readonly tracking: TrackingService;
  readonly registry: RegistryService;
  readonly artifacts: ArtifactService;
  readonly datasets: DatasetService;
  readonly features: FeatureStoreService;
  readonly lineage: LineageService;
  readonly jobs: JobService;
  /** Where trainers run: a worker thread (default) or this thread. */
  readonly compute?: ComputeMode;
}

/** Job kinds of this module. */
export const TRAINING_JOB_KINDS = ['training', 'tuning'] as const;

/** Column tags whose columns are left out of the default features. */
export const EXCLUDED_TAGS = ['pii', 'timestamp', 'entity', 'label'] as const;

/** Largest tolerated difference between onnxruntime and the TypeScript pipeline on the holdout (relative for regression). */
const PARITY_TOLERANCE = 1e-4;

/** What a training job produces. */
export interface TrainingResult {
  readonly run_id: string;
  readonly experiment_id: string;
  /** `runs:/<run_id>/model`. */
  readonly model_uri: string;
  readonly task: Task;
  readonly classes?: readonly string[];
  readonly features: readonly string[];
  readonly rows: { readonly train: number; readonly holdout: number };
  readonly metrics: Record<string, HoldoutMetric>;
  /** onnxruntime vs the TypeScript pipeline on the holdout. */
  readonly onnx_parity: { readonly max_abs_diff: number; readonly max_rel_diff: number; readonly rows: number };
  readonly model_size_bytes: number;
  readonly privacy?: unknown;
  readonly model_version?: { readonly name: string; readonly version: string };
  readonly params_hash: string;
}

/** What a tuning job produces. */
export interface TuningResult extends TrainingResult {
  readonly objective: string;
  readonly trials: readonly { readonly run_id: string; readonly params: Candidate; readonly rung?: number; readonly resource?: number; readonly score: number | null; readonly cv: Record<string, { mean: number | null; std: number | null }> }[];
  readonly best: { readonly params: Candidate; readonly score: number | null; readonly run_id: string };
}

/** The training module's operations. */
export class TrainingService {
  constructor(readonly deps: TrainingDeps) {
    deps.jobs.register('training', (run) => this.#runTraining(run));
    deps.jobs.register('tuning', (run) => this.#runTuning(run));
  }

  /** The model kinds offered, with their tasks and default hyperparameters. */
  modelKinds(): { kind: string; description: string; tasks: readonly string[]; dp: boolean; defaults: Record<string, unknown>; iteration_param?: string }[] {
    return modelKinds().map((s) => ({
      kind: s.kind,
      description: s.description,
      tasks: s.tasks,
      dp: s.supportsDp,
      defaults: { ...s.defaults },
      ...(s.iterationParam ? { iteration_param: s.iterationParam } : {}),
    }));
  }

  // ------------------------------------------------------------------ external ONNX models

  /**
   * Registers an ONNX file trained elsewhere as a new version of `name` (created when missing): checks
   * it is ONNX, refuses external data (see `external-onnx.ts`), reads its inputs and outputs into the
   * version's signature, checks onnxruntime loads it, and stores it with `signature.json` and `MLmodel`
   * under `imported-models/<sha256>/` in the artifact store.
   */
  async registerOnnx(ctx: RequestContext, name: string, bytes: Uint8Array, options: ExternalModelOptions & { description?: string } = {}): Promise<{ model_version: ModelVersion; signature: StoredSignature }> {
    validateModelName(name);
    const model = decodeOnnx(bytes);
    checkExternalData(model);
    const facts = onnxFacts(model);
    if (facts.inputs.length === 0) throw invalidParam('file', 'the model has no inputs');
    const signature = externalSignature(facts, options);
    const session = await openSession(bytes, 'file');
    await session.release();
    const sha = sha256Hex(bytes);
    const folder = joinKey('imported-models', sha, sha256Hex(JSON.stringify(signature)).slice(0, 12));
    await writeModelFolder(this.deps.artifacts, ctx, folder, {
      onnx: bytes,
      signature,
      mlmodel: mlmodelYaml({ signature, createdAt: this.deps.clock.now(), modelUuid: newHexId(), extra: { source: 'external', producer: facts.producer.name } }),
    });
    await this.#ensureRegisteredModel(ctx, name);
    const producer = `${facts.producer.name}${facts.producer.version ? ` ${facts.producer.version}` : ''}`.trim() || 'unknown';
    const compact = JSON.stringify({ inputs: signature.inputs, outputs: signature.outputs });
    const version = await this.deps.registry.createModelVersion(ctx, {
      name,
      source: keyToArtifactUri(folder),
      ...(options.description ? { description: options.description } : {}),
      tags: [
        { key: 'mloop.source', value: producer.slice(0, 200) },
        { key: 'mloop.onnx_sha256', value: sha },
        { key: 'mloop.code_version', value: codeVersion() },
        ...(signature.task ? [{ key: 'mloop.task', value: signature.task }] : []),
        ...(signature.target ? [{ key: 'mloop.target', value: signature.target }] : []),
        ...(compact.length <= 5000 ? [{ key: 'mloop.signature', value: compact }] : []),
      ],
    });
    return { model_version: version, signature };
  }

  /** Largest ONNX upload accepted, in bytes: the artifact limit, and protobuf's 2 GiB. */
  get maxOnnxBytes(): number {
    return Math.min(2 ** 31 - 1, this.deps.artifacts.maxBytes);
  }

  async #ensureRegisteredModel(ctx: RequestContext, name: string): Promise<void> {
    try {
      await this.deps.registry.getRegisteredModel(ctx, name);
    } catch (error) {
      if (!isMloopError(error) || error.code !== 'RESOURCE_DOES_NOT_EXIST') throw error;
      try {
        await this.deps.registry.createRegisteredModel(ctx, { name });
      } catch (e) {
        if (!isMloopError(e) || e.code !== 'RESOURCE_ALREADY_EXISTS') throw e;
      }
    }
  }

  // ------------------------------------------------------------------ requests

  /** Checks a training request completely (see the module comment) and returns the plan a job runs. */
  async planTraining(ctx: RequestContext, body: unknown): Promise<TrainingPlan> {
    const request = parseInput(trainingRequestSchema, body, 'body');
    return this.#plan(ctx, request);
  }

  /** Checks a training request, then starts a training job; resolves the QUEUED job. */
  async submitTraining(ctx: RequestContext, body: unknown): Promise<Job> {
    const plan = await this.planTraining(ctx, body);
    return this.deps.jobs.submit(ctx, 'training', plan);
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
    const trainRows = (await this.#rowCount(ctx, base)) - Math.ceil(base.split.holdout * (await this.#rowCount(ctx, base)));
    if (cv.folds > trainRows) throw invalidParam('cv.folds', `${cv.folds} folds need at least ${cv.folds} training rows, there are ${trainRows}`);
    let rungs: number[] = [];
    if (search.strategy === 'halving') {
      if (search.resource === 'iterations') {
        if (!spec.iterationParam) throw invalidParam('search.resource', `${spec.kind} has no iteration budget; use resource "rows"`);
        if (spec.iterationParam in search.space || Object.keys(search.space).some((k) => camelOf(k) === spec.iterationParam)) {
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

  /** Checks a tuning request, then starts a tuning job; resolves the QUEUED job. */
  async submitTuning(ctx: RequestContext, body: unknown): Promise<Job> {
    const plan = await this.planTuning(ctx, body);
    return this.deps.jobs.submit(ctx, 'tuning', plan);
  }

  /** A training or tuning job of the caller's project. */
  getJob(ctx: RequestContext, id: string, kinds: readonly string[] = TRAINING_JOB_KINDS): Promise<Job> {
    return this.deps.jobs.get(ctx, id, kinds);
  }

  /** Training and tuning jobs of the caller's project, newest first. */
  listJobs(ctx: RequestContext, options: { kinds?: readonly string[]; status?: string; max_results?: number; page_token?: string } = {}): Promise<JobPage> {
    return this.deps.jobs.list(ctx, { ...options, kinds: options.kinds ?? TRAINING_JOB_KINDS });
  }

  /** Cancels a training or tuning job. */
  cancelJob(ctx: RequestContext, id: string): Promise<Job> {
    return this.deps.jobs.cancel(ctx, id, TRAINING_JOB_KINDS);
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
    const version = await this.#usableVersion(ctx, ref.name, ref.version);
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

  /** The dataset version with its profile; unknown or failed-validation versions are 400s on `dataset`. */
  async #usableVersion(ctx: RequestContext, name: string, selector: string): Promise<DatasetVersion> {
    try {
      await this.deps.datasets.assertUsable(ctx, name, selector);
      return await this.deps.datasets.getVersion(ctx, name, selector);
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

  // ------------------------------------------------------------------ training job

  async #runTraining(run: JobContext): Promise<TrainingResult> {
    const plan = run.job.spec as TrainingPlan;
    const ctx = run.ctx;
    run.progress(0.01, `reading ${plan.dataset.name}@${plan.dataset.version.slice(0, 12)}`);
    const table = await this.#readTable(ctx, plan);
    const problem: LearningProblem = { target: plan.target, task: plan.task, features: plan.features };
    const split = this.#split(table, problem, plan);
    const experimentId = await this.#experimentId(ctx, plan.experiment);
    const paramsHash = hashParams(plan);
    const runInfo = await this.#createRun(ctx, experimentId, plan, run.job.id, { kind: 'training', paramsHash });
    const compute = new ComputeClient({ mode: this.deps.compute, signal: run.signal });
    try {
      await this.#logSetup(ctx, runInfo.run_id, plan, split, paramsHash);
      const out = await compute.fit(
        {
          table,
          problem,
          model: choiceOf(plan, plan.model.params),
          seed: plan.seed,
          trainRows: split.train,
          evalRows: split.test,
          metrics: plan.metrics,
          bootstrap: { n: plan.bootstrap.n, confidence: plan.bootstrap.confidence, seed: plan.seed },
          onnx: { name: `mloop_${plan.model.kind}`, metadata: { 'mloop.run_id': runInfo.run_id, 'mloop.code_version': codeVersion() } },
        },
        (p, m) => run.progress(0.1 + 0.75 * p, m),
      );
      return await this.#finish(run, ctx, { plan, table, split, out, runId: runInfo.run_id, experimentId, artifactUri: runInfo.artifact_uri, paramsHash, step: 0.85 });
    } catch (error) {
      await this.#failRun(ctx, runInfo.run_id, error);
      throw error;
    } finally {
      compute.close();
    }
  }

  async #readTable(ctx: RequestContext, plan: TrainingPlan): Promise<Table> {
    return this.deps.datasets.readTable(ctx, plan.dataset.name, plan.dataset.version, { columns: [...plan.features, plan.target] });
  }

  #split(table: Table, problem: LearningProblem, plan: TrainingPlan) {
    const target = encodeProblemTarget(table, problem);
    return holdoutSplit(table.rows, {
      fraction: plan.split.holdout,
      seed: plan.split.seed,
      ...(plan.task !== 'regression' && plan.split.stratify ? { stratify: target.values } : {}),
    });
  }

  async #experimentId(ctx: RequestContext, name: string | undefined): Promise<string> {
    if (name === undefined) return '0';
    try {
      return (await this.deps.tracking.getExperimentByName(ctx, name)).experiment_id;
    } catch (error) {
      if (!isMloopError(error) || error.code !== 'RESOURCE_DOES_NOT_EXIST') throw error;
    }
    try {
      return (await this.deps.tracking.createExperiment(ctx, { name })).experiment_id;
    } catch (error) {
      // Another job created it meanwhile.
      if (isMloopError(error) && error.code === 'RESOURCE_ALREADY_EXISTS') return (await this.deps.tracking.getExperimentByName(ctx, name)).experiment_id;
      throw error;
    }
  }

  async #createRun(ctx: RequestContext, experimentId: string, plan: TrainingPlan, jobId: string, what: { kind: 'training' | 'tuning' | 'trial'; paramsHash: string; parentRunId?: string; runName?: string }) {
    const tags: Tag[] = [
      { key: 'mloop.code_version', value: codeVersion() },
      { key: 'mloop.model_kind', value: plan.model.kind },
      { key: 'mloop.task', value: plan.task },
      { key: 'mloop.target', value: plan.target },
      { key: 'mloop.dataset', value: `${plan.dataset.name}@${plan.dataset.version}` },
      { key: 'mloop.job_id', value: jobId },
      { key: 'mloop.job_kind', value: what.kind },
      { key: 'mloop.params_hash', value: what.paramsHash },
      { key: 'mlflow.source.type', value: 'JOB' },
      { key: 'mlflow.source.name', value: `mloop ${what.kind === 'training' ? 'train' : 'tune'}` },
      ...(plan.feature_service ? [{ key: 'mloop.feature_service', value: `${plan.feature_service.name}@${plan.feature_service.version}` }] : []),
      ...(what.parentRunId ? [{ key: 'mlflow.parentRunId', value: what.parentRunId }] : []),
      ...(what.kind !== 'trial' ? Object.entries(plan.tags).map(([key, value]) => ({ key, value })) : []),
    ];
    const created = await this.deps.tracking.createRun(ctx, {
      experiment_id: experimentId,
      user_id: ctx.actor.name,
      ...(what.runName ? { run_name: what.runName } : plan.run_name && what.kind !== 'trial' ? { run_name: plan.run_name } : {}),
      start_time: this.deps.clock.now(),
      tags,
    });
    return created.info;
  }

  /** Logs params and the dataset input of a training or tuning run. */
  async #logSetup(ctx: RequestContext, runId: string, plan: TrainingPlan, split: { train: Uint32Array; test: Uint32Array }, paramsHash: string): Promise<void> {
    const params: Param[] = [
      { key: 'model_kind', value: plan.model.kind },
      { key: 'task', value: plan.task },
      { key: 'target', value: plan.target },
      { key: 'dataset', value: `${plan.dataset.name}@${plan.dataset.version}` },
      { key: 'features', value: truncate(plan.features.join(','), 6000) },
      { key: 'n_features', value: String(plan.features.length) },
      { key: 'seed', value: String(plan.seed) },
      { key: 'split.holdout', value: String(plan.split.holdout) },
      { key: 'split.stratify', value: String(plan.split.stratify) },
      { key: 'split.seed', value: String(plan.split.seed) },
      { key: 'params_hash', value: paramsHash },
      ...Object.entries(plan.model.params).map(([key, value]) => ({ key, value: truncate(paramValue(value), 6000) })),
      ...Object.entries(plan.preprocess ?? {}).map(([key, value]) => ({ key: `preprocess.${key}`, value: String(value) })),
      ...Object.entries(plan.dp ?? {}).map(([key, value]) => ({ key: `dp.${key}`, value: String(value) })),
      ...(plan.feature_service ? [{ key: 'feature_service', value: `${plan.feature_service.name}@${plan.feature_service.version}` }] : []),
    ];
    for (let i = 0; i < params.length; i += 100) await this.deps.tracking.logBatch(ctx, runId, { params: params.slice(i, i + 100) });
    await this.deps.tracking.logBatch(ctx, runId, {
      metrics: [
        { key: 'train_rows', value: split.train.length, timestamp: this.deps.clock.now(), step: 0 },
        { key: 'holdout_rows', value: split.test.length, timestamp: this.deps.clock.now(), step: 0 },
      ],
    });
    await this.#logDatasetInput(ctx, runId, plan, 'training');
  }

  async #logDatasetInput(ctx: RequestContext, runId: string, plan: TrainingPlan, context: string): Promise<void> {
    const input = await this.deps.datasets.resolveRunInput(ctx, {
      tags: [
        { key: 'mlflow.data.context', value: context },
        ...(plan.feature_service ? [{ key: 'mloop.feature_service', value: `${plan.feature_service.name}@${plan.feature_service.version}` }] : []),
      ],
      dataset: { name: plan.dataset.name, digest: plan.dataset.version, source_type: 'mloop', source: `${DATASET_URI_PREFIX}${plan.dataset.name}@${plan.dataset.version}` },
    });
    await this.deps.tracking.logInputs(ctx, runId, [input]);
    await this.deps.datasets.recordRunInputs(ctx, runId, [input]);
  }

  /**
   * Everything after a successful fit: ONNX parity check, metrics, model files, run status, and
   * registration with lineage.
   */
  async #finish(
    run: JobContext,
    ctx: RequestContext,
    a: { plan: TrainingPlan; table: Table; split: { train: Uint32Array; test: Uint32Array }; out: FitOutput; runId: string; experimentId: string; artifactUri: string; paramsHash: string; step: number; extra?: Metric[] },
  ): Promise<TrainingResult> {
    const { plan, out, runId } = a;
    run.progress(a.step, 'checking the ONNX model against the pipeline');
    const parity = await checkParity(out, subsetTable(a.table, a.split.test));
    const now = this.deps.clock.now();
    const metric = (key: string, value: number): Metric => ({ key, value, timestamp: now, step: 0 });
    const metrics: Metric[] = [...(a.extra ?? [])];
    for (const [name, m] of Object.entries(out.holdout)) {
      if (m.value === null) continue;
      metrics.push(metric(`holdout_${name}`, m.value));
      if (m.lower !== null) metrics.push(metric(`holdout_${name}_ci_lower`, m.lower));
      if (m.upper !== null) metrics.push(metric(`holdout_${name}_ci_upper`, m.upper));
    }
    metrics.push(metric('onnx_parity_max_abs_diff', parity.max_abs_diff), metric('model_size_bytes', out.onnx.length));
    const privacy = out.privacy as { epsilon?: number; delta?: number } | undefined;
    if (privacy?.epsilon !== undefined) metrics.push(metric('dp_epsilon', privacy.epsilon), metric('dp_delta', privacy.delta ?? 0));
    for (let i = 0; i < metrics.length; i += 1000) await this.deps.tracking.logBatch(ctx, runId, { metrics: metrics.slice(i, i + 1000) });
    await this.deps.tracking.logBatch(ctx, runId, {
      tags: [
        { key: 'mloop.metric_intervals', value: `percentile bootstrap, ${plan.bootstrap.n} resamples of the holdout, ${plan.bootstrap.confidence * 100}% confidence` },
        ...(out.classes ? [{ key: 'mloop.classes', value: truncate(JSON.stringify(out.classes), 5000) }] : []),
      ],
    });
    const tolerance = plan.task === 'regression' ? parity.max_rel_diff : parity.max_abs_diff;
    if (!(tolerance <= PARITY_TOLERANCE)) {
      throw new MloopError('INTERNAL_ERROR', `the exported ONNX model disagrees with the trained pipeline on the holdout (max difference ${tolerance}); the model was not saved`);
    }

    run.progress(a.step + 0.05, 'saving the model');
    const folder = joinKey(artifactUriToKey(a.artifactUri, 'artifact_uri'), 'model');
    const signature = builtInSignature(out.signature, plan.target);
    await writeModelFolder(this.deps.artifacts, ctx, folder, {
      onnx: out.onnx,
      pipeline: out.pipeline,
      signature,
      mlmodel: mlmodelYaml({ signature, runId, createdAt: now, modelUuid: newHexId(), extra: { model_kind: plan.model.kind, task: plan.task, target: plan.target } }),
    });
    await this.deps.artifacts.upload(
      ctx,
      joinKey(artifactUriToKey(a.artifactUri, 'artifact_uri'), 'split', 'holdout_rows.json'),
      Readable.from([Buffer.from(JSON.stringify({ dataset: `${plan.dataset.name}@${plan.dataset.version}`, rows: Array.from(a.split.test) }))]),
    );
    await this.deps.tracking.updateRun(ctx, runId, { status: 'FINISHED', end_time: this.deps.clock.now() });

    let modelVersion: ModelVersion | undefined;
    if (plan.register_as) {
      run.progress(a.step + 0.1, `registering ${plan.register_as}`);
      modelVersion = await this.#register(ctx, plan, runId, a.paramsHash, run.job.id);
    } else {
      await this.deps.lineage.record(ctx, [{ src: { kind: 'dataset', id: `${plan.dataset.name}@${plan.dataset.version}` }, dst: { kind: 'run', id: runId }, relation: 'input_of' }]);
    }
    return {
      run_id: runId,
      experiment_id: a.experimentId,
      model_uri: `runs:/${runId}/model`,
      task: out.task,
      ...(out.classes ? { classes: out.classes } : {}),
      features: plan.features,
      rows: { train: a.split.train.length, holdout: a.split.test.length },
      metrics: out.holdout,
      onnx_parity: parity,
      model_size_bytes: out.onnx.length,
      ...(out.privacy ? { privacy: out.privacy } : {}),
      ...(modelVersion ? { model_version: { name: modelVersion.name, version: modelVersion.version } } : {}),
      params_hash: a.paramsHash,
    };
  }

  /** Registers a run's model with its lineage (tags, dataset dependent, feature consumer, lineage edges). */
  async #register(ctx: RequestContext, plan: TrainingPlan, runId: string, paramsHash: string, jobId: string): Promise<ModelVersion> {
    const name = plan.register_as!;
    await this.#ensureRegisteredModel(ctx, name);
    const datasetRef = `${plan.dataset.name}@${plan.dataset.version}`;
    const version = await this.deps.registry.createModelVersion(ctx, {
      name,
      source: `runs:/${runId}/model`,
      run_id: runId,
      ...(plan.description ? { description: plan.description } : {}),
      tags: [
        { key: 'mloop.datasets', value: JSON.stringify([datasetRef]) },
        ...(plan.feature_service ? [{ key: 'mloop.feature_service', value: `${plan.feature_service.name}@${plan.feature_service.version}` }] : []),
        { key: 'mloop.params_hash', value: paramsHash },
        { key: 'mloop.code_version', value: codeVersion() },
        { key: 'mloop.seed', value: String(plan.seed) },
        { key: 'mloop.model_kind', value: plan.model.kind },
        { key: 'mloop.task', value: plan.task },
        { key: 'mloop.target', value: plan.target },
        { key: 'mloop.job_id', value: jobId },
      ],
    });
    const mvId = `${name}/${version.version}`;
    await this.deps.datasets.addDependent(ctx, { name: plan.dataset.name, version: plan.dataset.version }, { kind: 'model_version', id: mvId });
    if (plan.feature_service) await this.deps.features.linkModelVersion(ctx, { model: name, version: version.version, feature_service: plan.feature_service.name });
    await this.deps.lineage.record(ctx, [
      { src: { kind: 'dataset', id: datasetRef }, dst: { kind: 'run', id: runId }, relation: 'input_of' },
      { src: { kind: 'run', id: runId }, dst: { kind: 'model_version', id: mvId }, relation: 'produced' },
      { src: { kind: 'dataset', id: datasetRef }, dst: { kind: 'model_version', id: mvId }, relation: 'trained_on' },
    ]);
    return version;
  }

  async #failRun(ctx: RequestContext, runId: string, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    try {
      await this.deps.tracking.setTag(ctx, runId, { key: 'mloop.error', value: truncate(message, 5000) });
      await this.deps.tracking.updateRun(ctx, runId, { status: isCancel(error) ? 'KILLED' : 'FAILED', end_time: this.deps.clock.now() });
    } catch {
      // The run may be gone (deleted meanwhile); the job records the error anyway.
    }
  }

  // ------------------------------------------------------------------ tuning job

  async #runTuning(run: JobContext): Promise<TuningResult> {
    const plan = run.job.spec as TuningPlan;
    const ctx = run.ctx;
    run.progress(0.01, `reading ${plan.dataset.name}@${plan.dataset.version.slice(0, 12)}`);
    const table = await this.#readTable(ctx, plan);
    const problem: LearningProblem = { target: plan.target, task: plan.task, features: plan.features };
    const split = this.#split(table, problem, plan);
    const experimentId = await this.#experimentId(ctx, plan.experiment);
    const paramsHash = hashParams(plan);
    const parent = await this.#createRun(ctx, experimentId, plan, run.job.id, { kind: 'tuning', paramsHash });
    const compute = new ComputeClient({ mode: this.deps.compute, signal: run.signal });
    try {
      await this.#logSetup(ctx, parent.run_id, plan, split, paramsHash);
      await this.deps.tracking.logBatch(ctx, parent.run_id, {
        params: [
          { key: 'search.strategy', value: plan.search.strategy },
          { key: 'search.space', value: truncate(JSON.stringify(plan.search.space), 6000) },
          { key: 'search.seed', value: String(plan.search.seed) },
          { key: 'cv.folds', value: String(plan.cv.folds) },
          { key: 'cv.stratified', value: String(plan.cv.stratified) },
          { key: 'cv.seed', value: String(plan.cv.seed) },
          { key: 'objective', value: plan.objective },
          ...(plan.search.strategy === 'halving' ? [{ key: 'search.factor', value: String(plan.search.factor) }, { key: 'search.resource', value: plan.search.resource }, { key: 'search.rungs', value: plan.search.rungs.join(',') }] : []),
        ],
      });
      // Cross-validation runs on the training rows only; the holdout stays unseen until the end.
      const trainTable = subsetTable(table, split.train);
      const target = encodeProblemTarget(trainTable, problem);
      const folds = plan.cv.stratified && plan.task !== 'regression'
        ? stratifiedKFold(target.values, plan.cv.folds, { seed: plan.cv.seed })
        : kFold(trainTable.rows, plan.cv.folds, { seed: plan.cv.seed });
      const greater = getMetric(plan.objective).greaterIsBetter;
      const better = (a: number | null, b: number | null) => a !== null && (b === null || (greater ? a > b : a < b));
      const spec = modelKind(plan.model.kind);

      type Trial = TuningResult['trials'][number] & { index: number };
      const trials: Trial[] = [];
      const schedule = plan.search.strategy === 'halving' ? plan.search.rungs : [undefined];
      let alive = plan.search.candidates.map((params, index) => ({ params, index }));
      const total = schedule.reduce<number>((sum, _r, i) => sum + Math.max(1, Math.ceil(plan.search.candidates.length / plan.search.factor ** i)), 0);
      let done = 0;
      for (let rung = 0; rung < schedule.length; rung++) {
        const resource = schedule[rung];
        const scored: { index: number; params: Candidate; score: number | null }[] = [];
        for (const candidate of alive) {
          run.checkCancelled();
          let params = candidate.params;
          let maxTrainRows: number | undefined;
          if (resource !== undefined && plan.search.resource === 'iterations') params = { ...params, [spec.iterationParam!]: resource };
          if (resource !== undefined && plan.search.resource === 'rows') maxTrainRows = resource;
          const label = `trial ${done + 1} of ${total}${resource !== undefined ? ` (rung ${rung + 1}, ${plan.search.resource} ${resource})` : ''}`;
          const trialRun = await this.#createRun(ctx, experimentId, plan, run.job.id, { kind: 'trial', paramsHash: hashParams({ ...plan, model: { kind: plan.model.kind, params } }), parentRunId: parent.run_id, runName: `${parent.run_name}-t${candidate.index}${resource !== undefined ? `-r${rung}` : ''}` });
          let cv: Awaited<ReturnType<ComputeClient['crossValidate']>>;
          try {
            const trialParams: Param[] = [
              ...Object.entries(params).map(([key, value]) => ({ key, value: truncate(paramValue(value), 6000) })),
              { key: 'model_kind', value: plan.model.kind },
              { key: 'seed', value: String(plan.seed) },
              { key: 'cv.folds', value: String(plan.cv.folds) },
              ...(resource !== undefined ? [{ key: 'halving.rung', value: String(rung) }, { key: `halving.${plan.search.resource}`, value: String(resource) }] : []),
            ];
            for (let i = 0; i < trialParams.length; i += 100) await this.deps.tracking.logBatch(ctx, trialRun.run_id, { params: trialParams.slice(i, i + 100) });
            cv = await compute.crossValidate(
              { table: trainTable, problem, model: choiceOf(plan, params), seed: plan.seed, folds, metrics: plan.metrics, ...(maxTrainRows !== undefined ? { maxTrainRows } : {}) },
              (p, m) => run.progress(0.05 + (0.75 * (done + p)) / total, `${label}: ${m}`),
            );
            const now = this.deps.clock.now();
            const metrics: Metric[] = [];
            for (const [name, s] of Object.entries(cv.metrics)) {
              if (s.mean !== null) metrics.push({ key: `cv_${name}_mean`, value: s.mean, timestamp: now, step: 0 });
              if (s.std !== null) metrics.push({ key: `cv_${name}_std`, value: s.std, timestamp: now, step: 0 });
              if (s.pooled !== null) metrics.push({ key: `cv_${name}_pooled`, value: s.pooled, timestamp: now, step: 0 });
              s.values.forEach((v, f) => v !== null && metrics.push({ key: `cv_${name}`, value: v, timestamp: now, step: f }));
            }
            await this.deps.tracking.logBatch(ctx, trialRun.run_id, { metrics });
            await this.deps.tracking.updateRun(ctx, trialRun.run_id, { status: 'FINISHED', end_time: this.deps.clock.now() });
          } catch (error) {
            await this.#failRun(ctx, trialRun.run_id, error);
            throw error;
          }
          const score = cv.metrics[plan.objective]?.mean ?? null;
          scored.push({ index: candidate.index, params: candidate.params, score });
          trials.push({
            index: candidate.index,
            run_id: trialRun.run_id,
            params,
            ...(resource !== undefined ? { rung, resource } : {}),
            score,
            cv: Object.fromEntries(Object.entries(cv.metrics).map(([k, s]) => [k, { mean: s.mean, std: s.std }])),
          });
          done++;
        }
        // Stable ranking: better score first, then the earlier candidate.
        scored.sort((a, b) => (better(a.score, b.score) ? -1 : better(b.score, a.score) ? 1 : a.index - b.index));
        alive = scored.slice(0, rung === schedule.length - 1 ? scored.length : survivors(scored.length, plan.search.factor)).map(({ index, params }) => ({ index, params }));
      }
      const lastRung = trials.filter((t) => (t.rung ?? 0) === schedule.length - 1);
      const best = lastRung.reduce((a, b) => (better(b.score, a.score) || (b.score === a.score && b.index < a.index) ? b : a), lastRung[0]);
      if (best.score === null) throw new MloopError('INVALID_PARAMETER_VALUE', `objective ${plan.objective} was undefined for every trial`, { fields: [{ field: 'objective', reason: 'undefined for every trial' }] });
      const bestParams = plan.search.candidates[best.index];
      await this.deps.tracking.logBatch(ctx, parent.run_id, {
        params: Object.entries(bestParams).map(([key, value]) => ({ key: `best.${key}`, value: truncate(paramValue(value), 6000) })),
        tags: [{ key: 'mloop.best_trial_run_id', value: best.run_id }],
      });

      run.progress(0.82, `refitting the best candidate on ${split.train.length} rows`);
      const out = await compute.fit(
        {
          table,
          problem,
          model: choiceOf(plan, bestParams),
          seed: plan.seed,
          trainRows: split.train,
          evalRows: split.test,
          metrics: plan.metrics,
          bootstrap: { n: plan.bootstrap.n, confidence: plan.bootstrap.confidence, seed: plan.seed },
          onnx: { name: `mloop_${plan.model.kind}`, metadata: { 'mloop.run_id': parent.run_id, 'mloop.code_version': codeVersion() } },
        },
        (p, m) => run.progress(0.82 + 0.08 * p, m),
      );
      const now = this.deps.clock.now();
      const finalPlan: TrainingPlan = { ...plan, model: { kind: plan.model.kind, params: bestParams } };
      const result = await this.#finish(run, ctx, {
        plan: finalPlan,
        table,
        split,
        out,
        runId: parent.run_id,
        experimentId,
        artifactUri: parent.artifact_uri,
        paramsHash: hashParams(finalPlan),
        step: 0.9,
        extra: [
          { key: `best_cv_${plan.objective}_mean`, value: best.score, timestamp: now, step: 0 },
          ...(best.cv[plan.objective]?.std != null ? [{ key: `best_cv_${plan.objective}_std`, value: best.cv[plan.objective].std!, timestamp: now, step: 0 }] : []),
          { key: 'trials', value: trials.length, timestamp: now, step: 0 },
        ],
      });
      return {
        ...result,
        objective: plan.objective,
        trials: trials.map(({ index: _index, ...t }) => t),
        best: { params: bestParams, score: best.score, run_id: best.run_id },
      };
    } catch (error) {
      await this.#failRun(ctx, parent.run_id, error);
      throw error;
    } finally {
      compute.close();
    }
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

function defaultObjective(task: Task): string {
  return task === 'binary' ? 'roc_auc' : task === 'multiclass' ? 'accuracy' : 'rmse';
}

function choiceOf(plan: TrainingPlan, params: Record<string, unknown>): ModelChoice {
  return { kind: plan.model.kind, params, ...(plan.dp ? { dp: plan.dp } : {}), ...(plan.preprocess ? { preprocess: plan.preprocess } : {}) };
}

/** sha256 of the canonical JSON of what determines the model besides the data: kind, hyperparameters, preprocessing, DP, features, target, seeds. */
export function hashParams(plan: Pick<TrainingPlan, 'model' | 'preprocess' | 'dp' | 'features' | 'target' | 'task' | 'seed' | 'split'>): string {
  return sha256Hex(
    canonicalJson({ model: plan.model, preprocess: plan.preprocess ?? null, dp: plan.dp ?? null, features: plan.features, target: plan.target, task: plan.task, seed: plan.seed, split: plan.split }),
  );
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

function paramValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function camelOf(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

function isCancel(error: unknown): boolean {
  return error instanceof Error && error.name === 'JobCancelledError';
}

/** Compares onnxruntime's outputs on the holdout with the pipeline's (both on float32 inputs). */
async function checkParity(out: FitOutput, holdout: Table): Promise<{ max_abs_diff: number; max_rel_diff: number; rows: number }> {
  if (holdout.rows === 0) return { max_abs_diff: 0, max_rel_diff: 0, rows: 0 };
  const session = await openSession(out.onnx);
  try {
    const signature = builtInSignature(out.signature, '');
    const scores = await scoreTable(session, holdout, { ...signature, task: out.task });
    let expected = out.float32Predictions;
    let got: Float64Array;
    if (out.task === 'regression') got = scores.values!;
    else if (out.task === 'binary') {
      got = new Float64Array(holdout.rows);
      for (let i = 0; i < holdout.rows; i++) got[i] = scores.probabilities![2 * i + 1];
    } else got = scores.probabilities!;
    if (got.length !== expected.length) expected = new Float64Array(got.length).fill(Number.NaN);
    let abs = 0;
    let rel = 0;
    for (let i = 0; i < got.length; i++) {
      const d = Math.abs(got[i] - expected[i]);
      abs = Math.max(abs, Number.isNaN(d) ? Infinity : d);
      rel = Math.max(rel, Number.isNaN(d) ? Infinity : d / Math.max(1, Math.abs(expected[i])));
    }
    return { max_abs_diff: abs, max_rel_diff: rel, rows: holdout.rows };
  } finally {
    await session.release();
  }
}
