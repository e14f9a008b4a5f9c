/**
 * ONNX export of boosted trees as one `ai.onnx.ml` operator: `TreeEnsembleClassifier` (LOGISTIC for
 * binary, SOFTMAX for multiclass) or `TreeEnsembleRegressor`. Splits are `BRANCH_LEQ` on float32
 * thresholds with the learned missing-value direction (`nodes_missing_value_tracks_true`); thresholds,
 * leaf weights and base values are written as double tensors (opset 3 `*_as_tensor` attributes), so the
 * runtime compares the same float32 values as TypeScript and sums the same leaf values in double.
 */
import { type OnnxGraphBuilder, int, ints } from '../onnx/builder.ts';
import type { OnnxModelOutputs, Task } from '../types.ts';
import type { Tree } from './tree.ts';

/** What the exporter needs of a boosted model. */
export interface TreeEnsembleSource {
  readonly task: Task;
  readonly nClasses: number;
  readonly treesPerIteration: number;
  /** Raw prediction before any tree, per class. */
  readonly baseline: Float64Array;
  /** Iteration-major trees: tree t belongs to class t % treesPerIteration. */
  readonly trees: readonly Tree[];
}

/** Appends the ensemble to `graph`, reading the float tensor `input` [N, nFeatures]. */
export function exportTreeEnsembleOnnx(model: TreeEnsembleSource, graph: OnnxGraphBuilder, input: string): OnnxModelOutputs {
  const K = model.treesPerIteration;
  const nodesTreeIds: number[] = [];
  const nodesNodeIds: number[] = [];
  const nodesFeatureIds: number[] = [];
  const nodesValues: number[] = [];
  const nodesModes: string[] = [];
  const nodesTrue: number[] = [];
  const nodesFalse: number[] = [];
  const nodesMissingTrue: number[] = [];
  const leafTreeIds: number[] = [];
  const leafNodeIds: number[] = [];
  const leafTargets: number[] = [];
  const leafWeights: number[] = [];
  model.trees.forEach((tree, t) => {
    const size = tree.feature.length;
    for (let i = 0; i < size; i++) {
      nodesTreeIds.push(t);
      nodesNodeIds.push(i);
      const leaf = tree.feature[i] < 0;
      nodesFeatureIds.push(leaf ? 0 : tree.feature[i]);
      nodesValues.push(leaf ? 0 : tree.threshold[i]);
      nodesModes.push(leaf ? 'LEAF' : 'BRANCH_LEQ');
      nodesTrue.push(leaf ? 0 : tree.left[i]);
      nodesFalse.push(leaf ? 0 : tree.right[i]);
      nodesMissingTrue.push(leaf ? 0 : tree.missingLeft[i]);
      if (leaf) {
        leafTreeIds.push(t);
        leafNodeIds.push(i);
        leafTargets.push(t % K);
        leafWeights.push(tree.value[i]);
      }
    }
  });
  const nodeAttributes = {
    nodes_treeids: ints(nodesTreeIds),
    nodes_nodeids: ints(nodesNodeIds),
    nodes_featureids: ints(nodesFeatureIds),
    nodes_values_as_tensor: { tensor: { type: 'double' as const, dims: [nodesValues.length], values: nodesValues } },
    nodes_modes: nodesModes,
    nodes_truenodeids: ints(nodesTrue),
    nodes_falsenodeids: ints(nodesFalse),
    nodes_missing_value_tracks_true: ints(nodesMissingTrue),
  };
  const base = { tensor: { type: 'double' as const, dims: [model.baseline.length], values: Array.from(model.baseline) } };
  // onnxruntime sums leaf values in the precision of the operator's input: double, as TypeScript does.
  const [xd] = graph.node('Cast', [input], [graph.fresh('hgbt_x_double')], { to: int(11) });
  if (model.task === 'regression') {
    const [value] = graph.node(
      'TreeEnsembleRegressor',
      [xd],
      [graph.fresh('hgbt_value')],
      {
        ...nodeAttributes,
        n_targets: { int: 1 },
        aggregate_function: 'SUM',
        post_transform: 'NONE',
        target_treeids: ints(leafTreeIds),
        target_nodeids: ints(leafNodeIds),
        target_ids: ints(leafTargets),
        target_weights_as_tensor: { tensor: { type: 'double', dims: [leafWeights.length], values: leafWeights } },
        base_values_as_tensor: base,
      },
      'ai.onnx.ml',
    );
    return { value };
  }
  const [, probabilities] = graph.node(
    'TreeEnsembleClassifier',
    [xd],
    [graph.fresh('hgbt_label'), graph.fresh('hgbt_probabilities')],
    {
      ...nodeAttributes,
      classlabels_int64s: ints(Array.from({ length: model.nClasses }, (_, k) => k)),
      post_transform: model.task === 'binary' ? 'LOGISTIC' : 'SOFTMAX',
      class_treeids: ints(leafTreeIds),
      class_nodeids: ints(leafNodeIds),
      class_ids: ints(leafTargets),
      class_weights_as_tensor: { tensor: { type: 'double', dims: [leafWeights.length], values: leafWeights } },
      base_values_as_tensor: base,
    },
    'ai.onnx.ml',
  );
  return { probabilities };
}
