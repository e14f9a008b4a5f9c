/**
 * The loss and gradient of L2-regularized logistic regression over a range of rows — the hot loop of
 * {@link ./logistic.ts}, shared by the main thread and the gradient workers. No allocation per call.
 *
 * Parameter layout: binary → [w_0 … w_{d-1}, b]; multinomial (k classes) → k rows of d weights
 * (row-major), then k intercepts.
 */

/** Data a kernel reads. `y` holds class indices; `sw` is null for unit weights. */
export interface LogisticData {
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly sw: Float64Array | null;
  readonly rows: number;
  readonly cols: number;
  /** 1 for binary (one logit), k for multinomial. */
  readonly outputs: number;
}

/**
 * Adds Σ sw·loss over rows [start, end) to the return value and Σ sw·∇loss into `grad` (same layout as
 * the parameters; `grad` is overwritten). `scratch` needs `outputs` entries.
 */
export function logisticChunk(data: LogisticData, params: Float64Array, start: number, end: number, grad: Float64Array, scratch: Float64Array): number {
  const { x, y, sw, cols: d, outputs: k } = data;
  grad.fill(0);
  let loss = 0;
  if (k === 1) {
    const b = params[d];
    let gb = 0;
    for (let i = start; i < end; i++) {
      const o = i * d;
      let z = b;
      for (let j = 0; j < d; j++) z += x[o + j] * params[j];
      const yi = y[i];
      const w = sw === null ? 1 : sw[i];
      // log(1 + e^z) − y·z and σ(z) − y, written to stay finite for large |z|.
      let lp: number;
      let p: number;
      if (z >= 0) {
        const e = Math.exp(-z);
        lp = z + Math.log1p(e);
        p = 1 / (1 + e);
      } else {
        const e = Math.exp(z);
        lp = Math.log1p(e);
        p = e / (1 + e);
      }
      loss += w * (lp - yi * z);
      const r = w * (p - yi);
      gb += r;
      for (let j = 0; j < d; j++) grad[j] += r * x[o + j];
    }
    grad[d] = gb;
    return loss;
  }
  const bOff = k * d;
  for (let i = start; i < end; i++) {
    const o = i * d;
    let max = -Infinity;
    for (let c = 0; c < k; c++) {
      let z = params[bOff + c];
      const wo = c * d;
      for (let j = 0; j < d; j++) z += x[o + j] * params[wo + j];
      scratch[c] = z;
      if (z > max) max = z;
    }
    const yi = y[i];
    const zy = scratch[yi];
    let sum = 0;
    for (let c = 0; c < k; c++) {
      const e = Math.exp(scratch[c] - max);
      scratch[c] = e;
      sum += e;
    }
    const w = sw === null ? 1 : sw[i];
    loss += w * (max + Math.log(sum) - zy);
    for (let c = 0; c < k; c++) {
      const r = w * (scratch[c] / sum - (c === yi ? 1 : 0));
      grad[bOff + c] += r;
      const wo = c * d;
      for (let j = 0; j < d; j++) grad[wo + j] += r * x[o + j];
    }
  }
  return loss;
}
