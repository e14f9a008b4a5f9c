import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MloopError } from '../core/errors.ts';
import { loadEvaluationFixture } from '../../test/support/evaluation-fixtures.ts';
import { fairnessAudit } from './fairness.ts';
import { evaluateGate, parseGateSpec, type GateCheckSpec, type GateInput, type GateSpecInput } from './gate.ts';
import type { EvaluationData } from './metrics/registry.ts';

function one(check: GateSpecInput['checks'][number], input: GateInput) {
  const result = evaluateGate({ checks: [check] }, input);
  assert.equal(result.checks.length, 1);
  assert.equal(result.passed, result.checks[0].passed);
  return result.checks[0];
}

describe('gate spec validation', () => {
  const bad = (spec: unknown, pattern: RegExp) =>
    assert.throws(() => parseGateSpec(spec), (e: unknown) => e instanceof MloopError && e.code === 'INVALID_PARAMETER_VALUE' && pattern.test(e.message), String(pattern));

  it('names the bad field and the reason', () => {
    bad({ checks: [] }, /checks: a gate needs at least one check/);
    bad({ checks: [{ kind: 'threshold', metric: 'acuracy', op: '>=', value: 0.8 }] }, /checks\[0\]\.metric: unknown metric "acuracy"/);
    bad({ checks: [{ kind: 'threshold', metric: 'accuracy', op: '>', value: 0.8 }] }, /checks\[0\]\.op/);
    bad({ checks: [{ kind: 'champion', metric: 'accuracy', minAbsoluteChange: 0 }] }, /minAbsoluteChange: must be a positive number/);
    bad({ checks: [{ kind: 'champion', metric: 'accuracy', minRelativeChange: 1.5 }] }, /minRelativeChange: must be between 0 and 1/);
    bad({ checks: [{ kind: 'champion', metric: 'accuracy' }] }, /no threshold was specified/);
    bad({ checks: [{ kind: 'champion', metric: 'roc_auc', significance: { method: 'mcnemar' } }] }, /significance\.method: McNemar's test compares accuracy/);
    bad({ checks: [{ kind: 'champion', metric: 'log_loss', greaterIsBetter: true, threshold: 0.3 }] }, /greaterIsBetter: contradicts the metric/);
    bad({ checks: [{ kind: 'fairness', attribute: 'sex', measure: 'disparate_impact' }] }, /give min, max or both/);
    bad({ checks: [{ kind: 'fairness', attribute: 'sex', measure: 'disparate_impact', min: 2, max: 1 }] }, /checks\[0\]\.min: min exceeds max/);
    bad({ checks: [{ kind: 'latency', maxP99Ms: 10, extra: 1 }] }, /extra/);
    bad({ checks: [{ kind: 'vibes' }] }, /checks\[0\]/);
  });

  it('fills defaults and survives a JSON round trip', () => {
    const spec = parseGateSpec(JSON.parse(JSON.stringify({ checks: [{ kind: 'champion', metric: 'accuracy', significance: { method: 'mcnemar' } }] })));
    const check = spec.checks[0] as Extract<GateCheckSpec, { kind: 'champion' }>;
    assert.deepEqual(check.significance, { method: 'mcnemar', alpha: 0.05, require: 'better', nBootstrap: 1000, seed: 0 });
    assert.equal(check.whenNoChampion, 'pass');
  });
});

describe('absolute thresholds and budgets', () => {
  it('passes at the boundary, fails beyond it, fails a metric never measured', () => {
    const input = { metrics: { roc_auc: 0.8, log_loss: 0.4 } };
    assert.equal(one({ kind: 'threshold', metric: 'roc_auc', op: '>=', value: 0.8 }, input).passed, true);
    const fail = one({ kind: 'threshold', metric: 'log_loss', op: '<=', value: 0.35 }, input);
    assert.equal(fail.passed, false);
    assert.equal(fail.reason, 'log_loss = 0.4 fails <= 0.35');
    assert.deepEqual(fail.values, { value: 0.4, threshold: 0.35 });
    assert.match(one({ kind: 'threshold', metric: 'f1', op: '>=', value: 0.5 }, input).reason, /f1 is missing from the candidate/);
  });

  it('model size and p99 latency budgets use the measured numbers', () => {
    assert.equal(one({ kind: 'model_size', maxBytes: 1000 }, { metrics: {}, modelSizeBytes: 1000 }).passed, true);
    const slow = one({ kind: 'latency', maxP99Ms: 20 }, { metrics: {}, latencyP99Ms: 25.5 });
    assert.equal(slow.passed, false);
    assert.equal(slow.reason, 'p99 latency 25.5 ms exceeds budget 20 ms');
    assert.match(one({ kind: 'latency', maxP99Ms: 20 }, { metrics: {} }).reason, /p99 latency was not measured/);
  });
});

describe('champion comparison with MLflow MetricThreshold semantics', () => {
  const champ = (metrics: Record<string, number>) => ({ label: 'v3', metrics });

  it('minimum absolute change, greater and lower is better, with float sums exactly as MLflow compares them', () => {
    const check = { kind: 'champion' as const, metric: 'accuracy', minAbsoluteChange: 0.05 };
    assert.equal(one(check, { metrics: { accuracy: 0.86 }, champion: champ({ accuracy: 0.8 }) }).passed, true);
    // 0.8 + 0.05 is 0.8500000000000001 in binary floating point, so 0.85 fails in MLflow too.
    assert.equal(one(check, { metrics: { accuracy: 0.85 }, champion: champ({ accuracy: 0.8 }) }).passed, false);
    assert.equal(one(check, { metrics: { accuracy: 0.75 }, champion: champ({ accuracy: 0.5 }) }).passed, true);
    const loss = { kind: 'champion' as const, metric: 'log_loss', minAbsoluteChange: 0.1 };
    assert.equal(one(loss, { metrics: { log_loss: 0.3 }, champion: champ({ log_loss: 0.4 }) }).passed, true, '0.4 - 0.1 = 0.30000000000000004');
    assert.equal(one(loss, { metrics: { log_loss: 0.2 }, champion: champ({ log_loss: 0.3 }) }).passed, false, '0.3 - 0.1 = 0.19999999999999998 < 0.2');
    assert.equal(one(loss, { metrics: { log_loss: 0.25 }, champion: champ({ log_loss: 0.4 }) }).passed, true);
    const r = one(loss, { metrics: { log_loss: 0.35 }, champion: champ({ log_loss: 0.4 }) });
    assert.equal(r.reason, '0.35 vs champion v3 0.4: needs <= 0.3 (min absolute change 0.1)');
    assert.deepEqual(r.values, { candidate: 0.35, greaterIsBetter: false, champion: 0.4, minAbsoluteChange: 0.1 });
  });

  it('minimum relative change, the zero-champion fallback and the signed-denominator rule', () => {
    const rel = { kind: 'champion' as const, metric: 'accuracy', minRelativeChange: 0.1 };
    assert.equal(one(rel, { metrics: { accuracy: 0.9 }, champion: champ({ accuracy: 0.8 }) }).passed, true);
    assert.equal(one(rel, { metrics: { accuracy: 0.87 }, champion: champ({ accuracy: 0.8 }) }).passed, false);
    const mae = { kind: 'champion' as const, metric: 'mae', minRelativeChange: 0.2 };
    assert.equal(one(mae, { metrics: { mae: 0.75 }, champion: champ({ mae: 1 }) }).passed, true);
    assert.equal(one(mae, { metrics: { mae: 0.8 }, champion: champ({ mae: 1 }) }).passed, false, '(1 - 0.8) / 1 = 0.19999999999999996 < 0.2, as in MLflow');
    assert.equal(one(mae, { metrics: { mae: 0.85 }, champion: champ({ mae: 1 }) }).passed, false);
    assert.equal(one(mae, { metrics: { mae: 0 }, champion: champ({ mae: 0 }) }).passed, false, 'zero champion: must be strictly better by 1e-10');
    assert.equal(one({ ...rel, minRelativeChange: 0.5 }, { metrics: { accuracy: 1e-9 }, champion: champ({ accuracy: 0 }) }).passed, true);
    // MLflow divides by the signed champion value: a negative R² champion improving to less negative
    // gives a negative "relative change", which fails.
    assert.equal(one({ kind: 'champion', metric: 'r2', minRelativeChange: 0.1 }, { metrics: { r2: -0.5 }, champion: champ({ r2: -1 }) }).passed, false);
  });

  it('threshold inside the comparison, missing metrics and no champion at all', () => {
    const check = { kind: 'champion' as const, metric: 'roc_auc', threshold: 0.7, minAbsoluteChange: 0.01 };
    const both = one(check, { metrics: { roc_auc: 0.65 }, champion: champ({ roc_auc: 0.7 }) });
    assert.equal(both.passed, false);
    assert.match(both.reason, /fails threshold >= 0.7; 0.65 vs champion v3 0.7: needs >= 0.71/);
    assert.match(one(check, { metrics: { roc_auc: 0.9 }, champion: champ({}) }).reason, /missing from the champion v3's evaluation/);
    assert.match(one(check, { metrics: {}, champion: champ({ roc_auc: 0.7 }) }).reason, /missing from the candidate's evaluation/);
    const first = one(check, { metrics: { roc_auc: 0.9 }, champion: null });
    assert.equal(first.passed, true);
    assert.match(first.reason, /no champion to compare with \(comparison skipped\)/);
    assert.equal(one({ ...check, whenNoChampion: 'fail' }, { metrics: { roc_auc: 0.9 } }).passed, false);
    assert.equal(one({ ...check, threshold: 0.95 }, { metrics: { roc_auc: 0.9 } }).passed, false, 'the threshold still applies without a champion');
  });
});

describe('paired significance checks', () => {
  // 12 rows only the candidate gets right, 3 only the champion: exact McNemar p = 2 · P(Bin(15, ½) <= 3) = 0.03515625.
  const yTrue = new Float64Array(100).map((_, i) => i % 2);
  const candidatePred = Float64Array.from(yTrue);
  const championPred = Float64Array.from(yTrue);
  for (let i = 0; i < 12; i++) championPred[i] = 1 - yTrue[i];
  for (let i = 12; i < 15; i++) candidatePred[i] = 1 - yTrue[i];
  for (let i = 15; i < 25; i++) {
    candidatePred[i] = 1 - yTrue[i];
    championPred[i] = 1 - yTrue[i];
  }
  const holdout = {
    candidate: { task: 'binary', yTrue, yPred: candidatePred } as EvaluationData,
    champion: { task: 'binary', yTrue, yPred: championPred } as EvaluationData,
  };
  const input: GateInput = { metrics: { accuracy: 0.87 }, champion: { metrics: { accuracy: 0.78 } }, holdout };

  it("McNemar's test: exact for few discordant pairs, better and not-worse requirements", () => {
    const better = one({ kind: 'champion', metric: 'accuracy', significance: { method: 'mcnemar' } }, input);
    assert.equal(better.passed, true);
    assert.equal(better.values.pValue, 0.03515625);
    assert.equal(better.values.test, 'mcnemar_exact');
    assert.match(better.reason, /candidate-only correct 12, champion-only correct 3, p = 0.0351563 at alpha 0.05: candidate significantly better/);
    assert.equal(one({ kind: 'champion', metric: 'accuracy', significance: { method: 'mcnemar', alpha: 0.01 } }, input).passed, false);
    const swapped = { ...input, holdout: { candidate: holdout.champion, champion: holdout.candidate } };
    assert.equal(one({ kind: 'champion', metric: 'accuracy', significance: { method: 'mcnemar', require: 'not_worse' } }, swapped).passed, false);
    assert.equal(one({ kind: 'champion', metric: 'accuracy', significance: { method: 'mcnemar', require: 'not_worse', alpha: 0.01 } }, swapped).passed, true);
    assert.match(one({ kind: 'champion', metric: 'accuracy', significance: { method: 'mcnemar' } }, { ...input, holdout: undefined }).reason, /needs both models' predictions/);
  });

  it('paired bootstrap interval of the difference, signed so that positive is better', () => {
    const check = { kind: 'champion' as const, metric: 'accuracy', significance: { method: 'paired_bootstrap' as const, nBootstrap: 400, seed: 1 } };
    const r = one(check, input);
    assert.equal(r.passed, true);
    assert.ok((r.values.improvementLower as number) > 0 && Math.abs((r.values.improvement as number) - 0.09) < 1e-12);
    assert.deepEqual(one(check, input), r, 'seeded');
    const swapped = { ...input, holdout: { candidate: holdout.champion, champion: holdout.candidate } };
    const worse = one(check, swapped);
    assert.equal(worse.passed, false);
    assert.match(worse.reason, /candidate significantly worse/);
    // A lower-is-better metric: the improvement is champion − candidate.
    const scores = (pred: Float64Array) => Float64Array.from(pred, (p) => (p === 1 ? 0.8 : 0.2));
    const lossInput: GateInput = {
      metrics: {},
      champion: { metrics: {} },
      holdout: {
        candidate: { task: 'binary', yTrue, yScore: scores(candidatePred) },
        champion: { task: 'binary', yTrue, yScore: scores(championPred) },
      },
    };
    const loss = evaluateGate({ checks: [{ kind: 'champion', metric: 'brier_score', significance: { method: 'paired_bootstrap', nBootstrap: 400 } }] }, { ...lossInput, metrics: { brier_score: 0.1 }, champion: { metrics: { brier_score: 0.2 } } });
    assert.equal(loss.passed, true);
    assert.ok((loss.checks[0].values.improvement as number) > 0);
  });
});

describe('fairness bounds', () => {
  const fx = loadEvaluationFixture('fairness');
  const report = fairnessAudit({ yTrue: fx.yTrue, yPred: fx.yPred, groups: fx.group, attribute: 'region' });
  const input: GateInput = { metrics: {}, fairness: { region: report } };

  it('disparate impact within [0.8, 1.25] checks each group against the reference', () => {
    const r = one({ kind: 'fairness', attribute: 'region', measure: 'disparate_impact', min: 0.8, max: 1.25 }, input);
    assert.equal(r.passed, false);
    assert.match(r.reason, /^disparate_impact for region \(reference a\) within \[0.8, 1.25\] fails: b 0.367921 \(outside, p=7.04406e-22\), c 0.488801/);
    assert.equal(r.values.reference, 'a');
    assert.equal(r.values.b, report.disparities.find((d) => d.group === 'b' && d.rate === 'selection_rate')!.ratio);
    assert.equal(one({ kind: 'fairness', attribute: 'region', measure: 'disparate_impact', min: 0.3 }, input).passed, true);
  });

  it("disparate impact and statistical parity difference are the report groups' own values; the min/max pair is demographic parity", () => {
    const di = one({ kind: 'fairness', attribute: 'region', measure: 'disparate_impact', min: 0.3 }, input);
    const spd = one({ kind: 'fairness', attribute: 'region', measure: 'statistical_parity_difference', min: -0.1 }, input);
    for (const g of report.groups.filter((x) => x.group !== report.reference)) {
      assert.equal(di.values[g.group], g.disparateImpact);
      assert.equal(spd.values[g.group], g.statisticalParityDifference);
      assert.ok(g.statisticalParityDifference! < 0, 'signed, not max − min');
    }
    assert.equal(spd.passed, false);
    const dpr = report.overall.demographicParityRatio!;
    assert.ok(dpr < Math.min(...report.groups.map((g) => g.disparateImpact!)) + 1e-12, 'min/max is never above any ratio to the reference');
    const ratio = one({ kind: 'fairness', attribute: 'region', measure: 'demographic_parity_ratio', min: dpr }, input);
    assert.equal(ratio.passed, true);
    assert.match(ratio.reason, /^demographic parity ratio for region = 0\.\d+ within/);
    assert.equal(one({ kind: 'fairness', attribute: 'region', measure: 'demographic_parity_ratio', min: dpr + 1e-9 }, input).passed, false);
    const dpd = report.overall.demographicParityDifference!;
    assert.equal(one({ kind: 'fairness', attribute: 'region', measure: 'demographic_parity_difference', max: dpd }, input).passed, true);
    assert.equal(one({ kind: 'fairness', attribute: 'region', measure: 'demographic_parity_difference', max: dpd - 1e-9 }, input).passed, false);
  });

  it('significantOnly ignores disparities that are not significant', () => {
    const fpr = one({ kind: 'fairness', attribute: 'region', measure: 'fpr_ratio', min: 0.75, max: 1.33 }, input);
    assert.equal(fpr.passed, false);
    assert.match(fpr.reason, /fails: b 0.211466 \(outside, p=2.49984e-11\), c 0.692958 \(outside, p=0.17387\)/);
    // Precision: b is 1.17 times the reference but not significant (p = 0.099); c is 0.54, significant.
    const spec = { kind: 'fairness' as const, attribute: 'region', measure: 'precision_ratio' as const, min: 0.5, max: 1.1 };
    assert.equal(one(spec, input).passed, false);
    const lenient = one({ ...spec, significantOnly: true }, input);
    assert.equal(lenient.passed, true);
    assert.match(lenient.reason, /b 1.17492 \(outside but not significant, p=0.0990368\), c 0.543592$/);
    assert.equal(one({ ...spec, min: 0.6, significantOnly: true }, input).passed, false);
    // The audit's alpha decides what counts as significant: at 0.1, b's p = 0.099 is.
    const atTen = fairnessAudit({ yTrue: fx.yTrue, yPred: fx.yPred, groups: fx.group, attribute: 'region' }, { alpha: 0.1 });
    const stricter = one({ ...spec, significantOnly: true }, { metrics: {}, fairness: { region: atTen } });
    assert.equal(stricter.passed, false);
    assert.match(stricter.reason, /fails: b 1.17492 \(outside, p=0.0990368\)/);
  });

  it('equalized-odds difference is bounded overall; a missing report fails', () => {
    const eod = report.overall.equalizedOddsDifference!;
    assert.equal(one({ kind: 'fairness', attribute: 'region', measure: 'equalized_odds_difference', max: eod }, input).passed, true);
    assert.equal(one({ kind: 'fairness', attribute: 'region', measure: 'equalized_odds_difference', max: eod - 1e-9 }, input).passed, false);
    assert.match(one({ kind: 'fairness', attribute: 'sex', measure: 'disparate_impact', min: 0.8 }, input).reason, /no fairness report for attribute sex/);
  });
});

describe('the whole gate', () => {
  it('passes only when every check passes, with a summary and JSON-able output', () => {
    const spec: GateSpecInput = {
      checks: [
        { kind: 'threshold', metric: 'roc_auc', op: '>=', value: 0.8 },
        { kind: 'champion', name: 'beats champion', metric: 'roc_auc', minAbsoluteChange: 0.005 },
        { kind: 'model_size', maxBytes: 5_000_000 },
        { kind: 'latency', maxP99Ms: 15 },
      ],
    };
    const ok = evaluateGate(spec, { metrics: { roc_auc: 0.9 }, champion: { metrics: { roc_auc: 0.88 } }, modelSizeBytes: 120_000, latencyP99Ms: 3.2 });
    assert.equal(ok.passed, true);
    assert.equal(ok.summary, 'passed all 4 checks');
    const bad = evaluateGate(spec, { metrics: { roc_auc: 0.9 }, champion: { metrics: { roc_auc: 0.898 } }, modelSizeBytes: 120_000, latencyP99Ms: 30 });
    assert.equal(bad.passed, false);
    assert.equal(bad.summary, 'failed 2 of 4 checks: beats champion, p99 latency');
    assert.deepEqual(JSON.parse(JSON.stringify(bad)), bad);
  });
});
