import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertClose, loadEvaluationFixture } from '../../test/support/evaluation-fixtures.ts';
import {
  binomialCdf,
  chiSquareSf,
  fisherExactTest,
  logGamma,
  mcnemarTest,
  normalCdf,
  normalQuantile,
  normalSf,
  percentileSorted,
  twoProportionZTest,
  wilsonInterval,
} from './stats.ts';

const f = loadEvaluationFixture('stats');

/** Relative closeness, for p-values spanning many orders of magnitude. */
function assertRel(actual: number, expected: number, rel: number, message: string) {
  const err = Math.abs(actual - expected);
  assert.ok(err <= rel * Math.abs(expected) || err < 1e-300, `${message}: got ${actual}, expected ${expected}`);
}

describe('statistics against SciPy', () => {
  it('normal CDF and survival function, including far tails', () => {
    for (const { z, cdf, sf } of f.normal) {
      assertRel(normalCdf(z), cdf, 1e-12, `cdf(${z})`);
      assertRel(normalSf(z), sf, 1e-12, `sf(${z})`);
    }
  });

  it('normal quantile', () => {
    for (const { p, value } of f.quantile) assertClose(normalQuantile(p), value, 1e-12, `ppf(${p})`);
    assert.equal(normalQuantile(0.5), 0);
    assert.throws(() => normalQuantile(1.5), /p: must be a probability/);
  });

  it('chi-square survival, binomial CDF, log-gamma', () => {
    for (const { x, df, sf } of f.chiSquare) assertRel(chiSquareSf(x, df), sf, 1e-12, `chi2.sf(${x}, ${df})`);
    for (const { k, n, p, cdf } of f.binomialCdf) assertRel(binomialCdf(k, n, p), cdf, 1e-11, `binom.cdf(${k}, ${n}, ${p})`);
    for (const { x, value } of f.logGamma) assertClose(logGamma(x), value, 1e-13, `lgamma(${x})`);
  });

  it("Fisher's exact test (two-sided) and the pooled two-proportion z-test", () => {
    for (const t of f.fisher) {
      const r = fisherExactTest(t.k1, t.n1, t.k2, t.n2);
      assertRel(r.pValue, t.pValue, 1e-10, `fisher p ${JSON.stringify(t)}`);
      if (Number.isFinite(t.oddsRatio)) assertRel(r.statistic, t.oddsRatio, 1e-12, 'odds ratio');
      else assert.equal(r.statistic, t.oddsRatio);
    }
    for (const t of f.zTest) {
      const r = twoProportionZTest(t.k1, t.n1, t.k2, t.n2);
      assertClose(r.statistic, t.z, 1e-12, 'z');
      assertRel(r.pValue, t.pValue, 1e-11, `z-test p ${JSON.stringify(t)}`);
    }
  });

  it('Wilson score interval (scipy binomtest(...).proportion_ci(method="wilson"))', () => {
    for (const t of f.wilson) {
      const ci = wilsonInterval(t.k, t.n, t.confidence);
      assertClose(ci.lower, t.lower, 1e-12, `lower ${t.k}/${t.n}`);
      assertClose(ci.upper, t.upper, 1e-12, `upper ${t.k}/${t.n}`);
    }
  });

  it("McNemar's test: exact binomial and χ² with continuity correction", () => {
    for (const t of f.mcnemar) {
      assertRel(mcnemarTest(t.b, t.c, true).pValue, t.exactPValue, 1e-11, `exact ${t.b},${t.c}`);
      const chi = mcnemarTest(t.b, t.c, false);
      assertClose(chi.statistic, t.chi2Statistic, 1e-12, 'chi2 statistic');
      assertRel(chi.pValue, t.chi2PValue, 1e-11, `chi2 ${t.b},${t.c}`);
    }
  });

  it("numpy's linear percentile", () => {
    for (const { q, value } of f.percentile.cases) assertClose(percentileSorted(f.percentile.sorted, q), value, 1e-15, `q=${q}`);
  });

  it('rejects impossible counts', () => {
    assert.throws(() => fisherExactTest(5, 4, 1, 3), /k1: exceeds n1/);
    assert.throws(() => twoProportionZTest(0, 0, 1, 3), /n1: a proportion needs at least one trial/);
    assert.throws(() => mcnemarTest(1.5, 2, true), /b: must be a non-negative integer/);
    assert.throws(() => wilsonInterval(1, 3, 1), /confidence: must be in \(0, 1\)/);
  });
});
