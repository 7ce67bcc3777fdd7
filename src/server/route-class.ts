/**
 * Which guard applies to a route, decided from its path template once when the route is
 * registered, so routes added later (the admin API) are covered without touching the guards.
 *
 * - `public`: probes; no key, no admission.
 * - `inference`: model work; the API key and admission control.
 * - `api`: other client routes (/v1/models, unknown paths); the API key.
 * - `admin`: the control plane; the admin key (or the API key when no admin key is set).
 */
export type RouteClass = 'public' | 'inference' | 'api' | 'admin';

const PUBLIC = ['/health', '/liveness', '/readiness', '/health_generate'];

const INFERENCE = [
  '/v1/chat/completions',
  '/v1/completions',
  '/generate',
  '/v1/responses',
  '/v1/conversations',
  '/v1/messages',
  '/v1/embeddings',
  '/v1/rerank',
  '/rerank',
  '/v1/classify',
  '/v1/tokenize',
  '/v1/detokenize',
];

/** The reference gateway's control-plane routes (worker registry, cache, profiling, parsers, plugins). */
const ADMIN = [
  '/workers',
  '/flush_cache',
  '/get_loads',
  '/start_profile',
  '/stop_profile',
  '/parse',
  '/wasm',
  '/v1/tokenizers',
];

/** True when `path` is `prefix` itself or lies below it (`/workers/abc`, not `/workersx`). */
function under(path: string, prefix: string): boolean {
  return path === prefix || (path.startsWith(prefix) && path.charCodeAt(prefix.length) === 47 /* '/' */);
}

/** `path` is a route template such as `/workers/:id` (no query string). */
export function classifyRoute(path: string): RouteClass {
  if (PUBLIC.some((p) => under(path, p))) return 'public';
  if (ADMIN.some((p) => under(path, p))) return 'admin';
  if (INFERENCE.some((p) => under(path, p))) return 'inference';
  return 'api';
}
