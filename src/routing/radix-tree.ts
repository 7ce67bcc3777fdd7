/**
 * Approximate per-worker prefix caches: one radix tree over prompt token ids, shared by all workers
 * ("tenants"), page-aligned to the engine's KV block size because engines cache whole pages only.
 *
 * Shape
 * - An edge holds a run of whole pages (a Uint32Array whose length is a multiple of the block size).
 *   Children are keyed by a hash of their edge's first page; hash collisions chain through
 *   `nextInBucket` and are resolved by comparing the page.
 * - Every node carries the set of tenants that hold it. Tenant sets are prefix-closed (a tenant on a
 *   node is on all of its ancestors): inserts add the tenant along the whole path, splits copy the
 *   set to the new upper node, evictions remove a tenant from its leaves first.
 * - Per tenant, its nodes form one doubly linked LRU list. A request touches its path leaf-first,
 *   so an ancestor always sits closer to the MRU end than its descendants: the LRU head of a tenant
 *   is always one of its leaves, and eviction pops from the head in O(1) per node — no tree scan.
 *
 * Hot path: `match()` descends once and records the path plus, for every tenant met on it, the
 * deepest matched length; `insert()` reuses that path to add the chosen tenant (one split and one new
 * leaf at most) and then bounds that tenant's share by its capacity.
 */

/** One (node, tenant) membership, linked into the tenant's LRU list. */
class Membership {
  prev: Membership = this;
  next: Membership = this;
  constructor(
    readonly node: TreeNode | null,
    readonly tenant: number,
  ) {}
}

class TreeNode {
  /** Byte view of `tokens`, for native comparison against a typed-array prompt. */
  bytes: Buffer;
  children: Map<number, TreeNode> | null = null;
  /** The next child of the same parent whose first page hashes to the same key. */
  nextInBucket: TreeNode | null = null;
  readonly tenants = new Map<number, Membership>();
  constructor(
    public tokens: Uint32Array,
    public parent: TreeNode | null,
    public key: number,
  ) {
    this.bytes = byteView(tokens);
  }
}

function byteView(tokens: Uint32Array): Buffer {
  return Buffer.from(tokens.buffer, tokens.byteOffset, tokens.byteLength);
}

interface Tenant {
  id: string;
  /** Tokens this tenant may hold; the tree evicts its LRU leaves beyond that. */
  capacity: number;
  /** Tokens this tenant holds (sum of the edge lengths of its nodes). */
  size: number;
  /** Sentinel of the LRU list: `lru.next` is least recently used, `lru.prev` most recently used. */
  lru: Membership;
}

const EMPTY = new Uint32Array(0);

export class TokenRadixTree {
  readonly blockSize: number;
  private readonly root = new TreeNode(EMPTY, null, 0);
  private readonly tenants: (Tenant | undefined)[] = [];
  private readonly indexById = new Map<string, number>();
  private readonly freeIndexes: number[] = [];
  private readonly defaultCapacity: number;

  // Result of the last match(), read by matchedLength() and consumed by insert().
  private readonly pathNodes: TreeNode[] = [];
  private pathLength = 0;
  /** Page-aligned tokens of the edge that matched only partly (0 = the path ends on a node boundary). */
  private partialNode: TreeNode | null = null;
  private partialMatched = 0;
  private matchedEnd = 0;
  private usableEnd = 0;
  private matchGeneration = 0;
  private matchedGen = new Int32Array(16);
  private matchedLen = new Int32Array(16);
  /** The distinct tenants met by the last match(), in the order first met. */
  private matchedTenants = new Int32Array(16);
  private matchedTenantCount = 0;

  constructor(blockSize: number, defaultCapacity: number) {
    if (!Number.isInteger(blockSize) || blockSize < 1) throw new RangeError(`block size must be a positive integer, got ${blockSize}`);
    this.blockSize = blockSize;
    this.defaultCapacity = defaultCapacity;
  }

  /** The tenant index for a worker id, registering the worker on first sight. */
  tenantIndex(id: string): number {
    const known = this.indexById.get(id);
    if (known !== undefined) return known;
    const index = this.freeIndexes.pop() ?? this.tenants.length;
    const lru = new Membership(null, index);
    this.tenants[index] = { id, capacity: this.defaultCapacity, size: 0, lru };
    this.indexById.set(id, index);
    if (index >= this.matchedGen.length) this.growScratch(index + 1);
    return index;
  }

  /** Tokens the worker holds in the tree (0 for an unknown worker). */
  tenantSize(id: string): number {
    const index = this.indexById.get(id);
    return index === undefined ? 0 : this.tenants[index]!.size;
  }

  /** Sets the worker's token budget (`defaultCapacity` when `capacity` is 0) and evicts down to it. */
  setCapacity(id: string, capacity: number): void {
    const tenant = this.tenants[this.tenantIndex(id)]!;
    tenant.capacity = capacity > 0 ? capacity : this.defaultCapacity;
    this.evictToCapacity(tenant);
  }

  /** Evicts every tenant that is over its budget. */
  evictAll(): void {
    for (const tenant of this.tenants) if (tenant !== undefined) this.evictToCapacity(tenant);
  }

  /** Forgets the worker: its memberships go, nodes left without tenants are unlinked. */
  removeTenant(id: string): void {
    const index = this.indexById.get(id);
    if (index === undefined) return;
    const tenant = this.tenants[index]!;
    while (tenant.lru.next !== tenant.lru) this.dropMembership(tenant, tenant.lru.next);
    this.indexById.delete(id);
    this.tenants[index] = undefined;
    this.freeIndexes.push(index);
  }

  /** Number of nodes below the root (for tests and memory accounting). */
  nodeCount(): number {
    let count = 0;
    const stack: TreeNode[] = [this.root];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node.children === null) continue;
      for (const first of node.children.values()) {
        for (let child: TreeNode | null = first; child !== null; child = child.nextInBucket) {
          count++;
          stack.push(child);
        }
      }
    }
    return count;
  }

  /**
   * Descends along `tokens` (only whole pages count) and records the path. Afterwards
   * `matchedLength(tenant)` answers for every tenant, and `insert()` may add the prompt for one.
   * Returns the deepest matched length over all tenants.
   */
  match(tokens: ArrayLike<number>): number {
    const B = this.blockSize;
    const usable = tokens.length - (tokens.length % B);
    const gen = ++this.matchGeneration;
    this.usableEnd = usable;
    this.pathLength = 0;
    this.partialNode = null;
    this.partialMatched = 0;
    this.matchedTenantCount = 0;
    // Pipelines hand over Uint32Arrays: those are compared edge by edge with memcmp.
    const bytes = tokens instanceof Uint32Array ? byteView(tokens) : null;
    let node = this.root;
    let pos = 0;
    while (pos < usable) {
      const child = this.findChild(node, tokens, pos);
      if (child === null) break;
      const edge = child.tokens;
      const limit = Math.min(edge.length, usable - pos);
      let i = B; // findChild compared the first page
      if (bytes !== null && limit > B && bytes.compare(child.bytes, B * 4, limit * 4, (pos + B) * 4, (pos + limit) * 4) === 0) i = limit;
      else while (i < limit && edge[i] === tokens[pos + i]) i++;
      const matched = i - (i % B);
      this.markTenants(child, pos + matched, gen);
      if (matched < edge.length) {
        this.partialNode = child;
        this.partialMatched = matched;
        pos += matched;
        break;
      }
      this.pathNodes[this.pathLength++] = child;
      pos += matched;
      node = child;
    }
    this.matchedEnd = pos;
    return pos;
  }

  /** Tokens of the last matched prompt that `tenant` holds. */
  matchedLength(tenant: number): number {
    return this.matchedGen[tenant] === this.matchGeneration ? this.matchedLen[tenant]! : 0;
  }

  /** How many tenants hold part of the last matched prompt (`matchedLength` > 0). */
  holderCount(): number {
    return this.matchedTenantCount;
  }

  /** The `i`-th tenant (0 ≤ i < holderCount()) that holds part of the last matched prompt. */
  holder(i: number): number {
    return this.matchedTenants[i]!;
  }

  /**
   * Adds the prompt of the last `match()` for `tenant` (the same `tokens` must be passed) and marks the
   * path as its most recently used, then evicts the tenant's LRU leaves beyond its capacity.
   */
  insert(tenant: number, tokens: ArrayLike<number>): void {
    const t = this.tenants[tenant]!;
    let deepest = this.pathLength > 0 ? this.pathNodes[this.pathLength - 1]! : this.root;
    if (this.partialNode !== null) {
      deepest = this.split(this.partialNode, this.partialMatched);
      this.pathNodes[this.pathLength++] = deepest;
      this.partialNode = null;
    }
    const start = this.matchedEnd;
    const end = this.usableEnd;
    if (end > start) {
      const edge = new Uint32Array(end - start);
      for (let i = 0; i < edge.length; i++) edge[i] = tokens[start + i]!;
      const leaf = new TreeNode(edge, deepest, pageKey(edge, 0, this.blockSize));
      this.attachChild(deepest, leaf);
      this.touch(t, leaf);
    }
    for (let i = this.pathLength - 1; i >= 0; i--) this.touch(t, this.pathNodes[i]!);
    // The path is now stale for other tenants' bookkeeping; a second insert needs a new match().
    this.pathLength = 0;
    this.matchedEnd = this.usableEnd = 0;
    if (t.size > t.capacity) this.evictToCapacity(t);
  }

  private markTenants(node: TreeNode, length: number, gen: number): void {
    const gens = this.matchedGen;
    const lens = this.matchedLen;
    for (const tenant of node.tenants.keys()) {
      if (gens[tenant] !== gen) {
        gens[tenant] = gen;
        this.matchedTenants[this.matchedTenantCount++] = tenant;
      }
      lens[tenant] = length;
    }
  }

  private findChild(node: TreeNode, tokens: ArrayLike<number>, pos: number): TreeNode | null {
    if (node.children === null) return null;
    const B = this.blockSize;
    let child = node.children.get(pageKey(tokens, pos, B)) ?? null;
    for (; child !== null; child = child.nextInBucket) {
      const edge = child.tokens;
      let i = 0;
      while (i < B && edge[i] === tokens[pos + i]) i++;
      if (i === B) return child;
    }
    return null;
  }

  private attachChild(parent: TreeNode, child: TreeNode): void {
    child.parent = parent;
    if (parent.children === null) parent.children = new Map();
    child.nextInBucket = parent.children.get(child.key) ?? null;
    parent.children.set(child.key, child);
  }

  private detachChild(parent: TreeNode, child: TreeNode): void {
    const children = parent.children!;
    let head = children.get(child.key)!;
    if (head === child) {
      if (child.nextInBucket === null) children.delete(child.key);
      else children.set(child.key, child.nextInBucket);
    } else {
      while (head.nextInBucket !== child) head = head.nextInBucket!;
      head.nextInBucket = child.nextInBucket;
    }
    child.nextInBucket = null;
    if (children.size === 0) parent.children = null;
  }

  /** Cuts `node`'s edge after `at` tokens (page-aligned, 0 < at < length); returns the new upper node. */
  private split(node: TreeNode, at: number): TreeNode {
    const parent = node.parent!;
    const upper = new TreeNode(node.tokens.subarray(0, at), parent, node.key);
    // Same first page, so the upper node takes the lower one's place in the parent's bucket.
    const children = parent.children!;
    let head = children.get(node.key)!;
    if (head === node) children.set(node.key, upper);
    else {
      while (head.nextInBucket !== node) head = head.nextInBucket!;
      head.nextInBucket = upper;
    }
    upper.nextInBucket = node.nextInBucket;
    node.nextInBucket = null;
    node.tokens = node.tokens.subarray(at);
    node.bytes = byteView(node.tokens);
    node.key = pageKey(node.tokens, 0, this.blockSize);
    this.attachChild(upper, node);
    for (const [tenant, below] of node.tenants) {
      // The ancestor goes right after its descendant in the tenant's LRU order.
      const m = new Membership(upper, tenant);
      m.prev = below;
      m.next = below.next;
      below.next.prev = m;
      below.next = m;
      upper.tenants.set(tenant, m);
    }
    return upper;
  }

  /** Moves (or adds) the tenant's membership of `node` to the MRU end of its list. */
  private touch(t: Tenant, node: TreeNode): void {
    const index = t.lru.tenant;
    let m = node.tenants.get(index);
    if (m === undefined) {
      m = new Membership(node, index);
      node.tenants.set(index, m);
      t.size += node.tokens.length;
    } else {
      m.prev.next = m.next;
      m.next.prev = m.prev;
    }
    const tail = t.lru.prev;
    m.prev = tail;
    m.next = t.lru;
    tail.next = m;
    t.lru.prev = m;
  }

  private evictToCapacity(t: Tenant): void {
    const B = this.blockSize;
    while (t.size > t.capacity) {
      const oldest = t.lru.next;
      const node = oldest.node!;
      const excess = t.size - t.capacity;
      const keep = node.tokens.length - Math.ceil(excess / B) * B;
      // Drop only the pages needed: the upper part stays cached for this tenant.
      if (keep > 0) this.split(node, keep);
      this.dropMembership(t, oldest);
    }
  }

  private dropMembership(t: Tenant, m: Membership): void {
    const node = m.node!;
    m.prev.next = m.next;
    m.next.prev = m.prev;
    node.tenants.delete(m.tenant);
    t.size -= node.tokens.length;
    // Prefix-closed tenant sets: a node nobody holds has no held descendants either.
    if (node.tenants.size === 0) this.detachChild(node.parent!, node);
  }

  private growScratch(min: number): void {
    const size = Math.max(min, this.matchedGen.length * 2);
    const gen = new Int32Array(size);
    gen.set(this.matchedGen);
    const len = new Int32Array(size);
    len.set(this.matchedLen);
    this.matchedGen = gen;
    this.matchedLen = len;
    const tenants = new Int32Array(size);
    tenants.set(this.matchedTenants);
    this.matchedTenants = tenants;
  }
}

/** FNV-1a-style hash of one page of token ids, as a small integer for Map keys. */
function pageKey(tokens: ArrayLike<number>, pos: number, blockSize: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < blockSize; i++) h = Math.imul(h ^ tokens[pos + i]!, 0x01000193);
  return h >>> 1;
}
