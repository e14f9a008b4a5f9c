/**
 * Logistic regression against scikit-learn 1.2.1 in the same run.
 *
 * Speed and agreement: 200,000 × 30 generated binary rows (fixed seed); the fit time of mloop's
 * L-BFGS logistic regression ÷ the fit time of `LogisticRegression(solver='lbfgs')` on the same data
 * (written to a file and read by /usr/bin/python3; only the fits are timed, median of `repeats`),
 * and the largest absolute coefficient difference. Goals: ratio ≤ 2, difference ≤ 1e-4.
 * mloop's first fit also pays for starting its gradient worker; it is reported apart (`mloop_cold_ms`).
 * The quality goal on breast_cancer (5-fold stratified CV ROC AUC against `reference_metrics.json`) is
 * `npm run bench -- breast-cancer`, through the training module's own cross-validation.
 *
 * Usage: npm run bench -- logistic [rows=200000] [repeats=5]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '../src/core/random.ts';
import { fitLogisticRegression, warmLogisticWorkers } from '../src/training/linear/logistic.ts';
import { sharedMatrix } from '../src/training/matrix.ts';
import type { Target } from '../src/training/types.ts';
import { progress, quantile, round, time } from './_stats.ts';

const PYTHON = '/usr/bin/python3';

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

function python(script: string, args: string[]): unknown {
  const r = spawnSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}
