/**
 * MLflow's search language as pure logic: `filter` strings, `order_by` clauses, page tokens and
 * `max_results`, validated per search kind (runs, experiments, registered models, model versions).
 * Stores compile the typed results to SQL; nothing here does I/O.
 *
 * ```ts
 * const where = parseFilter("metrics.rmse < 0.5 and params.model = 'cnn'", 'runs');
 * // [{ entity: 'metric', key: 'rmse', comparator: '<', valueType: 'number', value: 0.5 },
 * //  { entity: 'param', key: 'model', comparator: '=', valueType: 'string', value: 'cnn' }]
 * const order = parseOrderBy(['metrics.rmse DESC'], 'runs'); // [{ entity: 'metric', key: 'rmse', ascending: false }]
 * const offset = decodePageToken(request.page_token);       // 0 when absent
 * const limit = resolveMaxResults(request.max_results, 'runs');
 * // ... SELECT … LIMIT limit + 1 OFFSET offset, then:
 * const next_page_token = nextPageToken(offset, limit, rows.length);
 * ```
 *
 * Every failure is an `MloopError` `INVALID_PARAMETER_VALUE` naming the request field (`filter`,
 * `order_by[i]`, `page_token`, `max_results`) with MLflow's wording.
 */

/** Filter parsing and the comparison AST. */
export {
  parseFilter,
  type Comparison,
  type NumberComparison,
  type StringComparison,
  type ListComparison,
  type NullComparison,
} from './filter.ts';

/** order_by parsing. */
export { parseOrderBy, parseOrderByClause, type OrderBy } from './order-by.ts';

/** Paging: tokens and max_results. */
export {
  MAX_RESULTS,
  decodePageToken,
  encodePageToken,
  nextPageToken,
  resolveMaxResults,
  type MaxResultsLimit,
} from './page-token.ts';

/** Search kinds, entities, comparators and the per-kind tables. */
export {
  SEARCH_KINDS,
  SEARCH_SPECS,
  NUMERIC_COMPARATORS,
  STRING_COMPARATORS,
  LIST_COMPARATORS,
  NULL_COMPARATORS,
  type AttributeSpec,
  type Comparator,
  type Entity,
  type ListComparator,
  type NullComparator,
  type NumericComparator,
  type OrderByEntity,
  type SearchKind,
  type SearchSpec,
  type StringComparator,
} from './spec.ts';
