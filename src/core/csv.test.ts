import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMloopError } from './errors.ts';
import { parseCsv } from './csv.ts';

describe('parseCsv', () => {
  it('reads RFC 4180: quotes, doubled quotes, quoted commas and line breaks, CRLF, nulls and empty strings', () => {
    const records = parseCsv('a,b,c\r\n"x, y","say ""hi""",\n"two\nlines",,""\n\n3,4,5');
    assert.deepEqual(records, [
      { fields: ['a', 'b', 'c'], line: 1 },
      { fields: ['x, y', 'say "hi"', null], line: 2 },
      { fields: ['two\nlines', null, ''], line: 3 },
      { fields: ['3', '4', '5'], line: 6 },
    ]);
  });

  it('keeps a quote inside an unquoted value, as DuckDB reads it', () => {
    assert.deepEqual(parseCsv('5" screen,ok')[0].fields, ['5" screen', 'ok']);
  });

  it('names the line of an unterminated quoted value', () => {
    assert.throws(() => parseCsv('a\n"open,\nmore', 'rows'), (e: unknown) => isMloopError(e) && /rows: unterminated quoted value starting at line 2/.test(e.message));
  });
});
