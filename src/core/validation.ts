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
