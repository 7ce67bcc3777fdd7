/**
 * cache_aware: prefix affinity and load in one score.
 *
 * For every candidate the policy estimates the prefill work standing between this request and its
 * first token on that worker, in prompt tokens (a stand-in for TTFT × prefill rate), and picks the
 * cheapest:
 *
 *   cost = 2 × (prompt − credited overlap)         this request's uncached prefill, and the cached
 *                                                  tokens its new KV will displace
 *        + waitingUncachedTokens + inFlightTokens  queued prefill: snapshot + dispatched since
 *        + REQUEST_TOKENS × running                decode batch the prefill shares steps with
 *                                                  (in-flight count without a snapshot)
 *        + KV_PRESSURE_TOKENS × u / (1 − u)        u = KV usage incl. dispatched tokens: a nearly
 *                                                  full pool evicts (our predicted cache first)
 *
 * Why uncached tokens count twice. Their prefill delays this request once. Then they stay in the worker's
 * KV, and an engine's LRU prefix cache runs full in steady state, so every token written displaces one
 * that was cached — on a worker without the prefix, a duplicate of a prefix another worker still holds
 * displaces a prefix some later request would have hit. Valuing the displaced token at one prefill
 * token is the upper bound (the router cannot tell which token the engine drops, nor whether it would
 * be reused); in the cache-hit simulation (BENCHMARKS.md) 1.5× and 2× do the same on shuffled shared
 * prefixes and conversations, 1× finds 5–8 points fewer cached tokens there, and only 2× keeps a burst
 * of prompts on the holder of their prefix (1.5× splits it: 83.5 % against 88.2 % cached). Between
 * workers that all lack the prompt (no reuse) the doubled term is equal and the choice is by load
 * alone, as before. Crediting
 * the router's own dispatches by their uncached part only (RoutingCandidate.inFlightTokens) is the
 * other half: a holder is not charged for prefill its cache saves.
 *
 * Why only running requests count as batch. A request waiting for its prefill delays this one by its
 * uncached tokens, which the queued-prefill term already holds; counting it again as a batch member
 * charged a holder twice for every follower it queued. On a burst of prompts sharing a long prefix
 * (parallel sub-agents) that double charge outgrew the doubled prefix after about ten followers and
 * split the burst over several workers, each recomputing the prefix: 84 % of prompt tokens cached
 * against 88 % (the compulsory-miss ceiling) when the burst stays on its holder (BENCHMARKS.md).
 *
 * Without load snapshots the terms reduce to the in-flight counters this router keeps, so the policy
 * still balances. Equal costs go to the worker with fewer in-flight requests, then to a random one.
 *
 * Overlap comes from an approximate radix tree of what each worker was sent (radix-tree.ts), bounded
 * per worker by its real KV capacity (setCapacity; --max-tree-size until known). Every worker that
 * holds part of the prompt is scored with its own overlap, so a shared prefix goes to the least
 * loaded of its holders rather than to an arbitrary one.
 *
 * The reference's switches become limits on the credit:
 * - --cache-threshold: an overlap of at most this fraction of the prompt earns no credit. A short
 *   shared head (template, small system prompt) is cheap to recompute and must not pin traffic.
 * - --balance-abs-threshold / --balance-rel-threshold: a worker whose in-flight count exceeds the
 *   least-loaded candidate's by more than the absolute threshold AND more than the relative factor
 *   earns no credit either, so affinity cannot pile work onto a hot worker; it competes on load.
 * - --eviction-interval: capacities that shrank are enforced on every worker at this period (lazily,
 *   on a select); the chosen worker is always bounded at once.
 */
import { CandidateSlots } from './candidate-index.js';
import { kvUsage } from './load.js';
import { TokenRadixTree } from './radix-tree.js';
import type { PolicyOptions, RouteDecision, RouteInput, RoutingCandidate, RoutingPolicy } from './types.js';

/**
 * What one uncached prompt token costs, in queued-prefill tokens: its prefill now, plus the cached token
 * it displaces once written to the worker's KV (see the header).
 */
export const UNCACHED_TOKEN_COST = 2;
/** Token-equivalent of one request in a worker's batch: a decode step it adds to every prefill chunk. */
export const REQUEST_TOKENS = 64;
/** Scale of the KV-pressure term: at 50 % usage a worker costs this many extra tokens, at 90 % nine times it. */
export const KV_PRESSURE_TOKENS = 1024;

export class CacheAwarePolicy implements RoutingPolicy {
  readonly name = 'cache_aware';
  readonly tree: TokenRadixTree;
  private readonly slots: CandidateSlots;
  private readonly random: () => number;
  private readonly cacheThreshold: number;
  private readonly balanceAbs: number;
  private readonly balanceRel: number;
  private readonly sweepEveryMs: number;
  private lastSweep = Date.now();
  /** Limits on the credit for the decision in progress (set by select). */
  private hotAbove = 0;
  private creditAbove = 0;

  constructor(opts: PolicyOptions & { random: () => number }) {
    this.tree = new TokenRadixTree(opts.blockSize, opts.maxTreeSize);
    this.slots = new CandidateSlots((id) => this.tree.tenantIndex(id));
    this.random = opts.random;
    this.cacheThreshold = opts.cacheThreshold;
    this.balanceAbs = opts.balanceAbsThreshold;
    this.balanceRel = opts.balanceRelThreshold;
    this.sweepEveryMs = opts.evictionIntervalSecs * 1000;
  }

  select(candidates: readonly RoutingCandidate[], input: RouteInput): RouteDecision {
    const tokens = input.tokens;
    const promptTokens = tokens.length;
    const tree = this.tree;
    this.maybeSweep();
    tree.match(tokens);

    // Pass 1 scores every candidate as if it held nothing of the prompt (its load decides), counts
    // the ones tied for best (cost, then in-flight) and notices a changed fleet on the way. Pass 2
    // rescores only the workers the match met: a credit only lowers a cost, so a holder can only join
    // or displace the best. A third pass runs only on a tie and takes a uniformly drawn one of them —
    // one RNG draw per decision. Costs leave out 2 × prompt, the same for every candidate.
    const n = candidates.length;
    const seen = this.slots.lastCandidates();
    let changed = seen.length !== n;
    let minInFlight = Infinity;
    let best = 0;
    let bestCost = Infinity;
    let bestInFlight = Infinity;
    let ties = 0;
    for (let i = 0; i < n; i++) {
      const c = candidates[i]!;
      if (!changed && seen[i] !== c) changed = true;
      const inFlight = c.inFlight;
      const cost = c.load === undefined ? c.inFlightTokens + REQUEST_TOKENS * inFlight : loadCost(c);
      if (inFlight < minInFlight) minInFlight = inFlight;
      if (cost > bestCost) continue;
      if (cost < bestCost || inFlight < bestInFlight) {
        best = i;
        bestCost = cost;
        bestInFlight = inFlight;
        ties = 1;
      } else if (inFlight === bestInFlight) ties++;
    }
    const slots = changed ? this.slots.of(candidates) : this.slots.current();
    this.hotAbove = Math.max(minInFlight + this.balanceAbs, minInFlight * this.balanceRel);
    this.creditAbove = this.cacheThreshold * promptTokens;
    const holders = tree.holderCount();
    for (let h = 0; h < holders; h++) {
      const i = this.slots.positionOf(tree.holder(h));
      if (i < 0) continue;
      const c = candidates[i]!;
      const credit = this.credit(c, slots[i]!);
      if (credit === 0) continue;
      const cost = loadCost(c) - credit;
      if (cost > bestCost) continue;
      if (cost < bestCost || c.inFlight < bestInFlight) {
        best = i;
        bestCost = cost;
        bestInFlight = c.inFlight;
        ties = 1;
      } else if (c.inFlight === bestInFlight) ties++;
    }
    if (ties > 1) {
      let k = Math.floor(this.random() * ties);
      for (let i = 0; ; i++) {
        const c = candidates[i]!;
        if (c.inFlight === bestInFlight && loadCost(c) - this.credit(c, slots[i]!) === bestCost && k-- === 0) {
          best = i;
          break;
        }
      }
    }
    const predictedCachedTokens = tree.matchedLength(slots[best]!);
    tree.insert(slots[best]!, tokens);
    return { id: candidates[best]!.id, predictedCachedTokens };
  }

  removeWorker(id: string): void {
    this.tree.removeTenant(id);
    this.slots.invalidate();
  }

  setCapacity(id: string, kvCapacityTokens: number): void {
    this.tree.setCapacity(id, kvCapacityTokens);
  }

  /**
   * What holding part of the prompt takes off the candidate's cost: 2 × its overlap when that exceeds
   * --cache-threshold of the prompt and the candidate is not past the balance thresholds, else 0.
   */
  private credit(c: RoutingCandidate, slot: number): number {
    const matched = this.tree.matchedLength(slot);
    return matched > this.creditAbove && c.inFlight <= this.hotAbove ? UNCACHED_TOKEN_COST * matched : 0;
  }

  private maybeSweep(): void {
    const now = Date.now();
    if (now - this.lastSweep < this.sweepEveryMs) return;
    this.lastSweep = now;
    this.tree.evictAll();
  }
}

/** The load terms of the cost (everything except this request's own uncached prefill). */
function loadCost(c: RoutingCandidate): number {
  const load = c.load;
  let queued = c.inFlightTokens;
  let requests = c.inFlight;
  if (load !== undefined) {
    queued += load.waitingUncachedTokens;
    // Waiting requests are in `queued` already; dispatches since the snapshot are in inFlightTokens.
    requests = load.runningRequests;
  }
  const u = kvUsage(c);
  const pressure = u > 0 ? (KV_PRESSURE_TOKENS * u) / (1 - u) : 0;
  return queued + REQUEST_TOKENS * requests + pressure;
}
