import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertAllClose, assertClose, loadEvaluationFixture } from '../../../test/support/evaluation-fixtures.ts';
import { calibrationCurve, expectedCalibrationError, type BinStrategy } from './calibration.ts';

interface Case {
  name: string;
  yTrue: number[];
  yProb: number[];
  nBins: number;
  strategy: BinStrategy;
  probTrue: number[];
  probPred: number[];
  counts: number[];
  ece: number;
}

const fixture = loadEvaluationFixture('calibration');

describe('calibration curve and ECE against sklearn.calibration.calibration_curve', () => {
  for (const c of fixture.cases as Case[]) {
    it(c.name, () => {
      const curve = calibrationCurve(c.yTrue, c.yProb, { nBins: c.nBins, strategy: c.strategy });
      assertAllClose(curve.bins.map((b) => b.fractionPositive), c.probTrue, 1e-12, 'prob_true');
      assertAllClose(curve.bins.map((b) => b.meanPredicted), c.probPred, 1e-12, 'prob_pred');
      assert.deepEqual(curve.bins.map((b) => b.count), c.counts);
      assert.equal(curve.edges.length, c.nBins + 1);
      assertClose(expectedCalibrationError(c.yTrue, c.yProb, { nBins: c.nBins, strategy: c.strategy }), c.ece, 1e-12, 'ece');
    });
  }

  it('top-label ECE of a multiclass problem', () => {
    const m = fixture.multiclass;
    const got = expectedCalibrationError(m.yTrue, { rows: m.yTrue.length, cols: m.nClasses, data: m.yProb }, { nBins: m.nBins });
    assertClose(got, m.ece, 1e-12, 'top-label ece');
  });

  it('a perfectly calibrated step has ECE 0 and the default curve has 5 bins', () => {
    const yTrue = [0, 0, 0, 0, 1, 1, 1, 1];
    const yProb = [0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75];
    const calibrated = [0, 0, 0, 1, 1, 1, 1, 0];
    assert.equal(expectedCalibrationError(calibrated, yProb), 0);
    assert.ok(expectedCalibrationError(yTrue, yProb) > 0.24);
    assert.equal(calibrationCurve(yTrue, yProb).edges.length, 6);
  });

  it('rejects probabilities outside [0, 1] and an unknown strategy', () => {
    assert.throws(() => calibrationCurve([0, 1], [0.5, 1.01]), /yProb: probability outside \[0, 1\] at index 1/);
    assert.throws(() => calibrationCurve([0, 1], [0.5, 0.2], { strategy: 'kmeans' as BinStrategy }), /strategy: unknown strategy "kmeans"/);
    assert.throws(() => calibrationCurve([0, 1], [0.5, 0.2], { nBins: 0 }), /nBins: must be a positive integer/);
  });
});
