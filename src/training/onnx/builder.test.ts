import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { OnnxGraphBuilder, ints } from './builder.ts';
import { checkOnnxModel } from './checker.ts';

describe('OnnxGraphBuilder', () => {
  it('builds a logistic model that onnxruntime runs and onnx.checker accepts', async () => {
    const g = new OnnxGraphBuilder('logit');
    g.input('X', 'float', ['N', 2]).output('P', 'float', ['N', 1]);
    const w = g.constant('W', { type: 'float', dims: [2, 1], values: [0.5, -2] });
    const b = g.constant('B', { type: 'float', dims: [1], values: [0.25] });
    const [z] = g.node('Gemm', ['X', w, b]);
    g.node('Sigmoid', [z], ['P']);
    const bytes = g.build();
    const session = await ort.InferenceSession.create(bytes);
    const out = await session.run({ X: new ort.Tensor('float32', Float32Array.from([1, 1, 0, 0, 2, -1]), [3, 2]) });
    const p = out.P.data as Float32Array;
    const expected = [0.5 - 2 + 0.25, 0.25, 1 + 2 + 0.25].map((v) => 1 / (1 + Math.exp(-v)));
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(p[i] - expected[i]) < 1e-6);
    assert.equal(await checkOnnxModel(bytes), 'ok');
  });

  it('builds an ai.onnx.ml tree ensemble', async () => {
    const g = new OnnxGraphBuilder('tree');
    g.input('X', 'float', ['N', 1]).output('Y', 'float', ['N', 1]);
    g.node(
      'TreeEnsembleRegressor',
      ['X'],
      ['Y'],
      {
        n_targets: { int: 1 },
        nodes_treeids: ints([0, 0, 0]),
        nodes_nodeids: ints([0, 1, 2]),
        nodes_featureids: ints([0, 0, 0]),
        nodes_values: [0.5, 0, 0],
        nodes_modes: ['BRANCH_LEQ', 'LEAF', 'LEAF'],
        nodes_truenodeids: ints([1, 0, 0]),
        nodes_falsenodeids: ints([2, 0, 0]),
        nodes_missing_value_tracks_true: ints([0, 0, 0]),
        target_treeids: ints([0, 0]),
        target_nodeids: ints([1, 2]),
        target_ids: ints([0, 0]),
        target_weights: [-1, 1],
        base_values: [10],
        post_transform: 'NONE',
      },
      'ai.onnx.ml',
    );
    const bytes = g.build();
    const session = await ort.InferenceSession.create(bytes);
    const out = await session.run({ X: new ort.Tensor('float32', Float32Array.from([0.2, 0.9]), [2, 1]) });
    assert.deepEqual(Array.from(out.Y.data as Float32Array), [9, 11]);
    assert.equal(await checkOnnxModel(bytes), 'ok');
  });
});
