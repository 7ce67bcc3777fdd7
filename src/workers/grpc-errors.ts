import { status as GrpcStatus, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { ApiError } from '../errors.js';

/**
 * The one place where worker failures become HTTP errors. Retryable-looking statuses keep
 * their meaning (429/503/504) so clients and a future retry layer can act on them; anything
 * else from the worker is an upstream failure (502), and a cancelled call is reported as such.
 * UNAVAILABLE on a channel that is not connected is a transport failure (refused or dropped
 * connection), `worker_unreachable`; on a connected channel the worker itself said it cannot serve.
 */
export function grpcErrorToApiError(err: unknown, worker: string, connected = true): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as Partial<ServiceError>;
  const code = typeof e.code === 'number' ? e.code : GrpcStatus.UNKNOWN;
  const detail = (e.details || e.message || 'unknown error').replace(/^\d+ [A-Z_]+: /, '');
  const retryAfterMs = retryHintMs(e.metadata);
  const cause = err;
  switch (code) {
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.FAILED_PRECONDITION:
    case GrpcStatus.OUT_OF_RANGE:
      return new ApiError(400, detail, { type: 'invalid_request_error', code: 'invalid_request', cause });
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return new ApiError(429, `worker ${worker} is overloaded: ${detail}`, { code: 'worker_overloaded', cause, retryAfterMs });
    case GrpcStatus.UNAVAILABLE:
      if (!connected) return new ApiError(503, `worker ${worker} is unreachable: ${detail}`, { code: 'worker_unreachable', cause, retryAfterMs });
      return new ApiError(503, `worker ${worker} is unavailable: ${detail}`, { code: 'worker_unavailable', cause, retryAfterMs });
    case GrpcStatus.DEADLINE_EXCEEDED:
      return new ApiError(504, `worker ${worker} did not answer in time: ${detail}`, { code: 'upstream_timeout', cause });
    case GrpcStatus.UNIMPLEMENTED:
      return new ApiError(501, `worker ${worker} does not implement this: ${detail}`, { type: 'server_error', code: 'not_implemented', cause });
    default:
      return new ApiError(502, `worker ${worker} failed: ${detail}`, { code: 'upstream_error', cause, retryAfterMs });
  }
}

/**
 * A worker's own word on retrying, from the trailers: gRPC's `grpc-retry-pushback-ms` (a negative
 * or malformed value means "do not retry", as in gRPC's retry design) or an HTTP-style
 * `retry-after` in whole seconds. Undefined when the worker said nothing.
 */
export function retryHintMs(trailers: Metadata | undefined): number | undefined {
  if (!trailers || typeof trailers.get !== 'function') return undefined;
  const pushback = trailers.get('grpc-retry-pushback-ms')[0];
  if (pushback !== undefined) {
    const ms = Number(String(pushback));
    return /^\s*\d+\s*$/.test(String(pushback)) && Number.isSafeInteger(ms) ? ms : -1;
  }
  const after = trailers.get('retry-after')[0];
  if (after !== undefined && /^\s*\d+\s*$/.test(String(after))) return Number(String(after)) * 1000;
  return undefined;
}

/** Older workers send `GenerateError{message, http_status_code}` in-band instead of a status. */
export function legacyGenerateErrorToApiError(err: { message: string; httpStatusCode: string }, worker: string): ApiError {
  const status = Number.parseInt(err.httpStatusCode, 10);
  const message = err.message || 'worker reported an error';
  if (status >= 400 && status < 500) return new ApiError(status, message, { code: 'invalid_request' });
  if (status === 503) return new ApiError(503, `worker ${worker} is unavailable: ${message}`, { code: 'worker_unavailable' });
  return new ApiError(502, `worker ${worker} failed: ${message}`, { code: 'upstream_error' });
}

/**
 * How one request's end bears on its worker's health. `unreachable` (connect error, refused or
 * dropped connection) takes the worker out of rotation at once; `failure` feeds the
 * circuit breaker; `overload` (RESOURCE_EXHAUSTED / 429) is the worker working as designed under
 * load and `cancelled` is the client's doing, so neither counts; a request the worker rejected as
 * invalid proves it alive, so it counts as `ok`.
 */
export type WorkerOutcome = 'ok' | 'failure' | 'overload' | 'cancelled' | 'unreachable';

export function outcomeOfError(err: ApiError): WorkerOutcome {
  switch (err.code) {
    case 'worker_unreachable':
      return 'unreachable';
    case 'worker_overloaded':
      return 'overload';
    default:
      return err.status >= 500 ? 'failure' : 'ok';
  }
}
