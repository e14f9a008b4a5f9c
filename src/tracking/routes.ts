import type { FastifyInstance } from 'fastify';
import type { TrackingService } from './service.ts';

/** mloop's own routes of the tracking module (under /api/v1). */
export async function trackingRoutes(app: FastifyInstance, deps: { tracking: TrackingService }): Promise<void> {
  void app;
  void deps;
}
