/**
 * What the explainers need from a model: a dense feature matrix and a batch `predict` function.
 * Both are structural, so a trained model's `predict` (see `training/types.ts`) fits as it is.
 *
 * The explainers are written once, as generators that yield each matrix they need predicted and
 * receive the predictions back ({@link Predicting}); {@link runPredicting} drives one with a
 * synchronous `predict` (a pipeline in memory), {@link runPredictingAsync} with an asynchronous one
 * (an onnxruntime session), so both give the same numbers.
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

/** {@link PredictFn} that may answer later (a model scored in onnxruntime). */
export type AsyncPredictFn = (x: FeatureMatrix) => ArrayLike<number> | Promise<ArrayLike<number>>;

/**
 * A computation that needs predictions: it yields each matrix to predict (valid only until the
 * predictions come back) and is resumed with the predictions; it returns its result.
 */
export type Predicting<T> = Generator<FeatureMatrix, T, ArrayLike<number>>;

/** Runs `steps`, answering each matrix with `predict`. */
export function runPredicting<T>(steps: Predicting<T>, predict: PredictFn): T {
  let next = steps.next();
  while (!next.done) next = steps.next(predict(next.value));
  return next.value;
}

/** Runs `steps`, answering each matrix with `predict`, awaited. */
export async function runPredictingAsync<T>(steps: Predicting<T>, predict: AsyncPredictFn): Promise<T> {
  let next = steps.next();
  while (!next.done) next = steps.next(await predict(next.value));
  return next.value;
}
