import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ApiError } from '../errors.js';
import type { DisaggregatedParams, GenerateRequest, GenerateResponse, InputLogProbs } from '../gen/sglang/grpc/scheduler/sglang_scheduler.js';
import type { WorkerEntry, WorkerLease } from './fleet.js';
import { legacyGenerateErrorToApiError, outcomeOfError, type WorkerOutcome } from './grpc-errors.js';
import type { GenerateCall, GenerateCallOptions, GenerateHandler } from './worker-client.js';

/** Where an SGLang prefill server serves KV when it was started without --disaggregation-bootstrap-port. */
export const DEFAULT_BOOTSTRAP_PORT = 8998;
/** Rooms are drawn uniformly from [0, 2^31 − 1): the proto field is an int32. */
export const BOOTSTRAP_ROOM_BOUND = 2 ** 31 - 1;

export interface PairCallOptions extends GenerateCallOptions {
  /**
   * The prefill leg failed with `err` (its own error, not the pair's). `failedPair` is false when it
   * came after the decode stream finished: the client has its answer, so it is only reported.
   */
  onPrefillFailure?: (err: ApiError, failedPair: boolean) => void;
  /** A streaming pair's first decode chunk arrived, `ms` after both legs were sent. */
  onFirstDecodeChunk?: (ms: number) => void;
}

/**
 * The KV rendezvous both legs are told: the prefill server's host (its URL without scheme, port or
 * DP rank), its bootstrap port, and a fresh random room for this attempt.
 */
export function bootstrapParams(prefill: WorkerEntry, room = randomInt(BOOTSTRAP_ROOM_BOUND)): DisaggregatedParams {
  const host = new URL(prefill.url).hostname.replace(/^\[(.*)\]$/, '$1');
  return { bootstrapHost: host, bootstrapPort: prefill.server.bootstrapPort ?? DEFAULT_BOOTSTRAP_PORT, bootstrapRoom: room };
}

/** A running pair: the GenerateCall shape, plus the Abort and lease steps that a single worker's caller does itself. */
export interface PairCall extends GenerateCall {
  /** Sends Abort to the workers whose legs `cancel()` cut short. */
  abort(reason: string): void;
  /**
   * The caller's verdict on the pair: a decode leg not yet finished takes `outcome`; a prefill leg
   * cut short by `cancel()` takes 'ok' when the decode side succeeded (the KV had arrived), else
   * 'cancelled'. Legs that ended by themselves keep their own outcome; calls after the first do nothing.
   */
  finish(outcome: WorkerOutcome, reason?: string): void;
}

/**
 * Sends one request to a prefill worker and a decode worker at once and relays the decode stream to
 * `handler`, like WorkerClient.generate, so a generation can drive either. The prefill stream is
 * drained; its failure before the decode stream finished fails the pair (`prefill_worker_failed`,
 * the prefill's status kept so retries judge it), a later one is only reported (the KV evidently
 * arrived). When one leg fails the pair stops the other (stream reset and Abort) itself. A leg that
 * ends by itself finishes its own lease with its own outcome, so each worker's breaker sees its own leg.
 *
 * Prompt logprobs (return_logprob with logprob_start_len >= 0) exist only on the prefill side, which
 * ran the prompt: they are copied into every decode Complete, which waits for them if need be.
 */
export function generatePair(
  prefill: WorkerLease,
  decode: WorkerLease,
  request: GenerateRequest,
  handler: GenerateHandler,
  opts: PairCallOptions = {},
): PairCall {
  return new Pair(prefill, decode, request, handler, opts);
}

/** One leg's request: the shared request with the rendezvous and the leg's own DP rank. */
function legRequest(request: GenerateRequest, entry: WorkerEntry, params: DisaggregatedParams, isDecode: boolean): GenerateRequest {
  const leg: GenerateRequest = { ...request, disaggregatedParams: params, dataParallelRank: entry.rank ?? 0 };
  // The decode side receives the prompt's KV, not its images.
  if (isDecode) leg.mmInputs = undefined;
  return leg;
}

/** open: streaming; stopped: reset by us, lease not finished yet; done: lease finished. */
type LegState = 'open' | 'stopped' | 'done';

class Leg {
  state: LegState = 'open';
  call: GenerateCall | undefined;

  constructor(
    readonly lease: WorkerLease,
    private readonly requestId: string,
  ) {}

  /** The leg's stream ended by itself. */
  ended(err: ApiError | undefined): void {
    this.state = 'done';
    this.lease.finish(err ? outcomeOfError(err) : 'ok', err?.message);
  }

  /** Resets the stream (the caller finishes the lease later). */
  cut(): void {
    if (this.state !== 'open') return;
    this.state = 'stopped';
    this.call?.cancel();
  }

  abort(reason: string): void {
    if (this.state === 'stopped') void this.lease.entry.client.abort(this.requestId, reason);
  }

  /** Ends the leg from our side at once: reset, Abort, lease finished. */
  stop(reason: string, outcome: WorkerOutcome): void {
    if (this.state !== 'open') return;
    this.cut();
    this.abort(reason);
    this.settle(outcome, reason);
  }

  settle(outcome: WorkerOutcome, reason?: string): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.lease.finish(outcome, reason);
  }
}

class Pair implements PairCall {
  readonly requestId: string;
  private readonly prefill: Leg;
  private readonly decode: Leg;
  /** The handler got its end (or the pair was cancelled): nothing more reaches it. */
  private settled = false;
  private readonly wantsInputLogprobs: boolean;
  /** The prefill leg's prompt logprobs, once seen. */
  private inputLogprobs: InputLogProbs | undefined;
  /** Decode messages from the first Complete on, held until the prefill leg's prompt logprobs arrive or it ends. */
  private held: GenerateResponse[] | undefined;
  /** The decode stream ended cleanly while messages were held: its end goes out after them. */
  private decodeEndHeld = false;
  /** When both legs were sent, until the first decode chunk is timed (streaming pairs with a listener only). */
  private sentAt: number | undefined;

  constructor(
    prefill: WorkerLease,
    decode: WorkerLease,
    request: GenerateRequest,
    private readonly handler: GenerateHandler,
    private readonly opts: PairCallOptions,
  ) {
    this.requestId = request.requestId;
    this.wantsInputLogprobs = request.returnLogprob && request.logprobStartLen >= 0;
    this.prefill = new Leg(prefill, this.requestId);
    this.decode = new Leg(decode, this.requestId);
    if (request.stream && opts.onFirstDecodeChunk) this.sentAt = performance.now();
    const params = bootstrapParams(prefill.entry);
    const callOpts: GenerateCallOptions = { deadline: opts.deadline, metadata: opts.metadata };
    this.prefill.call = prefill.entry.client.generate(
      legRequest(request, prefill.entry, params, false),
      { message: (m) => this.onPrefillMessage(m), end: (err) => this.onPrefillEnd(err) },
      callOpts,
    );
    this.decode.call = decode.entry.client.generate(
      legRequest(request, decode.entry, params, true),
      { message: (m) => this.onDecodeMessage(m), end: (err) => this.onDecodeEnd(err) },
      callOpts,
    );
  }

  cancel(): void {
    this.settled = true;
    this.held = undefined;
    this.prefill.cut();
    this.decode.cut();
  }

  abort(reason: string): void {
    this.prefill.abort(reason);
    this.decode.abort(reason);
  }

  finish(outcome: WorkerOutcome, reason?: string): void {
    this.decode.settle(outcome, reason);
    if (this.prefill.state === 'stopped') this.prefill.settle(outcome === 'ok' ? 'ok' : 'cancelled', reason);
  }

  pause(): void {
    this.decode.call?.pause();
  }

  resume(): void {
    this.decode.call?.resume();
  }

  private onPrefillMessage(msg: GenerateResponse): void {
    const r = msg.response;
    if (r === undefined || this.prefill.state !== 'open') return;
    if (r.$case !== 'error') {
      if (this.wantsInputLogprobs && this.inputLogprobs === undefined && r.value.inputLogprobs?.tokenIds.length) {
        this.inputLogprobs = r.value.inputLogprobs;
        this.release();
      }
      return;
    }
    this.prefill.call?.cancel();
    this.onPrefillEnd(legacyGenerateErrorToApiError(r.value, this.prefill.lease.entry.url));
  }

  private onPrefillEnd(err?: ApiError): void {
    if (this.prefill.state !== 'open') return;
    this.prefill.ended(err);
    // Without prompt logprobs from the prefill side, what the decode side sent goes out as it is.
    if (!err) return this.release();
    // Settled with the prefill still open means the decode stream finished: the answer stands.
    this.opts.onPrefillFailure?.(err, !this.settled);
    if (this.settled) return;
    this.settled = true;
    this.held = undefined;
    this.decode.stop('prefill leg failed', 'cancelled');
    this.handler.end(
      new ApiError(err.status, `prefill leg failed: ${err.message}`, {
        type: err.type,
        code: 'prefill_worker_failed',
        cause: err,
        ...(err.retryAfterMs === undefined ? {} : { retryAfterMs: err.retryAfterMs }),
      }),
    );
  }

  private onDecodeMessage(msg: GenerateResponse): void {
    if (this.settled) return;
    if (this.sentAt !== undefined && msg.response?.$case === 'chunk') {
      this.opts.onFirstDecodeChunk!(performance.now() - this.sentAt);
      this.sentAt = undefined;
    }
    if (this.held) return void this.held.push(msg);
    if (msg.response?.$case === 'complete' && this.wantsInputLogprobs && this.inputLogprobs === undefined && this.prefill.state === 'open') {
      this.held = [msg];
      return;
    }
    this.relay(msg);
  }

  private relay(msg: GenerateResponse): void {
    const r = msg.response;
    if (r?.$case === 'complete' && this.inputLogprobs && !r.value.inputLogprobs) r.value.inputLogprobs = this.inputLogprobs;
    this.handler.message(msg);
  }

  /** The prefill leg said what it will about prompt logprobs: the held decode messages, then a held end, go out. */
  private release(): void {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    for (const m of held) if (!this.settled) this.relay(m);
    if (this.decodeEndHeld) this.endWithDecode(undefined);
  }

  private onDecodeEnd(err?: ApiError): void {
    if (this.decode.state !== 'open') return;
    this.decode.ended(err);
    if (this.settled) return;
    if (this.held && !err) {
      this.decodeEndHeld = true;
      return;
    }
    this.held = undefined;
    this.endWithDecode(err);
  }

  private endWithDecode(err: ApiError | undefined): void {
    if (this.settled) return;
    this.settled = true;
    // A prefill still open after a clean decode is left to finish on its own, so its lease gets its real outcome.
    if (err) this.prefill.stop('decode leg failed', 'cancelled');
    this.handler.end(err);
  }
}
