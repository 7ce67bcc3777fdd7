import type { LoadSnapshot, RoutingCandidate } from '../../src/routing/index.js';

/** `n` token ids drawn from a 50K vocabulary. */
export function randomTokens(n: number, random: () => number): number[] {
  return Array.from({ length: n }, () => Math.floor(random() * 50_000));
}

export function candidate(id: string, inFlight = 0, inFlightTokens = 0, load?: Partial<LoadSnapshot>): RoutingCandidate {
  const c: RoutingCandidate = { id, inFlight, inFlightTokens };
  if (load) {
    c.load = {
      runningRequests: 0,
      waitingRequests: 0,
      kvUsedTokens: 0,
      kvCapacityTokens: 0,
      waitingUncachedTokens: 0,
      genThroughput: 0,
      at: 0,
      ...load,
    };
  }
  return c;
}

export const fleet = (n: number): RoutingCandidate[] => Array.from({ length: n }, (_, i) => candidate(`w${i}`));
