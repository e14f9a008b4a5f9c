/**
 * Paging of MLflow searches: opaque page tokens and `max_results` limits.
 *
 * A token is base64 of the JSON `{"offset": N}`, byte for byte what MLflow's SQL stores produce, so
 * a token means "skip N rows of the same query". Tokens are not signed: a client can forge any
 * offset, which only lets it read a page it could reach by paging anyway.
 */
import { MloopError, invalidParam } from '../errors.ts';
import type { SearchKind } from './spec.ts';

/** Default and maximum `max_results` of a search kind. */
export interface MaxResultsLimit {
  readonly default: number;
  readonly max: number;
}

/**
 * MLflow's limits: `SEARCH_MAX_RESULTS_DEFAULT`/`_THRESHOLD` (runs, experiments),
 * `SEARCH_REGISTERED_MODEL_MAX_RESULTS_*` and `SEARCH_MODEL_VERSION_MAX_RESULTS_*` (registry).
 * MLflow releases disagree on the model-version default (1,000 or 10,000); 10,000 is used here.
 */
export const MAX_RESULTS: Readonly<Record<SearchKind, MaxResultsLimit>> = {
  runs: { default: 1000, max: 50_000 },
  experiments: { default: 1000, max: 50_000 },
  registered_models: { default: 100, max: 1000 },
  model_versions: { default: 10_000, max: 200_000 },
};

// Far more than any token we issue; bounds the work done on garbage.
const MAX_TOKEN_LENGTH = 1024;

function describe(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(value);
  else if (typeof value === 'object' && value !== null) text = Array.isArray(value) ? 'array' : 'object';
  else text = String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/**
 * Validates `max_results` for `kind`: absent (undefined, null or '') gives the kind's default;
 * otherwise a positive integer up to the kind's maximum, as a number or a decimal string (query
 * parameters arrive as strings). Errors name `max_results`, worded as MLflow's stores word them.
 */
export function resolveMaxResults(value: unknown, kind: SearchKind): number {
  const limit = MAX_RESULTS[kind];
  if (value === undefined || value === null || value === '') return limit.default;
  let n: number | undefined;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*\d{1,16}\s*$/.test(value)) n = Number(value);
  if (n === undefined || !Number.isSafeInteger(n) || n < 1) {
    throw invalidParam(
      'max_results',
      `Invalid value ${describe(value)} for parameter 'max_results' supplied. It must be a positive integer`,
    );
  }
  if (n > limit.max) {
    throw invalidParam(
      'max_results',
      `Invalid value ${n} for parameter 'max_results' supplied. It must be at most ${limit.max}`,
    );
  }
  return n;
}

/** Encodes a row offset as a page token (`base64('{"offset": N}')`). */
export function encodePageToken(offset: number): string {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new MloopError('INTERNAL_ERROR', `page token offset must be a non-negative integer, got ${offset}`);
  }
  return Buffer.from(`{"offset": ${offset}}`, 'utf8').toString('base64');
}

function badToken(reason: string): MloopError {
  return invalidParam('page_token', `Invalid page token, ${reason}`);
}

/**
 * Decodes a page token into the row offset it stands for; an absent or empty token means offset 0.
 * Accepts standard or URL-safe base64, padded or not. Anything else — not base64, not JSON, no
 * non-negative integer `offset` — is `INVALID_PARAMETER_VALUE` naming `page_token`.
 */
export function decodePageToken(token: string | null | undefined): number {
  if (token === null || token === undefined || token === '') return 0;
  if (token.length > MAX_TOKEN_LENGTH) throw badToken(`longer than ${MAX_TOKEN_LENGTH} characters`);
  // Buffer's decoder silently skips characters outside the alphabet, so check the shape first.
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(token) || token.replace(/=+$/, '').length % 4 === 1) {
    throw badToken('could not base64-decode');
  }
  let parsed: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(token, 'base64'));
    parsed = JSON.parse(text);
  } catch {
    throw badToken('decoded value is not JSON');
  }
  const offset =
    typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && Object.hasOwn(parsed, 'offset')
      ? (parsed as { offset: unknown }).offset
      : undefined;
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw badToken('expected {"offset": <non-negative integer>}');
  }
  return offset;
}

/**
 * The token of the page after one that started at `offset` and asked for `maxResults` rows.
 * Fetch `maxResults + 1` rows and pass how many came back: when the extra row exists there is a
 * next page (return `maxResults` of them), otherwise this returns undefined.
 */
export function nextPageToken(offset: number, maxResults: number, fetched: number): string | undefined {
  return fetched > maxResults ? encodePageToken(offset + maxResults) : undefined;
}
