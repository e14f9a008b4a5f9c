/**
 * Logistic regression against scikit-learn 1.2.1 in the same run.
 *
 * 1. Speed and agreement: 200,000 × 30 generated binary rows (fixed seed); the fit time of mloop's
 *    L-BFGS logistic regression ÷ the fit time of `LogisticRegression(solver='lbfgs')` on the same data
 *    (written to a file and read by /usr/bin/python3; only the fits are timed, median of `repeats`),
 *    and the largest absolute coefficient difference. Goals: ratio ≤ 2, difference ≤ 1e-4.
 *    mloop's first fit also pays for starting its gradient worker; it is reported apart (`mloop_cold_ms`).
 * 2. Quality: 5-fold stratified CV (seed 0) ROC AUC on breast_cancer, standardized per fold, C = 1,
 *    from the pooled out-of-fold probabilities, against `reference_metrics.json` (goal: within 0.005)
 *    and against scikit-learn on the very same folds.
 *
 * Usage: npm run bench -- logistic [rows=200000] [repeats=5]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '../src/core/random.ts';
import { fitLogisticRegression, warmLogisticWorkers } from '../src/training/linear/logistic.ts';
import { sharedMatrix } from '../src/training/matrix.ts';
import { fitPreprocessor, splitTable } from '../src/training/preprocess.ts';
import type { Table, Target } from '../src/training/types.ts';
import { progress, quantile, round, time } from './_stats.ts';

const PYTHON = '/usr/bin/python3';
const FIXTURES = new URL('../test/fixtures/data/', import.meta.url);

const SKLEARN_FIT = `
import json, sys, time
import numpy as np
from sklearn.linear_model import LogisticRegression
path, n, d, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
X = np.fromfile(path + '/x.f64', dtype='<f8').reshape(n, d)
y = np.fromfile(path + '/y.f64', dtype='<f8')
times = []
for _ in range(repeats):
    t = time.perf_counter()
    m = LogisticRegression(solver='lbfgs').fit(X, y)
    times.append((time.perf_counter() - t) * 1000)
print(json.dumps({"times_ms": times, "coef": m.coef_[0].tolist(), "intercept": float(m.intercept_[0]), "n_iter": int(m.n_iter_[0])}))
`;

const SKLEARN_CV = `
import json, sys
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
df = pd.read_csv(sys.argv[1]); fold = np.array(json.loads(sys.argv[2]))
X = df.drop(columns='target').to_numpy(float); y = df['target'].to_numpy()
p = np.zeros(len(y))
for k in range(fold.max() + 1):
    tr, te = fold != k, fold == k
    p[te] = make_pipeline(StandardScaler(), LogisticRegression(C=1.0)).fit(X[tr], y[tr]).predict_proba(X[te])[:, 1]
print(json.dumps({"roc_auc": roc_auc_score(y, p)}))
`;

export async function main(args: string[]): Promise<unknown> {
  const rows = Number(args[0] ?? 200_000);
  const repeats = Number(args[1] ?? 5);
  const cols = 30;
  progress(`logistic: generating ${rows} × ${cols} rows`);
  const { x, target } = generate(rows, cols, 20240601);
  const dir = mkdtempSync(join(tmpdir(), 'mloop-bench-logistic-'));
  try {
    writeFileSync(join(dir, 'x.f64'), new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength));
    writeFileSync(join(dir, 'y.f64'), new Uint8Array(target.values.buffer));
    progress('logistic: scikit-learn fits');
    const sk = python(SKLEARN_FIT, [dir, String(rows), String(cols), String(repeats)]) as { times_ms: number[]; coef: number[]; intercept: number; n_iter: number };

    progress('logistic: mloop fits');
    const options = { task: 'binary' as const, nClasses: 2, seed: 0 };
    let model!: Awaited<ReturnType<typeof fitLogisticRegression>>;
    const coldMs = await time(async () => {
      model = await fitLogisticRegression(x, target, options);
    });
    await warmLogisticWorkers();
    const ms: number[] = [];
    for (let r = 0; r < repeats; r++) {
      ms.push(await time(async () => {
        model = await fitLogisticRegression(x, target, options);
      }));
    }
    let coefDiff = Math.abs(model.intercept[0] - sk.intercept);
    for (let j = 0; j < cols; j++) coefDiff = Math.max(coefDiff, Math.abs(model.coef[j] - sk.coef[j]));
    const mloopMs = quantile(ms, 0.5);
    const sklearnMs = quantile(sk.times_ms, 0.5);

    progress('logistic: breast_cancer 5-fold stratified CV');
    const cv = await breastCancerCv();
    return {
      rows,
      cols,
      repeats,
      mloop_ms: round(mloopMs),
      mloop_cold_ms: round(coldMs),
      sklearn_ms: round(sklearnMs),
      time_ratio: round(mloopMs / sklearnMs, 3),
      time_ratio_goal: 2,
      max_coef_abs_diff: Number(coefDiff.toExponential(3)),
      coef_diff_goal: 1e-4,
      mloop_iterations: model.info?.iterations,
      mloop_threads: model.info?.threads,
      sklearn_iterations: sk.n_iter,
      ...cv,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Features N(0, 1) with mild correlation, labels drawn from a logistic model; in shared memory, as mloop's preprocessing lays out large data. */
function generate(rows: number, cols: number, seed: number): { x: ReturnType<typeof sharedMatrix>; target: Target } {
  const rng = new Random(seed);
  const w = Float64Array.from({ length: cols }, () => 0.5 * rng.normal());
  const x = sharedMatrix(rows, cols);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    const common = rng.normal();
    let z = 0.3;
    for (let j = 0; j < cols; j++) {
      const v = rng.normal() + 0.3 * common;
      x.data[o + j] = v;
      z += v * w[j];
    }
    y[i] = rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  return { x, target: { task: 'binary', values: y, classes: ['0', '1'] } };
}

async function breastCancerCv(): Promise<Record<string, number>> {
  const csv = new URL('breast_cancer.csv', FIXTURES);
  const table = readCsv(readFileSync(csv, 'utf8'));
  const { features, target } = splitTable(table, { target: 'target', task: 'classification' });
  const fold = stratifiedFolds(target.values, 5, new Random(0));
  const proba = new Float64Array(table.rows);
  for (let k = 0; k < 5; k++) {
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < table.rows; i++) (fold[i] === k ? test : train).push(i);
    const pre = fitPreprocessor(subset(features, train));
    const model = await fitLogisticRegression(pre.transform(subset(features, train)), { ...target, values: Float64Array.from(train, (i) => target.values[i]) }, { task: 'binary', nClasses: 2, seed: 0 }, { C: 1 });
    const p = model.predict(pre.transform(subset(features, test)));
    test.forEach((row, i) => (proba[row] = p[i]));
  }
  const auc = rocAuc(target.values, proba);
  const reference = JSON.parse(readFileSync(new URL('reference_metrics.json', FIXTURES), 'utf8'))['breast_cancer/logistic_regression_l2_C1_standardized/5fold_stratified_seed0'].roc_auc as number;
  const sameFolds = python(SKLEARN_CV, [csv.pathname, JSON.stringify(Array.from(fold))]) as { roc_auc: number };
  return {
    breast_cancer_cv_roc_auc: round(auc, 6),
    breast_cancer_reference_roc_auc: round(reference, 6),
    breast_cancer_roc_auc_abs_diff: Number(Math.abs(auc - reference).toExponential(3)),
    breast_cancer_roc_auc_goal: 0.005,
    breast_cancer_sklearn_same_folds_roc_auc: round(sameFolds.roc_auc, 6),
  };
}

/** Stratified k-fold: each class's rows, shuffled, dealt to folds in turn (fold of each row). */
function stratifiedFolds(y: Float64Array, k: number, rng: Random): Int32Array {
  const fold = new Int32Array(y.length);
  const classes = [...new Set(y)].sort((a, b) => a - b);
  let offset = 0;
  for (const c of classes) {
    const rows = rng.shuffle(Array.from(y.keys()).filter((i) => y[i] === c));
    rows.forEach((row, i) => (fold[row] = (offset + i) % k));
    offset += rows.length;
  }
  return fold;
}

/** ROC AUC by the rank-sum (Mann–Whitney) formula, ties as half. */
function rocAuc(y: Float64Array, score: Float64Array): number {
  const order = Array.from(score.keys()).sort((a, b) => score[a] - score[b]);
  const rank = new Float64Array(y.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && score[order[j + 1]] === score[order[i]]) j++;
    for (let t = i; t <= j; t++) rank[order[t]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  let pos = 0;
  let sum = 0;
  for (let i = 0; i < y.length; i++) {
    if (y[i] === 1) {
      pos++;
      sum += rank[i];
    }
  }
  const neg = y.length - pos;
  return (sum - (pos * (pos + 1)) / 2) / (pos * neg);
}

function readCsv(text: string): Table {
  const lines = text.trim().split('\n');
  const header = lines[0].split(',');
  const rows = lines.length - 1;
  const columns = header.map((name) => ({ name, kind: 'numeric' as const, values: new Float64Array(rows) }));
  for (let r = 0; r < rows; r++) lines[r + 1].split(',').forEach((v, c) => (columns[c].values[r] = Number(v)));
  return { rows, columns };
}

function subset(t: Table, rows: number[]): Table {
  return { rows: rows.length, columns: t.columns.map((c) => ({ name: c.name, kind: 'numeric' as const, values: Float64Array.from(rows, (i) => (c.values as Float64Array)[i]) })) };
}

function python(script: string, args: string[]): unknown {
  const r = spawnSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}
