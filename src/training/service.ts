/**
 * The training module's operations: training and tuning as jobs, and registering ONNX files trained
 * elsewhere. A request is checked completely before a job exists (`planner.ts`), so bad input is a 400
 * that names the field and changes nothing. The jobs then read the data, train on a worker thread and
 * record everything themselves (`training-job.ts`, `tuning/tuning-job.ts`, `recorder.ts`): an MLflow
 * run with params, holdout metrics with bootstrap intervals and the model files, and with `register_as`
 * a model version with its lineage. Tuning logs each trial as a child run and registers the best.
 */
import type { Clock } from '../core/clock.ts';
import type { RequestContext } from '../core/context.ts';
import { invalidParam } from '../core/errors.ts';
import { sha256Hex } from '../core/hashing.ts';
import { newHexId } from '../core/ids.ts';
import { joinKey } from '../core/paths.ts';
import type { DatasetService } from '../data/service.ts';
import type { FeatureStoreService } from '../features/service.ts';
import type { Job } from '../jobs/domain.ts';
import type { JobPage, JobService } from '../jobs/service.ts';
import type { LineageService } from '../lineage/service.ts';
import type { ModelVersion } from '../registry/domain.ts';
import { validateModelName } from '../registry/domain.ts';
import type { RegistryService } from '../registry/service.ts';
import { keyToArtifactUri, type ArtifactService } from '../tracking/artifacts.ts';
import type { TrackingService } from '../tracking/service.ts';
import { codeVersion } from './code-version.ts';
import type { ComputeMode } from './compute-client.ts';
import { modelKinds } from './estimators.ts';
import { checkExternalData, decodeOnnx, externalSignature, onnxFacts, type ExternalModelOptions } from './external-onnx.ts';
import { mlmodelYaml, signatureTags, writeModelFolder, type StoredSignature } from './model-files.ts';
import { TrainingPlanner } from './planner.ts';
import { TrainingRecorder } from './recorder.ts';
import { openSession } from './scoring.ts';
import type { TrainingPlan, TuningPlan } from './spec.ts';
import { runTrainingJob } from './training-job.ts';
import { runTuningJob } from './tuning/tuning-job.ts';

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

/** The training module's operations. */
export class TrainingService {
  readonly #planner: TrainingPlanner;
  readonly #recorder: TrainingRecorder;

  constructor(readonly deps: TrainingDeps) {
    this.#planner = new TrainingPlanner(deps);
    this.#recorder = new TrainingRecorder(deps);
    deps.jobs.register('training', (run) => runTrainingJob(deps, this.#recorder, run));
    deps.jobs.register('tuning', (run) => runTuningJob(deps, this.#recorder, run));
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

  // ------------------------------------------------------------------ training and tuning

  /** Checks a training request completely and returns the plan a job would run. */
  planTraining(ctx: RequestContext, body: unknown): Promise<TrainingPlan> {
    return this.#planner.planTraining(ctx, body);
  }

  /** Checks a training request, then starts a training job; resolves the QUEUED job. */
  async submitTraining(ctx: RequestContext, body: unknown): Promise<Job> {
    return this.deps.jobs.submit(ctx, 'training', await this.planTraining(ctx, body));
  }

  /** Checks a tuning request completely (every candidate's hyperparameters too) and returns its plan. */
  planTuning(ctx: RequestContext, body: unknown): Promise<TuningPlan> {
    return this.#planner.planTuning(ctx, body);
  }

  /** Checks a tuning request, then starts a tuning job; resolves the QUEUED job. */
  async submitTuning(ctx: RequestContext, body: unknown): Promise<Job> {
    return this.deps.jobs.submit(ctx, 'tuning', await this.planTuning(ctx, body));
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
    await this.#recorder.ensureRegisteredModel(ctx, name);
    const producer = `${facts.producer.name}${facts.producer.version ? ` ${facts.producer.version}` : ''}`.trim() || 'unknown';
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
        ...signatureTags(signature),
      ],
    });
    return { model_version: version, signature };
  }

  /** Largest ONNX upload accepted, in bytes: the artifact limit, and protobuf's 2 GiB. */
  get maxOnnxBytes(): number {
    return Math.min(2 ** 31 - 1, this.deps.artifacts.maxBytes);
  }
}
