import { sql, type Kysely, type Migration } from 'kysely';

/**
 * A version's validation state follows from every rules set's verdict (the latest report of each rules
 * set run on it): `failed` while any verdict failed, else `warned` when one warned, else `passed`, with
 * the newest verdict of that status as its report. Before, a version took the state of its latest
 * report, so a report of another rules set could hide a failure: every version's state is worked out
 * again from its reports. Also drops `dataset_versions_created`, which no query used once versions
 * were ordered by `seq` (0007).
 */
export function validationVerdicts(): Migration {
  return {
    async up(db: Kysely<any>) {
      await sql`
        UPDATE dataset_versions SET validation_status = 'unvalidated', validation_id = NULL, validated_at = NULL
        WHERE NOT EXISTS (
          SELECT 1 FROM dataset_validations r
          WHERE r.project = dataset_versions.project AND r.name = dataset_versions.name AND r.version = dataset_versions.version)`.execute(db);
      await sql`
        WITH verdicts AS (
          SELECT project, name, version, id, status, created_at, seq FROM dataset_validations
          WHERE seq IN (SELECT max(seq) FROM dataset_validations GROUP BY project, name, version, rules_sha256)
        ), chosen AS (
          SELECT project, name, version, id, status, created_at,
            row_number() OVER (
              PARTITION BY project, name, version
              ORDER BY CASE status WHEN 'failed' THEN 0 WHEN 'warned' THEN 1 WHEN 'passed' THEN 2 ELSE 3 END, seq DESC
            ) AS place
          FROM verdicts
        )
        UPDATE dataset_versions SET validation_status = chosen.status, validation_id = chosen.id, validated_at = chosen.created_at
        FROM chosen
        WHERE chosen.place = 1 AND chosen.project = dataset_versions.project AND chosen.name = dataset_versions.name
          AND chosen.version = dataset_versions.version`.execute(db);
      await db.schema.dropIndex('dataset_versions_created').execute();
    },
  };
}
