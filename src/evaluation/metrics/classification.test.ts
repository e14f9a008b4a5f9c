import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MloopError } from '../../core/errors.ts';
import { assertClose, loadEvaluationFixture } from '../../../test/support/evaluation-fixtures.ts';
import {
  accuracy,
  averagePrecision,
  balancedAccuracy,
  brierScore,
  confusionMatrix,
  f1,
  labelsFromScores,
  logLoss,
  precision,
  precisionRecallF1,
  recall,
  rocAuc,
  type Average,
} from './classification.ts';

interface Case {
  name: string;
  nClasses: number;
  yTrue: number[];
  yPred: number[];
  yScore: number[];
  sampleWeight: number[] | null;
  expected: Record<string, any>;
}

const fixture = loadEvaluationFixture('classification');
const cases: Case[] = fixture.cases;
const TOL = 1e-12;

function scoresOf(c: Case) {
  return c.nClasses === 2 ? c.yScore : { rows: c.yTrue.length, cols: c.nClasses, data: c.yScore };
}

describe('classification metrics against scikit-learn 1.2.1', () => {
  for (const c of cases) {
    describe(c.name, () => {
      const opts = c.sampleWeight ? { sampleWeight: c.sampleWeight } : {};
      const e = c.expected;

      it('accuracy, balanced accuracy, confusion matrix', () => {
        assertClose(accuracy(c.yTrue, c.yPred, opts), e.accuracy, TOL, 'accuracy');
        assertClose(balancedAccuracy(c.yTrue, c.yPred, opts), e.balanced_accuracy, TOL, 'balanced_accuracy');
        const cm = confusionMatrix(c.yTrue, c.yPred, opts);
        assert.deepEqual(cm.labels, e.confusion_matrix.labels);
        cm.matrix.forEach((row, i) => row.forEach((x, j) => assertClose(x, e.confusion_matrix.matrix[i][j], TOL, `cm[${i}][${j}]`)));
        const all = confusionMatrix(c.yTrue, c.yPred, { ...opts, labels: Array.from({ length: c.nClasses }, (_, i) => i) });
        all.matrix.forEach((row, i) => row.forEach((x, j) => assertClose(x, e.confusion_matrix_all_labels[i][j], TOL, `cm all[${i}][${j}]`)));
      });

      it('precision, recall and F1 for every average and zero_division', () => {
        const averages: Average[] = c.nClasses === 2 ? ['binary', 'macro', 'micro', 'weighted'] : ['macro', 'micro', 'weighted'];
        for (const average of averages) {
          for (const zeroDivision of [0, 1] as const) {
            const got = precisionRecallF1(c.yTrue, c.yPred, { ...opts, average, zeroDivision });
            const want = e[`prf:${average}:${zeroDivision}`];
            for (const k of ['precision', 'recall', 'f1'] as const) {
              assertClose(got[k], want[k], TOL, `${k} ${average} zero_division=${zeroDivision}`);
            }
          }
        }
        if (c.nClasses > 2) {
          const got = precisionRecallF1(c.yTrue, c.yPred, { ...opts, average: 'macro', labels: [0, 1, 2, 3] });
          const want = e['prf:macro:0:all_labels'];
          for (const k of ['precision', 'recall', 'f1'] as const) assertClose(got[k], want[k], TOL, `${k} macro, all labels`);
        }
      });

      it('ROC AUC (an error exactly where scikit-learn raises)', () => {
        if (e.roc_auc.error !== undefined) {
          assert.throws(() => rocAuc(c.yTrue, scoresOf(c), opts), MloopError);
        } else {
          assertClose(rocAuc(c.yTrue, scoresOf(c), opts), e.roc_auc, TOL, 'roc_auc');
        }
      });

      it('log loss (and, binary, average precision and Brier score)', () => {
        assertClose(logLoss(c.yTrue, scoresOf(c), opts), e.log_loss, 1e-10, 'log_loss');
        if (c.nClasses !== 2) return;
        assertClose(brierScore(c.yTrue, c.yScore, opts), e.brier_score, TOL, 'brier');
        if (c.yTrue.some((y) => y === 1)) {
          assertClose(averagePrecision(c.yTrue, c.yScore, opts), e.average_precision, TOL, 'average_precision');
        } else {
          // scikit-learn returns 0 with a warning; mloop calls the metric undefined.
          assert.ok(e.average_precision === 0);
          assert.throws(() => averagePrecision(c.yTrue, c.yScore, opts), /no positive label/);
        }
      });
    });
  }
});

describe('classification metrics: properties and bad input', () => {
  it('binary shorthands agree with precisionRecallF1 and a 2-column score matrix equals its column 1', () => {
    const c = cases.find((x) => x.name === 'binary_ties')!;
    const all = precisionRecallF1(c.yTrue, c.yPred);
    assert.equal(precision(c.yTrue, c.yPred), all.precision);
    assert.equal(recall(c.yTrue, c.yPred), all.recall);
    assert.equal(f1(c.yTrue, c.yPred), all.f1);
    const two = new Float64Array(c.yScore.length * 2);
    c.yScore.forEach((p, i) => {
      two[2 * i] = 1 - p;
      two[2 * i + 1] = p;
    });
    assert.equal(rocAuc(c.yTrue, { rows: c.yScore.length, cols: 2, data: two }), rocAuc(c.yTrue, c.yScore));
    assert.equal(rocAuc(Float64Array.from(c.yTrue), Float64Array.from(c.yScore)), rocAuc(c.yTrue, c.yScore));
  });

  it('ROC AUC of a hand-made tie: one positive and one negative at the same score count half', () => {
    assert.equal(rocAuc([0, 1], [0.5, 0.5]), 0.5);
    assert.equal(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 0.75);
    assertClose(averagePrecision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 0.8333333333333333, 1e-15, 'sklearn docstring AP');
  });

  it('micro-averaged F1 of a multiclass problem equals accuracy', () => {
    const c = cases.find((x) => x.name === 'multiclass_ties')!;
    assertClose(f1(c.yTrue, c.yPred, { average: 'micro' }), accuracy(c.yTrue, c.yPred), 1e-15, 'micro f1');
  });

  it('zero-weight rows change nothing', () => {
    const c = cases.find((x) => x.name === 'binary_continuous')!;
    const yTrue = [...c.yTrue, 1, 0];
    const yScore = [...c.yScore, 0.0, 1.0];
    const yPred = [...c.yPred, 0, 1];
    const w = [...c.yTrue.map(() => 1), 0, 0];
    assertClose(rocAuc(yTrue, yScore, { sampleWeight: w }), rocAuc(c.yTrue, c.yScore), 1e-15, 'auc');
    assertClose(averagePrecision(yTrue, yScore, { sampleWeight: w }), averagePrecision(c.yTrue, c.yScore), 1e-15, 'ap');
    assertClose(accuracy(yTrue, yPred, { sampleWeight: w }), accuracy(c.yTrue, c.yPred), 1e-15, 'accuracy');
  });

  it('labels from scores: threshold 0.5 goes to class 0, arg-max picks the first of ties', () => {
    assert.deepEqual([...labelsFromScores([0.2, 0.5, 0.51])], [0, 0, 1]);
    assert.deepEqual([...labelsFromScores({ rows: 2, cols: 3, data: [0.2, 0.4, 0.4, 0.5, 0.3, 0.2] })], [1, 0]);
  });

  it('rejects bad input with the field and the reason', () => {
    const check = (f: () => unknown, field: string, pattern: RegExp) =>
      assert.throws(f, (err: unknown) => err instanceof MloopError && err.fields[0]?.field === field && pattern.test(err.message));
    check(() => accuracy([0, 1, 1], [0, 1]), 'yPred', /length 2 does not match yTrue length 3/);
    check(() => accuracy([], []), 'yTrue', /empty/);
    check(() => accuracy([0, 1.5], [0, 1]), 'yTrue', /class index.*row 1/);
    check(() => logLoss([0, 1], [0.2, 1.2]), 'yProb', /outside \[0, 1\].*1\.2/);
    check(() => brierScore([0, 1], [-0.1, 0.5]), 'yProb', /outside \[0, 1\]/);
    check(() => rocAuc([1, 1, 1], [0.2, 0.3, 0.9]), 'yTrue', /only class 1 is present/);
    check(() => rocAuc([0, 1], [0.2, NaN]), 'yScore', /non-finite/);
    check(() => f1([0, 1, 2], [0, 1, 2]), 'average', /'binary' needs classes 0 and 1/);
    check(() => f1([0, 1], [0, 1], { average: 'samples' as Average }), 'average', /unknown average/);
    check(() => accuracy([0, 1], [0, 1], { sampleWeight: [1, -1] }), 'sampleWeight', /weight >= 0 at row 1/);
    check(() => accuracy([0, 1], [0, 1], { sampleWeight: [0, 0] }), 'sampleWeight', /sum to zero/);
    check(() => rocAuc([0, 1, 2], { rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0.5, 0] }), 'yScore', /row 2 sums to 0.5/);
    check(() => rocAuc([0, 1, 1], { rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 1, 0] }), 'yTrue', /class 2 never occurs/);
    check(() => logLoss([0, 3], { rows: 2, cols: 3, data: [1, 0, 0, 0, 1, 0] }), 'yTrue', /class 2|class 3/);
  });
});
