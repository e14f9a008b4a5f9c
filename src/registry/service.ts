/** Model registry: registered models, versions, tags, aliases, stages — MLflow's semantics. */
import type { Clock } from '../core/clock.ts';
import type { RequestContext } from '../core/context.ts';
import { alreadyExists, invalidParam, notFound } from '../core/errors.ts';
import { joinKey } from '../core/paths.ts';
import { decodePageToken, nextPageToken, parseFilter, parseOrderBy, resolveMaxResults } from '../core/search/index.ts';
import type { MetadataStore } from '../storage/ports.ts';
import { artifactUriToKey, keyIsWithin, keyToArtifactUri } from '../tracking/artifacts.ts';
import type { TrackingService } from '../tracking/service.ts';
import {
  ACTIVE_STAGES,
  LIMITS,
  STAGES,
  canonicalStage,
  checkLength,
  parseModelSource,
  parseVersion,
  validateAlias,
  validateModelName,
  validateTag,
  validateTags,
  type ModelVersion,
  type RegisteredModel,
  type RegistryTag,
  type Stage,
} from './domain.ts';
import { RegistryStore, versionKey, type Db, type ModelRow, type VersionRow } from './store.ts';

/** What {@link RegistryService} needs. */
export interface RegistryDeps {
  readonly metadata: MetadataStore;
  readonly clock: Clock;
  /** Used to resolve `runs:/` sources and check runs exist. */
  readonly tracking: TrackingService;
  /** Told when versions go away or change name, so that what other modules recorded about them follows. */
  readonly versionListeners?: readonly ModelVersionListener[];
}

/**
 * What another module does when a model version it recorded something about (a dataset dependent,
 * say) is deleted or its model renamed. Listeners run one after the other once the change is
 * committed; an error fails the request but the change stays made, so a listener must be idempotent
 * and let pass what is already gone.
 */
export interface ModelVersionListener {
  /** `version` was deleted, on its own or with its model. */
  deleted?(ctx: RequestContext, version: ModelVersion): Promise<void>;
  /** The model of `version` (shown under its new name) was called `previousName` until now. */
  renamed?(ctx: RequestContext, version: ModelVersion, previousName: string): Promise<void>;
}

/** Input of {@link RegistryService.createModelVersion}. */
export interface CreateModelVersionInput {
  readonly name: string;
  readonly source: string;
  readonly run_id?: string;
  readonly tags?: readonly RegistryTag[];
  readonly run_link?: string;
  readonly description?: string;
}

/** Input of the two searches (MLflow's request fields, unparsed). */
export interface SearchInput {
  readonly filter?: string;
  readonly max_results?: unknown;
  readonly order_by?: readonly string[];
  readonly page_token?: string;
}

/** A page of search results. */
export interface Page<T> {
  readonly items: T[];
  readonly next_page_token?: string;
}

/** The registry module's operations. */
export class RegistryService {
  readonly store: RegistryStore;

  constructor(readonly deps: RegistryDeps) {
    this.store = new RegistryStore(deps.metadata.dialect);
  }

  get #db(): Db {
    return this.deps.metadata.db;
  }

  // ---- registered models ----

  /** Creates a registered model; RESOURCE_ALREADY_EXISTS when the name is taken in the project. */
  async createRegisteredModel(
    ctx: RequestContext,
    input: { name: string; description?: string; tags?: readonly RegistryTag[] },
  ): Promise<RegisteredModel> {
    const name = validateModelName(input.name);
    const description = checkLength(input.description, 'description', LIMITS.description) ?? null;
    const tags = validateTags(input.tags ?? []);
    const now = this.deps.clock.now();
    try {
      const row = await this.deps.metadata.transaction(async (trx) => {
        if (!(await this.store.projectExists(trx, ctx.project))) throw notFound(`project "${ctx.project}" does not exist`);
        const created = await this.store.insertModel(trx, ctx.project, name, description, now);
        await this.store.setModelTags(trx, created.id, tags);
        return created;
      });
      return (await this.#models(this.#db, [row]))[0];
    } catch (error) {
      if (this.deps.metadata.isUniqueViolation(error)) throw alreadyExists(`Registered Model (name=${name}) already exists.`);
      throw error;
    }
  }

  /** The registered model `name`, with its latest version per stage, tags and aliases. */
  async getRegisteredModel(ctx: RequestContext, name: string): Promise<RegisteredModel> {
    const row = await this.#model(this.#db, ctx, name);
    return (await this.#models(this.#db, [row]))[0];
  }

  /**
   * Renames a model; its versions, tags and aliases follow (they hang off the surrogate id). Version
   * listeners hear of each version once the rename is committed.
   */
  async renameRegisteredModel(ctx: RequestContext, name: string, newName: string): Promise<RegisteredModel> {
    validateModelName(name);
    validateModelName(newName, 'new_name');
    const now = this.deps.clock.now();
    let row: ModelRow;
    try {
      row = await this.deps.metadata.transaction(async (trx) => {
        const model = await this.#model(trx, ctx, name);
        await this.store.updateModel(trx, model.id, { name: newName, last_updated_time: now });
        await this.store.touchVersions(trx, model.id, now);
        return { ...model, name: newName, last_updated_time: now };
      });
    } catch (error) {
      if (this.deps.metadata.isUniqueViolation(error)) throw alreadyExists(`Registered Model (name=${newName}) already exists.`);
      throw error;
    }
    if (this.#listening('renamed')) {
      const versions = await this.#versions(this.#db, newName, await this.store.versions(this.#db, row.id));
      for (const version of versions) for (const l of this.deps.versionListeners!) await l.renamed?.(ctx, version, name);
    }
    return (await this.#models(this.#db, [row]))[0];
  }

  /** Sets (or, given undefined, clears) a model's description. */
  async updateRegisteredModel(ctx: RequestContext, name: string, description: string | undefined): Promise<RegisteredModel> {
    checkLength(description, 'description', LIMITS.description);
    const now = this.deps.clock.now();
    const row = await this.deps.metadata.transaction(async (trx) => {
      const model = await this.#model(trx, ctx, name);
      await this.store.updateModel(trx, model.id, { description: description ?? null, last_updated_time: now });
      return { ...model, description: description ?? null, last_updated_time: now };
    });
    return (await this.#models(this.#db, [row]))[0];
  }

  /** Deletes a model with all its versions, tags and aliases; version listeners hear of each version. */
  async deleteRegisteredModel(ctx: RequestContext, name: string): Promise<void> {
    const deleted = await this.deps.metadata.transaction(async (trx) => {
      const model = await this.#model(trx, ctx, name);
      const versions = this.#listening('deleted') ? await this.#versions(trx, model.name, await this.store.versions(trx, model.id)) : [];
      await this.store.deleteModel(trx, model.id);
      return versions;
    });
    await this.#tellDeleted(ctx, deleted);
  }

  /** MLflow's `registered-models/search`: filter on name and tags, order by name or last update, paged. */
  async searchRegisteredModels(ctx: RequestContext, input: SearchInput): Promise<Page<RegisteredModel>> {
    const where = parseFilter(input.filter, 'registered_models');
    const orderBy = parseOrderBy(input.order_by, 'registered_models');
    const limit = resolveMaxResults(input.max_results, 'registered_models');
    const offset = decodePageToken(input.page_token);
    const rows = await this.store.searchModels(this.#db, ctx.project, where, orderBy, offset, limit + 1);
    const items = await this.#models(this.#db, rows.slice(0, limit));
    return { items, next_page_token: nextPageToken(offset, limit, rows.length) };
  }

  /** Sets a tag on a model (replacing its value). */
  async setRegisteredModelTag(ctx: RequestContext, name: string, key: string, value: string): Promise<void> {
    const tag = validateTag(key, value);
    await this.deps.metadata.transaction(async (trx) => {
      const model = await this.#model(trx, ctx, name);
      await this.store.setModelTags(trx, model.id, [tag]);
    });
  }

  /** Deletes a tag of a model; a tag that is not there is not an error (as in MLflow). */
  async deleteRegisteredModelTag(ctx: RequestContext, name: string, key: string): Promise<void> {
    validateTag(key, '');
    await this.deps.metadata.transaction(async (trx) => {
      const model = await this.#model(trx, ctx, name);
      await this.store.deleteModelTag(trx, model.id, key);
    });
  }

  /** The latest version in each of `stages` (every stage when empty), as MLflow's `get-latest-versions`. */
  async getLatestVersions(ctx: RequestContext, name: string, stages: readonly string[] = []): Promise<ModelVersion[]> {
    const wanted = new Set<Stage>(stages.length === 0 ? STAGES : stages.map((s, i) => canonicalStage(s, `stages[${i}]`)));
    const model = await this.#model(this.#db, ctx, name);
    const latest = await this.store.latestVersions(this.#db, [model.id]);
    return this.#versions(this.#db, model.name, latest.filter((v) => wanted.has(v.current_stage as Stage)));
  }

  // ---- aliases ----

  /** Points `alias` at `version` (moving it if it pointed elsewhere); returns that version. */
  async setAlias(ctx: RequestContext, name: string, alias: string, version: string | number): Promise<ModelVersion> {
    validateAlias(alias);
    const number = parseVersion(version);
    const now = this.deps.clock.now();
    const row = await this.deps.metadata.transaction(async (trx) => {
      const model = await this.#model(trx, ctx, name);
      const target = await this.#version(trx, model, number);
      await this.store.setAlias(trx, model.id, alias, number);
      await this.store.updateModel(trx, model.id, { last_updated_time: now });
      return target;
    });
    return (await this.#versions(this.#db, name, [row]))[0];
  }

  /** Removes `alias`; an alias that is not there is not an error (as in MLflow). */
  async deleteAlias(ctx: RequestContext, name: string, alias: string): Promise<void> {
    validateAlias(alias);
    const now = this.deps.clock.now();
    await this.deps.metadata.transaction(async (trx) => {
      const model = await this.#model(trx, ctx, name);
      if (await this.store.deleteAlias(trx, model.id, alias)) await this.store.updateModel(trx, model.id, { last_updated_time: now });
    });
  }

  /** The version `alias` points at. */
  async getModelVersionByAlias(ctx: RequestContext, name: string, alias: string): Promise<ModelVersion> {
    validateAlias(alias);
    const model = await this.#model(this.#db, ctx, name);
    const number = await this.store.aliasTarget(this.#db, model.id, alias);
    if (number === undefined) throw notFound(`Registered model alias ${alias} not found.`);
    const row = await this.#version(this.#db, model, number);
    return (await this.#versions(this.#db, model.name, [row]))[0];
  }

  // ---- model versions ----

  /**
   * Registers a new version of model `name` from `source` (see {@link parseModelSource}). Versions
   * number 1, 2, 3… per model and are never reused, even after a delete.
   */
  async createModelVersion(ctx: RequestContext, input: CreateModelVersionInput): Promise<ModelVersion> {
    const name = validateModelName(input.name);
    const tags = validateTags(input.tags ?? []);
    const description = checkLength(input.description, 'description', LIMITS.description) ?? null;
    const runLink = checkLength(input.run_link, 'run_link', LIMITS.runLink);
    const { runId, storageLocation } = await this.#resolveSource(ctx, input.source, input.run_id);
    const now = this.deps.clock.now();
    const row = await this.deps.metadata.transaction(async (trx) => {
      const model = await this.#model(trx, ctx, name);
      const version = await this.store.nextVersion(trx, model.id, now);
      const created: VersionRow = {
        model_id: model.id,
        version,
        description,
        user_id: ctx.actor.name,
        current_stage: 'None',
        source: input.source,
        storage_location: storageLocation,
        run_id: runId ?? null,
        run_link: runLink === undefined || runLink === '' ? null : runLink,
        status: 'READY',
        status_message: null,
        creation_time: now,
        last_updated_time: now,
      };
      await this.store.insertVersion(trx, created);
      await this.store.setVersionTags(trx, model.id, version, tags);
      return created;
    });
    return (await this.#versions(this.#db, name, [row]))[0];
  }

  /** Version `version` of model `name`. */
  async getModelVersion(ctx: RequestContext, name: string, version: string | number): Promise<ModelVersion> {
    const number = parseVersion(version);
    const model = await this.#model(this.#db, ctx, name);
    const row = await this.#version(this.#db, model, number);
    return (await this.#versions(this.#db, model.name, [row]))[0];
  }

  /** Every version of model `name`, newest first. */
  async listModelVersions(ctx: RequestContext, name: string): Promise<ModelVersion[]> {
    const model = await this.#model(this.#db, ctx, name);
    return this.#versions(this.#db, model.name, await this.store.versions(this.#db, model.id));
  }

  /** Sets (or, given undefined, clears) a version's description. */
  async updateModelVersion(ctx: RequestContext, name: string, version: string | number, description: string | undefined): Promise<ModelVersion> {
    const number = parseVersion(version);
    checkLength(description, 'description', LIMITS.description);
    const now = this.deps.clock.now();
    const row = await this.deps.metadata.transaction(async (trx) => {
      const model = await this.#model(trx, ctx, name);
      const existing = await this.#version(trx, model, number);
      await this.store.updateVersion(trx, model.id, number, { description: description ?? null, last_updated_time: now });
      return { ...existing, description: description ?? null, last_updated_time: now };
    });
    return (await this.#versions(this.#db, name, [row]))[0];
  }

  /**
   * Deletes a version; aliases that pointed at it are removed, its number is never reused. Version
   * listeners hear of it once it is gone.
   */
  async deleteModelVersion(ctx: RequestContext, name: string, version: string | number): Promise<void> {
    const number = parseVersion(version);
    const now = this.deps.clock.now();
    const deleted = await this.deps.metadata.transaction(async (trx) => {
      const model = await this.#model(trx, ctx, name);
      const row = await this.#version(trx, model, number);
      // Rendered before its tags go, so that listeners see what was recorded on it.
      const rendered = this.#listening('deleted') ? await this.#versions(trx, model.name, [row]) : [];
      await this.store.deleteVersion(trx, model.id, number);
      await this.store.updateModel(trx, model.id, { last_updated_time: now });
      return rendered;
    });
    await this.#tellDeleted(ctx, deleted);
  }

  /** MLflow's `model-versions/search`: filter on name, run_id, version_number, source_path and tags. */
  async searchModelVersions(ctx: RequestContext, input: SearchInput): Promise<Page<ModelVersion>> {
    const where = parseFilter(input.filter, 'model_versions');
    const orderBy = parseOrderBy(input.order_by, 'model_versions');
    const limit = resolveMaxResults(input.max_results, 'model_versions');
    const offset = decodePageToken(input.page_token);
    const rows = await this.store.searchVersions(this.#db, ctx.project, where, orderBy, offset, limit + 1);
    const page = rows.slice(0, limit);
    const items = await this.#renderVersions(
      this.#db,
      page.map((r) => r.model_id),
      page.map((r) => ({ name: r.name, row: r })),
    );
    return { items, next_page_token: nextPageToken(offset, limit, rows.length) };
  }

  /** Sets a tag on a version (replacing its value). */
  async setModelVersionTag(ctx: RequestContext, name: string, version: string | number, key: string, value: string): Promise<void> {
    const number = parseVersion(version);
    const tag = validateTag(key, value);
    await this.deps.metadata.transaction(async (trx) => {
      const model = await this.#model(trx, ctx, name);
      await this.#version(trx, model, number);
      await this.store.setVersionTags(trx, model.id, number, [tag]);
    });
  }

  /** Deletes a tag of a version; a tag that is not there is not an error (as in MLflow). */
  async deleteModelVersionTag(ctx: RequestContext, name: string, version: string | number, key: string): Promise<void> {
    const number = parseVersion(version);
    validateTag(key, '');
    await this.deps.metadata.transaction(async (trx) => {
      const model = await this.#model(trx, ctx, name);
      await this.#version(trx, model, number);
      await this.store.deleteVersionTag(trx, model.id, number, key);
    });
  }

  /**
   * Moves a version to `stage`. With `archiveExisting`, the other versions in that stage move to
   * Archived in the same transaction (only for Staging and Production, as in MLflow).
   */
  async transitionStage(ctx: RequestContext, name: string, version: string | number, stage: string, archiveExisting: boolean): Promise<ModelVersion> {
    const number = parseVersion(version);
    const target = canonicalStage(stage);
    if (archiveExisting && !ACTIVE_STAGES.includes(target)) {
      throw invalidParam(
        'archive_existing_versions',
        `Model version transition cannot archive existing model versions because '${stage}' is not an Active stage. Valid stages are ${ACTIVE_STAGES.join(', ')}`,
      );
    }
    const now = this.deps.clock.now();
    const row = await this.deps.metadata.transaction(async (trx) => {
      const model = await this.#model(trx, ctx, name);
      const existing = await this.#version(trx, model, number);
      if (archiveExisting) await this.store.archiveStage(trx, model.id, target, number, now);
      await this.store.updateVersion(trx, model.id, number, { current_stage: target, last_updated_time: now });
      await this.store.updateModel(trx, model.id, { last_updated_time: now });
      return { ...existing, current_stage: target, last_updated_time: now };
    });
    return (await this.#versions(this.#db, name, [row]))[0];
  }

  /** Where a version's files are: its `mlflow-artifacts:` storage location. */
  async getDownloadUri(ctx: RequestContext, name: string, version: string | number): Promise<string> {
    const number = parseVersion(version);
    const model = await this.#model(this.#db, ctx, name);
    return (await this.#version(this.#db, model, number)).storage_location;
  }

  // ---- helpers ----

  #listening(event: keyof ModelVersionListener): boolean {
    return (this.deps.versionListeners ?? []).some((l) => l[event] !== undefined);
  }

  async #tellDeleted(ctx: RequestContext, versions: readonly ModelVersion[]): Promise<void> {
    for (const version of versions) for (const l of this.deps.versionListeners ?? []) await l.deleted?.(ctx, version);
  }

  /**
   * Checks a source as MLflow's `_validate_source` does, and stricter: it must resolve inside the
   * artifact root; `runs:/` needs an existing run (matching `run_id` when both are given); an
   * `mlflow-artifacts:` source with a `run_id` must lie inside that run's artifact directory.
   */
  async #resolveSource(ctx: RequestContext, source: string, requestRunId: string | undefined): Promise<{ runId?: string; storageLocation: string }> {
    const parsed = parseModelSource(source);
    const givenRunId = requestRunId === undefined || requestRunId === '' ? undefined : requestRunId;
    if (parsed.kind === 'run') {
      if (givenRunId !== undefined && givenRunId !== parsed.runId) {
        throw invalidParam('run_id', `run_id '${givenRunId}' does not match the run of source '${source}' (${parsed.runId}).`);
      }
      const runRoot = await this.#runArtifactKey(ctx, parsed.runId);
      return { runId: parsed.runId, storageLocation: keyToArtifactUri(joinKey(runRoot, parsed.path)) };
    }
    if (givenRunId !== undefined) {
      const runRoot = await this.#runArtifactKey(ctx, givenRunId);
      if (!keyIsWithin(parsed.key, runRoot)) {
        throw invalidParam(
          'source',
          `Invalid model version source: '${source}'. When run_id is given, the source has to be contained within the artifact directory of that run (${keyToArtifactUri(runRoot)}).`,
        );
      }
    }
    return { runId: givenRunId, storageLocation: keyToArtifactUri(parsed.key) };
  }

  /** Blob key of a run's artifact root; the run must exist in the caller's project. */
  async #runArtifactKey(ctx: RequestContext, runId: string): Promise<string> {
    const run = await this.deps.tracking.getRun(ctx, runId);
    try {
      return artifactUriToKey(run.info.artifact_uri, 'artifact_uri');
    } catch {
      throw invalidParam('source', `run ${runId} keeps its artifacts at ${run.info.artifact_uri}, outside this server's artifact root`);
    }
  }

  async #model(db: Db, ctx: RequestContext, name: string): Promise<ModelRow> {
    validateModelName(name);
    const row = await this.store.model(db, ctx.project, name);
    if (!row) throw notFound(`Registered Model with name=${name} not found`);
    return row;
  }

  async #version(db: Db, model: ModelRow, version: number): Promise<VersionRow> {
    const row = await this.store.version(db, model.id, version);
    if (!row) throw notFound(`Model Version (name=${model.name}, version=${version}) not found`);
    return row;
  }

  /** Wire shapes of model rows, with latest versions, tags and aliases loaded in three queries. */
  async #models(db: Db, rows: readonly ModelRow[]): Promise<RegisteredModel[]> {
    const ids = rows.map((r) => Number(r.id));
    const [tags, aliases, latest] = await Promise.all([
      this.store.modelTags(db, ids),
      this.store.modelAliases(db, ids),
      this.store.latestVersions(db, ids),
    ]);
    const names = new Map(rows.map((r) => [Number(r.id), r.name]));
    const latestVersions = await this.#renderVersions(
      db,
      ids,
      latest.map((row) => ({ name: names.get(Number(row.model_id))!, row })),
    );
    return rows.map((row) => {
      const id = Number(row.id);
      const model: RegisteredModel = {
        name: row.name,
        creation_timestamp: Number(row.creation_time),
        last_updated_timestamp: Number(row.last_updated_time),
        latest_versions: latestVersions.filter((_, i) => Number(latest[i].model_id) === id),
        tags: tags.get(id) ?? [],
        aliases: aliases.get(id) ?? [],
      };
      if (row.description !== null) model.description = row.description;
      return model;
    });
  }

  #versions(db: Db, name: string, rows: readonly VersionRow[]): Promise<ModelVersion[]> {
    return this.#renderVersions(
      db,
      rows.map((r) => r.model_id),
      rows.map((row) => ({ name, row })),
    );
  }

  /** Wire shapes of version rows, with tags and aliases. */
  async #renderVersions(db: Db, modelIds: readonly number[], rows: readonly { name: string; row: VersionRow }[]): Promise<ModelVersion[]> {
    if (rows.length === 0) return [];
    const ids = [...new Set(modelIds.map(Number))];
    const numbers = [...new Set(rows.map(({ row }) => Number(row.version)))];
    const [tags, aliases] = await Promise.all([this.store.versionTags(db, ids, numbers), this.store.versionAliases(db, ids, numbers)]);
    return rows.map(({ name, row }) => {
      const key = versionKey(row.model_id, row.version);
      const version: ModelVersion = {
        name,
        version: String(row.version),
        creation_timestamp: Number(row.creation_time),
        last_updated_timestamp: Number(row.last_updated_time),
        current_stage: row.current_stage as Stage,
        source: row.source,
        storage_location: row.storage_location,
        status: row.status as ModelVersion['status'],
        tags: tags.get(key) ?? [],
        aliases: aliases.get(key) ?? [],
      };
      if (row.user_id !== null) version.user_id = row.user_id;
      if (row.description !== null) version.description = row.description;
      if (row.run_id !== null) version.run_id = row.run_id;
      if (row.run_link !== null) version.run_link = row.run_link;
      if (row.status_message !== null) version.status_message = row.status_message;
      return version;
    });
  }
}
