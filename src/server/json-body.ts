/**
 * JSON request bodies. Parsed with prototype-poisoning protection (a `__proto__` or `constructor.prototype`
 * key is refused, never merged). MLflow's Python server accepts the non-standard tokens `NaN`,
 * `Infinity` and `-Infinity` that Python's `json` module writes; so do we, turning them into the
 * strings `"NaN"`, `"Infinity"`, `"-Infinity"` that the protobuf JSON mapping uses. A string holding a
 * NUL character (`\u0000`) is refused, naming its field (see `NUL_REASON` in core).
 */
import secureJson from 'secure-json-parse';
import { MloopError } from '../core/errors.ts';
import { rejectNul } from '../core/validation.ts';

const OPTIONS = { protoAction: 'error', constructorAction: 'error' } as const;

/**
 * Parses a JSON body; throws MALFORMED_REQUEST with the position on a syntax error, and
 * INVALID_PARAMETER_VALUE naming the field when a string holds a NUL character.
 */
export function parseJsonBody(text: string): unknown {
  const value = parseJson(text);
  // JSON can only spell NUL as this escape; look inside only when the text has it.
  if (text.includes('\\u0000')) rejectNul(value, 'body');
  return value;
}

function parseJson(text: string): unknown {
  try {
    return secureJson.parse(text, undefined, OPTIONS);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw poisoned(error);
    const rewritten = quoteNonFiniteTokens(text);
    if (rewritten !== text) {
      try {
        return secureJson.parse(rewritten, undefined, OPTIONS);
      } catch (second) {
        if (!(second instanceof SyntaxError)) throw poisoned(second);
      }
    }
    throw new MloopError('MALFORMED_REQUEST', `request body is not valid JSON: ${error.message}`, {
      fields: [{ field: 'body', reason: error.message }],
    });
  }
}

function poisoned(error: unknown): MloopError {
  return new MloopError('INVALID_PARAMETER_VALUE', 'request body: keys "__proto__" and "constructor.prototype" are not allowed', {
    cause: error,
    fields: [{ field: 'body', reason: 'forbidden key __proto__ or constructor.prototype' }],
  });
}

/** Replaces bare `NaN`, `Infinity`, `-Infinity` tokens outside strings with quoted strings. */
export function quoteNonFiniteTokens(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      out += ch;
      if (ch === '\\') {
        out += text[i + 1] ?? '';
        i++;
      } else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      inString = true;
      out += ch;
      continue;
    }
    const token = text.startsWith('NaN', i) ? 'NaN' : text.startsWith('-Infinity', i) ? '-Infinity' : text.startsWith('Infinity', i) ? 'Infinity' : undefined;
    if (token) {
      out += `"${token}"`;
      i += token.length - 1;
    } else out += ch;
  }
  return out;
}
