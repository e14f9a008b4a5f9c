/**
 * Preprocessing learned on training rows only and packaged with the model: imputation, standardization
 * (scikit-learn `StandardScaler` semantics) and one-hot or ordinal encoding of categoricals with an
 * unknown bucket. The same fitted state transforms tables in TypeScript and exports as ONNX operators,
 * so training and serving compute the same features.
 *
 * Feature order of the output matrix: the numeric columns in table order, then each categorical column's
 * block in table order (see {@link Preprocessor.featureNames}).
 *
 * Missing values: `NaN` in numeric columns; `null` or the empty string in categorical columns (ONNX
 * string tensors cannot hold a null, so the exported graph reads `""` as missing and the TypeScript side
 * agrees with it).
 */
import { invalidParam, MloopError } from '../core/errors.ts';
import type { OnnxGraphBuilder } from './onnx/builder.ts';
import { int, ints } from './onnx/builder.ts';
import { sharedMatrix } from './matrix.ts';
import type { CategoricalColumn, Column, Matrix, NumericColumn, Table, Target, Task } from './types.ts';

/** How preprocessing treats each kind of column; each model family picks the defaults it needs. */
export interface PreprocessOptions {
  /** Replacement of missing numeric values: column mean or median, or `none` to keep `NaN` (trees). Default `mean`. */
  readonly numericImputation?: 'mean' | 'median' | 'none';
  /** Replacement of missing categories: the most frequent one, or `none` (missing → unknown bucket / `NaN`). Default `most_frequent`. */
  readonly categoricalImputation?: 'most_frequent' | 'none';
  /** Standardize numeric columns to zero mean and unit population variance. Default true. */
  readonly standardize?: boolean;
  /**
   * `onehot`: one column per known category plus one unknown bucket. `ordinal`: one column holding the
   * category's index in sorted order, `NaN` for unknown or missing (for trees). Default `onehot`.
   */
  readonly categoricalEncoding?: 'onehot' | 'ordinal';
  /** At most this many categories per column are kept (the most frequent); the rest go to the unknown bucket. Default 1000. */
  readonly maxCategories?: number;
  /**
   * Categories seen on fewer training rows than this go to the unknown bucket, so rare raw values stay
   * out of the model file (DP estimators raise it: `dp.minCategoryCount`). Default 1 (every category seen).
   */
  readonly minCategoryCount?: number;
}

/** {@link PreprocessOptions} with every default filled in. */
export type ResolvedPreprocessOptions = Required<PreprocessOptions>;

/** Defaults: what linear models and the MLP need. */
export const DEFAULT_PREPROCESS: ResolvedPreprocessOptions = Object.freeze({
  numericImputation: 'mean',
  categoricalImputation: 'most_frequent',
  standardize: true,
  categoricalEncoding: 'onehot',
  maxCategories: 1000,
  minCategoryCount: 1,
});

/** Fitted state of one numeric column: output = (value, or `fill` if missing, − center) / scale. */
export interface NumericFeatureState {
  readonly name: string;
  /** Replacement of a missing value; `null` keeps `NaN`. */
  readonly fill: number | null;
  readonly center: number;
  readonly scale: number;
}

/** Fitted state of one categorical column. */
export interface CategoricalFeatureState {
  readonly name: string;
  /** Known categories, sorted. */
  readonly categories: readonly string[];
  /** Replacement of a missing value; `null` sends it to the unknown bucket (one-hot) or `NaN` (ordinal). */
  readonly fill: string | null;
}

/** Serializable state of a {@link Preprocessor}. */
export interface PreprocessorState {
  readonly version: 1;
  readonly options: ResolvedPreprocessOptions;
  readonly numeric: readonly NumericFeatureState[];
  readonly categorical: readonly CategoricalFeatureState[];
}

/** A raw column the preprocessor reads, as a model input. */
export interface RawInput {
  readonly name: string;
  readonly kind: 'numeric' | 'categorical';
}

/** Label of the unknown bucket in feature names. */
export const UNKNOWN_CATEGORY = '<unknown>';

/** Resolves options against the defaults and checks them. */
export function resolvePreprocessOptions(options: PreprocessOptions = {}): ResolvedPreprocessOptions {
  const o = { ...DEFAULT_PREPROCESS, ...stripUndefined(options) };
  if (!['mean', 'median', 'none'].includes(o.numericImputation)) {
    throw invalidParam('preprocess.numericImputation', `must be "mean", "median" or "none", got ${JSON.stringify(o.numericImputation)}`);
  }
  if (!['most_frequent', 'none'].includes(o.categoricalImputation)) {
    throw invalidParam('preprocess.categoricalImputation', `must be "most_frequent" or "none", got ${JSON.stringify(o.categoricalImputation)}`);
  }
  if (!['onehot', 'ordinal'].includes(o.categoricalEncoding)) {
    throw invalidParam('preprocess.categoricalEncoding', `must be "onehot" or "ordinal", got ${JSON.stringify(o.categoricalEncoding)}`);
  }
  if (typeof o.standardize !== 'boolean') throw invalidParam('preprocess.standardize', 'must be a boolean');
  if (!Number.isInteger(o.maxCategories) || o.maxCategories < 1) {
    throw invalidParam('preprocess.maxCategories', `must be an integer ≥ 1, got ${o.maxCategories}`);
  }
  if (!Number.isInteger(o.minCategoryCount) || o.minCategoryCount < 1) {
    throw invalidParam('preprocess.minCategoryCount', `must be an integer ≥ 1, got ${o.minCategoryCount}`);
  }
  return Object.freeze(o);
}

/** A fitted preprocessor: raw table columns in, a dense feature matrix out. */
export class Preprocessor {
  readonly options: ResolvedPreprocessOptions;
  readonly numeric: readonly NumericFeatureState[];
  readonly categorical: readonly CategoricalFeatureState[];
  /** Number of output features. */
  readonly nFeatures: number;
  readonly #lookup: Map<string, number>[];

  constructor(state: PreprocessorState) {
    this.options = state.options;
    this.numeric = state.numeric;
    this.categorical = state.categorical;
    const width = state.options.categoricalEncoding === 'onehot' ? (c: CategoricalFeatureState) => c.categories.length + 1 : () => 1;
    this.nFeatures = state.numeric.length + state.categorical.reduce((s, c) => s + width(c), 0);
    this.#lookup = state.categorical.map((c) => new Map(c.categories.map((v, i) => [v, i])));
  }

  /** The raw columns a table must provide, in the order of the ONNX inputs. */
  get inputs(): RawInput[] {
    return [
      ...this.numeric.map((c) => ({ name: c.name, kind: 'numeric' as const })),
      ...this.categorical.map((c) => ({ name: c.name, kind: 'categorical' as const })),
    ];
  }

  /** Name of each output feature: the column, or `column=category` and `column=<unknown>` for one-hot blocks. */
  get featureNames(): string[] {
    const names = this.numeric.map((c) => c.name);
    for (const c of this.categorical) {
      if (this.options.categoricalEncoding === 'onehot') {
        for (const v of c.categories) names.push(`${c.name}=${v}`);
        names.push(`${c.name}=${UNKNOWN_CATEGORY}`);
      } else {
        names.push(c.name);
      }
    }
    return names;
  }

  /**
   * Transforms `table` into the feature matrix. Unseen categories go to the unknown bucket; missing
   * values are imputed as fitted. With `shared`, the matrix lives in a `SharedArrayBuffer`.
   */
  transform(table: Table, options: { shared?: boolean } = {}): Matrix {
    const n = table.rows;
    const d = this.nFeatures;
    const out = options.shared ? sharedMatrix(n, d) : { rows: n, cols: d, data: new Float64Array(n * d) };
    const x = out.data;
    let col = 0;
    for (const f of this.numeric) {
      const values = numericColumn(table, f.name).values;
      const fill = f.fill ?? Number.NaN;
      for (let r = 0; r < n; r++) {
        const v = values[r];
        x[r * d + col] = ((Number.isNaN(v) ? fill : v) - f.center) / f.scale;
      }
      col++;
    }
    const onehot = this.options.categoricalEncoding === 'onehot';
    this.categorical.forEach((f, ci) => {
      const values = categoricalColumn(table, f.name).values;
      const lookup = this.#lookup[ci];
      const k = f.categories.length;
      const fillIndex = f.fill === null ? -1 : lookup.get(f.fill)!;
      for (let r = 0; r < n; r++) {
        const v = values[r];
        let index = isMissingCategory(v) ? fillIndex : (lookup.get(v as string) ?? -1);
        if (onehot) {
          if (index < 0) index = k;
          x[r * d + col + index] = 1;
        } else {
          x[r * d + col] = index < 0 ? Number.NaN : index;
        }
      }
      col += onehot ? k + 1 : 1;
    });
    return out;
  }

  /**
   * Declares one graph input per raw column (numeric → float [N,1], categorical → string [N,1]) and
   * appends the preprocessing operators. Returns the name of the float feature tensor [N, nFeatures].
   */
  exportOnnx(graph: OnnxGraphBuilder): string {
    const blocks: string[] = [];
    if (this.numeric.length > 0) {
      for (const f of this.numeric) graph.input(f.name, 'float', ['N', 1]);
      let t = this.numeric.length === 1 ? this.numeric[0].name : graph.node('Concat', this.numeric.map((f) => f.name), [graph.fresh('pre_numeric')], { axis: int(1) })[0];
      if (this.options.numericImputation !== 'none') {
        // Where(IsNaN(x), fill, x) rather than ai.onnx.ml Imputer: onnx.checker's full check has no type
        // inference for Imputer, so every tensor downstream of it would fail the check.
        const fill = graph.constant(graph.fresh('pre_fill'), { type: 'float', dims: [1, this.numeric.length], values: this.numeric.map((f) => f.fill ?? Number.NaN) });
        const [missing] = graph.node('IsNaN', [t], [graph.fresh('pre_missing')]);
        [t] = graph.node('Where', [missing, fill, t], [graph.fresh('pre_imputed')]);
      }
      if (this.options.standardize) {
        const m = this.numeric.length;
        const center = graph.constant(graph.fresh('pre_center'), { type: 'float', dims: [1, m], values: this.numeric.map((f) => f.center) });
        const scale = graph.constant(graph.fresh('pre_scale'), { type: 'float', dims: [1, m], values: this.numeric.map((f) => f.scale) });
        [t] = graph.node('Sub', [t, center], [graph.fresh('pre_centered')]);
        [t] = graph.node('Div', [t, scale], [graph.fresh('pre_scaled')]);
      }
      blocks.push(t);
    }
    for (const f of this.categorical) {
      graph.input(f.name, 'string', ['N', 1]);
      const k = f.categories.length;
      const fillIndex = f.fill === null ? -1 : f.categories.indexOf(f.fill);
      const keys = [...f.categories, ''];
      if (this.options.categoricalEncoding === 'onehot') {
        const [index] = graph.node('LabelEncoder', [f.name], [graph.fresh('pre_code')], {
          keys_strings: keys,
          values_int64s: ints([...f.categories.map((_, i) => i), fillIndex < 0 ? k : fillIndex]),
          default_int64: int(k),
        }, 'ai.onnx.ml');
        const depth = graph.constant(graph.fresh('pre_depth'), { type: 'int64', dims: [1], values: [k + 1] });
        const onOff = graph.constant(graph.fresh('pre_onoff'), { type: 'float', dims: [2], values: [0, 1] });
        const [hot] = graph.node('OneHot', [index, depth, onOff], [graph.fresh('pre_onehot3d')], { axis: int(-1) });
        const axes = graph.constant(graph.fresh('pre_axes'), { type: 'int64', dims: [1], values: [1] });
        blocks.push(graph.node('Squeeze', [hot, axes], [graph.fresh('pre_onehot')])[0]);
      } else {
        blocks.push(
          graph.node('LabelEncoder', [f.name], [graph.fresh('pre_ordinal')], {
            keys_strings: keys,
            values_floats: [...f.categories.map((_, i) => i), fillIndex < 0 ? Number.NaN : fillIndex],
            default_float: Number.NaN,
          }, 'ai.onnx.ml')[0],
        );
      }
    }
    if (blocks.length === 1) return blocks[0];
    return graph.node('Concat', blocks, [graph.fresh('pre_features')], { axis: int(1) })[0];
  }

  /** Serializable state; {@link restorePreprocessor} reads it back. */
  toJSON(): PreprocessorState {
    return { version: 1, options: this.options, numeric: this.numeric, categorical: this.categorical };
  }
}

/**
 * Learns preprocessing from the training table: every column of `table` becomes an input. Throws
 * before any work when a column is entirely missing or holds an infinite value.
 */
export function fitPreprocessor(table: Table, options: PreprocessOptions = {}): Preprocessor {
  const opts = resolvePreprocessOptions(options);
  const seen = new Set<string>();
  for (const c of table.columns) {
    if (seen.has(c.name)) throw invalidParam(`column "${c.name}"`, 'appears more than once');
    seen.add(c.name);
    if (c.values.length !== table.rows) throw invalidParam(`column "${c.name}"`, `has ${c.values.length} values, the table has ${table.rows} rows`);
  }
  if (table.rows === 0) throw invalidParam('table', 'has no rows');
  for (const c of table.columns) checkColumnUsable(c);
  const numeric = table.columns.filter((c): c is NumericColumn => c.kind === 'numeric').map((c) => fitNumeric(c, opts));
  const categorical = table.columns.filter((c): c is CategoricalColumn => c.kind === 'categorical').map((c) => fitCategorical(c, opts));
  return new Preprocessor({ version: 1, options: opts, numeric, categorical });
}

/** Rebuilds a preprocessor from {@link Preprocessor.toJSON}, checking the state's shape. */
export function restorePreprocessor(state: PreprocessorState): Preprocessor {
  if (state === null || typeof state !== 'object' || state.version !== 1) {
    throw new MloopError('INVALID_PARAMETER_VALUE', 'preprocessor state: unsupported or missing version');
  }
  const options = resolvePreprocessOptions(state.options);
  if (!Array.isArray(state.numeric) || !Array.isArray(state.categorical)) {
    throw new MloopError('INVALID_PARAMETER_VALUE', 'preprocessor state: numeric and categorical must be arrays');
  }
  const numeric = state.numeric.map((f) => {
    if (typeof f.name !== 'string' || !Number.isFinite(f.center) || !(f.scale > 0) || (f.fill !== null && !Number.isFinite(f.fill))) {
      throw new MloopError('INVALID_PARAMETER_VALUE', `preprocessor state: numeric feature ${JSON.stringify(f.name)} is malformed`);
    }
    return Object.freeze({ name: f.name, fill: f.fill, center: f.center, scale: f.scale });
  });
  const categorical = state.categorical.map((f) => {
    if (typeof f.name !== 'string' || !Array.isArray(f.categories) || f.categories.some((v: unknown) => typeof v !== 'string' || v === '') || (f.fill !== null && !f.categories.includes(f.fill))) {
      throw new MloopError('INVALID_PARAMETER_VALUE', `preprocessor state: categorical feature ${JSON.stringify(f.name)} is malformed`);
    }
    return Object.freeze({ name: f.name, categories: Object.freeze([...f.categories]), fill: f.fill });
  });
  return new Preprocessor({ version: 1, options, numeric, categorical });
}

/** True for a value a categorical column treats as missing. */
export function isMissingCategory(v: string | null | undefined): boolean {
  return v === null || v === undefined || v === '';
}

/** Options for {@link splitTable}. */
export interface SplitTableOptions {
  /** Name of the target column. */
  readonly target: string;
  /** `classification` picks binary or multiclass from the number of classes. */
  readonly task: Task | 'classification';
  /** Feature columns; default every column except the target. */
  readonly features?: readonly string[];
}

/**
 * Separates the target column from the feature columns and encodes it. Classification classes are
 * the distinct label values sorted as scikit-learn sorts them (numbers numerically, strings by code
 * point) and rendered as strings; labels become class indices. Throws when the target column is
 * missing, a label is missing (`NaN`/null), classification data holds a single class, or a feature
 * column is missing.
 */
export function splitTable(table: Table, options: SplitTableOptions): { features: Table; target: Target } {
  const targetColumn = table.columns.find((c) => c.name === options.target);
  if (!targetColumn) throw invalidParam('target', `column "${options.target}" is not in the table (columns: ${table.columns.map((c) => c.name).join(', ')})`);
  const names = options.features ?? table.columns.filter((c) => c.name !== options.target).map((c) => c.name);
  if (names.length === 0) throw invalidParam('features', 'no feature columns');
  const columns = names.map((name) => {
    if (name === options.target) throw invalidParam('features', `the target column "${name}" cannot also be a feature`);
    const c = table.columns.find((col) => col.name === name);
    if (!c) throw invalidParam('features', `column "${name}" is not in the table`);
    return c;
  });
  return { features: { rows: table.rows, columns }, target: encodeTarget(targetColumn, options.task) };
}

/** Encodes a target column; see {@link splitTable} for the rules and errors. */
export function encodeTarget(column: Column, task: Task | 'classification'): Target {
  const n = column.values.length;
  if (n === 0) throw invalidParam(`target "${column.name}"`, 'has no rows');
  if (task === 'regression') {
    if (column.kind !== 'numeric') throw invalidParam(`target "${column.name}"`, 'regression needs a numeric target column');
    for (let r = 0; r < n; r++) {
      if (!Number.isFinite(column.values[r])) throw invalidParam(`target "${column.name}"`, `label is ${column.values[r]} at row ${r}`);
    }
    return { task, values: Float64Array.from(column.values) };
  }
  if (task !== 'classification' && task !== 'binary' && task !== 'multiclass') {
    throw invalidParam('task', `must be "classification", "binary", "multiclass" or "regression", got ${JSON.stringify(task)}`);
  }
  let classes: string[];
  let codes: Float64Array;
  if (column.kind === 'numeric') {
    for (let r = 0; r < n; r++) {
      if (!Number.isFinite(column.values[r])) throw invalidParam(`target "${column.name}"`, `label is ${column.values[r]} at row ${r}`);
    }
    const distinct = [...new Set(column.values)].sort((a, b) => a - b);
    const index = new Map(distinct.map((v, i) => [v, i]));
    classes = distinct.map(String);
    codes = Float64Array.from(column.values, (v) => index.get(v)!);
  } else {
    column.values.forEach((v, r) => {
      if (isMissingCategory(v)) throw invalidParam(`target "${column.name}"`, `label is missing at row ${r}`);
    });
    const distinct = [...new Set(column.values as string[])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const index = new Map(distinct.map((v, i) => [v, i]));
    classes = distinct;
    codes = Float64Array.from(column.values as string[], (v) => index.get(v)!);
  }
  if (classes.length < 2) throw invalidParam(`target "${column.name}"`, `classification needs at least two classes, found only ${JSON.stringify(classes[0])}`);
  if (task === 'binary' && classes.length !== 2) throw invalidParam(`target "${column.name}"`, `binary classification needs two classes, found ${classes.length}`);
  if (task === 'multiclass' && classes.length < 3) throw invalidParam(`target "${column.name}"`, `multiclass classification needs three or more classes, found ${classes.length}`);
  return { task: classes.length === 2 ? 'binary' : 'multiclass', values: codes, classes };
}

function checkColumnUsable(c: Column): void {
  if (c.kind === 'numeric') {
    let present = 0;
    for (let r = 0; r < c.values.length; r++) {
      const v = c.values[r];
      if (Number.isNaN(v)) continue;
      if (!Number.isFinite(v)) throw invalidParam(`column "${c.name}"`, `holds ${v} at row ${r}`);
      present++;
    }
    if (present === 0) throw invalidParam(`column "${c.name}"`, 'every value is missing');
  } else if (c.kind === 'categorical') {
    if (c.values.every(isMissingCategory)) throw invalidParam(`column "${c.name}"`, 'every value is missing');
  } else {
    throw invalidParam(`column "${(c as Column).name}"`, `unknown column kind ${JSON.stringify((c as { kind: unknown }).kind)}`);
  }
}

function fitNumeric(c: NumericColumn, o: ResolvedPreprocessOptions): NumericFeatureState {
  const present: number[] = [];
  for (let r = 0; r < c.values.length; r++) if (!Number.isNaN(c.values[r])) present.push(c.values[r]);
  const missing = c.values.length - present.length;
  let fill: number | null = null;
  if (o.numericImputation === 'mean') fill = mean(present);
  else if (o.numericImputation === 'median') fill = median(present);
  if (!o.standardize) return { name: c.name, fill, center: 0, scale: 1 };
  // Imputation comes first (as in an Imputer → StandardScaler pipeline): the statistics cover the
  // filled-in values too; without imputation they ignore NaN, as StandardScaler does.
  const n = fill === null ? present.length : c.values.length;
  let sum = 0;
  for (const v of present) sum += v;
  if (fill !== null) sum += fill * missing;
  const mu = sum / n;
  let ss = 0;
  let corr = 0;
  for (const v of present) {
    ss += (v - mu) * (v - mu);
    corr += v - mu;
  }
  if (fill !== null) {
    ss += missing * (fill - mu) * (fill - mu);
    corr += missing * (fill - mu);
  }
  // Two-pass variance with the Chan–Golub–LeVeque correction term, as scikit-learn computes it.
  const variance = Math.max(0, (ss - (corr * corr) / n) / n);
  const eps = Number.EPSILON;
  const constant = variance <= n * eps * variance + (n * mu * eps) ** 2;
  return { name: c.name, fill, center: mu, scale: constant ? 1 : Math.sqrt(variance) };
}

function fitCategorical(c: CategoricalColumn, o: ResolvedPreprocessOptions): CategoricalFeatureState {
  const counts = new Map<string, number>();
  for (const v of c.values) if (!isMissingCategory(v)) counts.set(v as string, (counts.get(v as string) ?? 0) + 1);
  const byFrequency = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const kept = byFrequency.filter(([, count]) => count >= o.minCategoryCount).slice(0, o.maxCategories).map(([v]) => v);
  const categories = kept.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  // Ties of the most frequent category go to the smallest value, as in SimpleImputer. When even that
  // one is too rare to keep, missing values go to the unknown bucket.
  const fill = o.categoricalImputation === 'most_frequent' && byFrequency[0][1] >= o.minCategoryCount ? byFrequency[0][0] : null;
  return { name: c.name, categories, fill };
}

function mean(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

function median(values: readonly number[]): number {
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function numericColumn(table: Table, name: string): NumericColumn {
  const c = table.columns.find((col) => col.name === name);
  if (!c) throw invalidParam(`column "${name}"`, 'is missing from the input table');
  if (c.kind !== 'numeric') throw invalidParam(`column "${name}"`, 'expected a numeric column, found a categorical one');
  if (c.values.length !== table.rows) throw invalidParam(`column "${name}"`, `has ${c.values.length} values, the table has ${table.rows} rows`);
  return c;
}

function categoricalColumn(table: Table, name: string): CategoricalColumn {
  const c = table.columns.find((col) => col.name === name);
  if (!c) throw invalidParam(`column "${name}"`, 'is missing from the input table');
  if (c.kind !== 'categorical') throw invalidParam(`column "${name}"`, 'expected a categorical column, found a numeric one');
  if (c.values.length !== table.rows) throw invalidParam(`column "${name}"`, `has ${c.values.length} values, the table has ${table.rows} rows`);
  return c;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
