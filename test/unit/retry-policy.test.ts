import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import { ApiError } from '../../src/errors.js';
import { isRetryable, RetryPolicy, retryConfigFromFlags, type RetryConfig } from '../../src/pipeline/retry-policy.js';
import { grpcErrorToApiError, retryHintMs } from '../../src/workers/grpc-errors.js';

const REFERENCE: RetryConfig = { maxAttempts: 5, initialBackoffMs: 50, maxBackoffMs: 30_000, multiplier: 1.5, jitterFactor: 0.2 };
const policy = new RetryPolicy(REFERENCE);
const fixed = (v: number) => () => v;

function grpcFailure(code: number, trailers: Record<string, string> = {}): ApiError {
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(trailers)) metadata.set(k, v);
  return grpcErrorToApiError(Object.assign(new Error('boom'), { code, details: 'boom', metadata }), 'grpc://w:1');
}

describe('retry policy', () => {
  it('retries timeouts, overload and worker failures, never client errors', () => {
    for (const s of [408, 429, 500, 502, 503, 504]) assert.equal(isRetryable(new ApiError(s, 'x')), true, String(s));
    for (const s of [400, 401, 403, 404, 413, 501]) assert.equal(isRetryable(new ApiError(s, 'x')), false, String(s));
  });

  it('classifies worker gRPC statuses: connection loss, overload and deadline retry; bad arguments do not', () => {
    assert.equal(isRetryable(grpcFailure(GrpcStatus.UNAVAILABLE)), true);
    assert.equal(isRetryable(grpcFailure(GrpcStatus.RESOURCE_EXHAUSTED)), true);
    assert.equal(isRetryable(grpcFailure(GrpcStatus.DEADLINE_EXCEEDED)), true);
    assert.equal(isRetryable(grpcFailure(GrpcStatus.INTERNAL)), true);
    assert.equal(isRetryable(grpcFailure(GrpcStatus.INVALID_ARGUMENT)), false);
    assert.equal(isRetryable(grpcFailure(GrpcStatus.UNIMPLEMENTED)), false);
  });

  it('grows the backoff by the multiplier up to the cap, as in the reference schedule', () => {
    const mid = fixed(0.5); // no jitter
    assert.deepEqual([0, 1, 2, 3].map((k) => policy.backoffMs(k, mid)), [50, 75, 112.5, 168.75]);
    assert.equal(policy.backoffMs(40, mid), 30_000);
  });

  it('keeps jittered delays within ±jitter of the base', () => {
    for (let k = 0; k < 6; k++) {
      const base = Math.min(50 * 1.5 ** k, 30_000);
      assert.equal(policy.backoffMs(k, fixed(0)), base * 0.8);
      assert.ok(Math.abs(policy.backoffMs(k, fixed(0.999999)) - base * 1.2) < 1e-3);
      for (let i = 0; i < 200; i++) {
        const d = policy.backoffMs(k);
        assert.ok(d >= base * 0.8 && d <= base * 1.2, `${d} outside ±20 % of ${base}`);
      }
    }
  });

  it('counts attempts in total, first included, and stops when they are used up', () => {
    const err = new ApiError(503, 'down');
    assert.equal(policy.nextDelayMs(err, 1, Infinity, fixed(0.5)), 50);
    assert.equal(policy.nextDelayMs(err, 4, Infinity, fixed(0.5)), 168.75);
    assert.equal(policy.nextDelayMs(err, 5, Infinity, fixed(0.5)), undefined);
    assert.equal(policy.nextDelayMs(new ApiError(400, 'bad'), 1), undefined);
  });

  it('gives up when the wait would outlast the request deadline', () => {
    assert.equal(policy.nextDelayMs(new ApiError(503, 'down'), 1, 40, fixed(0.5)), undefined);
    assert.equal(policy.nextDelayMs(new ApiError(503, 'down'), 1, 60, fixed(0.5)), 50);
  });

  it('waits at least as long as the worker asked, capped at the max backoff, and not at all when it said no', () => {
    const hinted = grpcFailure(GrpcStatus.RESOURCE_EXHAUSTED, { 'grpc-retry-pushback-ms': '400' });
    assert.equal(hinted.retryAfterMs, 400);
    assert.equal(policy.nextDelayMs(hinted, 1, Infinity, fixed(0.5)), 400);
    const short = grpcFailure(GrpcStatus.UNAVAILABLE, { 'grpc-retry-pushback-ms': '1' });
    assert.equal(policy.nextDelayMs(short, 1, Infinity, fixed(0.5)), 50);
    const huge = grpcFailure(GrpcStatus.UNAVAILABLE, { 'grpc-retry-pushback-ms': '99999999' });
    assert.equal(policy.nextDelayMs(huge, 1, Infinity, fixed(0.5)), 30_000);
    const veto = grpcFailure(GrpcStatus.UNAVAILABLE, { 'grpc-retry-pushback-ms': '-1' });
    assert.equal(isRetryable(veto), false);
    assert.equal(policy.nextDelayMs(veto, 1), undefined);
  });

  it('reads retry hints from gRPC trailers', () => {
    const md = (entries: Record<string, string>) => {
      const m = new Metadata();
      for (const [k, v] of Object.entries(entries)) m.set(k, v);
      return m;
    };
    assert.equal(retryHintMs(undefined), undefined);
    assert.equal(retryHintMs(md({})), undefined);
    assert.equal(retryHintMs(md({ 'grpc-retry-pushback-ms': '250' })), 250);
    assert.equal(retryHintMs(md({ 'grpc-retry-pushback-ms': 'soon' })), -1);
    assert.equal(retryHintMs(md({ 'retry-after': '2' })), 2000);
    assert.equal(retryHintMs(md({ 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' })), undefined);
  });

  it('makes one attempt with --disable-retries', () => {
    const flags = {
      retryMaxRetries: 5,
      retryInitialBackoffMs: 50,
      retryMaxBackoffMs: 30_000,
      retryBackoffMultiplier: 1.5,
      retryJitterFactor: 0.2,
      disableRetries: false,
    };
    assert.deepEqual(retryConfigFromFlags(flags), REFERENCE);
    const off = new RetryPolicy(retryConfigFromFlags({ ...flags, disableRetries: true }));
    assert.equal(off.nextDelayMs(new ApiError(503, 'down'), 1), undefined);
  });
});
