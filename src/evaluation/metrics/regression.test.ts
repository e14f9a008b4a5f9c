import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MloopError } from '../../core/errors.ts';
import { assertClose, loadEvaluationFixture } from '../../../test/support/evaluation-fixtures.ts';
import { meanAbsoluteError, meanAbsolutePercentageError, r2Score, rootMeanSquaredError } from './regression.ts';

interface Case {
  name: string;
  yTrue: number[];
  yPred: number[];
  sampleWeight: number[] | null;
  expected: { mae: number; rmse: number; mape: number; r2: number };
}

const cases: Case[] = loadEvaluationFixture('regression').cases;

describe('regression metrics against scikit-learn 1.2.1', () => {
  for (const c of cases) {
    it(c.name, () => {
      const opts = c.sampleWeight ? { sampleWeight: c.sampleWeight } : {};
      assertClose(meanAbsoluteError(c.yTrue, c.yPred, opts), c.expected.mae, 1e-12, 'mae');
      assertClose(rootMeanSquaredError(c.yTrue, c.yPred, opts), c.expected.rmse, 1e-12, 'rmse');
      assertClose(meanAbsolutePercentageError(c.yTrue, c.yPred, opts), c.expected.mape, 1e-12, 'mape');
      assertClose(r2Score(c.yTrue, c.yPred, opts), c.expected.r2, 1e-12, 'r2');
    });
  }

  it('the degenerate cases are the ones scikit-learn defines', () => {
    const byName = new Map(cases.map((c) => [c.name, c.expected]));
    assert.equal(byName.get('perfect')!.r2, 1);
    assert.equal(byName.get('constant_target_perfect')!.r2, 1);
    assert.equal(byName.get('constant_target_imperfect')!.r2, 0);
    assert.ok(Number.isNaN(byName.get('single_sample')!.r2));
    assert.ok(byName.get('zero_targets')!.mape > 1e13);
  });

  it('rejects non-finite values and mismatched lengths', () => {
    assert.throws(() => meanAbsoluteError([1, NaN], [1, 2]), (e: unknown) => e instanceof MloopError && /yTrue: non-finite value at row 1/.test(e.message));
    assert.throws(() => r2Score([1, 2], [1]), /yPred: length 1 does not match yTrue length 2/);
    assert.throws(() => rootMeanSquaredError([1, 2], [1, Infinity]), /yPred: non-finite/);
  });
});
