import type { AddedTokenSpec, Tokenizer } from '../../native/tokenizer.js';

/** The reference gateway's tokenizer cache knobs; 0 turns a level off. */
export interface TokenizerCacheSettings {
  /** L0: whole-string cache, in entries. */
  l0MaxEntries: number;
  /** L1: special-token-boundary prefix cache, in accounted bytes (prefix length + 4 × tokens). */
  l1MaxMemory: number;
}

/** Which level answered one encode; absent when neither did. */
export type CacheHit = 'l0' | 'l1';

export interface CachedEncoding {
  /** Always a fresh array the caller owns (the prep worker transfers it away). */
  ids: Uint32Array;
  hit?: CacheHit;
  /** Leading ids that came from the cache. */
  cachedTokens: number;
}

/**
 * Tokenizer encode with the reference's two caches in front.
 * L0 maps an exact (text, add_special_tokens) to its ids. L1 keeps the ids of every prefix that
 * ends right after a special token: HF splits added tokens out before normalizing and
 * pre-tokenizing, so the ids of `prefix + suffix` are the prefix's ids followed by the suffix's.
 * A chat prompt's next turn repeats the previous turn's text up to its last special token, so only
 * the new tail is tokenized.
 */
export class CachingEncoder {
  private readonly l0: [Lru<string, Uint32Array>, Lru<string, Uint32Array>] | undefined;
  private readonly l1: PrefixCache | undefined;

  private constructor(
    private readonly tokenizer: Tokenizer,
    settings: TokenizerCacheSettings,
    private readonly boundaries: BoundaryScanner | undefined,
  ) {
    // One map per add_special_tokens value, so the text itself is the key (no concatenated copy).
    this.l0 = settings.l0MaxEntries > 0 ? [new Lru(settings.l0MaxEntries), new Lru(settings.l0MaxEntries)] : undefined;
    this.l1 = settings.l1MaxMemory > 0 && boundaries ? new PrefixCache(settings.l1MaxMemory) : undefined;
  }

  /** L1 is left off for a tokenizer whose split at a special token changes the ids (checked on a probe text). */
  static async create(tokenizer: Tokenizer, settings: TokenizerCacheSettings): Promise<CachingEncoder> {
    const scanner = settings.l1MaxMemory > 0 ? BoundaryScanner.build(tokenizer.tokenizerJson.addedTokens) : undefined;
    const splitsCleanly = scanner ? await scanner.probe(tokenizer) : false;
    return new CachingEncoder(tokenizer, settings, splitsCleanly ? scanner : undefined);
  }

  get l1Enabled(): boolean {
    return this.l1 !== undefined;
  }

  async encode(text: string, addSpecialTokens: boolean): Promise<CachedEncoding> {
    const l0 = this.l0?.[addSpecialTokens ? 1 : 0];
    const whole = l0?.get(text);
    if (whole) return { ids: whole.slice(), hit: 'l0', cachedTokens: whole.length };
    // With add_special_tokens the post-processor may put ids at both ends, so prefixes do not splice.
    const res = this.l1 && !addSpecialTokens ? await this.encodeByPrefix(this.l1, text) : { ids: await this.tokenizer.encode(text, addSpecialTokens), cachedTokens: 0 };
    l0?.set(text, res.ids.slice());
    return res;
  }

  private async encodeByPrefix(l1: PrefixCache, text: string): Promise<CachedEncoding> {
    const matches = this.boundaries!.scan(text);
    if (matches.ends.length === 0) return { ids: await this.tokenizer.encode(text, false), cachedTokens: 0 };
    const keys = prefixKeys(text, matches.ends);
    for (let b = keys.length - 1; b >= 0; b--) {
      const end = matches.ends[b]!;
      if (end === text.length) continue; // the whole text is L0's business
      const head = l1.get(keys[b]!, text, end);
      if (!head) continue;
      const tail = await this.tokenizer.encode(text.slice(end), false);
      const ids = new Uint32Array(head.length + tail.length);
      ids.set(head);
      ids.set(tail, head.length);
      storePrefixes(l1, text, matches, keys, b + 1, ids, head.length);
      return { ids, hit: 'l1', cachedTokens: head.length };
    }
    const ids = await this.tokenizer.encode(text, false);
    storePrefixes(l1, text, matches, keys, 0, ids, 0);
    return { ids, cachedTokens: 0 };
  }
}

/**
 * Stores the prefix ending at each boundary from `firstBoundary` on. The ids of a boundary's prefix
 * end at that boundary's special token; the special ids in `ids[idStart..]` must be exactly the
 * scanned matches, in order, or the text was split differently than scanned and nothing is stored.
 */
function storePrefixes(l1: PrefixCache, text: string, m: BoundaryMatches, keys: number[], firstBoundary: number, ids: Uint32Array, idStart: number): void {
  const ends: number[] = [];
  let b = firstBoundary;
  for (let i = idStart; i < ids.length; i++) {
    const id = ids[i]!;
    if (!m.boundaryIds.has(id)) continue;
    if (b >= m.ids.length || m.ids[b] !== id) return;
    ends.push(i + 1);
    b++;
  }
  if (b !== m.ids.length) return;
  for (let j = 0; j < ends.length; j++) {
    const end = m.ends[firstBoundary + j]!;
    if (end === text.length) continue;
    l1.set(keys[firstBoundary + j]!, text.slice(0, end), ids.slice(0, ends[j]));
  }
}

interface BoundaryMatches {
  /** Text position just after each boundary token, ascending. */
  ends: number[];
  /** The token id of each boundary. */
  ids: number[];
  boundaryIds: ReadonlySet<number>;
}

/**
 * Finds the special tokens in a text the way HF's added-token pass does (leftmost, then longest,
 * over the non-normalized added tokens). A special token is a boundary unless its match depends on
 * the text after it (rstrip, single_word) or is made on normalized text.
 */
class BoundaryScanner {
  private constructor(
    private readonly firstChar: Uint8Array,
    private readonly lengths: number[],
    /** Content → id for boundary tokens, -1 for other added tokens that can win a match. */
    private readonly tokens: Map<string, number>,
    private readonly boundaryIds: ReadonlySet<number>,
  ) {}

  static build(added: readonly AddedTokenSpec[]): BoundaryScanner | undefined {
    const firstChar = new Uint8Array(65536);
    let boundary = added.filter((t) => t.special && !t.normalized && !t.rstrip && !t.singleWord && t.content.length > 0);
    for (const t of boundary) firstChar[t.content.charCodeAt(0)] = 1;
    const others = added.filter((t) => !t.normalized && !boundary.includes(t) && t.content.length > 0);
    // An added token starting elsewhere could swallow a boundary token's start; such boundaries are dropped.
    const overlapping = others.filter((t) => !firstChar[t.content.charCodeAt(0)]);
    boundary = boundary.filter((b) => !overlapping.some((t) => t.content.indexOf(b.content[0]!, 1) >= 0));
    if (boundary.length === 0) return undefined;
    const tokens = new Map<string, number>();
    for (const t of others) if (firstChar[t.content.charCodeAt(0)]) tokens.set(t.content, -1);
    for (const t of boundary) tokens.set(t.content, t.id);
    const lengths = [...new Set([...tokens.keys()].map((k) => k.length))].sort((a, b) => b - a);
    return new BoundaryScanner(firstChar, lengths, tokens, new Set(boundary.map((t) => t.id)));
  }

  scan(text: string): BoundaryMatches {
    const ends: number[] = [];
    const ids: number[] = [];
    const n = text.length;
    for (let i = 0; i < n; i++) {
      if (!this.firstChar[text.charCodeAt(i)]) continue;
      for (const len of this.lengths) {
        if (i + len > n) continue;
        const id = this.tokens.get(text.slice(i, i + len));
        if (id === undefined) continue;
        if (id >= 0) {
          ends.push(i + len);
          ids.push(id);
        }
        i += len - 1;
        break;
      }
    }
    return { ends, ids, boundaryIds: this.boundaryIds };
  }

  /** Splits probe texts after a special token and checks that the pieces' ids add up to the whole's. */
  async probe(tokenizer: Tokenizer): Promise<boolean> {
    const special = [...this.tokens].find(([, id]) => id >= 0)![0];
    for (const [head, tail] of [
      ['Hello', ' world  again\n\nx'],
      ['a', 'b c'],
      [' \n', '\t  ünïcode 日本語 😀 '],
    ] as const) {
      const prefix = head + special;
      const [whole, a, b] = await Promise.all([tokenizer.encode(prefix + tail, false), tokenizer.encode(prefix, false), tokenizer.encode(tail, false)]);
      if (whole.length !== a.length + b.length || whole.some((id, i) => id !== (i < a.length ? a[i] : b[i - a.length]))) return false;
    }
    return true;
  }
}

/**
 * Keys of the prefixes ending at `ends`, in one pass: FNV-1a of the text up to there, with the
 * length folded in. A key only finds a candidate; the stored text is compared before use.
 */
function prefixKeys(text: string, ends: readonly number[]): number[] {
  const keys = new Array<number>(ends.length);
  let h = 0x811c9dc5;
  let i = 0;
  for (let b = 0; b < ends.length; b++) {
    const end = ends[b]!;
    for (; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    keys[b] = (end % 0x200000) * 0x100000000 + (h >>> 0);
  }
  return keys;
}

/** Entry-bounded LRU on a Map's insertion order: a hit moves the entry to the back, eviction takes the front. */
class Lru<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly maxEntries: number) {}

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    if (this.map.size >= this.maxEntries) this.map.delete(this.map.keys().next().value as K);
    this.map.set(key, value);
  }
}

interface PrefixEntry {
  prefix: string;
  ids: Uint32Array;
  size: number;
}

/** Memory-bounded LRU of prefix → ids; a key collision is a miss (the text is compared), never wrong ids. */
class PrefixCache {
  private readonly map = new Map<number, PrefixEntry>();
  private bytes = 0;
  constructor(private readonly maxBytes: number) {}

  get(key: number, text: string, end: number): Uint32Array | undefined {
    const e = this.map.get(key);
    if (e === undefined || e.prefix.length !== end || !text.startsWith(e.prefix)) return undefined;
    this.map.delete(key);
    this.map.set(key, e);
    return e.ids;
  }

  set(key: number, prefix: string, ids: Uint32Array): void {
    const size = prefix.length + 4 * ids.length;
    if (size > this.maxBytes) return;
    const old = this.map.get(key);
    if (old) {
      this.map.delete(key);
      this.bytes -= old.size;
    }
    while (this.bytes + size > this.maxBytes) {
      const [k, e] = this.map.entries().next().value as [number, PrefixEntry];
      this.map.delete(k);
      this.bytes -= e.size;
    }
    this.map.set(key, { prefix: ownCopy(prefix), ids, size });
    this.bytes += size;
  }
}

/**
 * A slice of the prompt would keep the whole prompt alive; concatenating then slicing makes V8
 * flatten the prefix into a string of its own, so the cache holds what it accounts for.
 */
function ownCopy(s: string): string {
  return (' ' + s).slice(1);
}
