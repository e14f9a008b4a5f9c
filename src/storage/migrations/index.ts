/**
 * Versioned migrations of the metadata database, applied in name order. A migration, once released,
 * is never edited: changes come as a new migration.
 */
import type { Migration } from 'kysely';
import type { SqlDialect } from '../ports.ts';
import { foundation } from './0001-foundation.ts';
import { tracking } from './0002-tracking.ts';
import { registry } from './0003-registry.ts';
import { datasets } from './0004-datasets.ts';
import { features } from './0005-features.ts';
import { training } from './0006-training.ts';
import { datasetHeads } from './0007-dataset-heads.ts';
import { validationVerdicts } from './0008-validation-verdicts.ts';

/** Every migration, by name, for the given dialect. */
export function migrationsFor(dialect: SqlDialect): Record<string, Migration> {
  return {
    '0001-foundation': foundation(dialect),
    '0002-tracking': tracking(dialect),
    '0003-registry': registry(dialect),
    '0004-datasets': datasets(dialect),
    '0005-features': features(dialect),
    '0006-training': training(dialect),
    '0007-dataset-heads': datasetHeads(),
    '0008-validation-verdicts': validationVerdicts(),
  };
}
