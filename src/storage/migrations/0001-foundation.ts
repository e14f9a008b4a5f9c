import type { Kysely, Migration } from 'kysely';
import { DEFAULT_PROJECT } from '../../core/context.ts';
import type { SqlDialect } from '../ports.ts';
import { int64 } from './helpers.ts';

/** Projects (namespaces), with the `default` project. */
export function foundation(_dialect: SqlDialect): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('projects')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('description', 'text')
        .addColumn('created_at', int64, (c) => c.notNull())
        .execute();
      await db.insertInto('projects').values({ name: DEFAULT_PROJECT, description: 'The default project', created_at: 0 }).execute();
    },
  };
}
