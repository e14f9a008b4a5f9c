/** Model registry: registered models, versions, tags, aliases, stages. */
import type { Clock } from '../core/clock.ts';
import type { MetadataStore } from '../storage/ports.ts';
import type { TrackingService } from '../tracking/service.ts';

/** What {@link RegistryService} needs. */
export interface RegistryDeps {
  readonly metadata: MetadataStore;
  readonly clock: Clock;
  /** Used to resolve `runs:/` sources and check runs exist. */
  readonly tracking: TrackingService;
}

/** The registry module's operations. */
export class RegistryService {
  constructor(readonly deps: RegistryDeps) {}
}
