/**
 * breast_cancer, 5-fold stratified cross-validation (seed 0) through the training module's own CV code
 * (`src/training/cv.ts`: `stratifiedKFold` + `crossValidate`, the path `mloop tune` takes): ROC AUC of the
 * built-in logistic regression (standardized, C = 1) and of the histogram gradient-boosted trees
 * (defaults), from the pooled out-of-fold probabilities as `reference_metrics.json` was made, against
 * that file (goal: within 0.005 for both). Also reported in the same run: the mean and standard
 * deviation over folds, the same models on scikit-learn's own folds (`test/fixtures/training/cv_folds.json`),
 * and scikit-learn 1.2.1 (Debian's python3-sklearn) on mloop's folds, with fit times.
 *
 * Usage: npm run bench -- breast-cancer
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { crossValidate, encodeProblemTarget, stratifiedKFold, type CrossValidationResult } from '../src/training/cv.ts';
import { modelKind } from '../src/training/estimators.ts';
import type { Table } from '../src/training/types.ts';
import { progress, round, time } from './_stats.ts';

const FIXTURES = new URL('../test/fixtures/', import.meta.url);
const GOAL = 0.005;

const SKLEARN = `
import json, sys, time
import numpy as np, pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
df = pd.read_csv(sys.argv[1]); fold = np.array(json.loads(sys.argv[2]))
X = df.drop(columns='target').to_numpy(float); y = df['target'].to_numpy()
out = {}
for name, make in (('logistic', lambda: make_pipeline(StandardScaler(), LogisticRegression(C=1.0))), ('hgbt', lambda: HistGradientBoostingClassifier(random_state=0))):
    p = np.zeros(len(y)); t = time.perf_counter()
    for k in range(fold.max() + 1):
        tr, te = fold != k, fold == k
        p[te] = make().fit(X[tr], y[tr]).predict_proba(X[te])[:, 1]
    out[name] = {"roc_auc": roc_auc_score(y, p), "ms": (time.perf_counter() - t) * 1000}
print(json.dumps(out))
`;

function readCsv(text: string): Table {
  const lines = text.trim().split('\n');
  const header = lines[0].split(',');
  const rows = lines.length - 1;
  const columns = header.map((name) => ({ name, kind: 'numeric' as const, values: new Float64Array(rows) }));
  for (let r = 0; r < rows; r++) {
    const cells = lines[r + 1].split(',');
    for (let c = 0; c < header.length; c++) columns[c].values[r] = Number(cells[c]);
  }
  return { rows, columns };
}

async function cv(table: Table, kind: 'logistic_regression' | 'hist_gradient_boosting', params: Record<string, unknown>, folds: Int32Array): Promise<{ result: CrossValidationResult; ms: number }> {
  const spec = modelKind(kind);
  const features = table.columns.map((c) => c.name).filter((c) => c !== 'target');
  let result!: CrossValidationResult;
  const ms = await time(async () => {
    result = await crossValidate(table, { target: 'target', task: 'classification', features }, {
      folds,
      estimator: () => spec.create(spec.resolve(params)),
      seed: 0,
      metrics: ['roc_auc'],
    });
  });
  return { result, ms };
}

/** Runs the benchmark; returns the figures. */
export async function main(): Promise<unknown> {
  const csv = new URL('data/breast_cancer.csv', FIXTURES);
  const table = readCsv(readFileSync(csv, 'utf8'));
  const reference = JSON.parse(readFileSync(new URL('data/reference_metrics.json', FIXTURES), 'utf8')) as Record<string, { roc_auc: number }>;
  const target = encodeProblemTarget(table, { target: 'target', task: 'classification', features: [] });
  const folds = stratifiedKFold(target.values, 5, { seed: 0 });
  const sklearnFolds = Int32Array.from((JSON.parse(readFileSync(new URL('training/cv_folds.json', FIXTURES), 'utf8')) as { breast_cancer: number[] }).breast_cancer);

  progress('breast-cancer: scikit-learn on mloop’s folds');
  const py = spawnSync('/usr/bin/python3', ['-c', SKLEARN, csv.pathname, JSON.stringify(Array.from(folds))], { encoding: 'utf8' });
  const sk = py.status === 0 ? (JSON.parse(py.stdout) as Record<string, { roc_auc: number; ms: number }>) : undefined;
  if (!sk) progress(`breast-cancer: scikit-learn unavailable: ${py.stderr.split('\n').at(-2) ?? py.error?.message}`);

  const out: Record<string, unknown> = { folds: 'stratified 5-fold, seed 0 (mloop cv.ts)', metric: 'pooled out-of-fold ROC AUC', goal_abs_diff: GOAL };
  for (const [name, kind, params, key] of [
    ['logistic', 'logistic_regression', { C: 1 }, 'breast_cancer/logistic_regression_l2_C1_standardized/5fold_stratified_seed0'],
    ['hgbt', 'hist_gradient_boosting', {}, 'breast_cancer/hist_gradient_boosting_default/5fold_stratified_seed0'],
  ] as const) {
    progress(`breast-cancer: ${kind} on mloop’s folds and on scikit-learn’s`);
    const ours = await cv(table, kind, params, folds);
    const theirs = await cv(table, kind, params, sklearnFolds);
    const auc = ours.result.metrics.roc_auc;
    const ref = reference[key].roc_auc;
    out[name] = {
      roc_auc: round(auc.pooled!, 6),
      reference_roc_auc: round(ref, 6),
      abs_diff: Number(Math.abs(auc.pooled! - ref).toExponential(3)),
      within_goal: Math.abs(auc.pooled! - ref) <= GOAL,
      fold_mean: round(auc.mean!, 6),
      fold_std: round(auc.std!, 4),
      roc_auc_on_sklearn_folds: round(theirs.result.metrics.roc_auc.pooled!, 6),
      abs_diff_on_sklearn_folds: Number(Math.abs(theirs.result.metrics.roc_auc.pooled! - ref).toExponential(3)),
      mloop_cv_ms: round(ours.ms),
      ...(sk ? { sklearn_same_folds_roc_auc: round(sk[name].roc_auc, 6), sklearn_cv_ms: round(sk[name].ms) } : {}),
    };
  }
  return out;
}
