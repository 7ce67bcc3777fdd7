import type { LoadSnapshot, RoutingCandidate } from '../../src/routing/index.js';

/** Deterministic PRNG (mulberry32) for policies and generated prompts. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
