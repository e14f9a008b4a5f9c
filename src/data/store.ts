/**
 * The data module's queries against the metadata store: only the `dataset_*` tables (and the
 * foundation's `projects`). Every method takes the query builder to use, so the service can run
 * several in one transaction.
 */
import type { Insertable, Kysely, Selectable } from 'kysely';
import type { SqlDialect } from '../storage/ports.ts';
import type {
  Database,
  DatasetDependentsTable,
  DatasetNamesTable,
  DatasetValidationsTable,
  DatasetVersionsTable,
} from '../storage/schema.ts';

/** The query builder a store method runs on: the store's own, or a transaction's. */
export type Db = Kysely<Database>;
/** A row of `dataset_names`. */
export type NameRow = Selectable<DatasetNamesTable>;
/** A row of `dataset_versions`. */
export type VersionRow = Selectable<DatasetVersionsTable>;
/** A row of `dataset_dependents`. */
export type DependentRow = Selectable<DatasetDependentsTable>;
/** A row of `dataset_validations`. */
export type ValidationRow = Selectable<DatasetValidationsTable>;

/** The validation state columns of a version row. */
export type ValidationStateRow = Pick<VersionRow, 'validation_status' | 'validation_id' | 'validated_at'>;

/** A version row without its (large) profile. */
export type VersionSummaryRow = Omit<VersionRow, 'profile'>;

const SUMMARY_COLUMNS = [
  'project',
  'name',
  'version',
  'description',
  'size_bytes',
  'row_count',
  'column_count',
  'schema',
  'source_format',
  'source_name',
  'source_sha256',
  'source_bytes',
  'transformation',
  'created_at',
  'created_by',
  'validation_status',
  'validation_id',
  'validated_at',
  'seq',
] as const;

/** The data module's queries. Stateless. */
export class DatasetStore {
  /** True when project `name` exists. */
  async projectExists(db: Db, name: string): Promise<boolean> {
    return (await db.selectFrom('projects').select('name').where('name', '=', name).executeTakeFirst()) !== undefined;
  }

  /** The dataset `name` of `project`, or undefined. */
  dataset(db: Db, project: string, name: string): Promise<NameRow | undefined> {
    return db.selectFrom('dataset_names').selectAll().where('project', '=', project).where('name', '=', name).executeTakeFirst();
  }

  /** Creates the dataset if it does not exist (concurrent creators both succeed). */
  async ensureDataset(db: Db, project: string, name: string, now: number): Promise<void> {
    await db
      .insertInto('dataset_names')
      .values({ project, name, description: null, declared_schema: null, created_at: now, updated_at: now })
      .onConflict((oc) => oc.columns(['project', 'name']).doNothing())
      .execute();
  }

  /** Changes some columns of a dataset. */
  async updateDataset(db: Db, project: string, name: string, patch: Partial<Pick<NameRow, 'description' | 'declared_schema' | 'updated_at'>>): Promise<void> {
    await db.updateTable('dataset_names').set(patch).where('project', '=', project).where('name', '=', name).execute();
  }

  /**
   * Holds dataset `name`'s row until the transaction ends and returns it (undefined when there is
   * none). `exclusive` — what deletions and commits (through {@link nextSeq}) take — waits for and
   * blocks every other holder; `shared` — what a commit takes on each dataset it derives from — blocks
   * only the exclusive ones, so commits deriving from one dataset do not wait for each other. Take
   * several in (project, name) order. SQLite runs one transaction at a time: a read holds it there.
   */
  async lockDataset(db: Db, dialect: SqlDialect, project: string, name: string, mode: 'exclusive' | 'shared'): Promise<NameRow | undefined> {
    if (mode === 'exclusive') {
      // A write, not a read, so the same statement locks on both dialects.
      return db
        .updateTable('dataset_names')
        .set((eb) => ({ last_seq: eb.ref('last_seq') }))
        .where('project', '=', project)
        .where('name', '=', name)
        .returningAll()
        .executeTakeFirst();
    }
    const query = db.selectFrom('dataset_names').selectAll().where('project', '=', project).where('name', '=', name);
    return (dialect === 'postgres' ? query.forShare() : query).executeTakeFirst();
  }

  /** Deletes a dataset row (its versions must be gone). */
  async deleteDataset(db: Db, project: string, name: string): Promise<void> {
    await db.deleteFrom('dataset_names').where('project', '=', project).where('name', '=', name).execute();
  }

  /** Datasets of a project by name, with their version counts and newest version. */
  async listDatasets(db: Db, project: string): Promise<(NameRow & { version_count: number; latest_version: string | null })[]> {
    const names = await db.selectFrom('dataset_names').selectAll().where('project', '=', project).orderBy('name').execute();
    const counts = await db
      .selectFrom('dataset_versions')
      .select(['name', (eb) => eb.fn.countAll<number>().as('n')])
      .where('project', '=', project)
      .groupBy('name')
      .execute();
    const byName = new Map(counts.map((c) => [c.name, Number(c.n)]));
    const out = [];
    for (const row of names) {
      const latest = byName.get(row.name) ? await this.latestVersion(db, project, row.name) : undefined;
      out.push({ ...row, version_count: byName.get(row.name) ?? 0, latest_version: latest?.version ?? null });
    }
    return out;
  }

  /** The version of a dataset committed last, or undefined. */
  latestVersion(db: Db, project: string, name: string): Promise<VersionSummaryRow | undefined> {
    return newestFirst(db, project, name).limit(1).executeTakeFirst();
  }

  /** Versions whose id starts with `prefix` (at most `limit`). */
  versionsByPrefix(db: Db, project: string, name: string, prefix: string, limit = 2): Promise<VersionSummaryRow[]> {
    return db
      .selectFrom('dataset_versions')
      .select(SUMMARY_COLUMNS)
      .where('project', '=', project)
      .where('name', '=', name)
      .where('version', '>=', prefix)
      .where('version', '<', `${prefix}g`)
      .orderBy('version')
      .limit(limit)
      .execute();
  }

  /** One version with its profile, or undefined. */
  version(db: Db, project: string, name: string, version: string): Promise<VersionRow | undefined> {
    return db
      .selectFrom('dataset_versions')
      .selectAll()
      .where('project', '=', project)
      .where('name', '=', name)
      .where('version', '=', version)
      .executeTakeFirst();
  }

  /** True when dataset `name` has version `version`. */
  async versionExists(db: Db, project: string, name: string, version: string): Promise<boolean> {
    const row = await db
      .selectFrom('dataset_versions')
      .select('version')
      .where('project', '=', project)
      .where('name', '=', name)
      .where('version', '=', version)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Stores the profile of content `version` in every version row that holds it and has none yet. */
  async setPendingProfile(db: Db, version: string, profile: string): Promise<void> {
    await db.updateTable('dataset_versions').set({ profile }).where('version', '=', version).where('profile', '=', '').execute();
  }

  /** Versions of a dataset, the last committed first. */
  listVersions(db: Db, project: string, name: string): Promise<VersionSummaryRow[]> {
    return newestFirst(db, project, name).execute();
  }

  /**
   * Takes the next place in the commit order of dataset `name` for a version about to be inserted;
   * undefined when the dataset has no row (a deletion may have removed it since it was ensured). Run
   * in the transaction that inserts it: the write holds the dataset's row until commit, so versions
   * of one dataset are committed one after the other.
   */
  async nextSeq(db: Db, project: string, name: string): Promise<number | undefined> {
    const row = await db
      .updateTable('dataset_names')
      .set((eb) => ({ last_seq: eb('last_seq', '+', 1) }))
      .where('project', '=', project)
      .where('name', '=', name)
      .returning('last_seq')
      .executeTakeFirst();
    return row === undefined ? undefined : Number(row.last_seq);
  }

  /** Inserts a version with its parents; a duplicate surfaces as the store's unique violation. */
  async insertVersion(
    db: Db,
    row: Insertable<DatasetVersionsTable>,
    parents: readonly { project: string; name: string; version: string }[],
  ): Promise<void> {
    await db.insertInto('dataset_versions').values(row).execute();
    if (parents.length > 0) {
      await db
        .insertInto('dataset_parents')
        .values(
          parents.map((p, position) => ({
            project: row.project,
            name: row.name,
            version: row.version,
            position,
            parent_project: p.project,
            parent_name: p.name,
            parent_version: p.version,
          })),
        )
        .execute();
    }
  }

  /** The parents of a version, in order. */
  async parents(db: Db, project: string, name: string, version: string): Promise<{ project: string; name: string; version: string }[]> {
    const rows = await db
      .selectFrom('dataset_parents')
      .select(['parent_project', 'parent_name', 'parent_version'])
      .where('project', '=', project)
      .where('name', '=', name)
      .where('version', '=', version)
      .orderBy('position')
      .execute();
    return rows.map((r) => ({ project: r.parent_project, name: r.parent_name, version: r.parent_version }));
  }

  /** Deletes a version (its parents and reports go with it). */
  async deleteVersion(db: Db, project: string, name: string, version: string): Promise<void> {
    await db.deleteFrom('dataset_versions').where('project', '=', project).where('name', '=', name).where('version', '=', version).execute();
  }

  /** How many version rows, in any project or dataset, hold the content `version`. */
  async contentReferences(db: Db, version: string): Promise<number> {
    const row = await db.selectFrom('dataset_versions').select((eb) => eb.fn.countAll<number>().as('n')).where('version', '=', version).executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /** Records a dependent; registering the same one twice is a no-op. */
  async addDependent(db: Db, row: Insertable<DatasetDependentsTable>): Promise<void> {
    await db
      .insertInto('dataset_dependents')
      .values(row)
      .onConflict((oc) => oc.columns(['project', 'name', 'version', 'dependent_kind', 'dependent_id']).doNothing())
      .execute();
  }

  /** Removes a dependent; resolves whether there was one. */
  async removeDependent(db: Db, project: string, name: string, version: string, kind: string, id: string): Promise<boolean> {
    const result = await db
      .deleteFrom('dataset_dependents')
      .where('project', '=', project)
      .where('name', '=', name)
      .where('version', '=', version)
      .where('dependent_kind', '=', kind)
      .where('dependent_id', '=', id)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Removes the dependents of kind `kind` with any of `ids`, on whichever versions they were recorded. */
  async removeDependentsById(db: Db, kind: string, ids: readonly string[]): Promise<void> {
    // In slices: each id is a bound parameter, and the backends cap those per statement.
    for (let i = 0; i < ids.length; i += 500) {
      await db.deleteFrom('dataset_dependents').where('dependent_kind', '=', kind).where('dependent_id', 'in', ids.slice(i, i + 500)).execute();
    }
  }

  /** Dependents of one version, or of every version of a dataset when `version` is undefined. */
  dependents(db: Db, project: string, name: string, version?: string): Promise<DependentRow[]> {
    let query = db.selectFrom('dataset_dependents').selectAll().where('project', '=', project).where('name', '=', name);
    if (version !== undefined) query = query.where('version', '=', version);
    return query.orderBy('version').orderBy('dependent_kind').orderBy('dependent_id').execute();
  }

  /** Versions a dependent uses. */
  dependenciesOf(db: Db, kind: string, id: string): Promise<DependentRow[]> {
    return db.selectFrom('dataset_dependents').selectAll().where('dependent_kind', '=', kind).where('dependent_id', '=', id).orderBy('name').execute();
  }

  /**
   * Stores a validation report and sets the version's state from the verdicts (see
   * {@link validationState}); resolves false, storing nothing, when the version does not exist. Run
   * it in a transaction: it takes the version's row first, so reports on one version are judged one
   * after the other and none is left out of the state.
   */
  async insertValidation(db: Db, row: Omit<ValidationRow, 'seq'>): Promise<boolean> {
    if (!(await this.#holdVersion(db, row.project, row.name, row.version))) return false;
    await db.insertInto('dataset_validations').values(row).execute();
    await this.#judge(db, row.project, row.name, row.version);
    return true;
  }

  /**
   * Removes report `id` of a version and sets the version's state from the verdicts left (unvalidated
   * when none is); resolves the new state, or undefined, changing nothing, when the version has no such
   * report. Run it in a transaction, as {@link insertValidation}.
   */
  async deleteValidation(db: Db, project: string, name: string, version: string, id: string): Promise<ValidationStateRow | undefined> {
    if (!(await this.#holdVersion(db, project, name, version))) return undefined;
    const removed = await db
      .deleteFrom('dataset_validations')
      .where('project', '=', project)
      .where('name', '=', name)
      .where('version', '=', version)
      .where('id', '=', id)
      .executeTakeFirst();
    if (Number(removed.numDeletedRows) === 0) return undefined;
    return this.#judge(db, project, name, version);
  }

  /** Takes the row of a version until the transaction ends; resolves false when there is none. */
  async #holdVersion(db: Db, project: string, name: string, version: string): Promise<boolean> {
    // A write to the row, not a read: PostgreSQL holds the row lock until commit.
    const held = await db
      .updateTable('dataset_versions')
      .set((eb) => ({ validation_status: eb.ref('validation_status') }))
      .where('project', '=', project)
      .where('name', '=', name)
      .where('version', '=', version)
      .executeTakeFirst();
    return Number(held.numUpdatedRows) > 0;
  }

  /** Sets a version's validation state from its verdicts, and resolves it. */
  async #judge(db: Db, project: string, name: string, version: string): Promise<ValidationStateRow> {
    const verdicts = await this.verdicts(db, project, name, version);
    const state = verdicts.length > 0 ? validationState(verdicts) : undefined;
    const patch: ValidationStateRow = state
      ? { validation_status: state.status, validation_id: state.report.id, validated_at: state.report.created_at }
      : { validation_status: 'unvalidated', validation_id: null, validated_at: null };
    await db.updateTable('dataset_versions').set(patch).where('project', '=', project).where('name', '=', name).where('version', '=', version).execute();
    return patch;
  }

  /** The verdicts on a version: the latest report of each rules set (by its sha256) run on it, newest first. */
  verdicts(db: Db, project: string, name: string, version: string): Promise<ValidationRow[]> {
    const latestOfEachRulesSet = reportsOf(db, project, name, version)
      .select((e) => e.fn.max('seq').as('seq'))
      .groupBy('rules_sha256');
    return reportsOf(db, project, name, version).selectAll().where('seq', 'in', latestOfEachRulesSet).orderBy('seq', 'desc').execute();
  }

  /** Validation reports of a version, newest first. */
  validations(db: Db, project: string, name: string, version: string): Promise<ValidationRow[]> {
    return reportsOf(db, project, name, version).selectAll().orderBy('created_at', 'desc').orderBy('seq', 'desc').execute();
  }

  /** One validation report, or undefined. */
  validation(db: Db, project: string, id: string): Promise<ValidationRow | undefined> {
    return db.selectFrom('dataset_validations').selectAll().where('project', '=', project).where('id', '=', id).executeTakeFirst();
  }
}

/** The validation reports of one version, as a query to select from. */
function reportsOf(db: Db, project: string, name: string, version: string) {
  return db.selectFrom('dataset_validations').where('project', '=', project).where('name', '=', name).where('version', '=', version);
}

/** The versions of a dataset without profiles, the last committed first. */
function newestFirst(db: Db, project: string, name: string) {
  return db.selectFrom('dataset_versions').select(SUMMARY_COLUMNS).where('project', '=', project).where('name', '=', name).orderBy('seq', 'desc');
}

/**
 * A version's validation state from its verdicts (newest first, at least one): `failed` while the
 * latest report of any rules set failed — a report of another rules set does not clear it — else
 * `warned` when one warned, else `passed`; with the newest report of that status.
 */
export function validationState(verdicts: readonly Pick<ValidationRow, 'id' | 'status' | 'created_at'>[]): { status: string; report: Pick<ValidationRow, 'id' | 'created_at'> } {
  for (const status of ['failed', 'warned', 'passed']) {
    const report = verdicts.find((v) => v.status === status);
    if (report) return { status, report };
  }
  return { status: verdicts[0].status, report: verdicts[0] };
}
