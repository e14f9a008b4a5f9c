/**
 * Tracking's domain types, in MLflow's wire shape (snake_case, ids as strings, times in ms) so that
 * the MLflow-compatible routes pass them through unchanged.
 */

/** Lifecycle of experiments and runs. */
export type LifecycleStage = 'active' | 'deleted';

/** MLflow run statuses. */
export const RUN_STATUSES = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'] as const;
/** A run status. */
export type RunStatus = (typeof RUN_STATUSES)[number];

/** A key/value tag. */
export interface Tag {
  key: string;
  value: string;
}

/** An experiment. */
export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: LifecycleStage;
  last_update_time: number;
  creation_time: number;
  tags: Tag[];
}

/** One metric point. `value` may be NaN or ±Infinity. */
export interface Metric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

/** A run parameter. */
export interface Param {
  key: string;
  value: string;
}

/** The identifying part of a run. `run_uuid` repeats `run_id` for old clients. */
export interface RunInfo {
  run_id: string;
  run_uuid: string;
  run_name: string;
  experiment_id: string;
  user_id: string;
  status: RunStatus;
  start_time: number;
  end_time?: number;
  artifact_uri: string;
  lifecycle_stage: LifecycleStage;
}

/** What was logged to a run (metrics are the latest point of each key). */
export interface RunData {
  metrics: Metric[];
  params: Param[];
  tags: Tag[];
}

/** A dataset as MLflow's `log-inputs` describes it. */
export interface Dataset {
  name: string;
  digest: string;
  source_type: string;
  source: string;
  schema?: string;
  profile?: string;
}

/** A dataset used by a run, with tags such as `mlflow.data.context`. */
export interface DatasetInput {
  tags: Tag[];
  dataset: Dataset;
}

/** A run. */
export interface Run {
  info: RunInfo;
  data: RunData;
  inputs: { dataset_inputs: DatasetInput[] };
}

/** Which lifecycle stages a search includes. */
export type ViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';

/** The view types in their protobuf enum order (ACTIVE_ONLY = 1). */
export const VIEW_TYPES: readonly ViewType[] = ['ACTIVE_ONLY', 'DELETED_ONLY', 'ALL'];

/** Lifecycle stages a view type includes. */
export function stagesOf(view: ViewType): LifecycleStage[] {
  return view === 'ACTIVE_ONLY' ? ['active'] : view === 'DELETED_ONLY' ? ['deleted'] : ['active', 'deleted'];
}

/** What creating an experiment takes. */
export interface CreateExperimentInput {
  name: string;
  artifact_location?: string;
  tags?: Tag[];
}

/** What creating a run takes; every field is optional (experiment `0`, a generated name, now). */
export interface CreateRunInput {
  experiment_id?: string;
  user_id?: string;
  run_name?: string;
  start_time?: number;
  tags?: Tag[];
}

/** What updating a run may change. */
export interface UpdateRunInput {
  status?: string;
  end_time?: number;
  run_name?: string;
}

/** What `log-batch` carries. */
export interface LogBatchInput {
  metrics?: Metric[];
  params?: Param[];
  tags?: Tag[];
}

/** Search options shared by experiment and run searches. */
export interface SearchOptions {
  filter?: string;
  order_by?: string[];
  max_results?: number;
  page_token?: string;
}

/** A page of experiments. */
export interface ExperimentPage {
  experiments: Experiment[];
  next_page_token?: string;
}

/** What a run search takes. */
export interface SearchRunsInput extends SearchOptions {
  /** Experiments to search; absent means every experiment of the project, empty means none (as MLflow). */
  experiment_ids?: string[];
  run_view_type?: ViewType;
}

/** A page of runs. */
export interface RunPage {
  runs: Run[];
  next_page_token?: string;
}

/** A page of a metric's history. */
export interface MetricHistoryPage {
  metrics: Metric[];
  next_page_token?: string;
}
