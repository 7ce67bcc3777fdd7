import { ApiError } from '../errors.js';
import type { GetModelInfoResponse } from '../gen/sglang/grpc/scheduler/sglang_scheduler.js';
import type { WorkerEntry, WorkerFleet, WorkerRole } from '../workers/fleet.js';
import { applyWorkerInfo, type ServedModel } from './served-model.js';

/** A worker to register at runtime; `url` is already normalized. */
export interface WorkerSpec {
  url: string;
  apiKey?: string;
  role?: WorkerRole;
  bootstrapPort?: number;
}

export interface Registration {
  /** `admitted`: the worker answered GetModelInfo with this router's model; `pending`: not yet (it is checked when it comes up). */
  status: 'admitted' | 'pending';
  /** Its entries so far (none yet with --dp-aware until a probe read its dp_size). */
  entries: WorkerEntry[];
}

/** Why the worker's GetModelInfo names another model than the one this router serves, or null. */
export function modelMismatch(model: ServedModel, info: GetModelInfoResponse): string | null {
  const names = [info.servedModelName, info.modelPath].filter((n) => n !== '');
  if (names.length === 0 || names.some((n) => model.aliases.has(n))) return null;
  return `the worker serves '${names[0]}' but this router serves '${model.id}'; a router serves one model`;
}

/**
 * Registers a worker at runtime. It is admitted as the startup workers are (its model info
 * applied) once its GetModelInfo names this router's model, and it cannot become routable before:
 * the check runs inside its first successful probe. Waits up to `waitMs` for that answer; a worker
 * that names another model is removed again and refused with 400, a silent one stays pending.
 */
export async function registerWorker(fleet: WorkerFleet, model: ServedModel, spec: WorkerSpec, waitMs: number): Promise<Registration> {
  if (fleet.has(spec.url)) throw new ApiError(409, `worker ${spec.url} is already registered`, { code: 'worker_exists' });
  let settle: (verdict: string | null) => void = () => undefined;
  const verdict = new Promise<string | null>((resolve) => (settle = resolve));
  const added = fleet.add(spec.url, {
    ...(spec.apiKey === undefined ? {} : { apiKey: spec.apiKey }),
    ...(spec.role === undefined ? {} : { role: spec.role }),
    ...(spec.bootstrapPort === undefined ? {} : { bootstrapPort: spec.bootstrapPort }),
    admit: async (client) => {
      const info = await client.getModelInfo(waitMs);
      const mismatch = modelMismatch(model, info);
      if (mismatch === null) applyWorkerInfo(model, info);
      settle(mismatch);
      return mismatch;
    },
  });
  // With --dp-aware this settles once the ranks are known, or rejects if the worker is removed first.
  added.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), waitMs)));
  const outcome = await Promise.race([verdict, timedOut]);
  clearTimeout(timer);
  if (typeof outcome === 'string') throw new ApiError(400, `worker ${spec.url} was not added: ${outcome}`, { param: 'url', code: 'model_mismatch' });
  return { status: outcome === null ? 'admitted' : 'pending', entries: fleet.list().filter((e) => e.url === spec.url) };
}
