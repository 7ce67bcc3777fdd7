/**
 * The discrete-event loop: trace arrivals are routed, queued on simulated workers and stepped in
 * virtual time; workers publish load snapshots to the router at a fixed interval while the router's
 * own in-flight counters stay current. No real time passes.
 */
import type { LoadSnapshot, RoutingCandidate, RoutingPolicy } from '../../src/routing/types.js';
import { MinHeap } from './heap.js';
import type { SimRequest, Trace } from './traces.js';
import { SimWorker, type Job, type WorkerSpec } from './worker.js';

export interface FleetSpec extends WorkerSpec {
  workers: number;
  snapshotIntervalMs: number;
}

/** Routes one request to a worker index. Told about every dispatch's end and every load snapshot. */
export interface SimRouter {
  route(req: SimRequest, now: number): number;
  finished(worker: number, req: SimRequest): void;
  snapshot(worker: number, load: LoadSnapshot): void;
}

/**
 * A RoutingPolicy behind the router's bookkeeping: candidates with live in-flight counts and the latest
 * snapshots. Each dispatch credits the prompt's uncached part (prompt − predicted cached tokens) to
 * `inFlightTokens`, as the routing contract defines it; policies that track no cache predict 0.
 */
export class PolicyRouter implements SimRouter {
  private readonly candidates: RoutingCandidate[];
  private readonly index = new Map<string, number>();

  constructor(
    private readonly policy: RoutingPolicy,
    fleet: FleetSpec,
  ) {
    this.candidates = Array.from({ length: fleet.workers }, (_, i) => ({ id: workerId(i), inFlight: 0, inFlightTokens: 0 }));
    this.candidates.forEach((c, i) => {
      this.index.set(c.id, i);
      policy.setCapacity(c.id, fleet.kvCapacityTokens);
    });
  }

  route(req: SimRequest): number {
    const decision = this.policy.select(this.candidates, { tokens: req.tokens, maxNewTokens: req.outputTokens });
    const i = this.index.get(decision.id);
    if (i === undefined) throw new Error(`${this.policy.name} chose unknown worker ${decision.id}`);
    const c = this.candidates[i]!;
    c.inFlight++;
    c.inFlightTokens += req.tokens.length - decision.predictedCachedTokens;
    return i;
  }

  finished(worker: number): void {
    this.candidates[worker]!.inFlight--;
  }

  snapshot(worker: number, load: LoadSnapshot): void {
    const c = this.candidates[worker]!;
    c.load = load;
    c.inFlightTokens = 0;
  }
}

export function workerId(i: number): string {
  return `grpc://sim-${i}:30000`;
}

export interface SimResult {
  requests: number;
  promptTokens: number;
  cachedTokens: number;
  /** TTFT per request in virtual ms, in trace order. */
  ttftMs: Float64Array;
  /** Busy time (prefill + decode steps) per worker, virtual ms. */
  busyMs: number[];
  /** Requests dispatched per worker. */
  dispatched: number[];
  /** Virtual time when the last request finished. */
  endMs: number;
}

type SimEvent = { t: number; seq: number; worker: number };

/**
 * The engines' cache policy: `lru` keeps finished sequences cached (the real engines);
 * `no_unique_tails` is the diagnostic variant that frees the blocks no other request contains (worker.ts).
 */
export type EngineCache = 'lru' | 'no_unique_tails';

/** Block keys that occur in at least two requests of the trace (prompt or answer). */
function reusedKeys(reqs: readonly SimRequest[]): Set<number> {
  const seen = new Set<number>();
  const reused = new Set<number>();
  for (const r of reqs) {
    for (const key of r.keys) {
      if (seen.has(key)) reused.add(key);
      else seen.add(key);
    }
  }
  return reused;
}

/** Runs `trace` through a fleet of fresh workers; `makeRouter` gets the workers (the oracle reads them). */
export function simulate(
  trace: Trace,
  fleet: FleetSpec,
  makeRouter: (workers: readonly SimWorker[], now: () => number) => SimRouter,
  engine: EngineCache = 'lru',
): SimResult {
  const reqs = trace.requests;
  const ttftMs = new Float64Array(reqs.length);
  const order = new Map<SimRequest, number>(reqs.map((r, i) => [r, i]));
  let router: SimRouter;
  let cachedTokens = 0;
  let endMs = 0;
  const events = {
    firstToken(job: Job) {
      ttftMs[order.get(job.req)!] = job.ttftMs;
      cachedTokens += job.cachedTokens;
    },
    finished(job: Job, now: number) {
      router.finished(job.worker, job.req);
      endMs = Math.max(endMs, now);
    },
  };
  const reused = engine === 'no_unique_tails' ? reusedKeys(reqs) : null;
  const workers = Array.from({ length: fleet.workers }, (_, i) => new SimWorker(i, fleet, events, reused));
  let now = 0;
  router = makeRouter(workers, () => now);
  const dispatched = new Array<number>(fleet.workers).fill(0);
  // Snapshot ticks are the event with worker −1.
  const queue = new MinHeap<SimEvent>((a, b) => a.t < b.t || (a.t === b.t && a.seq < b.seq));
  let seq = 0;
  const kick = (w: SimWorker) => {
    if (w.stepping) return;
    const end = w.startStep(now);
    if (end >= 0) queue.push({ t: end, seq: seq++, worker: w.index });
  };
  queue.push({ t: fleet.snapshotIntervalMs, seq: seq++, worker: -1 });
  let next = 0;
  let promptTokens = 0;
  while (next < reqs.length || queue.size > 1) {
    const top = queue.pop()!;
    if (next < reqs.length && reqs[next]!.at <= top.t) {
      queue.push(top);
      const req = reqs[next++]!;
      now = req.at;
      promptTokens += req.tokens.length;
      const w = router.route(req, now);
      dispatched[w]!++;
      workers[w]!.enqueue(req);
      kick(workers[w]!);
      continue;
    }
    now = top.t;
    if (top.worker < 0) {
      for (const w of workers) router.snapshot(w.index, w.snapshot(now, fleet.snapshotIntervalMs));
      queue.push({ t: now + fleet.snapshotIntervalMs, seq: seq++, worker: -1 });
      continue;
    }
    const w = workers[top.worker]!;
    w.finishStep(now);
    kick(w);
  }
  return { requests: reqs.length, promptTokens, cachedTokens, ttftMs, busyMs: workers.map((w) => w.busyMs), dispatched, endMs };
}
