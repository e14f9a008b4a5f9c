/**
 * The feature store's operations: apply definitions, resolve feature selections, offline
 * (point-in-time) retrieval, materialization into the online store, online reads with on-demand
 * features, push, consumers and impact analysis, and the training/serving skew check.
 *
 * This class is what other modules call; the work is done in one module per area (`definitions.ts`,
 * `selection.ts`, `online.ts`, `push.ts`, `offline.ts`, `materialize.ts`, `consumers.ts`), over the
 * {@link FeatureStoreContext} they share.
 */
import type { RequestContext } from '../core/context.ts';
import { linkModelVersion, viewImpact, type Consumer } from './consumers.ts';
import { FeatureStoreContext, type FeatureStoreDeps, type Progress } from './context.ts';
import { applyDefinitions, definitionVersions, getDefinition, listDefinitions, type AppliedDefinition } from './definitions.ts';
import type { Definition, DefinitionKind } from './domain.ts';
import { materializeViews, type MaterializeInput, type MaterializeViewResult } from './materialize.ts';
import { checkSkew, retrieveFeatures, type RetrieveInput, type RetrieveResult, type SkewFeature, type SkewInput } from './offline.ts';
import { readOnlineFeatures, type OnlineInput, type OnlineResult } from './online.ts';
import { pushRows, type PushInput, type PushResult } from './push.ts';
import { resolveSelection, type FeatureSelector, type Selection } from './selection.ts';
import { FeatureStoreQueries } from './store.ts';

export type { Consumer } from './consumers.ts';
export type { FeatureDatasets, FeatureStoreDeps, Progress } from './context.ts';
export type { AppliedDefinition } from './definitions.ts';
export type { MaterializeInput, MaterializeViewResult } from './materialize.ts';
export type { RetrieveInput, RetrieveResult, SkewFeature, SkewInput } from './offline.ts';
export { entityKey, onlineTable, onlineWindowTable, type OnlineFeatureValue, type OnlineInput, type OnlineResult, type ValueStatus } from './online.ts';
export type { PushInput, PushResult } from './push.ts';
export type { FeatureSelector, SelectedFeature, Selection } from './selection.ts';

const SELECTION_TTL_MS = 5_000;

/** The feature store. */
export class FeatureStoreService {
  readonly queries = new FeatureStoreQueries();
  readonly #selections = new Map<string, { at: number; selection: Selection }>();
  readonly #env: FeatureStoreContext;

  constructor(readonly deps: FeatureStoreDeps) {
    this.#env = new FeatureStoreContext(deps, this.queries);
  }

  /** Closes the online store when it was opened for this service. */
  async close(): Promise<void> {
    if (this.deps.closeOnline) await this.deps.online.close();
  }

  // ------------------------------------------------------------------ registry

  /** Stores every changed definition of a document as a new version ({@link applyDefinitions}). */
  async apply(ctx: RequestContext, input: string | unknown): Promise<{ results: AppliedDefinition[] }> {
    const applied = await applyDefinitions(this.#env, ctx, input);
    this.#selections.clear();
    return applied;
  }

  /** The current version of every definition (of one kind when given). */
  list(ctx: RequestContext, kind?: DefinitionKind): Promise<Definition[]> {
    return listDefinitions(this.#env, ctx, kind);
  }

  /** One definition: the current version, or `version` (a sha256 or a unique prefix). */
  get(ctx: RequestContext, kind: DefinitionKind, name: string, version?: string): Promise<Definition> {
    return getDefinition(this.#env, ctx, kind, name, version);
  }

  /** Every version of a definition, oldest first. */
  versions(ctx: RequestContext, kind: DefinitionKind, name: string): Promise<Definition[]> {
    return definitionVersions(this.#env, ctx, kind, name);
  }

  // ------------------------------------------------------------------ selections

  /**
   * Resolves a feature service or a feature list into views, on-demand views and output names
   * ({@link resolveSelection}); the answer is kept for a few seconds, and until the next apply.
   */
  async select(ctx: RequestContext, selector: FeatureSelector): Promise<Selection> {
    const cacheKey = `${ctx.project}\u0000${selector.feature_service ?? ''}\u0000${(selector.features ?? []).join(',')}\u0000${selector.full_feature_names ? 1 : 0}`;
    const cached = this.#selections.get(cacheKey);
    const now = Date.now();
    if (cached && now - cached.at < SELECTION_TTL_MS) return cached.selection;
    const selection = await resolveSelection(this.#env, ctx, selector);
    this.#selections.set(cacheKey, { at: now, selection });
    return selection;
  }

  // ------------------------------------------------------------------ online

  /** Reads the latest values of the selected features for each entity row ({@link readOnlineFeatures}). */
  async getOnlineFeatures(ctx: RequestContext, input: OnlineInput): Promise<OnlineResult> {
    return readOnlineFeatures(this.#env, ctx, input, await this.select(ctx, input));
  }

  /** Writes fresh source rows to the online store and/or the view's source dataset ({@link pushRows}). */
  push(ctx: RequestContext, input: PushInput): Promise<PushResult> {
    return pushRows(this.#env, ctx, input);
  }

  // ------------------------------------------------------------------ offline

  /** Point-in-time retrieval saved as a dataset version ({@link retrieveFeatures}). */
  async retrieve(ctx: RequestContext, input: RetrieveInput, onProgress?: (p: Progress) => void): Promise<RetrieveResult> {
    return retrieveFeatures(this.#env, ctx, input, await this.select(ctx, input), onProgress);
  }

  // ------------------------------------------------------------------ materialization

  /** Writes the latest values of each view as of `end` into the online store ({@link materializeViews}). */
  materialize(ctx: RequestContext, input: MaterializeInput, onProgress?: (p: Progress) => void): Promise<{ views: MaterializeViewResult[] }> {
    return materializeViews(this.#env, ctx, input, onProgress);
  }

  // ------------------------------------------------------------------ consumers and impact

  /** Records that a model version consumes a feature service (its current version); for the training step. */
  linkModelVersion(ctx: RequestContext, input: { model: string; version: string | number; feature_service: string }): Promise<{ feature_service: { name: string; version: string }; model_version: string }> {
    return linkModelVersion(this.#env, ctx, input);
  }

  /** Everything downstream of any version of feature view `name`: services, on-demand views, models, deployments, training sets. */
  impact(ctx: RequestContext, name: string): Promise<{ feature_view: string; versions: string[]; consumers: Consumer[] }> {
    return viewImpact(this.#env, ctx, name);
  }

  // ------------------------------------------------------------------ skew

  /** Compares feature values that serving logged with an offline recomputation ({@link checkSkew}). */
  async skew(ctx: RequestContext, input: SkewInput): Promise<{ rows: number; features: SkewFeature[] }> {
    return checkSkew(this.#env, ctx, input, await this.select(ctx, input));
  }
}
