import type { RouterConfig } from '../config/router-config.js';
import type { ApiError } from '../errors.js';

/** The retry knobs, with the reference gateway's meanings (see the --retry-* flags). */
export interface RetryConfig {
  /** Total attempts including the first (the reference's `max_retries`); 1 = never retry. */
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  multiplier: number;
  /** Delays are spread uniformly over ±this fraction, so retrying clients do not move in lockstep. */
  jitterFactor: number;
}

/**
 * Statuses worth another attempt, on another worker: timeouts, overload, and the worker-side
 * failures (502 covers a connection that broke, 503 one that could not be made).
 */
const RETRYABLE_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/** Whether a failed attempt may be tried again: a retryable status the worker did not veto. */
export function isRetryable(err: ApiError): boolean {
  if (err.retryAfterMs !== undefined && err.retryAfterMs < 0) return false;
  return RETRYABLE_STATUSES.has(err.status);
}

/**
 * Decides whether and when to retry. Pure: the caller owns the attempt loop, the clock and the
 * rule that nothing is retried once a token reached the client.
 */
export class RetryPolicy {
  constructor(readonly config: Readonly<RetryConfig>) {}

  /**
   * Delay before retry number `retry` (0 for the first retry):
   * min(initial × multiplier^retry, max) × (1 ± jitter), with `rng()` uniform in [0, 1).
   */
  backoffMs(retry: number, rng: () => number = Math.random): number {
    const c = this.config;
    const base = Math.min(c.initialBackoffMs * Math.pow(c.multiplier, retry), c.maxBackoffMs);
    return base * (1 + c.jitterFactor * (2 * rng() - 1));
  }

  /**
   * The wait before the next attempt after `err` ended attempt number `attempt` (1-based), or
   * undefined to give up: not retryable, attempts used up, or the wait would overrun the
   * request's remaining time. A worker's pushback hint lengthens the wait (never shortens it),
   * so an overloaded fleet is not hammered on the reference's fixed schedule.
   */
  nextDelayMs(err: ApiError, attempt: number, remainingMs = Infinity, rng: () => number = Math.random): number | undefined {
    if (attempt >= this.config.maxAttempts || !isRetryable(err)) return undefined;
    let delay = this.backoffMs(attempt - 1, rng);
    if (err.retryAfterMs !== undefined) delay = Math.max(delay, Math.min(err.retryAfterMs, this.config.maxBackoffMs));
    return delay < remainingMs ? delay : undefined;
  }
}

/** `--disable-retries` leaves one attempt; otherwise the configured count. */
export function retryConfigFromFlags(
  flags: Pick<
    RouterConfig,
    'retryMaxRetries' | 'retryInitialBackoffMs' | 'retryMaxBackoffMs' | 'retryBackoffMultiplier' | 'retryJitterFactor' | 'disableRetries'
  >,
): RetryConfig {
  return {
    maxAttempts: flags.disableRetries ? 1 : flags.retryMaxRetries,
    initialBackoffMs: flags.retryInitialBackoffMs,
    maxBackoffMs: flags.retryMaxBackoffMs,
    multiplier: flags.retryBackoffMultiplier,
    jitterFactor: flags.retryJitterFactor,
  };
}
