/**
 * What depends on dataset versions — recorded dependents (runs, model versions, versions derived
 * from them) and readers known from their own definitions (feature views) — and the deletions of
 * versions and datasets they refuse. A deletion holds its dataset exclusively, so commits to the
 * dataset or from its versions (`commit.ts`) run wholly before or after it.
 */
import type { RequestContext } from '../core/context.ts';
import { MloopError, notFound } from '../core/errors.ts';
import type { DatasetContext, DatasetReader } from './context.ts';
import { formatVersionRef, validateDatasetName, validateDependent, type DatasetVersion, type Dependent, type VersionRef } from './domain.ts';
import type { DependentRow } from './store.ts';

/** A dependent as listed. */
export interface DependentInfo extends Dependent {
  readonly dataset: string;
  readonly version: string;
  readonly created_at: number;
  readonly created_by: string;
}

/**
 * Records that `dependent` uses a version, which then cannot be deleted until
 * {@link removeDependent}. Idempotent. Returns the resolved version (its full sha256).
 */
export async function addDependent(data: DatasetContext, ctx: RequestContext, ref: VersionRef, dependent: Dependent): Promise<DatasetVersion> {
  validateDatasetName(ref.name);
  const d = validateDependent(dependent);
  const row = await data.resolve(data.db, ctx, ref.name, ref.version);
  await data.store.addDependent(data.db, {
    project: ctx.project,
    name: ref.name,
    version: row.version,
    dependent_kind: d.kind,
    dependent_id: d.id,
    created_at: data.deps.clock.now(),
    created_by: ctx.actor.name,
  });
  return data.toVersion(data.db, row, false);
}

/** Removes a dependent; resolves whether it was there. */
export async function removeDependent(data: DatasetContext, ctx: RequestContext, ref: VersionRef, dependent: Dependent): Promise<boolean> {
  validateDatasetName(ref.name);
  const d = validateDependent(dependent);
  const row = await data.resolve(data.db, ctx, ref.name, ref.version);
  return data.store.removeDependent(data.db, ctx.project, ref.name, row.version, d.kind, d.id);
}

/**
 * What depends on a version (or, with no selector, on the dataset): the dependents a deletion of it
 * is refused for. The recorded ones — of the dataset, those outside it (versions appended to others
 * of the same dataset go with it) — then the readers (feature views): of a version those that pin
 * it; of the dataset all, one that reads whichever is the latest under version `latest`.
 */
export async function listDependents(data: DatasetContext, ctx: RequestContext, name: string, selector?: string): Promise<DependentInfo[]> {
  validateDatasetName(name);
  await data.datasetRow(data.db, ctx, name);
  const version = selector === undefined ? undefined : (await data.resolve(data.db, ctx, name, selector)).version;
  const versions = version !== undefined ? [version] : (await data.store.listVersions(data.db, ctx.project, name)).map((v) => v.version);
  let rows = await data.store.dependents(data.db, ctx.project, name, version);
  if (version === undefined) rows = outsideDependents(rows, ctx.project, name, versions);
  const readers = (await data.deps.readers?.(data.db, ctx.project, name)) ?? [];
  return [...rows, ...readerDependents(readers, versions, version)].map((r) => ({
    dataset: name,
    version: r.version,
    kind: r.dependent_kind,
    id: r.dependent_id,
    created_at: Number(r.created_at),
    created_by: r.created_by,
  }));
}

/**
 * Deletes every version of a dataset and the dataset; CONFLICT (409) while any version has
 * dependents or a reader (a feature view) names the dataset. Returns the versions deleted.
 */
export async function deleteDataset(data: DatasetContext, ctx: RequestContext, name: string): Promise<{ deleted_versions: number; versions: string[] }> {
  validateDatasetName(name);
  const removed = await data.deps.metadata.transaction(async (trx) => {
    // Held to the end: a commit to the dataset (or from its versions) runs wholly before or after.
    if (!(await data.store.lockDataset(trx, data.deps.metadata.dialect, ctx.project, name, 'exclusive'))) {
      throw notFound(`dataset "${name}" does not exist in project "${ctx.project}"`);
    }
    const readers = (await data.deps.readers?.(trx, ctx.project, name)) ?? [];
    const versions = (await data.store.listVersions(trx, ctx.project, name)).map((v) => v.version);
    const recorded = outsideDependents(await data.store.dependents(trx, ctx.project, name), ctx.project, name, versions);
    const dependents = [...recorded, ...readerDependents(readers, versions)];
    if (dependents.length > 0) throw dependentsConflict(name, undefined, dependents);
    // Its derived versions stop depending on their parents, in other datasets and in this one.
    await data.store.removeDependentsById(trx, DERIVED_KIND, versions.map((v) => derivedDependentId(ctx.project, name, v)));
    for (const v of versions) await data.store.deleteVersion(trx, ctx.project, name, v);
    await data.store.deleteDataset(trx, ctx.project, name);
    return versions;
  });
  for (const version of removed) await data.collect(version);
  return { deleted_versions: removed.length, versions: removed };
}

/**
 * Deletes one version; CONFLICT (409) while something depends on it or a reader (a feature view)
 * pins it. A reader of the latest version keeps the dataset, not its versions: it goes on with the
 * latest one left. The file goes when no dataset holds it.
 */
export async function deleteVersion(data: DatasetContext, ctx: RequestContext, name: string, selector: string): Promise<{ version: string }> {
  validateDatasetName(name);
  const version = await data.deps.metadata.transaction(async (trx) => {
    // As for deleteDataset: commits to the dataset or from its versions run wholly before or after.
    await data.store.lockDataset(trx, data.deps.metadata.dialect, ctx.project, name, 'exclusive');
    const row = await data.resolve(trx, ctx, name, selector);
    const pinning = readerDependents((await data.deps.readers?.(trx, ctx.project, name)) ?? [], [row.version], row.version);
    const dependents = [...(await data.store.dependents(trx, ctx.project, name, row.version)), ...pinning];
    if (dependents.length > 0) throw dependentsConflict(name, row.version, dependents);
    // A derived version stops depending on its parents when it goes.
    await data.store.removeDependentsById(trx, DERIVED_KIND, [derivedDependentId(ctx.project, name, row.version)]);
    await data.store.deleteVersion(trx, ctx.project, name, row.version);
    return row.version;
  });
  await data.collect(version);
  return { version };
}

/** The kind of dependent a derived version is recorded as on each of its parents. */
export const DERIVED_KIND = 'dataset_version';

/** The id a derived version of dataset `name` is recorded under on its parents: `<project>/<name>@<sha256>`. */
export function derivedDependentId(project: string, name: string, version: string): string {
  return `${project}/${formatVersionRef(name, version)}`;
}

/** The dependents of dataset `name` but those its own `versions` recorded on each other (appends). */
function outsideDependents<T extends Pick<DependentRow, 'dependent_kind' | 'dependent_id'>>(rows: readonly T[], project: string, name: string, versions: readonly string[]): T[] {
  const own = new Set(versions.map((v) => derivedDependentId(project, name, v)));
  return rows.filter((d) => !(d.dependent_kind === DERIVED_KIND && own.has(d.dependent_id)));
}

/** The version under which a reader of whichever version is the latest is listed. */
const LATEST = 'latest';

/** A dependent as {@link dependentsConflict} and {@link listDependents} take it. */
type DependentEntry = Pick<DependentRow, 'version' | 'dependent_kind' | 'dependent_id' | 'created_at' | 'created_by'>;

/**
 * Readers as the dependents they count as: of version `version` (given), those that pin it; of the
 * dataset, all — a pin under the full id of the version of `versions` it names, a reader of the
 * latest under {@link LATEST}.
 */
function readerDependents(readers: readonly DatasetReader[], versions: readonly string[], version?: string): DependentEntry[] {
  const listedUnder = (pin: string | undefined) => (pin === undefined ? LATEST : (versions.find((v) => v.startsWith(pin)) ?? pin));
  return readers
    .filter((r) => version === undefined || (r.version !== undefined && version.startsWith(r.version)))
    .map((r) => ({ version: version ?? listedUnder(r.version), dependent_kind: r.dependent.kind, dependent_id: r.dependent.id, created_at: r.created_at, created_by: r.created_by }));
}

function dependentsConflict(name: string, version: string | undefined, dependents: readonly Pick<DependentEntry, 'version' | 'dependent_kind' | 'dependent_id'>[]): MloopError {
  const which = (v: string) => (v === LATEST ? ' (its latest version)' : ` (version ${v.slice(0, 12)})`);
  const listed = dependents.slice(0, 10).map((d) => `${d.dependent_kind} ${d.dependent_id}${version ? '' : which(d.version)}`);
  const more = dependents.length > 10 ? ` and ${dependents.length - 10} more` : '';
  return new MloopError(
    'CONFLICT',
    `dataset "${name}"${version ? ` version ${version.slice(0, 12)}` : ''} cannot be deleted: ${dependents.length} dependent${dependents.length > 1 ? 's' : ''} use${dependents.length > 1 ? '' : 's'} it: ${listed.join(', ')}${more}`,
  );
}
