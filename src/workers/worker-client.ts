import { connectivityState, credentials, Metadata, type ChannelOptions, type ClientReadableStream } from '@grpc/grpc-js';
import {
  AbortRequest,
  FlushCacheRequest,
  GenerateRequest,
  GetLoadsRequest,
  GetModelInfoRequest,
  GetServerInfoRequest,
  HealthCheckRequest,
  SglangSchedulerClient,
  type FlushCacheResponse,
  type GenerateResponse,
  type GetLoadsResponse,
  type GetModelInfoResponse,
  type GetServerInfoResponse,
  type HealthCheckResponse,
} from '../gen/sglang/grpc/scheduler/sglang_scheduler.js';
import type { ApiError } from '../errors.js';
import { grpcErrorToApiError } from './grpc-errors.js';

/** 1M+ id prompts are ~4 MB of varints; grpc-js defaults to 4 MiB on receive. */
export const MAX_MESSAGE_BYTES = 512 * 1024 * 1024;

export interface WorkerClientOptions {
  /** Streams one HTTP/2 connection carries before another connection is opened (servers cap max_concurrent_streams). */
  maxStreamsPerChannel?: number;
  maxChannels?: number;
  /** Sent as `authorization: Bearer KEY` metadata on every call to this worker. */
  apiKey?: string;
}

export interface GenerateCallOptions {
  deadline?: number;
  metadata?: Record<string, string>;
}

/** Receives one Generate call's messages as they arrive, then exactly one `end`. */
export interface GenerateHandler {
  message(msg: GenerateResponse): void;
  /** `err` is set when the call failed (mapped to the HTTP error it stands for); absent on a clean end. */
  end(err?: ApiError): void;
}

/** A running Generate call. `cancel()` resets the HTTP/2 stream; `pause()`/`resume()` apply backpressure. */
export interface GenerateCall {
  readonly requestId: string;
  cancel(): void;
  pause(): void;
  resume(): void;
}

interface PooledChannel {
  client: SglangSchedulerClient;
  active: number;
}

/**
 * One SGLang scheduler worker. Calls are spread over a small pool of channels, each its own
 * HTTP/2 connection, so a server's per-connection stream cap queues nothing on our side.
 */
export class WorkerClient {
  readonly url: string;
  private readonly target: string;
  private readonly channels: PooledChannel[] = [];
  private readonly maxStreams: number;
  private readonly maxChannels: number;
  private readonly authorization: string | undefined;
  private closed = false;

  constructor(url: string, opts: WorkerClientOptions = {}) {
    this.url = url;
    this.target = url.replace(/^grpc:\/\//, '');
    this.maxStreams = opts.maxStreamsPerChannel ?? 900;
    this.maxChannels = opts.maxChannels ?? 8;
    this.authorization = opts.apiKey === undefined ? undefined : `Bearer ${opts.apiKey}`;
    this.channels.push(this.newChannel());
  }

  private newChannel(): PooledChannel {
    const options: ChannelOptions = {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.use_local_subchannel_pool': 1,
      'grpc.enable_retries': 0,
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2_000,
    };
    return { client: new SglangSchedulerClient(this.target, credentials.createInsecure(), options), active: 0 };
  }

  private pickChannel(): PooledChannel {
    let best = this.channels[0]!;
    for (const ch of this.channels) if (ch.active < best.active) best = ch;
    if (best.active >= this.maxStreams && this.channels.length < this.maxChannels) {
      best = this.newChannel();
      this.channels.push(best);
    }
    return best;
  }

  /** In-flight Generate streams on this worker. */
  get activeStreams(): number {
    let n = 0;
    for (const ch of this.channels) n += ch.active;
    return n;
  }

  /**
   * Starts a Generate call whose messages are delivered synchronously from the stream's
   * 'data' events: no promise or iterator per token on the relay path.
   */
  generate(request: GenerateRequest, handler: GenerateHandler, opts: GenerateCallOptions = {}): GenerateCall {
    const channel = this.pickChannel();
    const call: ClientReadableStream<GenerateResponse> = channel.client.generate(
      request,
      this.metadata(opts.metadata),
      opts.deadline === undefined ? {} : { deadline: opts.deadline },
    );
    channel.active++;
    let finished = false;
    const finish = (err?: ApiError) => {
      if (finished) return;
      finished = true;
      channel.active--;
      handler.end(err);
    };
    call.on('data', (msg: GenerateResponse) => {
      if (!finished) handler.message(msg);
    });
    call.once('error', (err) => finish(grpcErrorToApiError(err, this.url, isConnected(channel))));
    call.once('end', () => finish());
    return {
      requestId: request.requestId,
      cancel: () => {
        if (finished) return;
        finished = true;
        channel.active--;
        call.cancel();
      },
      pause: () => call.pause(),
      resume: () => call.resume(),
    };
  }

  /** Fire-and-forget abort: the scheduler frees the request's KV slots. Errors are irrelevant to the client. */
  abort(requestId: string, reason: string): Promise<boolean> {
    return this.unary<AbortRequest, { success: boolean }>('abort', AbortRequest.fromPartial({ requestId, reason }), 5_000).then(
      (r) => r.success,
      () => false,
    );
  }

  healthCheck(timeoutMs: number): Promise<HealthCheckResponse> {
    return this.unary('healthCheck', HealthCheckRequest.fromPartial({}), timeoutMs);
  }

  getModelInfo(timeoutMs = 10_000): Promise<GetModelInfoResponse> {
    return this.unary('getModelInfo', GetModelInfoRequest.fromPartial({}), timeoutMs);
  }

  getServerInfo(timeoutMs = 10_000): Promise<GetServerInfoResponse> {
    return this.unary('getServerInfo', GetServerInfoRequest.fromPartial({}), timeoutMs);
  }

  getLoads(timeoutMs = 5_000): Promise<GetLoadsResponse> {
    return this.unary('getLoads', GetLoadsRequest.fromPartial({ include: ['core', 'disagg', 'queues', 'memory'] }), timeoutMs);
  }

  /**
   * Asks the scheduler to drop its prefix (radix) cache; `timeoutS` is how long it may wait for
   * running requests to finish first (SGLang refuses to flush while any run). The deadline leaves
   * the reference's 45 s on top for the flush itself.
   */
  flushCache(timeoutS: number): Promise<FlushCacheResponse> {
    return this.unary('flushCache', FlushCacheRequest.fromPartial({ timeoutS }), timeoutS * 1000 + 45_000);
  }

  private unary<Req, Res>(method: 'abort' | 'healthCheck' | 'getModelInfo' | 'getServerInfo' | 'getLoads' | 'flushCache', req: Req, timeoutMs: number): Promise<Res> {
    const client = this.channels[0]!.client as unknown as Record<
      string,
      (r: Req, md: Metadata, o: { deadline: number }, cb: (e: Error | null, res: Res) => void) => void
    >;
    return new Promise<Res>((resolve, reject) => {
      client[method]!.call(this.channels[0]!.client, req, this.metadata(undefined), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(grpcErrorToApiError(err, this.url, isConnected(this.channels[0]!)));
        else resolve(res);
      });
    });
  }

  /**
   * Calls `onLost` whenever the first channel's connection leaves READY (GOAWAY on shutdown, reset,
   * failed keepalive), so the owner can probe at once instead of waiting for the next interval.
   */
  watchConnection(onLost: () => void): void {
    const channel = this.channels[0]!.client.getChannel();
    const watch = (state: connectivityState): void => {
      channel.watchConnectivityState(state, Infinity, () => {
        if (this.closed) return;
        const next = channel.getConnectivityState(false);
        if (state === connectivityState.READY && next !== connectivityState.READY) onLost();
        watch(next);
      });
    };
    watch(channel.getConnectivityState(false));
  }

  close(): void {
    this.closed = true;
    for (const ch of this.channels) ch.client.close();
  }

  private metadata(values: Record<string, string> | undefined): Metadata {
    const md = new Metadata();
    if (values) for (const k in values) md.set(k, values[k]!);
    if (this.authorization !== undefined) md.set('authorization', this.authorization);
    return md;
  }
}

function isConnected(channel: PooledChannel): boolean {
  return channel.client.getChannel().getConnectivityState(false) === connectivityState.READY;
}
