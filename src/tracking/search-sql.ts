/**
 * Compiles parsed MLflow search expressions (filters and order-by terms, from `core/search`) into SQL
 * over the tracking tables, the same text on SQLite and PostgreSQL.
 *
 * Filters on metrics, params, tags and datasets become correlated `EXISTS` subqueries, which both
 * engines answer with one primary-key probe per candidate run. Order-by terms on metrics, params and
 * tags become `LEFT JOIN`s on `(run_uuid, key)`, so that runs lacking the key stay in the result and
 * sort last. Metric ordering puts NaN after every number and missing values after NaN, in either
 * direction, as MLflow does.
 */
import { sql, type RawBuilder } from 'kysely';
import { invalidParam } from '../core/errors.ts';
import type { Comparison, OrderBy } from '../core/search/index.ts';

type Sql = RawBuilder<unknown>;

const NUMERIC_OPS: Record<string, string> = { '=': '=', '!=': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };

/** Columns of `runs` that filters and order-by terms may name, by MLflow attribute name. */
export const RUN_ATTRIBUTES: Readonly<Record<string, { column: string; numeric: boolean }>> = Object.freeze({
  run_id: { column: 'run_uuid', numeric: false },
  run_name: { column: 'run_name', numeric: false },
  status: { column: 'status', numeric: false },
  user_id: { column: 'user_id', numeric: false },
  artifact_uri: { column: 'artifact_uri', numeric: false },
  start_time: { column: 'start_time', numeric: true },
  end_time: { column: 'end_time', numeric: true },
  created: { column: 'start_time', numeric: true },
  Created: { column: 'start_time', numeric: true },
});

/** Columns of `experiments` that experiment search may name. */
export const EXPERIMENT_ATTRIBUTES: Readonly<Record<string, { column: string; numeric: boolean }>> = Object.freeze({
  name: { column: 'name', numeric: false },
  experiment_id: { column: 'experiment_id', numeric: true },
  creation_time: { column: 'creation_time', numeric: true },
  last_update_time: { column: 'last_update_time', numeric: true },
});

function asNumber(c: Comparison, field: string): number {
  const n = typeof c.value === 'number' ? c.value : typeof c.value === 'string' && c.value.trim() !== '' ? Number(c.value) : Number.NaN;
  if (Number.isNaN(n)) throw invalidParam(field, `expected a number to compare ${c.entity}s.${c.key} with, got ${JSON.stringify(c.value)}`);
  return n;
}

function asString(c: Comparison, field: string): string {
  if (typeof c.value === 'string') return c.value;
  if (typeof c.value === 'number') return String(c.value);
  throw invalidParam(field, `expected a string to compare ${c.entity}s.${c.key} with, got ${JSON.stringify(c.value)}`);
}

function asList(c: Comparison, field: string): readonly string[] {
  if (Array.isArray(c.value) && c.value.length > 0) return c.value.map(String);
  throw invalidParam(field, `${c.comparator} needs a non-empty list of values for ${c.entity}s.${c.key}`);
}

/** `column <comparator> value` for a string column; LIKE is case-sensitive, ILIKE compares lower-cased. */
export function stringComparison(column: Sql, c: Comparison, field: string): Sql {
  switch (c.comparator) {
    case '=':
      return sql`${column} = ${asString(c, field)}`;
    case '!=':
      return sql`${column} <> ${asString(c, field)}`;
    case 'LIKE':
      return sql`${column} like ${asString(c, field)}`;
    case 'ILIKE':
      return sql`lower(${column}) like lower(${asString(c, field)})`;
    case 'IN':
      return sql`${column} in (${sql.join(asList(c, field))})`;
    case 'NOT IN':
      return sql`${column} not in (${sql.join(asList(c, field))})`;
    default:
      throw invalidParam(field, `comparator ${c.comparator} is not allowed on ${c.entity}s.${c.key} (a string)`);
  }
}

/** `column <comparator> value` for a numeric column. */
export function numericComparison(column: Sql, c: Comparison, field: string): Sql {
  const op = NUMERIC_OPS[c.comparator];
  if (!op) throw invalidParam(field, `comparator ${c.comparator} is not allowed on ${c.entity}s.${c.key} (a number)`);
  return sql`${column} ${sql.raw(op)} ${asNumber(c, field)}`;
}

function keyedExists(table: 'latest_metrics' | 'params' | 'tags', key: string, condition: Sql | undefined): Sql {
  const where = condition ? sql` and ${condition}` : sql``;
  return sql`exists (select 1 from ${sql.table(table)} f where f.run_uuid = runs.run_uuid and f.key = ${key}${where})`;
}

/** The SQL condition on `runs` for one comparison of a run search. `field` names the input in errors. */
export function runFilterCondition(c: Comparison, field = 'filter'): Sql {
  switch (c.entity) {
    case 'metric': {
      if (c.comparator === 'IS NULL') return sql`not ${keyedExists('latest_metrics', c.key, undefined)}`;
      if (c.comparator === 'IS NOT NULL') return keyedExists('latest_metrics', c.key, undefined);
      const compare = numericComparison(sql.ref('f.value'), c, field);
      // NaN (stored as 0 with is_nan = 1) equals nothing and differs from everything.
      const condition = c.comparator === '!=' ? sql`(f.is_nan = 1 or ${compare})` : sql`f.is_nan = 0 and ${compare}`;
      return keyedExists('latest_metrics', c.key, condition);
    }
    case 'param':
    case 'tag': {
      const table = c.entity === 'param' ? 'params' : 'tags';
      if (c.comparator === 'IS NULL') return sql`not ${keyedExists(table, c.key, undefined)}`;
      if (c.comparator === 'IS NOT NULL') return keyedExists(table, c.key, undefined);
      return keyedExists(table, c.key, stringComparison(sql.ref('f.value'), c, field));
    }
    case 'attribute': {
      const attribute = RUN_ATTRIBUTES[c.key];
      if (!attribute) throw invalidParam(field, `unknown run attribute "${c.key}"; expected one of ${Object.keys(RUN_ATTRIBUTES).join(', ')}`);
      const column = sql.ref(`runs.${attribute.column}`);
      if (c.comparator === 'IS NULL') return sql`${column} is null`;
      if (c.comparator === 'IS NOT NULL') return sql`${column} is not null`;
      return attribute.numeric ? numericComparison(column, c, field) : stringComparison(column, c, field);
    }
    case 'dataset': {
      const base = sql`from inputs i join datasets d on d.dataset_uuid = i.source_id where i.source_type = 'DATASET' and i.destination_type = 'RUN' and i.destination_id = runs.run_uuid`;
      if (c.key === 'name' || c.key === 'digest') {
        return sql`exists (select 1 ${base} and ${stringComparison(sql.ref(`d.${c.key}`), c, field)})`;
      }
      if (c.key === 'context') {
        return sql`exists (select 1 ${base} and exists (select 1 from input_tags t where t.input_uuid = i.input_uuid and t.name = 'mlflow.data.context' and ${stringComparison(sql.ref('t.value'), c, field)}))`;
      }
      throw invalidParam(field, `unknown dataset attribute "${c.key}"; expected name, digest or context`);
    }
  }
}

/** What {@link runOrderBy} produces: joins to add after `from runs` and the `order by` list. */
export interface CompiledOrder {
  readonly joins: Sql[];
  readonly orderBy: Sql[];
}

/**
 * The joins and `order by` list of a run search: the given terms, then `start_time DESC` unless
 * already named, then `run_uuid` as the final tie-breaker (MLflow's order).
 */
export function runOrderBy(terms: readonly OrderBy[], field = 'order_by'): CompiledOrder {
  const joins: Sql[] = [];
  const orderBy: Sql[] = [];
  const seen = new Set<string>();
  let orderedByStartTime = false;
  terms.forEach((term, index) => {
    const dir = sql.raw(term.ascending ? 'asc' : 'desc');
    const alias = `o${index}`;
    let identity: string;
    if (term.entity === 'attribute') {
      const attribute = RUN_ATTRIBUTES[term.key];
      if (!attribute) throw invalidParam(field, `unknown run attribute "${term.key}"; expected one of ${Object.keys(RUN_ATTRIBUTES).join(', ')}`);
      identity = `attribute.${attribute.column}`;
      if (attribute.column === 'start_time') orderedByStartTime = true;
      const column = sql.ref(`runs.${attribute.column}`);
      orderBy.push(sql`case when ${column} is null then 1 else 0 end`, sql`${column} ${dir}`);
    } else if (term.entity === 'metric') {
      identity = `metric.${term.key}`;
      joins.push(sql`left join latest_metrics ${sql.raw(alias)} on ${sql.raw(alias)}.run_uuid = runs.run_uuid and ${sql.raw(alias)}.key = ${term.key}`);
      const value = sql.ref(`${alias}.value`);
      orderBy.push(
        sql`case when ${sql.ref(`${alias}.is_nan`)} = 1 then 1 when ${value} is null then 2 else 0 end`,
        sql`${value} ${dir}`,
      );
    } else if (term.entity === 'param' || term.entity === 'tag') {
      identity = `${term.entity}.${term.key}`;
      const table = sql.raw(term.entity === 'param' ? 'params' : 'tags');
      joins.push(sql`left join ${table} ${sql.raw(alias)} on ${sql.raw(alias)}.run_uuid = runs.run_uuid and ${sql.raw(alias)}.key = ${term.key}`);
      const value = sql.ref(`${alias}.value`);
      orderBy.push(sql`case when ${value} is null then 1 else 0 end`, sql`${value} ${dir}`);
    } else {
      throw invalidParam(field, `cannot order runs by ${term.entity}s.${term.key}`);
    }
    if (seen.has(identity)) throw invalidParam(field, `order_by contains duplicate fields: ${identity}`);
    seen.add(identity);
  });
  if (!orderedByStartTime) orderBy.push(sql`runs.start_time desc`);
  orderBy.push(sql`runs.run_uuid asc`);
  return { joins, orderBy };
}

/** The SQL condition on `experiments` for one comparison of an experiment search. */
export function experimentFilterCondition(c: Comparison, field = 'filter'): Sql {
  if (c.entity === 'tag') {
    const exists = (condition: Sql) =>
      sql`exists (select 1 from experiment_tags f where f.experiment_id = experiments.experiment_id and f.key = ${c.key}${condition})`;
    if (c.comparator === 'IS NULL') return sql`not ${exists(sql``)}`;
    if (c.comparator === 'IS NOT NULL') return exists(sql``);
    if (!['=', '!=', 'LIKE', 'ILIKE'].includes(c.comparator)) throw invalidParam(field, `Invalid comparator for tag: ${c.comparator}`);
    return exists(sql` and ${stringComparison(sql.ref('f.value'), c, field)}`);
  }
  if (c.entity === 'attribute') {
    const attribute = EXPERIMENT_ATTRIBUTES[c.key];
    if (!attribute) throw invalidParam(field, `unknown experiment attribute "${c.key}"; expected one of ${Object.keys(EXPERIMENT_ATTRIBUTES).join(', ')}`);
    const column = sql.ref(`experiments.${attribute.column}`);
    if (attribute.numeric) return numericComparison(column, c, field);
    if (!['=', '!=', 'LIKE', 'ILIKE'].includes(c.comparator)) throw invalidParam(field, `Invalid comparator for string attribute: ${c.comparator}`);
    return stringComparison(column, c, field);
  }
  throw invalidParam(field, `experiments cannot be filtered on ${c.entity}s.${c.key}`);
}

/** The `order by` list of an experiment search (MLflow's default: creation_time DESC, experiment_id ASC). */
export function experimentOrderBy(terms: readonly OrderBy[], field = 'order_by'): Sql[] {
  const effective: readonly OrderBy[] =
    terms.length > 0
      ? terms
      : [
          { entity: 'attribute', key: 'creation_time', ascending: false },
          { entity: 'attribute', key: 'experiment_id', ascending: true },
        ];
  const out: Sql[] = [];
  let hasId = false;
  for (const term of effective) {
    const attribute = term.entity === 'attribute' ? EXPERIMENT_ATTRIBUTES[term.key] : undefined;
    if (!attribute) throw invalidParam(field, `Invalid order_by entity: experiments can be ordered by ${Object.keys(EXPERIMENT_ATTRIBUTES).join(', ')}`);
    if (attribute.column === 'experiment_id') hasId = true;
    out.push(sql`${sql.ref(`experiments.${attribute.column}`)} ${sql.raw(term.ascending ? 'asc' : 'desc')}`);
  }
  if (!hasId) out.push(sql`experiments.experiment_id asc`);
  return out;
}
