/**
 * Percentile bootstrap intervals for any named metric, and the paired bootstrap of the difference
 * between two models scored on the same rows. Resamples come from a seeded {@link Random}.
 */
import { invalidParam, isMloopError } from '../core/errors.ts';
import { Random } from '../core/random.ts';
import { checkEvaluationData, computeMetric, getMetric, subsetData, type EvaluationData } from './metrics/registry.ts';
import { checkConfidence, percentileSorted } from './stats.ts';

/** Options of the bootstrap functions. */
export interface BootstrapOptions {
  /** Number of resamples; default 1000. */
  readonly nBootstrap?: number;
  /** Two-sided confidence level; default 0.95. */
  readonly confidence?: number;
  /** Seed of the resampling; default 0. */
  readonly seed?: number;
}

/** A point estimate with its percentile bootstrap interval. */
export interface BootstrapResult {
  /** The metric (or difference) on the full data. */
  readonly estimate: number;
  /** Interval bounds; null when no resample gave a defined value. */
  readonly lower: number | null;
  readonly upper: number | null;
  /**
   * Resamples on which the metric was defined (a resample with a single class has no ROC AUC; it is
   * skipped rather than counted). Fewer than `nBootstrap` means the interval is conditional on those.
   */
  readonly nValid: number;
  readonly nBootstrap: number;
}

function resolve(options: BootstrapOptions) {
  const nBootstrap = options.nBootstrap ?? 1000;
  if (!Number.isInteger(nBootstrap) || nBootstrap < 1) throw invalidParam('nBootstrap', `must be a positive integer, got ${nBootstrap}`);
  const confidence = options.confidence ?? 0.95;
  checkConfidence(confidence);
  return { nBootstrap, confidence, random: new Random(options.seed ?? 0) };
}

/** Runs `f`, returning undefined when it throws an `MloopError` (a metric undefined on a resample). */
function defined(f: () => number): number | undefined {
  try {
    const v = f();
    return Number.isNaN(v) ? undefined : v;
  } catch (err) {
    if (isMloopError(err)) return undefined;
    throw err;
  }
}

function interval(values: number[], confidence: number) {
  if (values.length === 0) return { lower: null, upper: null };
  const sorted = Float64Array.from(values).sort();
  const tail = ((1 - confidence) / 2) * 100;
  return { lower: percentileSorted(sorted, tail), upper: percentileSorted(sorted, 100 - tail) };
}

function resample(random: Random, n: number, out: Uint32Array): Uint32Array {
  for (let i = 0; i < n; i++) out[i] = random.int(n);
  return out;
}

/** A metric's value with its bootstrap interval, as reports show it. */
export interface MetricEstimate {
  /** Null when the metric is undefined on the data (`error` says why). */
  readonly value: number | null;
  /** Interval bounds; null without resamples or when no resample gave a defined value. */
  readonly lower: number | null;
  readonly upper: number | null;
  readonly error?: string;
}

/**
 * Metric `metric` on `data` with its percentile bootstrap interval (`n` resamples; none when 0), for
 * reports: a metric that is undefined on the data (one class only, a non-finite value) gives a null
 * value and the reason instead of an error.
 */
export function estimateMetric(metric: string, data: EvaluationData, options: { n: number; confidence: number; seed: number }): MetricEstimate {
  const undefinedAs = (value: number): MetricEstimate => ({ value: null, lower: null, upper: null, error: `${metric} is ${value}` });
  try {
    if (options.n === 0) {
      const value = computeMetric(metric, data);
      return Number.isFinite(value) ? { value, lower: null, upper: null } : undefinedAs(value);
    }
    const r = bootstrapMetric(metric, data, { nBootstrap: options.n, confidence: options.confidence, seed: options.seed });
    return Number.isFinite(r.estimate) ? { value: r.estimate, lower: r.lower, upper: r.upper } : undefinedAs(r.estimate);
  } catch (error) {
    if (isMloopError(error)) return { value: null, lower: null, upper: null, error: error.message };
    throw error;
  }
}

/** Percentile bootstrap interval of metric `metric` on `data` (rows resampled with replacement). */
export function bootstrapMetric(metric: string, data: EvaluationData, options: BootstrapOptions = {}): BootstrapResult {
  getMetric(metric);
  checkEvaluationData(data);
  const { nBootstrap, confidence, random } = resolve(options);
  const estimate = computeMetric(metric, data);
  const n = data.yTrue.length;
  const rows = new Uint32Array(n);
  const values: number[] = [];
  for (let b = 0; b < nBootstrap; b++) {
    const sample = subsetData(data, resample(random, n, rows));
    const v = defined(() => computeMetric(metric, sample));
    if (v !== undefined) values.push(v);
  }
  return { estimate, ...interval(values, confidence), nValid: values.length, nBootstrap };
}

/**
 * Paired bootstrap of `metric(candidate) − metric(champion)`: both models are scored on the same
 * resampled rows each time, so the interval reflects the difference, not two independent noises.
 * The two bundles must hold the same rows (`yTrue` equal element by element).
 */
export function pairedBootstrap(
  metric: string,
  candidate: EvaluationData,
  champion: EvaluationData,
  options: BootstrapOptions = {},
): BootstrapResult {
  getMetric(metric);
  checkEvaluationData(candidate);
  checkEvaluationData(champion);
  const n = candidate.yTrue.length;
  if (champion.yTrue.length !== n) {
    throw invalidParam('champion.yTrue', `length ${champion.yTrue.length} does not match the candidate's ${n}: not the same holdout`);
  }
  for (let i = 0; i < n; i++) {
    if (candidate.yTrue[i] !== champion.yTrue[i]) throw invalidParam('champion.yTrue', `differs from the candidate's at row ${i}: not the same holdout`);
  }
  const { nBootstrap, confidence, random } = resolve(options);
  const estimate = computeMetric(metric, candidate) - computeMetric(metric, champion);
  const rows = new Uint32Array(n);
  const values: number[] = [];
  for (let b = 0; b < nBootstrap; b++) {
    resample(random, n, rows);
    const v = defined(() => computeMetric(metric, subsetData(candidate, rows)) - computeMetric(metric, subsetData(champion, rows)));
    if (v !== undefined) values.push(v);
  }
  return { estimate, ...interval(values, confidence), nValid: values.length, nBootstrap };
}
