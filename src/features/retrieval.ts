/**
 * Point-in-time retrieval in DuckDB SQL. For each entity row (keys, event time t) and each feature
 * view: the latest source row of that entity with event time ≤ t, kept only when it is not older than
 * the view's TTL — never a row from the future. Built on ASOF JOIN; ties in event time are broken by
 * file order (the later row wins). Window features aggregate the rows in (t − W, t] or the last N rows
 * ≤ t (see `windows.ts`); on-demand features are computed over the joined row with the same
 * compiled expressions the online path evaluates in TypeScript.
 */
import type { CompiledExpr } from './expr.ts';
import { sqlIdent, toSql } from './expr.ts';
import type { ResolvedView } from './domain.ts';

/** A feature view to join, with its source relation and the features wanted from it. */
export interface RetrievalView {
  readonly view: ResolvedView;
  /**
   * A DuckDB relation of the source rows exposing the view's columns and `file_row_number` (file
   * order, for ties) — e.g. `read_parquet('x.parquet', file_row_number=true)`.
   */
  readonly from: string;
  /** Names of the features wanted (row-level and window). */
  readonly features: readonly string[];
  /**
   * True when no two source rows share join keys and event time (see {@link tieCheckSql}): the join
   * then skips tie-breaking, which costs a grouping of the whole source.
   */
  readonly unique?: boolean;
}

/** A query answering one row `{ ties }`: how many (keys, event time) pairs of the source occur more than once. */
export function tieCheckSql(view: ResolvedView, from: string): string {
  const cols = [...view.keys.map((k) => sqlIdent(k.name)), sqlIdent(view.spec.source.timestamp)].join(', ');
  return `SELECT count(*) AS ties FROM (SELECT ${cols} FROM ${from} GROUP BY ALL HAVING count(*) > 1)`;
}

/** An on-demand feature to compute over the joined row. */
export interface RetrievalOnDemand {
  readonly name: string;
  /** Compiled against the source features (by name) and the request fields (entity columns). */
  readonly expr: CompiledExpr;
}

/** What {@link retrievalSql} builds from. */
export interface RetrievalPlan {
  /** A relation of entity rows with a unique `__rid` column, the join keys and the timestamp column. */
  readonly entity: string;
  /** Name of the event-timestamp column of the entity rows. */
  readonly timestamp: string;
  /** Columns of the entity relation to return (keys, timestamp, labels...), in order. */
  readonly entityColumns: readonly string[];
  readonly views: readonly RetrievalView[];
  readonly onDemand?: readonly RetrievalOnDemand[];
  /** Output column name of a feature (default: the feature name). */
  readonly outputName?: (view: string, feature: string) => string;
}

const q = sqlIdent;

function keyCast(type: 'int' | 'string'): string {
  return type === 'int' ? 'BIGINT' : 'VARCHAR';
}

/**
 * The SQL of a point-in-time retrieval: `__rid`, the entity columns, then the features, ordered by
 * `__rid` — or in no particular order with `ordered: false`, for a caller that orders the rows itself
 * (a second sort of the same rows would cost as much as the first).
 */
export function retrievalSql(plan: RetrievalPlan, options: { ordered?: boolean } = {}): string {
  const out = plan.outputName ?? ((_v: string, f: string) => f);
  const ts = q(plan.timestamp);
  // Event times are compared as TIMESTAMPTZ, which datasets hold (the session time zone is UTC):
  // casting them to TIMESTAMP would convert every row of every source through ICU.
  const ctes: string[] = [`e AS (SELECT * REPLACE (CAST(${ts} AS TIMESTAMPTZ) AS ${ts}) FROM ${plan.entity})`];
  const joins: string[] = [];
  const structCols: string[] = [];
  const featureCols: string[] = [];
  const windowJoins: string[] = [];
  // Features by plain name, for on-demand expressions.
  const byName = new Map<string, string>();

  plan.views.forEach((rv, i) => {
    const v = rv.view;
    const wanted = new Set(rv.features);
    const rows = v.rowFeatures.filter((f) => wanted.has(f.spec.name));
    const windows = v.windowFeatures.filter((f) => wanted.has(f.spec.name));
    const keys = v.keys.map((k) => `CAST(${q(k.name)} AS ${keyCast(k.type)}) AS ${q(k.name)}`).join(', ');
    const srcTs = `CAST(${q(v.spec.source.timestamp)} AS TIMESTAMPTZ)`;
    if (rows.length > 0 && rv.unique) {
      // No two source rows share keys and event time: join the rows themselves, no tie-breaking needed.
      const needed = [...new Set(rows.flatMap((f) => f.expr.columns))].filter((c) => !v.keys.some((k) => k.name === c));
      const alias = (c: string) => `__s${i}_${c}`;
      ctes.push(
        `v${i} AS (SELECT ${keys.length ? `${keys}, ` : ''}${srcTs} AS __ts${needed.map((c) => `, ${q(c)} AS ${q(alias(c))}`).join('')} FROM ${rv.from} WHERE ${srcTs} IS NOT NULL)`,
      );
      const on = v.keys.map((k) => `CAST(e.${q(k.name)} AS ${keyCast(k.type)}) = v${i}.${q(k.name)}`).join(' AND ');
      joins.push(`ASOF LEFT JOIN v${i} ON ${on} AND e.${ts} >= v${i}.__ts`);
      const fresh = v.ttlMs > 0 ? ` AND ${notOlderThan(`v${i}.__ts`, `e.${ts}`, v.ttlMs)}` : '';
      structCols.push(`(v${i}.__ts IS NOT NULL${fresh}) AS __ok${i}`, ...needed.map((c) => `v${i}.${q(alias(c))}`));
      for (const f of rows) {
        const keyed = new Map(v.keys.map((k) => [k.name, `j.${q(k.name)}`]));
        const sql = toSql(f.expr, (c) => keyed.get(c) ?? `j.${q(alias(c))}`);
        const col = `CASE WHEN j.__ok${i} THEN ${sql} END`;
        featureCols.push(`${col} AS ${q(out(v.name, f.spec.name))}`);
        byName.set(f.spec.name, col);
      }
    } else if (rows.length > 0) {
      // Ties in (keys, event time) are broken by file order: the later row wins.
      const struct = rows.map((f) => `${sqlStringKey(f.spec.name)}: ${f.expr.sql}`).join(', ');
      ctes.push(
        `v${i} AS (SELECT ${v.keys.map((k) => q(k.name)).join(', ')}, __ts, arg_max({${struct}}, __seq) AS __v ` +
          `FROM (SELECT *, ${keys.length ? `${keys}, ` : ''}${srcTs} AS __ts, file_row_number AS __seq FROM ${rv.from}) ` +
          `WHERE __ts IS NOT NULL GROUP BY ALL)`,
      );
      const on = v.keys.map((k) => `CAST(e.${q(k.name)} AS ${keyCast(k.type)}) = v${i}.${q(k.name)}`).join(' AND ');
      joins.push(`ASOF LEFT JOIN v${i} ON ${on} AND e.${ts} >= v${i}.__ts`);
      const fresh = v.ttlMs > 0 ? ` AND ${notOlderThan(`v${i}.__ts`, `e.${ts}`, v.ttlMs)}` : '';
      structCols.push(`CASE WHEN v${i}.__ts IS NOT NULL${fresh} THEN v${i}.__v END AS __v${i}`);
      for (const f of rows) {
        const col = `struct_extract(j.__v${i}, ${sqlStringKey(f.spec.name)})`;
        featureCols.push(`${col} AS ${q(out(v.name, f.spec.name))}`);
        byName.set(f.spec.name, col);
      }
    }
    if (windows.length > 0) {
      ctes.push(...windowCtes(v, windows, rv.from, i, plan.timestamp));
      for (const w of windows) {
        const col = `w${i}.${q(w.spec.name)}`;
        const value = w.agg.fn === 'count' ? `coalesce(${col}, 0)` : col;
        featureCols.push(`${value} AS ${q(out(v.name, w.spec.name))}`);
        byName.set(w.spec.name, value);
      }
      windowJoins.push(`LEFT JOIN w${i} ON w${i}.__rid = j.__rid`);
    }
  });

  const entityCols = plan.entityColumns.map((c) => `j.${q(c)}`);
  const onDemandCols = (plan.onDemand ?? []).map((od) => `${od.expr.sql} AS ${q(od.name)}`);
  const inner =
    `SELECT j.__rid, ${[...entityCols, ...featureCols].join(', ')} ` +
    `FROM (SELECT e.*${structCols.length ? `, ${structCols.join(', ')}` : ''} FROM e ${joins.join(' ')}) j ${windowJoins.join(' ')}`;
  const select = onDemandCols.length > 0 ? `SELECT *, ${onDemandCols.join(', ')} FROM (${inner})` : inner;
  return `WITH ${ctes.join(',\n')}\n${select}${options.ordered === false ? '' : '\nORDER BY __rid'}`;
}

/** SQL true when time `value` is at most `ttlMs` before time `at` (in whole microseconds, no calendar). */
function notOlderThan(value: string, at: string, ttlMs: number): string {
  return `epoch_us(${value}) >= epoch_us(${at}) - ${Math.round(ttlMs) * 1000}`;
}

function sqlStringKey(name: string): string {
  return `'${name.replaceAll("'", "''")}'`;
}

/**
 * The SQL of one window aggregate over `arg`, counting only rows where `filter` holds. Sums and means
 * add in event-time order (`__t`, then file order `__seq`), as `windows.ts` does: floating-point
 * addition is not associative, so any other order can differ in the last bits. A mean is that sum
 * over the count, as there.
 */
function aggSql(fn: string, arg: string, filter: string, order: string): string {
  const where = ` FILTER (WHERE ${filter})`;
  const sum = `sum(CAST(${arg} AS DOUBLE) ORDER BY ${order})${where}`;
  switch (fn) {
    case 'count':
      return `count(${arg})${where}`;
    case 'sum':
      return sum;
    case 'mean':
      return `(${sum} / count(${arg})${where})`;
    default:
      return `${fn}(${arg})${where}`;
  }
}

function windowCtes(v: ResolvedView, windows: ResolvedView['windowFeatures'], from: string, i: number, timestamp: string): string[] {
  const ts = q(timestamp);
  const keys = v.keys.map((k) => `CAST(${q(k.name)} AS ${keyCast(k.type)}) AS ${q(k.name)}`).join(', ');
  const args = windows.map((w, n) => `${w.expr ? w.expr.sql : 'NULL'} AS __a${n}`).join(', ');
  const src = `(SELECT ${keys}, epoch_ms(CAST(${q(v.spec.source.timestamp)} AS TIMESTAMPTZ)) AS __t, file_row_number AS __seq, ${args} FROM ${from})`;
  const on = v.keys.map((k) => `CAST(e.${q(k.name)} AS ${keyCast(k.type)}) = s.${q(k.name)}`).join(' AND ');
  const arg = (n: number, w: ResolvedView['windowFeatures'][number]) => (w.expr ? `__a${n}` : '__seq');
  const timed = windows.map((w, n) => ({ w, n })).filter((x) => x.w.agg.window !== undefined);
  const counted = windows.map((w, n) => ({ w, n })).filter((x) => x.w.agg.last !== undefined);
  const parts: string[] = [];
  const selects: string[] = [];
  if (timed.length > 0) {
    const maxW = Math.max(...timed.map((x) => x.w.agg.window!));
    const aggs = timed.map(
      ({ w, n }) => `${aggSql(w.agg.fn, `s.${arg(n, w)}`, `s.__t > e.__t - ${w.agg.window}`, 's.__t, s.__seq')} AS ${q(w.spec.name)}`,
    );
    parts.push(
      `wt${i} AS (SELECT e.__rid, ${aggs.join(', ')} FROM (SELECT *, epoch_ms(${ts}) AS __t FROM e) e ` +
        `LEFT JOIN ${src} s ON ${on} AND s.__t <= e.__t AND s.__t > e.__t - ${maxW} GROUP BY e.__rid)`,
    );
    selects.push(...timed.map(({ w }) => `wt${i}.${q(w.spec.name)}`));
  }
  if (counted.length > 0) {
    const maxN = Math.max(...counted.map((x) => x.w.agg.last!));
    const aggs = counted.map(({ w, n }) => `${aggSql(w.agg.fn, arg(n, w), `__rn <= ${w.agg.last}`, '__t, __seq')} AS ${q(w.spec.name)}`);
    parts.push(
      `wn${i} AS (SELECT __rid, ${aggs.join(', ')} FROM (` +
        `SELECT e.__rid, s.*, row_number() OVER (PARTITION BY e.__rid ORDER BY s.__t DESC, s.__seq DESC) AS __rn ` +
        `FROM (SELECT *, epoch_ms(${ts}) AS __t FROM e) e JOIN ${src} s ON ${on} AND s.__t <= e.__t QUALIFY __rn <= ${maxN}) GROUP BY __rid)`,
    );
    selects.push(...counted.map(({ w }) => `wn${i}.${q(w.spec.name)}`));
  }
  const joined = [
    timed.length > 0 ? `LEFT JOIN wt${i} ON wt${i}.__rid = e.__rid` : '',
    counted.length > 0 ? `LEFT JOIN wn${i} ON wn${i}.__rid = e.__rid` : '',
  ].join(' ');
  parts.push(`w${i} AS (SELECT e.__rid, ${selects.join(', ')} FROM e ${joined})`);
  return parts;
}
