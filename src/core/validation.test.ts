import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MloopError } from './errors.ts';
import { NUL_REASON, findNul, rejectNul } from './validation.ts';

describe('findNul', () => {
  it('finds a NUL in a string, an element, a property value or a property name', () => {
    assert.equal(findNul('a\u0000'), '');
    assert.equal(findNul({ a: [{ b: 'ok' }, { b: 'x\u0000' }] }), 'a[1].b');
    assert.equal(findNul({ tags: { 'k\u0000': 'v' } }), 'tags.k\\u0000');
    assert.equal(findNul([1, null, true, 'ok', { x: 2 }]), undefined);
    assert.equal(findNul('\\u0000 spelled out'), undefined);
  });

  it('reports the first NUL in document order', () => {
    assert.equal(findNul({ a: 'ok', b: ['\u0000', 'x'], c: '\u0000' }), 'b[0]');
  });

  it('walks deeply nested input without overflowing the stack', () => {
    let deep: unknown = 'end\u0000';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.equal(findNul(deep)?.length, 100_000 * 3);
  });
});

describe('rejectNul', () => {
  it('throws INVALID_PARAMETER_VALUE naming the field, or `where` for the input itself', () => {
    assert.throws(
      () => rejectNul({ name: 'a\u0000' }, 'body'),
      (e: unknown) => e instanceof MloopError && e.code === 'INVALID_PARAMETER_VALUE' && e.fields[0].field === 'name' && e.fields[0].reason === NUL_REASON,
    );
    assert.throws(() => rejectNul('\u0000', 'query'), /^MloopError: query: must not contain/);
    rejectNul({ name: 'fine' }, 'body');
  });
});
