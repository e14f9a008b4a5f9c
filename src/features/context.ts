/**
 * What the feature store's operations share: the service's dependencies and queries, DuckDB
 * connections, resolution of views and dataset versions, and the per-process state that outlives
 * one call (which sources are free of ties, the turns pushes take).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../core/clock.ts';
import type { RequestContext } from '../core/context.ts';
import { newHexId } from '../core/ids.ts';
import type { DatasetSchema } from '../data/domain.ts';
import type { DatasetService } from '../data/service.ts';
import type { LineageService } from '../lineage/service.ts';
import { sharedDuckDb, type DuckDb, type DuckDbConnection } from '../storage/duckdb/engine.ts';
import type { MetadataStore, OnlineStore } from '../storage/ports.ts';
import { resolveView, type Definition, type EntitySpec, type FeatureViewSpec, type ResolvedView } from './domain.ts';
import { exprRows } from './duck-values.ts';
import { tieCheckSql } from './retrieval.ts';
import type { FeatureStoreQueries } from './store.ts';

/**
 * What the feature store uses of the data module: the usability gate and local Parquet files of
 * versions (sources, entity rows, logged rows), and derived versions (training sets, pushed rows).
 */
export type FeatureDatasets = Pick<DatasetService, 'assertUsable' | 'localParquetPath' | 'createDerived' | 'deleteVersion'>;

/** What {@link FeatureStoreService} needs. */
export interface FeatureStoreDeps {
  readonly metadata: MetadataStore;
  readonly online: OnlineStore;
  readonly datasets: FeatureDatasets;
  readonly lineage: LineageService;
  readonly clock: Clock;
  /** Folder for scratch files (pushed rows before they are saved into their source dataset). */
  readonly scratchDir: string;
  /** Checks that a model version exists before it is linked (the registry's `getModelVersion`). */
  readonly modelVersionExists?: (ctx: RequestContext, name: string, version: string) => Promise<unknown>;
  /** Close the online store when the service closes (it was opened for it). */
  readonly closeOnline?: boolean;
  /** The DuckDB engine; the process's shared one by default (one buffer pool and thread pool for every module). */
  readonly duck?: DuckDb;
}

/** Progress of a long operation. */
export interface Progress {
  readonly phase: string;
  readonly view?: string;
  readonly done: number;
  readonly total: number;
}

/** The environment the feature store's operations run in; one per {@link FeatureStoreService}. */
export class FeatureStoreContext {
  readonly #uniqueSources = new Map<string, boolean>();
  /** The last work queued on each key, for {@link exclusive}. */
  readonly #queues = new Map<string, Promise<void>>();

  constructor(
    readonly deps: FeatureStoreDeps,
    readonly queries: FeatureStoreQueries,
  ) {}

  /** Runs `fn` on a DuckDB connection of its own (its temporary tables go with it). */
  async withConnection<T>(fn: (conn: DuckDbConnection) => Promise<T>): Promise<T> {
    return (await (this.deps.duck ? Promise.resolve(this.deps.duck) : sharedDuckDb())).withConnection(fn);
  }

  /** A feature view definition resolved against the current entities. */
  async resolveView(ctx: RequestContext, def: Definition): Promise<ResolvedView> {
    const entities = await this.queries.heads(this.deps.metadata.db, ctx.project, 'entity');
    return resolveView(def.spec as FeatureViewSpec, new Map(entities.map((e) => [e.name, e.spec as EntitySpec])), def.version);
  }

  /**
   * A dataset version (the latest when `version` is absent) with a local file DuckDB can read. A
   * version whose validation failed is refused (INVALID_STATE, as training refuses it): sources,
   * entity rows and logged rows all pass this gate; `field` is the request field that named the
   * dataset (entity_dataset, logged_dataset), which the refusal then names.
   */
  async resolveDataset(ctx: RequestContext, name: string, version?: string, field?: string): Promise<{ name: string; version: string; path: string; schema: DatasetSchema }> {
    const usable = await this.deps.datasets.assertUsable(ctx, name, version ?? 'latest', field ? { field } : {});
    const found = await this.deps.datasets.localParquetPath(ctx, name, usable.version);
    return { name, ...found };
  }

  /**
   * Whether no two rows of a source share join keys and event time. Dataset versions never change
   * (they are named by content), so the answer is kept for the life of the process.
   */
  async unique(conn: DuckDbConnection, view: ResolvedView, path: string, from: string): Promise<boolean> {
    const key = `${path}\u0000${view.keys.map((k) => k.name).join(',')}\u0000${view.spec.source.timestamp}`;
    let answer = this.#uniqueSources.get(key);
    if (answer === undefined) {
      const [{ ties }] = await exprRows(conn, tieCheckSql(view, from));
      answer = ties === 0;
      this.#uniqueSources.set(key, answer);
    }
    return answer;
  }

  /** Runs `fn` once the work queued on `key` before it has finished: one at a time per key. */
  async exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#queues.get(key) ?? Promise.resolve();
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    const queued = before.then(() => done);
    this.#queues.set(key, queued);
    await before;
    try {
      return await fn();
    } finally {
      release();
      if (this.#queues.get(key) === queued) this.#queues.delete(key);
    }
  }

  /** A fresh path named `name` in the scratch folder (which it creates). */
  async scratch(name: string): Promise<string> {
    await mkdir(this.deps.scratchDir, { recursive: true });
    return join(this.deps.scratchDir, `${newHexId()}-${name}`);
  }
}

