/**
 * `mloop evaluate`, `mloop model card` (also `mloop models card`), `mloop models gate set|get|delete` and
 * `mloop models card-spec`: evaluations with their validation gate, and model cards.
 */
import { writeFile } from 'node:fs/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { clientOf, withClientOptions } from '../context.ts';
import { keyValues, print, table } from '../output.ts';
import { collect, fmt, metricsTable, type MetricMap, nonNegativeInt, numberOption, readDocument, usage, waitWithProgress } from './job-support.ts';
import type { ClientOptions } from './options.ts';

/** Exit code of `mloop evaluate` when the model's gate failed. */
export const GATE_FAILED_EXIT = 3;

interface EvaluateOptions extends ClientOptions {
  data?: string;
  holdout?: boolean;
  target?: string;
  slice?: string[];
  sliceMode?: string;
  sliceBins?: number;
  sliceEdges?: string[];
  fairness?: string[];
  fairnessReference?: string[];
  fairnessAlpha?: number;
  fairnessTau?: number;
  metric?: string[];
  champion?: string;
  shap?: boolean;
  permutation?: boolean;
  gate?: boolean;
  bootstrap?: number;
  wait?: boolean;
}

/** `name=value` of a repeatable option, split at the first `=`. */
function assignment(flag: string, text: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0) throw usage(`${flag} expects COLUMN=VALUE, got "${text}"`);
  return [text.slice(0, at), text.slice(at + 1)];
}

/** `column=e1,e2,...` of `--slice-edges`. */
function sliceEdges(text: string): [string, number[]] {
  const [column, list] = assignment('--slice-edges', text);
  const edges = list.split(',').map((e) => Number(e.trim()));
  if (list.trim() === '' || edges.some((e) => !Number.isFinite(e))) throw usage(`--slice-edges expects COLUMN=E1,E2,... with numbers, got "${text}"`);
  return [column, edges];
}

/** Registers `evaluate`, `model card` and the `models` card, gate and card-spec commands. */
export function registerEvaluationCommands(program: Command): void {
  withClientOptions(program.command('evaluate'))
    .description(`evaluate a model version on a dataset version: metrics with intervals, slices, fairness, explanations, latency and the model's gate (exit ${GATE_FAILED_EXIT} when the gate fails)`)
    .argument('<model>', 'MODEL@VERSION or MODEL@ALIAS (MODEL alone: the latest version)')
    .option('-d, --data <name@version>', 'dataset version to score (with --holdout: the one the model was trained on)')
    .option('--holdout', "score only the holdout rows of the model's training run (its dataset version unless --data names it)")
    .option('--target <column>', "label column (default: the model's target)")
    .option('--slice <column>', 'report metrics per value or bucket of this column, repeatable', collect)
    .addOption(new Option('--slice-mode <mode>', 'numeric slice columns: per value, quantile buckets, or auto (per value when at most 20 distinct values)').choices(['auto', 'value', 'quantile']))
    .option('--slice-bins <n>', 'quantile buckets of numeric slice columns (default 4)', nonNegativeInt('--slice-bins'))
    .option('--slice-edges <column=e1,e2,...>', 'bucket edges of a numeric slice column, repeatable', collect)
    .option('--fairness <column>', 'protected attribute to audit, repeatable (default: columns tagged protected)', collect)
    .option('--fairness-reference <column=group>', 'reference group of an audited attribute, repeatable (default: the largest group)', collect)
    .option('--fairness-alpha <p>', 'significance level of each disparity test (default 0.05)', numberOption('--fairness-alpha'))
    .option('--fairness-tau <t>', 'flag ratios outside [t, 1/t] (default 0.8)', numberOption('--fairness-tau'))
    .option('--metric <name>', 'metric, repeatable (default: all that apply)', collect)
    .option('--champion <alias>', 'alias compared against by the gate (default champion)')
    .option('--no-shap', 'skip SHAP values')
    .option('--no-permutation', 'skip permutation importance')
    .option('--no-gate', "do not run the model's gate")
    .option('--bootstrap <n>', 'bootstrap resamples (default 500)', nonNegativeInt('--bootstrap'))
    .option('--no-wait', 'print the job id and return at once')
    .action(async (model: string, options: EvaluateOptions) => {
      const client = clientOf(options);
      const job = await client.submitEvaluation({
        model,
        ...(options.data ? { dataset: options.data } : {}),
        ...(options.holdout ? { rows: 'holdout' } : {}),
        ...(options.target ? { target: options.target } : {}),
        ...(options.slice ? { slices: options.slice } : {}),
        ...(options.sliceMode ? { slice_mode: options.sliceMode } : {}),
        ...(options.sliceBins !== undefined ? { slice_bins: options.sliceBins } : {}),
        ...(options.sliceEdges ? { slice_edges: Object.fromEntries(options.sliceEdges.map(sliceEdges)) } : {}),
        ...(options.fairness ? { fairness: options.fairness } : {}),
        ...(options.fairnessReference ? { fairness_reference: Object.fromEntries(options.fairnessReference.map((v) => assignment('--fairness-reference', v))) } : {}),
        ...(options.fairnessAlpha !== undefined ? { fairness_alpha: options.fairnessAlpha } : {}),
        ...(options.fairnessTau !== undefined ? { fairness_tau: options.fairnessTau } : {}),
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
