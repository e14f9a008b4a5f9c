/**
 * `mloop train`, `mloop tune` and `mloop models register-onnx`: training and tuning jobs, waited on with
 * progress, and ONNX files trained elsewhere. Registers the job and evaluation commands too
 * (`jobs.ts`, `evaluation.ts`).
 */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import type { Job } from '../../jobs/domain.ts';
import type { MloopApi } from '../../sdk/client.ts';
import { clientOf, withClientOptions } from '../context.ts';
import { keyValues, print, table } from '../output.ts';
import { registerEvaluationCommands } from './evaluation.ts';
import { collect, fmt, list, metricsTable, type MetricMap, nonNegativeInt, numberOption, readDocument, usage, waitWithProgress } from './job-support.ts';
import { registerJobCommands } from './jobs.ts';
import { parseIntOption, type ClientOptions } from './options.ts';

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
  dpMinCategoryCount?: number;
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
  if (o.dpNoise !== undefined || o.dpClip !== undefined || o.dpBatch !== undefined || o.dpEpochs !== undefined || o.dpMinCategoryCount !== undefined) {
    body.dp = {
      ...((body.dp as object | undefined) ?? {}),
      ...(o.dpNoise !== undefined ? { noiseMultiplier: o.dpNoise } : {}),
      ...(o.dpClip !== undefined ? { maxGradNorm: o.dpClip } : {}),
      ...(o.dpBatch !== undefined ? { batchSize: o.dpBatch } : {}),
      ...(o.dpEpochs !== undefined ? { epochs: o.dpEpochs } : {}),
      ...(o.dpDelta !== undefined ? { delta: o.dpDelta } : {}),
      ...(o.dpMinCategoryCount !== undefined ? { minCategoryCount: o.dpMinCategoryCount } : {}),
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
    .option('--tag <key=value>', 'run tag, repeatable', collect)
    .option('--no-wait', 'print the job id and return at once')
    .option('--dry-run', 'check the request and print the resolved plan; start nothing');
}

/** The DP-SGD options of `train` (tuning refuses DP: the privacy its search spends is not accounted). */
function withDpOptions(command: Command): Command {
  return command
    .option('--dp-noise <sigma>', 'train with DP-SGD: noise multiplier', numberOption('--dp-noise'))
    .option('--dp-clip <norm>', 'DP-SGD: per-example gradient clipping norm', numberOption('--dp-clip'))
    .option('--dp-batch <n>', 'DP-SGD: expected batch size', parseIntOption('--dp-batch'))
    .option('--dp-epochs <n>', 'DP-SGD: epochs', numberOption('--dp-epochs'))
    .option('--dp-delta <delta>', 'DP-SGD: delta of the reported (epsilon, delta)', numberOption('--dp-delta'))
    .option('--dp-min-category-count <n>', 'DP-SGD: categories on fewer training rows go to the unknown bucket (default 20)', nonNegativeInt('--dp-min-category-count'));
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

/** Registers `train`, `tune`, `models register-onnx`, and the job and evaluation commands. */
export function registerTrainingCommands(program: Command): void {
  withDpOptions(withTrainingOptions(program.command('train')))
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
    .option('--min-resource <n>', 'halving: resource of the first rung (default: so the last rung uses all of it)', parseIntOption('--min-resource'))
    .option('--max-resource <n>', 'halving: resource of the last rung at most (default: all training rows of a fold, or the iteration budget)', parseIntOption('--max-resource'))
    .option('--max-trials <n>', 'at most this many trials in all (default 200)', parseIntOption('--max-trials'))
    .option('--folds <k>', 'cross-validation folds (default 5)', parseIntOption('--folds'))
    .option('--no-cv-stratify', 'do not stratify the folds by class')
    .option('--cv-seed <n>', 'seed of the folds (default 0)', nonNegativeInt('--cv-seed'))
    .option('--objective <metric>', 'metric that ranks trials (default roc_auc, accuracy or rmse by task)')
    .action(async (options: TrainOptions & { strategy?: string; search?: string[]; trials?: number; searchSeed?: number; factor?: number; resource?: string; minResource?: number; maxResource?: number; maxTrials?: number; folds?: number; cvStratify?: boolean; cvSeed?: number; objective?: string }) => {
      const client = clientOf(options);
      const body = await trainingBody(options);
      const search = { strategy: 'grid', ...((body.search as object | undefined) ?? {}) } as Record<string, unknown>;
      if (options.strategy) search.strategy = options.strategy;
      if (options.search) search.space = { ...((search.space as object | undefined) ?? {}), ...spacePairs(options.search) };
      if (options.trials !== undefined) search.n_trials = options.trials;
      if (options.searchSeed !== undefined) search.seed = options.searchSeed;
      if (options.factor !== undefined) search.factor = options.factor;
      if (options.resource) search.resource = options.resource;
      if (options.minResource !== undefined) search.min_resource = options.minResource;
      if (options.maxResource !== undefined) search.max_resource = options.maxResource;
      body.search = search;
      if (options.folds !== undefined || options.cvSeed !== undefined || options.cvStratify === false) {
        body.cv = {
          ...((body.cv as object | undefined) ?? {}),
          ...(options.folds !== undefined ? { folds: options.folds } : {}),
          ...(options.cvStratify === false ? { stratified: false } : {}),
          ...(options.cvSeed !== undefined ? { seed: options.cvSeed } : {}),
        };
      }
      if (options.maxTrials !== undefined) body.max_trials = options.maxTrials;
      if (options.objective) body.objective = options.objective;
      await runJob(client, 'tuning', body, options, (j) => {
        const r = j.result as { trials: { run_id: string; params: Record<string, unknown>; rung?: number; score: number | null }[] };
        const trials = table(r.trials.map((t) => ({ run: t.run_id.slice(0, 12), rung: t.rung ?? '', params: JSON.stringify(t.params), score: fmt(t.score) })), ['run', 'rung', 'params', 'score']);
        return `${renderTraining(j)}\n\nTRIALS\n${trials}`;
      });
    });

  registerJobCommands(program);
  registerEvaluationCommands(program);
  const models = program.commands.find((c) => c.name() === 'models') ?? program.command('models').description('registered models and their versions');
  withClientOptions(models.command('register-onnx'))
    .description('register an ONNX file trained elsewhere (skl2onnx, torch.onnx) as a new version; its inputs and outputs become the signature')
    .argument('<name>', 'registered model name (created when missing)')
    .argument('<file>', 'the .onnx file (self-contained: external data is refused)')
    .option('--task <task>', 'binary, multiclass, regression or classification (default: guessed from the outputs)')
    .option('--target <column>', 'the label column the model predicts')
    .option('--classes <labels>', 'class labels in output order, comma-separated', list)
    .option('--columns <columns>', 'dataset columns, in order, that fill a single [N, d] input', list)
    .option('--probabilities-output <name>', 'output holding class probabilities (a float tensor [N, k], or a ZipMap\'s output_probability)')
    .option('--value-output <name>', 'output holding regression values')
    .option('--label-output <name>', 'output holding predicted labels')
    .option('--description <text>', 'description of the version')
    .action(async (name: string, file: string, options: ClientOptions & { task?: string; target?: string; classes?: string[]; columns?: string[]; probabilitiesOutput?: string; valueOutput?: string; labelOutput?: string; description?: string }) => {
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

}
