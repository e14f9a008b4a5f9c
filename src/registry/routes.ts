import type { FastifyInstance } from 'fastify';
import type { RegistryService } from './service.ts';

/** mloop's own routes of the registry module (under /api/v1). */
export async function registryRoutes(app: FastifyInstance, deps: { registry: RegistryService }): Promise<void> {
  void app;
  void deps;
}
