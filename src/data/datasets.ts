/**
 * Datasets as a whole: listing them, reading one, and the schema they declare for uploads that bring
 * none. Deleting one is in `dependents.ts`, with the dependents that refuse it.
 */
import type { RequestContext } from '../core/context.ts';
import { parseInput } from '../core/validation.ts';
import type { DatasetContext } from './context.ts';
import { declaredSchemaSchema, validateDatasetName, type Dataset, type DeclaredSchema } from './domain.ts';
import type { NameRow } from './store.ts';

/** Datasets of the caller's project, by name. */
export async function listDatasets(data: DatasetContext, ctx: RequestContext): Promise<Dataset[]> {
  const rows = await data.store.listDatasets(data.db, ctx.project);
  return rows.map((row) => toDataset(row, row.version_count, row.latest_version ?? undefined));
}

/** One dataset; RESOURCE_DOES_NOT_EXIST when unknown. */
export async function getDataset(data: DatasetContext, ctx: RequestContext, name: string): Promise<Dataset> {
  validateDatasetName(name);
  const row = await data.datasetRow(data.db, ctx, name);
  const versions = await data.store.listVersions(data.db, ctx.project, name);
  return toDataset(row, versions.length, versions[0]?.version);
}

/**
 * Declares the schema later uploads of `name` get when they bring none (creating the dataset if
 * needed). `schema` is the parsed YAML/JSON document; null clears it.
 */
export async function setDeclaredSchema(data: DatasetContext, ctx: RequestContext, name: string, schema: unknown, description?: string): Promise<Dataset> {
  validateDatasetName(name);
  const declared = schema === null ? null : parseDeclaredSchema(schema);
  const now = data.deps.clock.now();
  await data.deps.metadata.transaction(async (trx) => {
    await data.checkProject(trx, ctx);
    await data.store.ensureDataset(trx, ctx.project, name, now);
    await data.store.updateDataset(trx, ctx.project, name, {
      declared_schema: declared === null ? null : JSON.stringify(declared),
      updated_at: now,
      ...(description !== undefined ? { description } : {}),
    });
  });
  return getDataset(data, ctx, name);
}

/** Parses a declared schema document (YAML/JSON already parsed). */
export function parseDeclaredSchema(schema: unknown): DeclaredSchema {
  return parseInput(declaredSchemaSchema, schema, 'schema');
}

function toDataset(row: NameRow, versionCount: number, latest: string | undefined): Dataset {
  return {
    name: row.name,
    project: row.project,
    ...(row.description ? { description: row.description } : {}),
    created_at: Number(row.created_at),
    updated_at: Number(row.updated_at),
    version_count: versionCount,
    ...(latest ? { latest_version: latest } : {}),
    ...(row.declared_schema ? { declared_schema: JSON.parse(row.declared_schema) as DeclaredSchema } : {}),
  };
}
