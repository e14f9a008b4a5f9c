/** The services of every module, built once over the stores and handed to the transports. */
import type { Clock } from '../core/clock.ts';
import type { ServerConfig } from '../core/config.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetService } from '../data/service.ts';
import { EvaluationService } from '../evaluation/service.ts';
import { FeatureStoreService } from '../features/service.ts';
import { JobService, stableWorkerId } from '../jobs/service.ts';
import { LineageService } from '../lineage/service.ts';
import { openOnlineStore } from '../storage/index.ts';
import type { BlobStore, MetadataStore, OnlineStore } from '../storage/ports.ts';
import { RegistryService } from '../registry/service.ts';
import { ArtifactService } from '../tracking/artifacts.ts';
import { TrackingService } from '../tracking/service.ts';
import { TrainingService } from '../training/service.ts';

/** What services are built from. */
export interface ServiceDeps {
  readonly metadata: MetadataStore;
  readonly blobs: BlobStore;
  readonly clock: Clock;
  readonly config: Pick<ServerConfig, 'maxArtifactBytes'> & Partial<Pick<ServerConfig, 'home' | 'online'>>;
  /** The online feature store; opened from `config.online` (else an in-memory SQLite) when absent. */
  readonly online?: OnlineStore;
}

/** Every module's service. */
export interface Services {
  readonly tracking: TrackingService;
  readonly registry: RegistryService;
  readonly artifacts: ArtifactService;
  readonly datasets: DatasetService;
  readonly features: FeatureStoreService;
  readonly lineage: LineageService;
  readonly jobs: JobService;
  readonly training: TrainingService;
  readonly evaluation: EvaluationService;
}

/** Builds every service. */
export function createServices(deps: ServiceDeps): Services {
  const datasets = new DatasetService({
    metadata: deps.metadata,
    blobs: deps.blobs,
    clock: deps.clock,
    maxUploadBytes: deps.config.maxArtifactBytes,
    home: deps.config.home,
  });
  const tracking = new TrackingService({
    metadata: deps.metadata,
    blobs: deps.blobs,
    clock: deps.clock,
    maxArtifactBytes: deps.config.maxArtifactBytes,
    datasetInputs: {
      resolve: (ctx, input) => datasets.resolveRunInput(ctx, input),
      recorded: (ctx, runId, inputs) => datasets.recordRunInputs(ctx, runId, inputs),
    },
  });
  const registry = new RegistryService({ metadata: deps.metadata, clock: deps.clock, tracking });
  const artifacts = new ArtifactService({ blobs: deps.blobs, maxArtifactBytes: deps.config.maxArtifactBytes });
  const lineage = new LineageService({ metadata: deps.metadata, clock: deps.clock });
  const features = new FeatureStoreService({
    metadata: deps.metadata,
    online: deps.online ?? openOnlineStore(deps.config.online ?? { kind: 'sqlite', path: ':memory:' }),
    closeOnline: deps.online === undefined,
    datasets,
    lineage,
    clock: deps.clock,
    scratchDir: join(deps.config.home ?? tmpdir(), 'tmp', 'features'),
    modelVersionExists: (ctx, name, version) => registry.getModelVersion(ctx, name, version),
  });
  const jobs = new JobService({ metadata: deps.metadata, clock: deps.clock, workerId: stableWorkerId(deps.config.home) });
  const training = new TrainingService({ clock: deps.clock, tracking, registry, artifacts, datasets, features, lineage, jobs });
  const evaluation = new EvaluationService({ metadata: deps.metadata, clock: deps.clock, registry, tracking, artifacts, datasets, jobs });
  return { tracking, registry, artifacts, datasets, features, lineage, jobs, training, evaluation };
}
