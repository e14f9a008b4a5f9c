/**
 * Validation of user-supplied relative paths (artifact paths, blob keys).
 *
 * The rules follow MLflow's path-traversal CVE history (CVE-2023-1177, -2356, -2780, -6831, -6909,
 * -6977, CVE-2024-1483, -1558, -3573): decode fully first — double encoding included — and only then
 * judge the path, so that no encoding can smuggle a `..` past the check.
 */
import { invalidParam } from './errors.ts';

const MAX_DECODE_ROUNDS = 8;

/** Percent-decodes `value` until it stops changing; throws on malformed escapes. */
export function decodeFully(value: string, field: string): string {
  let current = value;
  for (let round = 0; round < MAX_DECODE_ROUNDS; round++) {
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      throw invalidParam(field, `path ${JSON.stringify(value)} has a malformed percent-encoding`);
    }
    if (next === current) return current;
    current = next;
  }
  throw invalidParam(field, `path ${JSON.stringify(value)} is encoded too many times`);
}

/** Options of {@link safeRelativePath}. */
export interface SafeRelativePathOptions {
  /** Accept the empty path (the root itself). Default false. */
  readonly allowEmpty?: boolean;
}

/**
 * Decodes and checks a relative path, returning its canonical form (segments joined by `/`, no
 * trailing slash). Throws `INVALID_PARAMETER_VALUE` naming `field` when the path is absolute
 * (POSIX, Windows drive or UNC), holds a `..` or `.` segment, an empty segment, a backslash, a NUL or
 * other control character, `?` or `#`.
 */
export function safeRelativePath(raw: string, field: string, options: SafeRelativePathOptions = {}): string {
  if (typeof raw !== 'string') throw invalidParam(field, 'path must be a string');
  const decoded = decodeFully(raw, field);
  const reject = (why: string): never => {
    throw invalidParam(field, `path ${JSON.stringify(raw)} is not allowed: ${why}`);
  };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(decoded)) reject('it contains a control character');
  if (decoded.includes('\\')) reject('it contains a backslash');
  if (decoded.includes('?') || decoded.includes('#')) reject('it contains "?" or "#"');
  if (decoded.startsWith('/')) reject('it is absolute');
  if (/^[A-Za-z]:/.test(decoded)) reject('it is an absolute Windows path');
  const trimmed = decoded.endsWith('/') ? decoded.slice(0, -1) : decoded;
  if (trimmed === '') {
    if (options.allowEmpty) return '';
    reject('it is empty');
  }
  const segments = trimmed.split('/');
  for (const segment of segments) {
    if (segment === '..') reject('it contains a ".." segment');
    if (segment === '.') reject('it contains a "." segment');
    if (segment === '') reject('it contains an empty segment');
  }
  return segments.join('/');
}

/** Joins already-validated relative paths with `/`, skipping empty parts. */
export function joinKey(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/');
}
