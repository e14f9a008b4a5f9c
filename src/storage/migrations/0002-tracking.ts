import type { Kysely, Migration } from 'kysely';
import { DEFAULT_PROJECT } from '../../core/context.ts';
import type { SqlDialect } from '../ports.ts';
import { autoIncrementPk, float64, int64 } from './helpers.ts';

/** Tracking: experiments, runs, params, tags, metrics, dataset inputs; the `Default` experiment (id 0). */
export function tracking(dialect: SqlDialect): Migration {
  return {
    async up(db: Kysely<any>) {
      await autoIncrementPk(db.schema.createTable('experiments'), 'experiment_id', dialect)
        .addColumn('project', 'text', (c) => c.notNull().references('projects.name'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('artifact_location', 'text', (c) => c.notNull())
        .addColumn('lifecycle_stage', 'text', (c) => c.notNull())
        .addColumn('creation_time', int64, (c) => c.notNull())
        .addColumn('last_update_time', int64, (c) => c.notNull())
        .addUniqueConstraint('experiments_project_name', ['project', 'name'])
        .execute();
      await db
        .insertInto('experiments')
        .values({
          experiment_id: 0,
          project: DEFAULT_PROJECT,
          name: 'Default',
          artifact_location: 'mlflow-artifacts:/0',
          lifecycle_stage: 'active',
          creation_time: 0,
          last_update_time: 0,
        })
        .execute();

      await db.schema
        .createTable('experiment_tags')
        .addColumn('experiment_id', int64, (c) => c.notNull().references('experiments.experiment_id').onDelete('cascade'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('experiment_tags_pk', ['experiment_id', 'key'])
        .execute();

      await db.schema
        .createTable('runs')
        .addColumn('run_uuid', 'text', (c) => c.primaryKey())
        .addColumn('experiment_id', int64, (c) => c.notNull().references('experiments.experiment_id'))
        .addColumn('run_name', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('start_time', int64, (c) => c.notNull())
        .addColumn('end_time', int64)
        .addColumn('lifecycle_stage', 'text', (c) => c.notNull())
        .addColumn('artifact_uri', 'text', (c) => c.notNull())
        .addColumn('deleted_time', int64)
        .execute();
      await db.schema.createIndex('runs_experiment_start').on('runs').columns(['experiment_id', 'start_time']).execute();

      for (const table of ['params', 'tags']) {
        await db.schema
          .createTable(table)
          .addColumn('run_uuid', 'text', (c) => c.notNull().references('runs.run_uuid').onDelete('cascade'))
          .addColumn('key', 'text', (c) => c.notNull())
          .addColumn('value', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint(`${table}_pk`, ['run_uuid', 'key'])
          .execute();
        await db.schema.createIndex(`${table}_key_value`).on(table).columns(['key', 'value']).execute();
      }

      await db.schema
        .createTable('metrics')
        .addColumn('run_uuid', 'text', (c) => c.notNull().references('runs.run_uuid').onDelete('cascade'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', float64(dialect), (c) => c.notNull())
        .addColumn('is_nan', 'integer', (c) => c.notNull())
        .addColumn('timestamp', int64, (c) => c.notNull())
        .addColumn('step', int64, (c) => c.notNull())
        .addPrimaryKeyConstraint('metrics_pk', ['run_uuid', 'key', 'step', 'timestamp', 'value', 'is_nan'])
        .execute();

      await db.schema
        .createTable('latest_metrics')
        .addColumn('run_uuid', 'text', (c) => c.notNull().references('runs.run_uuid').onDelete('cascade'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', float64(dialect), (c) => c.notNull())
        .addColumn('is_nan', 'integer', (c) => c.notNull())
        .addColumn('timestamp', int64, (c) => c.notNull())
        .addColumn('step', int64, (c) => c.notNull())
        .addPrimaryKeyConstraint('latest_metrics_pk', ['run_uuid', 'key'])
        .execute();
      await db.schema.createIndex('latest_metrics_key_value').on('latest_metrics').columns(['key', 'value']).execute();

      await db.schema
        .createTable('datasets')
        .addColumn('dataset_uuid', 'text', (c) => c.primaryKey())
        .addColumn('experiment_id', int64, (c) => c.notNull().references('experiments.experiment_id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('dataset_source_type', 'text', (c) => c.notNull())
        .addColumn('dataset_source', 'text', (c) => c.notNull())
        .addColumn('dataset_schema', 'text')
        .addColumn('dataset_profile', 'text')
        .addUniqueConstraint('datasets_experiment_name_digest', ['experiment_id', 'name', 'digest'])
        .execute();

      await db.schema
        .createTable('inputs')
        .addColumn('input_uuid', 'text', (c) => c.primaryKey())
        .addColumn('source_type', 'text', (c) => c.notNull())
        .addColumn('source_id', 'text', (c) => c.notNull())
        .addColumn('destination_type', 'text', (c) => c.notNull())
        .addColumn('destination_id', 'text', (c) => c.notNull())
        .addUniqueConstraint('inputs_edge', ['source_type', 'source_id', 'destination_type', 'destination_id'])
        .execute();
      await db.schema.createIndex('inputs_destination').on('inputs').columns(['destination_type', 'destination_id']).execute();

      await db.schema
        .createTable('input_tags')
        .addColumn('input_uuid', 'text', (c) => c.notNull().references('inputs.input_uuid').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('input_tags_pk', ['input_uuid', 'name'])
        .execute();
    },
  };
}
