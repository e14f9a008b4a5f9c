import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMloopError } from './errors.ts';
import { decodeFully, joinKey, safeRelativePath } from './paths.ts';

/** Asserts that `fn` throws INVALID_PARAMETER_VALUE naming `field`. */
function assertRefused(fn: () => unknown, field: string, label: string): void {
  assert.throws(
    fn,
    (error: unknown) => {
      assert.ok(isMloopError(error), `${label}: expected an MloopError, got ${String(error)}`);
      assert.equal(error.code, 'INVALID_PARAMETER_VALUE', label);
      assert.equal(error.fields[0]?.field, field, label);
      assert.ok(error.message.startsWith(`${field}: `), `${label}: message names the field: ${error.message}`);
      return true;
    },
    label,
  );
}

/** Percent-encodes every character of `text`, then encodes the result `times - 1` more times. */
function encodeTimes(text: string, times: number): string {
  let out = [...text].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
  for (let i = 1; i < times; i++) out = encodeURIComponent(out);
  return out;
}

describe('decodeFully', () => {
  it('leaves a plain string unchanged', () => {
    assert.equal(decodeFully('a/b c/ü.txt', 'path'), 'a/b c/ü.txt');
  });

  it('decodes once, twice and many times over', () => {
    assert.equal(decodeFully('a%20b', 'path'), 'a b');
    assert.equal(decodeFully('%252e%252e', 'path'), '..');
    assert.equal(decodeFully('%25252e%25252e%25252f', 'path'), '../');
    assert.equal(decodeFully(encodeTimes('..', 5), 'path'), '..');
    assert.equal(decodeFully('%C3%BC%F0%9F%98%80', 'path'), 'ü😀');
  });

  it('refuses malformed escapes, naming the field', () => {
    for (const bad of ['%', '100%', '%zz', '%E0%A4%A', '%c0%ae', '%25%']) {
      assertRefused(() => decodeFully(bad, 'artifact_path'), 'artifact_path', JSON.stringify(bad));
    }
  });

  it('refuses a value encoded too many times', () => {
    assertRefused(() => decodeFully(encodeTimes('.', 20), 'path'), 'path', 'encoded 20 times');
  });
});

describe('safeRelativePath', () => {
  it('accepts ordinary relative paths and returns their canonical form', () => {
    const cases: [string, string][] = [
      ['model.onnx', 'model.onnx'],
      ['a/b/c.txt', 'a/b/c.txt'],
      ['a/b/', 'a/b'],
      ['a%2Fb', 'a/b'],
      ['dir with space/naïve 文件 😀.txt', 'dir with space/naïve 文件 😀.txt'],
      ['a%2520b', 'a b'],
      ['.hidden/..name/.../x..y', '.hidden/..name/.../x..y'],
      ['c++ & more=1;2,3.txt', 'c++ & more=1;2,3.txt'],
      ['file:name', 'file:name'],
    ];
    for (const [raw, expected] of cases) assert.equal(safeRelativePath(raw, 'path'), expected, JSON.stringify(raw));
  });

  it('refuses the empty path unless allowed', () => {
    assertRefused(() => safeRelativePath('', 'path'), 'path', 'empty');
    assert.equal(safeRelativePath('', 'path', { allowEmpty: true }), '');
    assert.equal(safeRelativePath('a/', 'path', { allowEmpty: true }), 'a');
  });

  it('refuses traversal, absolute paths and forbidden characters, however encoded', () => {
    const bad = [
      // ".." and "." segments, plain and encoded (CVE-2023-1177, -2356, -6977, CVE-2024-1483, -1558)
      '..',
      '../x',
      'a/..',
      'a/../../x',
      'a/../b',
      './x',
      'a/./b',
      '%2e%2e/x',
      '%2E%2E%2Fetc%2Fpasswd',
      '..%2f..%2f..%2fetc%2fpasswd',
      '%252e%252e/x',
      '%252e%252e%252fx',
      '..%252f..%252fetc%252fpasswd',
      encodeTimes('../x', 4),
      // absolute POSIX, UNC and Windows paths
      '/etc/passwd',
      '%2fetc%2fpasswd',
      '//x',
      '//proc/self/environ',
      'C:\\Windows\\win.ini',
      'C:/Windows/win.ini',
      'c:x',
      '\\\\server\\share',
      // backslashes (CVE-2023-6831)
      'a\\b',
      '..\\x',
      '..%5cx',
      '%255c%255cserver',
      // NUL and other control characters
      'a\u0000b',
      'a%00b',
      'a%2500b',
      'a\nb',
      'a\rb',
      'a\tb',
      'a\u001fb',
      'a\u007fb',
      // query and fragment (CVE-2023-6909)
      'a?b',
      'a#b',
      '%23/../x',
      'x%3f..',
      // empty segments
      'a//b',
      'file:///etc/passwd',
    ];
    for (const raw of bad) assertRefused(() => safeRelativePath(raw, 'artifact_path'), 'artifact_path', JSON.stringify(raw));
  });

  it('refuses a value that is not a string', () => {
    assertRefused(() => safeRelativePath(42 as unknown as string, 'path'), 'path', 'number');
    assertRefused(() => safeRelativePath(undefined as unknown as string, 'path'), 'path', 'undefined');
  });

  it('quotes the raw input in its message', () => {
    assert.throws(() => safeRelativePath('%2e%2e/secret', 'path'), /"%2e%2e\/secret"/);
  });
});

describe('joinKey', () => {
  it('joins with "/" and skips empty parts', () => {
    assert.equal(joinKey('a', '', 'b/c', 'd'), 'a/b/c/d');
    assert.equal(joinKey('', ''), '');
    assert.equal(joinKey('only'), 'only');
  });
});
