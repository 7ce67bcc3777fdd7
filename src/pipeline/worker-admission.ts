import { ApiError } from '../errors.js';
import type { WorkerEntry, WorkerFleet, WorkerRole } from '../workers/fleet.js';
import type { ModelRegistry } from './models.js';

/** A worker to register at runtime; `url` is already normalized. */
export interface WorkerSpec {
  url: string;
  apiKey?: string;
  role?: WorkerRole;
  bootstrapPort?: number;
}

export interface Registration {
  /** `admitted`: the worker answered GetModelInfo and its model is servable; `pending`: not yet (it is checked when it comes up). */
  status: 'admitted' | 'pending';
  /** Its entries so far (none yet with --dp-aware until a probe read its dp_size). */
  entries: WorkerEntry[];
}

/**
 * Registers a worker at runtime. It is admitted as the startup workers are: its GetModelInfo names
 * its model, which is loaded if it is new (so a worker of a model not served yet makes that model
 * servable), and it cannot become routable before: the check runs inside its first successful
 * probe. Waits up to `waitMs` for the verdict; a worker whose model cannot be loaded is removed
 * again and refused with 400, a silent one (or one whose model is still loading) stays pending.
 */
export async function registerWorker(fleet: WorkerFleet, models: ModelRegistry, spec: WorkerSpec, waitMs: number): Promise<Registration> {
  if (fleet.has(spec.url)) throw new ApiError(409, `worker ${spec.url} is already registered`, { code: 'worker_exists' });
  let settle: (verdict: string | null) => void = () => undefined;
  const verdict = new Promise<string | null>((resolve) => (settle = resolve));
  const added = fleet.add(spec.url, {
    ...(spec.apiKey === undefined ? {} : { apiKey: spec.apiKey }),
    ...(spec.role === undefined ? {} : { role: spec.role }),
    ...(spec.bootstrapPort === undefined ? {} : { bootstrapPort: spec.bootstrapPort }),
    admit: async (client) => {
      const verdict = await models.admit(spec.url, client, waitMs);
      settle('rejected' in verdict ? verdict.rejected : null);
      return verdict;
    },
  });
  // With --dp-aware this settles once the ranks are known, or rejects if the worker is removed first.
  added.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), waitMs)));
  const outcome = await Promise.race([verdict, timedOut]);
  clearTimeout(timer);
  if (typeof outcome === 'string') throw new ApiError(400, `worker ${spec.url} was not added: ${outcome}`, { param: 'url', code: 'model_unavailable' });
  return { status: outcome === null ? 'admitted' : 'pending', entries: fleet.list().filter((e) => e.url === spec.url) };
}
