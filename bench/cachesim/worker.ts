/**
 * One simulated engine in virtual time: a FIFO waiting queue, a running batch, and a paged LRU
 * prefix cache of finite capacity (src/sim's PrefixCache). Prefill has priority: each step either
 * prefills the head of the queue (one request, `uncached / prefill rate`) or, when the head cannot
 * be admitted, decodes one token for every running request (`base + per-request × batch`). A request
 * pins its prompt and answer blocks from admission to completion; finished sequences stay cached
 * (unpinned, LRU) until capacity is needed.
 *
 * Diagnostic variant (`reused` given): at completion the engine frees at once every block of the
 * sequence that no other request of the trace contains — a clairvoyant engine whose LRU holds no
 * unique question/answer tails, to measure how much of the cache those tails take from shared prefixes.
 */
import type { LoadSnapshot } from '../../src/routing/types.js';
import { PrefixCache } from '../../src/sim/kv-cache.js';
import type { SimRequest } from './traces.js';

export interface WorkerSpec {
  blockSize: number;
  prefillTokensPerSec: number;
  decodeBaseMs: number;
  decodePerReqMs: number;
  maxRunning: number;
  kvCapacityTokens: number;
}

export interface Job {
  req: SimRequest;
  worker: number;
  /** Prompt tokens found cached when the request reached its worker (the router's and the oracle's view of "uncached"). */
  estimatedUncached: number;
  /** Prompt tokens cached at admission (ground truth for the hit rate). */
  cachedTokens: number;
  ttftMs: number;
  remaining: number;
}

export interface WorkerEvents {
  firstToken(job: Job, now: number): void;
  finished(job: Job, now: number): void;
}

export class SimWorker {
  readonly cache = new PrefixCache();
  private readonly capacityBlocks: number;
  private readonly waiting: Job[] = [];
  private waitingHead = 0;
  private running: Job[] = [];
  private waitingUncached = 0;
  /** Whether a step is in progress, and when it ends. */
  stepping = false;
  stepEnd = 0;
  private prefilling: Job | null = null;
  busyMs = 0;
  decodedTokens = 0;

  constructor(
    readonly index: number,
    private readonly spec: WorkerSpec,
    private readonly events: WorkerEvents,
    private readonly reused: ReadonlySet<number> | null = null,
  ) {
    this.capacityBlocks = Math.floor(spec.kvCapacityTokens / spec.blockSize);
  }

  get waitingCount(): number {
    return this.waiting.length - this.waitingHead;
  }

  get runningCount(): number {
    return this.running.length;
  }

  /** Blocks of `req`'s prompt cached here right now. */
  cachedBlocks(req: SimRequest): number {
    return this.cache.match(req.keys, req.promptBlocks);
  }

  /** What the engine would take to start this prompt's first token if it arrived now (queue ahead + its own prefill). */
  predictTtftMs(req: SimRequest, now: number): number {
    const own = req.tokens.length - this.cachedBlocks(req) * this.spec.blockSize;
    return Math.max(0, this.stepEnd - now) + ((this.waitingUncached + own) * 1000) / this.spec.prefillTokensPerSec;
  }

  enqueue(req: SimRequest): Job {
    const estimatedUncached = req.tokens.length - this.cachedBlocks(req) * this.spec.blockSize;
    const job: Job = { req, worker: this.index, estimatedUncached, cachedTokens: 0, ttftMs: 0, remaining: 0 };
    this.waiting.push(job);
    this.waitingUncached += estimatedUncached;
    return job;
  }

  snapshot(now: number, intervalMs: number): LoadSnapshot {
    const snap: LoadSnapshot = {
      runningRequests: this.running.length,
      waitingRequests: this.waitingCount,
      kvUsedTokens: (this.cache.blocks - this.cache.idleBlocks) * this.spec.blockSize,
      kvCapacityTokens: this.spec.kvCapacityTokens,
      waitingUncachedTokens: this.waitingUncached,
      genThroughput: (this.decodedTokens * 1000) / intervalMs,
      at: now,
    };
    this.decodedTokens = 0;
    return snap;
  }

  /** Starts the next step at `now`; returns its end, or -1 when there is nothing to do. */
  startStep(now: number): number {
    const head = this.waiting[this.waitingHead];
    if (head && this.running.length < this.spec.maxRunning && this.admit(head)) {
      this.waitingHead++;
      if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
        this.waiting.splice(0, this.waitingHead);
        this.waitingHead = 0;
      }
      this.waitingUncached -= head.estimatedUncached;
      this.prefilling = head;
      return this.step(now, ((head.req.tokens.length - head.cachedTokens) * 1000) / this.spec.prefillTokensPerSec);
    }
    if (this.running.length > 0) return this.step(now, this.spec.decodeBaseMs + this.spec.decodePerReqMs * this.running.length);
    if (head) throw new Error(`a ${head.req.keys.length}-block sequence cannot fit a ${this.capacityBlocks}-block cache`);
    return -1;
  }

  /** Applies the step that ended at `now`. */
  finishStep(now: number): void {
    this.stepping = false;
    const job = this.prefilling;
    if (job) {
      this.prefilling = null;
      job.ttftMs = now - job.req.at;
      job.remaining = job.req.outputTokens - 1;
      this.events.firstToken(job, now);
      if (job.remaining > 0) this.running.push(job);
      else this.complete(job, now);
      return;
    }
    this.decodedTokens += this.running.length;
    let kept = 0;
    for (const j of this.running) {
      if (--j.remaining > 0) this.running[kept++] = j;
      else this.complete(j, now);
    }
    this.running.length = kept;
  }

  private step(now: number, durationMs: number): number {
    this.stepping = true;
    this.stepEnd = now + durationMs;
    this.busyMs += durationMs;
    return this.stepEnd;
  }

  private complete(job: Job, now: number): void {
    const keys = job.req.keys;
    this.cache.release(keys, 0, keys.length);
    if (this.reused !== null) for (const key of keys) if (!this.reused.has(key)) this.cache.drop(key);
    this.events.finished(job, now);
  }

  /** Pins the job's blocks if the cache can hold them, evicting idle blocks least recently used first. */
  private admit(job: Job): boolean {
    const keys = job.req.keys;
    const matched = this.cache.match(keys, job.req.promptBlocks);
    const needed = keys.length - matched;
    const free = this.capacityBlocks - this.cache.blocks;
    if (free < needed && free + this.cache.idleBlocks - matched < needed) return false;
    this.cache.acquire(keys, 0, matched);
    if (free < needed) this.cache.evict(needed - free);
    this.cache.acquire(keys, matched, keys.length);
    job.cachedTokens = Math.min(matched * this.spec.blockSize, job.req.tokens.length);
    return true;
  }
}
