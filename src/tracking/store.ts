/**
 * Tracking's queries against the metadata store. Only the tracking tables are touched here; every
 * method takes the query builder to use, so that the service can run several in one transaction.
 */
import { CompiledQuery, sql, type Kysely, type RawBuilder, type Selectable } from 'kysely';
import type { SqlDialect } from '../storage/ports.ts';
import type { Database, ExperimentsTable, RunsTable } from '../storage/schema.ts';
import type { DatasetInput, Experiment, LifecycleStage, Metric, Run, RunInfo, RunStatus, Tag } from './domain.ts';

/** A row of `experiments`. */
export type ExperimentRow = Selectable<ExperimentsTable>;
/** A row of `runs`. */
export type RunRow = Selectable<RunsTable>;

/** The query builder a store method runs on: the store's own, or a transaction's. */
export type Db = Kysely<Database>;

/** A fragment of SQL built with Kysely's `sql` tag. */
export type SqlFragment = RawBuilder<unknown>;

/** What a run search asks of the store. */
export interface RunSearchQuery {
  readonly experimentIds: readonly number[];
  readonly stages: readonly string[];
  readonly conditions: readonly SqlFragment[];
  readonly joins: readonly SqlFragment[];
  readonly orderBy: readonly SqlFragment[];
  readonly limit: number;
  readonly offset: number;
}


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

function byKey(a: { key: string }, b: { key: string }): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
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

  /** The run `runId` if it belongs to an experiment of `project`. */
  async run(db: Db, project: string, runId: string): Promise<RunRow | undefined> {
    return db
      .selectFrom('runs')
      .innerJoin('experiments', 'experiments.experiment_id', 'runs.experiment_id')
      .selectAll('runs')
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
          .execute(),
        db.selectFrom('params').select(['run_uuid', 'key', 'value']).where('run_uuid', 'in', slice).execute(),
        db.selectFrom('tags').select(['run_uuid', 'key', 'value']).where('run_uuid', 'in', slice).execute(),
        this.datasetInputs(db, { runIds: slice }),
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
    // Sorting a few keys per run here is cheaper than a database sort of the whole page.
    for (const run of ordered) {
      run.data.metrics.sort(byKey);
      run.data.params.sort(byKey);
      run.data.tags.sort(byKey);
    }
    return ordered;
  }

  /** Dataset inputs, with their tags, by run id: of the given runs, or of every run of an experiment. */
  async datasetInputs(db: Db, of: { runIds: readonly string[] } | { experimentId: number }): Promise<Map<string, DatasetInput[]>> {
    const out = new Map<string, DatasetInput[]>();
    if ('runIds' in of && of.runIds.length === 0) return out;
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
      .where('inputs.destination_id', 'in', 'runIds' in of ? of.runIds : db.selectFrom('runs').select('run_uuid').where('experiment_id', '=', of.experimentId))
      .orderBy('datasets.name')
      .orderBy('datasets.digest')
      .execute();
    if (rows.length === 0) return out;
    // In slices, to stay under the dialects' bound-parameter limits when an experiment has many inputs.
    const tagRows = [];
    for (let i = 0; i < rows.length; i += 5000) {
      const slice = rows.slice(i, i + 5000).map((r) => r.input_uuid);
      tagRows.push(...(await db.selectFrom('input_tags').select(['input_uuid', 'name', 'value']).where('input_uuid', 'in', slice).orderBy('name').execute()));
    }
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

  // ---- writes -------------------------------------------------------------------------------

  /** True when the project exists. */
  async projectExists(db: Db, project: string): Promise<boolean> {
    return (await db.selectFrom('projects').select('name').where('name', '=', project).executeTakeFirst()) !== undefined;
  }

  /** Inserts an experiment and returns its id. */
  async insertExperiment(
    db: Db,
    row: { project: string; name: string; artifact_location: string; creation_time: number },
  ): Promise<number> {
    const inserted = await db
      .insertInto('experiments')
      .values({
        project: row.project,
        name: row.name,
        artifact_location: row.artifact_location,
        lifecycle_stage: 'active',
        creation_time: row.creation_time,
        last_update_time: row.creation_time,
      })
      .returning('experiment_id')
      .executeTakeFirstOrThrow();
    return Number(inserted.experiment_id);
  }

  /** Changes columns of an experiment. */
  async updateExperiment(
    db: Db,
    id: number,
    patch: Partial<Pick<ExperimentRow, 'name' | 'artifact_location' | 'lifecycle_stage' | 'last_update_time'>>,
  ): Promise<void> {
    await db.updateTable('experiments').set(patch).where('experiment_id', '=', id).execute();
  }

  /** Sets experiment tags (insert or overwrite). */
  async upsertExperimentTags(db: Db, id: number, tags: readonly Tag[]): Promise<void> {
    if (tags.length === 0) return;
    await db
      .insertInto('experiment_tags')
      .values(tags.map((t) => ({ experiment_id: id, key: t.key, value: t.value })))
      .onConflict((oc) => oc.columns(['experiment_id', 'key']).doUpdateSet((eb) => ({ value: eb.ref('excluded.value') })))
      .execute();
  }

  /** Deletes an experiment tag; resolves the number of rows deleted. */
  async deleteExperimentTag(db: Db, id: number, key: string): Promise<number> {
    const result = await db.deleteFrom('experiment_tags').where('experiment_id', '=', id).where('key', '=', key).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Sets the lifecycle stage of every run of an experiment (the experiment delete/restore cascade). */
  async setExperimentRunsStage(db: Db, experimentId: number, stage: LifecycleStage, deletedTime: number | null): Promise<void> {
    await db.updateTable('runs').set({ lifecycle_stage: stage, deleted_time: deletedTime }).where('experiment_id', '=', experimentId).execute();
  }

  /** A page of experiments of `project`. `conditions` and `orderBy` come from `search-sql.ts`. */
  async searchExperiments(
    db: Db,
    query: { project: string; stages: readonly string[]; conditions: readonly SqlFragment[]; orderBy: readonly SqlFragment[]; limit: number; offset: number },
  ): Promise<ExperimentRow[]> {
    const where = sql.join([sql`experiments.project = ${query.project}`, sql`experiments.lifecycle_stage in (${sql.join(query.stages)})`, ...query.conditions], sql` and `);
    const result = await sql<ExperimentRow>`select experiments.* from experiments where ${where} order by ${sql.join(query.orderBy)} limit ${query.limit} offset ${query.offset}`.execute(db);
    return result.rows;
  }

  /** Inserts a run row. */
  async insertRun(db: Db, row: RunRow): Promise<void> {
    await db.insertInto('runs').values(row).execute();
  }

  /** Changes columns of a run. */
  async updateRun(db: Db, runId: string, patch: Partial<Omit<RunRow, 'run_uuid'>>): Promise<void> {
    await db.updateTable('runs').set(patch).where('run_uuid', '=', runId).execute();
  }

  /** Values of the given params of a run, by key. */
  async params(db: Db, runId: string, keys: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (keys.length === 0) return out;
    const rows = await db.selectFrom('params').select(['key', 'value']).where('run_uuid', '=', runId).where('key', 'in', keys).execute();
    for (const row of rows) out.set(row.key, row.value);
    return out;
  }

  /** Inserts params that are not there yet; resolves the keys actually inserted. */
  async insertParams(db: Db, runId: string, params: readonly { key: string; value: string }[]): Promise<Set<string>> {
    if (params.length === 0) return new Set();
    const rows = await db
      .insertInto('params')
      .values(params.map((p) => ({ run_uuid: runId, key: p.key, value: p.value })))
      .onConflict((oc) => oc.doNothing())
      .returning('key')
      .execute();
    return new Set(rows.map((r) => r.key));
  }

  /** Sets run tags (insert or overwrite); `tags` must hold each key once. */
  async upsertTags(db: Db, runId: string, tags: readonly Tag[]): Promise<void> {
    if (tags.length === 0) return;
    await db
      .insertInto('tags')
      .values(tags.map((t) => ({ run_uuid: runId, key: t.key, value: t.value })))
      .onConflict((oc) => oc.columns(['run_uuid', 'key']).doUpdateSet((eb) => ({ value: eb.ref('excluded.value') })))
      .execute();
  }

  /** The value of the run tag `key`, if set. */
  async tagValue(db: Db, runId: string, key: string): Promise<string | undefined> {
    const row = await db.selectFrom('tags').select('value').where('run_uuid', '=', runId).where('key', '=', key).executeTakeFirst();
    return row?.value ?? undefined;
  }

  /**
   * Sets the run tag `key` to `value` only if it still holds `expected` (absent: not set); resolves
   * whether it did. Two writers that read the same value cannot both succeed.
   */
  async compareAndSetTag(db: Db, runId: string, key: string, expected: string | undefined, value: string): Promise<boolean> {
    if (expected === undefined) {
      const result = await db
        .insertInto('tags')
        .values({ run_uuid: runId, key, value })
        .onConflict((oc) => oc.columns(['run_uuid', 'key']).doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
    }
    const result = await db
      .updateTable('tags')
      .set({ value })
      .where('run_uuid', '=', runId)
      .where('key', '=', key)
      .where('value', '=', expected)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Deletes a run tag; resolves the number of rows deleted. */
  async deleteTag(db: Db, runId: string, key: string): Promise<number> {
    const result = await db.deleteFrom('tags').where('run_uuid', '=', runId).where('key', '=', key).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /**
   * Appends metric points (points already stored, or repeated in `points`, are skipped) and raises
   * each key's row of `latest_metrics` to the point of `latest` when that one is later (step, then
   * timestamp, then stored value). `latest` holds at most one point per key. NaN is stored as 0 with
   * `is_nan` = 1.
   *
   * The statements are built as text with positional parameters: a batch of 1,000 points is two
   * statements, and the query builder's per-value nodes would cost more than the database does.
   */
  async appendMetrics(db: Db, runId: string, points: readonly Metric[], latest: readonly Metric[]): Promise<void> {
    const upsert =
      'on conflict (run_uuid, key) do update set value = excluded.value, is_nan = excluded.is_nan, timestamp = excluded.timestamp, step = excluded.step ' +
      'where excluded.step > lm.step or (excluded.step = lm.step and (excluded.timestamp > lm.timestamp or ' +
      '(excluded.timestamp = lm.timestamp and excluded.value > lm.value)))';
    for (const [table, rows, suffix] of [
      ['metrics', points, 'on conflict do nothing'],
      ['latest_metrics as lm', latest, upsert],
    ] as const) {
      const perStatement = Math.floor(this.#maxParameters / 5);
      for (let start = 0; start < rows.length; start += perStatement) {
        const end = Math.min(rows.length, start + perStatement);
        const params: unknown[] = [];
        let values = '';
        for (let i = start; i < end; i++) {
          const m = rows[i];
          const isNan = Number.isNaN(m.value);
          const n = params.length;
          if (i > start) values += ', ';
          // is_nan is a literal: one parameter fewer per row, and the text stays short.
          values +=
            this.dialect === 'postgres'
              ? `($${n + 1}, $${n + 2}, $${n + 3}, ${isNan ? 1 : 0}, $${n + 4}, $${n + 5})`
              : `(?, ?, ?, ${isNan ? 1 : 0}, ?, ?)`;
          params.push(runId, m.key, isNan ? 0 : m.value, m.timestamp, m.step);
        }
        await db.executeQuery(CompiledQuery.raw(`insert into ${table} (run_uuid, key, value, is_nan, timestamp, step) values ${values} ${suffix}`, params));
      }
    }
  }

  /** Bound parameters one statement may carry, with room to spare (SQLite: 32,766; PostgreSQL: 65,535). */
  get #maxParameters(): number {
    return this.dialect === 'postgres' ? 65_000 : 32_000;
  }

  /** Ids of the given experiments (every experiment when `ids` is undefined) that belong to `project`. */
  async experimentIdsOf(db: Db, project: string, ids: readonly number[] | undefined): Promise<number[]> {
    if (ids !== undefined && ids.length === 0) return [];
    let query = db.selectFrom('experiments').select('experiment_id').where('project', '=', project);
    if (ids !== undefined) query = query.where('experiment_id', 'in', ids);
    const rows = await query.execute();
    return rows.map((r) => Number(r.experiment_id));
  }

  /** A page of runs; `conditions`, `joins` and `orderBy` come from `search-sql.ts`. */
  async searchRuns(db: Db, query: RunSearchQuery): Promise<RunRow[]> {
    if (query.experimentIds.length === 0) return [];
    return (await this.searchRunsSql(query).execute(db)).rows;
  }

  /** The SQL of {@link searchRuns} (`experimentIds` must not be empty); tests read its query plan. */
  searchRunsSql(query: RunSearchQuery): RawBuilder<RunRow> {
    const where = sql.join(
      [sql`runs.experiment_id in (${sql.join(query.experimentIds)})`, sql`runs.lifecycle_stage in (${sql.join(query.stages)})`, ...query.conditions],
      sql` and `,
    );
    const joins = query.joins.length > 0 ? sql.join(query.joins, sql` `) : sql``;
    return sql<RunRow>`select runs.* from runs ${joins} where ${where} order by ${sql.join(query.orderBy)} limit ${query.limit} offset ${query.offset}`;
  }

  /** Datasets of an experiment with the given (name, digest) pairs, by `name\0digest`. */
  async datasetsByNameDigest(db: Db, experimentId: number, names: readonly string[], digests: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (names.length === 0) return out;
    const rows = await db
      .selectFrom('datasets')
      .select(['dataset_uuid', 'name', 'digest'])
      .where('experiment_id', '=', experimentId)
      .where('name', 'in', names)
      .where('digest', 'in', digests)
      .execute();
    for (const r of rows) out.set(`${r.name}\0${r.digest}`, r.dataset_uuid);
    return out;
  }

  /** Inserts datasets. */
  async insertDatasets(db: Db, rows: readonly Selectable<Database['datasets']>[]): Promise<void> {
    if (rows.length > 0) await db.insertInto('datasets').values([...rows]).execute();
  }

  /** Dataset ids already recorded as inputs of a run. */
  async runInputSources(db: Db, runId: string, datasetIds: readonly string[]): Promise<Set<string>> {
    if (datasetIds.length === 0) return new Set();
    const rows = await db
      .selectFrom('inputs')
      .select('source_id')
      .where('source_type', '=', 'DATASET')
      .where('destination_type', '=', 'RUN')
      .where('destination_id', '=', runId)
      .where('source_id', 'in', datasetIds)
      .execute();
    return new Set(rows.map((r) => r.source_id));
  }

  /** Inserts input edges and their tags. */
  async insertInputs(
    db: Db,
    inputs: readonly Selectable<Database['inputs']>[],
    tags: readonly Selectable<Database['input_tags']>[],
  ): Promise<void> {
    if (inputs.length > 0) await db.insertInto('inputs').values([...inputs]).execute();
    if (tags.length > 0) await db.insertInto('input_tags').values([...tags]).execute();
  }
}
