/**
 * Evaluation of registered model versions, as jobs: the ONNX model scores a dataset version in
 * onnxruntime (what serving runs), and the report holds metrics with bootstrap intervals, the
 * confusion matrix and calibration, slices, a fairness audit per protected attribute, permutation
 * importance and SHAP values for every output (TreeSHAP for boosted trees, KernelSHAP otherwise, on
 * a sample; external ONNX files are explained through onnxruntime over their raw input columns), model
 * size and p99 single-row latency, and the model's validation gate: the gate spec declared on the
 * registered model, evaluated against these numbers and against the `champion` alias scored on the
 * same rows (paired significance). The report is stored; the version is tagged `mloop.gate=passed|failed`
 * and `mloop.evaluation_id`, and its model card shows both.
 *
 * Gate specs and model-card specs (intended use, limitations) are stored as tags of the registered
 * model (`mloop.gate_spec`, `mloop.card_spec`), so they follow renames and go with the model.
 */
import { z } from 'zod';
import type { Clock } from '../core/clock.ts';
import type { RequestContext } from '../core/context.ts';
import { invalidParam, isMloopError, MloopError, notFound } from '../core/errors.ts';
import { newHexId } from '../core/ids.ts';
import { Random } from '../core/random.ts';
import { decodePageToken, nextPageToken } from '../core/search/index.ts';
import { parseInput } from '../core/validation.ts';
import { formatVersionRef, parseVersionRef } from '../data/domain.ts';
import type { DatasetService } from '../data/service.ts';
import type { Job } from '../jobs/domain.ts';
import type { JobContext, JobService } from '../jobs/service.ts';
import type { ModelVersion } from '../registry/domain.ts';
import type { RegistryService } from '../registry/service.ts';
import type { MetadataStore } from '../storage/ports.ts';
import { artifactUriToKey, type ArtifactService } from '../tracking/artifacts.ts';
import type { TrackingService } from '../tracking/service.ts';
import { ComputeClient, type ComputeMode } from '../training/compute-client.ts';
import { subsetTable } from '../training/cv.ts';
import { readModelFolder, type ModelFolder, type StoredSignature } from '../training/model-files.ts';
import { usableDatasetVersion } from '../training/planner.ts';
import { inputColumns, measureLatency, openSession, scoreTable } from '../training/scoring.ts';
import type { Column, Table, Task } from '../training/types.ts';
import { estimateMetric, type MetricEstimate } from './bootstrap.ts';
import type { ExplainOutput, ExplainSettings } from './explain/explanations.ts';
import { fairnessAudit, upgradeFairnessReport, type FairnessReport } from './fairness.ts';
import { evaluateGate, gateSpecSchema, parseGateSpec, type GateResult, type GateSpec } from './gate.ts';
import { calibrationCurve, type CalibrationCurve } from './metrics/calibration.ts';
import { confusionMatrix, type ConfusionMatrix } from './metrics/classification.ts';
import { computeMetric, defaultMetrics, getMetric, predictions, type EvaluationData } from './metrics/registry.ts';
import { modelCardInput } from './card-data.ts';
import { CARD_SPEC_TAG, cardSpecSchema, EVALUATION_TAG, GATE_SPEC_TAG, GATE_TAG, type CardSpec } from './domain.ts';
import { renderModelCardHtml, renderModelCardMarkdown, type ModelCardInput } from './model-card.ts';
import { MAX_VALUE_SLICES, numericValueKey, sliceMetrics, type NumericSliceMode, type SliceReport } from './slices.ts';
import { EvaluationStore, type EvaluationRow } from './store.ts';

/** What {@link EvaluationService} needs. */
export interface EvaluationDeps {
  readonly metadata: MetadataStore;
  readonly clock: Clock;
  readonly registry: RegistryService;
  readonly tracking: TrackingService;
  readonly artifacts: ArtifactService;
  readonly datasets: DatasetService;
  readonly jobs: JobService;
  readonly compute?: ComputeMode;
}

const toggle = <T extends z.ZodRawShape>(shape: T) => z.strictObject({ enabled: z.boolean().default(true), ...shape });

/** Schema of `POST /api/v1/evaluations`. */
export const evaluationRequestSchema = z.strictObject({
  /** `name`, `name@<version>` or `name@<alias>`. */
  model: z.string({ error: 'expected a model name, name@version or name@alias' }).min(1).max(500),
  version: z.union([z.string().min(1), z.number().int().min(1)]).optional(),
  alias: z.string().min(1).max(255).optional(),
  /** Dataset version to score, `name@version`. */
  /** Optional with `rows: "holdout"`: the dataset version the model was trained on. */
  dataset: z.string({ error: 'expected a dataset reference name@version' }).min(1).max(1000).optional(),
  /** `all` rows of the dataset, or only the `holdout` rows of the run that trained the model (same dataset version). */
  rows: z.enum(['all', 'holdout']).default('all'),
  /** Label column; default the model's target. */
  target: z.string().min(1).optional(),
  slices: z.array(z.string().min(1)).max(20).default([]),
  /**
   * Numeric slice columns: `auto` per value when a column has at most 20 distinct values, else in
   * quantile buckets; `value` per value (at most 100); `quantile` always in buckets.
   */
  slice_mode: z.enum(['auto', 'value', 'quantile']).default('auto'),
  /** Quantile buckets of numeric slice columns. */
  slice_bins: z.number().int().min(2).max(50).default(4),
  /** Bucket edges (strictly increasing) per numeric slice column; they override `slice_mode` for that column. */
  slice_edges: z.record(z.string(), z.array(z.number()).min(1).max(100)).optional(),
  /** Protected attributes to audit; default the columns tagged `protected`. */
  fairness: z.array(z.string().min(1)).max(20).optional(),
  /** Reference group per attribute (default the largest group). */
  fairness_reference: z.record(z.string(), z.string()).optional(),
  /** Significance level of each disparity's test; a disparity is flagged (and counts for a gate's `significantOnly`) only when p < alpha. */
  fairness_alpha: z.number().gt(0).lt(1).default(0.05),
  /** Flag band of the ratios, [tau, 1/tau] (0.8: the four-fifths rule; 1 flags every significant disparity). */
  fairness_tau: z.number().gt(0).max(1).default(0.8),
  metrics: z.array(z.string()).max(50).optional(),
  bootstrap: z.strictObject({ n: z.number().int().min(0).max(10_000).default(500), confidence: z.number().gt(0).lt(1).default(0.95) }).default({ n: 500, confidence: 0.95 }),
  permutation: toggle({ n_repeats: z.number().int().min(1).max(50).default(5), max_rows: z.number().int().min(2).max(100_000).default(2000), metric: z.string().optional() }).default({ enabled: true, n_repeats: 5, max_rows: 2000 }),
  shap: toggle({ rows: z.number().int().min(1).max(1000).default(20), background: z.number().int().min(1).max(1000).default(50), n_samples: z.number().int().min(16).max(100_000).optional() }).default({ enabled: true, rows: 20, background: 50 }),
  latency: toggle({ runs: z.number().int().min(10).max(100_000).default(200) }).default({ enabled: true, runs: 200 }),
  /** Alias of the model compared against by the gate's champion checks. */
  champion_alias: z.string().min(1).max(255).default('champion'),
  /** Run the model's gate (when it has one). */
  gate: z.boolean().default(true),
  seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
});

/** An evaluation request as sent. */
export type EvaluationRequest = z.input<typeof evaluationRequestSchema>;

/** An evaluation request resolved and checked: what an evaluation job runs. */
export interface EvaluationPlan {
  readonly model: { readonly name: string; readonly version: string; readonly via?: string };
  readonly dataset: { readonly name: string; readonly version: string };
  readonly rows: 'all' | 'holdout';
  readonly target: string;
  readonly task: Task;
  readonly slices: readonly string[];
  /** Absent in plans of jobs queued before it existed: `auto`. */
  readonly slice_mode?: NumericSliceMode;
  readonly slice_bins: number;
  readonly slice_edges?: Readonly<Record<string, readonly number[]>>;
  readonly fairness: readonly string[];
  readonly fairness_reference: Readonly<Record<string, string>>;
  /** Absent in plans of jobs queued before they existed: 0.05 and 0.8. */
  readonly fairness_alpha?: number;
  readonly fairness_tau?: number;
  readonly metrics: readonly string[];
  readonly bootstrap: { readonly n: number; readonly confidence: number };
  readonly permutation: { readonly enabled: boolean; readonly n_repeats: number; readonly max_rows: number; readonly metric: string };
  readonly shap: { readonly enabled: boolean; readonly rows: number; readonly background: number; readonly n_samples?: number };
  readonly latency: { readonly enabled: boolean; readonly runs: number };
  readonly champion_alias: string;
  readonly gate: boolean;
  readonly seed: number;
}

/** A metric with its interval. */
export type ReportMetric = MetricEstimate;

/** A stored evaluation. */
export interface EvaluationReport {
  readonly id: string;
  readonly model: { readonly name: string; readonly version: string; readonly run_id?: string; readonly kind?: string; readonly source: 'mloop' | 'external' };
  readonly dataset: { readonly name: string; readonly version: string };
  readonly rows: { readonly mode: 'all' | 'holdout'; readonly evaluated: number };
  readonly task: Task;
  readonly target: string;
  readonly classes?: readonly string[];
  readonly metrics: Record<string, ReportMetric>;
  readonly confidence: number;
  readonly n_bootstrap: number;
  readonly confusion_matrix?: ConfusionMatrix & { readonly class_labels: readonly string[] };
  readonly calibration?: CalibrationCurve & { readonly ece: number | null };
  readonly slices: SliceReport[];
  readonly fairness: FairnessReport[];
  readonly explanations: ExplainOutput;
  readonly model_size_bytes: number;
  readonly latency?: { readonly p50_ms: number; readonly p99_ms: number; readonly runs: number };
  readonly champion: { readonly alias: string; readonly version: string; readonly metrics: Record<string, number | null> } | null;
  readonly gate: { readonly spec: GateSpec; readonly result: GateResult } | null;
  readonly gate_status: 'passed' | 'failed' | 'none';
  readonly notes: string[];
  readonly job_id?: string;
  readonly created_at: number;
  readonly created_by: string;
}

/** The evaluation module's operations. */
export class EvaluationService {
  readonly store = new EvaluationStore();

  constructor(readonly deps: EvaluationDeps) {
    deps.jobs.register('evaluation', (run) => this.#run(run), { readResult: (stored) => readReport(stored as EvaluationReport) });
  }

  // ------------------------------------------------------------------ gate and card specs

  /** Stores the gate spec of registered model `name` (validated); returns it with defaults filled. */
  async setGate(ctx: RequestContext, name: string, spec: unknown): Promise<GateSpec> {
    const parsed = parseGateSpec(spec);
    const text = JSON.stringify(parsed);
    if (text.length > 5000) throw invalidParam('gate', `the spec is ${text.length} characters as JSON; at most 5000 fit`);
    await this.deps.registry.setRegisteredModelTag(ctx, name, GATE_SPEC_TAG, text);
    return parsed;
  }

  /** The gate spec of registered model `name`, or null when it has none. */
  async getGate(ctx: RequestContext, name: string): Promise<GateSpec | null> {
    const model = await this.deps.registry.getRegisteredModel(ctx, name);
    const tag = model.tags.find((t) => t.key === GATE_SPEC_TAG);
    return tag ? (gateSpecSchema.parse(JSON.parse(tag.value)) as GateSpec) : null;
  }

  /** Removes the gate spec of registered model `name`. */
  async deleteGate(ctx: RequestContext, name: string): Promise<void> {
    await this.deps.registry.deleteRegisteredModelTag(ctx, name, GATE_SPEC_TAG);
  }

  /** Stores the model-card spec of registered model `name`. */
  async setCardSpec(ctx: RequestContext, name: string, spec: unknown): Promise<CardSpec> {
    const parsed = parseInput(cardSpecSchema, spec, 'card');
    const text = JSON.stringify(parsed);
    if (text.length > 5000) throw invalidParam('card', `the spec is ${text.length} characters as JSON; at most 5000 fit (put long text in the model description)`);
    await this.deps.registry.setRegisteredModelTag(ctx, name, CARD_SPEC_TAG, text);
    return parsed;
  }

  /** The model-card spec of registered model `name`, or null. */
  async getCardSpec(ctx: RequestContext, name: string): Promise<CardSpec | null> {
    const model = await this.deps.registry.getRegisteredModel(ctx, name);
    const tag = model.tags.find((t) => t.key === CARD_SPEC_TAG);
    return tag ? (JSON.parse(tag.value) as CardSpec) : null;
  }

  // ------------------------------------------------------------------ evaluations

  /** Checks an evaluation request completely and returns the plan a job runs. */
  async plan(ctx: RequestContext, body: unknown): Promise<EvaluationPlan> {
    const request = parseInput(evaluationRequestSchema, body, 'body');
    const { version, alias } = await this.#resolveModel(ctx, request.model, request.version, request.alias);
    const folder = await this.#folder(version);
    const signature = folder.signature;
    const holdout = request.rows === 'holdout' ? await this.#holdout(ctx, version) : undefined;
    if (request.dataset === undefined && !holdout) throw invalidParam('dataset', 'required (or rows "holdout", which scores the holdout of the dataset version the model was trained on)');
    const ref = parseVersionRef(request.dataset ?? holdout!.dataset, 'dataset');
    const data = await usableDatasetVersion(this.deps.datasets, ctx, ref.name, ref.version);
    const shown = formatVersionRef(data.dataset, data.version.slice(0, 12));
    const columns = new Map(data.schema.columns.map((c) => [c.name, c]));
    const profiles = new Map(data.profile!.columns.map((c) => [c.name, c]));
    const target = request.target ?? signature.target;
    if (!target) throw invalidParam('target', 'the model does not name its target column; give target');
    if (!columns.has(target)) throw invalidParam('target', `column "${target}" is not in dataset ${shown}`);
    const targetProfile = profiles.get(target)!;
    if (targetProfile.nulls > 0) throw invalidParam('target', `column "${target}" has ${targetProfile.nulls} missing labels in ${shown}`);
    const task = signature.task;
    if (!task) throw invalidParam('model', 'the model signature does not say its task');
    if (task === 'regression' && !['integer', 'float'].includes(columns.get(target)!.type)) throw invalidParam('target', `column "${target}" is not numeric; the model predicts values`);
    signature.inputs.forEach((input) => {
      for (const c of inputColumns(input)) if (!columns.has(c)) throw invalidParam('dataset', `dataset ${shown} lacks column "${c}", an input of the model`);
    });
    request.slices.forEach((c, i) => {
      if (!columns.has(c)) throw invalidParam(`slices[${i}]`, `column "${c}" is not in dataset ${shown}`);
      const numeric = ['integer', 'float'].includes(columns.get(c)!.type);
      const distinct = profiles.get(c)!.distinct;
      if (request.slice_mode === 'value' && numeric && !request.slice_edges?.[c] && distinct > MAX_VALUE_SLICES) {
        throw invalidParam('slice_mode', `column "${c}" has ${distinct} distinct values; per-value slices allow at most ${MAX_VALUE_SLICES} (use quantile or slice_edges)`);
      }
    });
    for (const [c, edges] of Object.entries(request.slice_edges ?? {})) {
      if (!request.slices.includes(c)) throw invalidParam(`slice_edges.${c}`, 'is not one of the slices');
      if (!['integer', 'float'].includes(columns.get(c)!.type)) throw invalidParam(`slice_edges.${c}`, `column "${c}" is not numeric`);
      edges.forEach((e, i) => {
        if (i > 0 && !(e > edges[i - 1])) throw invalidParam(`slice_edges.${c}`, `edges must increase strictly; edge ${i} (${e}) <= edge ${i - 1} (${edges[i - 1]})`);
      });
    }
    let fairness: string[];
    if (request.fairness !== undefined) {
      if (task !== 'binary' && request.fairness.length > 0) throw invalidParam('fairness', `the fairness audit needs a binary classifier; the model does ${task}`);
      request.fairness.forEach((c, i) => {
        if (!columns.has(c)) throw invalidParam(`fairness[${i}]`, `column "${c}" is not in dataset ${shown}`);
      });
      fairness = request.fairness;
    } else {
      fairness = task === 'binary' ? data.schema.columns.filter((c) => c.tags.includes('protected')).map((c) => c.name) : [];
    }
    const fairnessReference: Record<string, string> = {};
    for (const [attribute, reference] of Object.entries(request.fairness_reference ?? {})) {
      if (!fairness.includes(attribute)) throw invalidParam(`fairness_reference.${attribute}`, 'is not an audited attribute');
      fairnessReference[attribute] = await this.#referenceGroup(ctx, data, attribute, reference);
    }
    const applicable = new Set(defaultMetrics(task, true));
    const metrics = request.metrics ?? defaultMetrics(task, true).filter((m) => !['mape'].includes(m));
    metrics.forEach((m, i) => {
      getMetric(m);
      if (!applicable.has(m)) throw invalidParam(`metrics[${i}]`, `metric ${m} does not apply to a ${task} task`);
    });
    const permutationMetric = request.permutation.metric ?? (task === 'binary' ? 'roc_auc' : task === 'multiclass' ? 'accuracy' : 'r2');
    if (!applicable.has(permutationMetric)) throw invalidParam('permutation.metric', `metric ${permutationMetric} does not apply to a ${task} task`);
    if (holdout) checkHoldoutDataset(holdout, { name: data.dataset, version: data.version });
    return {
      model: { name: version.name, version: version.version, ...(alias ? { via: alias } : {}) },
      dataset: { name: data.dataset, version: data.version },
      rows: request.rows,
      target,
      task,
      slices: request.slices,
      slice_mode: request.slice_mode,
      slice_bins: request.slice_bins,
      ...(request.slice_edges ? { slice_edges: request.slice_edges } : {}),
      fairness,
      fairness_reference: fairnessReference,
      fairness_alpha: request.fairness_alpha,
      fairness_tau: request.fairness_tau,
      metrics,
      bootstrap: request.bootstrap,
      permutation: { enabled: request.permutation.enabled, n_repeats: request.permutation.n_repeats, max_rows: request.permutation.max_rows, metric: permutationMetric },
      shap: { enabled: request.shap.enabled, rows: request.shap.rows, background: request.shap.background, ...(request.shap.n_samples ? { n_samples: request.shap.n_samples } : {}) },
      latency: request.latency,
      champion_alias: request.champion_alias,
      gate: request.gate,
      seed: request.seed,
    };
  }

  /** Checks an evaluation request, then starts an evaluation job. */
  async submit(ctx: RequestContext, body: unknown): Promise<Job> {
    const plan = await this.plan(ctx, body);
    return this.deps.jobs.submit(ctx, 'evaluation', plan);
  }

  /**
   * Checks an evaluation request, runs its job and resolves the stored report once the job is done;
   * a job that failed is an `INVALID_STATE` error carrying the job's reason and fields.
   */
  async evaluate(ctx: RequestContext, body: unknown): Promise<EvaluationReport> {
    const job = await this.submit(ctx, body);
    const done = await this.deps.jobs.waitFor(ctx, job.id);
    if (done.status !== 'SUCCEEDED') {
      throw new MloopError('INVALID_STATE', `evaluation job ${job.id} ${done.status}: ${done.error?.message ?? ''}`, { fields: (done.error?.fields ?? []).map((f) => ({ ...f })) });
    }
    return done.result as EvaluationReport;
  }

  /** An evaluation job of the caller's project. */
  getJob(ctx: RequestContext, id: string): Promise<Job> {
    return this.deps.jobs.get(ctx, id, ['evaluation']);
  }

  /** A stored evaluation. */
  async get(ctx: RequestContext, id: string): Promise<EvaluationReport> {
    const row = await this.store.get(this.deps.metadata.db, ctx.project, id);
    if (!row) throw notFound(`evaluation ${JSON.stringify(id)} does not exist`);
    return toReport(row);
  }

  /** Stored evaluations, newest first (of one model and version when given). */
  async list(ctx: RequestContext, options: { model?: string; version?: string; max_results?: number; page_token?: string } = {}): Promise<{ evaluations: EvaluationReport[]; next_page_token?: string }> {
    const limit = options.max_results ?? 100;
    const offset = decodePageToken(options.page_token);
    const rows = await this.store.list(this.deps.metadata.db, { project: ctx.project, model: options.model, version: options.version, limit: limit + 1, offset });
    const next = nextPageToken(offset, limit, rows.length);
    return { evaluations: rows.slice(0, limit).map(toReport), ...(next ? { next_page_token: next } : {}) };
  }

  /**
   * The reference group `reference` of a fairness attribute as the audit names it (a numeric column's
   * `1.0` is its group `1`); INVALID_PARAMETER_VALUE on `fairness_reference.<attribute>`, listing the
   * groups, when no row of the dataset has it.
   */
  async #referenceGroup(ctx: RequestContext, data: { dataset: string; version: string }, attribute: string, reference: string): Promise<string> {
    const column = (await this.deps.datasets.readTable(ctx, data.dataset, data.version, { columns: [attribute] })).columns[0];
    const asNumber = Number(reference);
    const wanted = column.kind === 'numeric' && reference.trim() !== '' && Number.isFinite(asNumber) ? numericValueKey(asNumber) : reference;
    const groups = new Set(fairnessGroups(column).filter((g) => g !== null));
    if (groups.has(wanted)) return wanted;
    const shown = [...groups].sort().slice(0, 20);
    throw invalidParam(`fairness_reference.${attribute}`, `no row has group "${reference}"; the groups are ${shown.join(', ')}${groups.size > shown.length ? ', …' : ''}`);
  }

  async #resolveModel(ctx: RequestContext, model: string, version: string | number | undefined, alias: string | undefined): Promise<{ version: ModelVersion; alias?: string }> {
    let name = model;
    let v = version;
    let a = alias;
    if (v === undefined && a === undefined) {
      const at = model.lastIndexOf('@');
      if (at > 0) {
        name = model.slice(0, at);
        const selector = model.slice(at + 1);
        if (/^\d+$/.test(selector)) v = selector;
        else a = selector;
      }
    }
    if (v !== undefined && a !== undefined) throw invalidParam('alias', 'give a version or an alias, not both');
    try {
      if (a !== undefined) return { version: await this.deps.registry.getModelVersionByAlias(ctx, name, a), alias: a };
      if (v !== undefined) return { version: await this.deps.registry.getModelVersion(ctx, name, v) };
      const versions = await this.deps.registry.listModelVersions(ctx, name);
      if (versions.length === 0) throw invalidParam('model', `registered model "${name}" has no versions`);
      return { version: versions[0] };
    } catch (error) {
      if (isMloopError(error) && (error.code === 'RESOURCE_DOES_NOT_EXIST' || error.code === 'INVALID_PARAMETER_VALUE')) {
        const onAlias = error.fields[0]?.field === 'alias' || (a !== undefined && /alias/i.test(error.message));
        throw invalidParam(onAlias ? 'alias' : 'model', error.fields[0]?.reason ?? error.message);
      }
      throw error;
    }
  }

  async #folder(version: ModelVersion): Promise<ModelFolder> {
    try {
      return await readModelFolder(this.deps.artifacts, version.storage_location, `model ${version.name} version ${version.version}`);
    } catch (error) {
      if (isMloopError(error) && (error.code === 'RESOURCE_DOES_NOT_EXIST' || error.code === 'INVALID_STATE')) throw invalidParam('model', error.message);
      throw error;
    }
  }

  /** The holdout rows the model's training run kept out, when they index this dataset version. */
  /** The holdout rows the model's training run recorded, and the dataset version (`name@version`) they index. */
  async #holdout(ctx: RequestContext, version: ModelVersion): Promise<{ dataset: string; rows: number[] }> {
    if (!version.run_id) throw invalidParam('rows', 'the model version has no run, so it has no holdout; use rows "all"');
    const run = await this.deps.tracking.getRun(ctx, version.run_id);
    let text: string;
    try {
      const key = `${artifactUriToKey(run.info.artifact_uri, 'artifact_uri')}/split/holdout_rows.json`;
      const download = await this.deps.artifacts.download(key);
      const chunks: Buffer[] = [];
      for await (const c of download.stream) chunks.push(c as Buffer);
      text = Buffer.concat(chunks).toString('utf8');
    } catch (error) {
      if (isMloopError(error)) throw invalidParam('rows', `the run ${version.run_id} of the model recorded no holdout rows; use rows "all"`);
      throw error;
    }
    return JSON.parse(text) as { dataset: string; rows: number[] };
  }

  // ------------------------------------------------------------------ the job

  async #run(run: JobContext): Promise<EvaluationReport> {
    const plan = run.job.spec as EvaluationPlan;
    const ctx = run.ctx;
    const notes: string[] = [];
    run.progress(0.02, `loading ${plan.model.name} version ${plan.model.version}`);
    const version = await this.deps.registry.getModelVersion(ctx, plan.model.name, plan.model.version);
    const folder = await this.#folder(version);
    const signature = folder.signature;
    const columns = [...new Set([...signature.inputs.flatMap((i) => inputColumns(i)), plan.target, ...plan.slices, ...plan.fairness])];
    run.progress(0.05, `reading ${plan.dataset.name}@${plan.dataset.version.slice(0, 12)}`);
    let table = await this.deps.datasets.readTable(ctx, plan.dataset.name, plan.dataset.version, { columns });
    if (plan.rows === 'holdout') {
      const holdout = await this.#holdout(ctx, version);
      checkHoldoutDataset(holdout, plan.dataset);
      table = subsetTable(table, holdout.rows);
    }
    if (table.rows === 0) throw invalidParam('dataset', 'no rows to evaluate');
    const yTrue = encodeLabels(table, plan.target, plan.task, signature);

    run.progress(0.1, 'scoring with onnxruntime');
    const session = await openSession(folder.onnx);
    let data: EvaluationData;
    let latency: EvaluationReport['latency'];
    try {
      data = evaluationDataOf(plan.task, yTrue, await scoreTable(session, table, { ...signature, task: plan.task }));
      if (plan.latency.enabled) {
        run.progress(0.15, 'measuring latency');
        const l = await measureLatency(session, table, signature.inputs, { runs: plan.latency.runs });
        latency = { p50_ms: l.p50, p99_ms: l.p99, runs: l.runs };
      }
    } finally {
      await session.release();
    }

    run.progress(0.2, 'metrics with bootstrap intervals');
    const metrics: Record<string, ReportMetric> = {};
    plan.metrics.forEach((name) => {
      metrics[name] = estimateMetric(name, data, { ...plan.bootstrap, seed: plan.seed });
    });
    const pointMetrics = Object.fromEntries(Object.entries(metrics).filter(([, m]) => m.value !== null).map(([k, m]) => [k, m.value!]));

    let confusion: EvaluationReport['confusion_matrix'];
    let calibration: EvaluationReport['calibration'];
    if (plan.task !== 'regression') {
      const k = signature.classes?.length ?? (plan.task === 'binary' ? 2 : 0);
      const cm = confusionMatrix(data.yTrue, predictions(data), { labels: Array.from({ length: k }, (_, i) => i) });
      confusion = { ...cm, class_labels: signature.classes ?? cm.labels.map(String) };
      if (plan.task === 'binary') {
        const curve = calibrationCurve(data.yTrue, data.yScore!, { nBins: 10 });
        calibration = { ...curve, ece: safe(() => computeMetric('ece', data)) };
      }
    }

    run.progress(0.3, 'slices');
    const slices: SliceReport[] = [];
    for (const column of plan.slices) {
      run.checkCancelled();
      const c = table.columns.find((x) => x.name === column)!;
      const edges = plan.slice_edges?.[column];
      slices.push(
        sliceMetrics(data, c, { metrics: sliceMetricNames(plan), mode: plan.slice_mode ?? 'auto', bins: plan.slice_bins, ...(edges ? { edges } : {}), confidence: plan.bootstrap.confidence, nBootstrap: Math.min(plan.bootstrap.n, 200), seed: plan.seed }),
      );
    }

    run.progress(0.4, 'fairness');
    const fairness: Record<string, FairnessReport> = {};
    for (const attribute of plan.fairness) {
      const groups = fairnessGroups(table.columns.find((x) => x.name === attribute)!);
      const reference = plan.fairness_reference[attribute];
      try {
        fairness[attribute] = fairnessAudit({ yTrue: data.yTrue, yPred: predictions(data), groups, attribute }, { ...(reference ? { reference } : {}), alpha: plan.fairness_alpha ?? 0.05, tau: plan.fairness_tau ?? 0.8 });
      } catch (error) {
        if (!isMloopError(error)) throw error;
        notes.push(`fairness audit of ${attribute} not possible: ${error.message}`);
      }
    }

    let explanations: ExplainOutput = {};
    if (plan.permutation.enabled || plan.shap.enabled) {
      run.progress(0.5, 'explanations');
      // A seeded shuffle, so that the sampled rows are spread over the data.
      const order = Array.from(new Random(plan.seed).permutation(table.rows));
      const sample = subsetTable(table, order);
      const sampleY = Float64Array.from(order, (r) => data.yTrue[r]);
      const settings: ExplainSettings = {
        ...(plan.permutation.enabled ? { permutation: { metric: plan.permutation.metric, nRepeats: plan.permutation.n_repeats, seed: plan.seed, maxRows: plan.permutation.max_rows } } : {}),
        ...(plan.shap.enabled ? { shap: { rows: plan.shap.rows, background: plan.shap.background, seed: plan.seed, ...(plan.shap.n_samples ? { nSamples: plan.shap.n_samples } : {}) } } : {}),
      };
      const onProgress = (p: number, m: string) => run.progress(0.5 + 0.3 * p, m);
      if (folder.pipeline) {
        const compute = new ComputeClient({ mode: this.deps.compute, signal: run.signal });
        try {
          explanations = await compute.explain({ pipeline: folder.pipeline, table: sample, yTrue: sampleY, ...settings }, onProgress);
        } finally {
          compute.close();
        }
      } else {
        // An external ONNX file: the explainers' matrices are scored in onnxruntime, as the metrics were.
        const compute = new ComputeClient({ mode: this.deps.compute, signal: run.signal });
        try {
          explanations = await compute.explainExternal({ onnx: folder.onnx, signature: { ...signature, task: plan.task, target: plan.target }, table: sample, yTrue: sampleY, settings }, onProgress);
        } catch (error) {
          if (!isMloopError(error)) throw error;
          notes.push(`explanations not possible: ${error.message}`);
        } finally {
          compute.close();
        }
      }
    }

    run.progress(0.82, `comparing with ${plan.champion_alias}`);
    let champion: EvaluationReport['champion'] = null;
    let championData: EvaluationData | undefined;
    try {
      const champ = await this.deps.registry.getModelVersionByAlias(ctx, plan.model.name, plan.champion_alias);
      if (champ.version === version.version) notes.push(`this version is the ${plan.champion_alias}; no comparison`);
      else {
        const champFolder = await this.#folder(champ);
        const champSession = await openSession(champFolder.onnx);
        try {
          const champY = encodeLabels(table, plan.target, plan.task, champFolder.signature);
          if (champFolder.signature.task !== plan.task) throw invalidParam('model', `the ${plan.champion_alias} does ${champFolder.signature.task ?? 'an unknown task'}, not ${plan.task}`);
          championData = evaluationDataOf(plan.task, champY, await scoreTable(champSession, table, { ...champFolder.signature, task: plan.task }));
        } finally {
          await champSession.release();
        }
        const champMetrics: Record<string, number | null> = {};
        for (const name of plan.metrics) champMetrics[name] = safe(() => computeMetric(name, championData!));
        champion = { alias: plan.champion_alias, version: champ.version, metrics: champMetrics };
      }
    } catch (error) {
      if (!isMloopError(error)) throw error;
      if (error.code !== 'RESOURCE_DOES_NOT_EXIST') notes.push(`the ${plan.champion_alias} could not be scored on these rows: ${error.message}`);
    }

    run.progress(0.9, 'validation gate');
    let gate: EvaluationReport['gate'] = null;
    if (plan.gate) {
      const spec = await this.getGate(ctx, plan.model.name);
      if (spec) {
        const result = evaluateGate(spec, {
          metrics: pointMetrics,
          champion: champion ? { metrics: Object.fromEntries(Object.entries(champion.metrics).filter(([, v]) => v !== null)) as Record<string, number>, label: `version ${champion.version}` } : null,
          ...(championData && sameRows(data, championData) ? { holdout: { candidate: data, champion: championData } } : {}),
          fairness,
          modelSizeBytes: folder.onnx.length,
          ...(latency ? { latencyP99Ms: latency.p99_ms } : {}),
        });
        gate = { spec, result };
      }
    }

    const id = newHexId();
    const now = this.deps.clock.now();
    const report: EvaluationReport = {
      id,
      model: { name: version.name, version: version.version, ...(version.run_id ? { run_id: version.run_id } : {}), ...(kindOf(version) ? { kind: kindOf(version) } : {}), source: signature.source },
      dataset: plan.dataset,
      rows: { mode: plan.rows, evaluated: table.rows },
      task: plan.task,
      target: plan.target,
      ...(signature.classes ? { classes: signature.classes } : {}),
      metrics,
      confidence: plan.bootstrap.confidence,
      n_bootstrap: plan.bootstrap.n,
      ...(confusion ? { confusion_matrix: confusion } : {}),
      ...(calibration ? { calibration } : {}),
      slices,
      fairness: Object.values(fairness),
      explanations,
      model_size_bytes: folder.onnx.length,
      ...(latency ? { latency } : {}),
      champion,
      gate,
      gate_status: gate ? (gate.result.passed ? 'passed' : 'failed') : 'none',
      notes,
      job_id: run.job.id,
      created_at: now,
      created_by: ctx.actor.name,
    };
    await this.store.insert(this.deps.metadata.db, {
      id,
      project: ctx.project,
      model_name: version.name,
      model_version: version.version,
      dataset: `${plan.dataset.name}@${plan.dataset.version}`,
      job_id: run.job.id,
      gate_status: report.gate_status,
      report: stringifyReport(report),
      created_at: now,
      created_by: ctx.actor.name,
    });
    await this.deps.registry.setModelVersionTag(ctx, version.name, version.version, EVALUATION_TAG, id);
    if (gate) await this.deps.registry.setModelVersionTag(ctx, version.name, version.version, GATE_TAG, report.gate_status);
    return report;
  }

  // ------------------------------------------------------------------ model cards

  /** The model card of a version as Markdown, self-contained HTML, or the structured input. */
  async modelCard(ctx: RequestContext, name: string, versionOrAlias: string, format: 'md' | 'html' | 'json' = 'md'): Promise<string | ModelCardInput> {
    const input = await modelCardInput(this.deps, ctx, name, versionOrAlias, (id) => this.get(ctx, id));
    if (format === 'json') return input;
    return format === 'html' ? renderModelCardHtml(input) : renderModelCardMarkdown(input);
  }
}

// ------------------------------------------------------------------ helpers

/** INVALID_PARAMETER_VALUE on `rows` unless `holdout` indexes rows of dataset version `data`. */
function checkHoldoutDataset(holdout: { dataset: string }, data: { name: string; version: string }): void {
  if (holdout.dataset !== `${data.name}@${data.version}`) {
    throw invalidParam('rows', `the model's holdout rows index ${holdout.dataset}, not ${data.name}@${data.version}`);
  }
}

/** The group of each row for a fairness audit: a numeric value by its {@link numericValueKey}; missing is null. */
function fairnessGroups(column: Column): (string | null)[] {
  return column.kind === 'numeric' ? Array.from(column.values, (v) => (Number.isNaN(v) ? null : numericValueKey(v))) : [...column.values];
}

function kindOf(version: ModelVersion): string | undefined {
  return version.tags.find((t) => t.key === 'mloop.model_kind')?.value;
}

function safe(f: () => number): number | null {
  try {
    const v = f();
    return Number.isFinite(v) ? v : null;
  } catch (error) {
    if (isMloopError(error)) return null;
    throw error;
  }
}

function sliceMetricNames(plan: EvaluationPlan): string[] {
  const preferred = plan.task === 'binary' ? ['accuracy', 'roc_auc', 'recall', 'precision'] : plan.task === 'multiclass' ? ['accuracy', 'f1_macro'] : ['rmse', 'mae'];
  return preferred.filter((m) => plan.metrics.includes(m)).slice(0, 4).concat(plan.metrics.length && !preferred.some((m) => plan.metrics.includes(m)) ? [plan.metrics[0]] : []);
}

/** Labels of the target column as class indices of the model (classification) or values (regression). */
function encodeLabels(table: Table, target: string, task: Task, signature: StoredSignature): Float64Array {
  const column = table.columns.find((c) => c.name === target)!;
  if (task === 'regression') {
    if (column.kind !== 'numeric') throw invalidParam('target', `column "${target}" is not numeric`);
    return Float64Array.from(column.values);
  }
  const classes = signature.classes;
  if (!classes) throw invalidParam('model', 'the model signature lists no classes');
  const index = new Map(classes.map((c, i) => [c, i]));
  const out = new Float64Array(table.rows);
  for (let r = 0; r < table.rows; r++) {
    const raw = column.values[r];
    const label = raw === null ? null : String(raw);
    const i = label === null ? undefined : index.get(label);
    if (i === undefined) throw invalidParam('target', `label ${JSON.stringify(label)} at row ${r} is not one of the model's classes (${classes.join(', ')})`);
    out[r] = i;
  }
  return out;
}

function evaluationDataOf(task: Task, yTrue: Float64Array, scores: { values?: Float64Array; probabilities?: Float64Array; nClasses?: number }): EvaluationData {
  if (task === 'regression') return { task, yTrue, yPred: scores.values! };
  const k = scores.nClasses!;
  if (task === 'binary') {
    if (k !== 2) throw invalidParam('model', `a binary model must output 2 probabilities per row, this one gives ${k}`);
    const p = new Float64Array(yTrue.length);
    for (let i = 0; i < p.length; i++) p[i] = scores.probabilities![2 * i + 1];
    return { task, yTrue, yScore: p };
  }
  return { task, yTrue, yScore: scores.probabilities!, nClasses: k };
}

function sameRows(a: EvaluationData, b: EvaluationData): boolean {
  if (a.yTrue.length !== b.yTrue.length) return false;
  for (let i = 0; i < a.yTrue.length; i++) if (a.yTrue[i] !== b.yTrue[i]) return false;
  return true;
}

/** JSON where NaN and ±Infinity (a metric undefined on a slice, an unbounded ratio) become null. */
function stringifyReport(report: EvaluationReport): string {
  return JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
}

function toReport(row: EvaluationRow): EvaluationReport {
  return readReport(JSON.parse(row.report) as EvaluationReport);
}

/** A stored report in today's shape (fairness reports stored before the per-group disparities are upgraded). */
function readReport(report: EvaluationReport): EvaluationReport {
  return { ...report, fairness: report.fairness.map(upgradeFairnessReport) };
}
