import type { WorkerFleet } from '../workers/fleet.js';
import type { ServedModel } from './served-model.js';

/** What the pipeline needs from the running router; built once at startup. */
export interface PipelineContext {
  model: ServedModel;
  fleet: WorkerFleet;
  requestTimeoutMs: number;
}

/** Per-request facts the HTTP layer extracted (the pipeline never sees fastify). */
export interface RequestMeta {
  /** The client's request id header, if any. */
  headerRequestId?: string;
  /** Trace headers forwarded to the worker as gRPC metadata. */
  forward: Record<string, string>;
  startedAt: number;
}
