/**
 * The training job, and what training and tuning jobs share: both read the planned columns of the
 * dataset version, hold out the same rows (`split` of the plan), open their MLflow run with its params
 * and dataset input, and train on a worker thread (`compute-client.ts`); a job that fails or is
 * cancelled marks its run FAILED or KILLED.
 */
import type { RequestContext } from '../core/context.ts';
import type { JobContext } from '../jobs/service.ts';
import type { RunInfo } from '../tracking/domain.ts';
import { codeVersion } from './code-version.ts';
import { ComputeClient } from './compute-client.ts';
import type { FitInput, ModelChoice } from './compute.ts';
import { encodeProblemTarget, holdoutSplit, type LearningProblem, type Split } from './cv.ts';
import { hashParams, type TrainingRecorder, type TrainingResult } from './recorder.ts';
import type { TrainingDeps } from './service.ts';
import type { TrainingPlan } from './spec.ts';
import type { Table } from './types.ts';

/** What a job has once its data is read and its run is open. */
export interface OpenJob<P extends TrainingPlan> {
  readonly plan: P;
  readonly jobId: string;
  readonly ctx: RequestContext;
  readonly table: Table;
  readonly problem: LearningProblem;
  /** Training rows and holdout rows of `table`. */
  readonly split: Split;
  readonly experimentId: string;
  readonly paramsHash: string;
  /** The job's MLflow run (a tuning job's parent run). */
  readonly run: RunInfo;
  readonly compute: ComputeClient;
}

/**
 * Opens the job `run` of `kind` (see the module comment) and runs `body` in it. The run is marked
 * failed when `body` throws, and the compute worker is released either way.
 */
export async function inJobRun<P extends TrainingPlan, T>(
  deps: Pick<TrainingDeps, 'datasets' | 'compute'>,
  recorder: TrainingRecorder,
  run: JobContext,
  kind: 'training' | 'tuning',
  body: (job: OpenJob<P>) => Promise<T>,
): Promise<T> {
  const plan = run.job.spec as P;
  const ctx = run.ctx;
  run.progress(0.01, `reading ${plan.dataset.name}@${plan.dataset.version.slice(0, 12)}`);
  const table = await deps.datasets.readTable(ctx, plan.dataset.name, plan.dataset.version, { columns: [...plan.features, plan.target] });
  const problem: LearningProblem = { target: plan.target, task: plan.task, features: plan.features };
  const target = encodeProblemTarget(table, problem);
  const split = holdoutSplit(table.rows, {
    fraction: plan.split.holdout,
    seed: plan.split.seed,
    ...(plan.task !== 'regression' && plan.split.stratify ? { stratify: target.values } : {}),
  });
  const experimentId = await recorder.experimentId(ctx, plan.experiment);
  const paramsHash = hashParams(plan);
  const info = await recorder.createRun(ctx, experimentId, plan, run.job.id, { kind, paramsHash });
  const compute = new ComputeClient({ mode: deps.compute, signal: run.signal });
  try {
    await recorder.logSetup(ctx, info.run_id, plan, split, paramsHash);
    return await body({ plan, jobId: run.job.id, ctx, table, problem, split, experimentId, paramsHash, run: info, compute });
  } catch (error) {
    await recorder.failRun(ctx, info.run_id, error);
    throw error;
  } finally {
    compute.close();
  }
}

/** The model a plan trains, with hyperparameters `params`. */
export function modelChoice(plan: TrainingPlan, params: Record<string, unknown>): ModelChoice {
  return { kind: plan.model.kind, params, ...(plan.dp ? { dp: plan.dp } : {}), ...(plan.preprocess ? { preprocess: plan.preprocess } : {}) };
}

/** The fit of the final model of a job: hyperparameters `params` on the training rows, scored on the holdout. */
export function finalFit(job: OpenJob<TrainingPlan>, params: Record<string, unknown>): FitInput {
  const { plan } = job;
  return {
    table: job.table,
    problem: job.problem,
    model: modelChoice(plan, params),
    seed: plan.seed,
    trainRows: job.split.train,
    evalRows: job.split.test,
    metrics: plan.metrics,
    bootstrap: { n: plan.bootstrap.n, confidence: plan.bootstrap.confidence, seed: plan.seed },
    onnx: { name: `mloop_${plan.model.kind}`, metadata: { 'mloop.run_id': job.run.run_id, 'mloop.code_version': codeVersion() } },
  };
}

/** Runs a training job: fits the planned model, then records and registers it (see `recorder.ts`). */
export function runTrainingJob(deps: Pick<TrainingDeps, 'datasets' | 'compute'>, recorder: TrainingRecorder, run: JobContext): Promise<TrainingResult> {
  return inJobRun<TrainingPlan, TrainingResult>(deps, recorder, run, 'training', async (job) => {
    const out = await job.compute.fit(finalFit(job, job.plan.model.params), (p, m) => run.progress(0.1 + 0.75 * p, m));
    return recorder.finish(run, job.ctx, {
      plan: job.plan,
      table: job.table,
      split: job.split,
      out,
      runId: job.run.run_id,
      experimentId: job.experimentId,
      artifactUri: job.run.artifact_uri,
      paramsHash: job.paramsHash,
      step: 0.85,
    });
  });
}
