import type { GenerateComplete, GenerateRequest, InputLogProbs, GenerateResponse, GenerateStreamChunk } from '../gen/sglang/grpc/scheduler/sglang_scheduler.js';
import { ApiError } from '../errors.js';
import type { Tokenizer } from '../../native/tokenizer.js';
import { createSequenceDecoder, type DecodeStep, type SequenceDecoder, type SequenceDecoderOptions } from '../tokenizer/sequence-decoder.js';
import { legacyGenerateErrorToApiError, outcomeOfError, type WorkerOutcome } from '../workers/grpc-errors.js';
import type { GenerateCall } from '../workers/worker-client.js';
import type { Attempt, RequestDispatch } from './dispatch.js';
import { convertInputLogprobs, convertOutputLogprobs, type PromptTokenLogprob, type TokenLogprob } from './logprobs.js';
import { attemptRequestId } from './request-id.js';

export type OutputEvent =
  | { kind: 'text'; index: number; text: string; logprobs?: TokenLogprob[]; ids?: readonly number[] }
  | { kind: 'finish'; index: number; finishReason: string; matchedStop?: string | number };

export interface ChoiceUsage {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
}

/** Where a generation delivers its events: synchronously, in order, then exactly one `end`. */
export interface OutputSink {
  event(ev: OutputEvent): void;
  /** `err` is set when the generation failed; absent on success and after `cancel()`. */
  end(err?: ApiError): void;
}

/** Which worker served a generation (or was tried last), on which attempt: the diagnostic headers. */
export interface RouteTrace {
  worker: string;
  attempt: number;
}

export interface GenerationSpec {
  /**
   * Chooses the worker of each attempt (taken when the generation starts) and decides whether an
   * attempt that failed before its worker sent anything is tried again.
   */
  dispatch: RequestDispatch;
  request: GenerateRequest;
  tokenizer: Tokenizer;
  decoder: SequenceDecoderOptions;
  /** Stop strings the engine enforces as single token ids: reported as the string, like a router-side match. */
  stopIdToString?: ReadonlyMap<number, string>;
  logprobs: boolean;
  /**
   * Text events also carry the token ids they came from (those before a stop token), for output
   * parsed on ids (Harmony); such events are sent even when the ids decode to no text yet.
   */
  withIds?: boolean;
  deadline?: number;
  metadata?: Record<string, string>;
}

interface ChoiceState {
  decoder: SequenceDecoder;
  usage: ChoiceUsage;
  /** Text finished (locally stopped or completed by the engine). */
  done: boolean;
  /** The engine sent its Complete for this choice. */
  complete: boolean;
  /** Logprobs of tokens whose text is still held back, attached to the next emitted text. */
  pendingLogprobs?: TokenLogprob[];
}

/**
 * One Generate call turned into per-choice text events, pushed to a sink as gRPC messages arrive.
 * Owns the call: it is cancelled and the engine told to Abort when every choice stopped locally,
 * on `cancel()` (client gone, deadline) or on failure — so no gRPC call outlives its HTTP request.
 *
 * A call that fails before its worker sent any message has produced nothing the client saw, so it
 * is sent again (after the dispatch's backoff, to another worker when there is one); once a message
 * arrived, a failure ends the generation. Every attempt's lease is finished with its own outcome.
 */
export class Generation {
  /** The request's id (the response id); each attempt sends its own id derived from it. */
  readonly requestId: string;
  private readonly choices: ChoiceState[] = [];
  private readonly n: number;
  private readonly streaming: boolean;
  private call: GenerateCall | undefined;
  private sink: OutputSink | undefined;
  private ended = false;
  private arrival = 0;
  private received = false;
  private attempt: Attempt | undefined;
  private backoff: NodeJS.Timeout | undefined;
  /** The prompt's logprobs as the worker sent them (once, shared by every choice); requested by logprob_start_len >= 0. */
  private inputLogprobs: InputLogProbs | undefined;
  private readonly tokenText: (id: number) => string;

  constructor(private readonly spec: GenerationSpec) {
    this.requestId = spec.request.requestId;
    this.n = Math.max(1, spec.request.samplingParams?.n ?? 1);
    this.streaming = spec.request.stream;
    this.tokenText = (id) => spec.tokenizer.decode([id], false);
  }

  /** Per-choice token counts as the engine reported them. */
  usage(): ChoiceUsage[] {
    return this.choices.map((c) => c.usage);
  }

  /** Logprobs of the prompt tokens from logprob_start_len on, when they were asked for and the worker sent them. */
  promptLogprobs(): PromptTokenLogprob[] | undefined {
    return this.inputLogprobs && convertInputLogprobs(this.inputLogprobs, this.tokenText);
  }

  /** The worker that served (or was tried last) and its attempt number; undefined until one was chosen. */
  trace(): RouteTrace | undefined {
    return this.attempt && { worker: this.attempt.worker, attempt: this.attempt.number };
  }

  start(sink: OutputSink): void {
    if (this.sink) throw new Error('generation already started');
    this.sink = sink;
    // Cancelled before it started (another prompt of its batch failed): nothing to send.
    if (this.ended) return sink.end();
    this.send();
  }

  /** Sends the request on a newly chosen worker; `failed` is the previous attempt's error, reported if no worker is left. */
  private send(failed?: ApiError): void {
    let attempt: Attempt;
    try {
      attempt = this.spec.dispatch.next();
    } catch (err) {
      return this.finishSink(failed ?? (err instanceof ApiError ? err : new ApiError(500, `routing failed: ${(err as Error).message}`, { cause: err })));
    }
    this.attempt = attempt;
    this.received = false;
    this.spec.request.requestId = attemptRequestId(this.requestId, attempt.number);
    this.call = attempt.call(
      this.spec.request,
      {
        message: (msg) => {
          if (this.ended || this.attempt !== attempt) return;
          this.received = true;
          try {
            this.onMessage(msg);
          } catch (err) {
            this.fail(err instanceof ApiError ? err : new ApiError(500, `router failed on a worker message: ${(err as Error).message}`, { cause: err }));
          }
        },
        end: (err) => {
          if (this.attempt === attempt) this.onCallEnd(err);
        },
      },
      { deadline: this.spec.deadline, metadata: this.spec.metadata },
    );
  }

  /** Stops the engine work now. Safe at any time, more than once; the sink gets a plain `end()`. */
  cancel(reason: string): void {
    if (this.ended) return;
    this.abortEngine(reason);
    this.finishSink(undefined, 'cancelled');
  }

  pause(): void {
    this.call?.pause();
  }

  resume(): void {
    this.call?.resume();
  }

  private abortEngine(reason: string): void {
    if (!this.call) return;
    this.call.cancel();
    this.attempt!.abort(this.spec.request.requestId, reason);
  }

  private finishSink(err?: ApiError, outcome: WorkerOutcome = err ? outcomeOfError(err) : 'ok'): void {
    if (this.ended) return;
    this.ended = true;
    if (this.backoff) clearTimeout(this.backoff);
    this.attempt?.finish(outcome, err?.message);
    if (err) this.spec.dispatch.ended('failed');
    else if (outcome === 'cancelled') this.spec.dispatch.ended('cancelled');
    else this.spec.dispatch.ended('ok', this.cachedTokens());
    this.sink?.end(err);
  }

  /** The prompt tokens the worker found cached (choices share the prompt: the largest count). */
  private cachedTokens(): number {
    let n = 0;
    for (const c of this.choices) if (c.usage.cachedTokens > n) n = c.usage.cachedTokens;
    return n;
  }

  /** The attempt failed before its worker produced anything: wait as the dispatch says and send again, or give up. */
  private retryOrFail(err: ApiError): void {
    this.attempt!.finish(outcomeOfError(err), err.message);
    this.call = undefined;
    const remainingMs = this.spec.deadline === undefined ? Infinity : this.spec.deadline - Date.now();
    const delay = this.spec.dispatch.retryDelay(err, remainingMs);
    if (delay === undefined) return this.finishSink(err);
    this.backoff = setTimeout(() => {
      this.backoff = undefined;
      if (!this.ended) this.send(err);
    }, delay);
  }

  private fail(err: ApiError): void {
    if (this.ended) return;
    this.abortEngine('router error');
    this.finishSink(err);
  }

  private onCallEnd(err?: ApiError): void {
    if (this.ended) return;
    if (err && !this.received) return this.retryOrFail(err);
    if (err) return this.finishSink(err);
    if (this.choices.length < this.n || this.choices.some((c) => !c.done)) {
      return this.finishSink(new ApiError(502, 'worker closed the stream before every choice completed', { code: 'upstream_protocol_error' }));
    }
    this.finishSink();
  }

  private choice(index: number): ChoiceState {
    if (index >= this.n) throw new ApiError(502, `worker sent choice index ${index} for n=${this.n}`, { code: 'upstream_protocol_error' });
    for (let i = this.choices.length; i <= index; i++) {
      this.choices.push({
        decoder: createSequenceDecoder(this.spec.tokenizer, this.spec.decoder),
        usage: { promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0 },
        done: false,
        complete: false,
      });
    }
    return this.choices[index]!;
  }

  private onMessage(msg: GenerateResponse): void {
    const r = msg.response;
    if (r === undefined) return;
    if (r.$case === 'error') {
      const err = legacyGenerateErrorToApiError(r.value, this.attempt!.worker);
      // An in-band error as the first answer: the request produced nothing yet, so it may be retried.
      if (this.choices.length > 0) return this.fail(err);
      this.call!.cancel();
      return this.retryOrFail(err);
    }
    if (this.spec.logprobs && this.inputLogprobs === undefined && r.value.inputLogprobs?.tokenIds.length) this.inputLogprobs = r.value.inputLogprobs;
    if (r.$case === 'chunk') {
      this.onTokens(this.choice(r.value.index), r.value.tokenIds, r.value, r.value.index);
    } else {
      // Non-streaming Completes all carry index 0 (the servicer fans n out itself): number them by arrival.
      const index = this.streaming ? r.value.index : this.arrival++;
      const st = this.choice(index);
      // A streaming Complete repeats only the last chunk's ids, already seen: never decode them twice.
      if (!this.streaming) this.onTokens(st, r.value.outputIds, r.value, index);
      this.onComplete(st, r.value, index);
    }
    if (this.choices.length === this.n && this.choices.every((c) => c.done)) {
      // Every choice is finished; unless the engine said so too, it is still generating: stop it.
      if (!this.choices.every((c) => c.complete)) this.abortEngine('stopped by router');
      this.finishSink();
    }
  }

  private record(st: ChoiceState, m: GenerateStreamChunk | GenerateComplete): void {
    st.usage.promptTokens = m.promptTokens;
    st.usage.completionTokens = m.completionTokens;
    st.usage.cachedTokens = m.cachedTokens;
    st.usage.reasoningTokens = m.reasoningTokens;
  }

  private onTokens(st: ChoiceState, ids: number[], m: GenerateStreamChunk | GenerateComplete, index: number): void {
    this.record(st, m);
    if (st.done || ids.length === 0) return;
    if (this.spec.logprobs) {
      const lp = convertOutputLogprobs(m.outputLogprobs, this.tokenText);
      if (lp.length) st.pendingLogprobs = st.pendingLogprobs ? st.pendingLogprobs.concat(lp) : lp;
    }
    const step = st.decoder.push(ids);
    const kept = this.spec.withIds ? idsBeforeStop(ids, step) : undefined;
    if (step.text || (kept !== undefined && kept.length > 0)) this.emitText(st, index, step.text, kept);
    if (step.stopped) {
      st.done = true;
      const tail = st.decoder.finish();
      // A stop token alone makes no text, yet it is output: its logprob goes out as a non-streamed answer's does.
      if (tail || st.pendingLogprobs) this.emitText(st, index, tail);
      const matched = typeof step.matchedStop === 'number' ? (this.spec.stopIdToString?.get(step.matchedStop) ?? step.matchedStop) : step.matchedStop;
      this.sink!.event({ kind: 'finish', index, finishReason: 'stop', ...(matched === undefined ? {} : { matchedStop: matched }) });
    }
  }

  private onComplete(st: ChoiceState, c: GenerateComplete, index: number): void {
    this.record(st, c);
    st.complete = true;
    if (st.done) return;
    st.done = true;
    const tail = st.decoder.finish();
    if (tail || st.pendingLogprobs) this.emitText(st, index, tail);
    let matched: string | number | undefined;
    if (c.matchedStop?.$case === 'matchedTokenId') matched = this.spec.stopIdToString?.get(c.matchedStop.value) ?? c.matchedStop.value;
    else if (c.matchedStop?.$case === 'matchedStopStr') matched = c.matchedStop.value;
    this.sink!.event({ kind: 'finish', index, finishReason: c.finishReason || 'stop', ...(matched === undefined ? {} : { matchedStop: matched }) });
  }

  private emitText(st: ChoiceState, index: number, text: string, ids?: readonly number[]): void {
    const lp = st.pendingLogprobs;
    st.pendingLogprobs = undefined;
    const ev: OutputEvent = lp ? { kind: 'text', index, text, logprobs: lp } : { kind: 'text', index, text };
    if (ids !== undefined) ev.ids = ids;
    this.sink!.event(ev);
  }
}

/** The ids of one push that count as output: all of them, or those before the stop token that ended it. */
function idsBeforeStop(ids: number[], step: DecodeStep): number[] {
  if (!step.stopped || typeof step.matchedStop !== 'number') return ids;
  const cut = ids.indexOf(step.matchedStop);
  return cut < 0 ? ids : ids.slice(0, cut);
}

/**
 * Several generations as one (batched prompts): events interleave, member i's choice indexes are
 * shifted by `i * stride` (OpenAI numbers them `prompt_index * n + choice`), the first failure cancels the rest.
 */
export class GenerationGroup {
  constructor(
    readonly members: readonly Generation[],
    private readonly stride: number,
  ) {}

  start(sink: OutputSink): void {
    let open = this.members.length;
    let failed = false;
    this.members.forEach((g, i) => {
      const offset = i * this.stride;
      g.start({
        event: (ev) => sink.event(offset === 0 ? ev : { ...ev, index: ev.index + offset }),
        end: (err) => {
          if (failed) return;
          if (err) {
            failed = true;
            for (const other of this.members) if (other !== g) other.cancel('another prompt of the batch failed');
            return sink.end(err);
          }
          if (--open === 0) sink.end();
        },
      });
    });
  }

  cancel(reason: string): void {
    for (const g of this.members) g.cancel(reason);
  }

  /** The members' workers, comma-separated in prompt order without repeats, and the highest attempt number. */
  trace(): RouteTrace | undefined {
    const workers: string[] = [];
    let attempt = 0;
    for (const g of this.members) {
      const t = g.trace();
      if (!t) continue;
      if (!workers.includes(t.worker)) workers.push(t.worker);
      if (t.attempt > attempt) attempt = t.attempt;
    }
    return workers.length === 0 ? undefined : { worker: workers.join(','), attempt };
  }

  pause(): void {
    for (const g of this.members) g.pause();
  }

  resume(): void {
    for (const g of this.members) g.resume();
  }
}
