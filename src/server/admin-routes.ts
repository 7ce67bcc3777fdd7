import type { FastifyInstance } from 'fastify';
import { normalizeWorkerUrl } from '../config/router-config.js';
import { ApiError } from '../errors.js';
import type { PipelineContext } from '../pipeline/context.js';
import { registerWorker } from '../pipeline/worker-admission.js';
import type { WorkerEntry, WorkerFleet, WorkerRole, WorkerView } from '../workers/fleet.js';

/**
 * The worker registry and cache control plane: /workers, /get_loads, /flush_cache. The route
 * classifier marks these paths admin, so --admin-api-key (or --api-key) guards them without
 * anything here. Errors use the OpenAI envelope like every other route; the reference answers its
 * worker API with `{"error":"<message>","code":"WORKER_NOT_FOUND"}` instead, and one client-facing
 * shape (with the same `code` values in snake case) is simpler for callers than two.
 */
export interface AdminRouteOptions {
  /** How long POST /workers waits for a new worker's GetModelInfo before answering `pending`. */
  workerAdmissionWaitMs: number;
}

interface AddWorkerBody {
  url: string;
  api_key?: string;
  worker_type?: WorkerRole;
  bootstrap_port?: number;
}

interface WorkerFlagsBody {
  disabled?: boolean;
  is_dead?: boolean;
}

const addWorkerSchema = {
  body: {
    type: 'object',
    required: ['url'],
    additionalProperties: false,
    properties: {
      url: { type: 'string', minLength: 1, maxLength: 2048 },
      api_key: { type: 'string', minLength: 1, maxLength: 4096 },
      worker_type: { type: 'string', enum: ['regular', 'prefill', 'decode'] },
      bootstrap_port: { type: 'integer', minimum: 1, maximum: 65535 },
    },
  },
} as const;

const workerFlagsSchema = {
  body: {
    type: 'object',
    minProperties: 1,
    additionalProperties: false,
    properties: { disabled: { type: 'boolean' }, is_dead: { type: 'boolean' } },
  },
} as const;

const listWorkersSchema = {
  querystring: { type: 'object', additionalProperties: false, properties: { model: { type: 'string' } } },
} as const;

/** The entries a path id names: one entry id, or a server URL (in any form --worker-urls accepts) with all its ranks. */
function lookup(fleet: WorkerFleet, id: string): { url: string; entries: WorkerEntry[] } {
  const entry = fleet.get(id);
  if (entry) return { url: entry.url, entries: [entry] };
  let url = id;
  try {
    url = normalizeWorkerUrl(id);
  } catch {
    // Not a URL either: reported as an unknown worker below.
  }
  if (!fleet.has(url)) throw new ApiError(404, `no worker '${id}'`, { param: 'worker_id', code: 'worker_not_found' });
  return { url, entries: fleet.list().filter((e) => e.url === url) };
}

/** One entry's view, or the server with its ranks when the id named a DP-split server. */
function viewOf(fleet: WorkerFleet, url: string, entries: readonly WorkerEntry[]): WorkerView | { id: string; url: string; ranks: WorkerView[] } {
  if (entries.length === 1 && entries[0]!.id === url) return fleet.view(entries[0]!);
  return { id: url, url, ranks: entries.map((e) => fleet.view(e)) };
}

const workerPath = (id: string): string => `/workers/${encodeURIComponent(id)}`;

export function registerAdminRoutes(app: FastifyInstance, ctx: PipelineContext, opts: AdminRouteOptions): void {
  const fleet = ctx.fleet;

  app.post<{ Body: AddWorkerBody }>('/workers', { schema: addWorkerSchema }, async (request, reply) => {
    const body = request.body;
    let url: string;
    try {
      url = normalizeWorkerUrl(body.url);
    } catch (err) {
      throw new ApiError(400, (err as Error).message, { param: 'url', code: 'invalid_worker_url' });
    }
    if (body.bootstrap_port !== undefined && body.worker_type !== 'prefill') {
      throw new ApiError(400, 'bootstrap_port applies to prefill workers only', { param: 'bootstrap_port', code: 'invalid_value' });
    }
    const reg = await registerWorker(
      fleet,
      ctx.models,
      {
        url,
        ...(body.api_key === undefined ? {} : { apiKey: body.api_key }),
        ...(body.worker_type === undefined ? {} : { role: body.worker_type }),
        ...(body.bootstrap_port === undefined ? {} : { bootstrapPort: body.bootstrap_port }),
      },
      opts.workerAdmissionWaitMs,
    );
    const location = workerPath(url);
    const message =
      reg.status === 'admitted'
        ? 'worker admitted; it takes traffic once its health check passes'
        : 'worker registered; it has not answered GetModelInfo yet and is admitted when it does';
    return reply
      .code(202)
      .header('location', location)
      .send({ status: 'accepted', worker_id: url, url, location, admitted: reg.status === 'admitted', message, workers: reg.entries.map((e) => fleet.view(e)) });
  });

  app.get<{ Querystring: { model?: string } }>('/workers', { schema: listWorkersSchema }, async (request) => {
    const name = request.query.model;
    // Any of a model's names selects its workers; a name no model holds selects none.
    const model = name !== undefined && ctx.models.has(name) ? ctx.models.resolve(name).id : undefined;
    const workers = name === undefined ? fleet.describe() : fleet.describe().filter((w) => model !== undefined && w.model_id === model);
    const count = (role: WorkerRole) => workers.filter((w) => w.role === role).length;
    return { workers, total: workers.length, stats: { regular_count: count('regular'), prefill_count: count('prefill'), decode_count: count('decode') } };
  });

  app.get<{ Params: { '*': string } }>('/workers/*', async (request) => {
    const { url, entries } = lookup(fleet, request.params['*']);
    return viewOf(fleet, url, entries);
  });

  app.put<{ Params: { '*': string }; Body: WorkerFlagsBody }>('/workers/*', { schema: workerFlagsSchema }, async (request) => {
    const { url, entries } = lookup(fleet, request.params['*']);
    const { disabled, is_dead: dead } = request.body;
    const flags = { ...(disabled === undefined ? {} : { disabled }), ...(dead === undefined ? {} : { dead }) };
    // The schema has refused any bad field already, so no rank is changed unless all are.
    for (const e of entries) fleet.setFlags(e.id, flags);
    return viewOf(fleet, url, entries);
  });

  app.delete<{ Params: { '*': string } }>('/workers/*', async (request, reply) => {
    const { url } = lookup(fleet, request.params['*']);
    const removed = fleet.remove(url);
    const inFlight = removed.reduce((n, e) => n + e.inFlight, 0);
    return reply.code(202).send({
      status: 'accepted',
      worker_id: url,
      url,
      in_flight: inFlight,
      message: inFlight > 0 ? `worker removed from routing; ${inFlight} request(s) in flight run to their end` : 'worker removed',
    });
  });

  app.get('/get_loads', async () => ({
    workers: fleet.describe().map((w) => ({ worker: w.id, url: w.url, dp_rank: w.dp_rank, in_flight: w.in_flight, load: w.load })),
  }));

  app.post('/flush_cache', async (_request, reply) => {
    // timeout_s 0: flush now; a worker with requests running refuses, as SGLang's scheduler does.
    const outcomes = await fleet.flushCaches(0);
    const successful = outcomes.filter((o) => o.error === undefined).map((o) => o.url);
    const failed = outcomes.filter((o) => o.error !== undefined).map((o) => ({ worker: o.url, error: o.error! }));
    const body = { workers_flushed: successful.length, total_workers: outcomes.length, successful };
    if (failed.length === 0) return { status: 'success', message: `flushed the cache of ${successful.length} worker(s)`, ...body };
    return reply.code(206).send({ status: 'partial_success', message: `flushed ${successful.length} of ${outcomes.length} worker caches`, ...body, failed });
  });
}
