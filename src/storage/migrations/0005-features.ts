import type { Kysely, Migration } from 'kysely';
import type { SqlDialect } from '../ports.ts';
import { int64 } from './helpers.ts';

/**
 * Feature store and lineage: content-versioned feature definitions with the version each name points
 * at, the materialization high-water marks, and the lineage edges (what was made from or consumed what).
 */
export function features(_dialect: SqlDialect): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('feature_definitions')
        .addColumn('project', 'text', (c) => c.notNull().references('projects.name'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('refs', 'text', (c) => c.notNull())
        .addColumn('created_at', int64, (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('feature_definitions_pk', ['project', 'kind', 'name', 'version'])
        .execute();

      await db.schema
        .createTable('feature_heads')
        .addColumn('project', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('updated_at', int64, (c) => c.notNull())
        .addPrimaryKeyConstraint('feature_heads_pk', ['project', 'kind', 'name'])
        .addForeignKeyConstraint('feature_heads_fk', ['project', 'kind', 'name', 'version'], 'feature_definitions', ['project', 'kind', 'name', 'version'])
        .execute();

      await db.schema
        .createTable('feature_materializations')
        .addColumn('project', 'text', (c) => c.notNull())
        .addColumn('view', 'text', (c) => c.notNull())
        .addColumn('view_version', 'text', (c) => c.notNull())
        .addColumn('high_water', int64, (c) => c.notNull())
        .addColumn('last_start', int64)
        .addColumn('rows_written', int64, (c) => c.notNull())
        .addColumn('dataset_version', 'text')
        .addColumn('updated_at', int64, (c) => c.notNull())
        .addPrimaryKeyConstraint('feature_materializations_pk', ['project', 'view', 'view_version'])
        .execute();

      await db.schema
        .createTable('lineage_edges')
        .addColumn('project', 'text', (c) => c.notNull())
        .addColumn('src_kind', 'text', (c) => c.notNull())
        .addColumn('src_id', 'text', (c) => c.notNull())
        .addColumn('dst_kind', 'text', (c) => c.notNull())
        .addColumn('dst_id', 'text', (c) => c.notNull())
        .addColumn('relation', 'text', (c) => c.notNull())
        .addColumn('created_at', int64, (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('lineage_edges_pk', ['project', 'src_kind', 'src_id', 'dst_kind', 'dst_id', 'relation'])
        .execute();
      await db.schema.createIndex('lineage_edges_dst').on('lineage_edges').columns(['project', 'dst_kind', 'dst_id']).execute();
    },
  };
}
