import type { GetLoadsResponse, GetServerInfoResponse, SchedulerLoad } from '../gen/sglang/grpc/scheduler/sglang_scheduler.js';
import type { LoadSnapshot } from '../routing/types.js';
import { CircuitBreaker, type BreakerOptions, type BreakerState } from './circuit-breaker.js';
import { HealthTracker, type HealthState, type HealthThresholds } from './health-state.js';
import type { WorkerClient } from './worker-client.js';

export type WorkerRole = 'regular' | 'prefill' | 'decode';

/** An admission check's verdict: the id of the model the server serves, or why it is refused. */
export type Admission = { model: string } | { rejected: string };

/**
 * One scheduler server (one URL, one gRPC client). Health is probed per server; with DP-aware
 * routing the server is split into one entry per data-parallel rank once GetServerInfo told its dp_size.
 */
export class WorkerServer {
  entries: WorkerEntry[] = [];
  /** From GetServerInfo; undefined until it answered. */
  dpSize: number | undefined;
  kvCapacityTokens = 0;
  probing = false;
  loading = false;
  removed = false;
  /** The admission check still to pass before the first successful probe (see AddWorkerOptions.admit). */
  admit: ((client: WorkerClient) => Promise<Admission>) | undefined;
  /** The id of the model it serves, set by its admission. */
  model: string | undefined;
  readonly health: HealthTracker;

  constructor(
    readonly url: string,
    readonly client: WorkerClient,
    readonly role: WorkerRole,
    readonly bootstrapPort: number | undefined,
    readonly hasApiKey: boolean,
    thresholds: HealthThresholds,
    onHealth: (server: WorkerServer, from: HealthState, to: HealthState, reason: string) => void,
  ) {
    this.health = new HealthTracker(thresholds, (from, to, reason) => onHealth(this, from, to, reason));
  }

  /** Every rank is quarantined: the server is not probed. */
  get quarantined(): boolean {
    return this.entries.length > 0 && this.entries.every((e) => e.dead);
  }

  /** Reads dp_size (1 when absent) and the KV pool size; returns dp_size. */
  discover(info: GetServerInfoResponse): number {
    const args = info.serverArgs ?? {};
    const dp = Number(args['dp_size']);
    this.dpSize = Number.isInteger(dp) && dp > 0 ? dp : 1;
    const capacity = info.maxTotalNumTokens || Number(args['max_total_tokens']) || 0;
    this.kvCapacityTokens = Number.isFinite(capacity) && capacity > 0 ? capacity : 0;
    return this.dpSize;
  }

  /** Spreads a GetLoads answer over the entries: per rank when split, summed over ranks otherwise. */
  applyLoads(res: GetLoadsResponse, at: number): void {
    for (const e of this.entries) {
      const mine = e.rank === undefined ? res.loads : res.loads.filter((l) => l.dpRank === e.rank);
      if (mine.length === 0) continue;
      e.load = snapshotOf(mine, at, this.kvCapacityTokens);
      e.inFlightTokens = 0;
    }
  }
}

function snapshotOf(loads: readonly SchedulerLoad[], at: number, fallbackCapacity: number): LoadSnapshot {
  const s: LoadSnapshot = { runningRequests: 0, waitingRequests: 0, kvUsedTokens: 0, kvCapacityTokens: 0, waitingUncachedTokens: 0, genThroughput: 0, at };
  for (const l of loads) {
    s.runningRequests += l.numRunningReqs;
    s.waitingRequests += l.numWaitingReqs;
    s.kvUsedTokens += l.numUsedTokens;
    s.kvCapacityTokens += l.maxTotalNumTokens;
    s.waitingUncachedTokens += l.numWaitingUncachedTokens;
    s.genThroughput += l.genThroughput;
  }
  if (s.kvCapacityTokens === 0) s.kvCapacityTokens = fallbackCapacity * loads.length;
  return s;
}

/** One routable unit: a worker, or one DP rank of it. Plain counters, read and written by the registry. */
export class WorkerEntry {
  disabled = false;
  dead = false;
  inFlight = 0;
  /** Prompt tokens dispatched since the last load snapshot. */
  inFlightTokens = 0;
  load: LoadSnapshot | undefined;
  readonly breaker: CircuitBreaker;

  constructor(
    readonly id: string,
    /** The DP rank to set as data_parallel_rank; undefined when the server is not split. */
    readonly rank: number | undefined,
    readonly server: WorkerServer,
    breaker: BreakerOptions,
    onBreaker: (entry: WorkerEntry, from: BreakerState, to: BreakerState) => void,
  ) {
    this.breaker = new CircuitBreaker(breaker, (from, to) => onBreaker(this, from, to));
  }

  get url(): string {
    return this.server.url;
  }

  get client(): WorkerClient {
    return this.server.client;
  }

  get role(): WorkerRole {
    return this.server.role;
  }

  get state(): HealthState {
    return this.server.health.state;
  }
}
