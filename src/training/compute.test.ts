import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../core/random.ts';
import { explainModel } from './compute.ts';
import { fitPipeline } from './pipeline.ts';
import { histGradientBoosting } from './trees/hgbt.ts';
import type { Table } from './types.ts';

/** Three numeric features and a three-class label that depends on the first two. */
function table(rows: number, seed: number): Table {
  const rng = new Random(seed);
  const cols = [new Float64Array(rows), new Float64Array(rows), new Float64Array(rows)];
  const labels: string[] = [];
  for (let i = 0; i < rows; i++) {
    for (const c of cols) c[i] = rng.normal();
    const s = cols[0][i] + 0.5 * cols[1][i];
    labels.push(s > 0.6 ? 'high' : s < -0.6 ? 'low' : 'mid');
  }
  return {
    rows,
    columns: [...cols.map((values, j) => ({ name: `x${j}`, kind: 'numeric' as const, values })), { name: 'y', kind: 'categorical' as const, values: labels }],
  };
}

describe('explainModel', () => {
  it('reports progress forwards, ending with done after TreeSHAP, and labels multiclass tree outputs as margins', async () => {
    const data = table(300, 1);
    const pipeline = await fitPipeline(data, histGradientBoosting({ max_iter: 10 }), { target: 'y', task: 'classification', seed: 0 });
    const yTrue = Float64Array.from(data.columns[3].values as string[], (v) => ['high', 'low', 'mid'].indexOf(v));
    const seen: [number, string][] = [];
    const out = explainModel(
      { pipeline: pipeline.toJSON(), table: data, yTrue, permutation: { metric: 'accuracy', nRepeats: 2, seed: 0, maxRows: 300 }, shap: { rows: 5, background: 20, seed: 0 } },
      (fraction, message) => seen.push([fraction, message]),
    );
    const fractions = seen.map(([f]) => f);
    assert.deepEqual(fractions, [...fractions].sort((a, b) => a - b), JSON.stringify(seen));
    assert.deepEqual(seen.at(-1), [1, 'explanations done']);
    assert.ok(seen.some(([, m]) => m === 'TreeSHAP'));
    assert.equal(seen.filter(([, m]) => m === 'explanations done').length, 1, JSON.stringify(seen));
    assert.deepEqual(out.shap!.outputs!.map((o) => o.output), ['margin(y = high)', 'margin(y = low)', 'margin(y = mid)']);
    assert.ok(out.permutation);
  });
});
