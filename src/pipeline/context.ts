import type { RouterMetrics } from '../metrics/router-metrics.js';
import type { WorkerFleet } from '../workers/fleet.js';
import type { RetryPolicy } from './retry-policy.js';
import type { ServedModel } from './served-model.js';

/** What the pipeline needs from the running router; built once at startup. */
export interface PipelineContext {
  model: ServedModel;
  fleet: WorkerFleet;
  requestTimeoutMs: number;
  metrics: RouterMetrics;
  /** When and whether a failed worker attempt is tried again (the dispatch loop applies it). */
  retry: RetryPolicy;
}

/** Per-request facts the HTTP layer extracted (the pipeline never sees fastify). */
export interface RequestMeta {
  /** The client's request id header, if any. */
  headerRequestId?: string;
  /** Trace headers forwarded to the worker as gRPC metadata. */
  forward: Record<string, string>;
  startedAt: number;
}
