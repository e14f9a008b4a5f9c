/**
 * Validation gates: a JSON spec declared per model, evaluated against numbers measured elsewhere
 * (metrics on a holdout, the champion's metrics on the same holdout, fairness reports, model size,
 * p99 latency). The gate computes nothing but the paired significance tests; it never measures.
 *
 * Champion comparisons follow MLflow's `MetricThreshold` (mlflow/models/evaluation/validation.py):
 * - `threshold`: candidate ≥ threshold (≤ when lower is better);
 * - `minAbsoluteChange` (> 0): candidate ≥ champion + change (≤ champion − change);
 * - `minRelativeChange` (in [0, 1]): (candidate − champion) / champion ≥ change (lower is better:
 *   (champion − candidate) / champion ≥ change), dividing by the signed champion value as MLflow does;
 *   a champion value of 0 falls back to candidate ≥ champion + 1e-10 (≤ champion − 1e-10);
 * - a metric missing from the candidate fails; a change threshold with the champion lacking the
 *   metric fails. mloop adds: with no champion at all (a first model) the comparison parts pass or
 *   fail as `whenNoChampion` says (default pass), and an optional paired significance check.
 */
import { z } from 'zod';
import { invalidParam } from '../core/errors.ts';
import { parseInput } from '../core/validation.ts';
import { pairedBootstrap } from './bootstrap.ts';
import { FAIRNESS_RATES, type Disparity, type FairnessRate, type FairnessReport } from './fairness.ts';
import { checkEvaluationData, getMetric, METRICS, predictions, type EvaluationData } from './metrics/registry.ts';
import { mcnemarTest } from './stats.ts';

const metricName = z.string().refine((m) => METRICS.has(m), {
  error: (issue) => `unknown metric ${JSON.stringify(issue.input)}; known: ${[...METRICS.keys()].join(', ')}`,
});
const checkName = z.string().min(1).max(200).optional();

const thresholdCheck = z.strictObject({
  kind: z.literal('threshold'),
  name: checkName,
  metric: metricName,
  op: z.enum(['>=', '<=']),
  value: z.number(),
});

const significanceSpec = z.strictObject({
  /** Paired bootstrap interval of the difference, or McNemar's test (accuracy only). */
  method: z.enum(['paired_bootstrap', 'mcnemar']),
  alpha: z.number().gt(0).lt(1).default(0.05),
  /** `better`: the candidate must be significantly better; `not_worse`: must not be significantly worse. */
  require: z.enum(['better', 'not_worse']).default('better'),
  nBootstrap: z.number().int().min(100).max(100_000).default(1000),
  seed: z.number().int().min(0).default(0),
});

const championCheck = z
  .strictObject({
    kind: z.literal('champion'),
    name: checkName,
    metric: metricName,
    greaterIsBetter: z.boolean().optional(),
    threshold: z.number().optional(),
    minAbsoluteChange: z.number().positive({ error: 'must be a positive number' }).optional(),
    minRelativeChange: z.number().min(0).max(1, { error: 'must be between 0 and 1' }).optional(),
    significance: significanceSpec.optional(),
    whenNoChampion: z.enum(['pass', 'fail']).default('pass'),
  })
  .refine((c) => c.threshold !== undefined || c.minAbsoluteChange !== undefined || c.minRelativeChange !== undefined || c.significance !== undefined, {
    error: 'no threshold was specified: give threshold, minAbsoluteChange, minRelativeChange or significance',
  })
  .refine((c) => c.significance?.method !== 'mcnemar' || c.metric === 'accuracy', {
    error: "McNemar's test compares accuracy; use method paired_bootstrap for other metrics",
    path: ['significance', 'method'],
  })
  .refine((c) => c.greaterIsBetter === undefined || c.greaterIsBetter === METRICS.get(c.metric)?.greaterIsBetter, {
    error: 'contradicts the metric: see the metric registry for which way is better',
    path: ['greaterIsBetter'],
  });

/**
 * Fairness measures a gate can bound. `disparate_impact` and `statistical_parity_difference` bound each
 * group's selection rate against the reference group's (ratio, signed difference: the report's
 * `selection_rate` disparities and the groups' fields of the same names); `<rate>_ratio` and
 * `<rate>_difference` do the same for the other rates. `demographic_parity_ratio` (min/max selection
 * rate), `demographic_parity_difference` (max − min) and `equalized_odds_difference` are single
 * numbers over all groups.
 */
export const FAIRNESS_MEASURES = [
  'disparate_impact',
  'statistical_parity_difference',
  'demographic_parity_ratio',
  'demographic_parity_difference',
  'equalized_odds_difference',
  ...FAIRNESS_RATES.flatMap((r) => [`${r}_ratio`, `${r}_difference`]),
] as const;

const fairnessCheck = z
  .strictObject({
    kind: z.literal('fairness'),
    name: checkName,
    attribute: z.string().min(1),
    measure: z.enum(FAIRNESS_MEASURES),
    min: z.number().optional(),
    max: z.number().optional(),
    /** Count only disparities that are statistically significant in the report. */
    significantOnly: z.boolean().default(false),
  })
  .refine((c) => c.min !== undefined || c.max !== undefined, { error: 'give min, max or both' })
  .refine((c) => c.min === undefined || c.max === undefined || c.min <= c.max, { error: 'min exceeds max', path: ['min'] });

const modelSizeCheck = z.strictObject({ kind: z.literal('model_size'), name: checkName, maxBytes: z.number().positive() });
const latencyCheck = z.strictObject({ kind: z.literal('latency'), name: checkName, maxP99Ms: z.number().positive() });

/** Schema of a gate spec; routes and the registry validate stored specs with it. */
export const gateSpecSchema = z.strictObject({
  checks: z
    .array(z.discriminatedUnion('kind', [thresholdCheck, championCheck, fairnessCheck, modelSizeCheck, latencyCheck]))
    .min(1, { error: 'a gate needs at least one check' }),
});

/** A validated gate spec (defaults filled in). */
export type GateSpec = z.output<typeof gateSpecSchema>;
/** A gate spec as written (defaults optional). */
export type GateSpecInput = z.input<typeof gateSpecSchema>;
/** One check of a spec. */
export type GateCheckSpec = GateSpec['checks'][number];

/** Validates a gate spec (e.g. parsed JSON), throwing an error that names each bad field. */
export function parseGateSpec(input: unknown): GateSpec {
  return parseInput(gateSpecSchema, input, 'gate');
}

/** The measured numbers a gate is evaluated against. */
export interface GateInput {
  /** The candidate's metrics on the holdout. */
  readonly metrics: Readonly<Record<string, number>>;
  /** The champion's metrics on the same holdout; null or absent when there is no champion. */
  readonly champion?: { readonly metrics: Readonly<Record<string, number>>; readonly label?: string } | null;
  /** Both models' predictions on the same holdout rows, for the significance checks. */
  readonly holdout?: { readonly candidate: EvaluationData; readonly champion: EvaluationData };
  /** Fairness reports keyed by protected attribute. */
  readonly fairness?: Readonly<Record<string, FairnessReport>>;
  readonly modelSizeBytes?: number;
  /** Measured p99 inference latency, milliseconds. */
  readonly latencyP99Ms?: number;
}

/** A number, text or flag reported with a check. */
export type GateValue = number | string | boolean | null;

/** Outcome of one check. */
export interface GateCheckResult {
  readonly name: string;
  readonly kind: GateCheckSpec['kind'];
  readonly passed: boolean;
  /** Human-readable reason, with the numbers. */
  readonly reason: string;
  /** The numbers behind the decision. */
  readonly values: Record<string, GateValue>;
}

/** Outcome of a gate: passed when every check passed. */
export interface GateResult {
  readonly passed: boolean;
  readonly checks: GateCheckResult[];
  /** One line: how many checks passed and which failed. */
  readonly summary: string;
}

function fmt(x: number | null | undefined): string {
  if (x === null || x === undefined) return 'n/a';
  if (!Number.isFinite(x)) return String(x);
  return String(Number(x.toPrecision(6)));
}

function metricValue(metrics: Readonly<Record<string, number>>, name: string): number | undefined {
  const v = metrics[name];
  return typeof v === 'number' && !Number.isNaN(v) ? v : undefined;
}

function thresholdResult(check: z.output<typeof thresholdCheck>, input: GateInput): Omit<GateCheckResult, 'name' | 'kind'> {
  const value = metricValue(input.metrics, check.metric);
  if (value === undefined) {
    return { passed: false, reason: `metric ${check.metric} is missing from the candidate's evaluation`, values: { value: null, threshold: check.value } };
  }
  const passed = check.op === '>=' ? value >= check.value : value <= check.value;
  return {
    passed,
    reason: `${check.metric} = ${fmt(value)} ${passed ? 'meets' : 'fails'} ${check.op} ${fmt(check.value)}`,
    values: { value, threshold: check.value },
  };
}

function championResult(check: z.output<typeof championCheck>, input: GateInput): Omit<GateCheckResult, 'name' | 'kind'> {
  const greater = check.greaterIsBetter ?? getMetric(check.metric).greaterIsBetter;
  const better = (a: number, b: number) => (greater ? a >= b : a <= b);
  const ge = greater ? '>=' : '<=';
  const candidate = metricValue(input.metrics, check.metric);
  const values: Record<string, GateValue> = { candidate: candidate ?? null, greaterIsBetter: greater };
  if (candidate === undefined) {
    return { passed: false, reason: `metric ${check.metric} is missing from the candidate's evaluation`, values };
  }
  const failures: string[] = [];
  const notes: string[] = [];
  if (check.threshold !== undefined) {
    values.threshold = check.threshold;
    if (better(candidate, check.threshold)) notes.push(`${check.metric} = ${fmt(candidate)} ${ge} threshold ${fmt(check.threshold)}`);
    else failures.push(`${check.metric} = ${fmt(candidate)} fails threshold ${ge} ${fmt(check.threshold)}`);
  }
  const comparing = check.minAbsoluteChange !== undefined || check.minRelativeChange !== undefined || check.significance !== undefined;
  if (comparing && (input.champion === null || input.champion === undefined)) {
    const msg = 'no champion to compare with';
    if (check.whenNoChampion === 'fail') failures.push(msg);
    else notes.push(`${msg} (comparison skipped)`);
  } else if (comparing && input.champion) {
    const label = input.champion.label ? `champion ${input.champion.label}` : 'champion';
    const champion = metricValue(input.champion.metrics, check.metric);
    values.champion = champion ?? null;
    if (champion === undefined) {
      failures.push(`metric ${check.metric} is missing from the ${label}'s evaluation`);
    } else {
      if (check.minAbsoluteChange !== undefined) {
        const bound = greater ? champion + check.minAbsoluteChange : champion - check.minAbsoluteChange;
        values.minAbsoluteChange = check.minAbsoluteChange;
        const text = `${fmt(candidate)} vs ${label} ${fmt(champion)}: needs ${ge} ${fmt(bound)} (min absolute change ${fmt(check.minAbsoluteChange)})`;
        (better(candidate, bound) ? notes : failures).push(text);
      }
      if (check.minRelativeChange !== undefined) {
        values.minRelativeChange = check.minRelativeChange;
        if (champion === 0) {
          const bound = greater ? champion + 1e-10 : champion - 1e-10;
          const text = `${label} ${check.metric} is 0, so the candidate (${fmt(candidate)}) must simply be better`;
          (better(candidate, bound) ? notes : failures).push(text);
        } else {
          const relative = greater ? (candidate - champion) / champion : (champion - candidate) / champion;
          values.relativeChange = relative;
          const text = `relative change ${fmt(relative)} vs ${label} (${fmt(champion)}) needs >= ${fmt(check.minRelativeChange)}`;
          (relative < check.minRelativeChange ? failures : notes).push(text);
        }
      }
      if (check.significance) {
        const sig = significance(check.metric, greater, check.significance, input);
        Object.assign(values, sig.values);
        (sig.passed ? notes : failures).push(sig.reason);
      }
    }
  }
  const passed = failures.length === 0;
  return { passed, reason: (passed ? notes : failures).join('; ') || 'passed', values };
}

function significance(
  metric: string,
  greater: boolean,
  spec: z.output<typeof significanceSpec>,
  input: GateInput,
): { passed: boolean; reason: string; values: Record<string, GateValue> } {
  if (!input.holdout) {
    return { passed: false, reason: 'significance check needs both models\' predictions on the holdout; none were given', values: {} };
  }
  const { candidate, champion } = input.holdout;
  checkEvaluationData(candidate);
  checkEvaluationData(champion);
  if (spec.method === 'mcnemar') {
    const n = candidate.yTrue.length;
    if (champion.yTrue.length !== n) throw invalidParam('holdout.champion.yTrue', `length ${champion.yTrue.length} does not match the candidate's ${n}`);
    const a = predictions(candidate);
    const b = predictions(champion);
    let onlyCandidate = 0;
    let onlyChampion = 0;
    for (let i = 0; i < n; i++) {
      if (candidate.yTrue[i] !== champion.yTrue[i]) throw invalidParam('holdout.champion.yTrue', `differs from the candidate's at row ${i}: not the same holdout`);
      const ra = a[i] === candidate.yTrue[i];
      const rb = b[i] === candidate.yTrue[i];
      if (ra && !rb) onlyCandidate++;
      else if (rb && !ra) onlyChampion++;
    }
    // Exact binomial for few discordant pairs, χ² with continuity correction otherwise.
    const t = mcnemarTest(onlyCandidate, onlyChampion, onlyCandidate + onlyChampion < 25);
    const significant = t.pValue < spec.alpha;
    const passed = spec.require === 'better' ? significant && onlyCandidate > onlyChampion : !(significant && onlyChampion > onlyCandidate);
    const verdict = !significant ? 'no significant difference' : onlyCandidate > onlyChampion ? 'candidate significantly better' : 'candidate significantly worse';
    return {
      passed,
      reason: `McNemar (${t.test === 'mcnemar_exact' ? 'exact' : 'χ²'}): candidate-only correct ${onlyCandidate}, champion-only correct ${onlyChampion}, p = ${fmt(t.pValue)} at alpha ${spec.alpha}: ${verdict} (requires ${spec.require.replace('_', ' ')})`,
      values: { test: t.test, pValue: t.pValue, candidateOnlyCorrect: onlyCandidate, championOnlyCorrect: onlyChampion },
    };
  }
  const boot = pairedBootstrap(metric, candidate, champion, { nBootstrap: spec.nBootstrap, seed: spec.seed, confidence: 1 - spec.alpha });
  if (boot.lower === null || boot.upper === null) {
    return { passed: false, reason: `paired bootstrap: ${metric} was undefined on every resample`, values: { nValid: boot.nValid } };
  }
  // Improvement is the difference signed so that positive means the candidate is better.
  const lo = greater ? boot.lower : -boot.upper;
  const hi = greater ? boot.upper : -boot.lower;
  const passed = spec.require === 'better' ? lo > 0 : hi >= 0;
  const level = `${fmt((1 - spec.alpha) * 100)}%`;
  return {
    passed,
    reason: `paired bootstrap ${level} interval of the ${metric} improvement [${fmt(lo)}, ${fmt(hi)}] (estimate ${fmt(greater ? boot.estimate : -boot.estimate)}, ${boot.nValid} resamples): ${
      lo > 0 ? 'candidate significantly better' : hi < 0 ? 'candidate significantly worse' : 'no significant difference'
    } (requires ${spec.require.replace('_', ' ')})`,
    values: { improvement: greater ? boot.estimate : -boot.estimate, improvementLower: lo, improvementUpper: hi, nValid: boot.nValid },
  };
}

/** The gate measures that are one number over all groups: the report field and how reasons name it. */
const OVERALL_MEASURES = {
  equalized_odds_difference: { field: 'equalizedOddsDifference', label: 'equalized-odds difference' },
  demographic_parity_ratio: { field: 'demographicParityRatio', label: 'demographic parity ratio' },
  demographic_parity_difference: { field: 'demographicParityDifference', label: 'demographic parity difference' },
} as const satisfies Record<string, { field: keyof FairnessReport['overall']; label: string }>;

function fairnessResult(check: z.output<typeof fairnessCheck>, input: GateInput): Omit<GateCheckResult, 'name' | 'kind'> {
  const report = input.fairness?.[check.attribute];
  const bounds = `[${fmt(check.min ?? -Infinity)}, ${fmt(check.max ?? Infinity)}]`;
  const within = (v: number) => (check.min === undefined || v >= check.min) && (check.max === undefined || v <= check.max);
  if (!report) return { passed: false, reason: `no fairness report for attribute ${check.attribute}`, values: {} };
  const overall = OVERALL_MEASURES[check.measure as keyof typeof OVERALL_MEASURES];
  if (overall) {
    const v = report.overall[overall.field];
    if (v === null) return { passed: false, reason: `${overall.label} for ${check.attribute} is undefined`, values: { value: null } };
    const passed = within(v);
    return { passed, reason: `${overall.label} for ${check.attribute} = ${fmt(v)} ${passed ? 'within' : 'outside'} ${bounds}`, values: { value: v } };
  }
  let rate: FairnessRate;
  let kind: 'ratio' | 'difference';
  if (check.measure === 'disparate_impact') [rate, kind] = ['selection_rate', 'ratio'];
  else if (check.measure === 'statistical_parity_difference') [rate, kind] = ['selection_rate', 'difference'];
  else {
    const m = /^(.*)_(ratio|difference)$/.exec(check.measure)!;
    [rate, kind] = [m[1] as FairnessRate, m[2] as 'ratio' | 'difference'];
  }
  const values: Record<string, GateValue> = { reference: report.reference };
  const violations: string[] = [];
  const parts: string[] = [];
  const considered = report.disparities.filter((d: Disparity) => d.rate === rate);
  for (const d of considered) {
    const v = kind === 'ratio' ? d.ratio : d.difference;
    values[d.group] = v;
    const p = d.pValue === null ? '' : `, p=${fmt(d.pValue)}`;
    if (v === null) {
      // A zero reference rate with a non-zero group rate is an unbounded ratio.
      const unbounded = kind === 'ratio' && d.difference !== null && d.difference !== 0;
      if (unbounded && (!check.significantOnly || d.significant)) violations.push(`${d.group} unbounded (reference rate 0${p})`);
      else parts.push(`${d.group} undefined`);
      continue;
    }
    if (within(v)) parts.push(`${d.group} ${fmt(v)}`);
    else if (check.significantOnly && !d.significant) parts.push(`${d.group} ${fmt(v)} (outside but not significant${p})`);
    else violations.push(`${d.group} ${fmt(v)} (outside${p})`);
  }
  const what = `${check.measure} for ${check.attribute} (reference ${report.reference}) within ${bounds}`;
  const passed = violations.length === 0;
  return {
    passed,
    reason: passed ? `${what}: ${parts.join(', ') || 'no other groups'}` : `${what} fails: ${violations.join(', ')}`,
    values,
  };
}

function budgetResult(what: string, measured: number | undefined, limit: number, unit: string): Omit<GateCheckResult, 'name' | 'kind'> {
  if (measured === undefined || !Number.isFinite(measured)) {
    return { passed: false, reason: `${what} was not measured`, values: { value: null, limit } };
  }
  const passed = measured <= limit;
  return { passed, reason: `${what} ${fmt(measured)} ${unit} ${passed ? '<=' : 'exceeds'} budget ${fmt(limit)} ${unit}`, values: { value: measured, limit } };
}

function defaultName(check: GateCheckSpec): string {
  switch (check.kind) {
    case 'threshold':
      return `${check.metric} ${check.op} ${check.value}`;
    case 'champion':
      return `${check.metric} vs champion`;
    case 'fairness':
      return `${check.measure} (${check.attribute})`;
    case 'model_size':
      return 'model size';
    case 'latency':
      return 'p99 latency';
  }
}

/** Evaluates every check of `spec` (validated here) against `input`. */
export function evaluateGate(spec: GateSpecInput | GateSpec, input: GateInput): GateResult {
  const parsed = parseGateSpec(spec);
  const checks: GateCheckResult[] = parsed.checks.map((check) => {
    let outcome: Omit<GateCheckResult, 'name' | 'kind'>;
    switch (check.kind) {
      case 'threshold':
        outcome = thresholdResult(check, input);
        break;
      case 'champion':
        outcome = championResult(check, input);
        break;
      case 'fairness':
        outcome = fairnessResult(check, input);
        break;
      case 'model_size':
        outcome = budgetResult('model size', input.modelSizeBytes, check.maxBytes, 'bytes');
        break;
      case 'latency':
        outcome = budgetResult('p99 latency', input.latencyP99Ms, check.maxP99Ms, 'ms');
        break;
    }
    return { name: check.name ?? defaultName(check), kind: check.kind, ...outcome };
  });
  const failed = checks.filter((c) => !c.passed);
  const summary =
    failed.length === 0
      ? `passed all ${checks.length} checks`
      : `failed ${failed.length} of ${checks.length} checks: ${failed.map((c) => c.name).join(', ')}`;
  return { passed: failed.length === 0, checks, summary };
}
