/**
 * Custom SQL predicates of validation rules, made safe to run.
 *
 * A predicate is one boolean expression over the version's columns (`fare >= 0 OR status = 'refund'`).
 * It is never run as written: DuckDB's own parser turns `SELECT <expression>` into a syntax tree
 * (`json_serialize_sql`), and the tree must be a lone expression with no FROM, WHERE, subquery,
 * window, parameter or star, whose column references name the version's columns and whose functions
 * are on {@link ALLOWED_FUNCTIONS} (scalar, side-effect free — no table functions, no file access, no
 * settings). Only then is the expression text placed in a query mloop builds.
 */
import { invalidParam } from '../core/errors.ts';
import type { DuckDbConnection } from '../storage/duckdb/engine.ts';

/** Longest predicate accepted, in characters. */
export const MAX_PREDICATE_LENGTH = 4000;

/** Scalar functions and operators a predicate may call. */
export const ALLOWED_FUNCTIONS: ReadonlySet<string> = new Set([
  // arithmetic and string operators as DuckDB names them
  '+', '-', '*', '/', '//', '%', '^', '**', '||', '~~', '!~~', '~~*', '!~~*', '~', '!~', '@', '&', '|', '<<', '>>', 'xor',
  // numbers
  'abs', 'ceil', 'ceiling', 'floor', 'round', 'trunc', 'sqrt', 'cbrt', 'ln', 'log', 'log10', 'log2', 'exp', 'pow', 'power',
  'sign', 'greatest', 'least', 'isnan', 'isinf', 'isfinite', 'mod', 'even', 'gcd', 'lcm',
  // nulls and conditionals
  'coalesce', 'nullif', 'ifnull', 'if',
  // strings
  'lower', 'upper', 'lcase', 'ucase', 'length', 'strlen', 'trim', 'ltrim', 'rtrim', 'substr', 'substring', 'left', 'right',
  'starts_with', 'ends_with', 'contains', 'strpos', 'instr', 'position', 'replace', 'concat', 'concat_ws', 'reverse', 'repeat',
  'lpad', 'rpad', 'regexp_matches', 'regexp_full_match', 'regexp_replace', 'regexp_extract', 'like_escape', 'ilike_escape',
  'prefix', 'suffix', 'levenshtein', 'md5', 'hash',
  // time
  'year', 'month', 'day', 'hour', 'minute', 'second', 'millisecond', 'dayofweek', 'dayofyear', 'week', 'quarter',
  'date_part', 'datepart', 'date_trunc', 'datetrunc', 'date_diff', 'datediff', 'epoch', 'epoch_ms', 'to_timestamp', 'make_timestamp',
  'strftime', 'strptime', 'try_strptime',
]);

const ALLOWED_CLASSES = new Set(['COLUMN_REF', 'CONSTANT', 'COMPARISON', 'CONJUNCTION', 'OPERATOR', 'CASE', 'CAST', 'BETWEEN', 'FUNCTION', 'COLLATE']);

interface Node {
  class?: string;
  type?: string;
  [key: string]: unknown;
}

function reject(reason: string): never {
  throw invalidParam('expression', reason);
}

/**
 * Checks `expression` against the columns of a version; returns it as DuckDB prints the checked syntax
 * tree (the text to run) and the column names it reads. Throws
 * INVALID_PARAMETER_VALUE (field `expression`) naming what is not allowed. Columns not in `columns`
 * are returned in `unknown` rather than refused, so a rule on a missing column fails instead.
 */
export async function checkPredicate(
  conn: DuckDbConnection,
  expression: string,
  columns: readonly string[],
): Promise<{ sql: string; columns: string[]; unknown: string[] }> {
  if (typeof expression !== 'string' || expression.trim() === '') reject('the expression is empty');
  if (expression.length > MAX_PREDICATE_LENGTH) reject(`the expression is longer than ${MAX_PREDICATE_LENGTH} characters`);
  if (expression.includes(';')) reject('the expression must not contain ";" (one boolean expression, not statements)');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000]/.test(expression)) reject('the expression contains a NUL character');
  const row = await conn.first<{ tree: string }>('SELECT json_serialize_sql(CAST($1 AS VARCHAR)) AS tree', [`SELECT ${expression}`]);
  const tree = JSON.parse(row?.tree ?? '{}') as { error?: boolean; error_message?: string; statements?: { node: Node }[] };
  if (tree.error) reject(`not a valid SQL expression: ${tree.error_message ?? 'syntax error'}`);
  const statements = tree.statements ?? [];
  if (statements.length !== 1) reject('expected exactly one expression');
  const node = statements[0].node;
  const from = node.from_table as Node | undefined;
  const list = node.select_list as Node[] | undefined;
  if (
    node.type !== 'SELECT_NODE' ||
    !list ||
    list.length !== 1 ||
    from?.type !== 'EMPTY' ||
    node.where_clause != null ||
    node.having != null ||
    node.qualify != null ||
    node.sample != null ||
    (node.group_expressions as unknown[] | undefined)?.length ||
    (node.modifiers as unknown[] | undefined)?.length ||
    ((node.cte_map as { map?: unknown[] } | undefined)?.map ?? []).length
  ) {
    reject('expected one boolean expression over the columns (no FROM, WHERE, GROUP BY, ORDER BY, LIMIT, WITH or second expression)');
  }
  if (list[0].alias) reject('the expression must not have an alias');
  const known = new Map(columns.map((c) => [c.toLowerCase(), c]));
  const used = new Set<string>();
  const unknown = new Set<string>();
  walk(list[0], known, used, unknown);
  // What runs is the checked tree printed back by DuckDB, not the text as given (no comments, no tricks).
  const printed = await conn.first<{ sql: string }>('SELECT json_deserialize_sql(CAST($1 AS JSON)) AS sql', [row?.tree ?? '{}']);
  const sql = printed?.sql ?? '';
  if (!sql.startsWith('SELECT ')) reject('the expression could not be normalized');
  return { sql: sql.slice('SELECT '.length), columns: [...used], unknown: [...unknown] };
}

function walk(node: unknown, known: Map<string, string>, used: Set<string>, unknown: Set<string>): void {
  if (Array.isArray(node)) {
    for (const child of node) walk(child, known, used, unknown);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const n = node as Node;
  if (typeof n.class === 'string') {
    if (!ALLOWED_CLASSES.has(n.class)) reject(`${describeClass(n.class)} is not allowed in a predicate`);
    if (n.class === 'COLUMN_REF') {
      const names = n.column_names as string[];
      if (names.length !== 1) reject(`qualified column reference ${names.join('.')} is not allowed; name the column alone`);
      const match = known.get(names[0].toLowerCase());
      if (match) used.add(match);
      else unknown.add(names[0]);
    }
    if (n.class === 'FUNCTION') {
      const name = String(n.function_name ?? '').toLowerCase();
      if (n.schema || n.catalog) reject(`function ${name} must not be qualified with a schema`);
      if (!ALLOWED_FUNCTIONS.has(name)) reject(`function ${name}() is not allowed in a predicate`);
      if (n.filter != null || n.distinct || ((n.order_bys as { orders?: unknown[] } | undefined)?.orders ?? []).length > 0) {
        reject(`function ${name}() is used as an aggregate, which a row predicate cannot be`);
      }
    }
    if (n.class === 'OPERATOR' && String(n.type).includes('LAMBDA')) reject('lambdas are not allowed in a predicate');
  }
  if (n.class === 'CONSTANT') return;
  for (const [key, value] of Object.entries(n)) {
    if (key === 'class' || key === 'type') continue;
    if (typeof value === 'object' && value !== null) walk(value, known, used, unknown);
  }
}

function describeClass(cls: string): string {
  switch (cls) {
    case 'SUBQUERY':
      return 'a subquery';
    case 'WINDOW':
      return 'a window function';
    case 'STAR':
      return '*';
    case 'PARAMETER':
      return 'a parameter';
    case 'LAMBDA':
      return 'a lambda';
    default:
      return `an expression of kind ${cls.toLowerCase()}`;
  }
}
