/**
 * Tracking's queries against the metadata store. Only the tracking tables are touched here; every
 * method takes the query builder to use, so that the service can run several in one transaction.
 */
import type { Kysely, Selectable } from 'kysely';
import type { SqlDialect } from '../storage/ports.ts';
import type { Database, ExperimentsTable, RunsTable } from '../storage/schema.ts';
import type { DatasetInput, Experiment, LifecycleStage, Metric, Run, RunInfo, RunStatus, Tag } from './domain.ts';

/** A row of `experiments`. */
export type ExperimentRow = Selectable<ExperimentsTable>;
/** A row of `runs`. */
export type RunRow = Selectable<RunsTable>;

/** The query builder a store method runs on: the store's own, or a transaction's. */
export type Db = Kysely<Database>;

/** Turns a stored metric point back into its value (NaN is stored as 0 with `is_nan` = 1). */
export function metricValue(value: number, isNan: number | boolean): number {
  return isNan ? Number.NaN : Number(value);
}

/** The wire shape of an experiment row with its tags. */
export function toExperiment(row: ExperimentRow, tags: Tag[]): Experiment {
  return {
    experiment_id: String(row.experiment_id),
    name: row.name,
    artifact_location: row.artifact_location,
    lifecycle_stage: row.lifecycle_stage as LifecycleStage,
    last_update_time: Number(row.last_update_time),
    creation_time: Number(row.creation_time),
    tags,
  };
}

/** The wire shape of a run row's info. */
export function toRunInfo(row: RunRow): RunInfo {
  const info: RunInfo = {
    run_id: row.run_uuid,
    run_uuid: row.run_uuid,
    run_name: row.run_name,
    experiment_id: String(row.experiment_id),
    user_id: row.user_id,
    status: row.status as RunStatus,
    start_time: Number(row.start_time),
    artifact_uri: row.artifact_uri,
    lifecycle_stage: row.lifecycle_stage as LifecycleStage,
  };
  if (row.end_time !== null && row.end_time !== undefined) info.end_time = Number(row.end_time);
  return info;
}

/** Tracking's queries. Stateless apart from the dialect. */
export class TrackingStore {
  constructor(readonly dialect: SqlDialect) {}

  /** The experiment `id` of `project`, or undefined. */
  async experiment(db: Db, project: string, id: number): Promise<ExperimentRow | undefined> {
    return db.selectFrom('experiments').selectAll().where('experiment_id', '=', id).where('project', '=', project).executeTakeFirst();
  }

  /** The experiment named `name` in `project`, or undefined. */
  async experimentByName(db: Db, project: string, name: string): Promise<ExperimentRow | undefined> {
    return db.selectFrom('experiments').selectAll().where('project', '=', project).where('name', '=', name).executeTakeFirst();
  }

  /** Tags of the given experiments, grouped by id, each list sorted by key. */
  async experimentTags(db: Db, ids: readonly number[]): Promise<Map<number, Tag[]>> {
    const out = new Map<number, Tag[]>();
    if (ids.length === 0) return out;
    const rows = await db
      .selectFrom('experiment_tags')
      .select(['experiment_id', 'key', 'value'])
      .where('experiment_id', 'in', ids)
      .orderBy('key')
      .execute();
    for (const row of rows) {
      const id = Number(row.experiment_id);
      let list = out.get(id);
      if (!list) out.set(id, (list = []));
      list.push({ key: row.key, value: row.value });
    }
    return out;
  }

  /** Experiments with their tags, in the order of `rows`. */
  async experimentsWithTags(db: Db, rows: readonly ExperimentRow[]): Promise<Experiment[]> {
    const tags = await this.experimentTags(
      db,
      rows.map((r) => Number(r.experiment_id)),
    );
    return rows.map((r) => toExperiment(r, tags.get(Number(r.experiment_id)) ?? []));
  }

  /** The run `runId` if it belongs to an experiment of `project`, with that experiment's lifecycle stage. */
  async run(db: Db, project: string, runId: string): Promise<(RunRow & { experiment_stage: string }) | undefined> {
    return db
      .selectFrom('runs')
      .innerJoin('experiments', 'experiments.experiment_id', 'runs.experiment_id')
      .selectAll('runs')
      .select('experiments.lifecycle_stage as experiment_stage')
      .where('runs.run_uuid', '=', runId)
      .where('experiments.project', '=', project)
      .executeTakeFirst();
  }

  /** Full runs (info, latest metrics, params, tags, dataset inputs) for `rows`, in their order. */
  async runsWithData(db: Db, rows: readonly RunRow[]): Promise<Run[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.run_uuid);
    const runs = new Map<string, Run>();
    const ordered: Run[] = [];
    for (const row of rows) {
      const run: Run = { info: toRunInfo(row), data: { metrics: [], params: [], tags: [] }, inputs: { dataset_inputs: [] } };
      runs.set(row.run_uuid, run);
      ordered.push(run);
    }
    // Large pages are read in slices to stay under the dialects' bound-parameter limits.
    for (let i = 0; i < ids.length; i += 5000) {
      const slice = ids.slice(i, i + 5000);
      const [metrics, params, tags, inputs] = await Promise.all([
        db
          .selectFrom('latest_metrics')
          .select(['run_uuid', 'key', 'value', 'is_nan', 'timestamp', 'step'])
          .where('run_uuid', 'in', slice)
          .orderBy('key')
          .execute(),
        db.selectFrom('params').select(['run_uuid', 'key', 'value']).where('run_uuid', 'in', slice).orderBy('key').execute(),
        db.selectFrom('tags').select(['run_uuid', 'key', 'value']).where('run_uuid', 'in', slice).orderBy('key').execute(),
        this.datasetInputs(db, slice),
      ]);
      for (const m of metrics) {
        runs.get(m.run_uuid)!.data.metrics.push({
          key: m.key,
          value: metricValue(m.value, m.is_nan),
          timestamp: Number(m.timestamp),
          step: Number(m.step),
        });
      }
      for (const p of params) runs.get(p.run_uuid)!.data.params.push({ key: p.key, value: p.value });
      for (const t of tags) runs.get(t.run_uuid)!.data.tags.push({ key: t.key, value: t.value });
      for (const [runId, list] of inputs) runs.get(runId)!.inputs.dataset_inputs = list;
    }
    return ordered;
  }

  /** Dataset inputs of the given runs, with their tags. */
  async datasetInputs(db: Db, runIds: readonly string[]): Promise<Map<string, DatasetInput[]>> {
    const out = new Map<string, DatasetInput[]>();
    if (runIds.length === 0) return out;
    const rows = await db
      .selectFrom('inputs')
      .innerJoin('datasets', 'datasets.dataset_uuid', 'inputs.source_id')
      .select([
        'inputs.input_uuid',
        'inputs.destination_id',
        'datasets.name',
        'datasets.digest',
        'datasets.dataset_source_type',
        'datasets.dataset_source',
        'datasets.dataset_schema',
        'datasets.dataset_profile',
      ])
      .where('inputs.source_type', '=', 'DATASET')
      .where('inputs.destination_type', '=', 'RUN')
      .where('inputs.destination_id', 'in', runIds)
      .orderBy('datasets.name')
      .orderBy('datasets.digest')
      .execute();
    if (rows.length === 0) return out;
    const tagRows = await db
      .selectFrom('input_tags')
      .select(['input_uuid', 'name', 'value'])
      .where(
        'input_uuid',
        'in',
        rows.map((r) => r.input_uuid),
      )
      .orderBy('name')
      .execute();
    const tagsByInput = new Map<string, Tag[]>();
    for (const t of tagRows) {
      let list = tagsByInput.get(t.input_uuid);
      if (!list) tagsByInput.set(t.input_uuid, (list = []));
      list.push({ key: t.name, value: t.value });
    }
    for (const r of rows) {
      let list = out.get(r.destination_id);
      if (!list) out.set(r.destination_id, (list = []));
      const dataset: DatasetInput['dataset'] = {
        name: r.name,
        digest: r.digest,
        source_type: r.dataset_source_type,
        source: r.dataset_source,
      };
      if (r.dataset_schema !== null) dataset.schema = r.dataset_schema;
      if (r.dataset_profile !== null) dataset.profile = r.dataset_profile;
      list.push({ tags: tagsByInput.get(r.input_uuid) ?? [], dataset });
    }
    return out;
  }

  /** Every point of metric `key` of a run, ordered by step, timestamp, value. */
  async metricHistory(db: Db, runId: string, key: string, limit?: number, offset = 0): Promise<Metric[]> {
    let query = db
      .selectFrom('metrics')
      .select(['key', 'value', 'is_nan', 'timestamp', 'step'])
      .where('run_uuid', '=', runId)
      .where('key', '=', key)
      .orderBy('step')
      .orderBy('timestamp')
      .orderBy('is_nan')
      .orderBy('value');
    if (limit !== undefined) query = query.limit(limit).offset(offset);
    const rows = await query.execute();
    return rows.map((m) => ({ key: m.key, value: metricValue(m.value, m.is_nan), timestamp: Number(m.timestamp), step: Number(m.step) }));
  }
}
