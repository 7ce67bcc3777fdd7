import { performance } from 'node:perf_hooks';
import { Registry, type Counter, type GaugeChild, type Histogram, type HistogramChild } from './registry.js';

/** Request and time-to-first-token buckets in seconds (`--prometheus-duration-buckets` replaces them). */
export const DEFAULT_DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Gaps between streamed tokens are milliseconds, so they get their own finer buckets. */
const INTER_TOKEN_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.2, 0.5, 1, 2.5];

/** How admission control ended for one request. */
export type AdmissionResult = 'allowed' | 'queue_full' | 'queue_timeout' | 'cancelled';

/** Live numbers of the admission gate, read at scrape time. */
export interface AdmissionGauges {
  readonly queued: number;
  readonly inFlight: number;
}

/** Live numbers of the open SSE responses, read at scrape time. */
export interface SseGauges {
  readonly blocked: number;
  readonly bufferedBytes: number;
}

/**
 * Times one streamed response's tokens: the first call records time-to-first-token, every
 * later one the gap since the previous. Created once per request; `token()` allocates nothing.
 */
export class TokenTimer {
  private last = 0;

  constructor(
    private readonly startedAt: number,
    private readonly ttft: HistogramChild,
    private readonly itl: HistogramChild,
  ) {}

  token(): void {
    const now = performance.now();
    if (this.last === 0) this.ttft.observe((now - this.startedAt) / 1000);
    else this.itl.observe((now - this.last) / 1000);
    this.last = now;
  }
}

/**
 * The router's metric families and the typed calls that record them. Label values are bounded:
 * `path` is a route template (or `other`), `model` a name the router accepted.
 */
export class RouterMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter;
  private readonly duration: Histogram;
  private readonly active: GaugeChild;
  private readonly ttft: Histogram;
  private readonly itl: Histogram;
  private readonly rateLimit: Counter;

  constructor(durationBuckets: readonly number[] = DEFAULT_DURATION_BUCKETS) {
    const r = this.registry;
    this.requests = r.counter('switchyard_http_requests_total', 'HTTP requests answered, by route, model and status', ['path', 'model', 'status_code']);
    this.duration = r.histogram(
      'switchyard_http_request_duration_seconds',
      'End-to-end request latency until the last byte (or the client left)',
      ['path', 'model'],
      durationBuckets,
    );
    this.active = r.gauge('switchyard_http_requests_active', 'HTTP requests being handled').labels();
    this.ttft = r.histogram('switchyard_router_ttft_seconds', 'Time from request arrival to the first streamed token', ['path', 'model'], durationBuckets);
    this.itl = r.histogram(
      'switchyard_router_inter_token_latency_seconds',
      'Gap between consecutive streamed token events of one response',
      ['path', 'model'],
      INTER_TOKEN_BUCKETS,
    );
    this.rateLimit = r.counter('switchyard_http_rate_limit_total', 'Admission control outcomes on inference routes', ['result']);
  }

  requestStarted(): void {
    this.active.inc();
  }

  /** `startedAt` is the `performance.now()` of the request's arrival; status 499 = client left first. */
  requestFinished(path: string, model: string, status: number, startedAt: number): void {
    this.active.dec();
    this.requests.labels(path, model, statusLabel(status)).inc();
    this.duration.labels(path, model).observe((performance.now() - startedAt) / 1000);
  }

  tokenTimer(path: string, model: string, startedAt: number): TokenTimer {
    return new TokenTimer(startedAt, this.ttft.labels(path, model), this.itl.labels(path, model));
  }

  admission(result: AdmissionResult): void {
    this.rateLimit.labels(result).inc();
  }

  /** Exposes the admission queue depth and admitted in-flight count (only when admission is on). */
  watchAdmission(gate: AdmissionGauges): void {
    this.scrapedGauge('switchyard_admission_queue_depth', 'Requests waiting for an admission slot', () => gate.queued);
    this.scrapedGauge('switchyard_admission_inflight', 'Requests holding an admission slot', () => gate.inFlight);
  }

  /** Exposes the SSE responses held up by slow clients and the bytes the router buffers for them. */
  watchSse(streams: SseGauges): void {
    this.scrapedGauge('switchyard_sse_streams_blocked', 'Streaming responses paused because the client is not reading', () => streams.blocked);
    this.scrapedGauge(
      'switchyard_sse_buffered_bytes',
      'Bytes of streaming responses queued in the router, not yet taken by the socket',
      () => streams.bufferedBytes,
    );
  }

  /** An unlabelled gauge whose value is read when /metrics is scraped. */
  private scrapedGauge(name: string, help: string, read: () => number): void {
    const gauge = this.registry.gauge(name, help);
    const value = gauge.labels();
    gauge.collect = () => value.set(read());
  }
}

const STATUS_LABELS = new Map<number, string>();

function statusLabel(status: number): string {
  let s = STATUS_LABELS.get(status);
  if (s === undefined) {
    s = String(status);
    if (STATUS_LABELS.size < 128) STATUS_LABELS.set(status, s);
  }
  return s;
}
