/**
 * One definition, both paths: every expression is evaluated by DuckDB (the offline path) and by the
 * TypeScript evaluator (the online path) on 10,000 random rows — NULLs, extremes, NaN and ±Infinity,
 * empty and unicode strings — and the values must be identical.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Random } from '../core/random.ts';
import { DuckDb } from '../storage/duckdb/engine.ts';
import { exprRows, loadRows } from './duck-values.ts';
import { checkExpr, compileExpr, parseExpr, type ExprType, type ExprValue } from './expr.ts';

const COLUMNS: Record<string, ExprType> = { i: 'int', j: 'int', f: 'float', g: 'float', s: 'string', u: 'string', b: 'bool', c: 'bool', t: 'timestamp' };
const ROWS = 10_000;

const STRINGS = ['', ' ', 'a', 'A', 'abc', 'ABC', ' 12 ', '12', '-7', '+5', '1e3', '1e400', '.5', '5.', 'nan', 'inf', '0x10', '9223372036854775808',
  '-9223372036854775808', 'ß', 'ẞ', 'İstanbul', 'ǅ', 'ΣΑΣ', 'ﬀ', 'éÉ', '日本語', '😀', '𐐀𐐨', '\uffff', '\ue000x', 'a\u0000b', 'tab\t', "o'neil", 'ǰ', 'ΐ', 'Ω', 'K', 'ⅷ', 'Ⓐ', 'ﬃx', 'mixed Case ÅÄÖ'];

function randomString(rng: Random): string {
  const k = rng.int(4);
  if (k === 0) return STRINGS[rng.int(STRINGS.length)];
  if (k === 1) {
    let s = '';
    const n = rng.int(6);
    for (let i = 0; i < n; i++) s += String.fromCharCode(32 + rng.int(95));
    return s;
  }
  let s = '';
  const n = rng.int(5);
  for (let i = 0; i < n; i++) {
    const pick = rng.int(4);
    const cp = pick === 0 ? 0x80 + rng.int(0x780) : pick === 1 ? 0x1e00 + rng.int(0x300) : pick === 2 ? 0x10000 + rng.int(0x1000) : 0xa640 + rng.int(0x1c0);
    s += String.fromCodePoint(cp);
  }
  return s;
}

const FLOATS = [0, -0, 1, -1, 0.5, -0.5, 1.5, 2.5, -2.5, 0.49999999999999994, NaN, Infinity, -Infinity, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE,
  2 ** 53, 2 ** 63, -(2 ** 63), 2 ** 63 - 1024, 1e-300, 123456.789];
const INTS = [0, 1, -1, 2, 7, -7, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1_700_000_000_000, 2 ** 31, -(2 ** 31)];

function randomRow(rng: Random): Record<string, ExprValue> {
  const nul = () => rng.next() < 0.12;
  const int = () => (nul() ? null : rng.next() < 0.3 ? INTS[rng.int(INTS.length)] : rng.int(201) - 100);
  const float = () => (nul() ? null : rng.next() < 0.3 ? FLOATS[rng.int(FLOATS.length)] : rng.next() < 0.5 ? (rng.int(81) - 40) / 4 : rng.normal() * 10 ** rng.int(12));
  const str = () => (nul() ? null : randomString(rng));
  const bool = () => (nul() ? null : rng.next() < 0.5);
  // Timestamps from 1900 to 2100, with some near the epoch and some before it.
  const ts = () => (nul() ? null : rng.next() < 0.1 ? rng.int(2_000_001) - 1_000_000 : -2_208_988_800_000 + rng.int(6_311_390_400) * 1000 + rng.int(1000));
  return { i: int(), j: int(), f: float(), g: float(), s: str(), u: str(), b: bool(), c: bool(), t: ts() };
}

/** Expressions written by hand: one for each rule of the semantics. */
const HAND_WRITTEN = [
  'i + j', 'i - f', 'f * g', 'f / g', 'i / j', 'f % g', 'i % j', '-f', '-i', 'i = j', 'f = g', 'f < g', 'f >= i', 'f != g', 's < u', 's = u', 's >= u',
  'b AND c', 'b OR c', 'NOT b', 'f IS NULL', 's IS NOT NULL', 'i IN (1, 2, NULL)', 'f IN (0.5, 1, NaN_col)'.replace(' NaN_col', ' g'), 's IN (\'a\', \'\')',
  'CASE WHEN f > 0 THEN i WHEN f < 0 THEN f ELSE 0 END', 'if(b, s, u)', 'coalesce(f, i, 0)', 'coalesce(s, u, \'none\')', 'abs(f)', 'floor(f)', 'ceil(g)',
  'round(f)', 'round(i / 3)', 'lower(s)', 'upper(s)', 'length(s)', 'trim(s)', 'concat(s, \'-\', u)', 'concat(s, cast(i as string), cast(b as string))',
  'contains(s, u)', 'starts_with(s, \'a\')', 'ends_with(u, s)', 'year(t)', 'month(t)', 'day(t)', 'hour(t)', 'minute(t)', 'second(t)', 'dayofweek(t)',
  'epoch_ms(t)', 'cast(f as int)', 'cast(s as int)', 'cast(s as float)', 'cast(i as float)', 'cast(b as int)', 'cast(i as timestamp)', 'cast(i as string)',
  'upper(lower(s)) = upper(s)', 'length(concat(s, u)) = length(s) + length(u)', 'f > 1e300 OR f < -1e300', '(i * 1000000) * (j * 1000000)',
  'CASE WHEN s IS NULL THEN NULL ELSE length(s) END', 'NOT (b AND NOT c) OR f IS NULL', 'epoch_ms(t) - epoch_ms(t) % 86400000', 'i IN (j, 7) AND b',
  'cast(round(f * 100) as int)', 'year(cast(i * 1000 as int) IS NULL)'.replace('year(cast(i * 1000 as int) IS NULL)', 'cast(i * 1000 as int) IS NULL'),
];

/** A random well-typed expression of type `want`, `depth` levels deep at most. */
function randomExpr(rng: Random, want: ExprType, depth: number): string {
  const cols = Object.entries(COLUMNS).filter(([, t]) => t === want || (want === 'float' && t === 'int')).map(([n]) => n);
  const leaf = (): string => {
    if (rng.next() < 0.75 && cols.length > 0) return cols[rng.int(cols.length)];
    switch (want) {
      case 'int':
        return String(rng.int(10));
      case 'float':
        return ['0.5', '2', '1e308', '0', '3.25'][rng.int(5)];
      case 'bool':
        return ['TRUE', 'FALSE', 'NULL'][rng.int(3)];
      case 'string':
        return ["''", "'x'", "'Ä'", "'😀'"][rng.int(4)];
      case 'timestamp':
        return 't';
    }
  };
  if (depth <= 0 || rng.next() < 0.25) return leaf();
  const d = depth - 1;
  const pick = <T,>(items: T[]): T => items[rng.int(items.length)];
  const sub = (t: ExprType) => randomExpr(rng, t, d);
  switch (want) {
    case 'float':
      return pick([
        () => `(${sub('float')} ${pick(['+', '-', '*', '/', '%'])} ${sub('float')})`,
        () => `-${sub('float')}`,
        () => `${pick(['abs', 'floor', 'ceil', 'round'])}(${sub('float')})`,
        () => `coalesce(${sub('float')}, ${sub('int')})`,
        () => `if(${sub('bool')}, ${sub('float')}, ${sub('int')})`,
        () => `cast(${sub('string')} as float)`,
      ])();
    case 'int':
      return pick([
        () => `length(${sub('string')})`,
        () => `cast(${sub('float')} as int)`,
        () => `${pick(['year', 'month', 'hour', 'dayofweek', 'epoch_ms'])}(${sub('timestamp')})`,
        () => `coalesce(${sub('int')}, ${sub('int')})`,
        () => `CASE WHEN ${sub('bool')} THEN ${sub('int')} END`,
        () => `cast(${sub('string')} as int)`,
        () => `cast(${sub('bool')} as int)`,
      ])();
    case 'bool':
      return pick([
        () => `(${sub('bool')} ${pick(['AND', 'OR'])} ${sub('bool')})`,
        () => `NOT ${sub('bool')}`,
        () => `(${sub('float')} ${pick(['=', '!=', '<', '<=', '>', '>='])} ${sub('float')})`,
        () => `(${sub('string')} ${pick(['=', '<', '>='])} ${sub('string')})`,
        () => `(${sub('timestamp')} ${pick(['=', '<', '>='])} ${sub('timestamp')})`,
        () => `${sub('float')} IS NULL`,
        () => `${pick(['contains', 'starts_with', 'ends_with'])}(${sub('string')}, ${sub('string')})`,
        () => `${sub('int')} IN (${sub('int')}, ${sub('int')})`,
      ])();
    case 'string':
      return pick([
        () => `${pick(['lower', 'upper', 'trim'])}(${sub('string')})`,
        () => `concat(${sub('string')}, ${sub('string')})`,
        () => `coalesce(${sub('string')}, ${sub('string')})`,
        () => `if(${sub('bool')}, ${sub('string')}, ${sub('string')})`,
        () => `cast(${sub('int')} as string)`,
      ])();
    case 'timestamp':
      return pick([() => 't', () => `cast(${sub('int')} as timestamp)`, () => `coalesce(${sub('timestamp')}, t)`])();
  }
}

function same(a: ExprValue, b: ExprValue): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b || (Number.isNaN(a) && Number.isNaN(b));
  return a === b;
}

describe('transformation language: DuckDB SQL and TypeScript agree', () => {
  let duck: DuckDb;
  let rows: Record<string, ExprValue>[];
  before(async () => {
    duck = await DuckDb.open({ threads: 1 });
    const rng = new Random(Number(process.env.MLOOP_PROPERTY_SEED ?? 20240601));
    rows = Array.from({ length: ROWS }, (_, k) => ({ ...randomRow(rng), k }));
  });
  after(() => duck.close());

  async function checkAll(sources: string[]): Promise<void> {
    const compiled = sources.map((s) => compileExpr(s, COLUMNS));
    const select = compiled.map((c, n) => `${c.type === 'timestamp' ? `epoch_ms(${c.sql})` : c.sql} AS e${n}`).join(', ');
    const result = await duck.withConnection(async (c) => {
      await loadRows(c, 't', [{ name: 'k', type: 'int' }, ...Object.entries(COLUMNS).map(([name, type]) => ({ name, type }))], rows);
      return exprRows(c, `SELECT ${select} FROM t ORDER BY k`);
    });
    for (let n = 0; n < compiled.length; n++) {
      const fn = compiled[n].fn;
      for (let r = 0; r < rows.length; r++) {
        const online = fn(rows[r]);
        const offline = result[r][`e${n}`];
        if (!same(offline, online)) {
          assert.fail(
            `${sources[n]} on row ${JSON.stringify(rows[r], (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))}: ` +
              `DuckDB ${String(offline)} (${typeof offline}), TypeScript ${String(online)} (${typeof online})`,
          );
        }
      }
    }
  }

  it('on every hand-written rule, 10,000 rows each', async () => {
    await checkAll(HAND_WRITTEN);
  });

  it('on 300 random expressions, 10,000 rows each', async () => {
    const rng = new Random(Number(process.env.MLOOP_PROPERTY_SEED ?? 7));
    const types: ExprType[] = ['int', 'float', 'bool', 'string', 'timestamp'];
    const sources = Array.from({ length: 300 }, (_, n) => randomExpr(rng, types[n % types.length], 4));
    for (let start = 0; start < sources.length; start += 50) await checkAll(sources.slice(start, start + 50));
  });
});

describe('transformation language: checking', () => {
  it('names unknown columns, functions and type errors', () => {
    assert.throws(() => checkExpr('x + 1', COLUMNS), /unknown column "x"/);
    assert.throws(() => checkExpr('frobnicate(i)', COLUMNS), /unknown function "frobnicate"/);
    assert.throws(() => checkExpr("s + 1", COLUMNS), /needs numbers, got string/);
    assert.throws(() => checkExpr('cast(f as string)', COLUMNS), /cannot cast float to string/);
    assert.throws(() => checkExpr('i = s', COLUMNS), /cannot compare int with string/);
    assert.throws(() => parseExpr('(i + '), /unexpected end/);
    assert.throws(() => parseExpr("'open"), /unterminated string/);
  });

  it('types results', () => {
    assert.equal(checkExpr('i + j', COLUMNS).type, 'float');
    assert.equal(checkExpr('length(s)', COLUMNS).type, 'int');
    assert.equal(checkExpr('coalesce(i, f)', COLUMNS).type, 'float');
    assert.deepEqual([...checkExpr("coalesce(i, f) > j", COLUMNS).columns].sort(), ['f', 'i', 'j']);
  });
});
