/**
 * The one error type of mloop and the catalogue of its codes.
 *
 * Every error carries a `code` from {@link ERROR_CATALOGUE}; the catalogue fixes the HTTP status, the
 * MLflow `error_code` used on the MLflow-compatible API and the title used in RFC 9457 problem details.
 */

/** What each error code means on the wire. */
export interface ErrorSpec {
  /** HTTP status. */
  readonly status: number;
  /** MLflow `error_code` used by the `/api/2.0/mlflow` routes. */
  readonly mlflow: string;
  /** Short human title, used as the problem-details `title`. */
  readonly title: string;
}

/** Every error code mloop produces, in one table. */
export const ERROR_CATALOGUE = {
  INVALID_PARAMETER_VALUE: { status: 400, mlflow: 'INVALID_PARAMETER_VALUE', title: 'Invalid parameter value' },
  MALFORMED_REQUEST: { status: 400, mlflow: 'MALFORMED_REQUEST', title: 'Malformed request' },
  BAD_REQUEST: { status: 400, mlflow: 'BAD_REQUEST', title: 'Bad request' },
  // MLflow answers INVALID_STATE with 500. Acting on a deleted run or a finished resource is the
  // client's mistake, not the server's, and MLflow's client retries 500s with back-off: 400 here.
  INVALID_STATE: { status: 400, mlflow: 'INVALID_STATE', title: 'Invalid state' },
  RESOURCE_ALREADY_EXISTS: { status: 400, mlflow: 'RESOURCE_ALREADY_EXISTS', title: 'Resource already exists' },
  UNAUTHENTICATED: { status: 401, mlflow: 'UNAUTHENTICATED', title: 'Unauthenticated' },
  PERMISSION_DENIED: { status: 403, mlflow: 'PERMISSION_DENIED', title: 'Permission denied' },
  RESOURCE_DOES_NOT_EXIST: { status: 404, mlflow: 'RESOURCE_DOES_NOT_EXIST', title: 'Resource does not exist' },
  ENDPOINT_NOT_FOUND: { status: 404, mlflow: 'ENDPOINT_NOT_FOUND', title: 'Endpoint not found' },
  METHOD_NOT_ALLOWED: { status: 405, mlflow: 'BAD_REQUEST', title: 'Method not allowed' },
  CONFLICT: { status: 409, mlflow: 'INVALID_STATE', title: 'Conflict' },
  PAYLOAD_TOO_LARGE: { status: 413, mlflow: 'INVALID_PARAMETER_VALUE', title: 'Payload too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, mlflow: 'BAD_REQUEST', title: 'Unsupported media type' },
  RESOURCE_LIMIT_EXCEEDED: { status: 400, mlflow: 'RESOURCE_LIMIT_EXCEEDED', title: 'Resource limit exceeded' },
  SERVICE_UNAVAILABLE: { status: 503, mlflow: 'TEMPORARILY_UNAVAILABLE', title: 'Service unavailable' },
  INTERNAL_ERROR: { status: 500, mlflow: 'INTERNAL_ERROR', title: 'Internal error' },
} as const satisfies Record<string, ErrorSpec>;

/** A code from the catalogue. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** One problem with one input field, as listed in problem details. */
export interface FieldError {
  /** Dotted path of the field (`metrics[3].value`). */
  readonly field: string;
  /** What is wrong with it. */
  readonly reason: string;
}

/** Options of {@link MloopError}. */
export interface MloopErrorOptions {
  readonly fields?: readonly FieldError[];
  readonly cause?: unknown;
}

/** The error thrown by every mloop module; transports map it to a status and a body. */
export class MloopError extends Error {
  readonly code: ErrorCode;
  readonly fields: readonly FieldError[];

  constructor(code: ErrorCode, message: string, options: MloopErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MloopError';
    this.code = code;
    this.fields = options.fields ?? [];
  }

  /** The HTTP status of this error. */
  get status(): number {
    return ERROR_CATALOGUE[this.code].status;
  }
}

/** Shorthand for the most common error: a bad value in a named field. */
export function invalidParam(field: string, reason: string): MloopError {
  return new MloopError('INVALID_PARAMETER_VALUE', `${field}: ${reason}`, { fields: [{ field, reason }] });
}

/** Shorthand for a missing resource. */
export function notFound(message: string): MloopError {
  return new MloopError('RESOURCE_DOES_NOT_EXIST', message);
}

/** Shorthand for a resource that already exists. */
export function alreadyExists(message: string): MloopError {
  return new MloopError('RESOURCE_ALREADY_EXISTS', message);
}

/** True for an {@link MloopError}. */
export function isMloopError(error: unknown): error is MloopError {
  return error instanceof MloopError;
}
