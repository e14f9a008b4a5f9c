/**
 * What training and tuning jobs record, without being asked: the MLflow run (tags with the code
 * version, model kind and job; params with seeds and the params hash; the dataset as a run input), the
 * holdout metrics with their intervals, the ONNX parity check, the model folder (`model.onnx`,
 * `pipeline.json`, `signature.json`, `MLmodel`) and the holdout rows, and — with `register_as` — the
 * model version with its lineage: tags (datasets, feature service, params hash, code version, seed,
 * signature), the dataset version's dependent, the feature service's consumer, and lineage edges.
 */
import { Readable } from 'node:stream';
import type { RequestContext } from '../core/context.ts';
import { isMloopError, MloopError } from '../core/errors.ts';
import { sha256Hex } from '../core/hashing.ts';
import { newHexId } from '../core/ids.ts';
import { joinKey } from '../core/paths.ts';
import { DATASET_URI_PREFIX } from '../data/domain.ts';
import { JobCancelledError, type JobContext } from '../jobs/service.ts';
import type { ModelVersion } from '../registry/domain.ts';
import { artifactUriToKey } from '../tracking/artifacts.ts';
import type { Metric, Param, RunInfo, Tag } from '../tracking/domain.ts';
import { codeVersion } from './code-version.ts';
import type { FitOutput, HoldoutMetric } from './compute.ts';
import { subsetTable } from './cv.ts';
import { DP_SCOPE, dpPreprocess } from './dp/dp-sgd.ts';
import { builtInSignature, mlmodelYaml, signatureTags, type StoredSignature, writeModelFolder } from './model-files.ts';
import { openSession, scoreTable } from './scoring.ts';
import type { TrainingDeps } from './service.ts';
import type { TrainingPlan } from './spec.ts';
import type { Table, Task } from './types.ts';

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

/** Records the runs, models and registrations of the training module's jobs (see the module comment). */
export class TrainingRecorder {
  constructor(readonly deps: Pick<TrainingDeps, 'clock' | 'tracking' | 'registry' | 'artifacts' | 'datasets' | 'features' | 'lineage'>) {}

  /** The id of experiment `name` (created when missing); the default experiment `0` without a name. */
  async experimentId(ctx: RequestContext, name: string | undefined): Promise<string> {
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

  /** Creates the MLflow run of a training or tuning job, or of one trial (a child run), with its lineage tags. */
  async createRun(ctx: RequestContext, experimentId: string, plan: TrainingPlan, jobId: string, what: { kind: 'training' | 'tuning' | 'trial'; paramsHash: string; parentRunId?: string; runName?: string }): Promise<RunInfo> {
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
  async logSetup(ctx: RequestContext, runId: string, plan: TrainingPlan, split: { train: Uint32Array; test: Uint32Array }, paramsHash: string): Promise<void> {
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
      ...Object.entries(plan.dp ? { minCategoryCount: dpPreprocess(plan.dp).minCategoryCount, ...plan.dp } : {}).map(([key, value]) => ({ key: `dp.${key}`, value: String(value) })),
      // The (ε, δ) covers the SGD updates only; preprocessing statistics are learned without noise.
      ...(plan.dp ? [{ key: 'dp_scope', value: DP_SCOPE }] : []),
      ...(plan.feature_service ? [{ key: 'feature_service', value: `${plan.feature_service.name}@${plan.feature_service.version}` }] : []),
    ];
    await this.logParams(ctx, runId, params);
    const now = this.deps.clock.now();
    await this.logMetrics(ctx, runId, [
      { key: 'train_rows', value: split.train.length, timestamp: now, step: 0 },
      { key: 'holdout_rows', value: split.test.length, timestamp: now, step: 0 },
    ]);
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
  async finish(
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
    await this.logMetrics(ctx, runId, metrics);
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
      modelVersion = await this.#register(ctx, plan, runId, a.paramsHash, run.job.id, signature);
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
  async #register(ctx: RequestContext, plan: TrainingPlan, runId: string, paramsHash: string, jobId: string, signature: StoredSignature): Promise<ModelVersion> {
    const name = plan.register_as!;
    await this.ensureRegisteredModel(ctx, name);
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
        ...signatureTags(signature),
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

  /** Creates registered model `name` unless it exists (another request may create it meanwhile). */
  async ensureRegisteredModel(ctx: RequestContext, name: string): Promise<void> {
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

  /** Logs params in batches the tracking API accepts. */
  async logParams(ctx: RequestContext, runId: string, params: readonly Param[]): Promise<void> {
    for (let i = 0; i < params.length; i += 100) await this.deps.tracking.logBatch(ctx, runId, { params: params.slice(i, i + 100) });
  }

  /** Logs metrics in batches the tracking API accepts. */
  async logMetrics(ctx: RequestContext, runId: string, metrics: readonly Metric[]): Promise<void> {
    for (let i = 0; i < metrics.length; i += 1000) await this.deps.tracking.logBatch(ctx, runId, { metrics: metrics.slice(i, i + 1000) });
  }

  /** Marks a run FAILED (KILLED when its job was cancelled), with the error as tag `mloop.error`. */
  async failRun(ctx: RequestContext, runId: string, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    try {
      await this.deps.tracking.setTag(ctx, runId, { key: 'mloop.error', value: truncate(message, 5000) });
      await this.deps.tracking.updateRun(ctx, runId, { status: error instanceof JobCancelledError ? 'KILLED' : 'FAILED', end_time: this.deps.clock.now() });
    } catch {
      // The run may be gone (deleted meanwhile); the job records the error anyway.
    }
  }
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

/** A hyperparameter value as a tracking param: strings as they are, anything else as JSON. */
export function paramValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** `text` cut to `max` characters (an ellipsis marks the cut), for params and tags of bounded length. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
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
