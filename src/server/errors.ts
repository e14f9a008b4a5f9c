/**
 * How errors leave the server: one mapping from anything thrown to an {@link MloopError}, and the two
 * renderings — MLflow's `{"error_code", "message"}` and RFC 9457 problem details.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CATALOGUE, MloopError, type ErrorCode } from '../core/errors.ts';

/** Fastify's own error codes that mean "the client sent something wrong". */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_REQUEST',
  FST_ERR_CTP_EMPTY_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_VALIDATION: 'INVALID_PARAMETER_VALUE',
  FST_ERR_BAD_URL: 'BAD_REQUEST',
  FST_ERR_ASYNC_CONSTRAINT: 'BAD_REQUEST',
};

/** Turns anything thrown while handling a request into an {@link MloopError}. */
export function toMloopError(error: unknown): MloopError {
  if (error instanceof MloopError) return error;
  const e = error as { code?: string; statusCode?: number; message?: string } | undefined;
  const mapped = e?.code ? FASTIFY_CODES[e.code] : undefined;
  if (mapped) return new MloopError(mapped, e?.message ?? mapped, { cause: error });
  if (e?.statusCode === 413) return new MloopError('PAYLOAD_TOO_LARGE', e.message ?? 'payload too large', { cause: error });
  if (e?.statusCode === 415) return new MloopError('UNSUPPORTED_MEDIA_TYPE', e.message ?? 'unsupported media type', { cause: error });
  if (e?.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    return new MloopError('BAD_REQUEST', e.message ?? 'bad request', { cause: error });
  }
  return new MloopError('INTERNAL_ERROR', 'internal error', { cause: error });
}

/** Logs server-side faults; client errors are logged at debug level only. */
function logError(request: FastifyRequest, error: MloopError): void {
  if (error.status >= 500) request.log.error({ err: error.cause ?? error }, 'request failed');
  else request.log.debug({ code: error.code, msg: error.message }, 'request rejected');
}

/** Error handler of the MLflow-compatible routes. */
export function mlflowErrorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const e = toMloopError(error);
  logError(request, e);
  void reply
    .status(e.status)
    .type('application/json')
    .send({ error_code: ERROR_CATALOGUE[e.code].mlflow, message: e.message });
}

/** Error handler of mloop's own API: RFC 9457 problem details. */
export function problemErrorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const e = toMloopError(error);
  logError(request, e);
  const spec = ERROR_CATALOGUE[e.code];
  void reply
    .status(e.status)
    .type('application/problem+json')
    .send({
      type: `https://mloop.dev/problems/${e.code.toLowerCase().replaceAll('_', '-')}`,
      title: spec.title,
      status: e.status,
      detail: e.message,
      code: e.code,
      instance: request.url,
      ...(e.fields.length > 0 ? { errors: e.fields } : {}),
    });
}
