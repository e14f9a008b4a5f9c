/**
 * Loaders of the committed oracle data for the tests and the benchmark of this folder: the real data
 * sets in `test/fixtures/data/` and the scikit-learn/xgboost fixture `test/fixtures/training/hgbt.json`
 * written by `scripts/fixtures/hgbt.py`.
 */
import { readFileSync } from 'node:fs';
import type { Matrix } from '../types.ts';

const FIXTURES = new URL('../../../test/fixtures/', import.meta.url);

/** A data set: features and target (class indices or values). */
export interface Dataset {
  readonly x: Matrix;
  readonly y: Float64Array;
}

/** Reads `test/fixtures/data/<name>.csv`: every column but the last is a feature, the last is the target. */
export function loadCsv(name: 'breast_cancer' | 'wine' | 'diabetes'): Dataset {
  const lines = readFileSync(new URL(`data/${name}.csv`, FIXTURES), 'utf8').trim().split('\n').slice(1);
  const cols = lines[0].split(',').length - 1;
  const data = new Float64Array(lines.length * cols);
  const y = new Float64Array(lines.length);
  lines.forEach((line, r) => {
    const cells = line.split(',').map(Number);
    for (let c = 0; c < cols; c++) data[r * cols + c] = cells[c];
    y[r] = cells[cols];
  });
  return { x: { rows: lines.length, cols, data }, y };
}

/** A matrix from row-major values where `null` is missing. */
export function matrixOf(values: readonly (number | null)[], cols: number): Matrix {
  return { rows: values.length / cols, cols, data: Float64Array.from(values, (v) => (v === null ? Number.NaN : v)) };
}

/** The rows `index` of `d`. */
export function subset(d: Dataset, index: ArrayLike<number>): Dataset {
  const { cols } = d.x;
  const data = new Float64Array(index.length * cols);
  const y = new Float64Array(index.length);
  for (let j = 0; j < index.length; j++) {
    data.set(d.x.data.subarray(index[j] * cols, (index[j] + 1) * cols), j * cols);
    y[j] = d.y[index[j]];
  }
  return { x: { rows: index.length, cols, data }, y };
}

/** The generated binary data set with informative missing values of the fixture. */
export function missingDataset(): Dataset {
  const m = hgbtFixture().missing_data;
  return { x: matrixOf(m.x, m.cols), y: Float64Array.from(m.y) };
}

/** The parsed `hgbt.json` fixture (read once). */
export function hgbtFixture(): HgbtFixture {
  cached ??= JSON.parse(readFileSync(new URL('training/hgbt.json', FIXTURES), 'utf8')) as HgbtFixture;
  return cached;
}
let cached: HgbtFixture | undefined;

/** The shape of `hgbt.json`. */
export interface HgbtFixture {
  missing_data: { x: (number | null)[]; y: number[]; cols: number };
  binning: Record<string, { max_bins: number; binned_column_major: number[]; thresholds: number[][] }>;
  cv: {
    breast_cancer: { folds: number[]; sklearn: { roc_auc: number; accuracy: number; log_loss: number } };
    diabetes: { folds: number[]; sklearn: { rmse: number; r2: number } };
  };
  holdout: Record<
    string,
    {
      x: 'breast_cancer' | 'wine' | 'diabetes' | 'missing';
      task: 'binary' | 'multiclass' | 'regression';
      params: Record<string, number | null>;
      test_index: number[];
      n_iter: number;
      /** Training row i weighs 1 + i % 3. */
      weighted: boolean;
      sklearn: { predictions: number[]; [metric: string]: number | number[] };
      probes?: { x: (number | null)[]; sklearn: number[] };
    }
  >;
  xgboost: Record<
    string,
    {
      base_score: number;
      num_class: number;
      tree_info: number[];
      trees: {
        left_children: number[];
        right_children: number[];
        split_indices: number[];
        split_conditions: number[];
        default_left: number[];
        sum_hessian: number[];
      }[];
      x: (number | null)[];
      n_features: number;
      margin: number[];
      contribs: number[];
    }
  >;
}
