/**
 * MLflow's `order_by` clauses: `<identifier> [ASC|DESC]`, one clause per list item
 * (`metrics.rmse DESC`, `` params.`lr` ``, `attributes.start_time ASC`, `name`, `timestamp DESC`).
 */
import { invalidParam } from '../errors.ts';
import { SEARCH_SPECS, formatList, type OrderByEntity, type SearchKind } from './spec.ts';
import { Scanner, excerpt, resolveIdentifier } from './scanner.ts';

/** One parsed `order_by` clause. */
export interface OrderBy {
  readonly entity: OrderByEntity;
  /** Metric/param/tag name, or a canonical attribute key (`created` → `start_time`, `timestamp` → `last_updated_timestamp`). */
  readonly key: string;
  /** False for DESC; ASC is the default. */
  readonly ascending: boolean;
}

/**
 * Parses one `order_by` clause for `kind`. `field` names the input in errors (default `order_by`).
 * Leading and trailing whitespace is ignored; ASC/DESC are case-insensitive.
 */
export function parseOrderByClause(clause: string, kind: SearchKind, field = 'order_by'): OrderBy {
  const spec = SEARCH_SPECS[kind];
  const s = new Scanner(clause, field, `Invalid order_by clause '${excerpt(clause)}'`);
  s.skipWhitespace();
  if (s.atEnd()) s.syntax('expected a column to order by');
  if (!s.atIdentifierStart()) s.syntax(`expected a column to order by, found '${s.rest()}'`);
  const ident = s.readIdentifier();
  s.skipWhitespace();
  let ascending = true;
  if (!s.atEnd()) {
    const at = s.pos;
    if (!s.atWordStart()) s.syntax(`expected ASC or DESC after the column, found '${s.rest()}'`);
    const word = s.readWord();
    const direction = word.toLowerCase();
    if (direction !== 'asc' && direction !== 'desc') {
      s.pos = at;
      throw s.error(
        `Invalid ordering key in order_by clause '${excerpt(clause)}': expected ASC or DESC, found '${s.rest()}'`,
      );
    }
    ascending = direction === 'asc';
    s.skipWhitespace();
    if (!s.atEnd()) s.syntax(`unexpected '${s.rest()}' after ${word}`);
  }
  const { entity, key } = resolveIdentifier(s, ident, spec, 'order_by');
  if (entity === 'dataset' || !(spec.orderByEntities as readonly string[]).includes(entity)) {
    throw s.error(
      `Invalid order_by entity '${entity}' in ${spec.label}: valid entities are ${formatList(spec.orderByEntities)}`,
    );
  }
  return { entity, key, ascending };
}

/**
 * Parses a whole `order_by` list for `kind`; an absent list is empty. Each item is checked with
 * {@link parseOrderByClause} (errors name `order_by[i]`), and the same column twice is rejected
 * as MLflow does (`` `order_by` contains duplicate fields ``), aliases included.
 */
export function parseOrderBy(clauses: readonly string[] | null | undefined, kind: SearchKind): OrderBy[] {
  if (clauses === null || clauses === undefined) return [];
  const seen = new Set<string>();
  return clauses.map((clause, index) => {
    const field = `order_by[${index}]`;
    const parsed = parseOrderByClause(clause, kind, field);
    const id = `${parsed.entity}\u0000${parsed.key}`;
    if (seen.has(id)) {
      throw invalidParam(
        field,
        `\`order_by\` contains duplicate fields: ${parsed.entity} '${excerpt(parsed.key)}' appears more than once`,
      );
    }
    seen.add(id);
    return parsed;
  });
}
