/**
 * Histogram gradient boosting against its peers, same data, same run.
 *
 * 1. 200,000 × 30 generated binary rows (seeded; 3 features with 5% missing values), 50,000 test rows.
 *    Fit time of mloop vs scikit-learn 1.2.1 `HistGradientBoostingClassifier` with the same trees,
 *    leaves, bins, learning rate and min_samples_leaf, early stopping off on both sides; xgboost 1.7.4
 *    `hist` (leaf-wise, same leaves, bins, learning rate, no L2) for reference. Runs alternate between
 *    mloop and the peers; minimum and median of `reps` fits each (mloop's first fit, which also compiles
 *    and starts its worker, is reported apart). Test ROC AUC of all three.
 *    Goal: mloop time ÷ scikit-learn time ≤ 1.5, AUC no more than 0.003 below scikit-learn's.
 * 2. breast_cancer, 5-fold stratified (the folds of reference_metrics.json), default parameters: pooled
 *    ROC AUC. Goal: within 0.005 of `hist_gradient_boosting_default`.
 *
 * `npm run bench -- hgbt [reps]` (default 3).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Random } from '../src/core/random.ts';
import { rocAuc } from '../src/evaluation/metrics/classification.ts';
import { fitHistGradientBoosting } from '../src/training/trees/hgbt.ts';
import { hgbtFixture, loadCsv, subset } from '../src/training/trees/test-support.ts';
import type { Matrix } from '../src/training/types.ts';
import { progress, quantile, round, time } from './_stats.ts';

const TRAIN = 200_000;
const TEST = 50_000;
const COLS = 30;
const PARAMS = {
  max_iter: 100,
  learning_rate: 0.1,
  max_leaf_nodes: 31,
  max_depth: null,
  max_bins: 255,
  min_samples_leaf: 20,
  l2_regularization: 0,
  early_stopping: false,
} as const;

/** Rows with 10 linear signals, two interactions, a nonlinearity, noise features and some missing values. */
function generate(rows: number, rng: Random, weights: Float64Array): { x: Matrix; y: Float64Array } {
  const data = new Float64Array(rows * COLS);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const o = i * COLS;
    for (let c = 0; c < COLS; c++) data[o + c] = rng.normal();
    let z = 0;
    for (let c = 0; c < 10; c++) z += weights[c] * data[o + c];
    z += data[o] * data[o + 1] - 0.8 * data[o + 2] * data[o + 3] + Math.sin(3 * data[o + 4]) + (data[o + 5] > 1 ? 1 : 0);
    y[i] = rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
    for (const c of [6, 11, 17]) if (rng.next() < 0.05) data[o + c] = Number.NaN;
  }
  return { x: { rows, cols: COLS, data }, y };
}

function write(path: string, values: Float64Array): void {
  writeFileSync(path, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

/** One run of the Python peers on the data in `dir`. */
function peers(dir: string): { sklearn_s: number; sklearn_auc: number; xgboost_s: number; xgboost_auc: number; mloop_auc_by_sklearn: number | null } {
  const script = fileURLToPath(new URL('./hgbt-peers.py', import.meta.url));
  const run = spawnSync('/usr/bin/python3', [script, dir], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (run.status !== 0) throw new Error(`hgbt-peers.py failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!);
}

async function breastCancerCv(): Promise<{ roc_auc: number; reference: number; difference: number }> {
  const d = loadCsv('breast_cancer');
  const { folds } = hgbtFixture().cv.breast_cancer;
  const proba = new Float64Array(d.y.length);
  for (let k = 0; k < 5; k++) {
    const trainIdx = folds.flatMap((f, i) => (f === k ? [] : [i]));
    const testIdx = folds.flatMap((f, i) => (f === k ? [i] : []));
    const train = subset(d, trainIdx);
    const model = await fitHistGradientBoosting(train.x, { task: 'binary', values: train.y }, { task: 'binary', nClasses: 2, seed: 0 });
    const p = model.predict(subset(d, testIdx).x);
    testIdx.forEach((row, j) => (proba[row] = p[j]));
  }
  const auc = rocAuc(d.y, proba);
  const reference = 0.9944109719359442;
  return { roc_auc: round(auc, 6), reference, difference: round(auc - reference, 3) };
}

export async function main(args: string[]): Promise<unknown> {
  const reps = Number(args[0] ?? 3);
  const rng = new Random(20_240_601);
  const weights = Float64Array.from({ length: 10 }, () => rng.normal());
  const train = generate(TRAIN, rng, weights);
  const test = generate(TEST, rng, weights);
  const dir = mkdtempSync(join(tmpdir(), 'mloop-bench-hgbt-'));
  try {
    write(join(dir, 'X_train'), train.x.data);
    write(join(dir, 'y_train'), train.y);
    write(join(dir, 'X_test'), test.x.data);
    write(join(dir, 'y_test'), test.y);
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({ cols: COLS, params: PARAMS }));

    const fit = () => fitHistGradientBoosting(train.x, { task: 'binary', values: train.y }, { task: 'binary', nClasses: 2, seed: 0 }, PARAMS);
    progress('first fit (JIT warm-up, worker start)');
    const first = (await time(fit)) / 1000;
    const ours: number[] = [];
    const runs: ReturnType<typeof peers>[] = [];
    let proba: Float64Array = new Float64Array(0);
    for (let r = 0; r < reps; r++) {
      progress(`rep ${r + 1}/${reps}: mloop`);
      let model: Awaited<ReturnType<typeof fit>> | undefined;
      ours.push((await time(async () => (model = await fit()))) / 1000);
      if (r === 0) {
        proba = model!.predict(test.x);
        write(join(dir, 'mloop_proba'), proba);
      }
      progress(`rep ${r + 1}/${reps}: scikit-learn, xgboost`);
      runs.push(peers(dir));
    }
    const sk = runs.map((p) => p.sklearn_s);
    const xg = runs.map((p) => p.xgboost_s);
    const auc = rocAuc(test.y, proba);
    progress('breast_cancer 5-fold CV');
    const cv = await breastCancerCv();
    return {
      data: { train_rows: TRAIN, test_rows: TEST, features: COLS, missing: '5% in 3 features' },
      params: PARAMS,
      reps,
      mloop: { fit_s_min: round(Math.min(...ours)), fit_s_median: round(quantile(ours, 0.5)), first_fit_s: round(first), test_roc_auc: round(auc, 6) },
      sklearn: { fit_s_min: round(Math.min(...sk)), fit_s_median: round(quantile(sk, 0.5)), test_roc_auc: round(runs[0].sklearn_auc, 6) },
      xgboost_hist: { fit_s_min: round(Math.min(...xg)), fit_s_median: round(quantile(xg, 0.5)), test_roc_auc: round(runs[0].xgboost_auc, 6) },
      time_ratio_vs_sklearn: round(Math.min(...ours) / Math.min(...sk), 3),
      time_ratio_vs_sklearn_median: round(quantile(ours, 0.5) / quantile(sk, 0.5), 3),
      time_ratio_vs_xgboost: round(Math.min(...ours) / Math.min(...xg), 3),
      auc_minus_sklearn: round(auc - runs[0].sklearn_auc, 3),
      mloop_auc_checked_by_sklearn: runs[0].mloop_auc_by_sklearn === null ? null : round(runs[0].mloop_auc_by_sklearn, 6),
      goal: 'time_ratio_vs_sklearn <= 1.5 and auc_minus_sklearn >= -0.003',
      breast_cancer_cv: { ...cv, goal: '|difference| <= 0.005' },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
