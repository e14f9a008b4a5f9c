/**
 * The transformation language of feature definitions: one expression, compiled twice — to DuckDB SQL
 * for the offline path (training sets, materialization) and to a TypeScript function for the online
 * path (on-demand features, push). `expr.test.ts` proves both give identical values on random rows.
 *
 * Semantics, chosen so that both targets can match exactly:
 * - Types: `int` (64-bit, exact within ±2^53), `float` (IEEE double), `bool`, `string`, `timestamp`
 *   (UTC, millisecond precision; epoch milliseconds on the TypeScript side).
 * - NULL as in SQL: operators and functions return NULL when an input is NULL (except `IS [NOT] NULL`,
 *   `coalesce`, `concat`, and AND/OR's three-valued logic).
 * - Arithmetic (`+ - * / %`, unary `-`) is done in doubles and yields `float`: `1/0` is Infinity,
 *   `0/0` and `x % 0` are NaN. Use `cast(x as int)` for an integer (rounds half to even; NULL when
 *   NaN, infinite or beyond ±(2^53−1), the integers both engines hold exactly).
 * - `cast(int as timestamp)` reads epoch milliseconds; outside ±8.64e15 (JavaScript's Date range) it is NULL.
 * - Comparisons follow DuckDB: NaN equals NaN and sorts above every other number; strings compare
 *   by codepoint (UTF-8 byte order).
 * - Strings: `length` counts codepoints; `lower`/`upper` map codepoint by codepoint; `trim` removes
 *   space separators (U+0020, U+00A0, U+2000…, not tabs or newlines); `concat` skips NULLs.
 */
import { MloopError } from '../core/errors.ts';
import { LOWER_EXCEPTIONS, UPPER_EXCEPTIONS } from './case-table.ts';

/** The value types of the language. */
export type ExprType = 'int' | 'float' | 'bool' | 'string' | 'timestamp';

/** Every value type, for validation. */
export const EXPR_TYPES: readonly ExprType[] = ['int', 'float', 'bool', 'string', 'timestamp'];

/** A runtime value: numbers for int, float and timestamp (epoch ms), or null. */
export type ExprValue = number | string | boolean | null;

/** A parsed expression. */
export type Expr =
  | { readonly kind: 'lit'; readonly value: ExprValue; readonly type: ExprType | 'null' }
  | { readonly kind: 'col'; readonly name: string }
  | { readonly kind: 'unary'; readonly op: '-' | 'NOT'; readonly arg: Expr }
  | { readonly kind: 'binary'; readonly op: BinaryOp; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'isnull'; readonly negated: boolean; readonly arg: Expr }
  | { readonly kind: 'in'; readonly arg: Expr; readonly list: readonly Expr[] }
  | { readonly kind: 'case'; readonly whens: readonly { when: Expr; then: Expr }[]; readonly otherwise?: Expr }
  | { readonly kind: 'call'; readonly fn: string; readonly args: readonly Expr[] }
  | { readonly kind: 'cast'; readonly arg: Expr; readonly to: ExprType };

type BinaryOp = '+' | '-' | '*' | '/' | '%' | '=' | '!=' | '<' | '<=' | '>' | '>=' | 'AND' | 'OR';

// ---------------------------------------------------------------- parsing

interface Token {
  readonly kind: 'num' | 'str' | 'ident' | 'op' | 'end';
  readonly text: string;
  readonly pos: number;
}

function syntaxError(source: string, pos: number, what: string): MloopError {
  return new MloopError('INVALID_PARAMETER_VALUE', `expression ${JSON.stringify(source)}: ${what} at position ${pos + 1}`);
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (/[0-9.]/.test(c) && /[0-9]/.test(source[c === '.' ? i + 1 : i] ?? '')) {
      const m = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(source.slice(i))!;
      tokens.push({ kind: 'num', text: m[0], pos: start });
      i += m[0].length;
    } else if (c === "'") {
      let text = '';
      i++;
      for (;;) {
        if (i >= source.length) throw syntaxError(source, start, 'unterminated string');
        if (source[i] === "'") {
          if (source[i + 1] === "'") {
            text += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += source[i++];
      }
      tokens.push({ kind: 'str', text, pos: start });
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i))!;
      tokens.push({ kind: 'ident', text: m[0], pos: start });
      i += m[0].length;
    } else if (c === '"') {
      const end = source.indexOf('"', i + 1);
      if (end === -1) throw syntaxError(source, start, 'unterminated quoted name');
      tokens.push({ kind: 'ident', text: `"${source.slice(i + 1, end)}`, pos: start });
      i = end + 1;
    } else {
      const two = source.slice(i, i + 2);
      if (['<=', '>=', '!=', '<>', '=='].includes(two)) {
        tokens.push({ kind: 'op', text: two === '<>' ? '!=' : two === '==' ? '=' : two, pos: start });
        i += 2;
      } else if ('+-*/%=<>(),'.includes(c)) {
        tokens.push({ kind: 'op', text: c, pos: start });
        i++;
      } else {
        throw syntaxError(source, start, `unexpected character ${JSON.stringify(c)}`);
      }
    }
  }
  tokens.push({ kind: 'end', text: '', pos: source.length });
  return tokens;
}

const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'IS', 'NULL', 'TRUE', 'FALSE', 'CASE', 'WHEN', 'THEN', 'ELSE', 'END', 'IN', 'CAST', 'AS']);

/** Parses an expression; throws INVALID_PARAMETER_VALUE with the position of a syntax error. */
export function parseExpr(source: string): Expr {
  const tokens = tokenize(source);
  let p = 0;
  const peek = () => tokens[p];
  const isKw = (t: Token, kw: string) => t.kind === 'ident' && t.text.toUpperCase() === kw;
  const isOp = (t: Token, op: string) => t.kind === 'op' && t.text === op;
  const expectOp = (op: string) => {
    if (!isOp(peek(), op)) throw syntaxError(source, peek().pos, `expected "${op}"`);
    p++;
  };
  const expectKw = (kw: string) => {
    if (!isKw(peek(), kw)) throw syntaxError(source, peek().pos, `expected ${kw}`);
    p++;
  };

  const parseOr = (): Expr => {
    let left = parseAnd();
    while (isKw(peek(), 'OR')) {
      p++;
      left = { kind: 'binary', op: 'OR', left, right: parseAnd() };
    }
    return left;
  };
  const parseAnd = (): Expr => {
    let left = parseNot();
    while (isKw(peek(), 'AND')) {
      p++;
      left = { kind: 'binary', op: 'AND', left, right: parseNot() };
    }
    return left;
  };
  const parseNot = (): Expr => {
    if (isKw(peek(), 'NOT')) {
      p++;
      return { kind: 'unary', op: 'NOT', arg: parseNot() };
    }
    return parseComparison();
  };
  const parseComparison = (): Expr => {
    const left = parseAdditive();
    const t = peek();
    if (t.kind === 'op' && ['=', '!=', '<', '<=', '>', '>='].includes(t.text)) {
      p++;
      return { kind: 'binary', op: t.text as BinaryOp, left, right: parseAdditive() };
    }
    if (isKw(t, 'IS')) {
      p++;
      let negated = false;
      if (isKw(peek(), 'NOT')) {
        p++;
        negated = true;
      }
      expectKw('NULL');
      return { kind: 'isnull', negated, arg: left };
    }
    if (isKw(t, 'IN') || (isKw(t, 'NOT') && isKw(tokens[p + 1], 'IN'))) {
      const negated = isKw(t, 'NOT');
      p += negated ? 2 : 1;
      expectOp('(');
      const list = [parseOr()];
      while (isOp(peek(), ',')) {
        p++;
        list.push(parseOr());
      }
      expectOp(')');
      const expr: Expr = { kind: 'in', arg: left, list };
      return negated ? { kind: 'unary', op: 'NOT', arg: expr } : expr;
    }
    return left;
  };
  const parseAdditive = (): Expr => {
    let left = parseMultiplicative();
    while (isOp(peek(), '+') || isOp(peek(), '-')) {
      const op = tokens[p++].text as BinaryOp;
      left = { kind: 'binary', op, left, right: parseMultiplicative() };
    }
    return left;
  };
  const parseMultiplicative = (): Expr => {
    let left = parseUnary();
    while (isOp(peek(), '*') || isOp(peek(), '/') || isOp(peek(), '%')) {
      const op = tokens[p++].text as BinaryOp;
      left = { kind: 'binary', op, left, right: parseUnary() };
    }
    return left;
  };
  const parseUnary = (): Expr => {
    if (isOp(peek(), '-')) {
      p++;
      return { kind: 'unary', op: '-', arg: parseUnary() };
    }
    if (isOp(peek(), '+')) {
      p++;
      return parseUnary();
    }
    return parsePrimary();
  };
  const parsePrimary = (): Expr => {
    const t = peek();
    if (t.kind === 'num') {
      p++;
      const value = Number(t.text);
      const isInt = /^\d+$/.test(t.text) && Number.isSafeInteger(value);
      return { kind: 'lit', value, type: isInt ? 'int' : 'float' };
    }
    if (t.kind === 'str') {
      p++;
      return { kind: 'lit', value: t.text, type: 'string' };
    }
    if (isOp(t, '(')) {
      p++;
      const inner = parseOr();
      expectOp(')');
      return inner;
    }
    if (t.kind !== 'ident') throw syntaxError(source, t.pos, t.kind === 'end' ? 'unexpected end' : `unexpected "${t.text}"`);
    if (t.text.startsWith('"')) {
      p++;
      return { kind: 'col', name: t.text.slice(1) };
    }
    const upper = t.text.toUpperCase();
    if (upper === 'NULL') return (p++, { kind: 'lit', value: null, type: 'null' });
    if (upper === 'TRUE' || upper === 'FALSE') return (p++, { kind: 'lit', value: upper === 'TRUE', type: 'bool' });
    if (upper === 'CASE') {
      p++;
      const whens: { when: Expr; then: Expr }[] = [];
      while (isKw(peek(), 'WHEN')) {
        p++;
        const when = parseOr();
        expectKw('THEN');
        whens.push({ when, then: parseOr() });
      }
      if (whens.length === 0) throw syntaxError(source, peek().pos, 'CASE needs at least one WHEN');
      let otherwise: Expr | undefined;
      if (isKw(peek(), 'ELSE')) {
        p++;
        otherwise = parseOr();
      }
      expectKw('END');
      return { kind: 'case', whens, otherwise };
    }
    if (upper === 'CAST') {
      p++;
      expectOp('(');
      const arg = parseOr();
      expectKw('AS');
      const typeTok = peek();
      const to = typeTok.kind === 'ident' ? normalizeType(typeTok.text) : undefined;
      if (!to) throw syntaxError(source, typeTok.pos, `expected a type (${EXPR_TYPES.join(', ')})`);
      p++;
      expectOp(')');
      return { kind: 'cast', arg, to };
    }
    if (KEYWORDS.has(upper)) throw syntaxError(source, t.pos, `unexpected ${upper}`);
    p++;
    if (isOp(peek(), '(')) {
      p++;
      const args: Expr[] = [];
      if (!isOp(peek(), ')')) {
        args.push(parseOr());
        while (isOp(peek(), ',')) {
          p++;
          args.push(parseOr());
        }
      }
      expectOp(')');
      return { kind: 'call', fn: t.text.toLowerCase(), args };
    }
    return { kind: 'col', name: t.text };
  };

  const expr = parseOr();
  if (peek().kind !== 'end') throw syntaxError(source, peek().pos, `unexpected "${peek().text}"`);
  return expr;
}

function normalizeType(text: string): ExprType | undefined {
  const t = text.toLowerCase();
  const aliases: Record<string, ExprType> = {
    int: 'int', int64: 'int', bigint: 'int', integer: 'int',
    float: 'float', float64: 'float', double: 'float',
    bool: 'bool', boolean: 'bool',
    string: 'string', varchar: 'string', text: 'string',
    timestamp: 'timestamp',
  };
  return aliases[t];
}

// ---------------------------------------------------------------- typing

type TypeOrNull = ExprType | 'null';

interface FnSpec {
  readonly args: readonly (readonly TypeOrNull[])[] | 'variadic-string' | 'variadic-same';
  readonly result: (args: TypeOrNull[]) => ExprType;
  readonly sql: (args: string[], types: TypeOrNull[]) => string;
  readonly js: (args: ExprValue[]) => ExprValue;
  /** When true, NULL arguments are passed to `js` (the function handles them itself). */
  readonly seesNulls?: boolean;
}

const NUM: readonly TypeOrNull[] = ['int', 'float', 'null'];
const STR: readonly TypeOrNull[] = ['string', 'null'];
const TS: readonly TypeOrNull[] = ['timestamp', 'null'];
const dbl = (s: string, t: TypeOrNull) => (t === 'float' ? s : `CAST(${s} AS DOUBLE)`);

function datePart(part: string, get: (d: Date) => number): FnSpec {
  return {
    args: [TS],
    result: () => 'int',
    sql: ([a]) => `${part}(${a})`,
    js: ([a]) => get(new Date(a as number)),
  };
}

const FUNCTIONS: Record<string, FnSpec> = {
  abs: { args: [NUM], result: () => 'float', sql: ([a], [t]) => `abs(${dbl(a, t)})`, js: ([a]) => Math.abs(a as number) },
  floor: { args: [NUM], result: () => 'float', sql: ([a], [t]) => `floor(${dbl(a, t)})`, js: ([a]) => Math.floor(a as number) },
  ceil: { args: [NUM], result: () => 'float', sql: ([a], [t]) => `ceil(${dbl(a, t)})`, js: ([a]) => Math.ceil(a as number) },
  round: { args: [NUM], result: () => 'float', sql: ([a], [t]) => `round(${dbl(a, t)})`, js: ([a]) => roundHalfAway(a as number) },
  lower: { args: [STR], result: () => 'string', sql: ([a]) => `lower(${a})`, js: ([a]) => mapCase(a as string, false) },
  upper: { args: [STR], result: () => 'string', sql: ([a]) => `upper(${a})`, js: ([a]) => mapCase(a as string, true) },
  length: { args: [STR], result: () => 'int', sql: ([a]) => `length(${a})`, js: ([a]) => codepointLength(a as string) },
  trim: { args: [STR], result: () => 'string', sql: ([a]) => `trim(${a})`, js: ([a]) => trimSpaces(a as string) },
  contains: { args: [STR, STR], result: () => 'bool', sql: ([a, b]) => `contains(${a}, ${b})`, js: ([a, b]) => (a as string).includes(b as string) },
  starts_with: { args: [STR, STR], result: () => 'bool', sql: ([a, b]) => `starts_with(${a}, ${b})`, js: ([a, b]) => (a as string).startsWith(b as string) },
  ends_with: { args: [STR, STR], result: () => 'bool', sql: ([a, b]) => `ends_with(${a}, ${b})`, js: ([a, b]) => (a as string).endsWith(b as string) },
  concat: {
    args: 'variadic-string',
    result: () => 'string',
    seesNulls: true,
    sql: (args) => `concat(${args.join(', ')})`,
    js: (args) => args.filter((a) => a !== null).join(''),
  },
  coalesce: {
    args: 'variadic-same',
    result: (types) => unify(types) ?? 'int',
    seesNulls: true,
    sql: (args, types) => {
      const to = unify(types);
      return `coalesce(${args.map((a, i) => (to === 'float' ? dbl(a, types[i]) : a)).join(', ')})`;
    },
    js: (args) => args.find((a) => a !== null) ?? null,
  },
  if: {
    args: 'variadic-same',
    result: (types) => unify(types.slice(1)) ?? 'int',
    seesNulls: true,
    sql: () => '',
    js: () => null,
  },
  year: datePart('year', (d) => d.getUTCFullYear()),
  month: datePart('month', (d) => d.getUTCMonth() + 1),
  day: datePart('day', (d) => d.getUTCDate()),
  hour: datePart('hour', (d) => d.getUTCHours()),
  minute: datePart('minute', (d) => d.getUTCMinutes()),
  second: datePart('second', (d) => d.getUTCSeconds()),
  dayofweek: datePart('dayofweek', (d) => d.getUTCDay()),
  epoch_ms: { args: [TS], result: () => 'int', sql: ([a]) => `epoch_ms(${a})`, js: ([a]) => a },
};

/** Names of the functions the language offers. */
export const FUNCTION_NAMES: readonly string[] = Object.keys(FUNCTIONS);

/** The common type of branches: NULL fits anything; int widens to float; else all must agree. */
function unify(types: readonly TypeOrNull[]): ExprType | undefined {
  let out: ExprType | undefined;
  for (const t of types) {
    if (t === 'null') continue;
    if (out === undefined || out === t) out = t;
    else if ((out === 'int' && t === 'float') || (out === 'float' && t === 'int')) out = 'float';
    else return undefined;
  }
  return out;
}

/** A type-checked expression, ready to compile. */
export interface TypedExpr {
  readonly source: string;
  readonly expr: Expr;
  readonly type: ExprType;
  /** Columns the expression reads. */
  readonly columns: readonly string[];
  /** The column types it was checked against. */
  readonly columnTypes: Readonly<Record<string, ExprType>>;
}

/**
 * Parses and type-checks `source` against the column types in `columns`. Throws
 * INVALID_PARAMETER_VALUE naming an unknown column, function or a type mismatch.
 */
export function checkExpr(source: string, columns: Readonly<Record<string, ExprType>>): TypedExpr {
  const expr = parseExpr(source);
  const used = new Set<string>();
  const fail = (what: string) => new MloopError('INVALID_PARAMETER_VALUE', `expression ${JSON.stringify(source)}: ${what}`);
  const typeOf = (e: Expr): TypeOrNull => {
    switch (e.kind) {
      case 'lit':
        return e.type;
      case 'col': {
        const t = columns[e.name];
        if (!t) throw fail(`unknown column "${e.name}" (known: ${Object.keys(columns).join(', ') || 'none'})`);
        used.add(e.name);
        return t;
      }
      case 'unary': {
        const t = typeOf(e.arg);
        if (e.op === '-') {
          if (!NUM.includes(t)) throw fail(`unary minus needs a number, got ${t}`);
          return 'float';
        }
        if (t !== 'bool' && t !== 'null') throw fail(`NOT needs a bool, got ${t}`);
        return 'bool';
      }
      case 'binary': {
        const l = typeOf(e.left);
        const r = typeOf(e.right);
        if (e.op === 'AND' || e.op === 'OR') {
          if ((l !== 'bool' && l !== 'null') || (r !== 'bool' && r !== 'null')) throw fail(`${e.op} needs bools, got ${l} and ${r}`);
          return 'bool';
        }
        if ('+-*/%'.includes(e.op)) {
          if (!NUM.includes(l) || !NUM.includes(r)) throw fail(`"${e.op}" needs numbers, got ${l} and ${r}`);
          return 'float';
        }
        if (unify([l, r]) === undefined && !(l === 'null' && r === 'null')) throw fail(`cannot compare ${l} with ${r}`);
        return 'bool';
      }
      case 'isnull':
        typeOf(e.arg);
        return 'bool';
      case 'in': {
        const types = [typeOf(e.arg), ...e.list.map(typeOf)];
        if (unify(types) === undefined && types.some((t) => t !== 'null')) throw fail(`IN list types do not match: ${types.join(', ')}`);
        return 'bool';
      }
      case 'case': {
        for (const w of e.whens) {
          const c = typeOf(w.when);
          if (c !== 'bool' && c !== 'null') throw fail(`WHEN needs a bool, got ${c}`);
        }
        const types = [...e.whens.map((w) => typeOf(w.then)), ...(e.otherwise ? [typeOf(e.otherwise)] : [])];
        const t = unify(types);
        if (t === undefined && types.some((x) => x !== 'null')) throw fail(`CASE branches have different types: ${types.join(', ')}`);
        return t ?? 'null';
      }
      case 'cast': {
        const from = typeOf(e.arg);
        if (!castAllowed(from, e.to)) throw fail(`cannot cast ${from} to ${e.to}`);
        return e.to;
      }
      case 'call': {
        const spec = FUNCTIONS[e.fn];
        if (!spec) throw fail(`unknown function "${e.fn}" (known: ${FUNCTION_NAMES.join(', ')})`);
        const types = e.args.map(typeOf);
        if (e.fn === 'if') {
          if (types.length !== 3) throw fail('if(condition, then, else) takes 3 arguments');
          if (types[0] !== 'bool' && types[0] !== 'null') throw fail(`if() condition must be a bool, got ${types[0]}`);
          const t = unify(types.slice(1));
          if (t === undefined && types.slice(1).some((x) => x !== 'null')) throw fail(`if() branches have different types: ${types[1]}, ${types[2]}`);
          return t ?? 'null';
        }
        if (spec.args === 'variadic-string') {
          if (types.length === 0) throw fail(`${e.fn}() needs at least one argument`);
          for (const t of types) if (!STR.includes(t)) throw fail(`${e.fn}() takes strings, got ${t} (use cast(x as string))`);
        } else if (spec.args === 'variadic-same') {
          if (types.length === 0) throw fail(`${e.fn}() needs at least one argument`);
          if (unify(types) === undefined && types.some((t) => t !== 'null')) throw fail(`${e.fn}() arguments have different types: ${types.join(', ')}`);
          if (types.every((t) => t === 'null')) return 'null';
        } else {
          if (types.length !== spec.args.length) throw fail(`${e.fn}() takes ${spec.args.length} argument(s), got ${types.length}`);
          types.forEach((t, i) => {
            const allowed = (spec.args as readonly (readonly TypeOrNull[])[])[i];
            if (!allowed.includes(t)) throw fail(`${e.fn}() argument ${i + 1} must be ${allowed.filter((x) => x !== 'null').join(' or ')}, got ${t}`);
          });
        }
        return spec.result(types);
      }
    }
  };
  const t = typeOf(expr);
  return { source, expr, type: t === 'null' ? 'int' : t, columns: [...used], columnTypes: { ...columns } };
}

function castAllowed(from: TypeOrNull, to: ExprType): boolean {
  if (from === 'null' || from === to) return true;
  switch (to) {
    case 'int':
      return from === 'float' || from === 'string' || from === 'bool';
    case 'float':
      return from === 'int' || from === 'string';
    case 'string':
      // Floats and timestamps have no text form both engines print the same way.
      return from === 'int' || from === 'bool';
    case 'timestamp':
      return from === 'int';
    case 'bool':
      return false;
  }
}

// ---------------------------------------------------------------- SQL

/** Quotes an identifier for DuckDB. */
export function sqlIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A SQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A DuckDB literal of a value of type `type`. */
export function sqlLiteral(value: ExprValue, type: TypeOrNull): string {
  if (value === null) return 'NULL';
  switch (type) {
    case 'int':
      return `CAST(${String(value)} AS BIGINT)`;
    case 'float': {
      const n = value as number;
      if (Number.isNaN(n)) return "CAST('NaN' AS DOUBLE)";
      if (!Number.isFinite(n)) return n > 0 ? "CAST('Infinity' AS DOUBLE)" : "CAST('-Infinity' AS DOUBLE)";
      return `CAST(${Object.is(n, -0) ? '-0.0' : String(n)} AS DOUBLE)`;
    }
    case 'bool':
      return value ? 'TRUE' : 'FALSE';
    case 'string':
      return sqlString(value as string);
    case 'timestamp':
      return `epoch_ms(CAST(${String(value)} AS BIGINT))`;
    default:
      return 'NULL';
  }
}

/** The largest epoch millisecond a JavaScript Date holds; timestamps beyond it are NULL. */
const MAX_DATE_MS = 8_640_000_000_000_000;

const INT_TEXT = '^[+-]?[0-9]+$';
const FLOAT_TEXT = '^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?$';

/**
 * Compiles a checked expression to a DuckDB SQL expression. `column(name)` renders a column reference
 * (default: the quoted name); timestamps are DuckDB TIMESTAMP values.
 */
export function toSql(typed: TypedExpr, column: (name: string) => string = sqlIdent): string {
  const types = new Map<Expr, TypeOrNull>();
  const columnTypes = columnTypesOf(typed);
  const typeOf = (e: Expr): TypeOrNull => types.get(e) ?? inferType(e, columnTypes, types);
  const go = (e: Expr): string => {
    switch (e.kind) {
      case 'lit':
        return sqlLiteral(e.value, e.type);
      case 'col':
        return column(e.name);
      case 'unary':
        return e.op === '-' ? `(- ${dbl(go(e.arg), typeOf(e.arg))})` : `(NOT ${go(e.arg)})`;
      case 'binary': {
        const l = go(e.left);
        const r = go(e.right);
        if (e.op === 'AND' || e.op === 'OR') return `(${l} ${e.op} ${r})`;
        const lt = typeOf(e.left);
        const rt = typeOf(e.right);
        if ('+-*/%'.includes(e.op)) return `(${dbl(l, lt)} ${e.op} ${dbl(r, rt)})`;
        const widen = unify([lt, rt]) === 'float';
        return `(${widen ? dbl(l, lt) : l} ${e.op === '!=' ? '<>' : e.op} ${widen ? dbl(r, rt) : r})`;
      }
      case 'isnull':
        return `(${go(e.arg)} IS ${e.negated ? 'NOT ' : ''}NULL)`;
      case 'in': {
        const all = [e.arg, ...e.list];
        const widen = unify(all.map(typeOf)) === 'float';
        const parts = all.map((x) => (widen ? dbl(go(x), typeOf(x)) : go(x)));
        return `(${parts[0]} IN (${parts.slice(1).join(', ')}))`;
      }
      case 'case': {
        const to = unify([...e.whens.map((w) => typeOf(w.then)), ...(e.otherwise ? [typeOf(e.otherwise)] : [])]);
        const branch = (x: Expr) => (to === 'float' ? dbl(go(x), typeOf(x)) : go(x));
        const whens = e.whens.map((w) => `WHEN ${go(w.when)} THEN ${branch(w.then)}`).join(' ');
        return `(CASE ${whens}${e.otherwise ? ` ELSE ${branch(e.otherwise)}` : ''} END)`;
      }
      case 'cast':
        return castSql(go(e.arg), typeOf(e.arg), e.to);
      case 'call': {
        if (e.fn === 'if') {
          return go({ kind: 'case', whens: [{ when: e.args[0], then: e.args[1] }], otherwise: e.args[2] });
        }
        const spec = FUNCTIONS[e.fn];
        return spec.sql(e.args.map(go), e.args.map(typeOf));
      }
    }
  };
  return go(typed.expr);
}

function castSql(arg: string, from: TypeOrNull, to: ExprType): string {
  if (from === to) return arg;
  if (from === 'null') return `CAST(NULL AS ${sqlType(to)})`;
  if (to === 'int') {
    const cast = from === 'string' ? `(CASE WHEN regexp_matches(${arg}, '${INT_TEXT}') THEN TRY_CAST(${arg} AS BIGINT) END)` : `TRY_CAST(${arg} AS BIGINT)`;
    return `(CASE WHEN ${cast} BETWEEN -${Number.MAX_SAFE_INTEGER} AND ${Number.MAX_SAFE_INTEGER} THEN ${cast} END)`;
  }
  if (from === 'string' && to === 'float') return `(CASE WHEN regexp_matches(${arg}, '${FLOAT_TEXT}') THEN TRY_CAST(${arg} AS DOUBLE) END)`;
  if (to === 'timestamp') return `(CASE WHEN ${arg} BETWEEN -${MAX_DATE_MS} AND ${MAX_DATE_MS} THEN epoch_ms(${arg}) END)`;
  return `TRY_CAST(${arg} AS ${sqlType(to)})`;
}

/** The DuckDB column type of a language type. */
export function sqlType(type: ExprType): string {
  return { int: 'BIGINT', float: 'DOUBLE', bool: 'BOOLEAN', string: 'VARCHAR', timestamp: 'TIMESTAMP' }[type];
}

function columnTypesOf(typed: TypedExpr): Map<string, ExprType> {
  return new Map(Object.entries(typed.columnTypes));
}

function inferType(e: Expr, columns: Map<string, ExprType>, memo: Map<Expr, TypeOrNull>): TypeOrNull {
  const t = inferTypeRaw(e, columns, memo);
  memo.set(e, t);
  return t;
}

function inferTypeRaw(e: Expr, columns: Map<string, ExprType>, memo: Map<Expr, TypeOrNull>): TypeOrNull {
  const sub = (x: Expr) => memo.get(x) ?? inferType(x, columns, memo);
  switch (e.kind) {
    case 'lit':
      return e.type;
    case 'col':
      return columns.get(e.name) ?? 'null';
    case 'unary':
      return e.op === '-' ? 'float' : 'bool';
    case 'binary':
      return '+-*/%'.includes(e.op) ? 'float' : 'bool';
    case 'isnull':
    case 'in':
      return 'bool';
    case 'case':
      return unify([...e.whens.map((w) => sub(w.then)), ...(e.otherwise ? [sub(e.otherwise)] : [])]) ?? 'null';
    case 'cast':
      return e.to;
    case 'call': {
      if (e.fn === 'if') return unify(e.args.slice(1).map(sub)) ?? 'null';
      const types = e.args.map(sub);
      if (e.fn === 'coalesce') return unify(types) ?? 'null';
      return FUNCTIONS[e.fn].result(types);
    }
  }
}

// ---------------------------------------------------------------- TypeScript evaluator

/** A compiled expression: evaluates one row (column name → value). */
export type RowFn = (row: Readonly<Record<string, ExprValue | undefined>>) => ExprValue;

/** Compiles a checked expression to a TypeScript function with exactly the SQL semantics. */
export function toFunction(typed: TypedExpr): RowFn {
  const columnTypes = columnTypesOf(typed);
  const go = (e: Expr): RowFn => {
    switch (e.kind) {
      case 'lit': {
        const v = e.value;
        return () => v;
      }
      case 'col': {
        const name = e.name;
        return (row) => row[name] ?? null;
      }
      case 'unary': {
        const a = go(e.arg);
        if (e.op === '-') return (row) => {
          const v = a(row);
          return v === null ? null : -(v as number);
        };
        return (row) => {
          const v = a(row);
          return v === null ? null : !v;
        };
      }
      case 'binary': {
        const l = go(e.left);
        const r = go(e.right);
        switch (e.op) {
          case 'AND':
            return (row) => {
              const a = l(row);
              if (a === false) return false;
              const b = r(row);
              if (b === false) return false;
              return a === null || b === null ? null : true;
            };
          case 'OR':
            return (row) => {
              const a = l(row);
              if (a === true) return true;
              const b = r(row);
              if (b === true) return true;
              return a === null || b === null ? null : false;
            };
          case '+':
            return arith(l, r, (a, b) => a + b);
          case '-':
            return arith(l, r, (a, b) => a - b);
          case '*':
            return arith(l, r, (a, b) => a * b);
          case '/':
            return arith(l, r, (a, b) => a / b);
          case '%':
            return arith(l, r, (a, b) => a % b);
          default: {
            const test = COMPARE[e.op];
            return (row) => {
              const a = l(row);
              if (a === null) return null;
              const b = r(row);
              if (b === null) return null;
              return test(compareValues(a, b));
            };
          }
        }
      }
      case 'isnull': {
        const a = go(e.arg);
        return e.negated ? (row) => a(row) !== null : (row) => a(row) === null;
      }
      case 'in': {
        const a = go(e.arg);
        const list = e.list.map(go);
        return (row) => {
          const v = a(row);
          if (v === null) return null;
          let sawNull = false;
          for (const item of list) {
            const x = item(row);
            if (x === null) sawNull = true;
            else if (compareValues(v, x) === 0) return true;
          }
          return sawNull ? null : false;
        };
      }
      case 'case': {
        const whens = e.whens.map((w) => ({ when: go(w.when), then: go(w.then) }));
        const otherwise = e.otherwise ? go(e.otherwise) : () => null;
        return (row) => {
          for (const w of whens) if (w.when(row) === true) return w.then(row);
          return otherwise(row);
        };
      }
      case 'cast': {
        const a = go(e.arg);
        const convert = castJs(inferType(e.arg, columnTypes, new Map()), e.to);
        return (row) => {
          const v = a(row);
          return v === null ? null : convert(v);
        };
      }
      case 'call': {
        if (e.fn === 'if') return go({ kind: 'case', whens: [{ when: e.args[0], then: e.args[1] }], otherwise: e.args[2] });
        const spec = FUNCTIONS[e.fn];
        const args = e.args.map(go);
        if (spec.seesNulls) return (row) => spec.js(args.map((f) => f(row)));
        if (args.length === 1) {
          const [a] = args;
          return (row) => {
            const v = a(row);
            return v === null ? null : spec.js([v]);
          };
        }
        return (row) => {
          const values = args.map((f) => f(row));
          return values.includes(null) ? null : spec.js(values);
        };
      }
    }
  };
  return go(typed.expr);
}

/** An expression checked and compiled for both paths. */
export interface CompiledExpr extends TypedExpr {
  /** The DuckDB SQL expression (columns referenced by quoted name). */
  readonly sql: string;
  /** The TypeScript evaluator. */
  readonly fn: RowFn;
}

/** Checks `source` against `columns` and compiles it to SQL and to a function. */
export function compileExpr(source: string, columns: Readonly<Record<string, ExprType>>): CompiledExpr {
  const typed = checkExpr(source, columns);
  return { ...typed, sql: toSql(typed), fn: toFunction(typed) };
}

const COMPARE: Record<string, (c: number) => boolean> = {
  '=': (c) => c === 0,
  '!=': (c) => c !== 0,
  '<': (c) => c < 0,
  '<=': (c) => c <= 0,
  '>': (c) => c > 0,
  '>=': (c) => c >= 0,
};

function arith(l: RowFn, r: RowFn, op: (a: number, b: number) => number): RowFn {
  return (row) => {
    const a = l(row);
    if (a === null) return null;
    const b = r(row);
    if (b === null) return null;
    return op(a as number, b as number);
  };
}

/** Orders two non-null values as DuckDB does: NaN equal to itself and above all numbers; strings by codepoint. */
export function compareValues(a: Exclude<ExprValue, null>, b: Exclude<ExprValue, null>): number {
  if (typeof a === 'number') {
    const y = b as number;
    if (a !== a) return y !== y ? 0 : 1;
    if (y !== y) return -1;
    return a < y ? -1 : a > y ? 1 : 0;
  }
  if (typeof a === 'string') return compareCodepoints(a, b as string);
  return a === b ? 0 : a ? 1 : -1;
}

/** Compares strings by Unicode codepoint, which is UTF-8 byte order (UTF-16 code units differ above U+FFFF). */
export function compareCodepoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate (an astral codepoint) sorts above every BMP unit at or beyond U+E000.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? (y >= 0xe000 ? 1 : x < y ? -1 : 1) : x >= 0xe000 ? -1 : x < y ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** Rounds half to even, as DuckDB casts a double to an integer. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const INT_RE = new RegExp(INT_TEXT);
const FLOAT_RE = new RegExp(FLOAT_TEXT);
const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

function castJs(from: TypeOrNull, to: ExprType): (v: Exclude<ExprValue, null>) => ExprValue {
  if (from === to || from === 'null') return (v) => v;
  if (to === 'int') {
    if (from === 'bool') return (v) => (v ? 1 : 0);
    if (from === 'string')
      return (v) => {
        const s = v as string;
        if (!INT_RE.test(s)) return null;
        const big = BigInt(s);
        return big < SAFE_MIN || big > SAFE_MAX ? null : Number(big);
      };
    return (v) => {
      const x = v as number;
      if (!Number.isFinite(x)) return null;
      const r = roundHalfEven(x);
      return r > Number.MAX_SAFE_INTEGER || r < Number.MIN_SAFE_INTEGER ? null : r === 0 ? 0 : r;
    };
  }
  if (to === 'float') {
    if (from === 'string') return (v) => (FLOAT_RE.test(v as string) ? Number(v) : null);
    return (v) => v;
  }
  if (to === 'string') return (v) => String(v);
  if (to === 'timestamp') return (v) => (Math.abs(v as number) <= MAX_DATE_MS ? v : null);
  return () => null;
}

function codepointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** Space separators (Unicode category Zs), the characters DuckDB's `trim` removes. */
const SPACE_SEPARATORS = new Set([0x20, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x202f, 0x205f, 0x3000]);

function trimSpaces(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && SPACE_SEPARATORS.has(s.charCodeAt(start))) start++;
  while (end > start && SPACE_SEPARATORS.has(s.charCodeAt(end - 1))) end--;
  return s.slice(start, end);
}

/** Maps case codepoint by codepoint (simple case mapping), as DuckDB's utf8proc does. */
function mapCase(s: string, upper: boolean): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\u0000-\u007f]*$/.test(s)) return upper ? s.toUpperCase() : s.toLowerCase();
  const exceptions = upper ? UPPER_EXCEPTIONS : LOWER_EXCEPTIONS;
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    const special = exceptions.get(cp);
    if (special !== undefined) {
      out += String.fromCodePoint(special);
      continue;
    }
    const mapped = upper ? ch.toUpperCase() : ch.toLowerCase();
    out += mapped.length === ch.length || [...mapped].length === 1 ? mapped : ch;
  }
  return out;
}
