/**
 * `mloop train|tune|jobs|evaluate|model card` and `mloop models gate` against a server process, as
 * users run them: plain progress lines on stderr off a terminal, tables on stdout, `--json`,
 * `--no-wait` with `jobs wait`, a failing gate as exit code 3, cards as Markdown and HTML files; `tune`
 * and `evaluate` with `--json`, and the tuning options of the API as flags (max trials, min/max
 * resource, folds not stratified).
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from './support/backends.ts';
import { runCli, spawnServer, type ServerProcess } from './support/process.ts';

describe('mloop train, tune, evaluate and model card', () => {
  let server: ServerProcess;
  let home: { path: string; cleanup(): Promise<void> };
  let work: { path: string; cleanup(): Promise<void> };
  const cli = (...args: string[]) => runCli([...args, '--url', server.url], { MLOOP_URL: '' });

  before(async () => {
    home = await tempDir();
    work = await tempDir();
    server = await spawnServer(['--home', home.path], { MLOOP_LOG_LEVEL: 'warn' });
    const add = await cli('data', 'add', 'bc', new URL('fixtures/data/breast_cancer.csv', import.meta.url).pathname);
    assert.equal(add.code, 0, add.stderr);
  });
  after(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    await home?.cleanup();
    await work?.cleanup();
  });

  it('trains with plain progress lines, a metrics table, and registers the model', async () => {
    const res = await cli('train', '--data', 'bc@latest', '--target', 'target', '--model', 'hist_gradient_boosting', '--param', 'max_iter=20', '--param', 'learning_rate=0.2', '--register-as', 'bc', '--experiment', 'cli');
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stderr.trim().split('\n');
    assert.equal(lines[0], 'training hist_gradient_boosting');
    assert.match(lines.at(-1)!, /^succeeded$/);
    // One line per tenth of progress seen (how many depends on how fast the job is), then the outcome.
    assert.ok(lines.length >= 3, lines.join('\n'));
    for (const line of lines.slice(1, -1)) assert.match(line, /^\d{1,3}% \S/);
    assert.match(res.stdout, /registered\s+bc version 1/);
    assert.match(res.stdout, /HOLDOUT METRICS\nMETRIC\s+VALUE\s+INTERVAL\nroc_auc\s+0\.9\d*\s+\[0\.\d+, [01](\.\d+)?\]/);
  });

  it('prints JSON and nothing else with --json; --no-wait returns the job for jobs wait', async () => {
    const json = await cli('train', '--data', 'bc@latest', '--target', 'target', '--bootstrap', '0', '--json');
    assert.equal(json.code, 0, json.stderr);
    assert.equal(json.stderr, '');
    const job = JSON.parse(json.stdout);
    assert.equal(job.status, 'SUCCEEDED');
    assert.equal(job.result.task, 'binary');
    const queued = JSON.parse((await cli('train', '--data', 'bc@latest', '--target', 'target', '--no-wait', '--json')).stdout);
    assert.ok(['QUEUED', 'RUNNING'].includes(queued.status));
    const waited = await cli('jobs', 'wait', queued.id);
    assert.equal(waited.code, 0, waited.stderr);
    assert.match(waited.stdout, /status\s+SUCCEEDED/);
    const listed = await cli('jobs', 'list', '--kind', 'training');
    assert.match(listed.stdout, /^ID\s+KIND\s+STATUS\s+PROGRESS\s+MESSAGE\s+CREATED\n/);
    assert.equal(listed.stdout.trim().split('\n').length, 4);
  });

  it('tunes over a grid with cross-validation and shows the trials', async () => {
    const res = await cli('tune', '--data', 'bc@latest', '--target', 'target', '--search', 'C=0.05,1', '--folds', '3', '--bootstrap', '0', '--register-as', 'bc-tuned');
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /best\s+\{"C":(0\.05|1),"maxIter":100,[^}]*\} \(cv roc_auc 0\.9\d*, 2 trials\)/);
    assert.match(res.stdout, /HOLDOUT METRICS\nMETRIC\s+VALUE\s+INTERVAL\nroc_auc\s+(0\.9\d*|1)\n/);
    assert.match(res.stdout, /TRIALS\nRUN\s+RUNG\s+PARAMS\s+SCORE\n/);
    assert.match(res.stdout, /registered\s+bc-tuned version 1/);
  });

  it('tunes with --json: the job as JSON on stdout and nothing on stderr', async () => {
    const res = await cli('tune', '--data', 'bc@latest', '--target', 'target', '--search', 'C=0.05,1', '--folds', '3', '--bootstrap', '0', '--json');
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stderr, '');
    const job = JSON.parse(res.stdout);
    assert.equal(job.kind, 'tuning');
    assert.equal(job.status, 'SUCCEEDED');
    assert.equal(job.result.objective, 'roc_auc');
    assert.equal(job.result.trials.length, 2);
    assert.ok([0.05, 1].includes(job.result.best.params.C));
  });

  it('passes max trials, min and max resource and unstratified folds to the tuning request', async () => {
    const args = ['tune', '--data', 'bc@latest', '--target', 'target', '--model', 'hist_gradient_boosting', '--param', 'max_iter=10', '--strategy', 'halving', '--resource', 'iterations', '--factor', '2', '--search', 'learning_rate=0.1,0.2', '--min-resource', '2', '--max-resource', '8', '--no-cv-stratify'];
    const plan = await cli(...args, '--max-trials', '7', '--dry-run', '--json');
    assert.equal(plan.code, 0, plan.stderr);
    const p = JSON.parse(plan.stdout);
    assert.equal(p.max_trials, 7);
    assert.equal(p.cv.stratified, false);
    assert.deepEqual(p.search.rungs, [2, 4]);
    const tooMany = await cli(...args, '--max-trials', '2', '--dry-run');
    assert.notEqual(tooMany.code, 0);
    assert.match(tooMany.stderr, /successive halving would run 3 trials, more than max_trials \(2\)/);
    const badResource = await cli(...args, '--min-resource', '0', '--dry-run');
    assert.notEqual(badResource.code, 0);
    assert.match(badResource.stderr, /--min-resource expects a positive integer/);
  });

  it('evaluates with a gate (exit 3 when it fails) and writes the model card', async () => {
    await writeFile(join(work.path, 'gate.yaml'), 'checks:\n  - kind: threshold\n    metric: roc_auc\n    op: ">="\n    value: 0.99999\n  - kind: latency\n    maxP99Ms: 1000\n');
    const gate = await cli('models', 'gate', 'set', 'bc', join(work.path, 'gate.yaml'));
    assert.equal(gate.code, 0, gate.stderr);
    assert.match(gate.stdout, /gate of bc: 2 checks/);
    const ev = await cli('evaluate', 'bc@1', '--data', 'bc@latest', '--holdout', '--slice', 'mean_radius', '--no-shap', '--bootstrap', '100');
    assert.equal(ev.code, 3, ev.stderr);
    assert.match(ev.stdout, /gate\s+FAILED: failed 1 of 2 checks: roc_auc >= 0\.99999/);
    assert.match(ev.stdout, /GATE\nCHECK\s+RESULT\s+REASON\nroc_auc >= 0\.99999\s+FAIL/);
    assert.match(ev.stderr, /^evaluating bc@1\n/);
    const card = join(work.path, 'card.html');
    const html = await cli('model', 'card', 'bc@1', '--html', '-o', card);
    assert.equal(html.code, 0, html.stderr);
    const page = await readFile(card, 'utf8');
    assert.match(page, /^<!DOCTYPE html>/i);
    assert.match(page, /Validation gate/);
    const md = await cli('models', 'card', 'bc@1');
    assert.match(md.stdout, /^# Model card: bc v1/);
    assert.match(md.stdout, /FAILED/);
    const json = JSON.parse((await cli('model', 'card', 'bc@1', '--json')).stdout);
    assert.equal(json.format, 'md');
    assert.match(json.card, /## Metrics/);
  });

  it('evaluates with --json: the report as JSON on stdout, nothing on stderr, exit 3 when the gate fails', async () => {
    const res = await cli('evaluate', 'bc@1', '--data', 'bc@latest', '--holdout', '--no-shap', '--no-permutation', '--bootstrap', '0', '--json');
    assert.equal(res.code, 3, res.stderr);
    assert.equal(res.stderr, '');
    const report = JSON.parse(res.stdout);
    assert.deepEqual([report.model.name, report.model.version], ['bc', '1']);
    assert.equal(report.rows.mode, 'holdout');
    assert.equal(typeof report.metrics.roc_auc.value, 'number');
    assert.equal(report.gate_status, 'failed');
    const ungated = await cli('evaluate', 'bc@1', '--data', 'bc@latest', '--no-shap', '--no-permutation', '--no-gate', '--bootstrap', '0', '--json');
    assert.equal(ungated.code, 0, ungated.stderr);
    assert.equal(JSON.parse(ungated.stdout).rows.mode, 'all');
    // --holdout alone scores the holdout of the dataset version the model was trained on.
    const trainedOn = await cli('evaluate', 'bc@1', '--holdout', '--no-shap', '--no-permutation', '--no-gate', '--bootstrap', '0', '--json');
    assert.equal(trainedOn.code, 0, trainedOn.stderr);
    const again = JSON.parse(trainedOn.stdout);
    assert.deepEqual([again.dataset, again.rows], [report.dataset, report.rows]);
    assert.equal(again.metrics.roc_auc.value, report.metrics.roc_auc.value);
    const neither = await cli('evaluate', 'bc@1', '--no-shap', '--json');
    assert.notEqual(neither.code, 0);
    assert.deepEqual(JSON.parse(neither.stderr).error.fields.map((f: { field: string }) => f.field), ['dataset']);
  });

  it('passes slice and fairness options of evaluate to the request', async () => {
    const quick = ['--holdout', '--no-shap', '--no-permutation', '--no-gate', '--bootstrap', '0'];
    const ev = await cli('evaluate', 'bc@1', '--data', 'bc@latest', ...quick, '--slice', 'mean_radius', '--slice', 'mean_texture', '--slice-mode', 'quantile', '--slice-bins', '3',
      '--slice-edges', 'mean_radius=12,15', '--fairness', 'target', '--fairness-reference', 'target=1', '--fairness-alpha', '0.01', '--fairness-tau', '0.9', '--json');
    assert.equal(ev.code, 0, ev.stderr);
    const report = JSON.parse(ev.stdout);
    assert.deepEqual([report.slices[0].binning, report.slices[0].edges], ['edges', [12, 15]]);
    assert.deepEqual([report.slices[1].binning, report.slices[1].edges.length], ['quantile', 4]);
    assert.deepEqual([report.fairness[0].reference, report.fairness[0].alpha, report.fairness[0].tau], ['1', 0.01, 0.9]);
    const edges = await cli('evaluate', 'bc@1', '--data', 'bc@latest', ...quick, '--slice', 'mean_radius', '--slice-edges', 'mean_radius');
    assert.notEqual(edges.code, 0);
    assert.match(edges.stderr, /--slice-edges expects COLUMN=VALUE, got "mean_radius"/);
    const mode = await cli('evaluate', 'bc@1', '--data', 'bc@latest', '--slice-mode', 'buckets');
    assert.notEqual(mode.code, 0);
    assert.match(mode.stderr, /--slice-mode <mode>' argument 'buckets' is invalid\. Allowed choices are auto, value, quantile/);
  });
});
