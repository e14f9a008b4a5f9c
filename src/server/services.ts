/** The services of every module, built once over the stores and handed to the transports. */
import type { Clock } from '../core/clock.ts';
import type { ServerConfig } from '../core/config.ts';
import { DatasetService } from '../data/service.ts';
import type { BlobStore, MetadataStore } from '../storage/ports.ts';
import { RegistryService } from '../registry/service.ts';
import { ArtifactService } from '../tracking/artifacts.ts';
import { TrackingService } from '../tracking/service.ts';

/** What services are built from. */
export interface ServiceDeps {
  readonly metadata: MetadataStore;
  readonly blobs: BlobStore;
  readonly clock: Clock;
  readonly config: Pick<ServerConfig, 'maxArtifactBytes'> & Partial<Pick<ServerConfig, 'home'>>;
}

/** Every module's service. */
export interface Services {
  readonly tracking: TrackingService;
  readonly registry: RegistryService;
  readonly artifacts: ArtifactService;
  readonly datasets: DatasetService;
}

/** Builds every service. */
export function createServices(deps: ServiceDeps): Services {
  const tracking = new TrackingService({
    metadata: deps.metadata,
    blobs: deps.blobs,
    clock: deps.clock,
    maxArtifactBytes: deps.config.maxArtifactBytes,
  });
  const registry = new RegistryService({ metadata: deps.metadata, clock: deps.clock, tracking });
  const artifacts = new ArtifactService({ blobs: deps.blobs, maxArtifactBytes: deps.config.maxArtifactBytes });
  const datasets = new DatasetService({
    metadata: deps.metadata,
    blobs: deps.blobs,
    clock: deps.clock,
    maxUploadBytes: deps.config.maxArtifactBytes,
    home: deps.config.home,
  });
  return { tracking, registry, artifacts, datasets };
}
