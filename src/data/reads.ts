/**
 * Reading versions: their metadata and profiles, their files — downloaded, or local Parquet for
 * DuckDB queries of other modules — their rows as the trainers' tables, and two versions compared.
 */
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { RequestContext } from '../core/context.ts';
import { invalidParam } from '../core/errors.ts';
import { newHexId } from '../core/ids.ts';
import { quoteLiteral } from '../storage/duckdb/sql.ts';
import type { Table } from '../training/types.ts';
import type { DatasetContext } from './context.ts';
import { diffProfiles, type ProfileDiff } from './diff.ts';
import { validateDatasetName, type DatasetProfile, type DatasetSchema, type DatasetVersion, type VersionRef } from './domain.ts';
import { readParquetTable } from './table.ts';

/** A download of a version. */
export interface DatasetDownload {
  readonly stream: Readable;
  readonly size: number;
  readonly contentType: string;
  readonly fileName: string;
}

/** Two versions compared. */
export interface DatasetDiff extends ProfileDiff {
  readonly base: { readonly dataset: string; readonly version: string };
  readonly target: { readonly dataset: string; readonly version: string };
}

/** Versions of a dataset, newest first (without profiles). */
export async function listVersions(data: DatasetContext, ctx: RequestContext, name: string): Promise<DatasetVersion[]> {
  validateDatasetName(name);
  await data.datasetRow(data.db, ctx, name);
  const rows = await data.store.listVersions(data.db, ctx.project, name);
  return Promise.all(rows.map((r) => data.toVersion(data.db, r, false)));
}

/** One version: metadata, schema, lineage, validation state and (by default) its profile. */
export async function getVersion(data: DatasetContext, ctx: RequestContext, name: string, selector: string, options: { profile?: boolean } = {}): Promise<DatasetVersion> {
  validateDatasetName(name);
  const summary = await data.resolve(data.db, ctx, name, selector);
  if (options.profile === false) return data.toVersion(data.db, summary, false);
  const row = (await data.store.version(data.db, ctx.project, name, summary.version))!;
  return data.toVersion(data.db, row, true);
}

/** The stored profile of a version. */
export async function getProfile(data: DatasetContext, ctx: RequestContext, name: string, selector: string): Promise<DatasetProfile> {
  return (await getVersion(data, ctx, name, selector)).profile!;
}

/** Streams a version as canonical Parquet or as CSV (header line, RFC 4180 quoting, UTC timestamps). */
export async function download(data: DatasetContext, ctx: RequestContext, name: string, selector: string, format: 'parquet' | 'csv' = 'parquet'): Promise<DatasetDownload> {
  const { path, version } = await localParquetPath(data, ctx, name, selector);
  const base = `${name}-${version.slice(0, 12)}`;
  if (format === 'parquet') {
    const { size } = await stat(path);
    return { stream: createReadStream(path), size, contentType: 'application/vnd.apache.parquet', fileName: `${base}.parquet` };
  }
  if (format !== 'csv') throw invalidParam('format', `expected parquet or csv, got ${JSON.stringify(format)}`);
  const { tmp } = await data.folders();
  const csv = join(tmp, `${newHexId()}.csv`);
  const duck = await data.duck();
  await duck.withConnection((conn) =>
    conn.run(`COPY (SELECT * FROM read_parquet(${quoteLiteral(path)})) TO ${quoteLiteral(csv)} (FORMAT csv, HEADER true, DELIMITER ',', QUOTE '"', ESCAPE '"')`),
  );
  const { size } = await stat(csv);
  const stream = createReadStream(csv);
  stream.once('close', () => void rm(csv, { force: true }));
  return { stream, size, contentType: 'text/csv; charset=utf-8', fileName: `${base}.csv` };
}

/**
 * A local Parquet file of a version, for DuckDB queries of other modules (the feature store).
 * Read-only: the file is shared. Fetched from the blob store when not cached.
 */
export async function localParquetPath(data: DatasetContext, ctx: RequestContext, name: string, selector: string): Promise<{ path: string; version: string; schema: DatasetSchema }> {
  validateDatasetName(name);
  const row = await data.resolve(data.db, ctx, name, selector);
  const { cache } = await data.folders();
  return { path: await cache.ensure(row.version), version: row.version, schema: JSON.parse(row.schema) as DatasetSchema };
}

/**
 * A version as the trainers' columnar {@link Table}: numeric columns (integer, float, boolean as
 * 0/1, timestamp as epoch ms) as Float64Array with NaN for null, string columns as (string|null)[].
 */
export async function readTable(data: DatasetContext, ctx: RequestContext, name: string, selector: string, options: { columns?: readonly string[]; limit?: number } = {}): Promise<Table> {
  const { path, schema } = await localParquetPath(data, ctx, name, selector);
  let columns = schema.columns;
  if (options.columns) {
    const byName = new Map(schema.columns.map((c) => [c.name, c]));
    columns = options.columns.map((c, i) => {
      const column = byName.get(c);
      if (!column) throw invalidParam(`columns[${i}]`, `dataset "${name}" has no column "${c}" (it has ${schema.columns.map((x) => x.name).join(', ')})`);
      return column;
    });
  }
  if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 0)) {
    throw invalidParam('limit', `expected a non-negative integer, got ${options.limit}`);
  }
  return readParquetTable(await data.duck(), path, columns, options.limit);
}

/** Compares `target` against `base` from their stored profiles (see `diff.ts` for the measures). */
export async function diff(data: DatasetContext, ctx: RequestContext, base: VersionRef, target: VersionRef): Promise<DatasetDiff> {
  const b = await getVersion(data, ctx, validateDatasetName(base.name, 'base'), base.version);
  const t = await getVersion(data, ctx, validateDatasetName(target.name, 'target'), target.version);
  return {
    base: { dataset: b.dataset, version: b.version },
    target: { dataset: t.dataset, version: t.version },
    ...diffProfiles({ schema: b.schema, profile: b.profile!, version: b.version }, { schema: t.schema, profile: t.profile!, version: t.version }),
  };
}
