/**
 * Tracking runs' dataset inputs that name mloop versions: resolved to the full version, and the run
 * recorded as a dependent of each.
 */
import type { RequestContext } from '../core/context.ts';
import type { DatasetInput } from '../tracking/domain.ts';
import type { DatasetContext } from './context.ts';
import { addDependent } from './dependents.ts';
import { DATASET_URI_PREFIX, formatVersionRef, parseDatasetUri, type VersionRef } from './domain.ts';
import { getVersion } from './reads.ts';

/**
 * Resolves an MLflow `log-inputs` dataset that names an mloop version (`source_type` `mloop` or a
 * `mloop-dataset:<name>@<version>` source): checks the version exists and fills in its full digest,
 * canonical source, schema and a profile summary. Other inputs pass through unchanged.
 */
export async function resolveRunInput(data: DatasetContext, ctx: RequestContext, input: DatasetInput): Promise<DatasetInput> {
  const d = input.dataset;
  if (!d) return input;
  const ref = parseDatasetUri(d.source ?? '') ?? (d.source_type === 'mloop' ? refFromInput(d.name, d.digest, d.source) : undefined);
  if (!ref) return input;
  const version = await getVersion(data, ctx, ref.name, ref.version, { profile: false });
  return {
    tags: input.tags ?? [],
    dataset: {
      name: version.dataset,
      // MLflow caps digests at 36 characters; the source holds the full sha256.
      digest: version.version.slice(0, 32),
      source_type: 'mloop',
      source: `${DATASET_URI_PREFIX}${formatVersionRef(version.dataset, version.version)}`,
      schema: JSON.stringify({ mlflow_colspec: version.schema.columns.map((c) => ({ name: c.name, type: MLFLOW_TYPES[c.type], required: !c.nullable })) }),
      profile: JSON.stringify({ num_rows: version.row_count, num_columns: version.column_count }),
    },
  };
}

/** Records a run as a dependent of the mloop versions among its (resolved) inputs. */
export async function recordRunInputs(data: DatasetContext, ctx: RequestContext, runId: string, inputs: readonly DatasetInput[]): Promise<void> {
  for (const input of inputs) {
    const ref = parseDatasetUri(input.dataset?.source ?? '');
    if (ref) await addDependent(data, ctx, ref, { kind: 'run', id: runId });
  }
}

const MLFLOW_TYPES = { integer: 'long', float: 'double', boolean: 'boolean', string: 'string', timestamp: 'datetime' } as const;

function refFromInput(name: string, digest: string, source: string | undefined): VersionRef | undefined {
  if (source && source.includes('@')) return { name: source.slice(0, source.lastIndexOf('@')), version: source.slice(source.lastIndexOf('@') + 1) };
  if (name && digest) return { name, version: digest };
  return undefined;
}
