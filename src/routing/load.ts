import type { RoutingCandidate } from './types.js';

/**
 * KV usage in [0, 1) corrected for staleness: the snapshot's used tokens plus the prompt tokens this
 * router dispatched since it was taken. -1 when the capacity is unknown.
 */
export function kvUsage(c: RoutingCandidate): number {
  const load = c.load;
  if (load === undefined || load.kvCapacityTokens <= 0) return -1;
  return Math.min(0.999, (load.kvUsedTokens + c.inFlightTokens) / load.kvCapacityTokens);
}

/** Free KV tokens corrected like `kvUsage`; Infinity when the capacity is unknown. */
export function kvHeadroom(c: RoutingCandidate): number {
  const load = c.load;
  if (load === undefined || load.kvCapacityTokens <= 0) return Infinity;
  return load.kvCapacityTokens - load.kvUsedTokens - c.inFlightTokens;
}

/**
 * Index of the candidate with the fewest in-flight requests, then the fewest in-flight prompt tokens;
 * remaining ties are broken uniformly with `random` (reservoir sampling, one draw per tie).
 */
export function leastRequestIndex(candidates: readonly RoutingCandidate[], random: () => number): number {
  let best = 0;
  let ties = 1;
  for (let i = 1; i < candidates.length; i++) {
    const c = candidates[i]!;
    const b = candidates[best]!;
    const order = c.inFlight - b.inFlight || c.inFlightTokens - b.inFlightTokens;
    if (order < 0) {
      best = i;
      ties = 1;
    } else if (order === 0 && random() * ++ties < 1) best = i;
  }
  return best;
}
