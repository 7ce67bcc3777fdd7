import type { FastifyError } from 'fastify';
import { ApiError } from '../errors.js';

/** The field a route-schema failure is about: the offending property, else its path. */
function validationParam(fe: Partial<FastifyError>): string | null {
  const v = fe.validation?.[0];
  if (!v) return null;
  const params = v.params as { missingProperty?: string; additionalProperty?: string };
  const name = params.missingProperty ?? params.additionalProperty;
  const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
  return name ?? (path === '' ? null : path);
}

/** Maps anything thrown inside a route to the OpenAI error envelope and status. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const fe = err as Partial<FastifyError> & { statusCode?: number };
  switch (fe.code) {
    case 'FST_ERR_VALIDATION':
      return new ApiError(400, fe.message ?? 'invalid request', { param: validationParam(fe), code: 'invalid_value' });
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError(400, `The request body is not valid JSON: ${fe.message ?? ''}`.trim(), { code: 'json_parse_error' });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'The request body is larger than --max-payload-size allows', { code: 'payload_too_large' });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'Send the request body as application/json', { code: 'unsupported_media_type' });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError(400, 'The Content-Length header does not match the body', { code: 'invalid_content_length' });
  }
  if (err instanceof SyntaxError) return new ApiError(400, `The request body is not valid JSON: ${err.message}`, { code: 'json_parse_error' });
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new ApiError(fe.statusCode, fe.message ?? 'bad request', { code: 'bad_request' });
  }
  return new ApiError(500, 'internal router error', { type: 'server_error', code: 'internal_error', cause: err });
}
