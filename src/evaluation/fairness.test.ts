import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MloopError } from '../core/errors.ts';
import { assertClose, loadEvaluationFixture } from '../../test/support/evaluation-fixtures.ts';
import { fairnessAudit, MISSING_GROUP, upgradeFairnessReport } from './fairness.ts';

const fx = loadEvaluationFixture('fairness');
const input = { yTrue: fx.yTrue, yPred: fx.yPred, groups: fx.group, attribute: 'region' };

describe('fairnessAudit', () => {
  const report = fairnessAudit(input);

  it('counts per group and the largest group as the default reference', () => {
    assert.equal(report.reference, 'a');
    for (const g of report.groups) {
      const { disparateImpact, statisticalParityDifference, ...want } = fx.groups[g.group];
      assert.deepEqual({ count: g.count, tp: g.tp, fp: g.fp, fn: g.fn, tn: g.tn }, want);
      assertClose(g.disparateImpact!, disparateImpact, 1e-15, `${g.group} disparate impact`);
      assertClose(g.statisticalParityDifference!, statisticalParityDifference, 1e-15, `${g.group} statistical parity difference`);
    }
  });

  it('disparate impact and statistical parity difference of a group are its selection-rate disparity against the reference', () => {
    const ref = report.groups.find((g) => g.group === report.reference)!;
    assert.deepEqual([ref.disparateImpact, ref.statisticalParityDifference], [1, 0]);
    for (const d of report.disparities.filter((x) => x.rate === 'selection_rate')) {
      const g = report.groups.find((x) => x.group === d.group)!;
      assert.equal(g.disparateImpact, d.ratio);
      assert.equal(g.statisticalParityDifference, d.difference);
      assert.ok(d.difference! < 0, 'signed: groups b and c are selected less often than a');
    }
  });

  it('disparities, tests and p-values against SciPy (Fisher for small expected counts, z-test otherwise)', () => {
    assert.equal(report.disparities.length, fx.disparities.length);
    for (const want of fx.disparities) {
      const got = report.disparities.find((d) => d.group === want.group && d.rate === want.metric)!;
      const label = `${want.group}/${want.metric}`;
      assertClose(got.value!, want.value, 1e-15, `${label} value`);
      assertClose(got.referenceValue!, want.referenceValue, 1e-15, `${label} reference`);
      assertClose(got.ratio!, want.ratio, 1e-14, `${label} ratio`);
      assertClose(got.difference!, want.difference, 1e-15, `${label} difference`);
      assert.equal(got.test, want.test, `${label} test`);
      const relErr = Math.abs(got.pValue! - want.pValue) / want.pValue;
      assert.ok(relErr < 1e-9, `${label} p ${got.pValue} vs ${want.pValue}`);
      assert.equal(got.significant, want.pValue < 0.05, `${label} significant`);
    }
    assert.ok(report.disparities.some((d) => d.test === 'fisher') && report.disparities.some((d) => d.test === 'z'));
  });

  it('flags only significant disparities outside [tau, 1/tau]', () => {
    assert.ok(report.flagged.length > 0);
    for (const d of report.disparities) {
      const outside = d.ratio! < 0.8 || d.ratio! > 1.25;
      assert.equal(d.flagged, d.significant && outside, `${d.group}/${d.rate}`);
    }
    assert.ok(report.disparities.some((d) => !d.significant && (d.ratio! < 0.8 || d.ratio! > 1.25)), 'an unflagged large but insignificant disparity exists');
    const strict = fairnessAudit(input, { alpha: 1e-30 });
    assert.equal(strict.flagged.length, 0);
    const everySignificant = fairnessAudit(input, { tau: 1 });
    assert.deepEqual(everySignificant.flagged.map((d) => `${d.group}/${d.rate}`), report.disparities.filter((d) => d.significant).map((d) => `${d.group}/${d.rate}`));
  });

  it("overall demographic parity difference and ratio (min/max over groups, Fairlearn's names), equalized-odds difference", () => {
    assertClose(report.overall.demographicParityDifference!, fx.overall.demographicParityDifference, 1e-15, 'dpd');
    assertClose(report.overall.demographicParityRatio!, fx.overall.demographicParityRatio, 1e-15, 'dpr');
    assert.equal('disparateImpact' in report.overall, false);
    assertClose(report.overall.equalizedOddsDifference!, fx.overall.equalizedOddsDifference, 1e-15, 'eod');
  });

  it('a chosen reference, forced tests, missing groups and undefined rates', () => {
    const r = fairnessAudit(input, { reference: 'b', test: 'fisher' });
    assert.equal(r.reference, 'b');
    assert.ok(r.disparities.every((d) => d.test === 'fisher' && d.group !== 'b'));
    const small = fairnessAudit({ yTrue: [1, 0, 1, 0, 0, 0], yPred: [1, 1, 0, 0, 0, 0], groups: ['x', 'x', 'x', 'x', null, null], attribute: 'g' });
    const missing = small.groups.find((g) => g.group === MISSING_GROUP)!;
    assert.equal(missing.count, 2);
    assert.equal(missing.rates.tpr, null);
    const tpr = small.disparities.find((d) => d.group === MISSING_GROUP && d.rate === 'tpr')!;
    assert.deepEqual([tpr.ratio, tpr.pValue, tpr.flagged], [null, null, false]);
    const sel = small.disparities.find((d) => d.group === MISSING_GROUP && d.rate === 'selection_rate')!;
    assert.equal(sel.ratio, 0);
  });

  it('rejects bad input naming the field', () => {
    assert.throws(() => fairnessAudit({ ...input, groups: ['a'] }), /groups \(region\): length 1 does not match yTrue length 600/);
    assert.throws(() => fairnessAudit({ ...input, yPred: fx.yPred.map(() => 0.7) }), /yPred: expected a binary label 0 or 1 at row 0/);
    assert.throws(() => fairnessAudit(input, { reference: 'zz' }), (e: unknown) => e instanceof MloopError && /reference: group "zz" does not occur in region/.test(e.message));
    assert.throws(() => fairnessAudit(input, { alpha: 0 }), /alpha: must be in \(0, 1\)/);
  });
});

describe('upgradeFairnessReport', () => {
  it("reads a report stored with the earlier overall names and no per-group parity as today's report", () => {
    const today = fairnessAudit(input);
    const { demographicParityDifference, demographicParityRatio, ...restOverall } = today.overall;
    const earlier = {
      ...today,
      overall: { ...restOverall, statisticalParityDifference: demographicParityDifference, disparateImpact: demographicParityRatio },
      groups: today.groups.map(({ disparateImpact: _d, statisticalParityDifference: _s, ...g }) => g),
    };
    assert.deepEqual(upgradeFairnessReport(earlier), today);
    assert.equal(upgradeFairnessReport(today), today);
  });
});
