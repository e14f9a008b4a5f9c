import type { FastifyInstance } from 'fastify';
import type { TrackingService } from './service.ts';

/** MLflow-compatible routes of the tracking module (under /api/2.0/mlflow). */
export async function trackingMlflowRoutes(app: FastifyInstance, deps: { tracking: TrackingService }): Promise<void> {
  void app;
  void deps;
}
