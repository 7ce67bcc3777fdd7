/**
 * consistent_hash: the request's affinity key (X-Routing-Key, else previous_response_id, user or a
 * session header — chosen by the caller) is hashed onto a ring with VIRTUAL_NODES points per worker;
 * the first point clockwise whose worker is a candidate wins, so an unroutable worker's keys spread
 * over the others and come back when it does. A worker joins the ring the first time it is a
 * candidate and leaves it on removeWorker, so adding one of n workers moves about 1/n of the keys.
 * Requests without a key have no affinity to keep: they go to the least-request worker.
 */
import { CandidateSlots } from './candidate-index.js';
import { hashString } from './hash.js';
import { leastRequestIndex } from './load.js';
import type { RouteDecision, RouteInput, RoutingCandidate, RoutingPolicy } from './types.js';

export const VIRTUAL_NODES = 160;

export class ConsistentHashPolicy implements RoutingPolicy {
  readonly name = 'consistent_hash';
  private readonly members: string[] = [];
  private readonly memberIndex = new Map<string, number>();
  private readonly slots = new CandidateSlots((id) => this.join(id));
  private points = new Uint32Array(0);
  private owners = new Int32Array(0);
  private stale = false;

  constructor(private readonly random: () => number) {}

  select(candidates: readonly RoutingCandidate[], input: RouteInput): RouteDecision {
    if (input.key === undefined) return { id: candidates[leastRequestIndex(candidates, this.random)]!.id, predictedCachedTokens: 0 };
    this.slots.of(candidates);
    if (this.stale) this.rebuild();
    const points = this.points;
    const total = points.length;
    let at = lowerBound(points, hashString(input.key));
    for (let step = 0; step < total; step++, at++) {
      if (at === total) at = 0;
      const owner = this.owners[at]!;
      const position = this.slots.positionOf(owner);
      if (position >= 0) return { id: candidates[position]!.id, predictedCachedTokens: 0 };
    }
    throw new Error('consistent_hash: no candidate on the ring');
  }

  removeWorker(id: string): void {
    const index = this.memberIndex.get(id);
    if (index === undefined) return;
    const last = this.members.length - 1;
    const moved = this.members[last]!;
    this.members[index] = moved;
    this.memberIndex.set(moved, index);
    this.members.length = last;
    this.memberIndex.delete(id);
    this.slots.invalidate();
    this.stale = true;
  }

  setCapacity(): void {}

  private join(id: string): number {
    const known = this.memberIndex.get(id);
    if (known !== undefined) return known;
    const index = this.members.length;
    this.members.push(id);
    this.memberIndex.set(id, index);
    this.stale = true;
    return index;
  }

  /** Recomputes the sorted ring from the member list (only when membership changed). */
  private rebuild(): void {
    const n = this.members.length * VIRTUAL_NODES;
    const keyed = new Float64Array(n);
    for (let m = 0; m < this.members.length; m++) {
      const id = this.members[m]!;
      // Point hash in the high bits, owner in the low bits: one numeric sort orders both.
      for (let v = 0; v < VIRTUAL_NODES; v++) keyed[m * VIRTUAL_NODES + v] = hashString(`${id}#${v}`) * 0x100000 + m;
    }
    keyed.sort();
    this.points = new Uint32Array(n);
    this.owners = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const owner = keyed[i]! % 0x100000;
      this.owners[i] = owner;
      this.points[i] = (keyed[i]! - owner) / 0x100000;
    }
    this.stale = false;
  }
}

/** First index whose value is ≥ `x` (points.length when none). */
function lowerBound(points: Uint32Array, x: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
