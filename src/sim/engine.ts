import { PrefixCache, type BlockHasher, type PromptHash } from './kv-cache.js';
import { fillerAt, type ReplyPlan } from './script.js';

/**
 * A continuous-batching scheduler in the shape of SGLang's, sleeping in real time: FIFO admission
 * while the batch has room and the uncached prompt fits in KV, a chunked-prefill budget shared in
 * running order, one decode token per running sequence per step, and a step time of
 * max(prefill / prefill_tps, decode_base + decode_per_req × decoding). With an all-zero latency
 * model steps run back to back on setImmediate, which batches whatever arrived in between.
 */
export interface EngineConfig {
  prefillTokensPerSec: number;
  decodeBaseMs: number;
  decodePerReqMs: number;
  /** Prefill tokens per step; 0 = unlimited. */
  prefillChunk: number;
  kvCapacityTokens: number;
  blockSize: number;
  maxRunning: number;
  eosTokenIds: readonly number[];
}

export type FinishReason = 'stop' | 'length' | 'abort';

export interface SeqSpec {
  readonly prompt: ArrayLike<number>;
  readonly hash: PromptHash;
  /** null for a prefill-only request (the n>1 `{rid}-prefix` warm-up). */
  readonly plan: ReplyPlan | null;
  readonly maxNew: number;
  readonly minNew: number;
  readonly ignoreEos: boolean;
  readonly stopIds: ReadonlySet<number> | null;
  /** Longest prefix that may come from cache (SGLang keeps at least one token to compute). */
  readonly maxPrefix: number;
  /** Called after each step that gave this sequence tokens, and once when it finishes. */
  readonly onRelease: (seq: Seq) => void;
}

export interface Seq {
  readonly spec: SeqSpec;
  /** `finished` = done but not yet delivered; `closed` = nothing more will be delivered. */
  state: 'waiting' | 'running' | 'finished' | 'closed';
  estimatedUncached: number;
  cached: number;
  prefilled: number;
  generated: number;
  /** Tokens produced since the consumer last took them (the consumer may swap the array). */
  delta: number[];
  finishReason: FinishReason | null;
  /** The EOS or stop token that ended the sequence, -1 if none. */
  matchedTokenId: number;
  /** Position in the reply plan (ahead of `generated` when min_new_tokens skipped stop ids). */
  cursor: number;
  /** Prompt blocks pinned in the cache. */
  pinned: number;
  /** KV tokens held outside cached blocks. */
  ownTokens: number;
  /** Rolling hash past the prompt, extended by each output token to key the output's blocks. */
  readonly hasher: BlockHasher;
  outKeys: number[];
}

export interface EngineLoad {
  running: number;
  waiting: number;
  usedTokens: number;
  capacity: number;
  tokenUsage: number;
  genThroughput: number;
  cacheHitRate: number;
  waitingUncachedTokens: number;
}

const HIGH_WATERMARK = 0.92;
const LOW_WATERMARK = 0.85;
const THROUGHPUT_ALPHA = 0.3;
const HIT_RATE_ALPHA = 0.2;
const MAX_LAG_MS = 50;
/** Bound on stop ids skipped in a row while min_new_tokens masks them. */
const MAX_MASKED = 16;

export class SimEngine {
  private readonly cache = new PrefixCache();
  private readonly eos: number;
  private readonly eosSet: ReadonlySet<number>;
  private readonly realtime: boolean;
  private waiting: Seq[] = [];
  private running: Seq[] = [];
  private readonly touched: Seq[] = [];
  private ownTokens = 0;
  private waitingUncached = 0;
  private busy = false;
  private stopped = false;
  private immediate: NodeJS.Immediate | null = null;
  private timer: NodeJS.Timeout | null = null;
  private due = 0;
  private lastStepAt = 0;
  private genThroughput = 0;
  private cacheHitRate = 0;
  cachedTokensServed = 0;

  constructor(private readonly cfg: EngineConfig) {
    this.eos = cfg.eosTokenIds.length > 0 ? cfg.eosTokenIds[0]! : -1;
    this.eosSet = new Set(cfg.eosTokenIds);
    this.realtime = cfg.prefillTokensPerSec > 0 || cfg.decodeBaseMs > 0 || cfg.decodePerReqMs > 0;
  }

  get runningCount(): number {
    return this.running.length;
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  submit(spec: SeqSpec): Seq {
    const bs = this.cfg.blockSize;
    const estimatedUncached = spec.prompt.length - this.cache.match(spec.hash.keys, Math.floor(spec.maxPrefix / bs)) * bs;
    const seq: Seq = {
      spec,
      state: 'waiting',
      estimatedUncached,
      cached: 0,
      prefilled: 0,
      generated: 0,
      delta: [],
      finishReason: null,
      matchedTokenId: -1,
      cursor: 0,
      pinned: 0,
      ownTokens: 0,
      hasher: spec.hash.tail.clone(),
      outKeys: [],
    };
    this.waiting.push(seq);
    this.waitingUncached += estimatedUncached;
    this.kick();
    return seq;
  }

  /** Drops a sequence silently (the client went away). */
  cancel(seq: Seq): void {
    if (seq.state === 'waiting' || seq.state === 'running') this.detach(seq);
    seq.state = 'closed';
  }

  /** Ends a sequence now with finish_reason "abort", delivering what it has; false if already done. */
  abort(seq: Seq): boolean {
    if (seq.state !== 'waiting' && seq.state !== 'running') return false;
    this.detach(seq);
    seq.finishReason = 'abort';
    seq.state = 'closed';
    seq.spec.onRelease(seq);
    return true;
  }

  load(): EngineLoad {
    const used = this.usedTokens();
    const capacity = this.cfg.kvCapacityTokens;
    return {
      running: this.running.length,
      waiting: this.waiting.length,
      usedTokens: used,
      capacity,
      tokenUsage: capacity > 0 ? used / capacity : 0,
      genThroughput: this.running.length > 0 ? this.genThroughput : 0,
      cacheHitRate: this.cacheHitRate,
      waitingUncachedTokens: this.waitingUncached,
    };
  }

  /** Nothing waiting, running or awaiting delivery. */
  get idle(): boolean {
    return this.waiting.length === 0 && this.running.length === 0 && !this.busy;
  }

  /**
   * Empties the prefix cache and resets the cache-hit rate, as SGLang's scheduler flush_cache does;
   * like it, refuses (returns false) unless the engine is idle.
   */
  flush(): boolean {
    if (!this.idle) return false;
    this.cache.clear();
    this.cacheHitRate = 0;
    return true;
  }

  stop(): void {
    this.stopped = true;
    if (this.immediate) clearImmediate(this.immediate);
    if (this.timer) clearTimeout(this.timer);
    this.immediate = null;
    this.timer = null;
  }

  private kick(): void {
    if (this.busy || this.immediate || this.stopped) return;
    if (this.waiting.length === 0 && this.running.length === 0) return;
    this.immediate = setImmediate(() => {
      this.immediate = null;
      this.step();
    });
  }

  private step(): void {
    if (this.stopped) return;
    this.busy = true;
    const startedAt = performance.now();
    this.admit();
    const prefillTokens = this.prefill();
    let decoding = 0;
    for (const s of this.running) {
      if (s.prefilled < s.spec.prompt.length) continue;
      if (s.generated >= s.spec.maxNew) {
        this.finish(s, 'length', -1);
      } else {
        decoding++;
        this.decodeOne(s);
      }
      this.touched.push(s);
    }
    this.compactRunning();
    this.evictToWatermark();

    const cfg = this.cfg;
    let ms = Math.max(
      cfg.prefillTokensPerSec > 0 ? (prefillTokens / cfg.prefillTokensPerSec) * 1000 : 0,
      decoding > 0 ? cfg.decodeBaseMs + cfg.decodePerReqMs * decoding : 0,
    );
    if (this.realtime) ms = Math.max(ms, 1);
    const wasIdle = this.lastStepAt === 0;
    const elapsed = wasIdle ? ms : startedAt - this.lastStepAt;
    this.lastStepAt = startedAt;
    const seconds = Math.max(ms, elapsed, 0.1) / 1000;
    this.genThroughput += THROUGHPUT_ALPHA * (decoding / seconds - this.genThroughput);

    if (ms === 0) {
      this.deliver();
      return;
    }
    // Chain deadlines while busy so timer lateness and delivery work do not stretch every step;
    // the debt is capped so a long stall does not turn into a burst of instant steps.
    this.due = (wasIdle ? startedAt : Math.max(this.due, startedAt - MAX_LAG_MS)) + ms;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.deliver();
    }, Math.max(0, this.due - performance.now()));
  }

  private deliver(): void {
    const touched = this.touched;
    for (let i = 0; i < touched.length; i++) {
      const s = touched[i]!;
      if (s.state === 'closed') continue;
      if (s.state === 'finished') s.state = 'closed';
      s.spec.onRelease(s);
    }
    touched.length = 0;
    this.busy = false;
    if (this.running.length === 0 && this.waiting.length === 0) this.lastStepAt = 0;
    this.kick();
  }

  private admit(): void {
    const { blockSize: bs, maxRunning, kvCapacityTokens: capacity } = this.cfg;
    let admitted = 0;
    while (admitted < this.waiting.length && this.running.length < maxRunning) {
      const s = this.waiting[admitted]!;
      const keys = s.spec.hash.keys;
      const matched = this.cache.match(keys, Math.floor(s.spec.maxPrefix / bs));
      const uncached = s.spec.prompt.length - matched * bs;
      // Pin the hit first so making room cannot evict it.
      this.cache.acquire(keys, 0, matched);
      const pinnedTokens = (this.cache.blocks - this.cache.idleBlocks) * bs + this.ownTokens;
      if (this.running.length > 0 && pinnedTokens + uncached > capacity) {
        this.cache.release(keys, 0, matched);
        break;
      }
      const over = this.usedTokens() + uncached - capacity;
      if (over > 0) this.cache.evict(Math.ceil(over / bs));
      s.state = 'running';
      s.pinned = matched;
      s.cached = matched * bs;
      s.prefilled = s.cached;
      s.ownTokens = uncached;
      this.ownTokens += uncached;
      this.waitingUncached -= s.estimatedUncached;
      this.cachedTokensServed += s.cached;
      this.cacheHitRate += HIT_RATE_ALPHA * (s.cached / s.spec.prompt.length - this.cacheHitRate);
      this.running.push(s);
      admitted++;
    }
    if (admitted > 0) this.waiting.splice(0, admitted);
  }

  /** Spends the chunked-prefill budget in running order; returns the tokens prefilled. */
  private prefill(): number {
    let budget = this.cfg.prefillChunk > 0 ? this.cfg.prefillChunk : Infinity;
    let total = 0;
    for (const s of this.running) {
      const len = s.spec.prompt.length;
      if (s.prefilled >= len) continue;
      if (budget <= 0) break;
      const take = Math.min(budget, len - s.prefilled);
      s.prefilled += take;
      budget -= take;
      total += take;
      if (s.prefilled === len) this.insertPrompt(s);
    }
    return total;
  }

  /** After prefill the prompt's full blocks join the cache, shared with anyone who has them. */
  private insertPrompt(s: Seq): void {
    const keys = s.spec.hash.keys;
    this.cache.acquire(keys, s.pinned, keys.length);
    s.pinned = keys.length;
    const own = s.spec.prompt.length - keys.length * this.cfg.blockSize;
    this.ownTokens += own - s.ownTokens;
    s.ownTokens = own;
  }

  private decodeOne(s: Seq): void {
    const spec = s.spec;
    let t = this.candidate(s);
    for (let masked = 0; masked < MAX_MASKED && t >= 0 && s.generated < spec.minNew && this.isStopToken(s, t); masked++) {
      t = this.candidate(s);
    }
    if (t < 0) {
      // No EOS id configured: the reply just ends.
      this.finish(s, 'stop', -1);
      return;
    }
    s.delta.push(t);
    s.generated++;
    s.ownTokens++;
    this.ownTokens++;
    s.hasher.push(t);
    if ((spec.prompt.length + s.generated) % this.cfg.blockSize === 0) s.outKeys.push(s.hasher.key());
    // SGLang's Req.check_finished order: length first, and ignore_eos also silences stop_token_ids.
    if (s.generated >= spec.maxNew) this.finish(s, 'length', -1);
    else if (!spec.ignoreEos && this.isStopToken(s, t)) this.finish(s, 'stop', t);
  }

  private candidate(s: Seq): number {
    const plan = s.spec.plan!;
    const pos = s.cursor;
    if (pos < plan.head.length) {
      s.cursor++;
      return plan.head[pos]!;
    }
    if (pos < plan.head.length + plan.bodyLen || s.spec.ignoreEos || s.generated < s.spec.minNew) {
      s.cursor++;
      return fillerAt(plan, pos);
    }
    return this.eos;
  }

  private isStopToken(s: Seq, t: number): boolean {
    return this.eosSet.has(t) || (s.spec.stopIds !== null && s.spec.stopIds.has(t));
  }

  /** Completion caches prompt and output blocks (as SGLang's cache_finished_req does) and unpins them. */
  private finish(s: Seq, reason: FinishReason, matched: number): void {
    s.finishReason = reason;
    s.matchedTokenId = matched;
    s.state = 'finished';
    this.cache.acquire(s.outKeys, 0, s.outKeys.length);
    this.cache.release(s.outKeys, 0, s.outKeys.length);
    this.unpin(s);
  }

  private detach(s: Seq): void {
    if (s.state === 'waiting') {
      const i = this.waiting.indexOf(s);
      if (i >= 0) this.waiting.splice(i, 1);
      this.waitingUncached -= s.estimatedUncached;
      return;
    }
    const i = this.running.indexOf(s);
    if (i >= 0) this.running.splice(i, 1);
    this.unpin(s);
  }

  private unpin(s: Seq): void {
    this.cache.release(s.spec.hash.keys, 0, s.pinned);
    s.pinned = 0;
    this.ownTokens -= s.ownTokens;
    s.ownTokens = 0;
  }

  private compactRunning(): void {
    const r = this.running;
    let j = 0;
    for (let i = 0; i < r.length; i++) if (r[i]!.state === 'running') r[j++] = r[i]!;
    r.length = j;
  }

  private usedTokens(): number {
    return this.cache.blocks * this.cfg.blockSize + this.ownTokens;
  }

  private evictToWatermark(): void {
    const capacity = this.cfg.kvCapacityTokens;
    const used = this.usedTokens();
    if (used <= HIGH_WATERMARK * capacity) return;
    this.cache.evict(Math.ceil((used - LOW_WATERMARK * capacity) / this.cfg.blockSize));
  }
}
