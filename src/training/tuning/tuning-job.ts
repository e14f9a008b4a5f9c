/**
 * The tuning job: cross-validates every candidate of the plan's grid, random draw or successive-halving
 * rungs on the training rows (the holdout stays unseen until the end), logs each trial as a child run
 * (tag `mlflow.parentRunId`) with its params and per-fold, mean, standard deviation and pooled metrics,
 * then refits the best candidate by the mean objective on all training rows (with the iteration budget
 * of the last rung when halving on iterations), scores it on the holdout, and records and registers it
 * like a training job.
 */
import { MloopError } from '../../core/errors.ts';
import { getMetric } from '../../evaluation/metrics/registry.ts';
import type { JobContext } from '../../jobs/service.ts';
import type { Metric, Param } from '../../tracking/domain.ts';
import { encodeProblemTarget, kFold, stratifiedKFold, subsetTable } from '../cv.ts';
import type { CvInput } from '../compute.ts';
import { modelKind } from '../estimators.ts';
import { hashParams, paramValue, type TrainingRecorder, type TrainingResult, truncate } from '../recorder.ts';
import type { TrainingDeps } from '../service.ts';
import type { Candidate, TrainingPlan, TuningPlan } from '../spec.ts';
import { finalFit, inJobRun, modelChoice, type OpenJob } from '../training-job.ts';
import { survivors } from './search.ts';

/** A candidate's cross-validation, as the tuning result lists it. */
export interface Trial {
  readonly run_id: string;
  readonly params: Candidate;
  /** Successive halving: the rung and its resource (rows or iterations). */
  readonly rung?: number;
  readonly resource?: number;
  /** Mean of the objective over the folds; null when it was undefined. */
  readonly score: number | null;
  readonly cv: Record<string, { mean: number | null; std: number | null }>;
}

/** What a tuning job produces. */
export interface TuningResult extends TrainingResult {
  readonly objective: string;
  readonly trials: readonly Trial[];
  readonly best: { readonly params: Candidate; readonly score: number | null; readonly run_id: string };
}

/** Runs a tuning job (see the module comment). */
export function runTuningJob(deps: Pick<TrainingDeps, 'datasets' | 'compute' | 'clock'>, recorder: TrainingRecorder, run: JobContext): Promise<TuningResult> {
  return inJobRun<TuningPlan, TuningResult>(deps, recorder, run, 'tuning', async (job) => {
    const { plan, ctx } = job;
    const parent = job.run;
    await recorder.logParams(ctx, parent.run_id, [
      { key: 'search.strategy', value: plan.search.strategy },
      { key: 'search.space', value: truncate(JSON.stringify(plan.search.space), 6000) },
      { key: 'search.seed', value: String(plan.search.seed) },
      { key: 'cv.folds', value: String(plan.cv.folds) },
      { key: 'cv.stratified', value: String(plan.cv.stratified) },
      { key: 'cv.seed', value: String(plan.cv.seed) },
      { key: 'objective', value: plan.objective },
      ...(plan.search.strategy === 'halving' ? [{ key: 'search.factor', value: String(plan.search.factor) }, { key: 'search.resource', value: plan.search.resource }, { key: 'search.rungs', value: plan.search.rungs.join(',') }] : []),
    ]);
    // Cross-validation runs on the training rows only; the holdout stays unseen until the end.
    const trainTable = subsetTable(job.table, job.split.train);
    const target = encodeProblemTarget(trainTable, job.problem);
    const folds = plan.cv.stratified && plan.task !== 'regression'
      ? stratifiedKFold(target.values, plan.cv.folds, { seed: plan.cv.seed })
      : kFold(trainTable.rows, plan.cv.folds, { seed: plan.cv.seed });
    const greater = getMetric(plan.objective).greaterIsBetter;
    const better = (a: number | null, b: number | null) => a !== null && (b === null || (greater ? a > b : a < b));
    const spec = modelKind(plan.model.kind);

    const trials: (Trial & { index: number })[] = [];
    const schedule = plan.search.strategy === 'halving' ? plan.search.rungs : [undefined];
    let alive = plan.search.candidates.map((params, index) => ({ params, index }));
    const total = schedule.reduce<number>((sum, _r, i) => sum + Math.max(1, Math.ceil(plan.search.candidates.length / plan.search.factor ** i)), 0);
    for (let rung = 0; rung < schedule.length; rung++) {
      const resource = schedule[rung];
      const scored: { index: number; params: Candidate; score: number | null }[] = [];
      for (const candidate of alive) {
        run.checkCancelled();
        const done = trials.length;
        const iterations = resource !== undefined && plan.search.resource === 'iterations';
        const params = iterations ? { ...candidate.params, [spec.iterationParam!]: resource } : candidate.params;
        const label = `trial ${done + 1} of ${total}${resource !== undefined ? ` (rung ${rung + 1}, ${plan.search.resource} ${resource})` : ''}`;
        const trial = await runTrial(deps, recorder, job, {
          params,
          name: `${parent.run_name}-t${candidate.index}${resource !== undefined ? `-r${rung}` : ''}`,
          halving: resource !== undefined ? { rung, resource } : undefined,
          cv: {
            table: trainTable,
            problem: job.problem,
            model: modelChoice(plan, params),
            seed: plan.seed,
            folds,
            metrics: plan.metrics,
            ...(resource !== undefined && plan.search.resource === 'rows' ? { maxTrainRows: resource } : {}),
          },
          onProgress: (p, m) => run.progress(0.05 + (0.75 * (done + p)) / total, `${label}: ${m}`),
        });
        scored.push({ index: candidate.index, params: candidate.params, score: trial.score });
        trials.push({ index: candidate.index, ...trial });
      }
      // Stable ranking: better score first, then the earlier candidate.
      scored.sort((a, b) => (better(a.score, b.score) ? -1 : better(b.score, a.score) ? 1 : a.index - b.index));
      alive = scored.slice(0, rung === schedule.length - 1 ? scored.length : survivors(scored.length, plan.search.factor)).map(({ index, params }) => ({ index, params }));
    }
    const lastRung = trials.filter((t) => (t.rung ?? 0) === schedule.length - 1);
    const best = lastRung.reduce((a, b) => (better(b.score, a.score) || (b.score === a.score && b.index < a.index) ? b : a), lastRung[0]);
    if (best.score === null) throw new MloopError('INVALID_PARAMETER_VALUE', `objective ${plan.objective} was undefined for every trial`, { fields: [{ field: 'objective', reason: 'undefined for every trial' }] });
    // Halving on iterations selected the best with the last rung's iteration budget, which may differ
    // from the candidate's own (min_resource, max_resource): the refit uses the budget it was selected
    // with, and best.* records it, as scikit-learn's best_params_ holds the resource.
    const bestParams = best.resource !== undefined && plan.search.resource === 'iterations' ? { ...plan.search.candidates[best.index], [spec.iterationParam!]: best.resource } : plan.search.candidates[best.index];
    await recorder.deps.tracking.logBatch(ctx, parent.run_id, {
      params: Object.entries(bestParams).map(([key, value]) => ({ key: `best.${key}`, value: truncate(paramValue(value), 6000) })),
      tags: [{ key: 'mloop.best_trial_run_id', value: best.run_id }],
    });

    run.progress(0.82, `refitting the best candidate on ${job.split.train.length} rows`);
    const out = await job.compute.fit(finalFit(job, bestParams), (p, m) => run.progress(0.82 + 0.08 * p, m));
    const now = deps.clock.now();
    const finalPlan: TrainingPlan = { ...plan, model: { kind: plan.model.kind, params: bestParams } };
    const result = await recorder.finish(run, ctx, {
      plan: finalPlan,
      table: job.table,
      split: job.split,
      out,
      runId: parent.run_id,
      experimentId: job.experimentId,
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
  });
}

/** Cross-validates one candidate in its own child run of the tuning run. */
async function runTrial(
  deps: Pick<TrainingDeps, 'clock'>,
  recorder: TrainingRecorder,
  job: OpenJob<TuningPlan>,
  trial: { params: Candidate; name: string; halving?: { rung: number; resource: number }; cv: CvInput; onProgress: (fraction: number, message: string) => void },
): Promise<Trial> {
  const { plan, ctx } = job;
  const { params, halving } = trial;
  const child = await recorder.createRun(ctx, job.experimentId, plan, job.jobId, {
    kind: 'trial',
    paramsHash: hashParams({ ...plan, model: { kind: plan.model.kind, params } }),
    parentRunId: job.run.run_id,
    runName: trial.name,
  });
  try {
    const logged: Param[] = [
      ...Object.entries(params).map(([key, value]) => ({ key, value: truncate(paramValue(value), 6000) })),
      { key: 'model_kind', value: plan.model.kind },
      { key: 'seed', value: String(plan.seed) },
      { key: 'cv.folds', value: String(plan.cv.folds) },
      ...(halving ? [{ key: 'halving.rung', value: String(halving.rung) }, { key: `halving.${plan.search.resource}`, value: String(halving.resource) }] : []),
    ];
    await recorder.logParams(ctx, child.run_id, logged);
    const cv = await job.compute.crossValidate(trial.cv, trial.onProgress);
    const now = deps.clock.now();
    const metrics: Metric[] = [];
    for (const [name, s] of Object.entries(cv.metrics)) {
      if (s.mean !== null) metrics.push({ key: `cv_${name}_mean`, value: s.mean, timestamp: now, step: 0 });
      if (s.std !== null) metrics.push({ key: `cv_${name}_std`, value: s.std, timestamp: now, step: 0 });
      if (s.pooled !== null) metrics.push({ key: `cv_${name}_pooled`, value: s.pooled, timestamp: now, step: 0 });
      s.values.forEach((v, f) => v !== null && metrics.push({ key: `cv_${name}`, value: v, timestamp: now, step: f }));
    }
    await recorder.logMetrics(ctx, child.run_id, metrics);
    await recorder.deps.tracking.updateRun(ctx, child.run_id, { status: 'FINISHED', end_time: deps.clock.now() });
    return {
      run_id: child.run_id,
      params,
      ...(halving ? { rung: halving.rung, resource: halving.resource } : {}),
      score: cv.metrics[plan.objective]?.mean ?? null,
      cv: Object.fromEntries(Object.entries(cv.metrics).map(([k, s]) => [k, { mean: s.mean, std: s.std }])),
    };
  } catch (error) {
    await recorder.failRun(ctx, child.run_id, error);
    throw error;
  }
}
