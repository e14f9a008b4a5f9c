/**
 * What the explainers need from a model: a dense feature matrix and a batch `predict` function.
 * Both are structural, so a trained model's `predict` (see `training/types.ts`) fits as it is.
 */

/** A dense row-major matrix of features. */
export interface FeatureMatrix {
  readonly rows: number;
  readonly cols: number;
  /** `data[r * cols + c]`. */
  readonly data: Float64Array;
}

/**
 * A model's predictions for every row of `x`: one value per row (regression value or P(class 1)),
 * or `rows × k` values row-major (class probabilities).
 */
export type PredictFn = (x: FeatureMatrix) => ArrayLike<number>;
