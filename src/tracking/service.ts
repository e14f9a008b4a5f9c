/** Tracking: experiments, runs, params, metrics, tags, dataset inputs and run artifacts. */
import type { Clock } from '../core/clock.ts';
import type { BlobStore, MetadataStore } from '../storage/ports.ts';

/** What {@link TrackingService} needs. */
export interface TrackingDeps {
  readonly metadata: MetadataStore;
  readonly blobs: BlobStore;
  readonly clock: Clock;
  /** Largest artifact upload accepted, in bytes. */
  readonly maxArtifactBytes: number;
}

/** The tracking module's operations. */
export class TrackingService {
  constructor(readonly deps: TrackingDeps) {}
}
