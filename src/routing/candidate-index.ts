import type { RoutingCandidate } from './types.js';

/**
 * Maps each candidate to a small integer slot (a tree tenant, a ring owner) without a string-keyed
 * lookup per candidate per request: the fleet rarely changes between requests, so when the ids are
 * the same strings as last time (a pointer compare) the previous slots are reused.
 */
export class CandidateSlots {
  private ids: string[] = [];
  private slots = new Int32Array(0);

  constructor(private readonly resolve: (id: string) => number) {}

  /** Slots for `candidates`, position for position. Valid until the next call. */
  of(candidates: readonly RoutingCandidate[]): Int32Array {
    const n = candidates.length;
    const ids = this.ids;
    let same = ids.length === n;
    for (let i = 0; same && i < n; i++) same = ids[i] === candidates[i]!.id;
    if (same) return this.slots;
    if (this.slots.length < n) this.slots = new Int32Array(Math.max(n, this.slots.length * 2));
    ids.length = n;
    for (let i = 0; i < n; i++) {
      const id = candidates[i]!.id;
      ids[i] = id;
      this.slots[i] = this.resolve(id);
    }
    return this.slots;
  }

  /** Slots may have been reassigned (a worker was removed): resolve again next time. */
  invalidate(): void {
    this.ids.length = 0;
  }
}
