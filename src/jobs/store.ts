/** The jobs module's queries against the metadata store: only the `jobs` table. */
import type { Kysely, Selectable } from 'kysely';
import type { Database, JobsTable } from '../storage/schema.ts';
import type { Job, JobError, JobStatus } from './domain.ts';

/** The query builder a store method runs on. */
export type Db = Kysely<Database>;
/** A row of `jobs`. */
export type JobRow = Selectable<JobsTable>;

/** Filters of {@link JobStore.list}. */
export interface JobFilter {
  readonly project: string;
  readonly kinds?: readonly string[];
  readonly statuses?: readonly JobStatus[];
  readonly limit: number;
  readonly offset: number;
}

/** Queries of the jobs table. */
export class JobStore {
  /** Inserts a new job row. */
  async insert(db: Db, row: JobRow): Promise<void> {
    await db.insertInto('jobs').values(row).execute();
  }

  /** The job `id` of `project` (any project when `project` is undefined). */
  async get(db: Db, id: string, project?: string): Promise<JobRow | undefined> {
    let q = db.selectFrom('jobs').selectAll().where('id', '=', id);
    if (project !== undefined) q = q.where('project', '=', project);
    return q.executeTakeFirst();
  }

  /** Jobs of a project, newest first. */
  async list(db: Db, filter: JobFilter): Promise<JobRow[]> {
    let q = db.selectFrom('jobs').selectAll().where('project', '=', filter.project);
    if (filter.kinds && filter.kinds.length > 0) q = q.where('kind', 'in', [...filter.kinds]);
    if (filter.statuses && filter.statuses.length > 0) q = q.where('status', 'in', [...filter.statuses]);
    return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit).offset(filter.offset).execute();
  }

  /**
   * Moves a QUEUED job to RUNNING on `worker`; resolves false when the job was not QUEUED (another
   * worker took it, or it was cancelled meanwhile).
   */
  async claim(db: Db, id: string, worker: string, now: number, wallNow: number): Promise<boolean> {
    const result = await db
      .updateTable('jobs')
      .set({ status: 'RUNNING', worker, started_at: now, heartbeat_at: wallNow, message: 'started' })
      .where('id', '=', id)
      .where('status', '=', 'QUEUED')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Records progress of a RUNNING job; resolves whether cancellation was requested. */
  async progress(db: Db, id: string, progress: number, message: string | null, wallNow: number): Promise<boolean> {
    await db.updateTable('jobs').set({ progress, message, heartbeat_at: wallNow }).where('id', '=', id).where('status', '=', 'RUNNING').execute();
    const row = await db.selectFrom('jobs').select('cancel_requested').where('id', '=', id).executeTakeFirst();
    return Number(row?.cancel_requested ?? 0) === 1;
  }

  /** Refreshes the heartbeat of the RUNNING jobs of `worker`. */
  async heartbeat(db: Db, worker: string, wallNow: number): Promise<void> {
    await db.updateTable('jobs').set({ heartbeat_at: wallNow }).where('worker', '=', worker).where('status', '=', 'RUNNING').execute();
  }

  /** Ends a job that is not final yet; resolves whether it did. */
  async finish(
    db: Db,
    id: string,
    outcome: { status: JobStatus; result?: unknown; error?: JobError; message?: string | null },
    now: number,
  ): Promise<boolean> {
    const set: Partial<JobRow> = {
      status: outcome.status,
      finished_at: now,
      ...(outcome.status === 'SUCCEEDED' ? { progress: 1 } : {}),
      ...(outcome.result !== undefined ? { result: JSON.stringify(outcome.result) } : {}),
      ...(outcome.error !== undefined ? { error: JSON.stringify(outcome.error) } : {}),
      ...(outcome.message !== undefined ? { message: outcome.message } : {}),
    };
    const result = await db.updateTable('jobs').set(set).where('id', '=', id).where('status', 'in', ['QUEUED', 'RUNNING']).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Marks a job for cancellation; resolves the row after the change. */
  async requestCancel(db: Db, id: string): Promise<void> {
    await db.updateTable('jobs').set({ cancel_requested: 1 }).where('id', '=', id).execute();
  }

  /**
   * Ends as FAILED every unfinished job whose worker is gone: those of `deadWorker` (a previous life of
   * this worker), and RUNNING ones whose heartbeat is older than `staleBefore`. Returns their ids.
   */
  async failOrphans(db: Db, options: { deadWorker?: string; staleBefore: number; now: number; error: JobError }): Promise<string[]> {
    const rows = await db
      .selectFrom('jobs')
      .select(['id', 'status', 'worker', 'heartbeat_at'])
      .where('status', 'in', ['QUEUED', 'RUNNING'])
      .execute();
    const orphans = rows.filter(
      (r) =>
        (options.deadWorker !== undefined && r.worker === options.deadWorker) ||
        (r.status === 'RUNNING' && (r.heartbeat_at === null || Number(r.heartbeat_at) < options.staleBefore)),
    );
    for (const r of orphans) {
      await db
        .updateTable('jobs')
        .set({ status: 'FAILED', finished_at: options.now, error: JSON.stringify(options.error), message: options.error.message })
        .where('id', '=', r.id)
        .where('status', 'in', ['QUEUED', 'RUNNING'])
        .execute();
    }
    return orphans.map((r) => r.id);
  }
}

/** The API shape of a row. */
export function toJob(row: JobRow): Job {
  return {
    id: row.id,
    project: row.project,
    kind: row.kind,
    status: row.status as JobStatus,
    progress: Number(row.progress),
    ...(row.message !== null ? { message: row.message } : {}),
    spec: JSON.parse(row.spec) as unknown,
    ...(row.result !== null ? { result: JSON.parse(row.result) as unknown } : {}),
    ...(row.error !== null ? { error: JSON.parse(row.error) as JobError } : {}),
    created_at: Number(row.created_at),
    created_by: row.created_by,
    ...(row.started_at !== null ? { started_at: Number(row.started_at) } : {}),
    ...(row.finished_at !== null ? { finished_at: Number(row.finished_at) } : {}),
    ...(row.worker !== null ? { worker: row.worker } : {}),
    cancel_requested: Number(row.cancel_requested) === 1,
  };
}
