/**
 * MLflow's search `filter` grammar: a tokenizer-parser producing a typed list of comparisons, and
 * their validation against one search kind.
 *
 * Grammar (keywords case-insensitive, whitespace free between tokens):
 *
 * ```
 * filter      := ε | comparison ( AND comparison )*
 * comparison  := identifier op value
 *              | identifier (IN | NOT IN) '(' string ( ',' string )* ','? ')'
 *              | identifier IS [NOT] NULL
 * identifier  := part ( '.' part )*          part := word | "double quoted" | `backticked`
 * op          := = | != | < | <= | > | >= | LIKE | ILIKE
 * value       := 'single quoted' | "double quoted" | number
 * ```
 *
 * Only AND joins comparisons: OR, NOT, parentheses and `;` are rejected, as MLflow does.
 */
import {
  LIST_COMPARATORS,
  NULL_COMPARATORS,
  SEARCH_SPECS,
  formatList,
  type Comparator,
  type Entity,
  type ListComparator,
  type NullComparator,
  type NumericComparator,
  type SearchKind,
  type SearchSpec,
  type StringComparator,
} from './spec.ts';
import { Scanner, excerpt, resolveIdentifier, type ScannedIdentifier, type ScannedValue } from './scanner.ts';

/** Fields shared by every comparison. */
interface ComparisonBase {
  readonly entity: Entity;
  /**
   * The key: a metric/param/tag name as logged (quotes removed), a canonical attribute key
   * (`created` arrives as `start_time`), or a dataset field (`name`, `digest`, `context`).
   */
  readonly key: string;
}

/** `metrics.rmse < 0.5`, `attributes.start_time >= 1700000000000`. */
export interface NumberComparison extends ComparisonBase {
  readonly valueType: 'number';
  readonly comparator: NumericComparator;
  readonly value: number;
}

/** `params.model = 'cnn'`, `name LIKE 'prod-%'`. LIKE patterns are passed through unchanged. */
export interface StringComparison extends ComparisonBase {
  readonly valueType: 'string';
  readonly comparator: StringComparator;
  readonly value: string;
}

/** `attributes.run_id IN ('a', 'b')`; the list is never empty. */
export interface ListComparison extends ComparisonBase {
  readonly valueType: 'list';
  readonly comparator: ListComparator;
  readonly value: readonly string[];
}

/** `tags.env IS NULL`: the key is absent (IS NULL) or present (IS NOT NULL). */
export interface NullComparison extends ComparisonBase {
  readonly valueType: 'null';
  readonly comparator: NullComparator;
  readonly value: null;
}

/**
 * One validated comparison. Switch on `valueType` to get a precise `comparator` and `value` type;
 * a whole filter is the conjunction (AND) of its comparisons.
 */
export type Comparison = NumberComparison | StringComparison | ListComparison | NullComparison;

/** A comparison as written, before it is checked against a search kind. */
interface RawComparison {
  readonly ident: ScannedIdentifier;
  readonly comparator: string;
  readonly comparatorAt: number;
  readonly value?: ScannedValue;
}

const SYNTAX_PREFIX = 'Invalid clause(s) in filter string';

/**
 * Parses an MLflow `filter` string and validates it for `kind`. An absent, empty or blank filter
 * yields no comparisons. Throws `INVALID_PARAMETER_VALUE` on field `filter` with MLflow's wording
 * (`Invalid clause(s) in filter string`, `Invalid attribute key`, `Invalid comparator`, …) plus the
 * key, comparator and character position at fault.
 */
export function parseFilter(filter: string | null | undefined, kind: SearchKind): Comparison[] {
  if (filter === null || filter === undefined) return [];
  const scanner = new Scanner(filter, 'filter', SYNTAX_PREFIX);
  const spec = SEARCH_SPECS[kind];
  return scanFilter(scanner).map((raw) => checkComparison(scanner, raw, spec));
}

function scanFilter(s: Scanner): RawComparison[] {
  const out: RawComparison[] = [];
  s.skipWhitespace();
  if (s.atEnd()) return out;
  for (;;) {
    out.push(scanComparison(s));
    s.skipWhitespace();
    if (s.atEnd()) return out;
    const at = s.pos;
    if (s.peek() === ';') {
      throw s.error(
        `Search filter contained multiple expressions (';' at character ${at + 1}). Provide AND-ed expression list.`,
      );
    }
    const word = s.atWordStart() ? s.readWord().toUpperCase() : '';
    if (word === 'AND') {
      s.skipWhitespace();
      if (s.atEnd()) s.syntax("expected a comparison after 'AND'");
      continue;
    }
    s.pos = at;
    if (word === 'OR') s.syntax("'OR' is not supported; MLflow filters join comparisons with AND only", at);
    s.syntax(`expected AND between comparisons, found '${s.rest()}'`, at);
  }
}

function scanComparison(s: Scanner): RawComparison {
  if (s.peek() === '(') s.syntax('parentheses are not supported; join comparisons with AND');
  if (!s.atIdentifierStart()) {
    const found = /^[^\s<>=~!]*/.exec(s.input.slice(s.pos))![0] || s.peek();
    throw s.error(`Invalid comparison clause. Expected 'Identifier' found '${excerpt(found)}' (at character ${s.pos + 1})`);
  }
  const ident = s.readIdentifier();
  s.skipWhitespace();
  const comparatorAt = s.pos;
  const comparator = scanComparator(s, ident);
  if (comparator === 'IS NULL' || comparator === 'IS NOT NULL') return { ident, comparator, comparatorAt };
  s.skipWhitespace();
  const valueAt = s.pos;
  if (comparator === 'IN' || comparator === 'NOT IN') {
    if (s.peek() !== '(') s.syntax(`${comparator} must be followed by a parenthesised list of quoted strings`);
    return { ident, comparator, comparatorAt, value: scanList(s) };
  }
  if (s.atEnd()) s.syntax(`expected a value after '${excerpt(ident.raw)} ${comparator}'`);
  if (s.peek() === '(') s.syntax('a parenthesised list is only allowed after IN or NOT IN', valueAt);
  return { ident, comparator, comparatorAt, value: scanScalar(s) };
}

function scanComparator(s: Scanner, ident: ScannedIdentifier): string {
  const at = s.pos;
  const operator = s.readOperator();
  if (operator !== '') return operator;
  const word = s.atWordStart() ? s.readWord().toUpperCase() : '';
  if (word === 'LIKE' || word === 'ILIKE' || word === 'IN') return word;
  if (word === 'NOT') {
    s.skipWhitespace();
    const next = s.atWordStart() ? s.readWord().toUpperCase() : '';
    if (next === 'IN') return 'NOT IN';
    s.syntax(`'NOT ${next}' is not supported; the only negated comparators are != and NOT IN`, at);
  }
  if (word === 'IS') {
    s.skipWhitespace();
    let next = s.atWordStart() ? s.readWord().toUpperCase() : '';
    let negated = false;
    if (next === 'NOT') {
      negated = true;
      s.skipWhitespace();
      next = s.atWordStart() ? s.readWord().toUpperCase() : '';
    }
    if (next === 'NULL') return negated ? 'IS NOT NULL' : 'IS NULL';
    s.syntax('IS must be followed by NULL or NOT NULL', at);
  }
  s.pos = at;
  const found = s.atEnd() ? 'nothing' : `'${s.rest()}'`;
  // A stray character glued to the identifier (`metrics.a-b`) is most likely part of an unquoted key.
  const hint =
    at === ident.start + ident.raw.length && !s.atEnd() && !s.atWordStart()
      ? '; quote keys holding special characters with backticks or double quotes'
      : '';
  return s.syntax(`expected a comparator after '${excerpt(ident.raw)}', found ${found}${hint}`, at);
}

function scanScalar(s: Scanner): ScannedValue {
  const start = s.pos;
  const ch = s.peek();
  if (ch === "'" || ch === '"') {
    const value = s.readQuoted();
    return { type: 'string', value, raw: s.input.slice(start, s.pos) };
  }
  if (ch === '`') {
    s.readQuoted();
    return { type: 'backtick', raw: s.input.slice(start, s.pos) };
  }
  if (/[\d+\-.]/.test(ch)) {
    const number = s.readNumber();
    if (number !== undefined) return { type: 'number', ...number };
  }
  if (s.atWordStart()) {
    const match = /^[\p{L}\p{N}_$.]+/u.exec(s.input.slice(s.pos))!;
    s.pos += match[0].length;
    return { type: 'bare', raw: match[0] };
  }
  return s.syntax(`expected a value, found '${s.rest()}'`);
}

function scanList(s: Scanner): ScannedValue {
  const start = s.pos;
  s.pos++;
  const items: ScannedValue[] = [];
  s.skipWhitespace();
  while (s.peek() !== ')') {
    if (s.atEnd()) s.syntax('unterminated list: expected )', start);
    if (s.peek() === '(') s.syntax('nested lists are not supported');
    items.push(scanScalar(s));
    s.skipWhitespace();
    if (s.peek() === ',') {
      s.pos++;
      s.skipWhitespace();
    } else if (s.peek() !== ')') {
      if (s.atEnd()) s.syntax('unterminated list: expected )', start);
      s.syntax(`expected ',' or ')' in list, found '${s.rest()}'`);
    }
  }
  s.pos++;
  return { type: 'list', items, raw: s.input.slice(start, s.pos) };
}

/** Entities in the order messages list them ("tags and params", as MLflow words it). */
const MESSAGE_ORDER: readonly Exclude<Entity, 'attribute'>[] = ['tag', 'param', 'metric', 'dataset'];

/** Plural display names used in "only supported for …" messages. */
const ENTITY_PLURALS: Readonly<Record<Entity, string>> = {
  tag: 'tags',
  param: 'params',
  metric: 'metrics',
  dataset: 'datasets',
  attribute: 'attributes',
};

function checkComparison(s: Scanner, raw: RawComparison, spec: SearchSpec): Comparison {
  const { entity, key } = resolveIdentifier(s, raw.ident, spec, 'filter');
  const where = `${entity} '${excerpt(key)}'`;
  let allowed: readonly Comparator[];
  let type: 'string' | 'number';
  if (entity === 'attribute') {
    const attribute = spec.filterAttributes[key];
    allowed = attribute.comparators;
    type = attribute.type;
  } else {
    // resolveIdentifier only yields entities present in spec.prefixes, and each has comparators.
    allowed = spec.entityComparators[entity] ?? [];
    type = entity === 'metric' ? 'number' : 'string';
  }
  const comparator = raw.comparator as Comparator;
  if (!allowed.includes(comparator)) throw s.error(comparatorProblem(raw.comparator, entity, key, allowed, spec));

  const base = { entity, key };
  if (comparator === 'IS NULL' || comparator === 'IS NOT NULL') {
    return { ...base, valueType: 'null', comparator, value: null };
  }
  const value = raw.value!;
  if (comparator === 'IN' || comparator === 'NOT IN') {
    return { ...base, valueType: 'list', comparator, value: checkList(s, value, where) };
  }
  if (type === 'number') {
    if (value.type === 'number') return { ...base, valueType: 'number', comparator: comparator as NumericComparator, value: value.value };
    throw s.error(
      entity === 'metric'
        ? `Expected numeric value type for metric '${excerpt(key)}'. Found ${excerpt(value.raw)}`
        : `Expected numeric value type for numeric attribute: ${key}. Found ${excerpt(value.raw)}`,
    );
  }
  if (value.type === 'string') return { ...base, valueType: 'string', comparator: comparator as StringComparator, value: value.value };
  if (value.type === 'number') {
    throw s.error(`Expected a quoted string value for ${where} (e.g. 'my-value'). Got value ${excerpt(value.raw)}`);
  }
  throw s.error(
    `Parameter value is either not quoted or unidentified quote types used for string value ${excerpt(value.raw)} ` +
      `(${where}). Use either single or double quotes.`,
  );
}

function checkList(s: Scanner, value: ScannedValue, where: string): string[] {
  const items = value.type === 'list' ? value.items : [value];
  if (items.length === 0) {
    throw s.error(
      `While parsing a list in the query, expected a non-empty list of string values, but got empty list (${where})`,
    );
  }
  return items.map((item) => {
    if (item.type !== 'string') {
      throw s.error(
        `While parsing a list in the query, expected quoted string values, but got ${excerpt(item.raw)} in ` +
          `${excerpt(value.raw)} (${where})`,
      );
    }
    return item.value;
  });
}

function comparatorProblem(
  comparator: string,
  entity: Entity,
  key: string,
  allowed: readonly Comparator[],
  spec: SearchSpec,
): string {
  const where = `${entity} '${excerpt(key)}'`;
  if ((NULL_COMPARATORS as readonly string[]).includes(comparator)) {
    const nullable = MESSAGE_ORDER.filter((e) => spec.entityComparators[e]?.includes('IS NULL')).map(
      (e) => ENTITY_PLURALS[e],
    );
    if (nullable.length === 0) return `IS NULL / IS NOT NULL is not supported in ${spec.label} (${where})`;
    return `IS NULL / IS NOT NULL is only supported for ${nullable.join(' and ')}, not for ${where}`;
  }
  if (entity === 'attribute' && (LIST_COMPARATORS as readonly string[]).includes(comparator)) {
    const listable = Object.entries(spec.filterAttributes)
      .filter(([, attribute]) => attribute.comparators.includes(comparator as Comparator))
      .map(([name]) => name);
    if (listable.length === 1) {
      return `Only the '${listable[0]}' attribute supports ${comparator} with a list of quoted string values, not ${where}`;
    }
    if (listable.length === 0) return `${comparator} is not supported in ${spec.label} (${where})`;
  }
  return `Invalid comparator '${excerpt(comparator)}' for ${where}, not one of ${formatList(allowed)}`;
}
