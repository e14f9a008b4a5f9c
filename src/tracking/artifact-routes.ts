import type { FastifyInstance } from 'fastify';
import type { TrackingService } from './service.ts';

/** MLflow proxied artifact routes (under /api/2.0/mlflow-artifacts). */
export async function trackingArtifactRoutes(app: FastifyInstance, deps: { tracking: TrackingService }): Promise<void> {
  void app;
  void deps;
}
