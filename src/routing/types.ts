/**
 * The routing contract: what a policy sees of the fleet and of a request, and what it answers.
 * Shared by the policies in this directory, the cache-hit simulation bench and the pipeline.
 * Nothing here knows about HTTP, parsers or gRPC.
 */

/** A backend load snapshot (from GetLoads / GetServerInfo), per worker or per DP rank. */
export interface LoadSnapshot {
  runningRequests: number;
  waitingRequests: number;
  /** KV-cache tokens in use and the pool's capacity in tokens (0 = unknown). */
  kvUsedTokens: number;
  kvCapacityTokens: number;
  /** Prompt tokens queued for prefill that are not cached (num_waiting_uncached_tokens). */
  waitingUncachedTokens: number;
  /** Generation throughput in tokens/s, 0 when unknown. */
  genThroughput: number;
  /** Date.now() when taken. */
  at: number;
}

/** One routable worker as a policy sees it (already filtered: ready, enabled, breaker closed). */
export interface RoutingCandidate {
  /** Stable worker id: the URL, or `${url}@${rank}` for a DP rank. */
  id: string;
  /** Requests this router has in flight on the worker. */
  inFlight: number;
  /**
   * Uncached prompt tokens this router dispatched to it since its last load snapshot: per dispatch the
   * prompt length minus the decision's `predictedCachedTokens`. Only those are queued prefill the
   * snapshot does not show yet; crediting the whole prompt makes a worker that holds a shared prefix
   * look busy with work it will not do, and pushes the prefix's next requests to workers without it.
   */
  inFlightTokens: number;
  load?: LoadSnapshot;
}

export interface RouteInput {
  /** The prompt's token ids. */
  tokens: ArrayLike<number>;
  /** Affinity key for consistent_hash (X-Routing-Key header, else previous_response_id, user, session header). */
  key?: string;
  /**
   * Completion tokens the request may generate (max_tokens), when known. The decode leg of a PD pair
   * must hold prompt + this many tokens of KV, so the decode choice checks KV headroom against it.
   */
  maxNewTokens?: number;
}

export interface RouteDecision {
  id: string;
  /** Prompt tokens the policy expects the worker to have cached (0 when it does not track caches). */
  predictedCachedTokens: number;
}

export type PolicyName = 'random' | 'round_robin' | 'power_of_two' | 'least_request' | 'consistent_hash' | 'cache_aware';

export const POLICY_NAMES: readonly PolicyName[] = ['random', 'round_robin', 'power_of_two', 'least_request', 'consistent_hash', 'cache_aware'];

export interface RoutingPolicy {
  readonly name: PolicyName;
  /** Chooses one of `candidates` (non-empty). Synchronous, no I/O. Records the dispatch (cache_aware inserts the prompt for the chosen worker). */
  select(candidates: readonly RoutingCandidate[], input: RouteInput): RouteDecision;
  /** The worker left the fleet: forget its cache share / ring points. */
  removeWorker(id: string): void;
  /** The worker's real KV capacity in tokens, used to bound its share of the approximate cache. */
  setCapacity(id: string, kvCapacityTokens: number): void;
}

export interface PolicyOptions {
  blockSize: number; // --block-size, default 16
  cacheThreshold: number; // --cache-threshold, default 0.3
  balanceAbsThreshold: number; // --balance-abs-threshold, default 64
  balanceRelThreshold: number; // --balance-rel-threshold, default 1.5
  evictionIntervalSecs: number; // --eviction-interval, default 120
  maxTreeSize: number; // --max-tree-size, default 67108864 (tokens per worker when capacity unknown)
  random?: () => number; // injectable RNG for tests
}

export const DEFAULT_POLICY_OPTIONS: PolicyOptions = Object.freeze({
  blockSize: 16,
  cacheThreshold: 0.3,
  balanceAbsThreshold: 64,
  balanceRelThreshold: 1.5,
  evictionIntervalSecs: 120,
  maxTreeSize: 67_108_864,
});
