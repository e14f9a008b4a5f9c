/** Shared pieces of the linear models: scores X·Wᵀ + b and their ONNX form. */
import type { OnnxGraphBuilder } from '../onnx/builder.ts';
import { int } from '../onnx/builder.ts';
import type { Matrix } from '../types.ts';

/** Scores X·Wᵀ + b for W of k rows × d (row-major): rows × k, row-major. */
export function linearScores(x: Matrix, coef: Float64Array, intercept: Float64Array, k: number): Float64Array {
  const { rows, cols: d, data } = x;
  const out = new Float64Array(rows * k);
  for (let i = 0; i < rows; i++) {
    const o = i * d;
    for (let c = 0; c < k; c++) {
      let z = intercept[c];
      const wo = c * d;
      for (let j = 0; j < d; j++) z += data[o + j] * coef[wo + j];
      out[i * k + c] = z;
    }
  }
  return out;
}

/**
 * Appends Gemm(input, Wᵀ, b) and the link: `sigmoid` → [1−p, p] as [N,2]; `softmax` → [N,k];
 * `identity` → the scores [N,k]. Returns the name of the output tensor.
 */
export function exportLinearOnnx(
  graph: OnnxGraphBuilder,
  input: string,
  coef: Float64Array,
  intercept: Float64Array,
  k: number,
  d: number,
  link: 'sigmoid' | 'softmax' | 'identity',
): string {
  const w = graph.constant(graph.fresh('linear_coef'), { type: 'float', dims: [k, d], values: coef });
  const b = graph.constant(graph.fresh('linear_intercept'), { type: 'float', dims: [k], values: intercept });
  const [z] = graph.node('Gemm', [input, w, b], [graph.fresh('linear_scores')], { transB: int(1) });
  if (link === 'identity') return z;
  if (link === 'softmax') return graph.node('Softmax', [z], [graph.fresh('linear_proba')], { axis: int(1) })[0];
  return binaryProbabilities(graph, graph.node('Sigmoid', [z], [graph.fresh('linear_p1')])[0]);
}

/** From P(class 1) [N,1] to [1−p, p] as [N,2]. */
export function binaryProbabilities(graph: OnnxGraphBuilder, p1: string): string {
  const one = graph.constant(graph.fresh('one'), { type: 'float', dims: [1], values: [1] });
  const [p0] = graph.node('Sub', [one, p1], [graph.fresh('p0')]);
  return graph.node('Concat', [p0, p1], [graph.fresh('proba2')], { axis: int(1) })[0];
}
