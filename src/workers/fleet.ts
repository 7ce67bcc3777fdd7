import { EventEmitter } from 'node:events';
import { ApiError } from '../errors.js';
import type { LoadSnapshot, RoutingCandidate } from '../routing/types.js';
import type { BreakerOptions, BreakerState } from './circuit-breaker.js';
import type { WorkerOutcome } from './grpc-errors.js';
import type { HealthState, HealthThresholds } from './health-state.js';
import { WorkerClient } from './worker-client.js';
import { WorkerEntry, WorkerServer, type Admission, type WorkerRole } from './worker-entry.js';

export { WorkerEntry, type Admission, type WorkerRole } from './worker-entry.js';

export interface FleetOptions {
  health: HealthThresholds & { intervalMs: number; timeoutMs: number };
  breaker: BreakerOptions;
  loadIntervalMs: number;
  /** Split each server into one entry per data-parallel rank (ids `${url}@${rank}`). */
  dpAware: boolean;
  now?: () => number;
}

export interface AddWorkerOptions {
  /** Sent as `authorization: Bearer KEY` on every call to the worker; never shown by describe(). */
  apiKey?: string;
  role?: WorkerRole;
  /** The prefill server's KV bootstrap port (PD disaggregation). */
  bootstrapPort?: number;
  /**
   * Runs on each probe until it has passed, after the health check and before the server may
   * become ready, so a worker is never routable before it was admitted. Resolves with the model
   * the server serves to admit it, or with the reason to reject: the server is then removed and
   * 'rejected' emitted. A throw counts as a failed probe and is tried again on the next one.
   */
  admit?: (client: WorkerClient) => Promise<Admission>;
}

/** A server that failed its admission check and was removed. */
export interface WorkerRejection {
  url: string;
  reason: string;
}

/** How one server answered FlushCache. */
export interface FlushOutcome {
  url: string;
  /** Why it did not flush; absent when it did. */
  error?: string;
}

/** One request's hold on an entry: dispatched when taken, finished exactly once. */
export interface WorkerLease {
  readonly entry: WorkerEntry;
  /** Reports how the request ended; calls after the first are ignored. */
  finish(outcome: WorkerOutcome, reason?: string): void;
}

export interface WorkerFlags {
  disabled?: boolean;
  dead?: boolean;
}

/** The public view of one entry: what an admin API may return (no API key). */
export interface WorkerView {
  id: string;
  url: string;
  /** The model it serves, once its admission read it (null for a worker added without an admission check). */
  model_id: string | null;
  role: WorkerRole;
  dp_rank: number | null;
  dp_size: number | null;
  bootstrap_port: number | null;
  state: HealthState;
  disabled: boolean;
  dead: boolean;
  circuit_breaker: BreakerState;
  routable: boolean;
  in_flight: number;
  has_api_key: boolean;
  load: WorkerLoadView | null;
}

/** The last GetLoads snapshot of an entry, as the admin API shows it. */
export interface WorkerLoadView {
  running_requests: number;
  waiting_requests: number;
  kv_used_tokens: number;
  kv_capacity_tokens: number;
  /** kv_used_tokens / kv_capacity_tokens, 0 when the capacity is unknown. */
  kv_usage: number;
  waiting_uncached_tokens: number;
  gen_throughput: number;
  /** How old the snapshot is. */
  age_ms: number;
}

export interface StateChange {
  id: string;
  url: string;
  from: HealthState;
  to: HealthState;
  reason: string;
}

export interface BreakerChange {
  id: string;
  url: string;
  from: BreakerState;
  to: BreakerState;
}

/**
 * The worker registry: servers and their routable entries, health probes, passive detection,
 * per-entry circuit breakers and the load monitor. Emits 'state' (StateChange) on health changes,
 * 'breaker' (BreakerChange) on breaker changes, 'added' (WorkerEntry[]) once a server's entries
 * exist, 'removed' (WorkerEntry[]), 'rejected' (WorkerRejection) when a server failed its admission
 * check, and 'flushed' (WorkerEntry[]) once a server confirmed FlushCache: its KV cache is empty, so
 * listeners that predict cache contents (the routing policies' removeWorker(id)) forget its share.
 * Routable = health ready, not disabled, not dead, breaker closed (or half-open with its trial slot free).
 */
export class WorkerFleet extends EventEmitter {
  private readonly servers = new Map<string, WorkerServer>();
  private entries: WorkerEntry[] = [];
  private readonly byId = new Map<string, WorkerEntry>();
  private readonly expansions = new Map<WorkerServer, Array<{ resolve(e: WorkerEntry[]): void; reject(err: Error): void }>>();
  private started = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly now: () => number;

  constructor(private readonly opts: FleetOptions) {
    super();
    this.now = opts.now ?? Date.now;
  }

  /**
   * Registers a server. Resolves with its entries: at once, or with DP-aware routing once a probe
   * has read its dp_size (which waits for the server to come up; rejected if it is removed first).
   */
  add(url: string, opts: AddWorkerOptions = {}): Promise<WorkerEntry[]> {
    if (this.servers.has(url)) return Promise.reject(new ApiError(409, `worker ${url} is already registered`, { code: 'worker_exists' }));
    const client = new WorkerClient(url, opts.apiKey === undefined ? {} : { apiKey: opts.apiKey });
    const server = new WorkerServer(url, client, opts.role ?? 'regular', opts.bootstrapPort, opts.apiKey !== undefined, this.opts.health, (s, from, to, reason) =>
      this.onHealth(s, from, to, reason),
    );
    server.admit = opts.admit;
    this.servers.set(url, server);
    client.watchConnection(() => void this.probe(server));
    const done = this.opts.dpAware
      ? new Promise<WorkerEntry[]>((resolve, reject) => this.expansions.set(server, [{ resolve, reject }]))
      : Promise.resolve(this.expand(server, [undefined]));
    if (this.started) void this.probe(server);
    return done;
  }

  /** Whether a server with this URL is registered (its ranks may not be known yet). */
  has(url: string): boolean {
    return this.servers.has(url);
  }

  /**
   * Removes a server with all its ranks (`id` is its URL or any of its entry ids); returns the
   * entries removed. Nothing new is routed to it from now on; calls already started run to their
   * end, since closing a gRPC channel only fails calls that have not started.
   */
  remove(id: string): WorkerEntry[] {
    const server = this.servers.get(id) ?? this.byId.get(id)?.server;
    if (!server) throw notFound(id);
    server.removed = true;
    this.servers.delete(server.url);
    for (const e of server.entries) this.byId.delete(e.id);
    this.entries = this.entries.filter((e) => e.server !== server);
    for (const w of this.expansions.get(server) ?? []) w.reject(new Error(`worker ${server.url} was removed`));
    this.expansions.delete(server);
    server.client.close();
    this.emit('removed', server.entries);
    return server.entries;
  }

  get(id: string): WorkerEntry | undefined {
    return this.byId.get(id);
  }

  list(): readonly WorkerEntry[] {
    return this.entries;
  }

  /** One client per server (for model discovery at startup), whether or not its ranks are known yet. */
  clients(): WorkerClient[] {
    return [...this.servers.values()].map((s) => s.client);
  }

  isRoutable(e: WorkerEntry, now = this.now()): boolean {
    return e.server.health.state === 'ready' && !e.disabled && !e.dead && e.breaker.allows(now);
  }

  /** The routable entries, of one role and of one model when given. */
  routable(role?: WorkerRole, model?: string): WorkerEntry[] {
    const now = this.now();
    return this.entries.filter((e) => (role === undefined || e.role === role) && (model === undefined || e.server.model === model) && this.isRoutable(e, now));
  }

  /** A request can be served now: by a routable regular worker, or by a routable prefill and decode pair. */
  canServe(): boolean {
    const roles = new Set(this.routable().map((e) => e.role));
    return roles.has('regular') || (roles.has('prefill') && roles.has('decode'));
  }

  candidates(entries: readonly WorkerEntry[]): RoutingCandidate[] {
    return entries.map((e) => (e.load ? { id: e.id, inFlight: e.inFlight, inFlightTokens: e.inFlightTokens, load: e.load } : { id: e.id, inFlight: e.inFlight, inFlightTokens: e.inFlightTokens }));
  }

  /** Validates every flag first, then applies them together; returns the entry's new view. */
  setFlags(id: string, flags: WorkerFlags): WorkerView {
    const e = this.byId.get(id);
    if (!e) throw notFound(id);
    for (const key of Object.keys(flags) as Array<keyof WorkerFlags>) {
      if (key !== 'disabled' && key !== 'dead') throw new ApiError(400, `unknown worker flag '${key as string}'`, { param: key, code: 'invalid_value' });
      if (typeof flags[key] !== 'boolean') throw new ApiError(400, `'${key}' must be a boolean`, { param: key, code: 'invalid_value' });
    }
    const wasQuarantined = e.server.quarantined;
    if (flags.disabled !== undefined) e.disabled = flags.disabled;
    if (flags.dead !== undefined) e.dead = flags.dead;
    if (wasQuarantined && !e.server.quarantined) {
      // Its health went unobserved while quarantined: start over and probe now.
      e.server.health.reset();
      void this.probe(e.server);
    }
    return this.view(e);
  }

  /** A request was sent to `entry` with this many prompt tokens; returns whether it is its breaker's half-open trial. */
  dispatched(entry: WorkerEntry, promptTokens: number): boolean {
    entry.inFlight++;
    entry.inFlightTokens += promptTokens;
    return entry.breaker.dispatched(this.now());
  }

  /**
   * dispatched() now, finished() once when the lease is finished. A finished request is no longer
   * queued for prefill, so its tokens leave inFlightTokens too — unless a load snapshot taken since
   * has already reset the count (and would now be undercounted).
   */
  lease(entry: WorkerEntry, promptTokens: number): WorkerLease {
    const trial = this.dispatched(entry, promptTokens);
    const snapshotAt = entry.load?.at;
    let open = true;
    return {
      entry,
      finish: (outcome, reason) => {
        if (!open) return;
        open = false;
        if (entry.load?.at === snapshotAt) entry.inFlightTokens = Math.max(0, entry.inFlightTokens - promptTokens);
        this.finished(entry, outcome, reason, trial);
      },
    };
  }

  /**
   * The request ended; `unreachable` takes the server out of rotation at once. `trial`: the request
   * was its breaker's half-open trial (what dispatched() returned). A removed worker's breaker and
   * health are no one's concern any more (their events would bring back the metric series its
   * removal dropped): only its in-flight count moves.
   */
  finished(entry: WorkerEntry, outcome: WorkerOutcome, reason?: string, trial = false): void {
    entry.inFlight--;
    if (entry.server.removed) return;
    switch (outcome) {
      case 'ok':
        return entry.breaker.success(trial);
      case 'failure':
        return entry.breaker.failure(this.now(), trial);
      case 'unreachable':
        entry.breaker.failure(this.now(), trial);
        return entry.server.health.unreachable(reason ?? 'unreachable');
      default:
        return entry.breaker.neutral(trial);
    }
  }

  describe(): WorkerView[] {
    return this.entries.map((e) => this.view(e));
  }

  view(e: WorkerEntry): WorkerView {
    const now = this.now();
    return {
      id: e.id,
      url: e.url,
      model_id: e.server.model ?? null,
      role: e.role,
      dp_rank: e.rank ?? null,
      dp_size: e.rank === undefined ? null : (e.server.dpSize ?? null),
      bootstrap_port: e.server.bootstrapPort ?? null,
      state: e.state,
      disabled: e.disabled,
      dead: e.dead,
      circuit_breaker: e.breaker.state(now),
      routable: this.isRoutable(e, now),
      in_flight: e.inFlight,
      has_api_key: e.server.hasApiKey,
      load: e.load ? loadView(e.load, now) : null,
    };
  }

  /**
   * Sends FlushCache to every server not quarantined (dead), one outcome each; emits 'flushed'
   * with the entries of the servers that flushed.
   */
  async flushCaches(timeoutS: number): Promise<FlushOutcome[]> {
    const targets = [...this.servers.values()].filter((s) => !s.quarantined);
    return Promise.all(
      targets.map(async (s): Promise<FlushOutcome> => {
        try {
          const res = await s.client.flushCache(timeoutS);
          if (!res.success) return { url: s.url, error: res.message || 'the worker did not flush its cache' };
          if (!s.removed) this.emit('flushed', s.entries);
          return { url: s.url };
        } catch (err) {
          return { url: s.url, error: (err as Error).message };
        }
      }),
    );
  }

  /** Starts the probe and load loops (probing every server now). */
  start(): void {
    if (this.started) return;
    this.started = true;
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    void this.probeAll();
    every(this.opts.health.intervalMs, () => void this.probeAll());
    every(this.opts.loadIntervalMs, () => void this.refreshLoads());
  }

  /** Probes every server not quarantined; resolves when all probes have settled. */
  async probeAll(): Promise<void> {
    await Promise.all([...this.servers.values()].map((s) => this.probe(s)));
  }

  /** Reads GetLoads from every ready server. */
  async refreshLoads(): Promise<void> {
    await Promise.all([...this.servers.values()].map((s) => this.readLoads(s)));
  }

  /** Resolves once `count` entries are routable, or rejects after `timeoutMs`. */
  whenRoutable(count: number, timeoutMs: number): Promise<void> {
    if (this.routable().length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.routable().length < count) return;
        clearTimeout(timer);
        this.off('state', check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.off('state', check);
        reject(new Error(`only ${this.routable().length} of ${count} workers became routable within ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('state', check);
    });
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
    for (const s of this.servers.values()) s.client.close();
  }

  private async probe(s: WorkerServer): Promise<void> {
    if (s.probing || s.removed || s.quarantined) return;
    s.probing = true;
    try {
      const res = await s.client.healthCheck(this.opts.health.timeoutMs);
      if (!res.healthy) throw new Error(res.message || 'worker reports unhealthy');
      if (s.dpSize === undefined) this.discovered(s, await s.client.getServerInfo(this.opts.health.timeoutMs));
      if (s.admit && !s.removed) {
        const verdict = await s.admit(s.client);
        if ('rejected' in verdict) return this.reject(s, verdict.rejected);
        s.model = verdict.model;
        s.admit = undefined;
      }
      if (!s.removed) s.health.probeSucceeded();
    } catch (err) {
      if (s.removed) return;
      const reason = (err as Error).message;
      if (err instanceof ApiError && err.code === 'worker_unreachable') s.health.unreachable(reason);
      s.health.probeFailed(reason);
    } finally {
      s.probing = false;
    }
  }

  private reject(s: WorkerServer, reason: string): void {
    if (s.removed) return;
    this.remove(s.url);
    this.emit('rejected', { url: s.url, reason } satisfies WorkerRejection);
  }

  private discovered(s: WorkerServer, info: Parameters<WorkerServer['discover']>[0]): void {
    const dpSize = s.discover(info);
    if (s.removed || !this.opts.dpAware) return;
    const entries = this.expand(s, Array.from({ length: dpSize }, (_, r) => r));
    for (const w of this.expansions.get(s) ?? []) w.resolve(entries);
    this.expansions.delete(s);
  }

  private expand(s: WorkerServer, ranks: ReadonlyArray<number | undefined>): WorkerEntry[] {
    s.entries = ranks.map(
      (rank) => new WorkerEntry(rank === undefined ? s.url : `${s.url}@${rank}`, rank, s, this.opts.breaker, (e, from, to) => this.emit('breaker', { id: e.id, url: e.url, from, to } satisfies BreakerChange)),
    );
    for (const e of s.entries) this.byId.set(e.id, e);
    this.entries = [...this.entries, ...s.entries];
    this.emit('added', s.entries);
    return s.entries;
  }

  private async readLoads(s: WorkerServer): Promise<void> {
    if (s.loading || s.removed || s.health.state !== 'ready' || s.entries.length === 0) return;
    s.loading = true;
    try {
      const res = await s.client.getLoads(Math.min(5_000, this.opts.loadIntervalMs));
      if (!s.removed) s.applyLoads(res, this.now());
    } catch {
      // A missed snapshot keeps the last one; health is the probes' business.
    } finally {
      s.loading = false;
    }
  }

  private onHealth(s: WorkerServer, from: HealthState, to: HealthState, reason: string): void {
    for (const e of s.entries) this.emit('state', { id: e.id, url: s.url, from, to, reason } satisfies StateChange);
  }
}

function loadView(l: LoadSnapshot, now: number): WorkerLoadView {
  return {
    running_requests: l.runningRequests,
    waiting_requests: l.waitingRequests,
    kv_used_tokens: l.kvUsedTokens,
    kv_capacity_tokens: l.kvCapacityTokens,
    kv_usage: l.kvCapacityTokens > 0 ? l.kvUsedTokens / l.kvCapacityTokens : 0,
    waiting_uncached_tokens: l.waitingUncachedTokens,
    gen_throughput: l.genThroughput,
    age_ms: Math.max(0, now - l.at),
  };
}

function notFound(id: string): ApiError {
  return new ApiError(404, `no worker '${id}'`, { code: 'worker_not_found' });
}
