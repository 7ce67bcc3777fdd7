import type { RouterMetrics } from '../metrics/router-metrics.js';
import type { WorkerFleet } from '../workers/fleet.js';
import type { Dispatcher } from './dispatch.js';
import type { ModelRegistry } from './models.js';

/** What the pipeline needs from the running router; built once at startup. */
export interface PipelineContext {
  /** The served models by name; each request runs with the one it names. */
  models: ModelRegistry;
  fleet: WorkerFleet;
  requestTimeoutMs: number;
  metrics: RouterMetrics;
  /** Chooses workers with the routing policy and decides retries (the --policy and --retry-* flags). */
  dispatcher: Dispatcher;
}

/** The request's logger (pino's shape), bound to its request id. */
export interface RequestLog {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Per-request facts the HTTP layer extracted (the pipeline never sees fastify). */
export interface RequestMeta {
  /** The client's request id header, if any. */
  headerRequestId?: string;
  /** Trace headers forwarded to the worker as gRPC metadata. */
  forward: Record<string, string>;
  startedAt: number;
  /** The route template, a metrics label. */
  route: string;
  /** The X-Routing-Key and X-Session-Id headers: affinity keys for consistent_hash. */
  routingKey?: string;
  sessionId?: string;
  log?: RequestLog;
}
