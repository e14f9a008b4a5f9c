/** Validation at the edge: zod schemas in, {@link MloopError}s naming the field out. */
import type { z } from 'zod';
import { MloopError, type FieldError } from './errors.ts';

/** Renders a zod issue path as `a.b[2].c`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/**
 * Parses `input` with `schema`; on failure throws `INVALID_PARAMETER_VALUE` whose message and field
 * list name every bad field. `where` prefixes field names (`body`, `query`).
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, where?: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const fields: FieldError[] = result.error.issues.map((issue) => {
    const path = formatPath(issue.path);
    const field = path === '' ? (where ?? 'body') : path;
    return { field, reason: issue.message };
  });
  const message = fields.map((f) => `${f.field}: ${f.reason}`).join('; ');
  throw new MloopError('INVALID_PARAMETER_VALUE', message, { fields });
}

/**
 * Why a NUL character is refused in any name, key or value: PostgreSQL text cannot hold one (SQLite
 * can, so without this rule the same request would succeed on one backend and fail on the other), and
 * no identifier or free text needs one.
 */
export const NUL_REASON = 'must not contain the NUL character (\\u0000)';

/**
 * The path (`a.b[2].c`, `''` for `value` itself) of the first string within `value` — an element,
 * a property value or a property name — that holds a NUL character; undefined when there is none.
 * Walks without recursion, so a deeply nested body cannot overflow the stack.
 */
export function findNul(value: unknown): string | undefined {
  // Each entry links to its parent, so the path is built only for the string that holds the NUL.
  type Entry = { readonly value: unknown; readonly key?: PropertyKey; readonly parent?: Entry };
  const pathOf = (entry: Entry | undefined, last?: PropertyKey): string => {
    const path: PropertyKey[] = last === undefined ? [] : [last];
    for (let e = entry; e?.parent !== undefined; e = e.parent) path.push(e.key!);
    return formatPath(path.reverse());
  };
  const stack: Entry[] = [{ value }];
  while (stack.length > 0) {
    const entry = stack.pop()!;
    const current = entry.value;
    if (typeof current === 'string') {
      if (current.includes('\u0000')) return pathOf(entry);
    } else if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push({ value: current[i], key: i, parent: entry });
    } else if (current !== null && typeof current === 'object') {
      const keys = Object.keys(current);
      // Names are checked before any value, in order, so the first bad name is the one reported.
      for (const key of keys) if (key.includes('\u0000')) return pathOf(entry, key.replaceAll('\u0000', '\\u0000'));
      for (let i = keys.length - 1; i >= 0; i--) stack.push({ value: (current as Record<string, unknown>)[keys[i]], key: keys[i], parent: entry });
    }
  }
  return undefined;
}

/**
 * Throws INVALID_PARAMETER_VALUE naming the field when any string in `input` holds a NUL character
 * (see {@link NUL_REASON}); `where` names `input` itself (`body`, `query`, `path`).
 */
export function rejectNul(input: unknown, where: string): void {
  const path = findNul(input);
  if (path === undefined) return;
  const field = path === '' ? where : path;
  throw new MloopError('INVALID_PARAMETER_VALUE', `${field}: ${NUL_REASON}`, { fields: [{ field, reason: NUL_REASON }] });
}
