/**
 * MLflow 2.x's `runs/log-model`: a client that logs a model (`mlflow.<flavor>.log_model`) sends the
 * model's MLmodel description, and the server appends a summary of it to the run's
 * `mlflow.log-model.history` tag (a JSON list), which the MLflow UI and clients read back.
 */
import { MloopError } from '../core/errors.ts';

/** The run tag holding the history of models logged to a run. */
export const LOGGED_MODELS_TAG = 'mlflow.log-model.history';

const REQUIRED_FIELDS = ['artifact_path', 'flavors', 'utc_time_created', 'run_id'] as const;
/** The top-level fields MLflow keeps in the history (`Model.get_tags_dict`), besides `flavors`. */
const KEPT_FIELDS = ['run_id', 'utc_time_created', 'artifact_path', 'model_uuid'] as const;

function invalid(message: string, reason: string): MloopError {
  return new MloopError('INVALID_PARAMETER_VALUE', message, { fields: [{ field: 'model_json', reason }] });
}

/**
 * The history entry for `modelJson`, as MLflow builds it: the kept fields, and each flavor's
 * settings without its `config`. INVALID_PARAMETER_VALUE when the text is not a JSON object with
 * MLflow's mandatory fields.
 */
export function loggedModelEntry(modelJson: string): Record<string, unknown> {
  let model: unknown;
  try {
    model = JSON.parse(modelJson);
  } catch {
    throw invalid(`Malformed model info. \n ${modelJson.slice(0, 200)} \n is not a valid JSON.`, 'not valid JSON');
  }
  if (typeof model !== 'object' || model === null || Array.isArray(model)) throw invalid('Model json must be a JSON object.', 'expected a JSON object');
  const fields = model as Record<string, unknown>;
  const missing = REQUIRED_FIELDS.filter((f) => !Object.hasOwn(fields, f));
  if (missing.length > 0) {
    throw invalid(`Model json is missing mandatory fields: {${missing.map((f) => `'${f}'`).join(', ')}}`, `missing ${missing.join(', ')}`);
  }
  const flavors = fields.flavors;
  if (typeof flavors !== 'object' || flavors === null || Array.isArray(flavors)) throw invalid('Model json field flavors must be an object.', 'flavors: expected an object');
  const entry: Record<string, unknown> = {};
  for (const f of KEPT_FIELDS) if (Object.hasOwn(fields, f)) entry[f] = fields[f];
  const kept: Record<string, unknown> = {};
  for (const [name, settings] of Object.entries(flavors)) {
    if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
      kept[name] = settings;
      continue;
    }
    kept[name] = Object.fromEntries(Object.entries(settings).filter(([k]) => k !== 'config'));
  }
  entry.flavors = kept;
  return entry;
}

/** The tag value after appending `entry` to the history `previous` (absent or unreadable: a new list). */
export function appendLoggedModel(previous: string | undefined, entry: Record<string, unknown>): string {
  let history: unknown[] = [];
  if (previous !== undefined) {
    try {
      const parsed: unknown = JSON.parse(previous);
      if (Array.isArray(parsed)) history = parsed;
    } catch {
      // A tag a client overwrote with something else starts a new history (where MLflow's server fails).
    }
  }
  return JSON.stringify([...history, entry]);
}
