/**
 * The simulated engine's prefix cache: full blocks of `blockSize` tokens, each keyed by a rolling
 * hash of every token from the start of the sequence, so a key names its whole prefix and the
 * parent chain is implicit. Blocks held by running sequences are pinned; the rest sit in an LRU
 * that the engine evicts from under memory pressure.
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const MIX_SEED = 0x9747b28c;
const MIX_MUL = 0x5bd1e995;
/** 2^21: the second hash contributes 21 bits so the combined key stays a safe integer. */
const KEY_SPLIT = 2097152;

/**
 * Two independent 32-bit rolling hashes (FNV-1a over the token's little-endian bytes, and a
 * multiplicative mix) combined into one 53-bit key: 32-bit FNV alone collides too often once a
 * benchmark has pushed a few hundred thousand blocks through the cache.
 */
export class BlockHasher {
  private h1 = FNV_OFFSET;
  private h2 = MIX_SEED;

  push(token: number): void {
    let h = this.h1;
    h = Math.imul(h ^ (token & 0xff), FNV_PRIME);
    h = Math.imul(h ^ ((token >>> 8) & 0xff), FNV_PRIME);
    h = Math.imul(h ^ ((token >>> 16) & 0xff), FNV_PRIME);
    h = Math.imul(h ^ (token >>> 24), FNV_PRIME);
    this.h1 = h;
    const g = Math.imul(this.h2 ^ token, MIX_MUL);
    this.h2 = g ^ (g >>> 15);
  }

  key(): number {
    return (this.h1 >>> 0) * KEY_SPLIT + (this.h2 >>> 11);
  }

  clone(): BlockHasher {
    const c = new BlockHasher();
    c.h1 = this.h1;
    c.h2 = this.h2;
    return c;
  }
}

/** A prompt's full-block keys plus the hash state after its last token, to continue into the output. */
export interface PromptHash {
  readonly keys: Float64Array;
  readonly tail: BlockHasher;
}

export function hashPrompt(ids: ArrayLike<number>, blockSize: number): PromptHash {
  const tail = new BlockHasher();
  return { keys: blockKeys(ids, blockSize, tail), tail };
}

function blockKeys(ids: ArrayLike<number>, blockSize: number, hasher: BlockHasher): Float64Array {
  const keys = new Float64Array(Math.floor(ids.length / blockSize));
  let k = 0;
  for (let i = 0; i < ids.length; i++) {
    hasher.push(ids[i]!);
    if ((i + 1) % blockSize === 0) keys[k++] = hasher.key();
  }
  return keys;
}

export class PrefixCache {
  /** Block key → number of running sequences pinning it. */
  private readonly refs = new Map<number, number>();
  /** Unpinned blocks, least recently used first (a Set keeps insertion order). */
  private readonly idle = new Set<number>();

  get blocks(): number {
    return this.refs.size;
  }

  get idleBlocks(): number {
    return this.idle.size;
  }

  /** How many leading keys (at most `limit`) are cached. */
  match(keys: ArrayLike<number>, limit: number): number {
    const n = Math.min(limit, keys.length);
    let i = 0;
    while (i < n && this.refs.has(keys[i]!)) i++;
    return i;
  }

  /** Pins keys[from, to), inserting the ones not cached yet. */
  acquire(keys: ArrayLike<number>, from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const key = keys[i]!;
      const ref = this.refs.get(key);
      if (ref === undefined) {
        this.refs.set(key, 1);
      } else {
        if (ref === 0) this.idle.delete(key);
        this.refs.set(key, ref + 1);
      }
    }
  }

  /**
   * Unpins keys[from, to). Walking backwards leaves a parent more recently used than its
   * children, so eviction trims chains from the leaves like a radix cache does.
   */
  release(keys: ArrayLike<number>, from: number, to: number): void {
    for (let i = to - 1; i >= from; i--) {
      const key = keys[i]!;
      const ref = this.refs.get(key);
      if (ref === undefined || ref === 0) continue;
      this.refs.set(key, ref - 1);
      if (ref === 1) this.idle.add(key);
    }
  }

  /** Frees the block at once if it is cached and nothing pins it; returns whether it went. */
  drop(key: number): boolean {
    if (this.refs.get(key) !== 0) return false;
    this.idle.delete(key);
    this.refs.delete(key);
    return true;
  }

  /** Drops every block; only valid when nothing pins one (the engine is idle). */
  clear(): void {
    this.refs.clear();
    this.idle.clear();
  }

  /** Drops up to `count` unpinned blocks, oldest first; returns how many went. */
  evict(count: number): number {
    let evicted = 0;
    for (const key of this.idle) {
      if (evicted >= count) break;
      this.idle.delete(key);
      this.refs.delete(key);
      evicted++;
    }
    return evicted;
  }
}
