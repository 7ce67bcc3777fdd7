/**
 * Prefill/decode pair selection. The prefill leg is chosen by its policy on the prompt (prefix overlap
 * and load, for cache_aware). The decode leg must then hold the whole sequence — prompt plus up to
 * `maxNewTokens` generated tokens — so it is chosen among the decode workers with that much free KV
 * (capacity − used − tokens dispatched since the snapshot; unknown capacity counts as enough), by the
 * decode policy's own load rule. When none has room, the one with the most headroom takes it: it
 * will preempt or queue least.
 */
import { kvHeadroom } from './load.js';
import type { RouteDecision, RouteInput, RoutingCandidate, RoutingPolicy } from './types.js';

export interface PdPair {
  prefill: RouteDecision;
  decode: RouteDecision;
}

export function selectPair(
  prefillPolicy: RoutingPolicy,
  decodePolicy: RoutingPolicy,
  prefillCandidates: readonly RoutingCandidate[],
  decodeCandidates: readonly RoutingCandidate[],
  input: RouteInput,
): PdPair {
  const prefill = prefillPolicy.select(prefillCandidates, input);
  const decode = decodePolicy.select(decodeCandidatesWithRoom(decodeCandidates, input.tokens.length + (input.maxNewTokens ?? 0)), input);
  return { prefill, decode };
}

/** The candidates that can hold `needed` more tokens (the list itself when all can, so no copy). */
function decodeCandidatesWithRoom(candidates: readonly RoutingCandidate[], needed: number): readonly RoutingCandidate[] {
  let fitting = 0;
  let roomiest = 0;
  let roomiestHeadroom = -Infinity;
  for (let i = 0; i < candidates.length; i++) {
    const headroom = kvHeadroom(candidates[i]!);
    if (headroom >= needed) fitting++;
    if (headroom > roomiestHeadroom) {
      roomiestHeadroom = headroom;
      roomiest = i;
    }
  }
  if (fitting === candidates.length) return candidates;
  if (fitting === 0) return [candidates[roomiest]!];
  return candidates.filter((c) => kvHeadroom(c) >= needed);
}
