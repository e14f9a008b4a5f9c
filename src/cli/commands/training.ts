/**
 * `mloop train`, `mloop tune`, `mloop evaluate`, `mloop model card`, `mloop jobs list|get|cancel|wait`,
 * and `mloop models register-onnx|gate|card-spec|card`: training, tuning and evaluation jobs, waited on
 * with progress on stderr (a bar on a terminal, a plain line per tenth otherwise, nothing for `--json`
 * off a terminal), model gates and cards, external ONNX files.
 */
import { readFile, writeFile } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import { InvalidArgumentError, type Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { MloopError } from '../../core/errors.ts';
import type { Job } from '../../jobs/domain.ts';
import type { MloopApi } from '../../sdk/client.ts';
import { clientOf, withClientOptions } from '../context.ts';
import { keyValues, print, table } from '../output.ts';
import { parseIntOption, type ClientOptions } from './options.ts';

/** Exit code of `mloop evaluate` when the model's gate failed. */
export const GATE_FAILED_EXIT = 3;

function usage(message: string): MloopError {
  return new MloopError('INVALID_PARAMETER_VALUE', message);
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function list(value: string): string[] {
  return value.split(',').map((v) => v.trim()).filter((v) => v !== '');
}

function numberOption(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} expects a number, got "${value}"`);
    return n;
  };
}

/** A commander parser for an integer ≥ 0 (seeds, resample counts). */
function nonNegativeInt(name: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} expects an integer ≥ 0, got "${value}"`);
    return Number(value);
  };
}

/** A value given on the command line: JSON when it parses (numbers, booleans, lists), else the text. */
function cliValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** `k=v` pairs into an object of parsed values. */
function keyValuePairs(pairs: readonly string[] | undefined, option: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new InvalidArgumentError(`${option} expects name=value, got "${pair}"`);
    out[pair.slice(0, at)] = cliValue(pair.slice(at + 1));
  }
  return out;
}

/**
 * Search-space entries: `C=0.1,1,10` (values), `C=loguniform:0.01:10`, `alpha=uniform:0:1`,
 * `max_depth=int:2:8`, or `hiddenLayerSizes=[50];[100]` (values separated by `;` when they hold commas).
 */
function spacePairs(pairs: readonly string[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new InvalidArgumentError(`--search expects name=values, got "${pair}"`);
    const key = pair.slice(0, at);
    const text = pair.slice(at + 1);
    const dist = /^(uniform|loguniform|int):([^:]+):([^:]+)$/.exec(text);
    if (dist) out[key] = { distribution: dist[1], low: Number(dist[2]), high: Number(dist[3]) };
    else out[key] = (text.includes(';') ? text.split(';') : text.split(',')).map((v) => cliValue(v.trim()));
  }
  return out;
}

async function readDocument(file: string, what: string): Promise<Record<string, unknown>> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw usage(`cannot read ${what} file ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
  let doc: unknown;
  try {
    doc = parseYaml(text) as unknown;
  } catch (error) {
    throw usage(`${what} file ${file} is not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw usage(`${what} file ${file} must hold an object`);
  return doc as Record<string, unknown>;
}

/** Progress of a job on stderr. */
class JobProgress {
  readonly #bar: cliProgress.SingleBar | undefined;
  readonly #plain: boolean;
  #tenth = -1;

  constructor(label: string, quiet: boolean) {
    const tty = process.stderr.isTTY === true;
    this.#plain = !tty && !quiet;
    if (tty) {
      this.#bar = new cliProgress.SingleBar(
        { format: `${label} [{bar}] {percentage}% | {message}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
        cliProgress.Presets.shades_classic,
      );
      this.#bar.start(100, 0, { message: 'queued' });
    } else if (this.#plain) process.stderr.write(`${label}\n`);
  }

  update(job: Job): void {
    const pct = Math.round(job.progress * 100);
    this.#bar?.update(pct, { message: (job.message ?? job.status).slice(0, 60) });
    const tenth = Math.floor(job.progress * 10);
    if (this.#plain && (tenth > this.#tenth || job.status !== 'RUNNING')) {
      if (job.status === 'RUNNING' || job.status === 'QUEUED') process.stderr.write(`${pct}% ${job.message ?? job.status}\n`);
      this.#tenth = tenth;
    }
  }

  stop(job: Job): void {
    this.#bar?.stop();
    if (this.#plain || this.#bar) process.stderr.write(`${job.status.toLowerCase()}${job.error ? `: ${job.error.message}` : ''}\n`);
  }
}

/** Waits for a job with progress; throws when it did not succeed. */
async function waitWithProgress(client: MloopApi, job: Job, label: string, json: boolean | undefined): Promise<Job> {
  const progress = new JobProgress(label, json === true);
  const done = await client.waitForJob(job.id, { onProgress: (j) => progress.update(j) });
  progress.stop(done);
  if (done.status !== 'SUCCEEDED') {
    throw new MloopError(done.error?.code === 'INVALID_PARAMETER_VALUE' ? 'INVALID_PARAMETER_VALUE' : 'INVALID_STATE', `${done.kind} job ${done.id} ${done.status.toLowerCase()}: ${done.error?.message ?? 'no reason given'}`, {
      fields: (done.error?.fields ?? []).map((f) => ({ ...f })),
    });
  }
  return done;
}

function fmt(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(5)));
  if (value === undefined || value === null) return '';
  return String(value);
}

type MetricMap = Record<string, { value: number | null; lower: number | null; upper: number | null }>;

function metricsTable(metrics: MetricMap): string {
  return table(
    Object.entries(metrics).map(([metric, m]) => ({ metric, value: fmt(m.value), interval: m.lower === null || m.upper === null ? '' : `[${fmt(m.lower)}, ${fmt(m.upper)}]` })),
    ['metric', 'value', 'interval'],
  );
}

interface TrainOptions extends ClientOptions {
  spec?: string;
  data?: string;
  target?: string;
  model?: string;
  task?: string;
  features?: string[];
  exclude?: string[];
  param?: string[];
  holdout?: number;
  stratify?: boolean;
  splitSeed?: number;
  seed?: number;
  metric?: string[];
  bootstrap?: number;
  experiment?: string;
  runName?: string;
  registerAs?: string;
  description?: string;
  featureService?: string;
  dpNoise?: number;
  dpClip?: number;
  dpBatch?: number;
  dpEpochs?: number;
  dpDelta?: number;
  tag?: string[];
  wait?: boolean;
  dryRun?: boolean;
}

/** The request body of `train`/`tune`: the spec file, then the options on top. */
async function trainingBody(o: TrainOptions): Promise<Record<string, unknown>> {
  const body: Record<string, unknown> = o.spec ? await readDocument(o.spec, 'spec') : {};
  const set = (key: string, value: unknown) => {
    if (value !== undefined) body[key] = value;
  };
  set('dataset', o.data);
  set('target', o.target);
  set('model', o.model);
  set('task', o.task);
  set('features', o.features);
  set('exclude', o.exclude);
  set('feature_service', o.featureService);
  if (o.param) body.params = { ...((body.params as object | undefined) ?? {}), ...keyValuePairs(o.param, '--param') };
  if (o.holdout !== undefined || o.stratify === false || o.splitSeed !== undefined) {
    body.split = {
      ...((body.split as object | undefined) ?? {}),
      ...(o.holdout !== undefined ? { holdout: o.holdout } : {}),
      ...(o.stratify === false ? { stratify: false } : {}),
      ...(o.splitSeed !== undefined ? { seed: o.splitSeed } : {}),
    };
  }
  set('seed', o.seed);
  set('metrics', o.metric);
  if (o.bootstrap !== undefined) body.bootstrap = { ...((body.bootstrap as object | undefined) ?? {}), n: o.bootstrap };
  set('experiment', o.experiment);
  set('run_name', o.runName);
  set('register_as', o.registerAs);
  set('description', o.description);
  if (o.dpNoise !== undefined || o.dpClip !== undefined || o.dpBatch !== undefined || o.dpEpochs !== undefined) {
    body.dp = {
      ...((body.dp as object | undefined) ?? {}),
      ...(o.dpNoise !== undefined ? { noiseMultiplier: o.dpNoise } : {}),
      ...(o.dpClip !== undefined ? { maxGradNorm: o.dpClip } : {}),
      ...(o.dpBatch !== undefined ? { batchSize: o.dpBatch } : {}),
      ...(o.dpEpochs !== undefined ? { epochs: o.dpEpochs } : {}),
      ...(o.dpDelta !== undefined ? { delta: o.dpDelta } : {}),
    };
  }
  if (o.tag) body.tags = { ...((body.tags as object | undefined) ?? {}), ...Object.fromEntries(Object.entries(keyValuePairs(o.tag, '--tag')).map(([k, v]) => [k, String(v)])) };
  body.model ??= 'logistic_regression';
  return body;
}

function withTrainingOptions(command: Command): Command {
  return withClientOptions(command)
    .option('--spec <file>', 'request as YAML or JSON (options given here override it)')
    .option('-d, --data <name@version>', 'dataset version to train on (version: sha256, prefix or latest)')
    .option('-t, --target <column>', 'target column')
    .option('-m, --model <kind>', 'logistic_regression, linear_regression, ridge, hist_gradient_boosting or mlp (default logistic_regression)')
    .option('--task <task>', 'binary, multiclass, regression or classification (default: from the target column)')
    .option('--features <columns>', 'feature columns, comma-separated (default: all but the target and pii/timestamp/entity/label columns)', list)
    .option('--exclude <columns>', 'columns left out of the default features', list)
    .option('--feature-service <name>', 'the feature service whose retrieval made the dataset (recorded as lineage)')
    .option('-p, --param <name=value>', 'hyperparameter, repeatable (e.g. C=0.5, max_iter=200, hiddenLayerSizes=[64,32])', collect)
    .option('--holdout <fraction>', 'share of rows held out for metrics (default 0.2)', numberOption('--holdout'))
    .option('--no-stratify', 'do not stratify the holdout by class')
    .option('--split-seed <n>', 'seed of the holdout split (default 0)', nonNegativeInt('--split-seed'))
    .option('--seed <n>', 'seed of the trainer (default: the split seed)', nonNegativeInt('--seed'))
    .option('--metric <name>', 'holdout metric, repeatable (default: by task)', collect)
    .option('--bootstrap <n>', 'bootstrap resamples for metric intervals (default 500; 0 for none)', nonNegativeInt('--bootstrap'))
    .option('--experiment <name>', 'experiment of the run (created when missing)')
    .option('--run-name <name>', 'name of the run')
    .option('--register-as <model>', 'register the model as a new version of this registered model')
    .option('--description <text>', 'description of the registered version')
    .option('--dp-noise <sigma>', 'train with DP-SGD: noise multiplier', numberOption('--dp-noise'))
    .option('--dp-clip <norm>', 'DP-SGD: per-example gradient clipping norm', numberOption('--dp-clip'))
    .option('--dp-batch <n>', 'DP-SGD: expected batch size', parseIntOption('--dp-batch'))
    .option('--dp-epochs <n>', 'DP-SGD: epochs', numberOption('--dp-epochs'))
    .option('--dp-delta <delta>', 'DP-SGD: delta of the reported (epsilon, delta)', numberOption('--dp-delta'))
    .option('--tag <key=value>', 'run tag, repeatable', collect)
    .option('--no-wait', 'print the job id and return at once')
    .option('--dry-run', 'check the request and print the resolved plan; start nothing');
}

/**
 * Plans (`--dry-run`: prints the plan), or submits a training or tuning job and, unless `--no-wait`,
 * waits for it with progress and prints what it made.
 */
async function runJob(client: MloopApi, kind: 'training' | 'tuning', body: Record<string, unknown>, options: TrainOptions, render: (job: Job) => string): Promise<void> {
  if (options.dryRun) {
    const { plan } = await (kind === 'training' ? client.planTraining(body) : client.planTuning(body));
    print(plan, options, (p) => JSON.stringify(p, null, 2));
    return;
  }
  const job = await (kind === 'training' ? client.submitTraining(body) : client.submitTuning(body));
  if (options.wait === false) {
    print(job, options, (j) => `${kind} job ${j.id} queued`);
    return;
  }
  const done = await waitWithProgress(client, job, `${kind} ${String(body.model)}`, options.json);
  print(done, options, render);
}

function renderTraining(job: Job): string {
  const r = job.result as { run_id: string; model_uri: string; task: string; rows: { train: number; holdout: number }; metrics: MetricMap; model_version?: { name: string; version: string }; onnx_parity: { max_abs_diff: number }; privacy?: { epsilon: number; delta: number }; best?: { params: Record<string, unknown>; score: number }; objective?: string; trials?: unknown[] };
  const head = keyValues({
    job: job.id,
    run: r.run_id,
    model: r.model_uri,
    task: r.task,
    rows: `${r.rows.train} training, ${r.rows.holdout} holdout`,
    ...(r.model_version ? { registered: `${r.model_version.name} version ${r.model_version.version}` } : {}),
    'onnx parity': `max |onnxruntime - pipeline| = ${r.onnx_parity.max_abs_diff.toExponential(2)}`,
    ...(r.privacy ? { privacy: `epsilon ${fmt(r.privacy.epsilon)} at delta ${r.privacy.delta}` } : {}),
    ...(r.best ? { best: `${JSON.stringify(r.best.params)} (cv ${r.objective} ${fmt(r.best.score)}, ${r.trials?.length} trials)` } : {}),
  });
  return `${head}\n\nHOLDOUT METRICS\n${metricsTable(r.metrics)}`;
}

/** Registers `train`, `tune`, `evaluate`, `jobs`, `model card` and the `models` additions. */
export function registerTrainingCommands(program: Command): void {
  withTrainingOptions(program.command('train'))
    .description('train a model on a dataset version as a job; waits with progress unless --no-wait')
    .action(async (options: TrainOptions) => {
      await runJob(clientOf(options), 'training', await trainingBody(options), options, renderTraining);
    });

  withTrainingOptions(program.command('tune'))
    .description('search hyperparameters with cross-validation, refit the best and register it; each trial is a child run')
    .option('--strategy <strategy>', 'grid, random or halving (default grid)')
    .option('-s, --search <name=values>', 'search space entry, repeatable: C=0.1,1,10 | C=loguniform:0.01:10 | max_depth=int:2:8', collect)
    .option('--trials <n>', 'random search: trials; halving: candidates drawn (default 10)', parseIntOption('--trials'))
    .option('--search-seed <n>', 'seed of random draws (default 0)', nonNegativeInt('--search-seed'))
    .option('--factor <n>', 'halving: keep 1/factor per rung (default 3)', numberOption('--factor'))
    .option('--resource <resource>', 'halving: rows (default) or iterations')
    .option('--folds <k>', 'cross-validation folds (default 5)', parseIntOption('--folds'))
    .option('--cv-seed <n>', 'seed of the folds (default 0)', nonNegativeInt('--cv-seed'))
    .option('--objective <metric>', 'metric that ranks trials (default roc_auc, accuracy or rmse by task)')
    .action(async (options: TrainOptions & { strategy?: string; search?: string[]; trials?: number; searchSeed?: number; factor?: number; resource?: string; folds?: number; cvSeed?: number; objective?: string }) => {
      const client = clientOf(options);
      const body = await trainingBody(options);
      const search = { strategy: 'grid', ...((body.search as object | undefined) ?? {}) } as Record<string, unknown>;
      if (options.strategy) search.strategy = options.strategy;
      if (options.search) search.space = { ...((search.space as object | undefined) ?? {}), ...spacePairs(options.search) };
      if (options.trials !== undefined) search.n_trials = options.trials;
      if (options.searchSeed !== undefined) search.seed = options.searchSeed;
      if (options.factor !== undefined) search.factor = options.factor;
      if (options.resource) search.resource = options.resource;
      body.search = search;
      if (options.folds !== undefined || options.cvSeed !== undefined) {
        body.cv = { ...((body.cv as object | undefined) ?? {}), ...(options.folds !== undefined ? { folds: options.folds } : {}), ...(options.cvSeed !== undefined ? { seed: options.cvSeed } : {}) };
      }
      if (options.objective) body.objective = options.objective;
      await runJob(client, 'tuning', body, options, (j) => {
        const r = j.result as { trials: { run_id: string; params: Record<string, unknown>; rung?: number; score: number | null }[] };
        const trials = table(r.trials.map((t) => ({ run: t.run_id.slice(0, 12), rung: t.rung ?? '', params: JSON.stringify(t.params), score: fmt(t.score) })), ['run', 'rung', 'params', 'score']);
        return `${renderTraining(j)}\n\nTRIALS\n${trials}`;
      });
    });

  const jobs = program.command('jobs').description('background jobs (training, tuning, evaluation)');
  withClientOptions(jobs.command('list'))
    .description('list jobs, newest first')
    .option('--kind <kind>', 'training, tuning or evaluation')
    .option('--status <status>', 'QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED')
    .option('--max-results <n>', 'page size', parseIntOption('--max-results'))
    .action(async (options: ClientOptions & { kind?: string; status?: string; maxResults?: number }) => {
      const page = await clientOf(options).listJobs({ kind: options.kind, status: options.status, maxResults: options.maxResults });
      print(page, options, (p) =>
        table(
          p.jobs.map((j) => ({ id: j.id, kind: j.kind, status: j.status, progress: `${Math.round(j.progress * 100)}%`, message: j.error?.message ?? j.message, created: new Date(j.created_at).toISOString() })),
          ['id', 'kind', 'status', 'progress', 'message', 'created'],
        ),
      );
    });
  withClientOptions(jobs.command('get'))
    .description('show a job')
    .argument('<id>', 'job id')
    .action(async (id: string, options: ClientOptions) => {
      const job = await clientOf(options).getJob(id);
      print(job, options, (j) => keyValues({ id: j.id, kind: j.kind, status: j.status, progress: `${Math.round(j.progress * 100)}%`, message: j.message, error: j.error?.message, result: j.result }));
    });
  withClientOptions(jobs.command('wait'))
    .description('wait for a job with progress; exits non-zero unless it succeeds')
    .argument('<id>', 'job id')
    .action(async (id: string, options: ClientOptions) => {
      const client = clientOf(options);
      const job = await client.getJob(id);
      const done = await waitWithProgress(client, job, `${job.kind} job ${id}`, options.json);
      print(done, options, (j) => keyValues({ id: j.id, status: j.status, result: j.result }));
    });
  withClientOptions(jobs.command('cancel'))
    .description('cancel a queued or running job')
    .argument('<id>', 'job id')
    .action(async (id: string, options: ClientOptions) => {
      const job = await clientOf(options).cancelJob(id);
      print(job, options, (j) => `job ${j.id}: ${j.status}${j.cancel_requested && j.status === 'RUNNING' ? ' (stopping)' : ''}`);
    });

  withClientOptions(program.command('evaluate'))
    .description(`evaluate a model version on a dataset version: metrics with intervals, slices, fairness, explanations, latency and the model's gate (exit ${GATE_FAILED_EXIT} when the gate fails)`)
    .argument('<model>', 'MODEL@VERSION or MODEL@ALIAS (MODEL alone: the latest version)')
    .requiredOption('-d, --data <name@version>', 'dataset version to score')
    .option('--holdout', "score only the holdout rows of the model's training run (the same dataset version)")
    .option('--target <column>', "label column (default: the model's target)")
    .option('--slice <column>', 'report metrics per value or bucket of this column, repeatable', collect)
    .option('--fairness <column>', 'protected attribute to audit, repeatable (default: columns tagged protected)', collect)
    .option('--metric <name>', 'metric, repeatable (default: all that apply)', collect)
    .option('--champion <alias>', 'alias compared against by the gate (default champion)')
    .option('--no-shap', 'skip SHAP values')
    .option('--no-permutation', 'skip permutation importance')
    .option('--no-gate', "do not run the model's gate")
    .option('--bootstrap <n>', 'bootstrap resamples (default 500)', nonNegativeInt('--bootstrap'))
    .option('--no-wait', 'print the job id and return at once')
    .action(async (model: string, options: ClientOptions & { data: string; holdout?: boolean; target?: string; slice?: string[]; fairness?: string[]; metric?: string[]; champion?: string; shap?: boolean; permutation?: boolean; gate?: boolean; bootstrap?: number; wait?: boolean }) => {
      const client = clientOf(options);
      const job = await client.submitEvaluation({
        model,
        dataset: options.data,
        ...(options.holdout ? { rows: 'holdout' } : {}),
        ...(options.target ? { target: options.target } : {}),
        ...(options.slice ? { slices: options.slice } : {}),
        ...(options.fairness ? { fairness: options.fairness } : {}),
        ...(options.metric ? { metrics: options.metric } : {}),
        ...(options.champion ? { champion_alias: options.champion } : {}),
        ...(options.shap === false ? { shap: { enabled: false } } : {}),
        ...(options.permutation === false ? { permutation: { enabled: false } } : {}),
        ...(options.gate === false ? { gate: false } : {}),
        ...(options.bootstrap !== undefined ? { bootstrap: { n: options.bootstrap } } : {}),
      });
      if (options.wait === false) {
        print(job, options, (j) => `evaluation job ${j.id} queued`);
        return;
      }
      const done = await waitWithProgress(client, job, `evaluating ${model}`, options.json);
      const report = done.result as {
        id: string;
        model: { name: string; version: string };
        dataset: { name: string; version: string };
        rows: { evaluated: number; mode: string };
        metrics: MetricMap;
        latency?: { p50_ms: number; p99_ms: number };
        model_size_bytes: number;
        champion: { version: string; alias: string } | null;
        gate: { result: { passed: boolean; summary: string; checks: { name: string; passed: boolean; reason: string }[] } } | null;
        gate_status: string;
        notes: string[];
      };
      print(report, options, (r) => {
        const head = keyValues({
          evaluation: r.id,
          model: `${r.model.name} version ${r.model.version}`,
          data: `${r.dataset.name}@${r.dataset.version.slice(0, 12)} (${r.rows.evaluated} rows${r.rows.mode === 'holdout' ? ', holdout' : ''})`,
          'model size': `${r.model_size_bytes} bytes`,
          ...(r.latency ? { latency: `p50 ${fmt(r.latency.p50_ms)} ms, p99 ${fmt(r.latency.p99_ms)} ms` } : {}),
          champion: r.champion ? `${r.champion.alias} = version ${r.champion.version}` : 'none',
          gate: r.gate ? `${r.gate_status.toUpperCase()}: ${r.gate.result.summary}` : 'no gate declared',
        });
        const gate = r.gate ? `\n\nGATE\n${table(r.gate.result.checks.map((c) => ({ check: c.name, result: c.passed ? 'pass' : 'FAIL', reason: c.reason })), ['check', 'result', 'reason'])}` : '';
        const notes = r.notes.length ? `\n\nNOTES\n${r.notes.map((n) => `- ${n}`).join('\n')}` : '';
        return `${head}\n\nMETRICS\n${metricsTable(r.metrics)}${gate}${notes}`;
      });
      if (report.gate_status === 'failed') process.exitCode = GATE_FAILED_EXIT;
    });

  const cardCommand = (command: Command) =>
    withClientOptions(command)
      .description('the model card of a version: intended use, data, metrics with intervals, slices, fairness, top features, gate, limitations, lineage')
      .argument('<model>', 'MODEL@VERSION or MODEL@ALIAS')
      .option('--html', 'self-contained HTML instead of Markdown')
      .option('-o, --output <file>', 'write the card to a file')
      .action(async (ref: string, options: ClientOptions & { html?: boolean; output?: string }) => {
        const at = ref.lastIndexOf('@');
        if (at <= 0 || at === ref.length - 1) throw new InvalidArgumentError(`expected MODEL@VERSION or MODEL@ALIAS, got "${ref}"`);
        const text = await clientOf(options).modelCard(ref.slice(0, at), ref.slice(at + 1), options.html ? 'html' : 'md');
        if (options.output) await writeFile(options.output, text);
        if (options.json) print({ model: ref.slice(0, at), version: ref.slice(at + 1), format: options.html ? 'html' : 'md', ...(options.output ? { output: options.output } : { card: text }) }, options, () => '');
        else if (options.output) process.stdout.write(`wrote ${options.output}\n`);
        else process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
      });
  const modelCommand = program.command('model').description('one model version (see also `mloop models`)');
  cardCommand(modelCommand.command('card'));

  const models = program.commands.find((c) => c.name() === 'models') ?? program.command('models').description('registered models and their versions');
  cardCommand(models.command('card'));

  withClientOptions(models.command('register-onnx'))
    .description('register an ONNX file trained elsewhere (skl2onnx, torch.onnx) as a new version; its inputs and outputs become the signature')
    .argument('<name>', 'registered model name (created when missing)')
    .argument('<file>', 'the .onnx file (self-contained: external data is refused)')
    .option('--task <task>', 'binary, multiclass, regression or classification (default: guessed from the outputs)')
    .option('--target <column>', 'the label column the model predicts')
    .option('--classes <labels>', 'class labels in output order, comma-separated', list)
    .option('--columns <columns>', 'dataset columns, in order, that fill a single [N, d] input', list)
    .option('--probabilities-output <name>', 'output holding class probabilities')
    .option('--value-output <name>', 'output holding regression values')
    .option('--description <text>', 'description of the version')
    .action(async (name: string, file: string, options: ClientOptions & { task?: string; target?: string; classes?: string[]; columns?: string[]; probabilitiesOutput?: string; valueOutput?: string; description?: string }) => {
      const bytes = await readFile(file).catch((error: NodeJS.ErrnoException) => {
        throw usage(`cannot read ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
      });
      const result = await clientOf(options).registerOnnx(name, bytes, options);
      print(result, options, (r) => {
        const mv = r.model_version as { name: string; version: string };
        const sig = r.signature as { task?: string; inputs: { name: string; type: string; shape: unknown[] }[]; outputs: { name: string; type: string; shape: unknown[] }[] };
        const rows = [...sig.inputs.map((t) => ({ role: 'input', ...t })), ...sig.outputs.map((t) => ({ role: 'output', ...t }))].map((t) => ({ role: t.role, name: t.name, type: t.type, shape: `[${t.shape.join(', ')}]` }));
        return `registered ${mv.name} version ${mv.version}${sig.task ? ` (${sig.task})` : ''}\n\n${table(rows, ['role', 'name', 'type', 'shape'])}`;
      });
    });

  const gate = models.command('gate').description("a model's validation gate (thresholds, champion comparison, fairness bounds, size and latency budgets)");
  withClientOptions(gate.command('set'))
    .description('declare the gate from a YAML or JSON file ({checks: [...]})')
    .argument('<name>', 'registered model name')
    .argument('<file>', 'gate spec file')
    .action(async (name: string, file: string, options: ClientOptions) => {
      const result = await clientOf(options).setGate(name, await readDocument(file, 'gate'));
      print(result, options, (r) => `gate of ${name}: ${((r.gate as { checks: unknown[] }).checks ?? []).length} checks`);
    });
  withClientOptions(gate.command('get'))
    .description('show the gate')
    .argument('<name>', 'registered model name')
    .action(async (name: string, options: ClientOptions) => {
      const result = await clientOf(options).getGate(name);
      print(result, options, (r) => (r.gate ? JSON.stringify(r.gate, null, 2) : `${name} has no gate`));
    });
  withClientOptions(gate.command('delete'))
    .description('remove the gate')
    .argument('<name>', 'registered model name')
    .action(async (name: string, options: ClientOptions) => {
      await clientOf(options).deleteGate(name);
      print({ deleted: true, model: name }, options, () => `removed the gate of ${name}`);
    });

  withClientOptions(models.command('card-spec'))
    .description('declare intended use, limitations and owners for the model cards, from a YAML or JSON file')
    .argument('<name>', 'registered model name')
    .argument('<file>', 'card spec file (intended_use, primary_uses, users, out_of_scope, limitations, ethical_considerations, owners)')
    .action(async (name: string, file: string, options: ClientOptions) => {
      const result = await clientOf(options).setCardSpec(name, await readDocument(file, 'card spec'));
      print(result, options, () => `card spec of ${name} stored`);
    });

  // main.ts makes the first two levels throw instead of exiting; these sit one level deeper.
  for (const sub of gate.commands) sub.exitOverride();
}
