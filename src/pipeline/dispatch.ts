/**
 * Dispatch: which worker serves each attempt of a request, and whether a failed attempt is tried
 * again. The Dispatcher lives as long as the router: it holds one routing policy per (served model,
 * worker role), kept in step with the fleet (workers leaving, KV capacities learned). Each request
 * gets a RequestDispatch from `begin()`; its Generation asks it for an Attempt, and after a failure
 * before the worker sent anything, for the wait before the next one.
 *
 * The hook for prefill/decode disaggregation: an Attempt is "a leased worker that can run the
 * request", and Generation knows nothing more of it. A PD pair is another Attempt (its `call()`
 * runs the pair, `finish()` finishes both leases) returned by `next()` when the model is served
 * by prefill and decode workers; the retry loop, headers and metrics stay as they are.
 */
import { ApiError } from '../errors.js';
import type { GenerateRequest } from '../gen/sglang/grpc/scheduler/sglang_scheduler.js';
import type { PdMetrics } from '../metrics/pd-metrics.js';
import type { RoutingMetrics } from '../metrics/routing-metrics.js';
import { createPolicy, selectPair, type PolicyName, type PolicyOptions, type RouteDecision, type RouteInput, type RoutingPolicy } from '../routing/index.js';
import type { StateChange, WorkerEntry, WorkerFleet, WorkerLease, WorkerRole } from '../workers/fleet.js';
import type { WorkerOutcome } from '../workers/grpc-errors.js';
import { generatePair, type PairCall } from '../workers/pd-call.js';
import type { GenerateCall, GenerateCallOptions, GenerateHandler } from '../workers/worker-client.js';
import type { RequestLog } from './context.js';
import { isRetryable, type RetryPolicy } from './retry-policy.js';

/** One try at serving a request, on a worker leased for it. */
export interface Attempt {
  /** 1 for the first try. */
  readonly number: number;
  /** Who serves it, as the x-switchyard-worker header names it (a worker id). */
  readonly worker: string;
  /** Sends the request; `handler` gets the worker's messages, then exactly one end. */
  call(request: GenerateRequest, handler: GenerateHandler, opts: GenerateCallOptions): GenerateCall;
  /** Asks the engine to drop the request (fire and forget). */
  abort(requestId: string, reason: string): void;
  /** Reports how the attempt ended to the fleet (health, circuit breaker); calls after the first are ignored. */
  finish(outcome: WorkerOutcome, reason?: string): void;
}

/** How a request ended, as far as its dispatch is concerned. */
export type DispatchResult = 'ok' | 'failed' | 'cancelled';

/** One request's dispatch across its attempts. */
export interface RequestDispatch {
  /**
   * Chooses and leases the worker of the next attempt, avoiding the workers already tried while
   * another one is routable. Throws ApiError 503 `no_available_workers` when none is routable.
   */
  next(): Attempt;
  /**
   * The wait in ms before another attempt, after `err` ended the current one before its worker sent
   * anything (so nothing reached the client); undefined to give up with `err`.
   */
  retryDelay(err: ApiError, remainingMs: number): number | undefined;
  /** The request is over; `reportedCachedTokens` is the serving worker's count when it was served. */
  ended(result: DispatchResult, reportedCachedTokens?: number): void;
}

export interface DispatchRequest {
  /** The served model's id: policies are per model. */
  model: string;
  /** Route template, the metrics label of retries. */
  route: string;
  input: RouteInput;
  log?: RequestLog | undefined;
}

export interface DispatcherOptions {
  policy: PolicyName;
  /** Prefill/decode disaggregation: every attempt is a pair, each leg chosen by its own policy. */
  pd?: { prefillPolicy: PolicyName; decodePolicy: PolicyName; metrics: PdMetrics };
  policyOptions: Partial<PolicyOptions>;
  retry: RetryPolicy;
  metrics: RoutingMetrics;
}

export class Dispatcher {
  private readonly policies = new Map<string, RoutingPolicy>();

  constructor(
    private readonly fleet: WorkerFleet,
    private readonly opts: DispatcherOptions,
  ) {
    fleet.on('removed', (entries: readonly WorkerEntry[]) => {
      this.forget(entries);
      for (const e of entries) {
        opts.metrics.forgetWorker(e.id);
        opts.pd?.metrics.forgetWorker(e.id);
      }
    });
    // An emptied KV cache holds none of the prefixes the policies credit it with; its capacity is unchanged.
    fleet.on('flushed', (entries: readonly WorkerEntry[]) => {
      this.forget(entries);
      this.learnCapacities(entries);
    });
    fleet.on('added', (entries: readonly WorkerEntry[]) => this.learnCapacities(entries));
    // GetServerInfo (read by the probe that makes a worker ready) tells the KV pool size.
    fleet.on('state', (c: StateChange) => {
      const e = c.to === 'ready' ? fleet.get(c.id) : undefined;
      if (e) this.learnCapacities([e]);
    });
  }

  isRegistered(workerId: string): boolean {
    return this.fleet.get(workerId) !== undefined;
  }

  private forget(entries: readonly WorkerEntry[]): void {
    for (const p of this.policies.values()) for (const e of entries) p.removeWorker(e.id);
  }

  get policyName(): PolicyName {
    return this.opts.policy;
  }

  /** The policy instance for one model's workers of one role, created on first use. */
  policy(model: string, role: WorkerRole): RoutingPolicy {
    const key = policyKey(model, role);
    let p = this.policies.get(key);
    if (!p) {
      p = createPolicy(this.policyNameFor(role), this.opts.policyOptions);
      this.policies.set(key, p);
      for (const e of this.fleet.list()) if (e.role === role && e.server.model === model) setCapacity(p, e);
    }
    return p;
  }

  /** The model is no longer served: its policies (trees, rings, counters) go. */
  forgetModel(model: string): void {
    for (const role of ROLES) this.policies.delete(policyKey(model, role));
  }

  begin(req: DispatchRequest): RequestDispatch {
    return new RetryingDispatch(this, req, this.opts.pd ? pairAttempt : singleAttempt);
  }

  /** Picks a worker of `role` with the model's policy and leases it with the prompt tokens it is not expected to have cached. */
  lease(req: DispatchRequest, role: WorkerRole, tried: ReadonlySet<string>, attempt: number): { lease: WorkerLease; predictedCachedTokens: number } {
    const entries = this.candidates(req.model, role, tried);
    const policy = this.policy(req.model, role);
    return this.leaseChosen(req, role, entries, policy, policy.select(this.fleet.candidates(entries), req.input), attempt);
  }

  /**
   * Picks a prefill and a decode worker together (selectPair: the prefill leg by its policy, the
   * decode leg by its policy among decode workers with KV room for the request) and leases both.
   */
  leasePair(req: DispatchRequest, tried: ReadonlySet<string>, attempt: number): { prefill: WorkerLease; decode: WorkerLease; predictedCachedTokens: number } {
    const prefills = this.candidates(req.model, 'prefill', tried);
    const decodes = this.candidates(req.model, 'decode', tried);
    const prefillPolicy = this.policy(req.model, 'prefill');
    const decodePolicy = this.policy(req.model, 'decode');
    const pair = selectPair(prefillPolicy, decodePolicy, this.fleet.candidates(prefills), this.fleet.candidates(decodes), req.input);
    const prefill = this.leaseChosen(req, 'prefill', prefills, prefillPolicy, pair.prefill, attempt);
    // The decode side receives the whole prompt's KV, cached on the prefill side or not.
    const decode = this.leaseChosen(req, 'decode', decodes, decodePolicy, { id: pair.decode.id, predictedCachedTokens: 0 }, attempt);
    this.pdMetrics?.pairChosen(prefill.lease.entry.id, decode.lease.entry.id);
    return { prefill: prefill.lease, decode: decode.lease, predictedCachedTokens: prefill.predictedCachedTokens };
  }

  /** The model's routable workers of `role`, without those already tried while another one is left. */
  private candidates(model: string, role: WorkerRole, tried: ReadonlySet<string>): WorkerEntry[] {
    const entries = this.fleet.routable(role, model);
    if (entries.length === 0) throw noAvailableWorkers(role);
    if (tried.size > 0 && entries.length > 1) {
      const fresh = entries.filter((e) => !tried.has(e.id));
      if (fresh.length > 0) return fresh;
    }
    return entries;
  }

  private leaseChosen(
    req: DispatchRequest,
    role: WorkerRole,
    entries: readonly WorkerEntry[],
    policy: RoutingPolicy,
    decision: RouteDecision,
    attempt: number,
  ): { lease: WorkerLease; predictedCachedTokens: number } {
    const entry = entries.find((e) => e.id === decision.id);
    if (!entry) throw new ApiError(500, `routing policy ${policy.name} chose '${decision.id}', which was not a candidate`, { code: 'routing_error' });
    const promptTokens = req.input.tokens.length;
    const predicted = Math.min(decision.predictedCachedTokens, promptTokens);
    this.opts.metrics.decision(policy.name, entry.id);
    req.log?.debug({ worker: entry.id, role, policy: policy.name, attempt, promptTokens, predictedCachedTokens: predicted }, 'routed');
    // Only the uncached part is new prefill work: crediting the whole prompt would push a shared prefix onto other workers.
    return { lease: this.fleet.lease(entry, promptTokens - predicted), predictedCachedTokens: predicted };
  }

  private policyNameFor(role: WorkerRole): PolicyName {
    const pd = this.opts.pd;
    if (pd && role === 'prefill') return pd.prefillPolicy;
    if (pd && role === 'decode') return pd.decodePolicy;
    return this.opts.policy;
  }

  get retry(): RetryPolicy {
    return this.opts.retry;
  }

  get metrics(): RoutingMetrics {
    return this.opts.metrics;
  }

  get pdMetrics(): PdMetrics | undefined {
    return this.opts.pd?.metrics;
  }

  private learnCapacities(entries: readonly WorkerEntry[]): void {
    for (const e of entries) for (const p of this.policies.values()) setCapacity(p, e);
  }
}

const ROLES: readonly WorkerRole[] = ['regular', 'prefill', 'decode'];

function policyKey(model: string, role: WorkerRole): string {
  return `${model}\u0000${role}`;
}

function setCapacity(policy: RoutingPolicy, e: WorkerEntry): void {
  const capacity = e.load?.kvCapacityTokens || e.server.kvCapacityTokens;
  if (capacity > 0) policy.setCapacity(e.id, capacity);
}

export function noAvailableWorkers(role: WorkerRole = 'regular'): ApiError {
  const which = role === 'regular' ? 'All workers' : `All ${role} workers`;
  return new ApiError(503, `${which} are unavailable (unhealthy, disabled or circuit breaker open); retry later`, { code: 'no_available_workers' });
}

/** An attempt chosen for a request, with the worker whose prompt-cache prediction the metrics check (none for a pair). */
interface ChosenAttempt {
  attempt: Attempt;
  predictedCachedTokens: number;
  cacheWorker: string | undefined;
  /** The worker ids it leased, avoided by the next attempt while others are routable. */
  workers: readonly string[];
}

type ChooseAttempt = (dispatcher: Dispatcher, req: DispatchRequest, tried: ReadonlySet<string>, number: number) => ChosenAttempt;

/** A regular request: every attempt is one worker. */
const singleAttempt: ChooseAttempt = (dispatcher, req, tried, number) => {
  const { lease, predictedCachedTokens } = dispatcher.lease(req, 'regular', tried, number);
  return { attempt: new WorkerAttempt(number, lease), predictedCachedTokens, cacheWorker: lease.entry.id, workers: [lease.entry.id] };
};

/**
 * A disaggregated request: every attempt is a freshly chosen pair (and, in generatePair, a fresh
 * bootstrap room). Its cached-token report comes from the decode leg, so no prediction is checked.
 */
const pairAttempt: ChooseAttempt = (dispatcher, req, tried, number) => {
  const { prefill, decode, predictedCachedTokens } = dispatcher.leasePair(req, tried, number);
  const attempt = new PairAttempt(number, prefill, decode, req, dispatcher.pdMetrics);
  return { attempt, predictedCachedTokens, cacheWorker: undefined, workers: [prefill.entry.id, decode.entry.id] };
};

/** One request's attempts, each chosen by `choose`, with the retry policy between them. */
class RetryingDispatch implements RequestDispatch {
  private readonly tried = new Set<string>();
  private attempts = 0;
  private predicted = 0;
  private cacheWorker: string | undefined;
  private retryPending = false;

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly req: DispatchRequest,
    private readonly choose: ChooseAttempt,
  ) {}

  next(): Attempt {
    const number = ++this.attempts;
    this.retryPending = false;
    const chosen = this.choose(this.dispatcher, this.req, this.tried, number);
    for (const id of chosen.workers) this.tried.add(id);
    this.predicted = chosen.predictedCachedTokens;
    this.cacheWorker = chosen.cacheWorker;
    return chosen.attempt;
  }

  retryDelay(err: ApiError, remainingMs: number): number | undefined {
    const delay = this.dispatcher.retry.nextDelayMs(err, this.attempts, remainingMs);
    if (delay === undefined) {
      if (isRetryable(err) && this.attempts > 0) this.dispatcher.metrics.retriesExhausted(this.req.route);
      return undefined;
    }
    this.retryPending = true;
    this.dispatcher.metrics.retryWaited(delay);
    return delay;
  }

  ended(result: DispatchResult, reportedCachedTokens?: number): void {
    const m = this.dispatcher.metrics;
    if (this.retryPending) m.retry(this.req.route, 'cancelled');
    else if (this.attempts > 1) m.retry(this.req.route, result === 'ok' ? 'success' : result === 'failed' ? 'failure' : 'cancelled');
    const worker = this.cacheWorker;
    // A request that drained on a removed worker must not bring back the series its removal dropped.
    if (result === 'ok' && reportedCachedTokens !== undefined && worker !== undefined && this.dispatcher.isRegistered(worker)) {
      m.cachedTokens(worker, this.predicted, reportedCachedTokens);
    }
  }
}

class WorkerAttempt implements Attempt {
  constructor(
    readonly number: number,
    private readonly lease: WorkerLease,
  ) {}

  get worker(): string {
    return this.lease.entry.id;
  }

  call(request: GenerateRequest, handler: GenerateHandler, opts: GenerateCallOptions): GenerateCall {
    // An earlier attempt may have pinned another rank; 0 is proto3's "unset".
    request.dataParallelRank = this.lease.entry.rank ?? 0;
    return this.lease.entry.client.generate(request, handler, opts);
  }

  abort(requestId: string, reason: string): void {
    void this.lease.entry.client.abort(requestId, reason);
  }

  finish(outcome: WorkerOutcome, reason?: string): void {
    this.lease.finish(outcome, reason);
  }
}

/**
 * A prefill and a decode worker serving one attempt together: the call runs both legs (generatePair),
 * abort and finish reach both.
 */
class PairAttempt implements Attempt {
  readonly worker: string;
  private pair: PairCall | undefined;

  constructor(
    readonly number: number,
    private readonly prefill: WorkerLease,
    private readonly decode: WorkerLease,
    private readonly req: DispatchRequest,
    private readonly metrics: PdMetrics | undefined,
  ) {
    this.worker = `prefill=${prefill.entry.id},decode=${decode.entry.id}`;
  }

  call(request: GenerateRequest, handler: GenerateHandler, opts: GenerateCallOptions): GenerateCall {
    const worker = this.prefill.entry.id;
    const m = this.metrics;
    this.pair = generatePair(this.prefill, this.decode, request, handler, {
      ...opts,
      onPrefillFailure: (err, failedPair) => {
        // A worker removed meanwhile must not bring back the series its removal dropped.
        if (!this.prefill.entry.server.removed) m?.prefillFailed(worker, err.code ?? 'error', failedPair ? 'failed_pair' : 'reported');
        if (!failedPair) this.req.log?.warn({ worker, err: err.message }, 'prefill leg failed after the decode leg finished');
      },
      ...(m ? { onFirstDecodeChunk: (ms: number) => m.firstDecodeToken(this.req.model, ms / 1000) } : {}),
    });
    return this.pair;
  }

  abort(_requestId: string, reason: string): void {
    this.pair?.abort(reason);
  }

  finish(outcome: WorkerOutcome, reason?: string): void {
    if (this.pair) return this.pair.finish(outcome, reason);
    this.prefill.finish(outcome, reason);
    this.decode.finish(outcome, reason);
  }
}

/** Header carrying an explicit affinity key (consistent_hash hashes it onto the ring). */
export const ROUTING_KEY_HEADER = 'x-routing-key';
/** Header carrying a client session id, the weakest affinity key. */
export const SESSION_HEADER = 'x-session-id';

/**
 * The affinity key of a request, strongest first: the X-Routing-Key header, the body's `user`,
 * the X-Session-Id header. (previous_response_id joins between the two headers once a Responses
 * route exists; chat and completions carry none.)
 */
export function routingKey(headerKey: string | undefined, user: string | undefined, sessionId: string | undefined): string | undefined {
  return headerKey || user || sessionId || undefined;
}
