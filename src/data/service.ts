/**
 * Datasets: versioned by content, profiled, validated, with lineage — the only thing other modules
 * call. Uploads stream to a temporary file, DuckDB turns them into canonical Parquet (`ingest.ts`),
 * and the file is stored once in the blob store under its sha256, which is the version id. Nothing is
 * stored when ingestion fails. DuckDB reads versions from local copies (`cache.ts`).
 *
 * This class is the facade; each area's operations live in their own module, sharing one
 * {@link DatasetContext}: datasets (`datasets.ts`), adding versions (`commit.ts`), reading them
 * (`reads.ts`), dependents and deletions (`dependents.ts`), validation reports
 * (`validation-reports.ts`) and tracked runs' inputs (`run-inputs.ts`).
 */
import type { Readable } from 'node:stream';
import type { RequestContext } from '../core/context.ts';
import type { DuckDb } from '../storage/duckdb/engine.ts';
import type { DatasetInput } from '../tracking/domain.ts';
import type { Table } from '../training/types.ts';
import * as commits from './commit.ts';
import type { AddedVersion, AddVersionOptions, CreateDerivedInput } from './commit.ts';
import { DatasetContext, type DatasetDeps } from './context.ts';
import * as datasets from './datasets.ts';
import * as dependents from './dependents.ts';
import type { DependentInfo } from './dependents.ts';
import type { Dataset, DatasetProfile, DatasetSchema, DatasetVersion, Dependent, VersionRef } from './domain.ts';
import * as reads from './reads.ts';
import type { DatasetDiff, DatasetDownload } from './reads.ts';
import * as runInputs from './run-inputs.ts';
import type { DatasetStore } from './store.ts';
import * as validations from './validation-reports.ts';
import type { DeletedValidation, ValidationReport } from './validation-reports.ts';

export { isLatestMoved } from './commit.ts';
export type { AddedVersion, AddVersionOptions, CreateDerivedInput } from './commit.ts';
export type { DatasetDeps, DatasetReader, DatasetReaders } from './context.ts';
export { parseDeclaredSchema } from './datasets.ts';
export type { DependentInfo } from './dependents.ts';
export type { DatasetDiff, DatasetDownload } from './reads.ts';
export type { DeletedValidation, ValidationReport } from './validation-reports.ts';

/** The data module's operations. */
export class DatasetService {
  readonly store: DatasetStore;
  readonly #data: DatasetContext;

  constructor(readonly deps: DatasetDeps) {
    this.#data = new DatasetContext(deps);
    this.store = this.#data.store;
  }

  /** The DuckDB engine used for datasets. */
  duck(): Promise<DuckDb> {
    return this.#data.duck();
  }

  /** Where uploads and conversions in progress live (for diagnostics and tests: empty when idle). */
  async workDir(): Promise<string> {
    return (await this.#data.folders()).tmp;
  }

  /** Where local copies of versions live. */
  async cacheDir(): Promise<string> {
    return (await this.#data.folders()).cache.dir;
  }

  /** Resolves once no deferred profile is being computed in the background. */
  settled(): Promise<void> {
    return this.#data.settled();
  }

  /** Waits for profiles still being computed, then removes the temporary folder when the service made one. */
  close(): Promise<void> {
    return this.#data.close();
  }

  // ---- datasets ----

  /** Datasets of the caller's project, by name. */
  listDatasets(ctx: RequestContext): Promise<Dataset[]> {
    return datasets.listDatasets(this.#data, ctx);
  }

  /** One dataset; RESOURCE_DOES_NOT_EXIST when unknown. */
  getDataset(ctx: RequestContext, name: string): Promise<Dataset> {
    return datasets.getDataset(this.#data, ctx, name);
  }

  /** Declares the schema later uploads of `name` get when they bring none: {@link datasets.setDeclaredSchema}. */
  setDeclaredSchema(ctx: RequestContext, name: string, schema: unknown, description?: string): Promise<Dataset> {
    return datasets.setDeclaredSchema(this.#data, ctx, name, schema, description);
  }

  /** Deletes a dataset and every version of it, unless something depends on one: {@link dependents.deleteDataset}. */
  deleteDataset(ctx: RequestContext, name: string): Promise<{ deleted_versions: number; versions: string[] }> {
    return dependents.deleteDataset(this.#data, ctx, name);
  }

  // ---- versions ----

  /** Adds a version from a streamed body: {@link commits.addVersion}. */
  addVersion(ctx: RequestContext, name: string, body: Readable, options: AddVersionOptions): Promise<AddedVersion> {
    return commits.addVersion(this.#data, ctx, name, body, options);
  }

  /** Adds a version made from other versions, which become its parents: {@link commits.createDerived}. */
  createDerived(ctx: RequestContext, input: CreateDerivedInput): Promise<AddedVersion> {
    return commits.createDerived(this.#data, ctx, input);
  }

  /** Versions of a dataset, newest first (without profiles). */
  listVersions(ctx: RequestContext, name: string): Promise<DatasetVersion[]> {
    return reads.listVersions(this.#data, ctx, name);
  }

  /** One version: metadata, schema, lineage, validation state and (by default) its profile. */
  getVersion(ctx: RequestContext, name: string, selector: string, options: { profile?: boolean } = {}): Promise<DatasetVersion> {
    return reads.getVersion(this.#data, ctx, name, selector, options);
  }

  /** The stored profile of a version. */
  getProfile(ctx: RequestContext, name: string, selector: string): Promise<DatasetProfile> {
    return reads.getProfile(this.#data, ctx, name, selector);
  }

  /** Deletes one version, unless something depends on it: {@link dependents.deleteVersion}. */
  deleteVersion(ctx: RequestContext, name: string, selector: string): Promise<{ version: string }> {
    return dependents.deleteVersion(this.#data, ctx, name, selector);
  }

  /** Streams a version as canonical Parquet or as CSV: {@link reads.download}. */
  download(ctx: RequestContext, name: string, selector: string, format: 'parquet' | 'csv' = 'parquet'): Promise<DatasetDownload> {
    return reads.download(this.#data, ctx, name, selector, format);
  }

  // ---- access for other modules ----

  /** A local, read-only Parquet file of a version, for DuckDB queries of other modules: {@link reads.localParquetPath}. */
  localParquetPath(ctx: RequestContext, name: string, selector: string): Promise<{ path: string; version: string; schema: DatasetSchema }> {
    return reads.localParquetPath(this.#data, ctx, name, selector);
  }

  /** A version as the trainers' columnar {@link Table}: {@link reads.readTable}. */
  readTable(ctx: RequestContext, name: string, selector: string, options: { columns?: readonly string[]; limit?: number } = {}): Promise<Table> {
    return reads.readTable(this.#data, ctx, name, selector, options);
  }

  // ---- dependents ----

  /** Records that `dependent` uses a version, which then cannot be deleted: {@link dependents.addDependent}. */
  addDependent(ctx: RequestContext, ref: VersionRef, dependent: Dependent): Promise<DatasetVersion> {
    return dependents.addDependent(this.#data, ctx, ref, dependent);
  }

  /** Removes a dependent; resolves whether it was there. */
  removeDependent(ctx: RequestContext, ref: VersionRef, dependent: Dependent): Promise<boolean> {
    return dependents.removeDependent(this.#data, ctx, ref, dependent);
  }

  /** What depends on a version (or on the dataset), refusing its deletion: {@link dependents.listDependents}. */
  listDependents(ctx: RequestContext, name: string, selector?: string): Promise<DependentInfo[]> {
    return dependents.listDependents(this.#data, ctx, name, selector);
  }

  // ---- validation ----

  /** Runs a rules document on a version and stores the report as its rules set's verdict: {@link validations.validate}. */
  validate(ctx: RequestContext, name: string, selector: string, rules: unknown): Promise<ValidationReport> {
    return validations.validate(this.#data, ctx, name, selector, rules);
  }

  /** Validation reports of a version, newest first. */
  listValidations(ctx: RequestContext, name: string, selector: string): Promise<ValidationReport[]> {
    return validations.listValidations(this.#data, ctx, name, selector);
  }

  /** Retracts a validation report and judges the version again: {@link validations.deleteValidation}. */
  deleteValidation(ctx: RequestContext, name: string, selector: string, id: string): Promise<DeletedValidation> {
    return validations.deleteValidation(this.#data, ctx, name, selector, id);
  }

  /** One validation report by id (of dataset `name`, when given). */
  getValidation(ctx: RequestContext, id: string, name?: string): Promise<ValidationReport> {
    return validations.getValidation(this.#data, ctx, id, name);
  }

  /** The gate every consumer of a version calls first: {@link validations.assertUsable}. */
  assertUsable(ctx: RequestContext, name: string, selector: string, options: { requireValidation?: boolean; field?: string } = {}): Promise<DatasetVersion> {
    return validations.assertUsable(this.#data, ctx, name, selector, options);
  }

  // ---- lineage ----

  /** Compares `target` against `base` from their stored profiles (see `diff.ts` for the measures). */
  diff(ctx: RequestContext, base: VersionRef, target: VersionRef): Promise<DatasetDiff> {
    return reads.diff(this.#data, ctx, base, target);
  }

  // ---- tracking ----

  /** Resolves an MLflow `log-inputs` dataset that names an mloop version: {@link runInputs.resolveRunInput}. */
  resolveRunInput(ctx: RequestContext, input: DatasetInput): Promise<DatasetInput> {
    return runInputs.resolveRunInput(this.#data, ctx, input);
  }

  /** Records a run as a dependent of the mloop versions among its (resolved) inputs. */
  recordRunInputs(ctx: RequestContext, runId: string, inputs: readonly DatasetInput[]): Promise<void> {
    return runInputs.recordRunInputs(this.#data, ctx, runId, inputs);
  }
}
