/**
 * Reads the oracle fixtures of the evaluation module (`test/fixtures/evaluation/*.json`, written by
 * `scripts/fixtures/evaluation.py`) and compares numbers against them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('../fixtures/evaluation/', import.meta.url));

/** Parses fixture `name`, turning the strings "nan", "inf" and "-inf" back into numbers. */
export function loadEvaluationFixture(name: string): any {
  return JSON.parse(readFileSync(`${DIR}${name}.json`, 'utf8'), (_key, value) => {
    if (value === 'nan') return NaN;
    if (value === 'inf') return Infinity;
    if (value === '-inf') return -Infinity;
    return value;
  });
}

/** Asserts `actual` is within `tol` of `expected`, relative for large magnitudes; NaN equals NaN. */
export function assertClose(actual: number, expected: number, tol: number, message: string): void {
  if (Number.isNaN(expected)) {
    assert.ok(Number.isNaN(actual), `${message}: expected NaN, got ${actual}`);
    return;
  }
  if (!Number.isFinite(expected)) {
    assert.equal(actual, expected, message);
    return;
  }
  const err = Math.abs(actual - expected);
  assert.ok(err <= tol * Math.max(1, Math.abs(expected)), `${message}: got ${actual}, expected ${expected} (diff ${err})`);
}

/** Element-wise {@link assertClose}, with equal lengths. */
export function assertAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, message: string): void {
  assert.equal(actual.length, expected.length, `${message}: length`);
  for (let i = 0; i < expected.length; i++) assertClose(actual[i], expected[i], tol, `${message}[${i}]`);
}
