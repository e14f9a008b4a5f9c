/** The evaluation module's queries against the metadata store: only the `evaluations` table. */
import type { Kysely, Selectable } from 'kysely';
import type { Database, EvaluationsTable } from '../storage/schema.ts';

/** The query builder a store method runs on. */
export type Db = Kysely<Database>;
/** A row of `evaluations`. */
export type EvaluationRow = Selectable<EvaluationsTable>;

/** Queries of the evaluations table. */
export class EvaluationStore {
  /** Inserts an evaluation. */
  async insert(db: Db, row: EvaluationRow): Promise<void> {
    await db.insertInto('evaluations').values(row).execute();
  }

  /** The evaluation `id` of `project`. */
  async get(db: Db, project: string, id: string): Promise<EvaluationRow | undefined> {
    return db.selectFrom('evaluations').selectAll().where('project', '=', project).where('id', '=', id).executeTakeFirst();
  }

  /** Evaluations of a project (of one model, one version), newest first. */
  async list(db: Db, filter: { project: string; model?: string; version?: string; limit: number; offset: number }): Promise<EvaluationRow[]> {
    let q = db.selectFrom('evaluations').selectAll().where('project', '=', filter.project);
    if (filter.model !== undefined) q = q.where('model_name', '=', filter.model);
    if (filter.version !== undefined) q = q.where('model_version', '=', filter.version);
    return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit).offset(filter.offset).execute();
  }
}
