/**
 * The oracle: reads the simulated workers' real caches and queues, which no real router can, and
 * sends each request to the worker with the least predicted TTFT (the step in progress + the queued
 * uncached prefill + its own uncached prefill). Greedy, so an upper bound per decision, not over a
 * whole trace.
 *
 * A pure longest-prefix oracle (routing.md §6.1 G3 "Oracle-A") is left out: with finite caches it
 * sends every request to the first worker that cached the shared system prompt and collapses.
 */
import type { SimRouter } from './simulate.js';
import type { SimRequest } from './traces.js';
import type { SimWorker } from './worker.js';

export class OracleRouter implements SimRouter {
  constructor(private readonly workers: readonly SimWorker[]) {}

  route(req: SimRequest, now: number): number {
    let best = 0;
    let bestTtft = Infinity;
    for (const w of this.workers) {
      const ttft = w.predictTtftMs(req, now);
      if (ttft < bestTtft) {
        best = w.index;
        bestTtft = ttft;
      }
    }
    return best;
  }

  finished(): void {
    // The oracle reads the workers directly; it keeps no books.
  }

  snapshot(): void {
    // Same: snapshots are for routers that cannot see the workers.
  }
}
