import { Piscina } from 'piscina';
import { ApiError } from '../errors.js';
import type { CacheHit } from './encode-cache.js';
import type { ChatPrepResult, ChatPrepTask, EncodePrepResult, ModelRef, PrepFailure, PrepTask } from './prep-types.js';

export interface ChatPrepInput {
  messages: unknown[];
  tools?: unknown[];
  addGenerationPrompt: boolean;
  continueFinalMessage: boolean;
  kwargs?: Record<string, unknown>;
}

/** Enough of each head message to tell conversations apart without hashing a 100k-character system prompt on the event loop. */
const HASHED_CHARS = 4096;

/**
 * A conversation's thread is passed over only when it holds more than twice the least busy
 * thread's tasks plus this many: a small fixed margin gave up most of the hits (busy counts
 * swing by a few tasks all the time), and a reused prefix is worth more than a short wait.
 */
const AFFINITY_SLACK = 4;

/**
 * Template rendering and tokenization run here, in worker threads, so a 100k-token prompt
 * never stalls the event loop that relays other requests' token streams.
 * Each thread is a pool of its own: with tokenizer caches on, a conversation's turns go to the
 * thread that cached its earlier turns (chosen by a hash of the conversation's head).
 */
export class PrepPool {
  private readonly threads: Piscina[];
  /** Tasks submitted to each thread and not yet settled. */
  private readonly busy: number[];
  private readonly affinity: boolean;
  private closed = false;

  constructor(
    private readonly model: ModelRef,
    threads: number,
  ) {
    const filename = new URL('./prep-worker.js', import.meta.url).href;
    this.threads = Array.from(
      { length: threads },
      () => new Piscina({ filename, minThreads: 1, maxThreads: 1, idleTimeout: Number.POSITIVE_INFINITY, concurrentTasksPerWorker: 4 }),
    );
    this.busy = new Array<number>(threads).fill(0);
    this.affinity = threads > 1 && model.cache !== undefined && (model.cache.l0MaxEntries > 0 || model.cache.l1MaxMemory > 0);
  }

  /** Loads the model in every thread so the first requests do not pay for it. */
  async warmUp(): Promise<void> {
    await Promise.all(this.threads.map((_, i) => this.run(i, { op: 'encode', model: this.model, texts: ['warm up'], addSpecialTokens: false })));
  }

  async renderChat(input: ChatPrepInput): Promise<{ text: string; ids: Uint32Array; cacheHit?: CacheHit; cachedTokens?: number }> {
    const task: ChatPrepTask = { op: 'chat', model: this.model, ...input };
    const res = (await this.run(this.pick(input), task)) as ChatPrepResult;
    if (!res.ok) throw toApiError(res);
    return res;
  }

  async encode(texts: string[], addSpecialTokens: boolean): Promise<Uint32Array[]> {
    const res = (await this.run(this.leastBusy(), { op: 'encode', model: this.model, texts, addSpecialTokens })) as EncodePrepResult;
    if (!res.ok) throw toApiError(res);
    return res.ids;
  }

  private pick(input: ChatPrepInput): number {
    const least = this.leastBusy();
    if (!this.affinity) return least;
    const home = conversationHash(input) % this.threads.length;
    return this.busy[home]! > 2 * this.busy[least]! + AFFINITY_SLACK ? least : home;
  }

  private leastBusy(): number {
    let best = 0;
    for (let i = 1; i < this.busy.length; i++) if (this.busy[i]! < this.busy[best]!) best = i;
    return best;
  }

  /** A model released while its requests were being prepared fails them as unavailable, not as a router fault. */
  private async run(thread: number, task: PrepTask): Promise<unknown> {
    this.busy[thread]!++;
    try {
      return await this.threads[thread]!.run(task);
    } catch (err) {
      if (!this.closed) throw err;
      throw new ApiError(503, 'the model left the fleet while the request was being prepared; retry later', { code: 'model_unavailable', cause: err });
    } finally {
      this.busy[thread]!--;
    }
  }

  get queueSize(): number {
    let n = 0;
    for (const t of this.threads) n += t.queueSize;
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.map((t) => t.close({ force: true })));
  }
}

/**
 * FNV-1a over what stays fixed while a conversation grows: the first two messages' roles and
 * text, and the tools' names. Other message shapes hash by role only, which still spreads conversations.
 */
function conversationHash(input: ChatPrepInput): number {
  let h = 0x811c9dc5;
  const add = (s: string) => {
    for (let i = 0; i < s.length && i < HASHED_CHARS; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  };
  for (const m of input.messages.slice(0, 2)) {
    if (typeof m !== 'object' || m === null) continue;
    const { role, content } = m as { role?: unknown; content?: unknown };
    if (typeof role === 'string') add(role);
    if (typeof content === 'string') add(content);
  }
  for (const t of input.tools ?? []) {
    const name = (t as { function?: { name?: unknown } } | null)?.function?.name;
    if (typeof name === 'string') add(name);
  }
  return h >>> 0;
}

function toApiError(f: PrepFailure): ApiError {
  return new ApiError(f.error.status, f.error.message, { code: f.error.code, param: f.error.param });
}
