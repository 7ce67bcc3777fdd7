/** Cache-blind policies: random, round_robin, least_request and power_of_two. */
import { kvUsage, leastRequestIndex } from './load.js';
import type { PolicyName, RouteDecision, RoutingCandidate, RoutingPolicy } from './types.js';

/** Base for policies that keep no per-worker state. */
abstract class StatelessPolicy implements RoutingPolicy {
  abstract readonly name: PolicyName;
  constructor(protected readonly random: () => number) {}

  select(candidates: readonly RoutingCandidate[]): RouteDecision {
    return { id: candidates[this.pick(candidates)]!.id, predictedCachedTokens: 0 };
  }

  protected abstract pick(candidates: readonly RoutingCandidate[]): number;

  removeWorker(): void {}
  setCapacity(): void {}
}

export class RandomPolicy extends StatelessPolicy {
  readonly name = 'random';
  protected pick(candidates: readonly RoutingCandidate[]): number {
    return Math.floor(this.random() * candidates.length);
  }
}

/** Cycles through the candidate list as given; a changing list shifts the cycle, never stalls it. */
export class RoundRobinPolicy extends StatelessPolicy {
  readonly name = 'round_robin';
  private next = 0;
  protected pick(candidates: readonly RoutingCandidate[]): number {
    const i = this.next % candidates.length;
    this.next = (this.next + 1) % 0x40000000;
    return i;
  }
}

export class LeastRequestPolicy extends StatelessPolicy {
  readonly name = 'least_request';
  protected pick(candidates: readonly RoutingCandidate[]): number {
    return leastRequestIndex(candidates, this.random);
  }
}

/**
 * Two distinct random candidates; the one with lower KV usage when both report a capacity (usage
 * corrected by the tokens dispatched since the snapshot, so a burst does not all land on the worker
 * that looked idle 10 s ago), else fewer in-flight requests, then fewer in-flight tokens.
 */
export class PowerOfTwoPolicy extends StatelessPolicy {
  readonly name = 'power_of_two';
  protected pick(candidates: readonly RoutingCandidate[]): number {
    const n = candidates.length;
    if (n === 1) return 0;
    const i = Math.floor(this.random() * n);
    const j = (i + 1 + Math.floor(this.random() * (n - 1))) % n;
    const a = candidates[i]!;
    const b = candidates[j]!;
    const ua = kvUsage(a);
    const ub = kvUsage(b);
    if (ua >= 0 && ub >= 0 && ua !== ub) return ua < ub ? i : j;
    const order = a.inFlight - b.inFlight || a.inFlightTokens - b.inFlightTokens;
    return order <= 0 ? i : j;
  }
}
