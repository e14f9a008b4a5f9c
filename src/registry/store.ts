/**
 * The registry's queries against the metadata store. Only the registry tables are touched here; every
 * method takes the query builder to use, so the service can run several in one transaction.
 *
 * Models are addressed by their surrogate `id` (a rename touches one row); versions by
 * `(model_id, version)`. Search filters arrive as the typed AST of `core/search` and are compiled
 * here to parameterised SQL — user text never becomes SQL text.
 */
import { sql, type Kysely, type RawBuilder, type Selectable } from 'kysely';
import type { Comparison, OrderBy } from '../core/search/index.ts';
import type { SqlDialect } from '../storage/ports.ts';
import type { Database, ModelVersionsTable, RegisteredModelsTable } from '../storage/schema.ts';
import type { RegisteredModelAlias, RegistryTag, Stage } from './domain.ts';

/** The query builder a store method runs on: the store's own, or a transaction's. */
export type Db = Kysely<Database>;
/** A row of `registered_models`. */
export type ModelRow = Selectable<RegisteredModelsTable>;
/** A row of `model_versions`. */
export type VersionRow = Selectable<ModelVersionsTable>;
/** A version row with its model's name (what searches return). */
export type NamedVersionRow = VersionRow & { name: string };

type Condition = RawBuilder<boolean>;

/** Key of a version in maps: `<model_id>:<version>`. */
export function versionKey(modelId: number, version: number): string {
  return `${Number(modelId)}:${Number(version)}`;
}

/** The registry's queries. Stateless apart from the dialect. */
export class RegistryStore {
  constructor(readonly dialect: SqlDialect) {}

  /** True when project `name` exists. */
  async projectExists(db: Db, name: string): Promise<boolean> {
    return (await db.selectFrom('projects').select('name').where('name', '=', name).executeTakeFirst()) !== undefined;
  }

  /** The model `name` of `project`, or undefined. */
  model(db: Db, project: string, name: string): Promise<ModelRow | undefined> {
    return db.selectFrom('registered_models').selectAll().where('project', '=', project).where('name', '=', name).executeTakeFirst();
  }

  /** Inserts a model; a duplicate name surfaces as the store's unique violation. */
  insertModel(db: Db, project: string, name: string, description: string | null, now: number): Promise<ModelRow> {
    return db
      .insertInto('registered_models')
      .values({ project, name, description, creation_time: now, last_updated_time: now, last_version: 0 })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** Changes some columns of model `id`. */
  async updateModel(db: Db, id: number, patch: { name?: string; description?: string | null; last_updated_time: number }): Promise<void> {
    await db.updateTable('registered_models').set(patch).where('id', '=', id).execute();
  }

  /** Deletes model `id`; its tags, versions, version tags and aliases go with it (foreign-key cascades). */
  async deleteModel(db: Db, id: number): Promise<void> {
    await db.deleteFrom('registered_models').where('id', '=', id).execute();
  }

  /**
   * Reserves the next version number of model `id` and stamps the model as updated. One atomic
   * `UPDATE … RETURNING`: concurrent creators queue on the row and never get the same number.
   */
  async nextVersion(db: Db, id: number, now: number): Promise<number> {
    const row = await db
      .updateTable('registered_models')
      .set((eb) => ({ last_version: eb('last_version', '+', 1), last_updated_time: now }))
      .where('id', '=', id)
      .returning('last_version')
      .executeTakeFirstOrThrow();
    return Number(row.last_version);
  }

  /** Tags of the given models, grouped by id, each list sorted by key. */
  async modelTags(db: Db, ids: readonly number[]): Promise<Map<number, RegistryTag[]>> {
    const out = new Map<number, RegistryTag[]>();
    if (ids.length === 0) return out;
    const rows = await db.selectFrom('registered_model_tags').selectAll().where('model_id', 'in', ids).orderBy('key').execute();
    for (const row of rows) push(out, Number(row.model_id), { key: row.key, value: row.value });
    return out;
  }

  /** Inserts or replaces tags of model `id`. */
  async setModelTags(db: Db, id: number, tags: readonly RegistryTag[]): Promise<void> {
    if (tags.length === 0) return;
    await db
      .insertInto('registered_model_tags')
      .values(tags.map((t) => ({ model_id: id, key: t.key, value: t.value })))
      .onConflict((oc) => oc.columns(['model_id', 'key']).doUpdateSet((eb) => ({ value: eb.ref('excluded.value') })))
      .execute();
  }

  /** Deletes tag `key` of model `id`; resolves whether there was one. */
  async deleteModelTag(db: Db, id: number, key: string): Promise<boolean> {
    const result = await db.deleteFrom('registered_model_tags').where('model_id', '=', id).where('key', '=', key).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Aliases of the given models, grouped by id, each list sorted by alias. */
  async modelAliases(db: Db, ids: readonly number[]): Promise<Map<number, RegisteredModelAlias[]>> {
    const out = new Map<number, RegisteredModelAlias[]>();
    if (ids.length === 0) return out;
    const rows = await db.selectFrom('registered_model_aliases').selectAll().where('model_id', 'in', ids).orderBy('alias').execute();
    for (const row of rows) push(out, Number(row.model_id), { alias: row.alias, version: String(row.version) });
    return out;
  }

  /**
   * Aliases of versions, by {@link versionKey}, each list sorted: those of the given models whose
   * version number is among `versions` (callers pick what they need from the map).
   */
  async versionAliases(db: Db, modelIds: readonly number[], versions: readonly number[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (modelIds.length === 0 || versions.length === 0) return out;
    const rows = await db
      .selectFrom('registered_model_aliases')
      .selectAll()
      .where('model_id', 'in', [...new Set(modelIds)])
      .where('version', 'in', [...new Set(versions)])
      .orderBy('alias')
      .execute();
    for (const row of rows) push(out, versionKey(row.model_id, row.version), row.alias);
    return out;
  }

  /** Points `alias` of model `id` at `version`, replacing its previous target. */
  async setAlias(db: Db, id: number, alias: string, version: number): Promise<void> {
    await db
      .insertInto('registered_model_aliases')
      .values({ model_id: id, alias, version })
      .onConflict((oc) => oc.columns(['model_id', 'alias']).doUpdateSet({ version }))
      .execute();
  }

  /** The version `alias` of model `id` points at, or undefined. */
  async aliasTarget(db: Db, id: number, alias: string): Promise<number | undefined> {
    const row = await db.selectFrom('registered_model_aliases').select('version').where('model_id', '=', id).where('alias', '=', alias).executeTakeFirst();
    return row === undefined ? undefined : Number(row.version);
  }

  /** Removes `alias` of model `id`; resolves whether there was one. */
  async deleteAlias(db: Db, id: number, alias: string): Promise<boolean> {
    const result = await db.deleteFrom('registered_model_aliases').where('model_id', '=', id).where('alias', '=', alias).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Inserts a model version. */
  async insertVersion(db: Db, row: VersionRow): Promise<void> {
    await db.insertInto('model_versions').values(row).execute();
  }

  /** Version `version` of model `id`, or undefined. */
  version(db: Db, id: number, version: number): Promise<VersionRow | undefined> {
    return db.selectFrom('model_versions').selectAll().where('model_id', '=', id).where('version', '=', version).executeTakeFirst();
  }

  /** Every version of model `id`, newest first. */
  versions(db: Db, id: number): Promise<VersionRow[]> {
    return db.selectFrom('model_versions').selectAll().where('model_id', '=', id).orderBy('version', 'desc').execute();
  }

  /** Changes some columns of a version. */
  async updateVersion(
    db: Db,
    id: number,
    version: number,
    patch: { description?: string | null; current_stage?: Stage; last_updated_time: number },
  ): Promise<void> {
    await db.updateTable('model_versions').set(patch).where('model_id', '=', id).where('version', '=', version).execute();
  }

  /** Stamps every version of model `id` as updated (a rename changes how they are named). */
  async touchVersions(db: Db, id: number, now: number): Promise<void> {
    await db.updateTable('model_versions').set({ last_updated_time: now }).where('model_id', '=', id).execute();
  }

  /** Moves every other version of model `id` in `stage` to Archived. */
  async archiveStage(db: Db, id: number, stage: Stage, except: number, now: number): Promise<void> {
    await db
      .updateTable('model_versions')
      .set({ current_stage: 'Archived', last_updated_time: now })
      .where('model_id', '=', id)
      .where('current_stage', '=', stage)
      .where('version', '!=', except)
      .execute();
  }

  /** Deletes a version with its tags (cascade) and the aliases that point at it. */
  async deleteVersion(db: Db, id: number, version: number): Promise<void> {
    await db.deleteFrom('registered_model_aliases').where('model_id', '=', id).where('version', '=', version).execute();
    await db.deleteFrom('model_version_tags').where('model_id', '=', id).where('version', '=', version).execute();
    await db.deleteFrom('model_versions').where('model_id', '=', id).where('version', '=', version).execute();
  }

  /** Tags of versions, by {@link versionKey}, each list sorted by key; selected as {@link versionAliases} does. */
  async versionTags(db: Db, modelIds: readonly number[], versions: readonly number[]): Promise<Map<string, RegistryTag[]>> {
    const out = new Map<string, RegistryTag[]>();
    if (modelIds.length === 0 || versions.length === 0) return out;
    const rows = await db
      .selectFrom('model_version_tags')
      .selectAll()
      .where('model_id', 'in', [...new Set(modelIds)])
      .where('version', 'in', [...new Set(versions)])
      .orderBy('key')
      .execute();
    for (const row of rows) push(out, versionKey(row.model_id, row.version), { key: row.key, value: row.value });
    return out;
  }

  /** Inserts or replaces tags of a version. */
  async setVersionTags(db: Db, id: number, version: number, tags: readonly RegistryTag[]): Promise<void> {
    if (tags.length === 0) return;
    await db
      .insertInto('model_version_tags')
      .values(tags.map((t) => ({ model_id: id, version, key: t.key, value: t.value })))
      .onConflict((oc) => oc.columns(['model_id', 'version', 'key']).doUpdateSet((eb) => ({ value: eb.ref('excluded.value') })))
      .execute();
  }

  /** Deletes tag `key` of a version; resolves whether there was one. */
  async deleteVersionTag(db: Db, id: number, version: number, key: string): Promise<boolean> {
    const result = await db
      .deleteFrom('model_version_tags')
      .where('model_id', '=', id)
      .where('version', '=', version)
      .where('key', '=', key)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** The highest version in each stage of each given model. */
  latestVersions(db: Db, ids: readonly number[]): Promise<VersionRow[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return db
      .selectFrom('model_versions as mv')
      .selectAll('mv')
      .where('mv.model_id', 'in', ids)
      .where(({ eb, selectFrom }) =>
        eb(
          'mv.version',
          '=',
          selectFrom('model_versions as newer')
            .select((e) => e.fn.max('newer.version').as('v'))
            .whereRef('newer.model_id', '=', 'mv.model_id')
            .whereRef('newer.current_stage', '=', 'mv.current_stage'),
        ),
      )
      .orderBy('mv.model_id')
      .orderBy('mv.version')
      .execute();
  }

  /**
   * Registered models of `project` matching every comparison (name, tags), ordered by `orderBy`
   * then name, rows `offset … offset + limit - 1`.
   */
  searchModels(db: Db, project: string, where: readonly Comparison[], orderBy: readonly OrderBy[], offset: number, limit: number): Promise<ModelRow[]> {
    const conditions: Condition[] = [sql<boolean>`rm.project = ${project}`];
    for (const c of where) {
      if (c.entity === 'tag') {
        conditions.push(
          sql<boolean>`exists (select 1 from registered_model_tags t where t.model_id = rm.id and t.key = ${c.key} and ${this.#compare(sql.ref('t.value'), c)})`,
        );
      } else {
        conditions.push(this.#compare(sql.ref(`rm.${c.key}`), c));
      }
    }
    const columns: Record<string, string> = { name: 'rm.name', last_updated_timestamp: 'rm.last_updated_time' };
    const order = orderBy.map((o) => ({ column: columns[o.key], ascending: o.ascending }));
    if (!orderBy.some((o) => o.key === 'name')) order.push({ column: 'rm.name', ascending: true });
    return db
      .selectFrom('registered_models as rm')
      .selectAll('rm')
      .where(sql.join(conditions, sql` and `) as Condition)
      .orderBy(orderClause(order))
      .limit(limit)
      .offset(offset)
      .execute();
  }

  /**
   * Model versions of `project` matching every comparison (name, run_id, version_number,
   * source_path, tags), in MLflow's order: the given clauses, then last update (newest first) when
   * none, then name ascending and version descending as tie-breaks.
   */
  searchVersions(db: Db, project: string, where: readonly Comparison[], orderBy: readonly OrderBy[], offset: number, limit: number): Promise<NamedVersionRow[]> {
    const conditions: Condition[] = [sql<boolean>`rm.project = ${project}`];
    const columns: Record<string, string> = {
      name: 'rm.name',
      version_number: 'mv.version',
      run_id: 'mv.run_id',
      source_path: 'mv.source',
      creation_timestamp: 'mv.creation_time',
      last_updated_timestamp: 'mv.last_updated_time',
    };
    for (const c of where) {
      if (c.entity === 'tag') {
        conditions.push(
          sql<boolean>`exists (select 1 from model_version_tags t where t.model_id = mv.model_id and t.version = mv.version and t.key = ${c.key} and ${this.#compare(sql.ref('t.value'), c)})`,
        );
      } else {
        conditions.push(this.#compare(sql.ref(columns[c.key]), c));
      }
    }
    const order = orderBy.map((o) => ({ column: columns[o.key], ascending: o.ascending }));
    if (order.length === 0) order.push({ column: 'mv.last_updated_time', ascending: false });
    if (!orderBy.some((o) => o.key === 'name')) order.push({ column: 'rm.name', ascending: true });
    if (!orderBy.some((o) => o.key === 'version_number')) order.push({ column: 'mv.version', ascending: false });
    return db
      .selectFrom('model_versions as mv')
      .innerJoin('registered_models as rm', 'rm.id', 'mv.model_id')
      .selectAll('mv')
      .select('rm.name')
      .where(sql.join(conditions, sql` and `) as Condition)
      .orderBy(orderClause(order))
      .limit(limit)
      .offset(offset)
      .execute();
  }

  /** One comparison as SQL; values are always bound parameters. */
  #compare(ref: RawBuilder<unknown>, c: Comparison): Condition {
    switch (c.valueType) {
      case 'number':
      case 'string':
        if (c.comparator === 'LIKE') return sql<boolean>`${ref} like ${c.value}`;
        if (c.comparator === 'ILIKE') {
          return this.dialect === 'postgres' ? sql<boolean>`${ref} ilike ${c.value}` : sql<boolean>`lower(${ref}) like lower(${c.value})`;
        }
        return sql<boolean>`${ref} ${sql.raw(c.comparator === '!=' ? '<>' : c.comparator)} ${c.value}`;
      case 'list':
        return sql<boolean>`${ref} ${sql.raw(c.comparator === 'IN' ? 'in' : 'not in')} (${sql.join(c.value)})`;
      case 'null':
        return sql<boolean>`${ref} ${sql.raw(c.comparator === 'IS NULL' ? 'is null' : 'is not null')}`;
    }
  }
}

/** `a asc, b desc` from a list of columns (names come from fixed tables, never from input). */
function orderClause(order: readonly { column: string; ascending: boolean }[]): RawBuilder<unknown> {
  return sql.join(
    order.map((o) => sql`${sql.ref(o.column)} ${sql.raw(o.ascending ? 'asc' : 'desc')}`),
    sql`, `,
  );
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
