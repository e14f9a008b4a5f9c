/**
 * Evaluations over HTTP: a registered model scored in onnxruntime on a dataset version — metrics with
 * intervals (accuracy checked against a direct onnxruntime run), confusion matrix, calibration,
 * slices, the fairness audit of the column tagged `protected`, permutation importance, SHAP (KernelSHAP,
 * TreeSHAP for boosted trees; values sum to the prediction), size and latency — and the model's gate:
 * failing when it asks for more than is achievable (and the version tag says so), passing otherwise,
 * comparing with the champion on the same holdout rows, bounding fairness. Model cards in Markdown and
 * HTML carry the metrics, the gate, the card spec and lineage. Bad requests are 400s naming the field.
 * Stored reports and jobs on SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { systemContext } from '../src/core/context.ts';
import { feedsOf } from '../src/training/scoring.ts';
import { metadataBackends } from './support/backends.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { artifactAt, train, uploadCsv, uploadFixture, waitJob } from './support/training.ts';

/** breast_cancer with a `group` column: mostly "A" among benign rows, so selection rates differ by group. */
function withGroup(): string {
  const lines = readFileSync(new URL('fixtures/data/breast_cancer.csv', import.meta.url), 'utf8').trim().split('\n');
  return [`${lines[0]},group`, ...lines.slice(1).map((l, i) => `${l},${l.endsWith(',1') && i % 5 !== 0 ? 'A' : i % 2 === 0 ? 'A' : 'B'}`)].join('\n');
}

const tags = (mv: { tags: { key: string; value: string }[] }) => Object.fromEntries(mv.tags.map((t) => [t.key, t.value]));

describe('evaluations, gates and model cards', () => {
  let server: TestServer;
  let version: string;
  const ctx = systemContext();

  async function evaluate(body: Record<string, unknown>): Promise<any> {
    const res = await server.json('POST', '/api/v1/evaluations?wait=true', body);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  }

  before(async () => {
    server = await startTestServer();
    version = await uploadCsv(server, 'bcp', withGroup(), { columns: [{ name: 'group', tags: ['protected'] }] });
    await train(server, { dataset: 'bcp@latest', target: 'target', model: 'logistic_regression', exclude: ['group'], register_as: 'bcp', bootstrap: { n: 0 } });
    await train(server, { dataset: 'bcp@latest', target: 'target', model: 'hist_gradient_boosting', params: { max_iter: 30 }, exclude: ['group'], register_as: 'bcp', bootstrap: { n: 0 } });
  });
  after(() => server?.close());

  it('reports metrics with intervals, confusion matrix, calibration, slices, fairness, explanations, size and latency', async () => {
    const report = await evaluate({ model: 'bcp@1', dataset: `bcp@${version}`, slices: ['mean_radius', 'group'], bootstrap: { n: 200 }, shap: { rows: 5, background: 20 } });
    assert.equal(report.rows.evaluated, 569);
    assert.equal(report.task, 'binary');
    for (const m of ['accuracy', 'roc_auc', 'log_loss', 'f1', 'brier_score']) {
      const v = report.metrics[m];
      assert.ok(v.lower <= v.value && v.value <= v.upper, `${m}: ${JSON.stringify(v)}`);
    }
    // Accuracy against a direct onnxruntime run of the registered file.
    const mv = (await server.json('GET', '/api/v1/models/bcp/versions/1')).body;
    const onnx = await artifactAt(server, mv.storage_location, 'model.onnx');
    const signature = JSON.parse((await artifactAt(server, mv.storage_location, 'signature.json')).toString());
    const table = await server.app.services.datasets.readTable(ctx, 'bcp', version);
    const session = await ort.InferenceSession.create(onnx);
    const labels = (await session.run(feedsOf(table, signature.inputs))).label.data as BigInt64Array;
    const y = table.columns.find((c) => c.name === 'target')!.values as Float64Array;
    let correct = 0;
    for (let i = 0; i < y.length; i++) if (Number(labels[i]) === y[i]) correct++;
    assert.equal(report.metrics.accuracy.value, correct / y.length);
    const cm = report.confusion_matrix;
    assert.deepEqual(cm.class_labels, ['0', '1']);
    assert.equal(cm.matrix.flat().reduce((a: number, b: number) => a + b, 0), 569);
    assert.equal(cm.matrix[0][0] + cm.matrix[1][1], correct);
    assert.ok(report.calibration.bins.length > 0 && report.calibration.ece >= 0);

    assert.deepEqual(report.slices.map((s: { column: string }) => s.column), ['mean_radius', 'group']);
    assert.equal(report.slices[0].slices.length, 4);
    assert.deepEqual(report.slices[1].slices.map((s: { key: string }) => s.key).sort(), ['A', 'B']);
    assert.equal(report.fairness.length, 1, 'the protected column is audited without being asked');
    assert.equal(report.fairness[0].attribute, 'group');
    assert.equal(report.fairness[0].groups.reduce((a: number, g: { count: number }) => a + g.count, 0), 569);

    const features = report.explanations.permutation.features;
    assert.equal(features.length, 30);
    assert.equal(report.explanations.permutation.metric, 'roc_auc');
    const shap = report.explanations.shap;
    assert.equal(shap.method, 'kernel');
    assert.equal(shap.rows, 5);
    assert.ok(shap.maxAdditivityError < 1e-9, `SHAP values sum to the prediction minus the base value (error ${shap.maxAdditivityError})`);
    for (const ex of shap.examples) {
      const sum = Object.values(ex.values as Record<string, number>).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(shap.baseValue + sum - ex.prediction) < 1e-9);
    }
    assert.equal(report.model_size_bytes, onnx.length);
    assert.ok(report.latency.p99_ms > 0 && report.latency.p99_ms >= report.latency.p50_ms);
    assert.equal(report.gate, null);
    assert.equal(report.gate_status, 'none');
    assert.deepEqual((await server.json('GET', `/api/v1/evaluations/${report.id}`)).body.metrics, report.metrics);
    const stored = tags((await server.json('GET', '/api/v1/models/bcp/versions/1')).body);
    assert.equal(stored['mloop.evaluation_id'], report.id);
    assert.equal(stored['mloop.gate'], undefined);
    await session.release();
  });

  it('explains boosted trees with exact TreeSHAP', async () => {
    const report = await evaluate({ model: 'bcp@2', dataset: 'bcp@latest', rows: 'holdout', permutation: { enabled: false }, latency: { enabled: false }, bootstrap: { n: 0 } });
    assert.equal(report.rows.evaluated, 114);
    assert.equal(report.explanations.shap.method, 'tree');
    assert.equal(report.explanations.shap.rows, 114);
    assert.ok(report.explanations.shap.maxAdditivityError < 1e-9);
    assert.equal(report.explanations.permutation, undefined);
  });

  it('fails a gate that asks for more than is achievable, and says so on the version', async () => {
    const gate = await server.json('PUT', '/api/v1/models/bcp/gate', { checks: [{ kind: 'threshold', metric: 'roc_auc', op: '>=', value: 0.9999 }, { kind: 'model_size', maxBytes: 1e7 }] });
    assert.equal(gate.status, 200, JSON.stringify(gate.body));
    assert.equal(gate.body.gate.checks.length, 2);
    const report = await evaluate({ model: 'bcp@1', dataset: 'bcp@latest', rows: 'holdout', shap: { enabled: false }, permutation: { enabled: false }, bootstrap: { n: 0 } });
    assert.equal(report.gate_status, 'failed');
    assert.equal(report.gate.result.passed, false);
    assert.equal(report.gate.result.checks[0].passed, false);
    assert.match(report.gate.result.checks[0].reason, /roc_auc = 0\.9\d+ fails >= 0\.9999/);
    assert.equal(report.gate.result.checks[1].passed, true);
    assert.equal(tags((await server.json('GET', '/api/v1/models/bcp/versions/1')).body)['mloop.gate'], 'failed');
    const card = await (await server.fetch('/api/v1/models/bcp/versions/1/card')).text();
    assert.match(card, /## Validation gate/);
    assert.match(card, /FAILED: failed 1 of 2 checks: roc\\_auc &gt;= 0\.9999/);
  });

  it('passes an achievable gate, comparing with the champion on the same holdout rows', async () => {
    await server.json('PUT', '/api/v1/models/bcp/aliases/champion', { version: '1' });
    await server.json('PUT', '/api/v1/models/bcp/gate', {
      checks: [
        { kind: 'threshold', metric: 'roc_auc', op: '>=', value: 0.9 },
        { kind: 'champion', metric: 'roc_auc', minAbsoluteChange: 0.5, whenNoChampion: 'fail', name: 'much better than the champion' },
        { kind: 'champion', metric: 'log_loss', significance: { method: 'paired_bootstrap', require: 'not_worse', nBootstrap: 200 } },
        { kind: 'latency', maxP99Ms: 1000 },
      ],
    });
    const report = await evaluate({ model: 'bcp@2', dataset: 'bcp@latest', rows: 'holdout', shap: { enabled: false }, permutation: { enabled: false }, bootstrap: { n: 0 }, latency: { runs: 50 } });
    assert.deepEqual({ alias: report.champion.alias, version: report.champion.version }, { alias: 'champion', version: '1' });
    const checks = Object.fromEntries(report.gate.result.checks.map((c: { name: string; passed: boolean }) => [c.name, c]));
    assert.equal(checks['roc_auc >= 0.9'].passed, true);
    assert.equal(checks['much better than the champion'].passed, false, 'nobody improves ROC AUC by 0.5');
    assert.match(checks['log_loss vs champion'].reason, /paired bootstrap 95% interval of the log_loss improvement/);
    assert.equal(checks['p99 latency'].passed, true);
    assert.equal(tags((await server.json('GET', '/api/v1/models/bcp/versions/2')).body)['mloop.gate'], 'failed');

    // With the boosted trees as champion, the logistic model is not significantly worse (McNemar).
    await server.json('PUT', '/api/v1/models/bcp/aliases/champion', { version: '2' });
    await server.json('PUT', '/api/v1/models/bcp/gate', { checks: [{ kind: 'threshold', metric: 'roc_auc', op: '>=', value: 0.9 }, { kind: 'champion', metric: 'accuracy', significance: { method: 'mcnemar', require: 'not_worse' } }] });
    const passing = await evaluate({ model: 'bcp@1', dataset: 'bcp@latest', rows: 'holdout', shap: { enabled: false }, permutation: { enabled: false }, bootstrap: { n: 0 } });
    assert.equal(passing.gate_status, 'passed', JSON.stringify(passing.gate.result));
    assert.match(passing.gate.result.checks[1].reason, /McNemar/);
    assert.equal(tags((await server.json('GET', '/api/v1/models/bcp/versions/1')).body)['mloop.gate'], 'passed');
    // The champion itself is not compared with itself.
    const self = await evaluate({ model: 'bcp@champion', dataset: 'bcp@latest', rows: 'holdout', shap: { enabled: false }, permutation: { enabled: false }, bootstrap: { n: 0 } });
    assert.equal(self.model.version, '2');
    assert.equal(self.champion, null);
    assert.ok(self.notes.some((n: string) => /is the champion/.test(n)));
  });

  it('bounds fairness in the gate', async () => {
    await server.json('PUT', '/api/v1/models/bcp/gate', { checks: [{ kind: 'fairness', attribute: 'group', measure: 'disparate_impact', min: 0.8, max: 1.25 }] });
    const report = await evaluate({ model: 'bcp@1', dataset: 'bcp@latest', shap: { enabled: false }, permutation: { enabled: false }, bootstrap: { n: 0 } });
    const audit = report.fairness[0];
    const other = audit.groups.find((g: { group: string }) => g.group !== audit.reference);
    const di = other.disparateImpact;
    assert.equal(di, other.rates.selection_rate / audit.groups.find((g: { group: string }) => g.group === audit.reference).rates.selection_rate);
    assert.ok(di < 0.8 || di > 1.25, `the groups were built to differ: disparate impact ${di}`);
    assert.equal(report.gate_status, 'failed');
    assert.match(report.gate.result.checks[0].reason, /disparate_impact for group/);
    assert.equal(report.gate.result.checks[0].values[other.group], di, 'the gate bounds the disparate impact the report shows');
    assert.ok(Math.abs(audit.overall.demographicParityRatio - Math.min(di, 1 / di)) < 1e-12, 'with two groups, min/max is the ratio or its inverse');
    const card = await (await server.fetch('/api/v1/models/bcp/versions/1/card')).text();
    assert.ok(card.includes(`| ${other.group} | ${other.count} | ${Number(other.rates.selection_rate.toPrecision(4))} | ${Number(di.toPrecision(4))} |`), 'the card shows the same value');
    await server.json('DELETE', '/api/v1/models/bcp/gate');
    assert.equal((await server.json('GET', '/api/v1/models/bcp/gate')).body.gate, null);
  });

  it("returns an evaluation job's stored result in today's shape, as /evaluations does", async () => {
    const report = await evaluate({ model: 'bcp@1', dataset: 'bcp@latest', rows: 'holdout', shap: { enabled: false }, permutation: { enabled: false }, latency: { enabled: false }, bootstrap: { n: 0 } });
    const job = (await server.json('GET', `/api/v1/jobs/${report.job_id}`)).body;
    assert.deepEqual(job.result.fairness, report.fairness);
    // The result as a release before the per-group disparities stored it.
    const earlier = {
      ...job.result,
      fairness: job.result.fairness.map((f: any) => {
        const { demographicParityDifference, demographicParityRatio, ...overall } = f.overall;
        return {
          ...f,
          overall: { ...overall, statisticalParityDifference: demographicParityDifference, disparateImpact: demographicParityRatio },
          groups: f.groups.map(({ disparateImpact: _d, statisticalParityDifference: _s, ...g }: any) => g),
        };
      }),
    };
    await server.metadata.db.updateTable('jobs').set({ result: JSON.stringify(earlier) }).where('id', '=', report.job_id).execute();
    assert.notDeepEqual(earlier.fairness, report.fairness);
    const read = (await server.json('GET', `/api/v1/jobs/${report.job_id}`)).body;
    assert.deepEqual(read.result.fairness, report.fairness);
    const listed = (await server.json('GET', '/api/v1/jobs?kind=evaluation&max_results=1000')).body.jobs.find((j: any) => j.id === report.job_id);
    assert.deepEqual(listed.result.fairness, report.fairness);
  });

  it('tests each disparity at the requested alpha against the requested reference, for the report and the gate', async () => {
    await server.json('PUT', '/api/v1/models/bcp/gate', { checks: [{ kind: 'fairness', attribute: 'group', measure: 'disparate_impact', min: 0.8, max: 1.25, significantOnly: true }] });
    const body = { model: 'bcp@1', dataset: 'bcp@latest', rows: 'holdout', shap: { enabled: false }, permutation: { enabled: false }, latency: { enabled: false }, bootstrap: { n: 0 } };
    const loose = await evaluate({ ...body, fairness_reference: { group: 'B' } });
    const d = loose.fairness[0].disparities.find((x: { rate: string }) => x.rate === 'selection_rate');
    assert.equal(loose.fairness[0].reference, 'B');
    assert.equal(d.group, 'A');
    assert.ok(d.pValue < 0.05 && (d.ratio < 0.8 || d.ratio > 1.25), JSON.stringify(d));
    assert.equal(loose.fairness[0].alpha, 0.05);
    assert.ok(loose.fairness[0].flagged.some((x: { rate: string }) => x.rate === 'selection_rate'));
    assert.equal(loose.gate_status, 'failed');
    // An alpha below the p-value: the same disparity is not significant, so nothing is flagged and the gate passes.
    const alpha = d.pValue / 2;
    const strict = await evaluate({ ...body, fairness_reference: { group: 'B' }, fairness_alpha: alpha, fairness_tau: 0.9 });
    const same = strict.fairness[0].disparities.find((x: { rate: string }) => x.rate === 'selection_rate');
    assert.deepEqual([strict.fairness[0].alpha, strict.fairness[0].tau, same.pValue, same.significant, same.flagged], [alpha, 0.9, d.pValue, false, false]);
    assert.equal(strict.gate_status, 'passed', JSON.stringify(strict.gate.result));
    assert.match(strict.gate.result.checks[0].reason, /outside but not significant/);
    await server.json('DELETE', '/api/v1/models/bcp/gate');
  });

  it('renders the model card in Markdown and HTML with metrics, gate, card spec and lineage, escaping user text', async () => {
    const spec = await server.json('PUT', '/api/v1/models/bcp/card-spec', {
      intended_use: 'Triage support for <script>alert(1)</script> breast biopsies',
      limitations: ['Trained on 569 patients from one site'],
      owners: ['ml-team'],
    });
    assert.equal(spec.status, 200, JSON.stringify(spec.body));
    const md = await (await server.fetch('/api/v1/models/bcp/versions/2/card?format=md')).text();
    assert.match(md, /^# Model card: bcp v2/);
    assert.match(md, /## Intended use/);
    assert.match(md, /Triage support for &lt;script&gt;/);
    assert.match(md, /\| roc\\_auc \| 0\.9\d* \|/);
    assert.match(md, /## Validation gate/);
    assert.match(md, /Trained on 569 patients from one site/);
    assert.match(md, /Owners: ml-team/);
    assert.match(md, /\| Training \| bcp \|/);
    assert.match(md, /## Lineage/);
    assert.match(md, /params hash/);
    const html = await server.fetch('/api/v1/models/bcp/versions/champion/card?format=html');
    assert.equal(html.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(html.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    const page = await html.text();
    assert.match(page, /<table/);
    assert.doesNotMatch(page, /<script>/);
    assert.match(page, /Model card: bcp v2/);
    const json = (await server.json('GET', '/api/v1/models/bcp/versions/1/card?format=json')).body;
    assert.equal(json.model.kind, 'logistic_regression');
    assert.ok(json.metrics.some((m: { name: string }) => m.name === 'roc_auc'));
  });

  it('evaluates multiclass and regression models', async () => {
    await uploadFixture(server, 'wine', 'wine');
    await uploadFixture(server, 'diabetes', 'diabetes');
    await train(server, { dataset: 'wine@latest', target: 'target', model: 'logistic_regression', register_as: 'wine', bootstrap: { n: 0 } });
    await train(server, { dataset: 'diabetes@latest', target: 'target', model: 'hist_gradient_boosting', params: { max_iter: 20 }, register_as: 'diabetes', bootstrap: { n: 0 } });
    const wine = await evaluate({ model: 'wine', dataset: 'wine@latest', rows: 'holdout', shap: { rows: 3, background: 10 }, permutation: { n_repeats: 2 }, bootstrap: { n: 100 } });
    assert.equal(wine.task, 'multiclass');
    assert.deepEqual(wine.confusion_matrix.class_labels, ['0', '1', '2']);
    assert.ok(wine.metrics.accuracy.value > 0.8 && wine.metrics.f1_macro.value > 0.8);
    assert.ok(wine.explanations.shap.maxAdditivityError < 1e-9);
    assert.equal(wine.fairness.length, 0);
    const diabetes = await evaluate({ model: 'diabetes', dataset: 'diabetes@latest', rows: 'holdout', slices: ['sex'], bootstrap: { n: 100 } });
    assert.equal(diabetes.task, 'regression');
    assert.ok(diabetes.metrics.rmse.value > 0 && diabetes.metrics.r2.value > 0);
    assert.equal(diabetes.explanations.shap.method, 'tree');
    assert.ok(diabetes.explanations.shap.maxAdditivityError < 1e-6);
    assert.equal(diabetes.explanations.permutation.metric, 'r2');
    assert.equal(diabetes.slices[0].binning, 'value');
    assert.deepEqual(diabetes.slices[0].slices.map((s: { key: string }) => s.key), ['1', '2']);
    const list = (await server.json('GET', '/api/v1/evaluations?model=diabetes')).body.evaluations;
    assert.deepEqual(list.map((e: { id: string }) => e.id), [diabetes.id]);

    // Every row: the 1/2-coded sex column is two slices (235 and 207 rows), not one bucket [1, 2].
    const quick = { model: 'diabetes', dataset: 'diabetes@latest', shap: { enabled: false }, permutation: { enabled: false }, latency: { enabled: false }, bootstrap: { n: 20 } };
    const bySex = await evaluate({ ...quick, slices: ['sex', 'bmi'] });
    assert.deepEqual(bySex.slices[0].slices.map((s: { key: string; count: number; lower: number; upper: number }) => [s.key, s.count, s.lower, s.upper]), [['1', 235, 1, 1], ['2', 207, 2, 2]]);
    assert.equal(bySex.slices[1].binning, 'quantile');
    assert.equal(bySex.slices[1].slices.length, 4);
    const quantile = await evaluate({ ...quick, slices: ['sex', 'bmi'], slice_mode: 'quantile', slice_bins: 2, slice_edges: { bmi: [25, 30] } });
    assert.deepEqual(quantile.slices[0].slices.map((s: { key: string; count: number }) => [s.key, s.count]), [['[1, 2]', 442]]);
    assert.equal(quantile.slices[1].binning, 'edges');
    assert.deepEqual(quantile.slices[1].edges, [25, 30]);
    assert.deepEqual(quantile.slices[1].slices.map((s: { key: string }) => s.key), ['< 25', '[25, 30]', '> 30']);
    const perValue = await evaluate({ ...quick, slices: ['s4'], slice_mode: 'value' });
    const s4 = new Set((await server.app.services.datasets.readTable(ctx, 'diabetes', perValue.dataset.version)).columns.find((c) => c.name === 's4')!.values as Float64Array);
    assert.equal(perValue.slices[0].slices.length, s4.size);
    assert.ok(s4.size > 20, 'more values than auto would slice per value');
  });

  it('answers bad evaluation requests with 400 naming the field, starting nothing', async () => {
    const before = (await server.json('GET', '/api/v1/jobs?kind=evaluation&max_results=1000')).body.jobs.length;
    const cases: [Record<string, unknown>, string][] = [
      [{ model: 'nope@1', dataset: 'bcp@latest' }, 'model'],
      [{ model: 'bcp@99', dataset: 'bcp@latest' }, 'model'],
      [{ model: 'bcp@no-such-alias', dataset: 'bcp@latest' }, 'alias'],
      [{ model: 'bcp@1', dataset: 'nope@latest' }, 'dataset'],
      [{ model: 'bcp@1', dataset: 'wine@latest' }, 'dataset'],
      [{ model: 'bcp@1', dataset: 'bcp@latest', slices: ['nope'] }, 'slices[0]'],
      [{ model: 'bcp@1', dataset: 'bcp@latest', fairness: ['nope'] }, 'fairness[0]'],
      [{ model: 'wine', dataset: 'wine@latest', fairness: ['alcohol'] }, 'fairness'],
      [{ model: 'bcp@1', dataset: 'bcp@latest', metrics: ['rmse'] }, 'metrics[0]'],
      [{ model: 'bcp@1', dataset: 'bcp@latest', target: 'nope' }, 'target'],
      [{ model: 'bcp@1', dataset: 'diabetes@latest', rows: 'holdout' }, 'dataset'],
      [{ model: 'bcp@1', dataset: 'bcp@latest', bootstrap: { n: -1 } }, 'bootstrap.n'],
      [{ model: 'bcp@1', dataset: 'bcp@latest', slices: ['mean_radius'], slice_mode: 'value' }, 'slice_mode'],
      [{ model: 'bcp@1', dataset: 'bcp@latest', slices: ['mean_radius'], slice_mode: 'buckets' }, 'slice_mode'],
      [{ model: 'bcp@1', dataset: 'bcp@latest', slices: ['mean_radius'], slice_edges: { mean_area: [1] } }, 'slice_edges.mean_area'],
      [{ model: 'bcp@1', dataset: 'bcp@latest', slices: ['group'], slice_edges: { group: [1] } }, 'slice_edges.group'],
      [{ model: 'bcp@1', dataset: 'bcp@latest', slices: ['mean_radius'], slice_edges: { mean_radius: [15, 12] } }, 'slice_edges.mean_radius'],
      [{ model: 'bcp@1', dataset: 'bcp@latest', fairness_alpha: 1 }, 'fairness_alpha'],
      [{ model: 'bcp@1', dataset: 'bcp@latest', fairness_tau: 0 }, 'fairness_tau'],
      [{ model: 'bcp@1', dataset: 'bcp@latest', fairness: ['group'], fairness_reference: { group: 'Z' } }, 'fairness_reference.group'],
    ];
    for (const [body, field] of cases) {
      const res = await server.json('POST', '/api/v1/evaluations', body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      assert.ok(res.body.errors.some((e: { field: string }) => e.field === field), `${JSON.stringify(body)}: ${JSON.stringify(res.body.errors)}`);
    }
    const gate = await server.json('PUT', '/api/v1/models/bcp/gate', { checks: [{ kind: 'threshold', metric: 'auc', op: '>=', value: 1 }] });
    assert.equal(gate.status, 400);
    assert.ok(gate.body.errors.some((e: { field: string }) => e.field === 'checks[0].metric'));
    assert.equal((await server.json('GET', '/api/v1/jobs?kind=evaluation&max_results=1000')).body.jobs.length, before);
  });

  it('runs evaluations as jobs with progress', async () => {
    const submitted = await server.json('POST', '/api/v1/evaluations', { model: 'bcp@1', dataset: 'bcp@latest', shap: { enabled: false }, bootstrap: { n: 0 } });
    assert.equal(submitted.status, 202);
    assert.equal(submitted.body.kind, 'evaluation');
    const job = await waitJob(server, submitted.body.id);
    assert.equal(job.status, 'SUCCEEDED');
    assert.equal((job.result as { id: string }).id, (await server.json('GET', `/api/v1/evaluations/${(job.result as { id: string }).id}`)).body.id);
  });
});

describe('evaluations on PostgreSQL', { skip: metadataBackends()[1].skip }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ metadata: metadataBackends()[1] });
  });
  after(() => server?.close());

  it('stores reports, lists them by model and version, and tags the version', async () => {
    await uploadFixture(server, 'bc', 'breast_cancer');
    await train(server, { dataset: 'bc@latest', target: 'target', model: 'logistic_regression', register_as: 'bc', bootstrap: { n: 0 } });
    await server.json('PUT', '/api/v1/models/bc/gate', { checks: [{ kind: 'threshold', metric: 'accuracy', op: '>=', value: 0.5 }] });
    const res = await server.json('POST', '/api/v1/evaluations?wait=true', { model: 'bc@1', dataset: 'bc@latest', rows: 'holdout', shap: { enabled: false }, permutation: { enabled: false }, bootstrap: { n: 0 } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.gate_status, 'passed');
    const list = (await server.json('GET', '/api/v1/evaluations?model=bc&version=1')).body.evaluations;
    assert.deepEqual(list.map((e: { id: string }) => e.id), [res.body.id]);
    assert.deepEqual((await server.json('GET', '/api/v1/evaluations?model=bc&version=2')).body.evaluations, []);
    assert.equal(tags((await server.json('GET', '/api/v1/models/bc/versions/1')).body)['mloop.gate'], 'passed');
    const jobs = (await server.json('GET', '/api/v1/jobs?kind=evaluation')).body.jobs;
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0].status, 'SUCCEEDED');
  });
});
