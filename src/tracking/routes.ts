/**
 * mloop's own tracking API (under `/api/v1`): resource-shaped routes over the same service as the
 * MLflow API. Errors are RFC 9457 problem details (the app's default error handler).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseInput } from '../core/validation.ts';
import { requestContext, requestInput, sendMlflowJson } from '../server/http.ts';
import type { TrackingService } from './service.ts';
import { int64, str, stringList, viewType } from './wire.ts';

const listQuery = {
  filter: str().optional(),
  order_by: stringList.optional(),
  max_results: int64.optional(),
  page_token: str().optional(),
  view_type: viewType.optional(),
};

const schemas = {
  listExperiments: z.object(listQuery),
  createExperiment: z.object({
    name: str(),
    artifact_location: str().optional(),
    tags: z.record(z.string(), str(), { error: 'expected an object of string values' }).optional(),
  }),
  patchExperiment: z.object({ name: str() }),
  listRuns: z.object({ ...listQuery, experiment_id: stringList.optional() }),
  metricHistory: z.object({ max_results: int64.optional(), page_token: str().optional() }),
  idParam: z.object({ id: str() }),
  metricParams: z.object({ id: str(), key: str() }),
};

function params<S extends z.ZodType>(request: FastifyRequest, schema: S): z.output<S> {
  return parseInput(schema, request.params, 'path');
}

/** mloop's own routes of the tracking module (under /api/v1). */
export async function trackingRoutes(app: FastifyInstance, deps: { tracking: TrackingService }): Promise<void> {
  const tracking = deps.tracking;

  app.get('/experiments', async (request, reply) => {
    const query = requestInput(request, schemas.listExperiments);
    return sendMlflowJson(reply, await tracking.searchExperiments(requestContext(request), query));
  });

  app.post('/experiments', async (request, reply) => {
    const body = requestInput(request, schemas.createExperiment);
    const experiment = await tracking.createExperiment(requestContext(request), {
      name: body.name,
      artifact_location: body.artifact_location,
      tags: Object.entries(body.tags ?? {}).map(([key, value]) => ({ key, value })),
    });
    return sendMlflowJson(reply.status(201), experiment);
  });

  app.get('/experiments/:id', async (request, reply) => {
    const { id } = params(request, schemas.idParam);
    return sendMlflowJson(reply, await tracking.getExperiment(requestContext(request), id));
  });

  app.patch('/experiments/:id', async (request, reply) => {
    const { id } = params(request, schemas.idParam);
    const body = requestInput(request, schemas.patchExperiment);
    return sendMlflowJson(reply, await tracking.renameExperiment(requestContext(request), id, body.name));
  });

  app.delete('/experiments/:id', async (request, reply) => {
    const { id } = params(request, schemas.idParam);
    await tracking.deleteExperiment(requestContext(request), id);
    return reply.status(204).send();
  });

  app.get('/runs', async (request, reply) => {
    const query = requestInput(request, schemas.listRuns);
    const { experiment_id, view_type, ...rest } = query;
    return sendMlflowJson(reply, await tracking.searchRuns(requestContext(request), { ...rest, experiment_ids: experiment_id, run_view_type: view_type }));
  });

  app.get('/runs/:id', async (request, reply) => {
    const { id } = params(request, schemas.idParam);
    return sendMlflowJson(reply, await tracking.getRun(requestContext(request), id));
  });

  // Metric keys may hold slashes (`train/loss`): the key is the rest of the path.
  app.get('/runs/:id/metrics/*', async (request, reply) => {
    const raw = request.params as { id: string; '*': string };
    const { id, key } = parseInput(schemas.metricParams, { id: raw.id, key: raw['*'] }, 'path');
    const query = requestInput(request, schemas.metricHistory);
    return sendMlflowJson(reply, await tracking.getMetricHistory(requestContext(request), id, key, query));
  });
}
