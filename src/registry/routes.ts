/**
 * mloop's own registry API (under `/api/v1`): resource-shaped URLs over the same service as the MLflow
 * routes, the same RegisteredModel and ModelVersion shapes, errors as RFC 9457 problem details.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseInput } from '../core/validation.ts';
import { requestContext, requestInput } from '../server/http.ts';
import { optionalString, requiredString, versionField } from './mlflow-routes.ts';
import type { RegistryService } from './service.ts';

const tagRecord = z
  .record(z.string(), z.string({ error: 'tag values must be strings' }), { error: 'expected an object of string tags' })
  .optional()
  .transform((tags) => Object.entries(tags ?? {}).map(([key, value]) => ({ key, value })));

const listQuery = z.object({
  filter: optionalString,
  max_results: z.string().optional(),
  page_token: optionalString,
  order_by: z
    .union([z.string(), z.array(z.string())], { error: 'expected a string or a list of strings' })
    .optional()
    .transform((v) => (v === undefined ? undefined : Array.isArray(v) ? v : [v])),
});

const createModelBody = z.object({ name: requiredString('name'), description: optionalString, tags: tagRecord });
const createVersionBody = z.object({
  source: requiredString('source'),
  run_id: optionalString,
  run_link: optionalString,
  description: optionalString,
  tags: tagRecord,
});
const aliasBody = z.object({ version: versionField });

type NameParams = { name: string };
type VersionParams = { name: string; version: string };
type AliasParams = { name: string; alias: string };

/** Registers the `/api/v1/models...` routes on `app`. */
export async function registryRoutes(app: FastifyInstance, deps: { registry: RegistryService }): Promise<void> {
  const registry = deps.registry;

  app.get('/models', async (request) => {
    const query = requestInput(request, listQuery);
    const page = await registry.searchRegisteredModels(requestContext(request), query);
    return { models: page.items, ...(page.next_page_token ? { next_page_token: page.next_page_token } : {}) };
  });

  app.post('/models', async (request, reply) => {
    const body = parseInput(createModelBody, request.body ?? {}, 'body');
    return reply.status(201).send(await registry.createRegisteredModel(requestContext(request), body));
  });

  app.get<{ Params: NameParams }>('/models/:name', async (request) =>
    registry.getRegisteredModel(requestContext(request), request.params.name),
  );

  app.get<{ Params: NameParams }>('/models/:name/versions', async (request) => ({
    versions: await registry.listModelVersions(requestContext(request), request.params.name),
  }));

  app.post<{ Params: NameParams }>('/models/:name/versions', async (request, reply) => {
    const body = parseInput(createVersionBody, request.body ?? {}, 'body');
    const created = await registry.createModelVersion(requestContext(request), { ...body, name: request.params.name });
    return reply.status(201).send(created);
  });

  app.get<{ Params: VersionParams }>('/models/:name/versions/:version', async (request) =>
    registry.getModelVersion(requestContext(request), request.params.name, request.params.version),
  );

  app.get<{ Params: AliasParams }>('/models/:name/aliases/:alias', async (request) =>
    registry.getModelVersionByAlias(requestContext(request), request.params.name, request.params.alias),
  );

  app.put<{ Params: AliasParams }>('/models/:name/aliases/:alias', async (request) => {
    const { version } = parseInput(aliasBody, request.body ?? {}, 'body');
    return registry.setAlias(requestContext(request), request.params.name, request.params.alias, version);
  });

  app.delete<{ Params: AliasParams }>('/models/:name/aliases/:alias', async (request, reply) => {
    await registry.deleteAlias(requestContext(request), request.params.name, request.params.alias);
    return reply.status(204).send();
  });
}
