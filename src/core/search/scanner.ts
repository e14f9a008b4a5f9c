/**
 * Character-level scanning shared by the filter and order_by parsers, and the resolution of an
 * identifier (`metrics.rmse`, `` tags.`my tag` ``, `name`) into an entity and a canonical key.
 *
 * The parsers drive the scanner (there is no separate token stream) because what a character means
 * depends on where it stands: `.5` is a number in value position but `metrics.5` is a key.
 */
import { invalidParam, type MloopError } from '../errors.ts';
import { formatList, type Entity, type SearchSpec } from './spec.ts';

/** One dot-separated part of an identifier, unquoted. */
export interface IdentifierPart {
  readonly text: string;
  /** The quote it was written in, if any. */
  readonly quote?: '"' | '`';
}

/** An identifier as written: its parts and where it stood. */
export interface ScannedIdentifier {
  readonly parts: readonly IdentifierPart[];
  /** The identifier exactly as written. */
  readonly raw: string;
  readonly start: number;
}

/** A scanned right-hand side, before it is checked against its left-hand side. */
export type ScannedValue =
  | { readonly type: 'string'; readonly value: string; readonly raw: string }
  | { readonly type: 'number'; readonly value: number; readonly raw: string }
  /** An unquoted word such as `LR`, `true` or `metrics.acc`. */
  | { readonly type: 'bare'; readonly raw: string }
  /** A backtick-quoted word: a key quote, not a string quote. */
  | { readonly type: 'backtick'; readonly raw: string }
  | { readonly type: 'list'; readonly items: readonly ScannedValue[]; readonly raw: string };

const WORD_CHAR = /[\p{L}\p{N}_$]/u;
const WORD_START = /[\p{L}_]/u;
const NUMBER = /[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;
const OPERATOR = /[<>=~!]+/y;
const EXCERPT_LENGTH = 40;

/** Shortens user text echoed in messages so a huge input does not make a huge error. */
export function excerpt(text: string): string {
  return text.length > EXCERPT_LENGTH ? `${text.slice(0, EXCERPT_LENGTH)}…` : text;
}

/** A cursor over one input string that reports problems as `INVALID_PARAMETER_VALUE` on `field`. */
export class Scanner {
  pos = 0;

  /**
   * @param input the text to scan
   * @param field the request field named in errors (`filter`, `order_by`)
   * @param syntaxPrefix how syntax errors begin (MLflow's `Invalid clause(s) in filter string`)
   */
  constructor(
    readonly input: string,
    readonly field: string,
    readonly syntaxPrefix: string,
  ) {}

  /** An error on this scanner's field. */
  error(reason: string): MloopError {
    return invalidParam(this.field, reason);
  }

  /** Throws a syntax error located at `at` (default: the cursor). */
  syntax(reason: string, at: number = this.pos): never {
    throw this.error(`${this.syntaxPrefix}: ${reason} (at character ${at + 1})`);
  }

  /** True when the cursor is past the last character. */
  atEnd(): boolean {
    return this.pos >= this.input.length;
  }

  /** The character under the cursor, or `''` at the end. */
  peek(): string {
    return this.input.charAt(this.pos);
  }

  /** The rest of the input from the cursor, shortened for messages. */
  rest(): string {
    return excerpt(this.input.slice(this.pos));
  }

  /** Skips whitespace. */
  skipWhitespace(): void {
    while (this.pos < this.input.length && /\s/.test(this.input.charAt(this.pos))) this.pos++;
  }

  /** True when a word (keyword or unquoted identifier) starts under the cursor. */
  atWordStart(): boolean {
    return WORD_START.test(this.peek());
  }

  /** True when an identifier starts under the cursor. */
  atIdentifierStart(): boolean {
    const ch = this.peek();
    return ch === '`' || ch === '"' || WORD_START.test(ch);
  }

  /** Reads a run of word characters (possibly empty). */
  readWord(): string {
    const start = this.pos;
    while (this.pos < this.input.length && WORD_CHAR.test(this.input.charAt(this.pos))) this.pos++;
    return this.input.slice(start, this.pos);
  }

  /**
   * Reads a quoted text whose opening quote is under the cursor. A doubled quote stands for one
   * quote character; in `'…'` and `"…"` a backslash before the quote does too. Every other
   * character, backslashes included, is kept as written (so LIKE patterns pass through unchanged).
   */
  readQuoted(): string {
    const quote = this.peek();
    const start = this.pos;
    this.pos++;
    let out = '';
    while (this.pos < this.input.length) {
      const ch = this.input.charAt(this.pos);
      if (ch === quote) {
        if (this.input.charAt(this.pos + 1) === quote) {
          out += quote;
          this.pos += 2;
          continue;
        }
        this.pos++;
        return out;
      }
      if (ch === '\\' && quote !== '`' && this.input.charAt(this.pos + 1) === quote) {
        out += quote;
        this.pos += 2;
        continue;
      }
      out += ch;
      this.pos++;
    }
    return this.syntax(`unterminated ${quote} quote`, start);
  }

  /** Reads a number under the cursor, or returns undefined (cursor unmoved) when there is none. */
  readNumber(): { value: number; raw: string } | undefined {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.input);
    if (match === null) return undefined;
    const end = this.pos + match[0].length;
    const next = this.input.charAt(end);
    if (WORD_CHAR.test(next) || next === '.') {
      const word = /^[^\s,)]*/.exec(this.input.slice(this.pos))![0];
      this.syntax(`'${excerpt(word)}' is not a number`);
    }
    const value = Number(match[0]);
    if (!Number.isFinite(value)) this.syntax(`number ${excerpt(match[0])} is out of range`);
    this.pos = end;
    return { value, raw: match[0] };
  }

  /** Reads a run of operator characters (`=`, `!=`, `<=`, but also `~` or `==`, left to validation). */
  readOperator(): string {
    OPERATOR.lastIndex = this.pos;
    const match = OPERATOR.exec(this.input);
    if (match === null) return '';
    this.pos += match[0].length;
    return match[0];
  }

  /**
   * Reads `part(.part)*` where a part is a word, a `"double-quoted"` or a `` `backtick-quoted` ``
   * text. After the first dot, unquoted parts may start with a digit (`metrics.2019_rmse`).
   */
  readIdentifier(): ScannedIdentifier {
    const start = this.pos;
    const parts: IdentifierPart[] = [this.readIdentifierPart(true)];
    while (this.peek() === '.') {
      this.pos++;
      parts.push(this.readIdentifierPart(false));
    }
    return { parts, raw: this.input.slice(start, this.pos), start };
  }

  private readIdentifierPart(first: boolean): IdentifierPart {
    const ch = this.peek();
    if (ch === '"' || ch === '`') return { text: this.readQuoted(), quote: ch };
    if (first ? WORD_START.test(ch) : WORD_CHAR.test(ch)) return { text: this.readWord() };
    const hint =
      ch === '' ? 'nothing' : `'${ch}'; quote keys holding special characters with backticks or double quotes`;
    return this.syntax(`expected a name in identifier, found ${hint}`);
  }
}

/** An identifier resolved against a search kind. */
export interface ResolvedIdentifier {
  readonly entity: Entity;
  /** Canonical key: aliases such as `created` are already mapped (`start_time`). */
  readonly key: string;
}

/** What a resolved identifier is for; attributes and aliases differ between the two. */
export type IdentifierUse = 'filter' | 'order_by';

/**
 * Splits an identifier into entity and key the way MLflow does: one part is a bare attribute name,
 * otherwise the first part names the entity and the rest is the key (`tags.mlflow.user` → tag
 * `mlflow.user`). Checks the entity, and attribute and dataset keys, against `spec`.
 */
export function resolveIdentifier(
  scanner: Scanner,
  ident: ScannedIdentifier,
  spec: SearchSpec,
  use: IdentifierUse,
): ResolvedIdentifier {
  let entity: Entity;
  let key: string;
  if (ident.parts.length === 1) {
    entity = 'attribute';
    key = ident.parts[0].text;
  } else {
    const [prefix, ...rest] = ident.parts;
    const prefixes = Object.keys(spec.prefixes);
    const found =
      prefix.quote !== '"' && Object.hasOwn(spec.prefixes, prefix.text) ? spec.prefixes[prefix.text] : undefined;
    if (found === undefined) {
      throw scanner.error(
        `Invalid entity type '${excerpt(prefix.text)}' in ${spec.label}. Valid values are ${formatList(prefixes)}`,
      );
    }
    entity = found;
    if (rest.length > 1 && rest.some((part) => part.quote !== undefined)) {
      throw scanner.error(
        `Invalid identifier '${excerpt(ident.raw)}': quote the whole key after '${prefix.text}.', ` +
          `e.g. ${prefix.text}.\`a.b\``,
      );
    }
    key = rest.map((part) => part.text).join('.');
  }
  if (key === '') throw scanner.error(`Invalid identifier '${excerpt(ident.raw)}': the key is empty`);

  if (entity === 'attribute') {
    const aliases = use === 'filter' ? spec.filterAliases : spec.orderByAliases;
    const valid = use === 'filter' ? Object.keys(spec.filterAttributes) : spec.orderByAttributes;
    const canonical = Object.hasOwn(aliases, key) ? aliases[key] : key;
    if (!valid.includes(canonical)) {
      throw scanner.error(
        `Invalid attribute key '${excerpt(key)}' specified. Valid keys are ${formatList([...valid, ...Object.keys(aliases)])}`,
      );
    }
    return { entity, key: canonical };
  }
  if (entity === 'dataset' && !spec.datasetKeys.includes(key)) {
    throw scanner.error(
      `Invalid dataset key '${excerpt(key)}' specified. Valid keys are ${formatList(spec.datasetKeys)}`,
    );
  }
  return { entity, key };
}
