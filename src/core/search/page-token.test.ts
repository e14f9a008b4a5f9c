// Cases follow MLflow's test_pagination / test_invalid_page_tokens and its stores' max_results checks.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MloopError } from '../errors.ts';
import {
  MAX_RESULTS,
  decodePageToken,
  encodePageToken,
  nextPageToken,
  resolveMaxResults,
} from './page-token.ts';
import { SEARCH_KINDS } from './spec.ts';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

function rejectsToken(token: string, message = 'Invalid page token'): void {
  assert.throws(
    () => decodePageToken(token),
    (error: unknown) => {
      assert.ok(error instanceof MloopError, `expected MloopError for ${token}`);
      assert.equal(error.code, 'INVALID_PARAMETER_VALUE');
      assert.equal(error.fields[0]?.field, 'page_token');
      assert.ok(error.message.includes(message), `${token}: "${error.message}" lacks "${message}"`);
      return true;
    },
  );
}

function rejectsMaxResults(value: unknown, kind: (typeof SEARCH_KINDS)[number], message: string): void {
  assert.throws(
    () => resolveMaxResults(value, kind),
    (error: unknown) => {
      assert.ok(error instanceof MloopError);
      assert.equal(error.code, 'INVALID_PARAMETER_VALUE');
      assert.equal(error.fields[0]?.field, 'max_results');
      assert.ok(error.message.includes(message), `${String(value)}: "${error.message}" lacks "${message}"`);
      return true;
    },
  );
}

describe('page tokens', () => {
  it('encodes exactly as MLflow does (base64 of {"offset": N})', () => {
    assert.equal(encodePageToken(1000), 'eyJvZmZzZXQiOiAxMDAwfQ==');
    assert.equal(Buffer.from(encodePageToken(7), 'base64').toString('utf8'), '{"offset": 7}');
  });

  it('round-trips offsets', () => {
    for (const offset of [0, 1, 2, 999, 1000, 50_000, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
      assert.equal(decodePageToken(encodePageToken(offset)), offset);
    }
  });

  it('reads an absent or empty token as offset 0', () => {
    assert.equal(decodePageToken(undefined), 0);
    assert.equal(decodePageToken(null), 0);
    assert.equal(decodePageToken(''), 0);
  });

  it('accepts compact JSON, extra fields, URL-safe base64 and missing padding', () => {
    assert.equal(decodePageToken(b64('{"offset":5}')), 5);
    assert.equal(decodePageToken(b64('{"offset": 5, "v": 1}')), 5);
    const token = encodePageToken(1000);
    assert.equal(decodePageToken(token.replace(/=+$/, '')), 1000);
    // This JSON's standard base64 holds '/' and '+', its URL-safe form '_' and '-'.
    const json = '{"offset": 3, "x": "???~~~"}';
    assert.equal(decodePageToken(b64(json)), 3);
    assert.match(Buffer.from(json).toString('base64url'), /[-_]/);
    assert.equal(decodePageToken(Buffer.from(json).toString('base64url')), 3);
  });

  it('rejects garbage naming page_token', () => {
    rejectsToken(b64('{}'), 'expected {"offset": <non-negative integer>}');
    rejectsToken(b64('{"offset": "a"}'));
    rejectsToken(b64('{"offset": "5"}'));
    rejectsToken(b64('{"offsoot": 7}'));
    rejectsToken(b64('{"offset": -1}'));
    rejectsToken(b64('{"offset": 1.5}'));
    rejectsToken(b64('{"offset": 1e300}'));
    rejectsToken(b64('{"offset": null}'));
    rejectsToken(b64('[1]'));
    rejectsToken(b64('null'));
    rejectsToken(b64('5'));
    rejectsToken(b64('{"__proto__": {"offset": 3}}'));
    rejectsToken(b64('not json'), 'decoded value is not JSON');
    rejectsToken(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('base64'), 'decoded value is not JSON');
    rejectsToken('not base64', 'could not base64-decode');
    rejectsToken('%%%%', 'could not base64-decode');
    rejectsToken('abcde', 'could not base64-decode');
    rejectsToken('YQ==YQ==', 'could not base64-decode');
    rejectsToken('A'.repeat(5000), 'longer than');
  });

  it('refuses to encode an offset that is not a non-negative integer', () => {
    for (const offset of [-1, 1.5, Number.NaN, Infinity]) {
      assert.throws(() => encodePageToken(offset), (error: unknown) => error instanceof MloopError);
    }
  });
});

describe('nextPageToken', () => {
  // MLflow's test_pagination over three rows: [page_token offset, max_results, rows, next offset].
  const cases: [number, number, number[], number | undefined][] = [
    [0, 1, [0], 1],
    [0, 2, [0, 1], 2],
    [0, 3, [0, 1, 2], undefined],
    [0, 5, [0, 1, 2], undefined],
    [1, 1, [1], 2],
    [1, 2, [1, 2], undefined],
    [1, 3, [1, 2], undefined],
    [2, 1, [2], undefined],
    [2, 2, [2], undefined],
    [3, 1, [], undefined],
  ];
  const rows = [0, 1, 2];
  for (const [offset, maxResults, expected, next] of cases) {
    it(`pages ${maxResults} rows from offset ${offset}`, () => {
      // What a store does: fetch one row more than asked for.
      const fetched = rows.slice(offset, offset + maxResults + 1);
      assert.deepEqual(fetched.slice(0, maxResults), expected);
      const token = nextPageToken(offset, maxResults, fetched.length);
      assert.equal(token === undefined ? undefined : decodePageToken(token), next);
    });
  }
});

describe('resolveMaxResults', () => {
  it('has MLflow limits per kind', () => {
    assert.deepEqual(MAX_RESULTS.runs, { default: 1000, max: 50_000 });
    assert.deepEqual(MAX_RESULTS.experiments, { default: 1000, max: 50_000 });
    assert.deepEqual(MAX_RESULTS.registered_models, { default: 100, max: 1000 });
    assert.equal(MAX_RESULTS.model_versions.max, 200_000);
  });

  it('gives the default when absent', () => {
    for (const kind of SEARCH_KINDS) {
      for (const absent of [undefined, null, '']) {
        assert.equal(resolveMaxResults(absent, kind), MAX_RESULTS[kind].default);
      }
    }
  });

  it('accepts integers from 1 to the maximum, as numbers or decimal strings', () => {
    for (const kind of SEARCH_KINDS) {
      const { max } = MAX_RESULTS[kind];
      assert.equal(resolveMaxResults(1, kind), 1);
      assert.equal(resolveMaxResults(max, kind), max);
      assert.equal(resolveMaxResults(String(max), kind), max);
      assert.equal(resolveMaxResults(' 25 ', kind), 25);
    }
  });

  it('rejects values that are not positive integers, as MLflow words it', () => {
    for (const value of [0, -1, 1.5, Number.NaN, Infinity, '0', '-3', '1.5', '1e3', 'abc', '0x10', true, {}, [5]]) {
      rejectsMaxResults(value, 'runs', "for parameter 'max_results' supplied. It must be a positive integer");
    }
    rejectsMaxResults(0, 'experiments', "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer");
    rejectsMaxResults('abc', 'runs', 'Invalid value "abc"');
  });

  it('rejects values above the maximum of the kind', () => {
    rejectsMaxResults(50_001, 'runs', "Invalid value 50001 for parameter 'max_results' supplied. It must be at most 50000");
    rejectsMaxResults(1_000_000, 'experiments', 'It must be at most 50000');
    rejectsMaxResults('1001', 'registered_models', 'It must be at most 1000');
    rejectsMaxResults(200_001, 'model_versions', 'It must be at most 200000');
    rejectsMaxResults('99999999999999999999', 'runs', 'It must be a positive integer');
  });
});
