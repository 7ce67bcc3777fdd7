import { performance } from 'node:perf_hooks';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import type { RouterMetrics } from '../metrics/router-metrics.js';

export interface AdmissionOptions {
  /** Bucket capacity: requests that may hold a slot at once. */
  maxConcurrent: number;
  /** Requests that may wait for a slot; 0 turns every request beyond capacity away at once. */
  queueSize: number;
  queueTimeoutMs: number;
  /** Extra tokens added per second on top of the ones returned by finished requests (0 = a plain semaphore). */
  refillPerSecond: number;
}

/** Why a request did not get a slot. */
export type Refusal = 'queue_full' | 'queue_timeout';

interface Waiter {
  grant: () => void;
  refuse: (why: Refusal) => void;
  timer: NodeJS.Timeout;
}

/** A queued request; `withdraw()` takes it out of the queue (the client left). */
export interface QueuedTicket {
  withdraw(): void;
}

/**
 * The admission token bucket. A request takes a token to run and gives it back when its response
 * ends; with none left it waits in a bounded FIFO queue, and is refused when the queue is full or
 * it waited longer than the timeout. Pure bookkeeping: no HTTP here.
 */
export class AdmissionGate {
  private tokens: number;
  private refilledAt = performance.now();
  /** Insertion-ordered, so the first entry is the longest waiter; deletes from the middle are O(1). */
  private readonly queue = new Set<Waiter>();
  private held = 0;
  private refillTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: AdmissionOptions) {
    this.tokens = opts.maxConcurrent;
  }

  get queued(): number {
    return this.queue.size;
  }

  /** Requests currently holding a token. */
  get inFlight(): number {
    return this.held;
  }

  /**
   * Takes a token now (returns true), or queues the request: then exactly one of `grant` /
   * `refuse` runs later, unless the returned ticket is withdrawn first. A full queue refuses at once.
   */
  enter(grant: () => void, refuse: (why: Refusal) => void): true | QueuedTicket {
    this.refill();
    if (this.queue.size === 0 && this.tokens >= 1) {
      this.take();
      return true;
    }
    if (this.queue.size >= this.opts.queueSize) {
      refuse('queue_full');
      return { withdraw: () => undefined };
    }
    const w: Waiter = {
      grant,
      refuse,
      timer: setTimeout(() => {
        this.queue.delete(w);
        refuse('queue_timeout');
      }, this.opts.queueTimeoutMs),
    };
    this.queue.add(w);
    this.scheduleRefill();
    return {
      withdraw: () => {
        if (this.queue.delete(w)) clearTimeout(w.timer);
      },
    };
  }

  /** Returns the token of a request that was admitted; call exactly once per admission. */
  leave(): void {
    this.held--;
    this.refill();
    this.tokens = Math.min(this.opts.maxConcurrent, this.tokens + 1);
    this.pump();
  }

  /** Drops the refill timer and refuses nobody: the server is closing and sockets go with it. */
  close(): void {
    clearTimeout(this.refillTimer);
    for (const w of this.queue) clearTimeout(w.timer);
    this.queue.clear();
  }

  private take(): void {
    this.tokens -= 1;
    this.held++;
  }

  private refill(): void {
    const rate = this.opts.refillPerSecond;
    if (rate <= 0) return;
    const now = performance.now();
    this.tokens = Math.min(this.opts.maxConcurrent, this.tokens + ((now - this.refilledAt) * rate) / 1000);
    this.refilledAt = now;
  }

  private pump(): void {
    for (const w of this.queue) {
      if (this.tokens < 1) break;
      this.queue.delete(w);
      clearTimeout(w.timer);
      this.take();
      w.grant();
    }
    this.scheduleRefill();
  }

  /** With a refill rate, waiters are granted as tokens trickle in, not only when requests end. */
  private scheduleRefill(): void {
    const rate = this.opts.refillPerSecond;
    if (rate <= 0 || this.queue.size === 0 || this.refillTimer !== undefined) return;
    const waitMs = Math.max(1, ((1 - this.tokens) * 1000) / rate);
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.refill();
      this.pump();
    }, waitMs);
  }
}

const REFUSALS: Record<Refusal, () => ApiError> = {
  queue_full: () =>
    new ApiError(429, 'Too many requests: every slot is busy and the admission queue is full; retry later', { code: 'queue_full' }),
  queue_timeout: () =>
    new ApiError(408, 'The request waited longer than --queue-timeout-secs for an admission slot', { code: 'queue_timeout' }),
};

/**
 * The fastify side: an onRequest hook for inference routes. The token is returned when the
 * response's socket side closes, whichever way it ends (body sent, stream done, client gone,
 * error); a request that leaves while queued is withdrawn from the queue.
 */
export function admissionHook(gate: AdmissionGate, metrics: RouterMetrics) {
  return (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void => {
    const res = reply.raw;
    let settled = false;
    const admitted = () => {
      if (res.closed) {
        // The client left before the slot was ours to use: hand the token straight back.
        metrics.admission('cancelled');
        gate.leave();
        return;
      }
      metrics.admission('allowed');
      res.once('close', () => gate.leave());
      done();
    };
    const onGone = () => {
      if (settled) return;
      settled = true;
      if (ticket !== true) ticket.withdraw();
      metrics.admission('cancelled');
      request.log.debug('client left while queued for admission');
    };
    const ticket = gate.enter(
      () => {
        settled = true;
        res.off('close', onGone);
        admitted();
      },
      (why) => {
        settled = true;
        res.off('close', onGone);
        metrics.admission(why);
        done(REFUSALS[why]());
      },
    );
    if (ticket === true) admitted();
    else if (!settled) res.once('close', onGone);
  };
}
