/**
 * Validating versions: running a rules document (`validation.ts`) on a version and storing the
 * report as its rules set's verdict, reading and retracting reports, and the gate every consumer of a
 * version calls first.
 */
import type { RequestContext } from '../core/context.ts';
import { MloopError, notFound } from '../core/errors.ts';
import { newUuid } from '../core/ids.ts';
import { validationOf, type DatasetContext } from './context.ts';
import { formatVersionRef, validateDatasetName, type DatasetVersion } from './domain.ts';
import { getVersion, localParquetPath } from './reads.ts';
import type { ValidationRow } from './store.ts';
import { parseRules, rulesDigest, runValidation, type ValidationOutcome } from './validation.ts';

/** A stored validation report. */
export interface ValidationReport extends ValidationOutcome {
  readonly id: string;
  readonly dataset: string;
  readonly version: string;
  readonly rules_sha256: string;
  readonly evaluated_at: number;
  readonly evaluated_by: string;
}

/** A validation report retracted, and the version's validation state without it. */
export interface DeletedValidation {
  readonly deleted: string;
  readonly dataset: string;
  readonly version: string;
  readonly validation: DatasetVersion['validation'];
}

/**
 * Runs a rules document (already parsed from YAML or JSON) on a version and stores the report,
 * which becomes the verdict of its rules set (named by its sha256); the version's validation state
 * follows from every rules set's verdict, in the same transaction (see `validationState`): a failed
 * verdict is cleared only by a later report of the same rules set that does not fail. Freshness is
 * judged against the injected clock.
 */
export async function validate(data: DatasetContext, ctx: RequestContext, name: string, selector: string, rules: unknown): Promise<ValidationReport> {
  validateDatasetName(name);
  const document = parseRules(rules);
  const { path, version, schema } = await localParquetPath(data, ctx, name, selector);
  const now = data.deps.clock.now();
  const outcome = await (await data.duck()).withConnection((conn) => runValidation(conn, path, schema, document, now));
  const report: ValidationReport = {
    id: newUuid(),
    dataset: name,
    version,
    rules_sha256: rulesDigest(document),
    evaluated_at: now,
    evaluated_by: ctx.actor.name,
    ...outcome,
  };
  const stored = await data.deps.metadata.transaction((trx) =>
    data.store.insertValidation(trx, {
      id: report.id,
      project: ctx.project,
      name,
      version,
      rules_sha256: report.rules_sha256,
      rules: JSON.stringify(document),
      report: JSON.stringify(report),
      status: report.status,
      created_at: now,
      created_by: ctx.actor.name,
    }),
  );
  // The version went away while it was being validated.
  if (!stored) throw notFound(`dataset "${name}" has no version ${version}`);
  return report;
}

/** Validation reports of a version, newest first. */
export async function listValidations(data: DatasetContext, ctx: RequestContext, name: string, selector: string): Promise<ValidationReport[]> {
  validateDatasetName(name);
  const row = await data.resolve(data.db, ctx, name, selector);
  return (await data.store.validations(data.db, ctx.project, name, row.version)).map(toReport);
}

/**
 * Retracts a validation report — a rules set run by mistake, a wrong rule — and works the version's
 * validation state out again from the verdicts left, in one transaction: the rules set's previous
 * report on the version, if any, is its verdict again; with no report left the version is
 * unvalidated. RESOURCE_DOES_NOT_EXIST (404) when the version has no report `id`.
 */
export async function deleteValidation(data: DatasetContext, ctx: RequestContext, name: string, selector: string, id: string): Promise<DeletedValidation> {
  validateDatasetName(name);
  const row = await data.resolve(data.db, ctx, name, selector);
  const state = await data.deps.metadata.transaction((trx) => data.store.deleteValidation(trx, ctx.project, name, row.version, id));
  if (!state) throw notFound(`dataset "${name}" version ${row.version.slice(0, 12)} has no validation report ${JSON.stringify(id)}`);
  return { deleted: id, dataset: name, version: row.version, validation: validationOf(state) };
}

/** One validation report by id (of dataset `name`, when given). */
export async function getValidation(data: DatasetContext, ctx: RequestContext, id: string, name?: string): Promise<ValidationReport> {
  const row = await data.store.validation(data.db, ctx.project, id);
  if (!row) throw notFound(`validation report ${JSON.stringify(id)} does not exist in project "${ctx.project}"`);
  if (name !== undefined && row.name !== name) throw notFound(`dataset "${name}" has no validation report ${id}`);
  return toReport(row);
}

/**
 * The gate every consumer of a version (training, pipelines, the feature store) calls first: throws
 * INVALID_STATE (400) naming the failed `error` rules while the latest report of any rules set run
 * on the version failed — or, with `requireValidation`, when it was never validated. The error's
 * fields are the failed rules (`rules.<rule>`), or with `field` — the request field that named the
 * version — that field, once per failed rule. Returns the version.
 */
export async function assertUsable(
  data: DatasetContext,
  ctx: RequestContext,
  name: string,
  selector: string,
  options: { requireValidation?: boolean; field?: string } = {},
): Promise<DatasetVersion> {
  const version = await getVersion(data, ctx, name, selector, { profile: false });
  const ref = formatVersionRef(name, version.version.slice(0, 12));
  if (version.validation.status === 'failed') {
    const verdicts = await data.store.verdicts(data.db, ctx.project, name, version.version);
    const reports = verdicts.filter((v) => v.status === 'failed').map(toReport);
    const failed = reports.flatMap((report) => report.results.filter((r) => !r.passed && r.severity === 'error'));
    throw new MloopError(
      'INVALID_STATE',
      `dataset ${ref} failed validation and cannot be used: ${failed.map((r) => `${r.name} (${r.message})`).join('; ')} [report${reports.length > 1 ? 's' : ''} ${reports.map((r) => r.id).join(', ')}]`,
      { fields: failed.map((r) => (options.field ? { field: options.field, reason: `${r.name}: ${r.message}` } : { field: `rules.${r.name}`, reason: r.message })) },
    );
  }
  if (options.requireValidation && version.validation.status === 'unvalidated') {
    throw new MloopError('INVALID_STATE', `dataset ${ref} has not been validated; validate it before use`);
  }
  return version;
}

function toReport(row: ValidationRow): ValidationReport {
  return JSON.parse(row.report) as ValidationReport;
}
