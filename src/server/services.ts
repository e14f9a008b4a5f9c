/**
 * The services of every module, built once over the stores and handed to the transports, and the
 * hooks that keep what one module recorded about another's resources in step with them.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../core/clock.ts';
import type { ServerConfig } from '../core/config.ts';
import type { RequestContext } from '../core/context.ts';
import { isMloopError } from '../core/errors.ts';
import { parseDatasetUri, parseVersionRef, type Dependent, type VersionRef } from '../data/domain.ts';
import { DatasetService, type DatasetReaders } from '../data/service.ts';
import { EvaluationService } from '../evaluation/service.ts';
import { FeatureStoreService } from '../features/service.ts';
import { FeatureStoreQueries } from '../features/store.ts';
import { JobService, stableWorkerId } from '../jobs/service.ts';
import { LineageService } from '../lineage/service.ts';
import { openOnlineStore } from '../storage/index.ts';
import type { BlobStore, MetadataStore, OnlineStore } from '../storage/ports.ts';
import type { ModelVersion } from '../registry/domain.ts';
import { RegistryService, type ModelVersionListener } from '../registry/service.ts';
import type { DatasetInput } from '../tracking/domain.ts';
import { ArtifactService } from '../tracking/artifacts.ts';
import { TrackingService, type DatasetInputHook } from '../tracking/service.ts';
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
    readers: featureViewReaders(new FeatureStoreQueries()),
  });
  const tracking = new TrackingService({
    metadata: deps.metadata,
    clock: deps.clock,
    datasetInputs: runDatasetInputs(datasets),
  });
  const lineage = new LineageService({ metadata: deps.metadata, clock: deps.clock });
  const registry = new RegistryService({
    metadata: deps.metadata,
    clock: deps.clock,
    tracking,
    versionListeners: [trainedVersionDependents(datasets), modelVersionLineage(lineage)],
  });
  const artifacts = new ArtifactService({ blobs: deps.blobs, maxArtifactBytes: deps.config.maxArtifactBytes });
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

/**
 * Runs and the dataset versions they read: `log-inputs` of an `mloop-dataset:` URI records the run as
 * a dependent of that version; deleting the run releases it, restoring the run takes it again.
 */
function runDatasetInputs(datasets: DatasetService): DatasetInputHook {
  const each = async (inputs: readonly DatasetInput[], fn: (ref: VersionRef) => Promise<unknown>) => {
    for (const input of inputs) {
      const ref = parseDatasetUri(input.dataset?.source ?? '');
      if (ref) await ignoreMissing(fn(ref));
    }
  };
  return {
    resolve: (ctx, input) => datasets.resolveRunInput(ctx, input),
    recorded: (ctx, runId, inputs) => datasets.recordRunInputs(ctx, runId, inputs),
    released: (ctx, runId, inputs) => each(inputs, (ref) => datasets.removeDependent(ctx, ref, { kind: 'run', id: runId })),
    restored: (ctx, runId, inputs) => each(inputs, (ref) => datasets.addDependent(ctx, ref, { kind: 'run', id: runId })),
  };
}

/**
 * Feature views and the datasets their sources name: while a view's current version reads a dataset,
 * the dataset cannot be deleted, nor the version the view pins (409 naming `feature_view` <view>), and
 * the view is listed among their dependents.
 */
function featureViewReaders(queries: FeatureStoreQueries): DatasetReaders {
  return async (db, project, name) =>
    (await queries.viewsReading(db, project, name)).map((view) => ({
      dependent: { kind: 'feature_view', id: view.name },
      ...(view.pinned ? { version: view.pinned } : {}),
      created_at: view.created_at,
      created_by: view.created_by,
    }));
}

/** The tag in which training names the dataset versions (`["name@sha256"]`) a registered version was trained on. */
const TRAINED_ON_TAG = 'mloop.datasets';

/**
 * Model versions and the dataset versions they were trained on. Training records the dependent
 * `model_version` / `<model>/<version>` on each version listed in {@link TRAINED_ON_TAG} (see
 * `TrainingService` `#register`); deleting the model version releases it, renaming its model moves it
 * to the new id.
 */
function trainedVersionDependents(datasets: DatasetService): ModelVersionListener {
  const trainedOn = (version: ModelVersion): VersionRef[] => {
    const tag = version.tags.find((t) => t.key === TRAINED_ON_TAG);
    if (!tag) return [];
    try {
      const refs: unknown = JSON.parse(tag.value);
      return Array.isArray(refs) ? refs.filter((r): r is string => typeof r === 'string').map((r) => parseVersionRef(r)) : [];
    } catch {
      return []; // a tag edited by hand into something else names nothing
    }
  };
  const dependent = (model: string, version: ModelVersion): Dependent => ({ kind: 'model_version', id: `${model}/${version.version}` });
  return {
    async deleted(ctx: RequestContext, version: ModelVersion) {
      for (const ref of trainedOn(version)) await ignoreMissing(datasets.removeDependent(ctx, ref, dependent(version.name, version)));
    },
    async renamed(ctx: RequestContext, version: ModelVersion, previousName: string) {
      for (const ref of trainedOn(version)) {
        if (await ignoreMissing(datasets.removeDependent(ctx, ref, dependent(previousName, version)))) {
          await ignoreMissing(datasets.addDependent(ctx, ref, dependent(version.name, version)));
        }
      }
    },
  };
}

/**
 * Lineage edges of model versions (`model_version` / `<model>/<version>`, recorded by training and
 * the feature store): a deleted version leaves the graph, so impact analysis no longer lists it; a
 * renamed model's versions keep their edges under the new name.
 */
function modelVersionLineage(lineage: LineageService): ModelVersionListener {
  const node = (model: string, version: ModelVersion) => ({ kind: 'model_version', id: `${model}/${version.version}` });
  return {
    async deleted(ctx, version) {
      await lineage.removeNode(ctx, node(version.name, version));
    },
    async renamed(ctx, version, previousName) {
      await lineage.renameNode(ctx, node(previousName, version), node(version.name, version));
    },
  };
}

/** `promise`'s value, or undefined when it rejects with RESOURCE_DOES_NOT_EXIST (the thing is already gone). */
async function ignoreMissing<T>(promise: Promise<T>): Promise<T | undefined> {
  try {
    return await promise;
  } catch (error) {
    if (isMloopError(error) && error.code === 'RESOURCE_DOES_NOT_EXIST') return undefined;
    throw error;
  }
}
