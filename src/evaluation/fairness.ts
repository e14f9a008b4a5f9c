/**
 * Fairness audit of a binary classifier in the manner of Aequitas: per group of a protected attribute,
 * the confusion counts and rates (selection rate, TPR, FPR, FNR, precision); each rate's disparity
 * against a reference group as a ratio and a difference, with a significance test; and three overall
 * measures as Fairlearn defines them.
 *
 * "Disparate impact" and "statistical parity difference" have one meaning here, as in Aequitas and
 * AIF360: a group's selection rate against the reference group's, as a ratio and a signed difference
 * (the `selection_rate` disparity; the gate's `disparate_impact` bound uses the same numbers). The
 * min/max comparison over all groups goes by Fairlearn's names, demographic parity ratio and difference.
 *
 * A disparity is flagged only when it is statistically significant (p < alpha) and its ratio lies
 * outside [tau, 1/tau] (Aequitas' "80% rule" with tau = 0.8; tau = 1 flags every significant
 * disparity). No multiple-testing correction is applied: with many groups, lower alpha.
 */
import { invalidParam } from '../core/errors.ts';
import { checkBinaryLabels, requireLength, requireNonEmpty, type Vector } from './metrics/common.ts';
import { fisherExactTest, twoProportionZTest, type TestResult } from './stats.ts';

/** Rates compared across groups. */
export type FairnessRate = 'selection_rate' | 'tpr' | 'fpr' | 'fnr' | 'precision';

/** Every {@link FairnessRate}, in report order. */
export const FAIRNESS_RATES: readonly FairnessRate[] = ['selection_rate', 'tpr', 'fpr', 'fnr', 'precision'];

/** Which test decides significance. */
export type FairnessTest = 'auto' | 'z' | 'fisher';

/** Input of {@link fairnessAudit}: labels, predicted labels and the protected attribute, row by row. */
export interface FairnessInput {
  /** True labels, 0 or 1 (1 = the favourable/positive outcome). */
  readonly yTrue: Vector;
  /** Predicted labels, 0 or 1. */
  readonly yPred: Vector;
  /** Group of each row; null is its own group, `(missing)`. */
  readonly groups: readonly (string | number | null)[];
  /** Name of the protected attribute, for the report. */
  readonly attribute: string;
}

/** Options of {@link fairnessAudit}. */
export interface FairnessOptions {
  /** Reference group; default the largest group (the first in sorted order on a tie). */
  readonly reference?: string;
  /** Significance level; default 0.05. */
  readonly alpha?: number;
  /** Flag threshold on the ratio, in (0, 1]; default 0.8 (flag ratios outside [0.8, 1.25]). */
  readonly tau?: number;
  /**
   * `'auto'` (default): Fisher's exact test when any expected count of the 2×2 table is below
   * `minExpected`, the pooled two-proportion z-test otherwise.
   */
  readonly test?: FairnessTest;
  /** Default 5. */
  readonly minExpected?: number;
}

/** Counts and rates of one group. Rates are null when their denominator is zero. */
export interface GroupStats {
  readonly group: string;
  readonly count: number;
  readonly tp: number;
  readonly fp: number;
  readonly tn: number;
  readonly fn: number;
  /** Rows with true label 1. */
  readonly labelPositives: number;
  /** Rows predicted 1. */
  readonly predictedPositives: number;
  readonly rates: Record<FairnessRate, number | null>;
  /** Selection rate / the reference group's (1 for the reference); null when undefined or the reference's is 0. */
  readonly disparateImpact: number | null;
  /** Selection rate − the reference group's, signed (0 for the reference). */
  readonly statisticalParityDifference: number | null;
}

/** One rate of one group compared with the reference group. */
export interface Disparity {
  readonly group: string;
  readonly rate: FairnessRate;
  readonly value: number | null;
  readonly referenceValue: number | null;
  /** value / referenceValue; null when either is undefined or the reference is 0. */
  readonly ratio: number | null;
  /** value − referenceValue; null when either is undefined. */
  readonly difference: number | null;
  readonly test: 'z' | 'fisher' | null;
  readonly pValue: number | null;
  readonly significant: boolean;
  readonly flagged: boolean;
}

/** Overall measures (Fairlearn's definitions and names), over every group with a defined rate. */
export interface FairnessOverall {
  /** max − min selection rate (Fairlearn's `demographic_parity_difference`). */
  readonly demographicParityDifference: number | null;
  /** min / max selection rate (Fairlearn's `demographic_parity_ratio`; null when every selection rate is 0). */
  readonly demographicParityRatio: number | null;
  /** max of (max − min TPR) and (max − min FPR). */
  readonly equalizedOddsDifference: number | null;
}

/** The structured result of an audit. */
export interface FairnessReport {
  readonly attribute: string;
  readonly reference: string;
  readonly alpha: number;
  readonly tau: number;
  readonly groups: GroupStats[];
  /** Every non-reference group × every rate. */
  readonly disparities: Disparity[];
  readonly overall: FairnessOverall;
  /** The disparities that are flagged (significant and outside [tau, 1/tau]). */
  readonly flagged: Disparity[];
}

/** Group label of missing attribute values. */
export const MISSING_GROUP = '(missing)';

/** The counts a rate is computed from. */
type GroupCounts = Pick<GroupStats, 'count' | 'tp' | 'fp' | 'tn' | 'fn' | 'predictedPositives'>;

/** Numerator and denominator of each rate. */
function fraction(g: GroupCounts, rate: FairnessRate): [number, number] {
  switch (rate) {
    case 'selection_rate':
      return [g.predictedPositives, g.count];
    case 'tpr':
      return [g.tp, g.tp + g.fn];
    case 'fpr':
      return [g.fp, g.fp + g.tn];
    case 'fnr':
      return [g.fn, g.tp + g.fn];
    case 'precision':
      return [g.tp, g.tp + g.fp];
  }
}

function chooseTest(k1: number, n1: number, k2: number, n2: number, test: FairnessTest, minExpected: number): TestResult {
  if (test === 'z') return twoProportionZTest(k1, n1, k2, n2);
  if (test === 'fisher') return fisherExactTest(k1, n1, k2, n2);
  const total = n1 + n2;
  const col = k1 + k2;
  const expected = Math.min(n1 * col, n1 * (total - col), n2 * col, n2 * (total - col)) / total;
  return expected < minExpected ? fisherExactTest(k1, n1, k2, n2) : twoProportionZTest(k1, n1, k2, n2);
}

function range(values: (number | null)[]): number | null {
  const xs = values.filter((v): v is number => v !== null);
  return xs.length === 0 ? null : Math.max(...xs) - Math.min(...xs);
}

/** Audits `input` for disparities between the groups of one protected attribute. */
export function fairnessAudit(input: FairnessInput, options: FairnessOptions = {}): FairnessReport {
  const { yTrue, yPred, groups: groupOf, attribute } = input;
  requireNonEmpty('yTrue', yTrue);
  requireLength('yPred', yPred, yTrue.length);
  if (groupOf.length !== yTrue.length) {
    throw invalidParam(`groups (${attribute})`, `length ${groupOf.length} does not match yTrue length ${yTrue.length}`);
  }
  checkBinaryLabels('yTrue', yTrue);
  checkBinaryLabels('yPred', yPred);
  const alpha = options.alpha ?? 0.05;
  if (!(alpha > 0 && alpha < 1)) throw invalidParam('alpha', `must be in (0, 1), got ${alpha}`);
  const tau = options.tau ?? 0.8;
  if (!(tau > 0 && tau <= 1)) throw invalidParam('tau', `must be in (0, 1], got ${tau}`);
  const test = options.test ?? 'auto';
  if (test !== 'auto' && test !== 'z' && test !== 'fisher') throw invalidParam('test', `unknown test ${JSON.stringify(test)}; expected auto, z or fisher`);
  const minExpected = options.minExpected ?? 5;

  const counts = new Map<string, { tp: number; fp: number; tn: number; fn: number }>();
  for (let i = 0; i < yTrue.length; i++) {
    const raw = groupOf[i];
    const key = raw === null || raw === undefined ? MISSING_GROUP : String(raw);
    let c = counts.get(key);
    if (!c) counts.set(key, (c = { tp: 0, fp: 0, tn: 0, fn: 0 }));
    if (yPred[i] === 1) yTrue[i] === 1 ? c.tp++ : c.fp++;
    else yTrue[i] === 1 ? c.fn++ : c.tn++;
  }
  const counted = [...counts.keys()].sort().map((group) => {
    const { tp, fp, tn, fn } = counts.get(group)!;
    const base = { group, count: tp + fp + tn + fn, tp, fp, tn, fn, labelPositives: tp + fn, predictedPositives: tp + fp };
    const rates = {} as Record<FairnessRate, number | null>;
    for (const rate of FAIRNESS_RATES) {
      const [k, n] = fraction(base, rate);
      rates[rate] = n === 0 ? null : k / n;
    }
    return { ...base, rates };
  });

  let reference = options.reference;
  if (reference === undefined) {
    reference = counted.reduce((best, g) => (g.count > best.count ? g : best)).group;
  } else if (!counts.has(reference)) {
    throw invalidParam('reference', `group ${JSON.stringify(reference)} does not occur in ${attribute}; groups: ${counted.map((g) => g.group).join(', ')}`);
  }
  const refSelection = counted.find((g) => g.group === reference)!.rates.selection_rate;
  const groups: GroupStats[] = counted.map((g) => {
    const v = g.rates.selection_rate;
    return {
      ...g,
      disparateImpact: v === null || refSelection === null || refSelection === 0 ? null : v / refSelection,
      statisticalParityDifference: v === null || refSelection === null ? null : v - refSelection,
    };
  });

  const ref = groups.find((g) => g.group === reference)!;
  const disparities: Disparity[] = [];
  for (const g of groups) {
    if (g === ref) continue;
    for (const rate of FAIRNESS_RATES) {
      const [k1, n1] = fraction(g, rate);
      const [k2, n2] = fraction(ref, rate);
      const value = g.rates[rate];
      const referenceValue = ref.rates[rate];
      if (value === null || referenceValue === null) {
        disparities.push({ group: g.group, rate, value, referenceValue, ratio: null, difference: null, test: null, pValue: null, significant: false, flagged: false });
        continue;
      }
      const ratio = referenceValue === 0 ? null : value / referenceValue;
      const difference = value - referenceValue;
      const t = chooseTest(k1, n1, k2, n2, test, minExpected);
      const significant = t.pValue < alpha;
      // A zero reference with a non-zero value is an unbounded ratio: outside any band.
      const outside = ratio === null ? difference !== 0 : ratio < tau || ratio > 1 / tau;
      disparities.push({
        group: g.group,
        rate,
        value,
        referenceValue,
        ratio,
        difference,
        test: t.test === 'fisher' ? 'fisher' : 'z',
        pValue: t.pValue,
        significant,
        flagged: significant && outside,
      });
    }
  }

  const selection = groups.map((g) => g.rates.selection_rate);
  const maxSelection = Math.max(...selection.map((v) => v ?? -Infinity));
  const minSelection = Math.min(...selection.map((v) => v ?? Infinity));
  const tprRange = range(groups.map((g) => g.rates.tpr));
  const fprRange = range(groups.map((g) => g.rates.fpr));
  const overall: FairnessOverall = {
    demographicParityDifference: range(selection),
    demographicParityRatio: maxSelection > 0 ? minSelection / maxSelection : null,
    equalizedOddsDifference: tprRange === null && fprRange === null ? null : Math.max(tprRange ?? 0, fprRange ?? 0),
  };

  return { attribute, reference, alpha, tau, groups, disparities, overall, flagged: disparities.filter((d) => d.flagged) };
}

/** The fields of a report stored before the overall pair took Fairlearn's names. */
interface EarlierFairnessReport extends Omit<FairnessReport, 'overall' | 'groups'> {
  readonly overall: Partial<FairnessOverall> & { readonly statisticalParityDifference?: number | null; readonly disparateImpact?: number | null };
  readonly groups: (Omit<GroupStats, 'disparateImpact' | 'statisticalParityDifference'> & Partial<GroupStats>)[];
}

/**
 * A stored report with today's fields. Earlier reports called the min/max selection-rate pair
 * `disparateImpact` and `statisticalParityDifference` (they are the demographic parity ratio and
 * difference) and gave no group its parity against the reference; both are filled in here.
 */
export function upgradeFairnessReport(stored: FairnessReport | EarlierFairnessReport): FairnessReport {
  const { overall, groups } = stored as EarlierFairnessReport;
  if (overall.demographicParityRatio !== undefined && groups.every((g) => g.disparateImpact !== undefined)) return stored as FairnessReport;
  const { statisticalParityDifference, disparateImpact, ...rest } = overall;
  const ref = groups.find((g) => g.group === stored.reference)?.rates.selection_rate ?? null;
  return {
    ...stored,
    overall: {
      demographicParityDifference: rest.demographicParityDifference ?? statisticalParityDifference ?? null,
      demographicParityRatio: rest.demographicParityRatio ?? disparateImpact ?? null,
      equalizedOddsDifference: rest.equalizedOddsDifference ?? null,
    },
    groups: groups.map((g) => {
      const v = g.rates.selection_rate;
      return {
        ...g,
        disparateImpact: g.disparateImpact ?? (v === null || ref === null || ref === 0 ? null : v / ref),
        statisticalParityDifference: g.statisticalParityDifference ?? (v === null || ref === null ? null : v - ref),
      };
    }),
  };
}
