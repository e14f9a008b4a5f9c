import type { Kysely, Migration } from 'kysely';
import type { SqlDialect } from '../ports.ts';
import { float64, int64 } from './helpers.ts';

/**
 * Jobs and evaluations: the persisted state of background jobs (training, tuning, evaluation — status,
 * progress, result, error, which worker runs it and when it last said so), and the stored evaluation
 * reports of model versions with their gate outcome.
 */
export function training(dialect: SqlDialect): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project', 'text', (c) => c.notNull().references('projects.name'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('progress', float64(dialect), (c) => c.notNull())
        .addColumn('message', 'text')
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('result', 'text')
        .addColumn('error', 'text')
        .addColumn('worker', 'text')
        .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', int64, (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('started_at', int64)
        .addColumn('finished_at', int64)
        .addColumn('heartbeat_at', int64)
        .execute();
      await db.schema.createIndex('jobs_project_kind_created').on('jobs').columns(['project', 'kind', 'created_at']).execute();
      await db.schema.createIndex('jobs_status').on('jobs').column('status').execute();

      await db.schema
        .createTable('evaluations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project', 'text', (c) => c.notNull().references('projects.name'))
        .addColumn('model_name', 'text', (c) => c.notNull())
        .addColumn('model_version', 'text', (c) => c.notNull())
        .addColumn('dataset', 'text', (c) => c.notNull())
        .addColumn('job_id', 'text')
        .addColumn('gate_status', 'text', (c) => c.notNull())
        .addColumn('report', 'text', (c) => c.notNull())
        .addColumn('created_at', int64, (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('evaluations_model').on('evaluations').columns(['project', 'model_name', 'model_version', 'created_at']).execute();
    },
  };
}
