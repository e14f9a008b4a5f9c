/**
 * The registry's domain: registered models, model versions, tags, aliases and stages, in MLflow's
 * wire shape (model_registry.proto: snake_case, `version` as a string, times in ms), plus the pure
 * validation of names, tags, aliases, stages and version numbers with MLflow's wording.
 */
import { invalidParam, isMloopError } from '../core/errors.ts';
import { decodeFully, safeRelativePath } from '../core/paths.ts';
import { artifactUriToKey } from '../tracking/artifacts.ts';

/** MLflow's model version stages (kept for old clients; aliases replace them). */
export const STAGES = ['None', 'Staging', 'Production', 'Archived'] as const;
/** A model version stage. */
export type Stage = (typeof STAGES)[number];

/** Stages `archive_existing_versions` may be used with. */
export const ACTIVE_STAGES: readonly Stage[] = ['Staging', 'Production'];

/** Model version statuses; versions are READY as soon as they are created. */
export type ModelVersionStatus = 'PENDING_REGISTRATION' | 'FAILED_REGISTRATION' | 'READY';

/** A key/value tag of a registered model or model version. */
export interface RegistryTag {
  key: string;
  value: string;
}

/** An alias of a registered model and the version it points at. */
export interface RegisteredModelAlias {
  alias: string;
  version: string;
}

/**
 * A model version. `run_id`, `source`, `storage_location` and `run_link` record where it came from;
 * later lineage (datasets, features) attaches to `(name, version)` without changing this shape.
 */
export interface ModelVersion {
  name: string;
  version: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  user_id?: string;
  current_stage: Stage;
  description?: string;
  /** The URI the client registered (`runs:/…` or `mlflow-artifacts:/…`), as given. */
  source: string;
  /** `source` resolved to the `mlflow-artifacts:` URI of the files (mloop's addition to MLflow's shape). */
  storage_location: string;
  run_id?: string;
  status: ModelVersionStatus;
  status_message?: string;
  tags: RegistryTag[];
  run_link?: string;
  aliases: string[];
}

/** A registered model with its latest version per stage, tags and aliases. */
export interface RegisteredModel {
  name: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  description?: string;
  latest_versions: ModelVersion[];
  tags: RegistryTag[];
  aliases: RegisteredModelAlias[];
}

/** MLflow's limits on registry tags and aliases. */
export const LIMITS = {
  tagKey: 250,
  tagValue: 5000,
  alias: 255,
  name: 256,
  description: 65_535,
  source: 4000,
  runLink: 4000,
} as const;

const TAG_KEY = /^[/\w.\- :]*$/;
const ALIAS = /^[\w-]*$/;
const VERSION_ALIAS = /^[vV]\d+$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** MLflow's wording for a missing required value. */
export function missingValue(field: string): string {
  return `Missing value for required parameter '${field}'.`;
}

/** Checks a registered model name (`field` is `name` or `new_name`). */
export function validateModelName(name: string, field = 'name'): string {
  if (name === '') throw invalidParam(field, missingValue(field));
  if (name.length > LIMITS.name) throw invalidParam(field, `'${field}' exceeds the maximum length of ${LIMITS.name} characters`);
  if (CONTROL.test(name)) throw invalidParam(field, `Invalid model name ${JSON.stringify(name)}: names may not contain control characters.`);
  return name;
}

/** Parses a version number given as a string or integer; MLflow's message when it is not one. */
export function parseVersion(raw: string | number, field = 'version'): number {
  const text = String(raw).trim();
  if (!/^\d{1,15}$/.test(text)) throw invalidParam(field, `Parameter '${field}' must be an integer, got '${raw}'.`);
  return Number(text);
}

/** Checks a tag key and value as MLflow's `_validate_registered_model_tag` does. */
export function validateTag(key: string, value: string, path = ''): RegistryTag {
  const keyField = path ? `${path}.key` : 'key';
  const valueField = path ? `${path}.value` : 'value';
  if (key === '') throw invalidParam(keyField, missingValue(keyField));
  if (!TAG_KEY.test(key)) {
    throw invalidParam(
      keyField,
      `Invalid value ${JSON.stringify(key)} for parameter '${keyField}' supplied: Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).`,
    );
  }
  const segments = key.split('/');
  if (key.startsWith('/') || segments.some((s) => s === '.' || s === '..') || /\/\//.test(key) || key.endsWith('/')) {
    throw invalidParam(
      keyField,
      `Invalid value ${JSON.stringify(key)} for parameter '${keyField}' supplied: Names may be treated as files in certain cases, and must not resolve to other names when treated as such.`,
    );
  }
  if (key.length > LIMITS.tagKey) throw invalidParam(keyField, `'${keyField}' exceeds the maximum length of ${LIMITS.tagKey} characters`);
  if (value.length > LIMITS.tagValue) throw invalidParam(valueField, `'${valueField}' exceeds the maximum length of ${LIMITS.tagValue} characters`);
  return { key, value };
}

/** Checks a list of tags; the last value of a repeated key wins, as in MLflow. */
export function validateTags(tags: readonly RegistryTag[], field = 'tags'): RegistryTag[] {
  const byKey = new Map<string, string>();
  tags.forEach((tag, i) => {
    const checked = validateTag(tag.key, tag.value, `${field}[${i}]`);
    byKey.set(checked.key, checked.value);
  });
  return [...byKey].map(([key, value]) => ({ key, value }));
}

/** Checks an alias name as MLflow's `_validate_model_alias_name` does. */
export function validateAlias(alias: string): string {
  if (alias === '') throw invalidParam('alias', 'Registered model alias name cannot be empty.');
  if (!ALIAS.test(alias)) {
    throw invalidParam('alias', `Invalid alias name: '${alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-).`);
  }
  if (alias.length > LIMITS.alias) {
    throw invalidParam('alias', `'Registered model alias name' exceeds the maximum length of ${LIMITS.alias} characters`);
  }
  if (alias.toLowerCase() === 'latest') throw invalidParam('alias', "'latest' alias name (case insensitive) is reserved.");
  if (VERSION_ALIAS.test(alias)) throw invalidParam('alias', `Version alias name '${alias}' is reserved.`);
  return alias;
}

/** The canonical spelling of a stage, matched case-insensitively; MLflow's message otherwise. */
export function canonicalStage(raw: string, field = 'stage'): Stage {
  const found = STAGES.find((s) => s.toLowerCase() === raw.trim().toLowerCase());
  if (!found) {
    throw invalidParam(field, `Invalid Model Version stage: ${raw}. Value must be one of ${STAGES.join(', ')}.`);
  }
  return found;
}

/** Checks an optional free-text field's length. */
export function checkLength(value: string | undefined, field: string, max: number): string | undefined {
  if (value !== undefined && value.length > max) throw invalidParam(field, `'${field}' exceeds the maximum length of ${max} characters`);
  return value;
}

/** A model version source, parsed: a path inside a run's artifacts or a key in the artifact root. */
export type ModelSource =
  | { readonly kind: 'run'; readonly runId: string; readonly path: string }
  | { readonly kind: 'artifacts'; readonly key: string };

const RUN_ID = /^[a-zA-Z0-9][\w-]{0,255}$/;

/**
 * Parses a model version `source`. Only sources inside this server's artifact root are accepted:
 * `runs:/<run_id>[/<path>]` and `mlflow-artifacts:` URIs. The source is decoded fully first (double
 * encoding too), then its path is judged by `safeRelativePath`; every other form — `file:`, `http(s):`,
 * `s3:`, absolute or UNC paths, an empty scheme, `..` anywhere — is INVALID_PARAMETER_VALUE on `source`.
 */
export function parseModelSource(source: string): ModelSource {
  const refuse = (why: string): never => {
    throw invalidParam(
      'source',
      `Invalid model version source: '${source}'. ${why} A source must be a runs:/<run_id>/<path> URI or an mlflow-artifacts: URI inside the artifact root, without relative path references.`,
    );
  };
  if (source === '') throw invalidParam('source', missingValue('source'));
  if (source.length > LIMITS.source) refuse(`It is longer than ${LIMITS.source} characters.`);
  let decoded: string;
  try {
    decoded = decodeFully(source, 'source');
  } catch {
    return refuse('It has a malformed percent-encoding.');
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(decoded)?.[1]?.toLowerCase();
  if (scheme === 'runs') {
    const rest = decoded.slice('runs:'.length);
    if (!rest.startsWith('/') || rest.startsWith('//')) refuse('A runs: URI must look like runs:/<run_id>/<path>.');
    const slash = rest.indexOf('/', 1);
    const runId = slash === -1 ? rest.slice(1) : rest.slice(1, slash);
    if (!RUN_ID.test(runId)) refuse(`${JSON.stringify(runId)} is not a run id.`);
    const path = slash === -1 ? '' : rest.slice(slash + 1);
    try {
      return { kind: 'run', runId, path: safeRelativePath(path, 'source', { allowEmpty: true }) };
    } catch (error) {
      return refuse(`Its path is unsafe (${reason(error)}).`);
    }
  }
  if (scheme === 'mlflow-artifacts') {
    try {
      return { kind: 'artifacts', key: artifactUriToKey(decoded, 'source') };
    } catch (error) {
      return refuse(`Its path is unsafe (${reason(error)}).`);
    }
  }
  if (scheme === undefined) return refuse('It has no URI scheme.');
  return refuse(`The scheme "${scheme}:" names a location outside the artifact root.`);
}

function reason(error: unknown): string {
  if (!isMloopError(error)) throw error;
  return error.fields[0]?.reason ?? error.message;
}
