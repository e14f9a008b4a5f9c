import type { Kysely, Migration } from 'kysely';
import type { SqlDialect } from '../ports.ts';
import { autoIncrementPk, int64 } from './helpers.ts';

/**
 * Datasets: names, content-addressed versions (schema and profile as JSON), lineage parents, the
 * dependents that keep a version from deletion, and validation reports.
 */
export function datasets(dialect: SqlDialect): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('dataset_names')
        .addColumn('project', 'text', (c) => c.notNull().references('projects.name'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('declared_schema', 'text')
        .addColumn('created_at', int64, (c) => c.notNull())
        .addColumn('updated_at', int64, (c) => c.notNull())
        .addPrimaryKeyConstraint('dataset_names_pk', ['project', 'name'])
        .execute();

      await db.schema
        .createTable('dataset_versions')
        .addColumn('project', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('size_bytes', int64, (c) => c.notNull())
        .addColumn('row_count', int64, (c) => c.notNull())
        .addColumn('column_count', 'integer', (c) => c.notNull())
        .addColumn('schema', 'text', (c) => c.notNull())
        .addColumn('profile', 'text', (c) => c.notNull())
        .addColumn('source_format', 'text', (c) => c.notNull())
        .addColumn('source_name', 'text')
        .addColumn('source_sha256', 'text')
        .addColumn('source_bytes', int64)
        .addColumn('transformation', 'text')
        .addColumn('created_at', int64, (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('validation_status', 'text', (c) => c.notNull())
        .addColumn('validation_id', 'text')
        .addColumn('validated_at', int64)
        .addPrimaryKeyConstraint('dataset_versions_pk', ['project', 'name', 'version'])
        .addForeignKeyConstraint('dataset_versions_name_fk', ['project', 'name'], 'dataset_names', ['project', 'name'], (c) => c.onDelete('cascade'))
        .execute();
      await db.schema.createIndex('dataset_versions_content').on('dataset_versions').column('version').execute();
      await db.schema.createIndex('dataset_versions_created').on('dataset_versions').columns(['project', 'name', 'created_at']).execute();

      await db.schema
        .createTable('dataset_parents')
        .addColumn('project', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('position', 'integer', (c) => c.notNull())
        .addColumn('parent_project', 'text', (c) => c.notNull())
        .addColumn('parent_name', 'text', (c) => c.notNull())
        .addColumn('parent_version', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('dataset_parents_pk', ['project', 'name', 'version', 'position'])
        .addForeignKeyConstraint('dataset_parents_child_fk', ['project', 'name', 'version'], 'dataset_versions', ['project', 'name', 'version'], (c) =>
          c.onDelete('cascade'),
        )
        .execute();

      await db.schema
        .createTable('dataset_dependents')
        .addColumn('project', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('dependent_kind', 'text', (c) => c.notNull())
        .addColumn('dependent_id', 'text', (c) => c.notNull())
        .addColumn('created_at', int64, (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('dataset_dependents_pk', ['project', 'name', 'version', 'dependent_kind', 'dependent_id'])
        .addForeignKeyConstraint('dataset_dependents_version_fk', ['project', 'name', 'version'], 'dataset_versions', ['project', 'name', 'version'])
        .execute();
      await db.schema.createIndex('dataset_dependents_dependent').on('dataset_dependents').columns(['dependent_kind', 'dependent_id']).execute();

      // `seq` orders reports of the same millisecond (the clock is injected and may stand still).
      await autoIncrementPk(db.schema.createTable('dataset_validations'), 'seq', dialect)
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('project', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('rules_sha256', 'text', (c) => c.notNull())
        .addColumn('rules', 'text', (c) => c.notNull())
        .addColumn('report', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', int64, (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addForeignKeyConstraint('dataset_validations_version_fk', ['project', 'name', 'version'], 'dataset_versions', ['project', 'name', 'version'], (c) =>
          c.onDelete('cascade'),
        )
        .execute();
      await db.schema
        .createIndex('dataset_validations_version')
        .on('dataset_validations')
        .columns(['project', 'name', 'version', 'created_at'])
        .execute();
    },
  };
}
