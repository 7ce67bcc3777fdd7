/**
 * The affinity upper bound: a clairvoyant static partition of the trace's groups (shared-prefix
 * groups, conversations) over the workers. It reads every request's group label, which no router
 * sees, and knows the whole trace in advance: groups are placed largest first on the worker with the
 * least prompt-token volume so far, and each group always goes to its one worker. No load-awareness,
 * so it bounds the hit rate that affinity alone can reach on LRU engines, not TTFT.
 */
import type { SimRouter } from './simulate.js';
import type { SimRequest } from './traces.js';

export class AffinityBoundRouter implements SimRouter {
  private readonly workerOf = new Map<number, number>();

  constructor(requests: readonly SimRequest[], workers: number) {
    const volume = new Map<number, number>();
    for (const r of requests) volume.set(r.group, (volume.get(r.group) ?? 0) + r.tokens.length);
    const assigned = new Array<number>(workers).fill(0);
    const largestFirst = [...volume].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    for (const [group, tokens] of largestFirst) {
      const w = assigned.indexOf(Math.min(...assigned));
      assigned[w]! += tokens;
      this.workerOf.set(group, w);
    }
  }

  route(req: SimRequest): number {
    return this.workerOf.get(req.group)!;
  }

  finished(): void {
    // A static partition keeps no books.
  }

  snapshot(): void {
    // Nor does it read load.
  }
}
