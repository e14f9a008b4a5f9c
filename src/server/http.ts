/** Small helpers that keep route files thin. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { DEFAULT_PROJECT, type RequestContext } from '../core/context.ts';
import { parseInput } from '../core/validation.ts';

/** Header that names the project a request acts in (the `default` project when absent). */
export const PROJECT_HEADER = 'x-mloop-project';

/** The {@link RequestContext} of a request. */
export function requestContext(request: FastifyRequest): RequestContext {
  const header = request.headers[PROJECT_HEADER];
  const project = typeof header === 'string' && header !== '' ? header : DEFAULT_PROJECT;
  return { actor: { name: 'anonymous' }, project, requestId: String(request.id) };
}

/**
 * Parses the request input with `schema`: the query string for GET and DELETE without body, else the
 * JSON body, passed through `prepareBody` first when given.
 */
export function requestInput<S extends z.ZodType>(request: FastifyRequest, schema: S, prepareBody?: (body: unknown) => unknown): z.output<S> {
  const useQuery = request.method === 'GET' || (request.method === 'DELETE' && request.body === undefined);
  if (useQuery) return parseInput(schema, request.query ?? {}, 'query');
  const body = request.body ?? {};
  return parseInput(schema, prepareBody ? prepareBody(body) : body, 'body');
}

/**
 * JSON in MLflow's encoding: non-finite doubles become the strings `"NaN"`, `"Infinity"` and
 * `"-Infinity"` (the protobuf JSON mapping), where `JSON.stringify` would write `null`.
 */
export function stringifyMlflowJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
    return v;
  });
}

/** Sends `body` as MLflow-encoded JSON. */
export function sendMlflowJson(reply: FastifyReply, body: unknown): FastifyReply {
  return reply.type('application/json').send(stringifyMlflowJson(body));
}
