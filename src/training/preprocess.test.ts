import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MloopError } from '../core/errors.ts';
import { maxAbsDiff, readNumericCsv, trainingFixture } from '../../test/support/training-data.ts';
import { encodeTarget, fitPreprocessor, restorePreprocessor, splitTable } from './preprocess.ts';
import type { Column, Table } from './types.ts';

const num = (name: string, values: (number | null)[]): Column => ({ name, kind: 'numeric', values: Float64Array.from(values, (v) => (v === null ? Number.NaN : v)) });
const cat = (name: string, values: (string | null)[]): Column => ({ name, kind: 'categorical', values });
const table = (...columns: Column[]): Table => ({ rows: columns[0].values.length, columns });

function fixtureTable(part: Record<string, (number | string | null)[]>): Table {
  return table(
    num('a', part.a as (number | null)[]),
    num('b', part.b as (number | null)[]),
    num('c', part.c as (number | null)[]),
    cat('color', part.color as (string | null)[]),
    cat('size', part.size as (string | null)[]),
  );
}

function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof MloopError && e.code === 'INVALID_PARAMETER_VALUE' && pattern.test(e.message));
}

describe('fitPreprocessor', () => {
  it('standardizes as scikit-learn StandardScaler (population std) on breast_cancer', () => {
    const fx = trainingFixture('logistic').breast_cancer;
    const { features } = splitTable(readNumericCsv('breast_cancer'), { target: 'target', task: 'classification' });
    const pre = fitPreprocessor(features);
    assert.deepEqual(pre.numeric.map((f) => f.name), fx.columns);
    for (let j = 0; j < fx.columns.length; j++) {
      assert.ok(Math.abs(pre.numeric[j].center - fx.scaler.mean[j]) <= 1e-12 * Math.abs(fx.scaler.mean[j]));
      assert.ok(Math.abs(pre.numeric[j].scale - fx.scaler.scale[j]) <= 1e-12 * fx.scaler.scale[j]);
    }
  });

  for (const strategy of ['mean', 'median'] as const) {
    it(`matches SimpleImputer(${strategy}) → StandardScaler and SimpleImputer(most_frequent) → OneHotEncoder, plus an unknown bucket`, () => {
      const fx = trainingFixture('preprocessing');
      const expected = fx.cases[strategy];
      const pre = fitPreprocessor(fixtureTable(fx.train), { numericImputation: strategy });
      assert.ok(maxAbsDiff(pre.numeric.map((f) => f.fill!), expected.fill) < 1e-12);
      assert.ok(maxAbsDiff(pre.numeric.map((f) => f.center), expected.mean) < 1e-12);
      assert.ok(maxAbsDiff(pre.numeric.map((f) => f.scale), expected.scale) < 1e-12);
      assert.equal(pre.numeric[2].scale, 1, 'the constant column is left unscaled');
      assert.deepEqual(pre.categorical.map((f) => f.categories), expected.categories);
      assert.deepEqual(pre.categorical.map((f) => f.fill), expected.most_frequent);
      assert.deepEqual(pre.featureNames.slice(-4), ['size=L', 'size=M', 'size=S', 'size=<unknown>']);
      for (const part of ['train', 'test'] as const) {
        const x = pre.transform(fixtureTable(fx[part]));
        const want: number[][] = expected[`${part}_out`];
        const kColor = expected.categories[0].length;
        const kSize = expected.categories[1].length;
        assert.equal(x.cols, 3 + kColor + 1 + kSize + 1);
        want.forEach((row, r) => {
          const got = Array.from(x.data.subarray(r * x.cols, (r + 1) * x.cols));
          const known = [...got.slice(0, 3 + kColor), ...got.slice(4 + kColor, 4 + kColor + kSize)];
          assert.ok(maxAbsDiff(known, row) < 1e-12, `${part} row ${r}`);
          // sklearn's handle_unknown='ignore' writes zeros; the unknown bucket is exactly that case
          const colorBlock = row.slice(3, 3 + kColor);
          const sizeBlock = row.slice(3 + kColor);
          assert.equal(got[3 + kColor], colorBlock.every((v) => v === 0) ? 1 : 0);
          assert.equal(got[4 + kColor + kSize], sizeBlock.every((v) => v === 0) ? 1 : 0);
        });
      }
      const test = pre.transform(fixtureTable(fx.test));
      assert.equal(test.data[2 * test.cols + 3 + expected.categories[0].length], 1, '"purple" lands in the unknown bucket');
    });
  }

  it('keeps NaN and sends missing categories to the unknown bucket when imputation is off; ordinal encoding for trees', () => {
    const t = table(num('x', [1, Number.NaN, 3]), cat('c', ['b', null, 'a']));
    const pre = fitPreprocessor(t, { numericImputation: 'none', categoricalImputation: 'none', standardize: false });
    assert.deepEqual(Array.from(pre.transform(t).data), [1, 0, 1, 0, Number.NaN, 0, 0, 1, 3, 1, 0, 0]);
    const ord = fitPreprocessor(t, { numericImputation: 'none', categoricalImputation: 'none', standardize: false, categoricalEncoding: 'ordinal' });
    const unseen = table(num('x', [5, 6]), cat('c', ['a', 'zzz']));
    assert.deepEqual(Array.from(ord.transform(t).data), [1, 1, Number.NaN, Number.NaN, 3, 0]);
    assert.deepEqual(Array.from(ord.transform(unseen).data), [5, 0, 6, Number.NaN]);
    assert.deepEqual(ord.featureNames, ['x', 'c']);
  });

  it('treats the empty string as a missing category and keeps only the maxCategories most frequent', () => {
    const t = table(cat('c', ['x', 'x', 'x', 'y', 'y', 'z', '', null]));
    const pre = fitPreprocessor(t, { maxCategories: 2 });
    assert.deepEqual(pre.categorical[0].categories, ['x', 'y']);
    const x = pre.transform(table(cat('c', ['', 'z', 'y'])));
    assert.deepEqual(Array.from(x.data), [1, 0, 0, 0, 0, 1, 0, 1, 0]);
  });

  it('sends categories seen fewer than minCategoryCount times to the unknown bucket, the imputation fill too', () => {
    const t = table(cat('c', ['x', 'x', 'x', 'y', 'y', 'z', '', null]));
    const pre = fitPreprocessor(t, { minCategoryCount: 2 });
    assert.deepEqual(pre.categorical[0].categories, ['x', 'y']);
    assert.equal(pre.categorical[0].fill, 'x');
    assert.deepEqual(Array.from(pre.transform(table(cat('c', ['z', '', 'y']))).data), [0, 0, 1, 1, 0, 0, 0, 1, 0]);
    // None frequent enough: one column, the unknown bucket, which missing values join as well.
    const none = fitPreprocessor(t, { minCategoryCount: 4 });
    assert.deepEqual(none.categorical[0], { name: 'c', categories: [], fill: null });
    assert.deepEqual(none.featureNames, ['c=<unknown>']);
    assert.deepEqual(Array.from(none.transform(table(cat('c', ['x', null]))).data), [1, 1]);
    const copy = restorePreprocessor(JSON.parse(JSON.stringify(none.toJSON())));
    assert.equal(copy.options.minCategoryCount, 4);
    // State written before minCategoryCount existed restores with the default.
    const { minCategoryCount: _dropped, ...older } = pre.toJSON().options;
    assert.equal(restorePreprocessor({ ...pre.toJSON(), options: older as typeof pre.options }).options.minCategoryCount, 1);
    rejects(() => fitPreprocessor(t, { minCategoryCount: 0 }), /preprocess.minCategoryCount/);
  });

  it('round-trips through toJSON and restore, and rejects malformed state', () => {
    const fx = trainingFixture('preprocessing');
    const pre = fitPreprocessor(fixtureTable(fx.train));
    const copy = restorePreprocessor(JSON.parse(JSON.stringify(pre.toJSON())));
    const test = fixtureTable(fx.test);
    assert.deepEqual(Array.from(copy.transform(test).data), Array.from(pre.transform(test).data));
    const state = pre.toJSON();
    rejects(() => restorePreprocessor({ ...state, numeric: [{ ...state.numeric[0], scale: 0 }] }), /malformed/);
    rejects(() => restorePreprocessor({ ...state, version: 2 as 1 }), /version/);
    rejects(() => restorePreprocessor({ ...state, categorical: [{ ...state.categorical[0], fill: 'nope' }] }), /malformed/);
  });

  it('rejects all-missing and infinite features, and tables missing a column at transform time', () => {
    rejects(() => fitPreprocessor(table(num('x', [1, 2]), num('empty', [null, null]))), /column "empty": every value is missing/);
    rejects(() => fitPreprocessor(table(cat('empty', [null, '']))), /column "empty": every value is missing/);
    rejects(() => fitPreprocessor(table(num('x', [1, Infinity]))), /column "x": holds Infinity at row 1/);
    const pre = fitPreprocessor(table(num('x', [1, 2]), cat('c', ['a', 'b'])));
    rejects(() => pre.transform(table(num('x', [1]))), /column "c": is missing/);
    rejects(() => pre.transform(table(cat('x', ['1']), cat('c', ['a']))), /column "x": expected a numeric column/);
  });

  it('rejects bad options by name', () => {
    const t = table(num('x', [1, 2]));
    rejects(() => fitPreprocessor(t, { numericImputation: 'mode' as 'mean' }), /preprocess.numericImputation/);
    rejects(() => fitPreprocessor(t, { maxCategories: 0 }), /preprocess.maxCategories/);
  });
});

describe('splitTable and encodeTarget', () => {
  it('orders classes as scikit-learn (numbers numerically, strings by code point)', () => {
    const t = encodeTarget(num('y', [10, 2, 9, 2]), 'classification');
    assert.deepEqual(t.classes, ['2', '9', '10']);
    assert.deepEqual(Array.from(t.values), [2, 0, 1, 0]);
    assert.equal(t.task, 'multiclass');
    const s = encodeTarget(cat('y', ['b', 'B', 'a']), 'classification');
    assert.deepEqual(s.classes, ['B', 'a', 'b']);
    assert.equal(s.task, 'multiclass');
    assert.equal(encodeTarget(cat('y', ['yes', 'no']), 'binary').task, 'binary');
  });

  it('names the problem: missing target column, NaN or missing labels, a single class, wrong class count', () => {
    const t = table(num('x', [1, 2, 3]), num('y', [0, 1, Number.NaN]));
    rejects(() => splitTable(t, { target: 'label', task: 'classification' }), /target: column "label" is not in the table/);
    rejects(() => splitTable(t, { target: 'y', task: 'classification' }), /target "y": label is NaN at row 2/);
    rejects(() => splitTable(t, { target: 'y', task: 'regression' }), /target "y": label is NaN at row 2/);
    rejects(() => encodeTarget(cat('y', ['a', null]), 'classification'), /target "y": label is missing at row 1/);
    rejects(() => encodeTarget(num('y', [1, 1, 1]), 'classification'), /at least two classes, found only "1"/);
    rejects(() => encodeTarget(num('y', [1, 2, 3]), 'binary'), /binary classification needs two classes, found 3/);
    rejects(() => encodeTarget(cat('y', ['a', 'b']), 'regression'), /regression needs a numeric target/);
    rejects(() => splitTable(t, { target: 'y', task: 'regression', features: ['x', 'z'] }), /features: column "z" is not in the table/);
  });
});
