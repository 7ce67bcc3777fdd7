/**
 * The one error type that crosses module boundaries. It carries the HTTP status and the
 * OpenAI error fields, so the server can answer `{"error":{message,type,param,code}}` without
 * knowing where the failure came from.
 */
export type ApiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'service_unavailable'
  | 'timeout_error'
  | 'upstream_error';

export interface ApiErrorBody {
  error: { message: string; type: ApiErrorType; param: string | null; code: string | null };
}

export class ApiError extends Error {
  readonly status: number;
  readonly type: ApiErrorType;
  readonly code: string | null;
  readonly param: string | null;
  /**
   * How long the failing side asked callers to wait before trying again (a worker's
   * `grpc-retry-pushback-ms`); negative when it asked not to be retried at all.
   */
  readonly retryAfterMs: number | undefined;

  constructor(
    status: number,
    message: string,
    opts: { type?: ApiErrorType; code?: string | null; param?: string | null; cause?: unknown; retryAfterMs?: number } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ApiError';
    this.status = status;
    this.type = opts.type ?? defaultTypeFor(status);
    this.code = opts.code ?? null;
    this.param = opts.param ?? null;
    this.retryAfterMs = opts.retryAfterMs;
  }

  toBody(): ApiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

function defaultTypeFor(status: number): ApiErrorType {
  if (status === 401) return 'authentication_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 503) return 'service_unavailable';
  if (status === 504 || status === 408) return 'timeout_error';
  if (status === 502) return 'upstream_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** A 400 for a request field that fails validation. */
export function invalidParam(param: string, message: string, code = 'invalid_value'): ApiError {
  return new ApiError(400, message, { type: 'invalid_request_error', code, param });
}
