/**
 * The feature store's queries against the metadata store: definitions and their heads, and
 * materialization marks. Only the `feature_*` tables are touched here.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Database, FeatureDefinitionsTable, FeatureMaterializationsTable } from '../storage/schema.ts';
import type { Definition, DefinitionKind, FeatureViewSpec } from './domain.ts';

/** The query builder a store method runs on: the store's own, or a transaction's. */
export type Db = Kysely<Database>;
/** A row of `feature_materializations`. */
export type MaterializationRow = Selectable<FeatureMaterializationsTable>;

function toDefinition(row: Selectable<FeatureDefinitionsTable>, current?: string): Definition {
  return {
    kind: row.kind as DefinitionKind,
    name: row.name,
    version: row.version,
    spec: JSON.parse(row.spec) as Definition['spec'],
    refs: JSON.parse(row.refs) as Record<string, string>,
    created_at: Number(row.created_at),
    ...(current === undefined ? {} : { current: current === row.version }),
  };
}

/** The feature store's queries. */
export class FeatureStoreQueries {
  /** The current version of every definition of `kind` (all kinds when absent), by name. */
  async heads(db: Db, project: string, kind?: DefinitionKind): Promise<Definition[]> {
    let q = db
      .selectFrom('feature_heads as h')
      .innerJoin('feature_definitions as d', (j) =>
        j.onRef('d.project', '=', 'h.project').onRef('d.kind', '=', 'h.kind').onRef('d.name', '=', 'h.name').onRef('d.version', '=', 'h.version'),
      )
      .selectAll('d')
      .where('h.project', '=', project);
    if (kind) q = q.where('h.kind', '=', kind);
    const rows = await q.orderBy('d.kind').orderBy('d.name').execute();
    return rows.map((r) => toDefinition(r, r.version));
  }

  /**
   * The feature views whose current version reads dataset `dataset`, with the version their source
   * pins (a sha256 or a prefix of one; absent: the latest) and when and by whom that view version was made.
   */
  async viewsReading(
    db: Db,
    project: string,
    dataset: string,
  ): Promise<{ name: string; version: string; pinned?: string; created_at: number; created_by: string }[]> {
    const views = await db
      .selectFrom('feature_heads as h')
      .innerJoin('feature_definitions as d', (j) =>
        j.onRef('d.project', '=', 'h.project').onRef('d.kind', '=', 'h.kind').onRef('d.name', '=', 'h.name').onRef('d.version', '=', 'h.version'),
      )
      .select(['d.name', 'd.version', 'd.spec', 'd.created_at', 'd.created_by'])
      .where('h.project', '=', project)
      .where('h.kind', '=', 'feature_view')
      .orderBy('d.name')
      .execute();
    return views.flatMap((v) => {
      const source = (JSON.parse(v.spec) as FeatureViewSpec).source;
      if (source.dataset !== dataset) return [];
      return [{ name: v.name, version: v.version, ...(source.version ? { pinned: source.version } : {}), created_at: Number(v.created_at), created_by: v.created_by }];
    });
  }

  /** One version of a definition (the current one when `version` is absent). */
  async get(db: Db, project: string, kind: DefinitionKind, name: string, version?: string): Promise<Definition | undefined> {
    const head = await db.selectFrom('feature_heads').select('version').where('project', '=', project).where('kind', '=', kind).where('name', '=', name).executeTakeFirst();
    let q = db.selectFrom('feature_definitions').selectAll().where('project', '=', project).where('kind', '=', kind).where('name', '=', name);
    if (version !== undefined) {
      q = version.length === 64 ? q.where('version', '=', version) : q.where('version', 'like', `${version}%`);
    } else if (head) {
      q = q.where('version', '=', head.version);
    } else {
      return undefined;
    }
    const rows = await q.limit(2).execute();
    if (rows.length !== 1) return undefined;
    return toDefinition(rows[0], head?.version);
  }

  /** Every version of a definition, oldest first. */
  async versions(db: Db, project: string, kind: DefinitionKind, name: string): Promise<Definition[]> {
    const head = await db.selectFrom('feature_heads').select('version').where('project', '=', project).where('kind', '=', kind).where('name', '=', name).executeTakeFirst();
    const rows = await db
      .selectFrom('feature_definitions')
      .selectAll()
      .where('project', '=', project)
      .where('kind', '=', kind)
      .where('name', '=', name)
      .orderBy('created_at')
      .orderBy('version')
      .execute();
    return rows.map((r) => toDefinition(r, head?.version));
  }

  /** Stores a version if it is new (resolves false when it already existed) and points the name at it. */
  async put(db: Db, project: string, def: Omit<Definition, 'current'>, actor: string, now: number): Promise<{ created: boolean; previous?: string }> {
    const existing = await db
      .selectFrom('feature_definitions')
      .select('version')
      .where('project', '=', project)
      .where('kind', '=', def.kind)
      .where('name', '=', def.name)
      .where('version', '=', def.version)
      .executeTakeFirst();
    if (!existing) {
      await db
        .insertInto('feature_definitions')
        .values({
          project,
          kind: def.kind,
          name: def.name,
          version: def.version,
          spec: JSON.stringify(def.spec),
          refs: JSON.stringify(def.refs),
          created_at: now,
          created_by: actor,
        })
        .execute();
    }
    const head = await db.selectFrom('feature_heads').select('version').where('project', '=', project).where('kind', '=', def.kind).where('name', '=', def.name).executeTakeFirst();
    if (!head) {
      await db.insertInto('feature_heads').values({ project, kind: def.kind, name: def.name, version: def.version, updated_at: now }).execute();
    } else if (head.version !== def.version) {
      await db
        .updateTable('feature_heads')
        .set({ version: def.version, updated_at: now })
        .where('project', '=', project)
        .where('kind', '=', def.kind)
        .where('name', '=', def.name)
        .execute();
    }
    return { created: !existing, previous: head?.version };
  }

  /** Every version of feature view `name` ever stored. */
  async viewVersions(db: Db, project: string, name: string): Promise<string[]> {
    const rows = await db
      .selectFrom('feature_definitions')
      .select('version')
      .where('project', '=', project)
      .where('kind', '=', 'feature_view')
      .where('name', '=', name)
      .execute();
    return rows.map((r) => r.version);
  }

  /** The materialization mark of a view version. */
  materialization(db: Db, project: string, view: string, version: string): Promise<MaterializationRow | undefined> {
    return db
      .selectFrom('feature_materializations')
      .selectAll()
      .where('project', '=', project)
      .where('view', '=', view)
      .where('view_version', '=', version)
      .executeTakeFirst();
  }

  /** Records how far a view version has been materialized; the high-water mark never moves back. */
  async markMaterialized(db: Db, row: MaterializationRow): Promise<void> {
    const existing = await this.materialization(db, row.project, row.view, row.view_version);
    if (!existing) {
      await db.insertInto('feature_materializations').values(row).execute();
      return;
    }
    await db
      .updateTable('feature_materializations')
      .set({
        high_water: Math.max(Number(existing.high_water), row.high_water),
        last_start: row.last_start,
        rows_written: Number(existing.rows_written) + row.rows_written,
        dataset_version: row.dataset_version,
        updated_at: row.updated_at,
      })
      .where('project', '=', row.project)
      .where('view', '=', row.view)
      .where('view_version', '=', row.view_version)
      .execute();
  }
}
