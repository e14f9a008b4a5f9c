/**
 * The evaluation API (under `/api/v1`), thin over {@link EvaluationService}:
 *
 * - `POST /evaluations` — an evaluation request; 202 with the QUEUED job (`?wait=true`: 201 with the
 *   stored evaluation once the job is done). `GET /evaluations[?model=&version=]`, `GET /evaluations/:id`.
 * - `PUT|GET|DELETE /models/:name/gate` — the model's validation gate spec.
 * - `PUT|GET /models/:name/card-spec` — intended use, limitations, owners for the model card.
 * - `GET /models/:name/versions/:version/card?format=md|html|json` — the model card (`:version` may be an alias).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseInput } from '../core/validation.ts';
import { requestContext, requestInput } from '../server/http.ts';
import type { EvaluationService } from './service.ts';

const submitQuery = z.object({
  wait: z.enum(['true', 'false'], { error: 'expected true or false' }).optional(),
  dry_run: z.enum(['true', 'false'], { error: 'expected true or false' }).optional(),
});
const listQuery = z.object({
  model: z.string().min(1).max(500).optional(),
  version: z.string().regex(/^\d{1,15}$/, 'expected a version number').optional(),
  max_results: z.coerce.number({ error: 'expected an integer' }).int('expected an integer').min(1).max(1000).optional(),
  page_token: z.string().max(1024).optional(),
});
const cardQuery = z.object({ format: z.enum(['md', 'html', 'json'], { error: 'expected md, html or json' }).default('md') });

type IdParams = { id: string };
type NameParams = { name: string };
type VersionParams = { name: string; version: string };

/** Registers the evaluation, gate and model-card routes on `app`. */
export async function evaluationRoutes(app: FastifyInstance, deps: { evaluation: EvaluationService }): Promise<void> {
  const evaluation = deps.evaluation;

  app.post('/evaluations', async (request, reply) => {
    const query = parseInput(submitQuery, request.query ?? {}, 'query');
    const ctx = requestContext(request);
    if (query.dry_run === 'true') return { plan: await evaluation.plan(ctx, request.body) };
    if (query.wait === 'true') return reply.status(201).send(await evaluation.evaluate(ctx, request.body));
    return reply.status(202).send(await evaluation.submit(ctx, request.body));
  });

  app.get('/evaluations', async (request) => evaluation.list(requestContext(request), requestInput(request, listQuery)));

  app.get<{ Params: IdParams }>('/evaluations/:id', async (request) => evaluation.get(requestContext(request), request.params.id));

  app.put<{ Params: NameParams }>('/models/:name/gate', async (request) => ({ gate: await evaluation.setGate(requestContext(request), request.params.name, request.body) }));

  app.get<{ Params: NameParams }>('/models/:name/gate', async (request) => ({ gate: await evaluation.getGate(requestContext(request), request.params.name) }));

  app.delete<{ Params: NameParams }>('/models/:name/gate', async (request, reply) => {
    await evaluation.deleteGate(requestContext(request), request.params.name);
    return reply.status(204).send();
  });

  app.put<{ Params: NameParams }>('/models/:name/card-spec', async (request) => ({ card: await evaluation.setCardSpec(requestContext(request), request.params.name, request.body) }));

  app.get<{ Params: NameParams }>('/models/:name/card-spec', async (request) => ({ card: await evaluation.getCardSpec(requestContext(request), request.params.name) }));

  app.get<{ Params: VersionParams }>('/models/:name/versions/:version/card', async (request, reply) => {
    const { format } = requestInput(request, cardQuery);
    const card = await evaluation.modelCard(requestContext(request), request.params.name, request.params.version, format);
    if (format === 'json') return card;
    void reply.header('x-content-type-options', 'nosniff');
    if (format === 'html') {
      return reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'").send(card);
    }
    return reply.type('text/markdown; charset=utf-8').send(card);
  });
}
