/** The jobs API (under `/api/v1`): list, show and cancel background jobs of any kind. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { requestContext, requestInput } from '../server/http.ts';
import type { JobService } from './service.ts';

/** Query of job listings, shared with the training and evaluation routes. */
export const jobListQuery = z.object({
  kind: z.string().max(64).optional(),
  status: z.string().max(32).optional(),
  max_results: z.coerce.number({ error: 'expected an integer' }).int('expected an integer').min(1).max(1000).optional(),
  page_token: z.string().max(1024).optional(),
});

type IdParams = { id: string };

/** Registers `/jobs...` on `app`. */
export async function jobRoutes(app: FastifyInstance, deps: { jobs: JobService }): Promise<void> {
  const jobs = deps.jobs;

  app.get('/jobs', async (request) => {
    const query = requestInput(request, jobListQuery);
    return jobs.list(requestContext(request), { ...query, kinds: query.kind ? [query.kind] : undefined });
  });

  app.get<{ Params: IdParams }>('/jobs/:id', async (request) => jobs.get(requestContext(request), request.params.id));

  app.post<{ Params: IdParams }>('/jobs/:id/cancel', async (request) => jobs.cancel(requestContext(request), request.params.id));
}
