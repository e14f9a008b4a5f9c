/**
 * Explanations of models that are only an ONNX file (registered from scikit-learn, PyTorch, …): the
 * same permutation importance and KernelSHAP as for mloop's own models, over the raw dataset columns
 * the signature reads, with every perturbed matrix scored in onnxruntime by `scoreTable` — the path
 * that evaluates these models. Each matrix the explainers ask for is one batched scoring call.
 * Evaluations run it on the compute worker (`explainExternal` in `compute.ts`).
 */
import type * as ort from 'onnxruntime-node';
import { invalidParam } from '../core/errors.ts';
import type { StoredSignature } from '../training/model-files.ts';
import { inputColumns, scoreTable } from '../training/scoring.ts';
import type { Table, Task } from '../training/types.ts';
import { encodeRaw, explainSteps, type ExplainOutput, type ExplainProgress, type ExplainSettings } from './explain/explanations.ts';
import { runPredictingAsync, type FeatureMatrix } from './explain/types.ts';

/** Hooks of {@link explainExternalModel}. */
export interface ExternalExplainHooks {
  readonly onProgress?: ExplainProgress;
  /** Called before each scoring call; throw to stop (a cancelled job). */
  readonly beforeScoring?: () => void;
}

/**
 * Permutation importance and KernelSHAP of the model open in `session` on the rows of `table` (in a
 * random order: see `explainSteps`), `yTrue` holding class indices or values per row.
 */
export async function explainExternalModel(
  session: ort.InferenceSession,
  signature: StoredSignature & { readonly task: Task },
  table: Table,
  yTrue: Float64Array,
  settings: ExplainSettings,
  hooks: ExternalExplainHooks = {},
): Promise<ExplainOutput> {
  const { task } = signature;
  const features = [...new Set(signature.inputs.flatMap((i) => inputColumns(i)))];
  const { matrix, decode } = encodeRaw(table, features);
  const k = task === 'multiclass' ? signature.classes?.length : undefined;
  const predict = async (m: FeatureMatrix): Promise<Float64Array> => {
    hooks.beforeScoring?.();
    const scores = await scoreTable(session, decode(m), signature);
    if (task === 'regression') return scores.values!;
    if (task === 'multiclass') {
      if (scores.nClasses !== k) throw invalidParam('model', `outputs ${scores.nClasses} probabilities per row for ${k} classes`);
      return scores.probabilities!;
    }
    // Binary: P(class 1), as the metrics read it.
    const p = new Float64Array(m.rows);
    for (let r = 0; r < m.rows; r++) p[r] = scores.probabilities![2 * r + 1];
    return p;
  };
  const model = { task, target: signature.target ?? 'prediction', ...(signature.classes ? { classes: signature.classes } : {}), features };
  return runPredictingAsync(explainSteps(model, matrix, yTrue, settings, hooks.onProgress), predict);
}
