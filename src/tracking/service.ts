/** Tracking: experiments, runs, params, metrics, tags, dataset inputs and run artifacts. */
import type { Clock } from '../core/clock.ts';
import type { RequestContext } from '../core/context.ts';
import { notFound } from '../core/errors.ts';
import type { BlobStore, MetadataStore } from '../storage/ports.ts';
import type { Experiment, Run } from './domain.ts';
import { TrackingStore } from './store.ts';

/** What {@link TrackingService} needs. */
export interface TrackingDeps {
  readonly metadata: MetadataStore;
  readonly blobs: BlobStore;
  readonly clock: Clock;
  /** Largest artifact upload accepted, in bytes. */
  readonly maxArtifactBytes: number;
}

/** Experiment ids are decimal integers on the wire; anything else names no experiment. */
export function parseExperimentId(raw: string): number | undefined {
  if (!/^\d{1,18}$/.test(raw)) return undefined;
  return Number(raw);
}

/** The tracking module's operations. */
export class TrackingService {
  readonly store: TrackingStore;

  constructor(readonly deps: TrackingDeps) {
    this.store = new TrackingStore(deps.metadata.dialect);
  }

  /** The experiment `experimentId` of the caller's project (deleted ones included). */
  async getExperiment(ctx: RequestContext, experimentId: string): Promise<Experiment> {
    const db = this.deps.metadata.db;
    const id = parseExperimentId(experimentId);
    const row = id === undefined ? undefined : await this.store.experiment(db, ctx.project, id);
    if (!row) throw notFound(`No Experiment with id=${experimentId} exists`);
    const [experiment] = await this.store.experimentsWithTags(db, [row]);
    return experiment;
  }

  /** The run `runId` of the caller's project (deleted ones included); RESOURCE_DOES_NOT_EXIST otherwise. */
  async getRun(ctx: RequestContext, runId: string): Promise<Run> {
    const db = this.deps.metadata.db;
    const row = await this.store.run(db, ctx.project, runId);
    if (!row) throw notFound(`Run with id=${runId} not found`);
    const { experiment_stage: _stage, ...run } = row;
    const [full] = await this.store.runsWithData(db, [run]);
    return full;
  }
}
