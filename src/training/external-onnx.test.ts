/**
 * Classifiers exported the way skl2onnx exports them by default (LinearClassifier → Normalizer →
 * ZipMap, `output_label` and `output_probability` as a sequence of maps), written from models fitted by
 * scikit-learn (`scripts/fixtures/zipmap.py`): their signature is read from the file (task and classes
 * from the ZipMap), onnxruntime's probabilities match scikit-learn's `predict_proba`, and outputs named
 * by the caller that scoring cannot read are refused.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { readNumericCsv, trainingFixture } from '../../test/support/training-data.ts';
import { MloopError } from '../core/errors.ts';
import { decodeOnnx, externalSignature, onnxFacts } from './external-onnx.ts';
import { measureLatency, openSession, scoreTable } from './scoring.ts';
import type { Table } from './types.ts';

interface Case {
  dataset: 'breast_cancer' | 'wine';
  columns: string[];
  classes: string[];
  proba: number[][];
}
const oracle = trainingFixture<Record<'binary' | 'multiclass', Case>>('sklearn_zipmap');
const modelBytes = (name: string) => new Uint8Array(readFileSync(new URL(`../../test/fixtures/training/sklearn_zipmap_${name}.onnx`, import.meta.url)));

function refusal(fn: () => unknown): MloopError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof MloopError, String(error));
    return error;
  }
  assert.fail('expected a refusal');
}

describe('skl2onnx-style ZipMap classifiers', () => {
  for (const [name, keyType, task] of [['binary', 'int64', 'binary'], ['multiclass', 'string', 'multiclass']] as const) {
    const expected = oracle[name];

    it(`${name}: reads the task, the classes and the probability tensor from the ZipMap`, () => {
      const facts = onnxFacts(decodeOnnx(modelBytes(name)));
      assert.deepEqual(facts.outputs, [
        { name: 'output_label', type: keyType, shape: [null] },
        { name: 'output_probability', type: `seq(map(${keyType},float))`, shape: [] },
      ]);
      assert.deepEqual(facts.zipMaps, [{ output: 'output_probability', input: 'probabilities', classes: expected.classes }]);
      const signature = externalSignature(facts, { columns: expected.columns, target: 'target' });
      assert.equal(signature.task, task);
      assert.deepEqual(signature.classes, expected.classes);
      assert.equal(signature.probabilitiesOutput, 'output_probability');
      assert.equal(signature.zipMapInput, 'probabilities');
      assert.equal(signature.labelOutput, 'output_label');
      assert.equal(signature.valueOutput, undefined);
    });

    it(`${name}: onnxruntime's probabilities match scikit-learn's predict_proba`, async () => {
      const facts = onnxFacts(decodeOnnx(modelBytes(name)));
      const signature = externalSignature(facts, { columns: expected.columns });
      const table: Table = readNumericCsv(expected.dataset);
      const session = await openSession(modelBytes(name));
      try {
        const scores = await scoreTable(session, table, { ...signature, task: signature.task! });
        assert.equal(scores.nClasses, expected.classes.length);
        assert.equal(scores.probabilities!.length, table.rows * expected.classes.length);
        let worst = 0;
        expected.proba.forEach((row, r) => row.forEach((p, j) => (worst = Math.max(worst, Math.abs(scores.probabilities![r * row.length + j] - p)))));
        assert.ok(worst < 1e-5, `largest difference from predict_proba: ${worst}`);
        const latency = await measureLatency(session, table, signature.inputs, { runs: 5, warmup: 1 });
        assert.ok(latency.p50 > 0);
      } finally {
        await session.release();
      }
    });
  }

  it('takes classes given by the caller when they are as many as the ZipMap has, and refuses other counts', () => {
    const facts = onnxFacts(decodeOnnx(modelBytes('binary')));
    assert.deepEqual(externalSignature(facts, { classes: ['benign', 'malignant'] }).classes, ['benign', 'malignant']);
    const error = refusal(() => externalSignature(facts, { classes: ['a', 'b', 'c'] }));
    assert.deepEqual(error.fields.map((f) => f.field), ['classes']);
    assert.match(error.message, /ZipMap .* has 2 \(0, 1\)/);
  });

  it('refuses a named output that scoring cannot read, naming it and its type', () => {
    const facts = onnxFacts(decodeOnnx(modelBytes('binary')));
    const asProbabilities = refusal(() => externalSignature(facts, { probabilitiesOutput: 'output_label' }));
    assert.deepEqual(asProbabilities.fields.map((f) => f.field), ['probabilities_output']);
    assert.match(asProbabilities.message, /output "output_label" is int64/);
    const asValues = refusal(() => externalSignature(facts, { task: 'regression', valueOutput: 'output_probability' }));
    assert.deepEqual(asValues.fields.map((f) => f.field), ['value_output']);
    assert.match(asValues.message, /output "output_probability" is seq\(map\(int64,float\)\)/);
    const asLabels = refusal(() => externalSignature(facts, { labelOutput: 'output_probability' }));
    assert.deepEqual(asLabels.fields.map((f) => f.field), ['label_output']);
    const regressionWithoutValues = refusal(() => externalSignature(facts, { task: 'regression' }));
    assert.deepEqual(regressionWithoutValues.fields.map((f) => f.field), ['value_output']);
    assert.equal(externalSignature(facts, { probabilitiesOutput: 'output_probability' }).zipMapInput, 'probabilities');
  });
});
