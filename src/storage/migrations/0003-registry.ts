import type { Kysely, Migration } from 'kysely';
import type { SqlDialect } from '../ports.ts';
import { autoIncrementPk, int64 } from './helpers.ts';

/** Model registry: registered models, versions, tags and aliases. */
export function registry(dialect: SqlDialect): Migration {
  return {
    async up(db: Kysely<any>) {
      await autoIncrementPk(db.schema.createTable('registered_models'), 'id', dialect)
        .addColumn('project', 'text', (c) => c.notNull().references('projects.name'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('creation_time', int64, (c) => c.notNull())
        .addColumn('last_updated_time', int64, (c) => c.notNull())
        .addColumn('last_version', int64, (c) => c.notNull().defaultTo(0))
        .addUniqueConstraint('registered_models_project_name', ['project', 'name'])
        .execute();

      await db.schema
        .createTable('registered_model_tags')
        .addColumn('model_id', int64, (c) => c.notNull().references('registered_models.id').onDelete('cascade'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('registered_model_tags_pk', ['model_id', 'key'])
        .execute();

      await db.schema
        .createTable('model_versions')
        .addColumn('model_id', int64, (c) => c.notNull().references('registered_models.id').onDelete('cascade'))
        .addColumn('version', int64, (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('user_id', 'text')
        .addColumn('current_stage', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('storage_location', 'text', (c) => c.notNull())
        .addColumn('run_id', 'text')
        .addColumn('run_link', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_message', 'text')
        .addColumn('creation_time', int64, (c) => c.notNull())
        .addColumn('last_updated_time', int64, (c) => c.notNull())
        .addPrimaryKeyConstraint('model_versions_pk', ['model_id', 'version'])
        .execute();
      await db.schema.createIndex('model_versions_run').on('model_versions').column('run_id').execute();

      await db.schema
        .createTable('model_version_tags')
        .addColumn('model_id', int64, (c) => c.notNull())
        .addColumn('version', int64, (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('model_version_tags_pk', ['model_id', 'version', 'key'])
        .addForeignKeyConstraint('model_version_tags_fk', ['model_id', 'version'], 'model_versions', ['model_id', 'version'], (c) =>
          c.onDelete('cascade'),
        )
        .execute();

      await db.schema
        .createTable('registered_model_aliases')
        .addColumn('model_id', int64, (c) => c.notNull().references('registered_models.id').onDelete('cascade'))
        .addColumn('alias', 'text', (c) => c.notNull())
        .addColumn('version', int64, (c) => c.notNull())
        .addPrimaryKeyConstraint('registered_model_aliases_pk', ['model_id', 'alias'])
        .execute();
    },
  };
}
