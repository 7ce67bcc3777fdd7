import type { RoutingCandidate } from './types.js';

/**
 * Maps each candidate to a small integer slot (a tree tenant, a ring owner) and back, without a
 * string-keyed lookup per candidate per request: the fleet rarely changes between requests, so when
 * the candidates are the same as last time the previous mapping is reused. "The same" is checked on
 * the candidate objects first (callers keep one object per worker, and a worker's id is stable) and
 * on the ids only for a new object: comparing 500 objects costs a third of comparing 500 strings.
 */
export class CandidateSlots {
  private ids: string[] = [];
  private objects: RoutingCandidate[] = [];
  private slots = new Int32Array(0);
  /** Candidate position per slot, -1 for a slot that is not a candidate. */
  private positions = new Int32Array(0);

  constructor(private readonly resolve: (id: string) => number) {}

  /** Slots for `candidates`, position for position. Valid (with `positionOf`) until the next call. */
  of(candidates: readonly RoutingCandidate[]): Int32Array {
    const n = candidates.length;
    if (this.ids.length !== n || !this.sameIds(candidates)) this.remap(candidates);
    return this.slots;
  }

  /** The candidates of the last `of()` call (those objects, not copies): callers may skip `of()` when theirs are the same. */
  lastCandidates(): readonly RoutingCandidate[] {
    return this.objects;
  }

  /** The slots of the last `of()` call. */
  current(): Int32Array {
    return this.slots;
  }

  /** Position in the last `of()` candidates of the one with this slot, -1 when none has it. */
  positionOf(slot: number): number {
    return slot < this.positions.length ? this.positions[slot]! : -1;
  }

  /** Slots may have been reassigned (a worker was removed): resolve again next time. */
  invalidate(): void {
    this.ids.length = 0;
    this.objects.length = 0;
  }

  private sameIds(candidates: readonly RoutingCandidate[]): boolean {
    const objects = this.objects;
    const ids = this.ids;
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i]!;
      if (objects[i] === c) continue;
      if (ids[i] !== c.id) return false;
      objects[i] = c;
    }
    return true;
  }

  private remap(candidates: readonly RoutingCandidate[]): void {
    const n = candidates.length;
    this.positions.fill(-1);
    if (this.slots.length < n) this.slots = new Int32Array(Math.max(n, this.slots.length * 2));
    // Rebuilt whole (not resized) so both stay packed arrays.
    this.ids = candidates.map((c) => c.id);
    this.objects = candidates.slice();
    for (let i = 0; i < n; i++) {
      const id = this.ids[i]!;
      const slot = this.resolve(id);
      this.slots[i] = slot;
      if (slot >= this.positions.length) this.growPositions(slot + 1);
      this.positions[slot] = i;
    }
  }

  private growPositions(min: number): void {
    const grown = new Int32Array(Math.max(min, this.positions.length * 2)).fill(-1);
    grown.set(this.positions);
    this.positions = grown;
  }
}
