import type { FastifyInstance } from 'fastify';
import type { RegistryService } from './service.ts';

/** MLflow-compatible routes of the registry module (under /api/2.0/mlflow). */
export async function registryMlflowRoutes(app: FastifyInstance, deps: { registry: RegistryService }): Promise<void> {
  void app;
  void deps;
}
