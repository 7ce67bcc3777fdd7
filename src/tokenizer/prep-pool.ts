import { Piscina } from 'piscina';
import { ApiError } from '../errors.js';
import type { ChatPrepResult, ChatPrepTask, EncodePrepResult, ModelRef, PrepFailure } from './prep-types.js';

export interface ChatPrepInput {
  messages: unknown[];
  tools?: unknown[];
  addGenerationPrompt: boolean;
  continueFinalMessage: boolean;
  kwargs?: Record<string, unknown>;
}

/**
 * Template rendering and tokenization run here, in worker threads, so a 100k-token prompt
 * never stalls the event loop that relays other requests' token streams.
 */
export class PrepPool {
  private readonly pool: Piscina;
  private closed = false;

  constructor(
    private readonly model: ModelRef,
    threads: number,
  ) {
    this.pool = new Piscina({
      filename: new URL('./prep-worker.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 4,
    });
  }

  /** Loads the model in every thread so the first requests do not pay for it. */
  async warmUp(): Promise<void> {
    const n = this.pool.maxThreads;
    await Promise.all(Array.from({ length: n }, () => this.encode(['warm up'], false)));
  }

  async renderChat(input: ChatPrepInput): Promise<{ text: string; ids: Uint32Array }> {
    const task: ChatPrepTask = { op: 'chat', model: this.model, ...input };
    const res = (await this.run(task)) as ChatPrepResult;
    if (!res.ok) throw toApiError(res);
    return res;
  }

  async encode(texts: string[], addSpecialTokens: boolean): Promise<Uint32Array[]> {
    const res = (await this.run({ op: 'encode', model: this.model, texts, addSpecialTokens })) as EncodePrepResult;
    if (!res.ok) throw toApiError(res);
    return res.ids;
  }

  /** A model released while its requests were being prepared fails them as unavailable, not as a router fault. */
  private async run(task: unknown): Promise<unknown> {
    try {
      return await this.pool.run(task);
    } catch (err) {
      if (!this.closed) throw err;
      throw new ApiError(503, 'the model left the fleet while the request was being prepared; retry later', { code: 'model_unavailable', cause: err });
    }
  }

  get queueSize(): number {
    return this.pool.queueSize;
  }

  close(): Promise<void> {
    this.closed = true;
    return this.pool.close({ force: true });
  }
}

function toApiError(f: PrepFailure): ApiError {
  return new ApiError(f.error.status, f.error.message, { code: f.error.code, param: f.error.param });
}
