import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import type { RouteClass } from './route-class.js';

export interface AuthKeys {
  /** Guards every route except the public probes. */
  apiKey?: string;
  /** Guards the admin routes instead of `apiKey` when set; not accepted anywhere else. */
  adminApiKey?: string;
}

export type AuthDecision = 'ok' | 'missing' | 'invalid' | 'not_admin';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Equal-length digests compared in constant time, so neither the key nor its length leaks through timing. */
function sameKey(presented: Buffer, expected: Buffer | undefined): boolean {
  return expected !== undefined && timingSafeEqual(presented, expected);
}

/** The token of `Authorization: Bearer <token>` (scheme case-insensitive, RFC 7235), or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header.length < 8 || header.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  const token = header.slice(7).trim();
  return token === '' ? undefined : token;
}

/** Decides whether a request may use a route, from the route's class and its Authorization header. */
export class KeyChecker {
  private readonly api: Buffer | undefined;
  private readonly admin: Buffer | undefined;

  constructor(keys: AuthKeys) {
    this.api = keys.apiKey === undefined ? undefined : digest(keys.apiKey);
    this.admin = keys.adminApiKey === undefined ? undefined : digest(keys.adminApiKey);
  }

  /** Whether any route needs a key at all (otherwise the hook is not installed). */
  get enabled(): boolean {
    return this.api !== undefined || this.admin !== undefined;
  }

  check(routeClass: RouteClass, authorization: string | undefined): AuthDecision {
    if (routeClass === 'public') return 'ok';
    const required = routeClass === 'admin' ? (this.admin ?? this.api) : this.api;
    if (required === undefined) return 'ok';
    const token = bearerToken(authorization);
    if (token === undefined) return 'missing';
    const presented = digest(token);
    if (timingSafeEqual(presented, required)) return 'ok';
    // A valid client key on an admin route that has its own key: known caller, wrong privilege.
    if (routeClass === 'admin' && sameKey(presented, this.api)) return 'not_admin';
    return 'invalid';
  }
}

function refusal(decision: Exclude<AuthDecision, 'ok'>, admin: boolean): ApiError {
  const which = admin ? 'an admin API key' : 'an API key';
  switch (decision) {
    case 'missing':
      return new ApiError(401, `This route needs ${which}: send it as 'Authorization: Bearer <key>'`, { code: 'missing_api_key' });
    case 'invalid':
      return new ApiError(401, `The API key is not valid for this route`, { code: 'invalid_api_key' });
    case 'not_admin':
      return new ApiError(403, 'This route needs the admin API key; the client API key is not enough', { code: 'admin_key_required' });
  }
}

/** The fastify onRequest side: refuses with 401/403 in the OpenAI error envelope before any body is read. */
export function authHook(checker: KeyChecker, classOf: (request: FastifyRequest) => RouteClass) {
  return (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void => {
    const cls = classOf(request);
    const decision = checker.check(cls, request.headers.authorization);
    if (decision === 'ok') return done();
    if (decision !== 'not_admin') reply.header('www-authenticate', cls === 'admin' ? 'Bearer realm="admin"' : 'Bearer');
    request.log.debug({ route: cls, decision }, 'request refused by API key check');
    done(refusal(decision, cls === 'admin'));
  };
}
