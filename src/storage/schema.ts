/**
 * The shape of the metadata database, as Kysely sees it. The tables are created by the versioned
 * migrations in `./migrations/`; each module queries only its own tables, from its `store.ts`.
 *
 * Timestamps are integer milliseconds since the Unix epoch. Booleans are integers 0/1 so that one
 * query works on every dialect.
 */
import type { Generated } from 'kysely';

/** Namespaces: every resource belongs to one. */
export interface ProjectsTable {
  name: string;
  description: string | null;
  created_at: number;
}

/** tracking: MLflow experiments. */
export interface ExperimentsTable {
  experiment_id: Generated<number>;
  project: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: string;
  creation_time: number;
  last_update_time: number;
}

/** tracking: experiment tags. */
export interface ExperimentTagsTable {
  experiment_id: number;
  key: string;
  value: string;
}

/** tracking: runs. */
export interface RunsTable {
  run_uuid: string;
  experiment_id: number;
  run_name: string;
  user_id: string;
  status: string;
  start_time: number;
  end_time: number | null;
  lifecycle_stage: string;
  artifact_uri: string;
  deleted_time: number | null;
}

/** tracking: run params (immutable once logged). */
export interface ParamsTable {
  run_uuid: string;
  key: string;
  value: string;
}

/** tracking: run tags. */
export interface TagsTable {
  run_uuid: string;
  key: string;
  value: string;
}

/** tracking: every logged metric point. `value` is 0 when `is_nan` is 1. */
export interface MetricsTable {
  run_uuid: string;
  key: string;
  value: number;
  is_nan: number;
  timestamp: number;
  step: number;
}

/** tracking: the latest point of each metric of a run (max step, then timestamp, then value). */
export interface LatestMetricsTable {
  run_uuid: string;
  key: string;
  value: number;
  is_nan: number;
  timestamp: number;
  step: number;
}

/** tracking: datasets referenced by `log-inputs`. */
export interface DatasetsTable {
  dataset_uuid: string;
  experiment_id: number;
  name: string;
  digest: string;
  dataset_source_type: string;
  dataset_source: string;
  dataset_schema: string | null;
  dataset_profile: string | null;
}

/** tracking: which dataset was an input of which run. */
export interface InputsTable {
  input_uuid: string;
  source_type: string;
  source_id: string;
  destination_type: string;
  destination_id: string;
}

/** tracking: tags on an input (e.g. `mlflow.data.context`). */
export interface InputTagsTable {
  input_uuid: string;
  name: string;
  value: string;
}

/** registry: registered models; `id` is a surrogate so renames touch one row. */
export interface RegisteredModelsTable {
  id: Generated<number>;
  project: string;
  name: string;
  description: string | null;
  creation_time: number;
  last_updated_time: number;
  /** Highest version number ever assigned; versions are numbered from it. */
  last_version: number;
}

/** registry: tags on registered models. */
export interface RegisteredModelTagsTable {
  model_id: number;
  key: string;
  value: string;
}

/** registry: aliases pointing at versions. */
export interface RegisteredModelAliasesTable {
  model_id: number;
  alias: string;
  version: number;
}

/** registry: model versions. */
export interface ModelVersionsTable {
  model_id: number;
  version: number;
  description: string | null;
  user_id: string | null;
  current_stage: string;
  source: string;
  storage_location: string;
  run_id: string | null;
  run_link: string | null;
  status: string;
  status_message: string | null;
  creation_time: number;
  last_updated_time: number;
}

/** registry: tags on model versions. */
export interface ModelVersionTagsTable {
  model_id: number;
  version: number;
  key: string;
  value: string;
}

/** data: dataset names, with the schema declared for later uploads. */
export interface DatasetNamesTable {
  project: string;
  name: string;
  description: string | null;
  /** JSON of the declared schema, or null. */
  declared_schema: string | null;
  created_at: number;
  updated_at: number;
  /** The `seq` of the last version committed (0 before any); a commit bumps it first, holding the row. */
  last_seq: Generated<number>;
}

/** data: dataset versions; `version` is the sha256 of the canonical Parquet file. */
export interface DatasetVersionsTable {
  project: string;
  name: string;
  version: string;
  description: string | null;
  size_bytes: number;
  row_count: number;
  column_count: number;
  /** JSON of the schema. */
  schema: string;
  /** JSON of the profile; '' while the profile of a derived version is computed after its commit. */
  profile: string;
  source_format: string;
  source_name: string | null;
  source_sha256: string | null;
  source_bytes: number | null;
  /** JSON of the transformation that derived this version, or null. */
  transformation: string | null;
  created_at: number;
  created_by: string;
  /** unvalidated, passed, warned or failed: judged from the latest report of each rules set (`validationState` in data/store.ts). */
  validation_status: string;
  validation_id: string | null;
  validated_at: number | null;
  /** Place in the order the dataset's versions were committed (1, 2, …): the highest is `latest`. */
  seq: number;
}

/** data: the versions a derived version was made from, in order. */
export interface DatasetParentsTable {
  project: string;
  name: string;
  version: string;
  position: number;
  parent_project: string;
  parent_name: string;
  parent_version: string;
}

/** data: what uses a version (runs, model versions, feature views...) and so keeps it from deletion. */
export interface DatasetDependentsTable {
  project: string;
  name: string;
  version: string;
  dependent_kind: string;
  dependent_id: string;
  created_at: number;
  created_by: string;
}

/** data: validation reports, one per run of a rules set on a version. */
export interface DatasetValidationsTable {
  seq: Generated<number>;
  id: string;
  project: string;
  name: string;
  version: string;
  rules_sha256: string;
  rules: string;
  report: string;
  status: string;
  created_at: number;
  created_by: string;
}

/** features: every version of every definition (entity, feature view, on-demand view, service). */
export interface FeatureDefinitionsTable {
  project: string;
  kind: string;
  name: string;
  /** sha256 of the canonical JSON of spec and refs. */
  version: string;
  /** JSON of the spec. */
  spec: string;
  /** JSON of the versions it refers to, by `kind:name`. */
  refs: string;
  created_at: number;
  created_by: string;
}

/** features: the version each definition name currently points at. */
export interface FeatureHeadsTable {
  project: string;
  kind: string;
  name: string;
  version: string;
  updated_at: number;
}

/** features: how far each feature view version has been materialized (event time, epoch ms). */
export interface FeatureMaterializationsTable {
  project: string;
  view: string;
  view_version: string;
  high_water: number;
  last_start: number | null;
  rows_written: number;
  dataset_version: string | null;
  updated_at: number;
}

/** lineage: one edge of the graph of what was made from, or consumed, what. */
export interface LineageEdgesTable {
  project: string;
  src_kind: string;
  src_id: string;
  dst_kind: string;
  dst_id: string;
  relation: string;
  created_at: number;
  created_by: string;
}

/** jobs: background work (training, tuning, evaluation) with its progress and outcome. */
export interface JobsTable {
  id: string;
  project: string;
  kind: string;
  /** QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED. */
  status: string;
  /** Fraction done, 0..1. */
  progress: number;
  message: string | null;
  /** JSON of the validated request. */
  spec: string;
  /** JSON of the outcome, when SUCCEEDED. */
  result: string | null;
  /** JSON `{code, message}`, when FAILED or CANCELLED. */
  error: string | null;
  /** The worker that runs (or ran) the job. */
  worker: string | null;
  cancel_requested: number;
  created_at: number;
  created_by: string;
  started_at: number | null;
  finished_at: number | null;
  /** Wall-clock time the worker last reported it was alive. */
  heartbeat_at: number | null;
}

/** evaluation: stored evaluation reports of model versions. */
export interface EvaluationsTable {
  id: string;
  project: string;
  model_name: string;
  model_version: string;
  /** `name@sha256` of the dataset version evaluated on. */
  dataset: string;
  job_id: string | null;
  /** passed, failed or none (no gate declared). */
  gate_status: string;
  /** JSON of the report. */
  report: string;
  created_at: number;
  created_by: string;
}

/** Every table of the metadata database. */
export interface Database {
  projects: ProjectsTable;
  experiments: ExperimentsTable;
  experiment_tags: ExperimentTagsTable;
  runs: RunsTable;
  params: ParamsTable;
  tags: TagsTable;
  metrics: MetricsTable;
  latest_metrics: LatestMetricsTable;
  datasets: DatasetsTable;
  inputs: InputsTable;
  input_tags: InputTagsTable;
  registered_models: RegisteredModelsTable;
  registered_model_tags: RegisteredModelTagsTable;
  registered_model_aliases: RegisteredModelAliasesTable;
  model_versions: ModelVersionsTable;
  model_version_tags: ModelVersionTagsTable;
  feature_definitions: FeatureDefinitionsTable;
  feature_heads: FeatureHeadsTable;
  feature_materializations: FeatureMaterializationsTable;
  lineage_edges: LineageEdgesTable;
  dataset_names: DatasetNamesTable;
  dataset_versions: DatasetVersionsTable;
  dataset_parents: DatasetParentsTable;
  dataset_dependents: DatasetDependentsTable;
  dataset_validations: DatasetValidationsTable;
  jobs: JobsTable;
  evaluations: EvaluationsTable;
}
