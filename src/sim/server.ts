import type { OutputStyle } from './styles.js';
import { EventEmitter } from 'node:events';
import { Metadata, Server, ServerCredentials, status as GrpcStatus, type ServerWritableStream, type sendUnaryData } from '@grpc/grpc-js';
import {
  AbortResponse,
  FlushCacheResponse,
  GetLoadsResponse,
  GetModelInfoResponse,
  GetServerInfoResponse,
  HealthCheckResponse,
  SglangSchedulerService,
  type AbortRequest,
  type FlushCacheRequest,
  type GenerateRequest,
  type GenerateResponse,
  type GetLoadsRequest,
  type SchedulerLoad,
  type SglangSchedulerServer,
} from '../gen/sglang/grpc/scheduler/sglang_scheduler.js';
import type { DisaggregationMode } from './directives.js';
import { SimEngine } from './engine.js';
import { ReplyScript, type SimTokenizer } from './script.js';
import { GenerateSession, type SessionContext } from './session.js';

export type { SimTokenizer } from './script.js';
export type { DisaggregationMode } from './directives.js';

export interface SimWorkerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 = ephemeral. */
  port?: number;
  tokenizer: SimTokenizer;
  /** Reported by GetModelInfo / GetServerInfo. */
  tokenizerPath?: string;
  modelPath?: string;
  /** Default 'sim-model'. */
  servedModelName?: string;
  eosTokenIds: number[];
  /** Default 32768; prompts at least this long are rejected as SGLang does. */
  maxContextLength?: number;
  /** Reported by GetModelInfo; bounds the fake logprob alternatives. Default: the tokenizer's, else 32000. */
  vocabSize?: number;
  defaultSamplingParamsJson?: string;
  /** Defaults are the reference mock's (8000 tok/s, 6 ms, 0.35 ms, 2048); all zero = as fast as possible. */
  latency?: { prefillTokensPerSec?: number; decodeBaseMs?: number; decodePerReqMs?: number; prefillChunk?: number };
  /** Per DP rank. Default 524288. */
  kvCapacityTokens?: number;
  /** Default 16. */
  blockSize?: number;
  /** Batch width per DP rank; the rest wait FIFO. Default 256. */
  maxRunning?: number;
  /**
   * DP ranks, each its own scheduler and KV. A request's data_parallel_rank > 0 pins it to that rank
   * (0 is proto3's unset, so it goes to the least busy rank); a rank outside [0, dpSize) is rejected. Default 1.
   */
  dpSize?: number;
  /** When set, every call must carry `authorization: Bearer KEY`; others get UNAUTHENTICATED. */
  apiKey?: string;
  weightVersion?: string;
  /** Reply format when the prompt carries no reply directive (see styles.ts). Default 'plain'. */
  outputStyle?: OutputStyle;
  /**
   * SGLang's --disaggregation-mode. 'prefill' and 'decode' reject a Generate without
   * disaggregated_params (INVALID_ARGUMENT); a prefill worker answers with the first token only
   * (finish reason "length"). The 'request' event carries the params it got. Default 'null'.
   */
  disaggregationMode?: DisaggregationMode;
}

export interface SimWorkerStats {
  generates: number;
  running: number;
  waiting: number;
  cancelled: number;
  /** Abort RPCs that stopped a running request. */
  aborted: number;
  /** Abort RPCs received, also those that came after the call had ended (a reset stream arrives first). */
  abortCalls: number;
  cachedTokensServed: number;
  promptTokens: number;
  /** Generate calls still open: neither finished, failed nor cancelled. */
  sessions: number;
  /** Times a Generate stream write returned false: the router stopped reading (paused its call). */
  blockedWrites: number;
}

/** A failure the worker answers Generate calls with, before any token (see SimWorker.failNext). */
export interface SimFailure {
  code: GrpcStatus;
  message?: string;
  /** Sent as the `grpc-retry-pushback-ms` trailer: the worker's hint on when to retry. */
  retryPushbackMs?: number;
}

export interface SimWorker {
  readonly port: number;
  /** grpc://host:port */
  readonly url: string;
  /** 'request' (GenerateRequest, with its data_parallel_rank and disaggregated_params), 'cancelled' (requestId), 'abort' (requestId), 'finished' (requestId, reason, index), 'flushed'. */
  readonly events: EventEmitter;
  stats(): SimWorkerStats;
  setHealthy(healthy: boolean): void;
  /** The next `count` Generate calls to this worker fail with `failure` (unlike a prompt directive, it targets one worker). */
  failNext(count: number, failure: SimFailure): void;
  close(): Promise<void>;
}

const MiB = 1024 * 1024;

interface ServiceErrorLike {
  code: GrpcStatus;
  details: string;
}
const CLOSE_GRACE_MS = 200;
/** How often a FlushCache with a timeout looks again whether the engines went idle. */
const FLUSH_POLL_MS = 5;
/** A sub-request id as the servicer names them: `{rid}-{i}` per choice, `{rid}-prefix` for the warm-up. */
const SUB_REQUEST = /^(.*)-(\d+|prefix)$/;

export async function startSimWorker(opts: SimWorkerOptions): Promise<SimWorker> {
  const host = opts.host ?? '127.0.0.1';
  const servedModelName = opts.servedModelName ?? 'sim-model';
  const modelPath = opts.modelPath ?? servedModelName;
  const tokenizerPath = opts.tokenizerPath ?? '';
  const maxContextLength = opts.maxContextLength ?? 32768;
  const vocabSize = opts.vocabSize ?? opts.tokenizer.vocabSize ?? 32000;
  const blockSize = opts.blockSize ?? 16;
  const kvCapacityTokens = opts.kvCapacityTokens ?? 524288;
  const maxRunning = opts.maxRunning ?? 256;
  const dpSize = opts.dpSize ?? 1;
  const weightVersion = opts.weightVersion ?? 'default';
  const latency = opts.latency ?? {};
  const prefillChunk = latency.prefillChunk ?? 2048;
  const disaggregationMode = opts.disaggregationMode ?? 'null';

  const engines = Array.from(
    { length: dpSize },
    () =>
      new SimEngine({
        prefillTokensPerSec: latency.prefillTokensPerSec ?? 8000,
        decodeBaseMs: latency.decodeBaseMs ?? 6.0,
        decodePerReqMs: latency.decodePerReqMs ?? 0.35,
        prefillChunk,
        kvCapacityTokens,
        blockSize,
        maxRunning,
        eosTokenIds: opts.eosTokenIds,
      }),
  );
  const script = await ReplyScript.create(opts.tokenizer);
  const events = new EventEmitter();
  const sessions = new Map<string, GenerateSession>();
  const counters = { generates: 0, cancelled: 0, aborted: 0, promptTokens: 0, blockedWrites: 0, abortCalls: 0 };
  const startTime = new Date();
  let lastReceive = 0;
  let healthy = true;
  let closing = false;
  let failures: { left: number; failure: SimFailure } | undefined;

  const ctx: SessionContext = {
    tokenizer: opts.tokenizer,
    script,
    maxContextLength,
    vocabSize,
    blockSize,
    outputStyle: opts.outputStyle ?? 'plain',
    disaggregationMode,
    pickEngine: (rank) => {
      if (rank > 0) return engines[rank]!;
      let best = engines[0]!;
      for (const e of engines) if (e.runningCount + e.waitingCount < best.runningCount + best.waitingCount) best = e;
      return best;
    },
    onPromptAccepted: (tokens) => {
      counters.promptTokens += tokens;
    },
    onBlocked: () => {
      counters.blockedWrites++;
    },
    onFinished: (s, index, reason) => events.emit('finished', s.requestId, reason, index),
    onCancelled: (s) => {
      counters.cancelled++;
      events.emit('cancelled', s.requestId);
    },
    onClosed: (s) => {
      if (sessions.get(s.requestId) === s) sessions.delete(s.requestId);
    },
  };

  const loadOf = (rank: number, include: ReadonlySet<string>): SchedulerLoad => {
    const l = engines[rank]!.load();
    const all = include.has('all');
    return {
      dpRank: rank,
      numRunningReqs: l.running,
      numWaitingReqs: l.waiting,
      numTotalReqs: l.running + l.waiting,
      numUsedTokens: l.usedTokens,
      maxTotalNumTokens: l.capacity,
      tokenUsage: l.tokenUsage,
      genThroughput: l.genThroughput,
      cacheHitRate: l.cacheHitRate,
      utilization: l.tokenUsage,
      maxRunningRequests: maxRunning,
      numWaitingUncachedTokens: l.waitingUncachedTokens,
      memory: all || include.has('memory') ? { weightGb: 0, kvCacheGb: 0, graphGb: 0, tokenCapacity: l.capacity } : undefined,
      queues: all || include.has('queues') ? { waiting: l.waiting, grammar: 0, paused: 0, retracted: 0 } : undefined,
      disaggregation:
        all || include.has('disagg')
          ? {
              mode: disaggregationMode,
              prefillPreallocQueueReqs: 0,
              prefillInflightQueueReqs: 0,
              decodePreallocQueueReqs: 0,
              decodeTransferQueueReqs: 0,
              decodeRetractedQueueReqs: 0,
              kvTransferSpeedGbS: 0,
              kvTransferLatencyMs: 0,
            }
          : undefined,
    };
  };

  /** Waits up to `timeoutS` for every rank to go idle, then flushes them all (or none). */
  const flushAll = async (timeoutS: number): Promise<FlushCacheResponse> => {
    const deadline = Date.now() + Math.max(0, timeoutS) * 1000;
    while (!engines.every((e) => e.idle) && Date.now() < deadline) await new Promise((r) => setTimeout(r, FLUSH_POLL_MS));
    if (!engines.every((e) => e.idle)) {
      const running = engines.reduce((n, e) => n + e.runningCount, 0);
      const waiting = engines.reduce((n, e) => n + e.waitingCount, 0);
      return { success: false, message: `Cache not flushed because there are pending requests. #queue-req: ${waiting}, #running-req: ${running}` };
    }
    for (const e of engines) e.flush();
    events.emit('flushed');
    return { success: true, message: 'Cache flushed successfully' };
  };

  const expectedAuth = opts.apiKey === undefined ? undefined : `Bearer ${opts.apiKey}`;
  const unauthenticated = (md: Metadata): ServiceErrorLike | null => {
    if (expectedAuth === undefined || md.get('authorization')[0] === expectedAuth) return null;
    return { code: GrpcStatus.UNAUTHENTICATED, details: 'missing or wrong API key' };
  };

  const deny = (call: { metadata: Metadata }, callback: (err: ServiceErrorLike) => void): boolean => {
    const denied = unauthenticated(call.metadata);
    if (denied) callback(denied);
    return denied !== null;
  };

  const handlers: SglangSchedulerServer = {
    generate(call: ServerWritableStream<GenerateRequest, GenerateResponse>) {
      const denied = unauthenticated(call.metadata);
      if (denied) return void call.emit('error', denied);
      counters.generates++;
      lastReceive = Date.now() / 1000;
      events.emit('request', call.request);
      if (closing) {
        call.emit('error', { code: GrpcStatus.UNAVAILABLE, details: 'sim worker is shutting down' });
        return;
      }
      if (failures && failures.left > 0) {
        failures.left--;
        const f = failures.failure;
        const metadata = new Metadata();
        if (f.retryPushbackMs !== undefined) metadata.set('grpc-retry-pushback-ms', String(f.retryPushbackMs));
        call.emit('error', { code: f.code, details: f.message ?? `simulated ${GrpcStatus[f.code]}`, metadata });
        return;
      }
      const rank = call.request.dataParallelRank;
      if (rank < 0 || rank >= dpSize) {
        call.emit('error', { code: GrpcStatus.INVALID_ARGUMENT, details: `data_parallel_rank ${rank} out of range [0, ${dpSize})` });
        return;
      }
      const session = new GenerateSession(call, ctx);
      sessions.set(session.requestId, session);
      session.run().catch((err: unknown) => {
        call.emit('error', { code: GrpcStatus.INTERNAL, details: err instanceof Error ? err.message : String(err) });
      });
    },
    embed(call, callback) {
      if (deny(call, callback)) return;
      callback({ code: GrpcStatus.UNIMPLEMENTED, details: 'the simulated worker serves generation only' }, null);
    },
    healthCheck(call, callback) {
      if (deny(call, callback)) return;
      const ok = healthy && !closing;
      callback(null, HealthCheckResponse.fromPartial({ healthy: ok, message: ok ? 'ok' : closing ? 'shutting down' : 'marked unhealthy' }));
    },
    abort(call, callback: sendUnaryData<AbortResponse>) {
      if (deny(call, callback)) return;
      const req: AbortRequest = call.request;
      counters.abortCalls++;
      let hit = sessions.get(req.requestId)?.abort(null) ?? false;
      if (!hit) {
        const m = SUB_REQUEST.exec(req.requestId);
        const s = m ? sessions.get(m[1]!) : undefined;
        if (s && m) hit = s.abort(m[2] === 'prefix' ? null : Number(m[2]));
      }
      if (hit) {
        counters.aborted++;
        events.emit('abort', req.requestId);
      }
      callback(null, AbortResponse.fromPartial({ success: hit, message: hit ? 'aborted' : `no running request ${req.requestId}` }));
    },
    getModelInfo(call, callback) {
      if (deny(call, callback)) return;
      callback(
        null,
        GetModelInfoResponse.fromPartial({
          modelPath,
          tokenizerPath,
          isGeneration: true,
          weightVersion,
          servedModelName,
          maxContextLength,
          vocabSize,
          modelType: 'sim',
          eosTokenIds: opts.eosTokenIds,
          maxReqInputLen: maxContextLength - 1,
          architectures: ['SimForCausalLM'],
          defaultSamplingParamsJson: opts.defaultSamplingParamsJson ?? '',
        }),
      );
    },
    getServerInfo(call, callback) {
      if (deny(call, callback)) return;
      callback(
        null,
        GetServerInfoResponse.fromPartial({
          serverArgs: {
            model_path: modelPath,
            tokenizer_path: tokenizerPath,
            served_model_name: servedModelName,
            dp_size: dpSize,
            tp_size: 1,
            pp_size: 1,
            context_length: maxContextLength,
            max_running_requests: maxRunning,
            max_total_tokens: kvCapacityTokens,
            page_size: blockSize,
            chunked_prefill_size: prefillChunk,
            schedule_policy: 'fcfs',
            load_balance_method: 'shortest_queue',
            disaggregation_mode: disaggregationMode,
            is_embedding: false,
            skip_tokenizer_init: true,
            weight_version: weightVersion,
          },
          schedulerInfo: { max_total_num_tokens: kvCapacityTokens, max_req_input_len: maxContextLength - 1 },
          activeRequests: sessions.size,
          isPaused: false,
          lastReceiveTimestamp: lastReceive,
          uptimeSeconds: (Date.now() - startTime.getTime()) / 1000,
          sglangVersion: 'sim',
          serverType: 'grpc',
          startTime,
          maxTotalNumTokens: kvCapacityTokens,
        }),
      );
    },
    flushCache(call, callback: sendUnaryData<FlushCacheResponse>) {
      if (deny(call, callback)) return;
      const req: FlushCacheRequest = call.request;
      void flushAll(req.timeoutS).then((res) => callback(null, FlushCacheResponse.fromPartial(res)));
    },
    getLoads(call, callback: sendUnaryData<GetLoadsResponse>) {
      if (deny(call, callback)) return;
      const req: GetLoadsRequest = call.request;
      if (req.dpRank !== undefined && (req.dpRank < 0 || req.dpRank >= dpSize)) {
        callback({ code: GrpcStatus.INVALID_ARGUMENT, details: `dp_rank ${req.dpRank} out of range [0, ${dpSize})` }, null);
        return;
      }
      const include = new Set(req.include);
      const loads = req.dpRank !== undefined ? [loadOf(req.dpRank, include)] : engines.map((_, rank) => loadOf(rank, include));
      const sum = (f: (l: SchedulerLoad) => number): number => loads.reduce((n, l) => n + f(l), 0);
      callback(
        null,
        GetLoadsResponse.fromPartial({
          timestamp: new Date().toISOString(),
          version: 'sim',
          dpRankCount: dpSize,
          loads,
          aggregate: {
            totalRunningReqs: sum((l) => l.numRunningReqs),
            totalWaitingReqs: sum((l) => l.numWaitingReqs),
            totalReqs: sum((l) => l.numTotalReqs),
            avgTokenUsage: sum((l) => l.tokenUsage) / loads.length,
            avgThroughput: sum((l) => l.genThroughput) / loads.length,
            avgUtilization: sum((l) => l.utilization) / loads.length,
          },
        }),
      );
    },
  };

  const server = new Server({
    'grpc.max_receive_message_length': 256 * MiB,
    'grpc.max_send_message_length': 256 * MiB,
    'grpc.max_concurrent_streams': 4096,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5000,
  });
  server.addService(SglangSchedulerService, handlers);
  const bindHost = host.includes(':') ? `[${host}]` : host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${bindHost}:${opts.port ?? 0}`, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });

  return {
    port,
    url: `grpc://${bindHost}:${port}`,
    events,
    stats: () => ({
      ...counters,
      running: engines.reduce((n, e) => n + e.runningCount, 0),
      waiting: engines.reduce((n, e) => n + e.waitingCount, 0),
      cachedTokensServed: engines.reduce((n, e) => n + e.cachedTokensServed, 0),
      sessions: sessions.size,
    }),
    setHealthy: (h) => {
      healthy = h;
    },
    failNext: (count, failure) => {
      failures = { left: count, failure };
    },
    close: async () => {
      if (closing) return;
      closing = true;
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, CLOSE_GRACE_MS);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      for (const e of engines) e.stop();
    },
  };
}
