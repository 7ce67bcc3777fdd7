import { status as GrpcStatus, type ServerWritableStream } from '@grpc/grpc-js';
import { GenerateResponse, type GenerateRequest } from '../gen/sglang/grpc/scheduler/sglang_scheduler.js';
import { DirectiveError, directivesForMode, parseDirectives, type Directives, type DisaggregationMode } from './directives.js';
import { styledReply, type OutputStyle } from './styles.js';
import type { SimEngine, Seq, SeqSpec } from './engine.js';
import { hashPrompt, type PromptHash } from './kv-cache.js';
import { inputLogprobs, outputLogprobs } from './logprobs.js';
import { mix32, type ReplyPlan, type ReplyScript, type SimTokenizer } from './script.js';
import { validateDisaggregation, validateGenerate } from './validate.js';

/** What a Generate call needs from the worker around it. */
export interface SessionContext {
  readonly tokenizer: SimTokenizer;
  readonly script: ReplyScript;
  readonly maxContextLength: number;
  readonly vocabSize: number;
  readonly blockSize: number;
  readonly outputStyle: OutputStyle;
  /**
   * 'prefill': the worker runs the prompt and ends with the first token, finish reason "length", as
   * an SGLang prefill server does once the KV went to the decode side; 'decode' generates as usual.
   * Both require disaggregated_params.
   */
  readonly disaggregationMode: DisaggregationMode;
  /** The engine of DP rank `rank`, or the least busy one for rank 0 (proto3's unset). */
  pickEngine(rank: number): SimEngine;
  onPromptAccepted(tokens: number): void;
  /** A write to the call's stream returned false: the client is not reading (backpressure reached the worker). */
  onBlocked(): void;
  onFinished(session: GenerateSession, index: number, reason: string): void;
  onCancelled(session: GenerateSession): void;
  onClosed(session: GenerateSession): void;
}

/** Prompt tokens decoded at each end when looking for directives in a very long prompt. */
const DIRECTIVE_WINDOW = 16384;

interface Choice {
  readonly index: number;
  plan: ReplyPlan | null;
  seq: Seq | null;
  aborted: boolean;
  done: boolean;
  sentInputLogprobs: boolean;
}

/**
 * One Generate call, shaped like the SMG SGLang servicer's output: per choice, a chunk for every
 * scheduler step that produced tokens and, at the end, that last chunk AND a Complete holding only
 * the last delta (streaming); or one Complete per choice with all tokens and index 0 (non-streaming).
 * n>1 first runs a prefill-only `{rid}-prefix` request so the choices share the prompt's KV.
 */
export class GenerateSession {
  readonly requestId: string;
  private readonly choices: Choice[];
  private readonly stream: boolean;
  private readonly interval: number;
  private engine: SimEngine | null = null;
  private prefixSeq: Seq | null = null;
  private started = false;
  private closed = false;
  private blocked = false;
  private readonly dirty = new Set<Choice>();
  private progress = 0;
  private failAfter: Directives['failAfter'];
  private wakeDelay: (() => void) | null = null;

  constructor(
    private readonly call: ServerWritableStream<GenerateRequest, GenerateResponse>,
    private readonly ctx: SessionContext,
  ) {
    const req = call.request;
    this.requestId = req.requestId;
    this.stream = req.stream;
    this.interval = Math.max(1, req.samplingParams?.streamInterval ?? 1);
    const n = Math.max(1, req.samplingParams?.n ?? 1);
    this.choices = Array.from({ length: n }, (_, index) => ({ index, plan: null, seq: null, aborted: false, done: false, sentInputLogprobs: false }));
    call.on('cancelled', () => this.cancel());
    call.on('drain', () => this.drain());
  }

  async run(): Promise<void> {
    const req = this.call.request;
    const mode = this.ctx.disaggregationMode;
    const invalid = validateGenerate(req, this.ctx.maxContextLength) ?? (mode === 'null' ? null : validateDisaggregation(req, mode));
    if (invalid !== null) return this.fail(GrpcStatus.INVALID_ARGUMENT, invalid);
    const prompt = req.tokenized!.inputIds;
    let directives: Directives;
    let text: string;
    try {
      text = promptText(this.ctx.tokenizer, prompt);
      directives = directivesForMode(parseDirectives(text), mode);
    } catch (err) {
      if (err instanceof DirectiveError) return this.fail(GrpcStatus.INVALID_ARGUMENT, err.message);
      throw err;
    }
    this.ctx.onPromptAccepted(prompt.length);
    const hash = hashPrompt(prompt, this.ctx.blockSize);
    const promptSeed = mix32(hash.tail.key() % 4294967296);
    if (directives.reply === undefined && directives.tokens === undefined) {
      const reply = styledReply(this.ctx.outputStyle, text, promptSeed);
      if (reply !== undefined) directives = { ...directives, reply };
    }
    for (const c of this.choices) c.plan = await this.ctx.script.plan(directives, promptSeed, c.index);
    if (directives.delayMs && !this.closed) await this.sleep(directives.delayMs);
    if (this.closed) return;
    if (directives.error) return this.fail(directives.error.code, directives.error.message);
    if (directives.failAfter?.chunks === 0) return this.fail(directives.failAfter.code, directives.failAfter.message);
    this.failAfter = directives.failAfter;
    if (directives.legacyError) {
      this.call.write(
        GenerateResponse.fromPartial({ requestId: this.requestId, response: { $case: 'error', value: { ...directives.legacyError, details: '' } } }),
      );
      return this.end();
    }
    this.started = true;
    this.engine = this.ctx.pickEngine(req.dataParallelRank);
    if (this.choices.length === 1) {
      this.submit(this.choices[0]!, hash);
      return;
    }
    this.prefixSeq = this.engine.submit({
      ...this.specBase(hash),
      plan: null,
      maxNew: 0,
      onRelease: (seq) => {
        if (seq.state !== 'closed' || this.closed) return;
        this.prefixSeq = null;
        for (const c of this.choices) this.submit(c, hash);
      },
    });
  }

  /** Abort RPC: `index` null = every choice. False when nothing was left to abort. */
  abort(index: number | null): boolean {
    if (this.closed) return false;
    let hit = false;
    for (const c of this.choices) {
      if (c.done || c.aborted || (index !== null && c.index !== index)) continue;
      hit = true;
      c.aborted = true;
      if (c.seq) this.engine!.abort(c.seq);
      else if (this.started) this.emitFinal(c, [], 0, 0, 'abort', -1);
    }
    if (this.choices.every((c) => c.aborted || c.done)) this.wakeDelay?.();
    return hit;
  }

  private get prefillOnly(): boolean {
    return this.ctx.disaggregationMode === 'prefill';
  }

  private specBase(hash: PromptHash): Omit<SeqSpec, 'plan' | 'maxNew' | 'onRelease'> {
    const req = this.call.request;
    const p = req.samplingParams!;
    const prompt = req.tokenized!.inputIds;
    let maxPrefix = prompt.length - 1;
    if (req.returnLogprob && req.logprobStartLen >= 0) maxPrefix = Math.min(maxPrefix, req.logprobStartLen);
    return {
      prompt,
      hash,
      minNew: p.minNewTokens,
      ignoreEos: p.ignoreEos,
      stopIds: p.stopTokenIds.length > 0 ? new Set(p.stopTokenIds) : null,
      maxPrefix,
    };
  }

  private submit(c: Choice, hash: PromptHash): void {
    if (c.aborted) {
      this.emitFinal(c, [], 0, 0, 'abort', -1);
      return;
    }
    const req = this.call.request;
    const promptLen = req.tokenized!.inputIds.length;
    c.seq = this.engine!.submit({
      ...this.specBase(hash),
      plan: c.plan,
      maxNew: this.prefillOnly ? 1 : (req.samplingParams!.maxNewTokens ?? this.ctx.maxContextLength - promptLen - 1),
      onRelease: (seq) => this.onRelease(c, seq),
    });
  }

  private onRelease(c: Choice, seq: Seq): void {
    if (this.closed) return;
    if (seq.state !== 'closed') {
      if (!this.stream) {
        this.progress++;
        this.checkFailAfter();
        return;
      }
      if (seq.delta.length < this.interval) return;
    }
    this.flush(c);
  }

  private flush(c: Choice): void {
    if (this.blocked) {
      this.dirty.add(c);
      return;
    }
    const seq = c.seq!;
    if (seq.state === 'closed') {
      this.emitFinal(c, seq.delta, seq.generated, seq.cached, seq.finishReason!, seq.matchedTokenId);
    } else if (this.stream) {
      const ids = seq.delta;
      seq.delta = [];
      this.writeChunk(c, ids, seq.generated, seq.cached);
      this.checkFailAfter();
    }
  }

  private emitFinal(c: Choice, ids: number[], generated: number, cached: number, engineReason: string, engineMatched: number): void {
    const req = this.call.request;
    // A prefill server's request ends once its KV is handed over, whatever token it sampled.
    const handedOver = this.prefillOnly && engineReason !== 'abort';
    const reason = handedOver ? 'length' : engineReason;
    const matched = handedOver ? -1 : engineMatched;
    if (this.stream) {
      this.writeChunk(c, ids, generated, cached);
      if (this.checkFailAfter()) return;
    }
    const prompt = req.tokenized!.inputIds;
    const seed = c.plan?.seed ?? 0;
    this.send(
      GenerateResponse.fromPartial({
        requestId: this.requestId,
        response: {
          $case: 'complete',
          value: {
            outputIds: ids,
            finishReason: reason,
            promptTokens: prompt.length,
            completionTokens: generated,
            cachedTokens: cached,
            outputLogprobs: req.returnLogprob
              ? outputLogprobs(seed, generated - ids.length, ids, 0, ids.length, req.topLogprobsNum, this.ctx.vocabSize)
              : undefined,
            matchedStop: matched >= 0 ? { $case: 'matchedTokenId', value: matched } : undefined,
            inputLogprobs: this.stream ? undefined : this.inputLogprobsOnce(c),
            // The servicer tags streamed choices; its non-streaming Completes all say 0.
            index: this.stream ? c.index : 0,
          },
        },
      }),
    );
    c.done = true;
    this.ctx.onFinished(this, c.index, reason);
    if (this.choices.every((x) => x.done)) this.end();
  }

  private writeChunk(c: Choice, ids: number[], generated: number, cached: number): void {
    const req = this.call.request;
    this.progress++;
    this.send(
      GenerateResponse.fromPartial({
        requestId: this.requestId,
        response: {
          $case: 'chunk',
          value: {
            tokenIds: ids,
            promptTokens: req.tokenized!.inputIds.length,
            completionTokens: generated,
            cachedTokens: cached,
            outputLogprobs: req.returnLogprob
              ? outputLogprobs(c.plan?.seed ?? 0, generated - ids.length, ids, 0, ids.length, req.topLogprobsNum, this.ctx.vocabSize)
              : undefined,
            inputLogprobs: this.inputLogprobsOnce(c),
            index: c.index,
          },
        },
      }),
    );
  }

  private inputLogprobsOnce(c: Choice): ReturnType<typeof inputLogprobs> | undefined {
    const req = this.call.request;
    // A decode server never ran the prompt through the model: the router takes these from the prefill leg.
    if (!req.returnLogprob || req.logprobStartLen < 0 || c.sentInputLogprobs || this.ctx.disaggregationMode === 'decode') return undefined;
    c.sentInputLogprobs = true;
    return inputLogprobs(req.tokenized!.inputIds, req.logprobStartLen, req.topLogprobsNum, this.ctx.vocabSize);
  }

  /** `<<sim fail-after=N>>`: N chunks (or N steps when not streaming), then the status. */
  private checkFailAfter(): boolean {
    const f = this.failAfter;
    if (!f || this.progress < f.chunks) return false;
    this.fail(f.code, f.message);
    return true;
  }

  private send(msg: GenerateResponse): void {
    if (this.call.write(msg)) return;
    this.blocked = true;
    this.ctx.onBlocked();
  }

  private drain(): void {
    this.blocked = false;
    for (const c of this.dirty) {
      this.dirty.delete(c);
      if (this.closed || this.blocked) {
        if (this.blocked) this.dirty.add(c);
        return;
      }
      this.flush(c);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeDelay = done;
    }).then(() => {
      this.wakeDelay = null;
    });
  }

  private fail(code: number, details: string): void {
    if (this.closed) return;
    this.stopAll();
    this.call.emit('error', { code, details });
  }

  private end(): void {
    if (this.closed) return;
    this.stopAll();
    this.call.end();
  }

  private cancel(): void {
    if (this.closed) return;
    this.stopAll();
    this.ctx.onCancelled(this);
  }

  private stopAll(): void {
    this.closed = true;
    this.wakeDelay?.();
    if (this.prefixSeq) this.engine!.cancel(this.prefixSeq);
    for (const c of this.choices) if (c.seq) this.engine!.cancel(c.seq);
    this.ctx.onClosed(this);
  }
}

/**
 * The prompt as text, decoded at both ends only when it is too long to decode whole cheaply. Special
 * tokens stay: the output styles read the template's markers (tool results, an opened think block).
 */
function promptText(tokenizer: SimTokenizer, ids: number[]): string {
  if (ids.length <= 2 * DIRECTIVE_WINDOW) return tokenizer.decode(ids, false);
  return `${tokenizer.decode(ids.slice(0, DIRECTIVE_WINDOW), false)}\n${tokenizer.decode(ids.slice(-DIRECTIVE_WINDOW), false)}`;
}
