/**
 * The online store as the feature store lays it out (a table of row-level values and one of window
 * values per view, keyed by entity), and online reads with on-demand features.
 */
import type { RequestContext } from '../core/context.ts';
import type { OnlineRecord, OnlineValue } from '../storage/ports.ts';
import type { FeatureStoreContext } from './context.ts';
import type { ExprValue } from './expr.ts';
import { checkEntityColumns, coerce } from './request-values.ts';
import type { FeatureSelector, Selection } from './selection.ts';

/** Status of one online value. */
export type ValueStatus = 'PRESENT' | 'NOT_FOUND' | 'OUTSIDE_MAX_AGE';

/** Input of {@link FeatureStoreService.getOnlineFeatures}. */
export interface OnlineInput extends FeatureSelector {
  /** Entity keys and request fields as columns: `{ driver_id: [1001, 1002], val_to_add: [1, 2] }`. */
  readonly entities: Readonly<Record<string, readonly unknown[]>>;
}

/** One value of an online answer. */
export interface OnlineFeatureValue {
  readonly value: OnlineValue;
  readonly status: ValueStatus;
  /** Event time of the value (ISO 8601), or null when there is none. */
  readonly event_timestamp: string | null;
}

/** The answer of an online read: per entity row, the values of every selected feature. */
export interface OnlineResult {
  readonly feature_names: readonly string[];
  readonly entity_names: readonly string[];
  readonly rows: readonly { readonly entity: Record<string, unknown>; readonly features: Record<string, OnlineFeatureValue> }[];
}

/** The online-store table of a view's row-level features, each record stamped with its source row's event time. */
export function onlineTable(project: string, view: string): string {
  return `${project}/${view}`;
}

/**
 * The online-store table of a view's window features, each record stamped with the end of the run
 * that computed it. Apart from the row-level table so that neither replaces the other's values or
 * time. No view name holds `#`, so this never names another view's table.
 */
export function onlineWindowTable(project: string, view: string): string {
  return `${project}/${view}#windows`;
}

/** The online-store key of an entity: its join-key values as a JSON array. */
export function entityKey(values: readonly unknown[]): string {
  return JSON.stringify(values);
}

/** Reads the latest values of the selected features for each entity row, computing on-demand features. */
export async function readOnlineFeatures(env: FeatureStoreContext, ctx: RequestContext, input: OnlineInput, selection: Selection): Promise<OnlineResult> {
  const { rows, columns } = checkEntityColumns(input.entities, selection.keys, selection.requestFields);
  const now = env.deps.clock.now();
  const results = Array.from({ length: rows }, (_, r) => ({
    entity: Object.fromEntries(columns.map((c) => [c, input.entities[c][r]])) as Record<string, unknown>,
    features: {} as Record<string, OnlineFeatureValue>,
  }));
  // Values of every feature read, by plain name, for on-demand expressions.
  const inputs: Record<string, ExprValue>[] = selection.onDemand.length > 0 ? Array.from({ length: rows }, () => ({})) : [];
  const outputOf = new Map(selection.outputs.filter((o) => !o.onDemand).map((o) => [`${o.view}:${o.feature}`, o.output]));
  const put = (r: number, view: string, f: string, record: OnlineRecord | undefined, stale: boolean) => {
    const present = record !== undefined && f in record.values;
    const value = present && !stale ? record.values[f] : null;
    if (inputs.length > 0) inputs[r][f] = value;
    const output = outputOf.get(`${view}:${f}`);
    if (output === undefined) return;
    results[r].features[output] = {
      value,
      status: !present ? 'NOT_FOUND' : stale ? 'OUTSIDE_MAX_AGE' : 'PRESENT',
      event_timestamp: present ? new Date(record.eventTime).toISOString() : null,
    };
  };
  await Promise.all(
    [...selection.views.values()].map(async ({ resolved, features }) => {
      const keys = Array.from({ length: rows }, (_, r) => entityKey(resolved.keys.map((k) => input.entities[k.name][r])));
      const windowNames = new Set(resolved.windowFeatures.map((w) => w.spec.name));
      const rowWanted = features.filter((f) => !windowNames.has(f));
      const windowWanted = features.filter((f) => windowNames.has(f));
      const [rowRecords, windowRecords] = await Promise.all([
        rowWanted.length > 0 ? env.deps.online.read(onlineTable(ctx.project, resolved.name), keys) : [],
        windowWanted.length > 0 ? env.deps.online.read(onlineWindowTable(ctx.project, resolved.name), keys) : [],
      ]);
      for (let r = 0; r < rows; r++) {
        // A row-level value is as old as its source row: past the TTL it is not served, as offline retrieval would not.
        const record = rowRecords[r];
        const stale = record !== undefined && resolved.ttlMs > 0 && now - record.eventTime > resolved.ttlMs;
        for (const f of rowWanted) put(r, resolved.name, f, record, stale);
        // Window values hold as of the run that computed them; offline retrieval applies no TTL to them either.
        for (const f of windowWanted) put(r, resolved.name, f, windowRecords[r], false);
      }
    }),
  );
  for (const od of selection.onDemand) {
    for (let r = 0; r < rows; r++) {
      const row = inputs[r];
      // As the types declare, like offline retrieval's entity rows: a timestamp sent as ISO text is epoch milliseconds.
      for (const field of od.spec.request) row[field.name] = coerce(input.entities[field.name]?.[r], field.type, `entities.${field.name}[${r}]`);
      for (const f of od.features) results[r].features[f.output] = { value: f.expr.fn(row), status: 'PRESENT', event_timestamp: null };
    }
  }
  return { feature_names: selection.outputs.map((o) => o.output), entity_names: columns, rows: results };
}
