/**
 * The training API (under `/api/v1`), thin over {@link TrainingService}:
 *
 * - `POST /training/jobs` — a training request (see `spec.ts`); 202 with the QUEUED job, or 400 naming
 *   the bad field before any work starts. `?dry_run=true` answers 200 with the resolved plan instead.
 * - `POST /training/tuning-jobs` — a tuning request; 202 with the job (same checks, every candidate too).
 * - `GET /training/jobs`, `GET /training/jobs/:id`, `POST /training/jobs/:id/cancel` (tuning jobs are
 *   training jobs of kind `tuning`; `GET /training/tuning-jobs/:id` shows one too).
 * - `GET /training/model-kinds` — the model kinds with their tasks and default hyperparameters.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseInput } from '../core/validation.ts';
import { jobListQuery } from '../jobs/routes.ts';
import { requestContext, requestInput } from '../server/http.ts';
import type { TrainingService } from './service.ts';

const submitQuery = z.object({ dry_run: z.enum(['true', 'false'], { error: 'expected true or false' }).optional() });

type IdParams = { id: string };

/** Registers `/training/...` on `app`. */
export async function trainingRoutes(app: FastifyInstance, deps: { training: TrainingService }): Promise<void> {
  const training = deps.training;

  app.get('/training/model-kinds', async () => ({ model_kinds: training.modelKinds() }));

  app.post('/training/jobs', async (request, reply) => {
    const query = parseInput(submitQuery, request.query ?? {}, 'query');
    const ctx = requestContext(request);
    if (query.dry_run === 'true') return { plan: await training.planTraining(ctx, request.body) };
    return reply.status(202).send(await training.submitTraining(ctx, request.body));
  });

  app.post('/training/tuning-jobs', async (request, reply) => {
    const query = parseInput(submitQuery, request.query ?? {}, 'query');
    const ctx = requestContext(request);
    if (query.dry_run === 'true') return { plan: await training.planTuning(ctx, request.body) };
    return reply.status(202).send(await training.submitTuning(ctx, request.body));
  });

  app.get('/training/jobs', async (request) => {
    const query = requestInput(request, jobListQuery);
    return training.listJobs(requestContext(request), { ...query, ...(query.kind ? { kinds: [query.kind] } : {}) });
  });

  app.get<{ Params: IdParams }>('/training/jobs/:id', async (request) => training.getJob(requestContext(request), request.params.id));

  app.get<{ Params: IdParams }>('/training/tuning-jobs/:id', async (request) => training.getJob(requestContext(request), request.params.id, ['tuning']));

  app.post<{ Params: IdParams }>('/training/jobs/:id/cancel', async (request) => training.cancelJob(requestContext(request), request.params.id));
}
