/**
 * A port of the reference gateway's `cache_aware` policy on token ids (routing.md §1.4, §2.2, §2.3),
 * the baseline our policy is measured against. Faithful in the parts that decide routing:
 *
 * - one pass over the candidates for min/max in-flight and the min-load worker, ties broken by
 *   (in-flight, processed, index);
 * - a binary switch: max − min in-flight > abs threshold AND max > rel threshold × min → min-load
 *   worker (the prompt is still inserted for it);
 * - else one descent of a 16-token page tree: match rate = matched tokens / prompt tokens; above the
 *   cache threshold → ONE tenant of the deepest matched node (its cached "last tenant", refreshed on
 *   1 in 16 touches, else the first of its tenants), with no load tie-break; otherwise min-load;
 * - a matched tenant that is no longer a candidate → the first candidate, without inserting;
 * - the tree is capped per tenant by `maxTreeSize` tokens, enforced only by a periodic sweep that
 *   removes the tenant's least recently used leaves until it fits.
 *
 * "processed" counts this policy's dispatches (the policy sees no completions). The tree is keyed by
 * the rolling block hashes of src/sim, which name a page together with its whole prefix, so a flat
 * map of page nodes is the page trie. Clocks are injected so the bench runs it in virtual time.
 */
import type { PolicyOptions, RouteDecision, RouteInput, RoutingCandidate, RoutingPolicy } from '../../src/routing/types.js';
import { hashPrompt } from '../../src/sim/kv-cache.js';
import { MinHeap } from './heap.js';

/** The reference refreshes a node's cached tenant on one touch in 16. */
const LAST_TENANT_REFRESH = 1 / 16;

interface PageNode {
  readonly key: number;
  readonly parent: PageNode | null;
  readonly children: Set<PageNode>;
  /** Tenant → access stamp of the global monotonic counter. */
  readonly tenants: Map<string, number>;
  lastTenant: string;
}

export interface ReferenceOptions extends Pick<PolicyOptions, 'blockSize' | 'cacheThreshold' | 'balanceAbsThreshold' | 'balanceRelThreshold' | 'evictionIntervalSecs' | 'maxTreeSize'> {
  random: () => number;
  /** Current time in ms (virtual in the simulation). */
  now: () => number;
}

/** The reference's approximate token tree: pages of `blockSize` tokens, tenants per page, LRU stamps. */
export class PageTree {
  private readonly nodes = new Map<number, PageNode>();
  private readonly sizes = new Map<string, number>();
  private clock = 0;

  constructor(
    private readonly blockSize: number,
    private readonly random: () => number,
  ) {}

  /** Tokens tracked for `tenant`. */
  size(tenant: string): number {
    return this.sizes.get(tenant) ?? 0;
  }

  /** Matched pages and one tenant of the deepest matched page. */
  match(keys: Float64Array): { pages: number; tenant: string | null } {
    let pages = 0;
    let node: PageNode | undefined;
    for (; pages < keys.length; pages++) {
      const next = this.nodes.get(keys[pages]!);
      if (!next) break;
      node = next;
    }
    if (!node) return { pages: 0, tenant: null };
    const tenant = node.tenants.has(node.lastTenant) ? node.lastTenant : node.tenants.keys().next().value!;
    return { pages, tenant };
  }

  insert(keys: Float64Array, tenant: string): void {
    let parent: PageNode | null = null;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      let node = this.nodes.get(key);
      if (!node) {
        node = { key, parent, children: new Set(), tenants: new Map(), lastTenant: tenant };
        this.nodes.set(key, node);
        parent?.children.add(node);
      }
      if (!node.tenants.has(tenant)) this.sizes.set(tenant, this.size(tenant) + this.blockSize);
      node.tenants.set(tenant, ++this.clock);
      if (this.random() < LAST_TENANT_REFRESH) node.lastTenant = tenant;
      parent = node;
    }
  }

  /** Removes `tenant`'s least recently used leaf pages until it holds at most `cap` tokens. */
  evictTenant(tenant: string, cap: number): void {
    let size = this.size(tenant);
    if (size <= cap) return;
    const stamp = (n: PageNode) => n.tenants.get(tenant)!;
    const heap = new MinHeap<PageNode>((a, b) => stamp(a) < stamp(b));
    const isLeafOf = (n: PageNode) => n.tenants.has(tenant) && ![...n.children].some((c) => c.tenants.has(tenant));
    for (const n of this.nodes.values()) if (isLeafOf(n)) heap.push(n);
    while (size > cap && heap.size > 0) {
      const n = heap.pop()!;
      n.tenants.delete(tenant);
      size -= this.blockSize;
      if (n.tenants.size === 0) {
        this.nodes.delete(n.key);
        n.parent?.children.delete(n);
      }
      if (n.parent && isLeafOf(n.parent)) heap.push(n.parent);
    }
    this.sizes.set(tenant, size);
  }

  tenants(): IterableIterator<string> {
    return this.sizes.keys();
  }
}

export class ReferenceCacheAware implements RoutingPolicy {
  readonly name = 'cache_aware';
  readonly tree: PageTree;
  private readonly processed = new Map<string, number>();
  private nextSweepAt: number;

  constructor(private readonly opts: ReferenceOptions) {
    this.tree = new PageTree(opts.blockSize, opts.random);
    this.nextSweepAt = opts.now() + opts.evictionIntervalSecs * 1000;
  }

  select(candidates: readonly RoutingCandidate[], input: RouteInput): RouteDecision {
    this.sweepIfDue();
    let minLoad = Infinity;
    let maxLoad = -Infinity;
    let best = 0;
    let bestProcessed = Infinity;
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i]!;
      const processed = this.processed.get(c.id) ?? 0;
      if (c.inFlight < minLoad || (c.inFlight === minLoad && processed < bestProcessed)) {
        best = i;
        bestProcessed = processed;
      }
      minLoad = Math.min(minLoad, c.inFlight);
      maxLoad = Math.max(maxLoad, c.inFlight);
    }
    const keys = hashPrompt(input.tokens, this.opts.blockSize).keys;
    const imbalanced = maxLoad - minLoad > this.opts.balanceAbsThreshold && maxLoad > this.opts.balanceRelThreshold * minLoad;
    if (imbalanced) return this.dispatch(candidates[best]!.id, keys, 0);

    const match = this.tree.match(keys);
    const matchedTokens = match.pages * this.opts.blockSize;
    if (input.tokens.length > 0 && matchedTokens / input.tokens.length > this.opts.cacheThreshold) {
      const tenant = candidates.find((c) => c.id === match.tenant);
      if (!tenant) return { id: candidates[0]!.id, predictedCachedTokens: 0 };
      return this.dispatch(tenant.id, keys, matchedTokens);
    }
    return this.dispatch(candidates[best]!.id, keys, 0);
  }

  removeWorker(): void {
    // The reference keeps a departed worker's pages until the size sweep removes them.
  }

  setCapacity(): void {
    // The reference bounds its tree by --max-tree-size only, never by a worker's real KV capacity.
  }

  private dispatch(id: string, keys: Float64Array, predictedCachedTokens: number): RouteDecision {
    this.tree.insert(keys, id);
    this.processed.set(id, (this.processed.get(id) ?? 0) + 1);
    return { id, predictedCachedTokens };
  }

  private sweepIfDue(): void {
    const now = this.opts.now();
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + this.opts.evictionIntervalSecs * 1000;
    for (const tenant of [...this.tree.tenants()]) this.tree.evictTenant(tenant, this.opts.maxTreeSize);
  }
}
