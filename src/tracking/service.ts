/**
 * Tracking: experiments, runs, params, metrics, tags and dataset inputs, with MLflow's semantics
 * (`mlflow/store/tracking/sqlalchemy_store.py` is the reference). Every method takes the caller's
 * {@link RequestContext}; resources live in the context's project.
 */
import type { Clock } from '../core/clock.ts';
import type { RequestContext } from '../core/context.ts';
import { MloopError, invalidParam, notFound } from '../core/errors.ts';
import { newHexId } from '../core/ids.ts';
import { decodePageToken, nextPageToken, parseFilter, parseOrderBy, resolveMaxResults } from '../core/search/index.ts';
import type { MetadataStore } from '../storage/ports.ts';
import {
  RUN_STATUSES,
  stagesOf,
  type CreateExperimentInput,
  type CreateRunInput,
  type DatasetInput,
  type Experiment,
  type ExperimentPage,
  type LogBatchInput,
  type Metric,
  type MetricHistoryPage,
  type Param,
  type Run,
  type RunInfo,
  type RunPage,
  type RunStatus,
  type SearchOptions,
  type SearchRunsInput,
  type Tag,
  type UpdateRunInput,
  type ViewType,
} from './domain.ts';
import { LOGGED_MODELS_TAG, appendLoggedModel, loggedModelEntry } from './logged-models.ts';
import { randomRunName } from './run-names.ts';
import { experimentFilterCondition, experimentOrderBy, runFilterCondition, runOrderBy } from './search-sql.ts';
import { TrackingStore, toRunInfo, type Db, type RunRow } from './store.ts';
import {
  MAX_DATASET_DIGEST_SIZE,
  MAX_DATASET_NAME_SIZE,
  MAX_DATASET_PROFILE_SIZE,
  MAX_DATASET_SCHEMA_SIZE,
  MAX_DATASET_SOURCE_SIZE,
  MAX_EXPERIMENT_TAG_KEY_LENGTH,
  MAX_EXPERIMENT_TAG_VAL_LENGTH,
  MAX_INPUT_TAG_KEY_SIZE,
  MAX_INPUT_TAG_VALUE_SIZE,
  MAX_PARAM_VAL_LENGTH,
  MAX_TAG_VAL_LENGTH,
  invalidValue,
  validateArtifactLocation,
  validateBatchLimits,
  validateExperimentName,
  validateKey,
  validateLength,
} from './validation.ts';

/** What {@link TrackingService} needs. */
export interface TrackingDeps {
  readonly metadata: MetadataStore;
  readonly clock: Clock;
  /** Resolves `log-inputs` datasets that name mloop dataset versions; without it they are recorded as given. */
  readonly datasetInputs?: DatasetInputHook;
}

/**
 * How `log-inputs` hands datasets to the data module, which implements it: inputs naming an mloop
 * version (`mloop-dataset:<name>@<version>`) are checked and completed before they are recorded, and
 * the data module is told which run used them — and when that run is deleted or restored (on its own
 * or with its experiment), so that a deleted run holds no dataset version. Those two calls come once
 * the change is committed; they must be idempotent and let pass a dataset version already gone.
 */
export interface DatasetInputHook {
  /** Checks and completes one input (digest, canonical source, schema); other inputs come back unchanged. */
  resolve(ctx: RequestContext, input: DatasetInput): Promise<DatasetInput>;
  /** Called once the inputs of `runId` are recorded. */
  recorded(ctx: RequestContext, runId: string, inputs: readonly DatasetInput[]): Promise<void>;
  /** Called once `runId`, which had recorded `inputs`, is deleted. */
  released?(ctx: RequestContext, runId: string, inputs: readonly DatasetInput[]): Promise<void>;
  /** Called once `runId`, which had recorded `inputs`, is restored. */
  restored?(ctx: RequestContext, runId: string, inputs: readonly DatasetInput[]): Promise<void>;
}

/** The tag that holds a run's name. */
export const RUN_NAME_TAG = 'mlflow.runName';
/** The tag that holds a run's user. */
export const USER_TAG = 'mlflow.user';

/** Experiment ids are decimal integers on the wire; anything else names no experiment. */
export function parseExperimentId(raw: string): number | undefined {
  if (!/^\d{1,15}$/.test(raw)) return undefined;
  return Number(raw);
}

/** `uri` with `parts` appended to its path (before any query string), as MLflow's `append_to_uri_path`. */
export function appendToUriPath(uri: string, ...parts: string[]): string {
  const q = uri.indexOf('?');
  const base = q === -1 ? uri : uri.slice(0, q);
  const query = q === -1 ? '' : uri.slice(q);
  return `${base.replace(/\/+$/, '')}/${parts.join('/')}${query}`;
}

/**
 * True when `a` is strictly later than `b`: step, then timestamp, then value as stored (NaN as 0),
 * MLflow's rule for the latest point of a metric.
 */
function isLater(a: Metric, b: Metric): boolean {
  if (a.step !== b.step) return a.step > b.step;
  if (a.timestamp !== b.timestamp) return a.timestamp > b.timestamp;
  return (Number.isNaN(a.value) ? 0 : a.value) > (Number.isNaN(b.value) ? 0 : b.value);
}

function checkRunActive(run: { run_uuid: string; lifecycle_stage: string }): void {
  if (run.lifecycle_stage !== 'active') {
    throw new MloopError(
      'INVALID_PARAMETER_VALUE',
      `The run ${run.run_uuid} must be in the 'active' state. Current state is ${run.lifecycle_stage}.`,
      { fields: [{ field: 'run_id', reason: `run is ${run.lifecycle_stage}` }] },
    );
  }
}

function checkExperimentActive(experiment: { experiment_id: number | string; lifecycle_stage: string }): void {
  if (experiment.lifecycle_stage !== 'active') {
    throw new MloopError(
      'INVALID_PARAMETER_VALUE',
      `The experiment ${experiment.experiment_id} must be in the 'active' state. Current state is ${experiment.lifecycle_stage}.`,
      { fields: [{ field: 'experiment_id', reason: `experiment is ${experiment.lifecycle_stage}` }] },
    );
  }
}

function validateRunTag(tag: Tag, path: string): void {
  validateKey(tag.key, `${path}.key`);
  validateLength(tag.value, `${path}.value`, MAX_TAG_VAL_LENGTH);
}

function validateExperimentTag(tag: Tag, path: string): void {
  validateKey(tag.key, `${path}.key`, MAX_EXPERIMENT_TAG_KEY_LENGTH);
  validateLength(tag.value, `${path}.value`, MAX_EXPERIMENT_TAG_VAL_LENGTH);
}

function validateMetric(m: Metric, path: string, checkKey: boolean): void {
  if (checkKey) validateKey(m.key, `${path}.key`);
  if (typeof m.value !== 'number') throw invalidValue(`${path}.value`, m.value, 'Please specify value as a valid double (64-bit floating point)');
  if (!Number.isInteger(m.timestamp) || m.timestamp < 0) {
    throw invalidValue(`${path}.timestamp`, m.timestamp, `metric '${m.key}' (value=${m.value}). Timestamp must be a nonnegative long (64-bit integer) `);
  }
  if (!Number.isInteger(m.step)) throw invalidValue(`${path}.step`, m.step, `metric '${m.key}' (value=${m.value}). Step must be a valid long (64-bit integer).`);
}

/** The tracking module's operations. */
export class TrackingService {
  readonly store: TrackingStore;

  constructor(readonly deps: TrackingDeps) {
    this.store = new TrackingStore(deps.metadata.dialect);
  }

  get #db(): Db {
    return this.deps.metadata.db;
  }

  // ---- experiments ----------------------------------------------------------------------------

  /** Creates an experiment in the caller's project; RESOURCE_ALREADY_EXISTS when the name is taken. */
  async createExperiment(ctx: RequestContext, input: CreateExperimentInput): Promise<Experiment> {
    validateExperimentName(input.name);
    if (input.artifact_location !== undefined && input.artifact_location !== '') validateArtifactLocation(input.artifact_location);
    const tags = input.tags ?? [];
    tags.forEach((t, i) => validateExperimentTag(t, `tags[${i}]`));
    const now = this.deps.clock.now();
    const id = await this.deps.metadata.transaction(async (trx) => {
      if (!(await this.store.projectExists(trx, ctx.project))) throw notFound(`project "${ctx.project}" does not exist`);
      if (await this.store.experimentByName(trx, ctx.project, input.name)) throw this.#nameTaken(input.name);
      let experimentId: number;
      try {
        experimentId = await this.store.insertExperiment(trx, {
          project: ctx.project,
          name: input.name,
          artifact_location: input.artifact_location || '',
          creation_time: now,
        });
      } catch (error) {
        if (this.deps.metadata.isUniqueViolation(error)) throw this.#nameTaken(input.name, error);
        throw error;
      }
      if (!input.artifact_location) await this.store.updateExperiment(trx, experimentId, { artifact_location: `mlflow-artifacts:/${experimentId}` });
      await this.store.upsertExperimentTags(trx, experimentId, dedupeTags(tags));
      return experimentId;
    });
    return this.getExperiment(ctx, String(id));
  }

  #nameTaken(name: string, cause?: unknown): MloopError {
    return new MloopError('RESOURCE_ALREADY_EXISTS', `Experiment(name=${name}) already exists.`, {
      cause,
      fields: [{ field: 'name', reason: 'an experiment with this name already exists' }],
    });
  }

  /** The experiment `experimentId` of the caller's project (deleted ones included). */
  async getExperiment(ctx: RequestContext, experimentId: string): Promise<Experiment> {
    const row = await this.#experimentRow(this.#db, ctx, experimentId);
    const [experiment] = await this.store.experimentsWithTags(this.#db, [row]);
    return experiment;
  }

  async #experimentRow(db: Db, ctx: RequestContext, experimentId: string) {
    const id = parseExperimentId(experimentId);
    const row = id === undefined ? undefined : await this.store.experiment(db, ctx.project, id);
    if (!row) throw notFound(`No Experiment with id=${experimentId} exists`);
    return row;
  }

  /** The experiment named `name` in the caller's project (deleted ones included). */
  async getExperimentByName(ctx: RequestContext, name: string): Promise<Experiment> {
    const row = await this.store.experimentByName(this.#db, ctx.project, name);
    if (!row) throw notFound(`Could not find experiment with name '${name}'`);
    const [experiment] = await this.store.experimentsWithTags(this.#db, [row]);
    return experiment;
  }

  /** Experiments of the caller's project matching `filter`, a page at a time. */
  async searchExperiments(ctx: RequestContext, options: SearchOptions & { view_type?: ViewType }): Promise<ExperimentPage> {
    const limit = resolveMaxResults(options.max_results, 'experiments');
    const conditions = parseFilter(options.filter, 'experiments').map((c) => experimentFilterCondition(c));
    const orderBy = experimentOrderBy(parseOrderBy(options.order_by, 'experiments'));
    const offset = decodePageToken(options.page_token);
    const rows = await this.store.searchExperiments(this.#db, {
      project: ctx.project,
      stages: stagesOf(options.view_type ?? 'ACTIVE_ONLY'),
      conditions,
      orderBy,
      limit: limit + 1,
      offset,
    });
    const experiments = await this.store.experimentsWithTags(this.#db, rows.slice(0, limit));
    const next = nextPageToken(offset, limit, rows.length);
    return next ? { experiments, next_page_token: next } : { experiments };
  }

  /** Renames an active experiment. */
  async renameExperiment(ctx: RequestContext, experimentId: string, newName: string): Promise<Experiment> {
    validateExperimentName(newName, 'new_name');
    await this.deps.metadata.transaction(async (trx) => {
      const row = await this.#experimentRow(trx, ctx, experimentId);
      if (row.lifecycle_stage !== 'active') throw new MloopError('INVALID_STATE', 'Cannot rename a non-active experiment.');
      if (row.name === newName) return;
      const other = await this.store.experimentByName(trx, ctx.project, newName);
      if (other) throw this.#nameTaken(newName);
      try {
        await this.store.updateExperiment(trx, Number(row.experiment_id), { name: newName, last_update_time: this.deps.clock.now() });
      } catch (error) {
        if (this.deps.metadata.isUniqueViolation(error)) throw this.#nameTaken(newName, error);
        throw error;
      }
    });
    return this.getExperiment(ctx, experimentId);
  }

  /** Marks an active experiment and all its runs deleted. */
  async deleteExperiment(ctx: RequestContext, experimentId: string): Promise<void> {
    await this.#setExperimentStage(ctx, experimentId, 'deleted');
  }

  /** Restores a deleted experiment and all its runs. */
  async restoreExperiment(ctx: RequestContext, experimentId: string): Promise<void> {
    await this.#setExperimentStage(ctx, experimentId, 'active');
  }

  async #setExperimentStage(ctx: RequestContext, experimentId: string, stage: 'active' | 'deleted'): Promise<void> {
    const id = await this.deps.metadata.transaction(async (trx) => {
      const row = await this.#experimentRow(trx, ctx, experimentId);
      // MLflow looks the experiment up among active ones to delete it and among deleted ones to restore it.
      if (row.lifecycle_stage === stage) throw notFound(`No Experiment with id=${experimentId} exists`);
      const now = this.deps.clock.now();
      await this.store.updateExperiment(trx, Number(row.experiment_id), { lifecycle_stage: stage, last_update_time: now });
      await this.store.setExperimentRunsStage(trx, Number(row.experiment_id), stage, stage === 'deleted' ? now : null);
      return Number(row.experiment_id);
    });
    await this.#tellDatasets(ctx, stage, await this.store.datasetInputs(this.#db, { experimentId: id }));
  }

  /** Tells the dataset hook that the runs of `inputs` (by run id) were deleted or restored. */
  async #tellDatasets(ctx: RequestContext, stage: 'active' | 'deleted', inputs: Map<string, DatasetInput[]>): Promise<void> {
    const hook = this.deps.datasetInputs;
    const tell = stage === 'deleted' ? hook?.released : hook?.restored;
    if (!tell) return;
    for (const [runId, list] of inputs) await tell.call(hook, ctx, runId, list);
  }

  /** Sets a tag on an active experiment. */
  async setExperimentTag(ctx: RequestContext, experimentId: string, tag: Tag): Promise<void> {
    validateExperimentTag(tag, 'tag');
    await this.deps.metadata.transaction(async (trx) => {
      const row = await this.#experimentRow(trx, ctx, experimentId);
      checkExperimentActive(row);
      await this.store.upsertExperimentTags(trx, Number(row.experiment_id), [tag]);
    });
  }

  /** Deletes a tag of an active experiment; RESOURCE_DOES_NOT_EXIST when it has no such tag. */
  async deleteExperimentTag(ctx: RequestContext, experimentId: string, key: string): Promise<void> {
    await this.deps.metadata.transaction(async (trx) => {
      const row = await this.#experimentRow(trx, ctx, experimentId);
      checkExperimentActive(row);
      const deleted = await this.store.deleteExperimentTag(trx, Number(row.experiment_id), key);
      if (deleted === 0) throw notFound(`No tag with name: ${key} in experiment with id ${experimentId}`);
    });
  }

  // ---- runs -----------------------------------------------------------------------------------

  /** Creates a run in an active experiment (the `Default` experiment `0` when none is named). */
  async createRun(ctx: RequestContext, input: CreateRunInput): Promise<Run> {
    const experimentId = input.experiment_id || '0';
    const tags = dedupeTags(input.tags ?? []);
    (input.tags ?? []).forEach((t, i) => validateRunTag(t, `tags[${i}]`));
    const nameTag = tags.find((t) => t.key === RUN_NAME_TAG)?.value;
    if (input.run_name && nameTag && input.run_name !== nameTag) {
      throw invalidValue(
        'run_name',
        input.run_name,
        `Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='${input.run_name}', mlflow.runName='${nameTag}').`,
      );
    }
    const runName = input.run_name || nameTag || randomRunName();
    if (!nameTag) tags.push({ key: RUN_NAME_TAG, value: runName });
    const userTag = tags.find((t) => t.key === USER_TAG)?.value;
    const userId = input.user_id || userTag || '';
    if (!userTag && userId !== '') tags.push({ key: USER_TAG, value: userId });
    const runId = newHexId();
    await this.deps.metadata.transaction(async (trx) => {
      const experiment = await this.#experimentRow(trx, ctx, experimentId);
      checkExperimentActive(experiment);
      await this.store.insertRun(trx, {
        run_uuid: runId,
        experiment_id: Number(experiment.experiment_id),
        run_name: runName,
        user_id: userId,
        status: 'RUNNING',
        start_time: input.start_time ?? this.deps.clock.now(),
        end_time: null,
        lifecycle_stage: 'active',
        artifact_uri: appendToUriPath(experiment.artifact_location, runId, 'artifacts'),
        deleted_time: null,
      });
      await this.store.upsertTags(trx, runId, tags);
    });
    return this.getRun(ctx, runId);
  }

  /** The run `runId` of the caller's project (deleted ones included); RESOURCE_DOES_NOT_EXIST otherwise. */
  async getRun(ctx: RequestContext, runId: string): Promise<Run> {
    const row = await this.#runRow(this.#db, ctx, runId);
    const [full] = await this.store.runsWithData(this.#db, [row]);
    return full;
  }

  async #runRow(db: Db, ctx: RequestContext, runId: string): Promise<RunRow> {
    const row = await this.store.run(db, ctx.project, runId);
    if (!row) throw notFound(`Run with id=${runId} not found`);
    return row;
  }

  /** Changes the status, end time or name of an active run; returns its info. */
  async updateRun(ctx: RequestContext, runId: string, input: UpdateRunInput): Promise<RunInfo> {
    if (input.status !== undefined && !(RUN_STATUSES as readonly string[]).includes(input.status)) {
      throw invalidValue('status', input.status, `expected one of ${RUN_STATUSES.join(', ')}`);
    }
    if (input.end_time !== undefined && !Number.isInteger(input.end_time)) throw invalidValue('end_time', input.end_time, 'expected an integer');
    return this.deps.metadata.transaction(async (trx) => {
      const run = await this.#runRow(trx, ctx, runId);
      checkRunActive(run);
      const patch: Partial<RunRow> = {};
      if (input.status !== undefined) patch.status = input.status as RunStatus;
      if (input.end_time !== undefined) patch.end_time = input.end_time;
      if (input.run_name) {
        patch.run_name = input.run_name;
        await this.store.upsertTags(trx, runId, [{ key: RUN_NAME_TAG, value: input.run_name }]);
      }
      if (Object.keys(patch).length > 0) await this.store.updateRun(trx, runId, patch);
      return toRunInfo({ ...run, ...patch });
    });
  }

  /** Marks a run deleted; the dataset hook hears of it. */
  async deleteRun(ctx: RequestContext, runId: string): Promise<void> {
    await this.deps.metadata.transaction(async (trx) => {
      await this.#runRow(trx, ctx, runId);
      await this.store.updateRun(trx, runId, { lifecycle_stage: 'deleted', deleted_time: this.deps.clock.now() });
    });
    await this.#tellDatasets(ctx, 'deleted', await this.store.datasetInputs(this.#db, { runIds: [runId] }));
  }

  /** Restores a deleted run; the dataset hook hears of it. */
  async restoreRun(ctx: RequestContext, runId: string): Promise<void> {
    await this.deps.metadata.transaction(async (trx) => {
      await this.#runRow(trx, ctx, runId);
      await this.store.updateRun(trx, runId, { lifecycle_stage: 'active', deleted_time: null });
    });
    await this.#tellDatasets(ctx, 'active', await this.store.datasetInputs(this.#db, { runIds: [runId] }));
  }

  /** Logs one metric point. */
  async logMetric(ctx: RequestContext, runId: string, metric: Metric): Promise<void> {
    validateMetric(metric, 'metric', true);
    await this.#logBatch(ctx, runId, [metric], [], []);
  }

  /** Logs one param; the same value again is accepted, a different one is INVALID_PARAMETER_VALUE. */
  async logParam(ctx: RequestContext, runId: string, param: Param): Promise<void> {
    validateKey(param.key, 'key');
    validateLength(param.value, 'value', MAX_PARAM_VAL_LENGTH);
    await this.#logBatch(ctx, runId, [], [param], []);
  }

  /** Sets a run tag; `mlflow.runName` also renames the run. */
  async setTag(ctx: RequestContext, runId: string, tag: Tag): Promise<void> {
    validateKey(tag.key, 'key');
    validateLength(tag.value, 'value', MAX_TAG_VAL_LENGTH);
    await this.#logBatch(ctx, runId, [], [], [tag]);
  }

  /**
   * MLflow's `runs/log-model`: appends the summary of a logged model to the run's
   * `mlflow.log-model.history` tag. Concurrent calls on one run each land (compare-and-set, retried).
   */
  async logModel(ctx: RequestContext, runId: string, modelJson: string): Promise<void> {
    const entry = loggedModelEntry(modelJson);
    for (let attempt = 1; ; attempt++) {
      const done = await this.deps.metadata.transaction(async (trx) => {
        checkRunActive(await this.#runRow(trx, ctx, runId));
        const previous = await this.store.tagValue(trx, runId, LOGGED_MODELS_TAG);
        const value = appendLoggedModel(previous, entry);
        validateLength(value, LOGGED_MODELS_TAG, MAX_TAG_VAL_LENGTH);
        return this.store.compareAndSetTag(trx, runId, LOGGED_MODELS_TAG, previous, value);
      });
      if (done) return;
      if (attempt === 20) throw new MloopError('CONFLICT', `run ${runId}: too many concurrent log-model calls; try again`);
    }
  }

  /** Deletes a run tag; RESOURCE_DOES_NOT_EXIST when the run has no such tag. */
  async deleteTag(ctx: RequestContext, runId: string, key: string): Promise<void> {
    await this.deps.metadata.transaction(async (trx) => {
      const run = await this.#runRow(trx, ctx, runId);
      checkRunActive(run);
      const deleted = await this.store.deleteTag(trx, runId, key);
      if (deleted === 0) throw notFound(`No tag with name: ${key} in run with id ${runId}`);
    });
  }

  /**
   * Logs metrics, params and tags in one transaction: all of it or nothing. Limits and key rules
   * are MLflow's; duplicate metric points are ignored; params are immutable.
   */
  async logBatch(ctx: RequestContext, runId: string, input: LogBatchInput): Promise<void> {
    const metrics = input.metrics ?? [];
    const params = input.params ?? [];
    const tags = input.tags ?? [];
    validateBatchLimits(metrics.length, params.length, tags.length);
    // Keys repeat across a batch (one key, many steps): check each distinct key once.
    const checkedKeys = new Set<string>();
    for (let i = 0; i < metrics.length; i++) {
      const m = metrics[i];
      const fresh = !checkedKeys.has(m.key);
      validateMetric(m, `metrics[${i}]`, fresh);
      if (fresh) checkedKeys.add(m.key);
    }
    const seenParams = new Set<string>();
    const duplicates: string[] = [];
    params.forEach((p, i) => {
      validateKey(p.key, `params[${i}].key`);
      validateLength(p.value, `params[${i}].value`, MAX_PARAM_VAL_LENGTH);
      if (seenParams.has(p.key)) duplicates.push(p.key);
      seenParams.add(p.key);
    });
    if (duplicates.length > 0) {
      throw new MloopError(
        'INVALID_PARAMETER_VALUE',
        `Duplicate parameter keys have been submitted: [${duplicates.map((k) => `'${k}'`).join(', ')}]. Please ensure the request contains only one param value per param key.`,
        { fields: [{ field: 'params', reason: `duplicate keys ${duplicates.join(', ')}` }] },
      );
    }
    tags.forEach((t, i) => validateRunTag(t, `tags[${i}]`));
    await this.#logBatch(ctx, runId, metrics, params, tags);
  }

  async #logBatch(ctx: RequestContext, runId: string, metrics: readonly Metric[], params: readonly Param[], tags: readonly Tag[]): Promise<void> {
    // One point per key for the latest_metrics upsert; repeated points are left to the database.
    const latest = new Map<string, Metric>();
    for (const m of metrics) {
      const current = latest.get(m.key);
      if (!current || isLater(m, current)) latest.set(m.key, m);
    }
    const runTags = dedupeTags(tags);
    const newName = runTags.find((t) => t.key === RUN_NAME_TAG)?.value;
    await this.deps.metadata.transaction(async (trx) => {
      const run = await this.#runRow(trx, ctx, runId);
      checkRunActive(run);
      if (params.length > 0) await this.#logParams(trx, runId, params);
      if (metrics.length > 0) await this.store.appendMetrics(trx, runId, metrics, [...latest.values()]);
      if (runTags.length > 0) {
        await this.store.upsertTags(trx, runId, runTags);
        if (newName !== undefined && newName !== run.run_name) await this.store.updateRun(trx, runId, { run_name: newName });
      }
    });
  }

  async #logParams(trx: Db, runId: string, params: readonly Param[]): Promise<void> {
    const check = (existing: Map<string, string>, candidates: readonly Param[]) => {
      const conflicts = candidates.filter((p) => existing.has(p.key) && existing.get(p.key) !== p.value);
      if (conflicts.length === 0) return;
      if (conflicts.length === 1 && params.length === 1) {
        const p = conflicts[0];
        throw new MloopError(
          'INVALID_PARAMETER_VALUE',
          `Changing param values is not allowed. Param with key='${p.key}' was already logged with value='${existing.get(p.key)}' for run ID='${runId}'. Attempted logging new value '${p.value}'.`,
          { fields: [{ field: 'value', reason: `param ${p.key} is already logged with another value` }] },
        );
      }
      const described = conflicts.map((p) => `{'key': '${p.key}', 'old_value': '${existing.get(p.key)}', 'new_value': '${p.value}'}`);
      throw new MloopError(
        'INVALID_PARAMETER_VALUE',
        `Changing param values is not allowed. Params were already logged='[${described.join(', ')}]' for run ID='${runId}'.`,
        { fields: conflicts.map((p) => ({ field: 'params', reason: `param ${p.key} is already logged with another value` })) },
      );
    };
    const keys = params.map((p) => p.key);
    const existing = await this.store.params(trx, runId, keys);
    check(existing, params);
    const fresh = params.filter((p) => !existing.has(p.key));
    const inserted = await this.store.insertParams(trx, runId, fresh);
    if (inserted.size < fresh.length) {
      // Another writer logged some of these keys between our read and our insert: compare again.
      check(
        await this.store.params(
          trx,
          runId,
          fresh.filter((p) => !inserted.has(p.key)).map((p) => p.key),
        ),
        fresh,
      );
    }
  }

  /** Records datasets (deduplicated per experiment by name and digest) as inputs of a run, with their tags. */
  async logInputs(ctx: RequestContext, runId: string, given: readonly DatasetInput[]): Promise<void> {
    const hook = this.deps.datasetInputs;
    const datasets = hook ? await Promise.all(given.map((input) => hook.resolve(ctx, input))) : given;
    datasets.forEach((input, i) => {
      const path = `datasets[${i}]`;
      const d = input.dataset;
      if (!d) throw invalidParam(`${path}.dataset`, 'Dataset cannot be None');
      validateLength(d.name, `${path}.dataset.name`, MAX_DATASET_NAME_SIZE);
      validateLength(d.digest, `${path}.dataset.digest`, MAX_DATASET_DIGEST_SIZE);
      validateLength(d.source, `${path}.dataset.source`, MAX_DATASET_SOURCE_SIZE);
      if (d.schema !== undefined) validateLength(d.schema, `${path}.dataset.schema`, MAX_DATASET_SCHEMA_SIZE);
      if (d.profile !== undefined) validateLength(d.profile, `${path}.dataset.profile`, MAX_DATASET_PROFILE_SIZE);
      (input.tags ?? []).forEach((t, j) => {
        validateLength(t.key, `${path}.tags[${j}].key`, MAX_INPUT_TAG_KEY_SIZE);
        validateLength(t.value, `${path}.tags[${j}].value`, MAX_INPUT_TAG_VALUE_SIZE);
      });
    });
    // The first of several inputs with the same name and digest wins, as in MLflow.
    const unique = new Map<string, DatasetInput>();
    for (const input of datasets) {
      const id = `${input.dataset.name}\u0000${input.dataset.digest}`;
      if (!unique.has(id)) unique.set(id, input);
    }
    await this.deps.metadata.transaction(async (trx) => {
      const run = await this.#runRow(trx, ctx, runId);
      checkRunActive(run);
      if (unique.size === 0) return;
      const list = [...unique.values()];
      const experimentId = Number(run.experiment_id);
      const known = await this.store.datasetsByNameDigest(
        trx,
        experimentId,
        list.map((i) => i.dataset.name),
        list.map((i) => i.dataset.digest),
      );
      const newDatasets = [];
      const datasetIds: string[] = [];
      for (const input of list) {
        const id = `${input.dataset.name}\u0000${input.dataset.digest}`;
        let datasetId = known.get(id);
        if (!datasetId) {
          datasetId = newHexId();
          known.set(id, datasetId);
          const d = input.dataset;
          newDatasets.push({
            dataset_uuid: datasetId,
            experiment_id: experimentId,
            name: d.name,
            digest: d.digest,
            dataset_source_type: d.source_type,
            dataset_source: d.source,
            dataset_schema: d.schema ?? null,
            dataset_profile: d.profile ?? null,
          });
        }
        datasetIds.push(datasetId);
      }
      await this.store.insertDatasets(trx, newDatasets);
      const linked = await this.store.runInputSources(trx, runId, datasetIds);
      const inputs = [];
      const inputTags = [];
      for (let i = 0; i < list.length; i++) {
        if (linked.has(datasetIds[i])) continue;
        linked.add(datasetIds[i]);
        const inputId = newHexId();
        inputs.push({ input_uuid: inputId, source_type: 'DATASET', source_id: datasetIds[i], destination_type: 'RUN', destination_id: runId });
        for (const t of dedupeTags(list[i].tags ?? [])) inputTags.push({ input_uuid: inputId, name: t.key, value: t.value });
      }
      await this.store.insertInputs(trx, inputs, inputTags);
    });
    await hook?.recorded(ctx, runId, datasets);
  }

  /** Every point of a metric of a run, ordered by step, timestamp and value; paged when `max_results` is given. */
  async getMetricHistory(
    ctx: RequestContext,
    runId: string,
    key: string,
    options: { max_results?: number; page_token?: string } = {},
  ): Promise<MetricHistoryPage> {
    const offset = decodePageToken(options.page_token);
    if (options.max_results !== undefined && (!Number.isInteger(options.max_results) || options.max_results < 1)) {
      throw invalidParam('max_results', `must be a positive integer, got ${options.max_results}`);
    }
    await this.#runRow(this.#db, ctx, runId);
    if (options.max_results === undefined) {
      const metrics = await this.store.metricHistory(this.#db, runId, key, offset > 0 ? Number.MAX_SAFE_INTEGER : undefined, offset);
      return { metrics };
    }
    const rows = await this.store.metricHistory(this.#db, runId, key, options.max_results + 1, offset);
    const metrics = rows.slice(0, options.max_results);
    const next = nextPageToken(offset, options.max_results, rows.length);
    return next ? { metrics, next_page_token: next } : { metrics };
  }

  /** Runs of the given experiments (of the caller's project) matching `filter`, a page at a time. */
  async searchRuns(ctx: RequestContext, input: SearchRunsInput): Promise<RunPage> {
    const limit = resolveMaxResults(input.max_results, 'runs');
    const conditions = parseFilter(input.filter, 'runs').map((c) => runFilterCondition(c));
    const { joins, orderBy } = runOrderBy(parseOrderBy(input.order_by, 'runs'));
    const offset = decodePageToken(input.page_token);
    const ids = input.experiment_ids?.map(parseExperimentId).filter((id): id is number => id !== undefined);
    const experimentIds = await this.store.experimentIdsOf(this.#db, ctx.project, ids && [...new Set(ids)]);
    const rows = await this.store.searchRuns(this.#db, {
      experimentIds,
      stages: stagesOf(input.run_view_type ?? 'ACTIVE_ONLY'),
      conditions,
      joins,
      orderBy,
      limit: limit + 1,
      offset,
    });
    const runs = await this.store.runsWithData(this.#db, rows.slice(0, limit));
    const next = nextPageToken(offset, limit, rows.length);
    return next ? { runs, next_page_token: next } : { runs };
  }
}

/** One tag per key, the last value winning (MLflow's rule for repeated keys in one request). */
function dedupeTags(tags: readonly Tag[]): Tag[] {
  if (tags.length < 2) return [...tags];
  const byKey = new Map<string, Tag>();
  for (const t of tags) byKey.set(t.key, t);
  return [...byKey.values()];
}
