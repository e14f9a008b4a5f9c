import { sql, type Kysely, type Migration } from 'kysely';
import { int64 } from './helpers.ts';

/**
 * The order in which each dataset's versions were committed: `dataset_versions.seq` numbers them and
 * `dataset_names.last_seq` holds the last number given. `latest` is the last version committed (a clock
 * reading ties within a millisecond and differs between servers), and a commit takes its number first,
 * which holds the dataset's row until it ends: commits to one dataset run one after the other, so an
 * append can check that the head it read is still the head. Versions already there are numbered in the
 * order `latest` gave them before (time of creation, then version id).
 */
export function datasetHeads(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('dataset_names').addColumn('last_seq', int64, (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('dataset_versions').addColumn('seq', int64, (c) => c.notNull().defaultTo(0)).execute();
      await sql`
        UPDATE dataset_versions SET seq = (
          SELECT count(*) FROM dataset_versions o
          WHERE o.project = dataset_versions.project AND o.name = dataset_versions.name
            AND (o.created_at < dataset_versions.created_at OR (o.created_at = dataset_versions.created_at AND o.version <= dataset_versions.version)))`.execute(db);
      await sql`
        UPDATE dataset_names SET last_seq = (
          SELECT coalesce(max(v.seq), 0) FROM dataset_versions v WHERE v.project = dataset_names.project AND v.name = dataset_names.name)`.execute(db);
      await db.schema.createIndex('dataset_versions_seq').on('dataset_versions').columns(['project', 'name', 'seq']).unique().execute();
    },
  };
}
