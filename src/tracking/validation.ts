/**
 * Tracking's input rules, as MLflow states them in `mlflow/utils/validation.py`: key characters and
 * path rules, length limits, batch limits, and MLflow's error messages (naming the field).
 */
import { MloopError } from '../core/errors.ts';

/** Longest metric, param or run tag key. */
export const MAX_ENTITY_KEY_LENGTH = 250;
/** Longest param value. */
export const MAX_PARAM_VAL_LENGTH = 6000;
/** Longest run tag value. */
export const MAX_TAG_VAL_LENGTH = 8000;
/** Longest experiment name. */
export const MAX_EXPERIMENT_NAME_LENGTH = 500;
/** Longest experiment tag key. */
export const MAX_EXPERIMENT_TAG_KEY_LENGTH = 250;
/** Longest experiment tag value. */
export const MAX_EXPERIMENT_TAG_VAL_LENGTH = 5000;
/** Most metrics in one `log-batch`. */
export const MAX_METRICS_PER_BATCH = 1000;
/** Most params (and, separately, most tags) in one `log-batch`. */
export const MAX_PARAMS_TAGS_PER_BATCH = 100;
/** Most metrics, params and tags together in one `log-batch`. */
export const MAX_ENTITIES_PER_BATCH = 1000;
/** Largest `log-batch` request body, in bytes. */
export const MAX_BATCH_LOG_REQUEST_SIZE = 1_000_000;
/** Longest dataset name. */
export const MAX_DATASET_NAME_SIZE = 500;
/** Longest dataset digest. */
export const MAX_DATASET_DIGEST_SIZE = 36;
/** Longest dataset schema. */
export const MAX_DATASET_SCHEMA_SIZE = 1_048_575;
/** Longest dataset source. */
export const MAX_DATASET_SOURCE_SIZE = 65_535;
/** Longest dataset profile. */
export const MAX_DATASET_PROFILE_SIZE = 16_777_215;
/** Longest input tag key. */
export const MAX_INPUT_TAG_KEY_SIZE = 255;
/** Longest input tag value. */
export const MAX_INPUT_TAG_VALUE_SIZE = 500;

// MLflow (on POSIX): alphanumerics (Unicode, as Python's \w), underscores, periods, dashes, colons, spaces, slashes.
const KEY_CHARACTERS = /^[/\p{L}\p{N}_.\- :]*$/u;
const BAD_CHARACTERS_MESSAGE =
  'Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).';

function invalidValueMessage(path: string, value: unknown, reason?: string): string {
  const rendered = JSON.stringify(value) ?? String(value);
  return reason
    ? `Invalid value ${rendered} for parameter '${path}' supplied: ${reason}`
    : `Invalid value ${rendered} for parameter '${path}' supplied.`;
}

/** INVALID_PARAMETER_VALUE in MLflow's wording, naming `field`. */
export function invalidValue(field: string, value: unknown, reason?: string): MloopError {
  return new MloopError('INVALID_PARAMETER_VALUE', invalidValueMessage(field, value, reason), {
    fields: [{ field, reason: reason ?? 'invalid value' }],
  });
}

/** INVALID_PARAMETER_VALUE for a value longer than `limit`. */
export function tooLong(field: string, limit: number): MloopError {
  const reason = `exceeds the maximum length of ${limit} characters`;
  return new MloopError('INVALID_PARAMETER_VALUE', `'${field}' ${reason}`, { fields: [{ field, reason }] });
}

/** Python's `posixpath.normpath`. */
export function posixNormpath(path: string): string {
  if (path === '') return '.';
  let initialSlashes = path.startsWith('/') ? 1 : 0;
  if (initialSlashes && path.startsWith('//') && !path.startsWith('///')) initialSlashes = 2;
  const out: string[] = [];
  for (const comp of path.split('/')) {
    if (comp === '' || comp === '.') continue;
    if (comp !== '..' || (!initialSlashes && out.length === 0) || (out.length > 0 && out[out.length - 1] === '..')) out.push(comp);
    else if (out.length > 0) out.pop();
  }
  const joined = '/'.repeat(initialSlashes) + out.join('/');
  return joined === '' ? '.' : joined;
}

/** MLflow's `path_not_unique`: the name would not survive being treated as a relative file path. */
export function pathNotUnique(name: string): boolean {
  // Fast path for the common key: no slash, not a dot name.
  if (!name.includes('/') && name !== '' && name !== '.' && !name.startsWith('..')) return false;
  const norm = posixNormpath(name);
  return norm !== name || norm === '.' || norm.startsWith('..') || norm.startsWith('/');
}

/**
 * Checks a metric, param or tag key (`field` names it in errors): required, MLflow's characters,
 * no path tricks, at most `maxLength` characters.
 */
export function validateKey(key: string | undefined, field: string, maxLength = MAX_ENTITY_KEY_LENGTH): string {
  if (key === undefined || key === null || key === '') {
    throw new MloopError('INVALID_PARAMETER_VALUE', `Missing value for required parameter '${field}'.`, {
      fields: [{ field, reason: 'required' }],
    });
  }
  if (!KEY_CHARACTERS.test(key)) throw invalidValue(field, key, BAD_CHARACTERS_MESSAGE);
  if (pathNotUnique(key)) {
    throw invalidValue(
      field,
      key,
      `Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '${posixNormpath(key)}'`,
    );
  }
  if (key.length > maxLength) throw tooLong(field, maxLength);
  return key;
}

/** Checks a string against a length limit. */
export function validateLength(value: string, field: string, limit: number): string {
  if (value.length > limit) throw tooLong(field, limit);
  return value;
}

/** Checks an experiment name: non-empty, at most 500 characters. */
export function validateExperimentName(name: string, field = 'name'): string {
  if (name === '') throw invalidValue(field, name, `Invalid experiment name: ''`);
  if (name.length > MAX_EXPERIMENT_NAME_LENGTH) throw tooLong(field, MAX_EXPERIMENT_NAME_LENGTH);
  return name;
}

/** Checks an experiment's artifact location as MLflow does: no `runs:` URI, no fragment, params or traversal in the query. */
export function validateArtifactLocation(location: string, field = 'artifact_location'): string {
  if (location.startsWith('runs:')) throw invalidValue(field, location, `Artifact location cannot be a runs:/ URI. Given: '${location}'`);
  if (location.includes('#') || /;[^/]*$/.test(location.split('?')[0])) {
    throw invalidValue(field, location, "'artifact_location' URL can't include fragments or params.");
  }
  const query = location.includes('?') ? location.slice(location.indexOf('?') + 1) : '';
  if (query !== '') {
    let decoded = query;
    for (let i = 0; i < 8; i++) {
      let next: string;
      try {
        next = decodeURIComponent(decoded);
      } catch {
        throw invalidValue(field, location, 'Invalid query string');
      }
      if (next === decoded) break;
      decoded = next;
    }
    if (decoded.includes('..')) throw invalidValue(field, location, 'Invalid query string');
  }
  return location;
}

/** Checks the counts of a `log-batch` request against MLflow's limits. */
export function validateBatchLimits(metrics: number, params: number, tags: number): void {
  const check = (entity: string, limit: number, length: number, field: string) => {
    if (length > limit) {
      throw new MloopError(
        'INVALID_PARAMETER_VALUE',
        `A batch logging request can contain at most ${limit} ${entity}. Got ${length} ${entity}. Please split up ${entity} across multiple requests and try again.`,
        { fields: [{ field, reason: `at most ${limit} ${entity}` }] },
      );
    }
  };
  check('metrics', MAX_METRICS_PER_BATCH, metrics, 'metrics');
  check('params', MAX_PARAMS_TAGS_PER_BATCH, params, 'params');
  check('tags', MAX_PARAMS_TAGS_PER_BATCH, tags, 'tags');
  check('metrics, params, and tags', MAX_ENTITIES_PER_BATCH, metrics + params + tags, 'body');
}

/** Checks the size of a `log-batch` request body in bytes. */
export function validateBatchRequestSize(bytes: number): void {
  if (bytes > MAX_BATCH_LOG_REQUEST_SIZE) {
    throw new MloopError(
      'INVALID_PARAMETER_VALUE',
      `Batched logging API requests must be at most ${MAX_BATCH_LOG_REQUEST_SIZE} bytes, got a request of size ${bytes}.`,
      { fields: [{ field: 'body', reason: `at most ${MAX_BATCH_LOG_REQUEST_SIZE} bytes` }] },
    );
  }
}
