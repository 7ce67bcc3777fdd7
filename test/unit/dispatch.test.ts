import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../src/errors.js';
import { Registry } from '../../src/metrics/registry.js';
import { RoutingMetrics } from '../../src/metrics/routing-metrics.js';
import { Dispatcher, routingKey, type DispatchRequest } from '../../src/pipeline/dispatch.js';
import { RetryPolicy } from '../../src/pipeline/retry-policy.js';
import type { PolicyName } from '../../src/routing/types.js';
import { WorkerFleet } from '../../src/workers/fleet.js';

const RETRY = new RetryPolicy({ maxAttempts: 3, initialBackoffMs: 50, maxBackoffMs: 1_000, multiplier: 2, jitterFactor: 0 });

/** A fleet of `n` entries marked ready and serving model 'm' (no server behind them: nothing here sends a request). */
async function fleetOf(n: number): Promise<WorkerFleet> {
  const fleet = new WorkerFleet({
    health: { intervalMs: 60_000, timeoutMs: 1_000, failureThreshold: 2, successThreshold: 1 },
    breaker: { failureThreshold: 5, successThreshold: 1, openMs: 1_000, disabled: false },
    loadIntervalMs: 60_000,
    dpAware: false,
  });
  for (let i = 0; i < n; i++) {
    const [e] = await fleet.add(`grpc://127.0.0.1:${i + 1}`);
    e!.server.health.probeSucceeded();
    e!.server.model = 'm';
  }
  return fleet;
}

function dispatcher(fleet: WorkerFleet, policy: PolicyName, registry = new Registry()): Dispatcher {
  return new Dispatcher(fleet, { policy, policyOptions: {}, retry: RETRY, metrics: new RoutingMetrics(registry) });
}

function request(tokens: number[], key?: string): DispatchRequest {
  return { model: 'm', route: '/v1/chat/completions', input: key === undefined ? { tokens } : { tokens, key } };
}

const prompt = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

describe('dispatcher', () => {
  it('credits a worker only with the prompt tokens it is not expected to have cached, and takes them back when the request ends', async () => {
    const fleet = await fleetOf(2);
    try {
      const d = dispatcher(fleet, 'cache_aware');
      const first = d.begin(request(prompt(256))).next();
      const holder = fleet.get(first.worker)!;
      assert.equal(holder.inFlightTokens, 256);
      first.finish('ok');
      assert.equal(holder.inFlightTokens, 0);
      const second = d.begin(request([...prompt(256), ...prompt(32, 9000)])).next();
      assert.equal(second.worker, holder.id, 'the shared prefix goes back to its holder');
      assert.equal(holder.inFlightTokens, 32, 'only the 32 new tokens are queued prefill');
      second.finish('ok');
    } finally {
      fleet.close();
    }
  });

  it('sends a retry to a worker not tried yet while there is one, and back to a tried one when there is not', async () => {
    const fleet = await fleetOf(3);
    try {
      const rd = dispatcher(fleet, 'random').begin(request(prompt(8)));
      const seen = [rd.next(), rd.next(), rd.next()].map((a) => {
        a.finish('overload');
        return a.worker;
      });
      assert.equal(new Set(seen).size, 3);
      const fourth = rd.next();
      assert.equal(fourth.number, 4);
      assert.ok(seen.includes(fourth.worker));
    } finally {
      fleet.close();
    }
  });

  it('answers 503 no_available_workers when no worker is routable, never a blind fallback', async () => {
    const fleet = await fleetOf(2);
    try {
      for (const e of fleet.list()) fleet.setFlags(e.id, { disabled: true });
      const rd = dispatcher(fleet, 'cache_aware').begin(request(prompt(8)));
      assert.throws(() => rd.next(), (e: unknown) => e instanceof ApiError && e.status === 503 && e.code === 'no_available_workers');
    } finally {
      fleet.close();
    }
  });

  it("routes a request only among its model's workers, and answers 503 for a model none of whose workers is routable", async () => {
    const fleet = await fleetOf(3);
    try {
      const [, other, otherDown] = fleet.list();
      other!.server.model = 'other';
      otherDown!.server.model = 'idle';
      fleet.setFlags(otherDown!.id, { disabled: true });
      const d = dispatcher(fleet, 'round_robin');
      for (let i = 0; i < 4; i++) {
        const a = d.begin({ ...request(prompt(8)), model: 'other' }).next();
        assert.equal(a.worker, other!.id);
        a.finish('ok');
      }
      assert.throws(
        () => d.begin({ ...request(prompt(8)), model: 'idle' }).next(),
        (err: unknown) => err instanceof ApiError && err.status === 503 && err.code === 'no_available_workers',
      );
    } finally {
      fleet.close();
    }
  });

  it('keys consistent_hash on the routing key: one key, one worker', async () => {
    const fleet = await fleetOf(4);
    try {
      const d = dispatcher(fleet, 'consistent_hash');
      const workers = new Set<string>();
      for (let i = 0; i < 8; i++) {
        const a = d.begin(request(prompt(8, i * 100), 'tenant-1')).next();
        workers.add(a.worker);
        a.finish('ok');
      }
      assert.equal(workers.size, 1);
    } finally {
      fleet.close();
    }
  });

  it('waits longer for a worker hint, gives up after the last attempt and counts it as exhausted', async () => {
    const fleet = await fleetOf(2);
    try {
      const registry = new Registry();
      const rd = dispatcher(fleet, 'round_robin', registry).begin(request(prompt(8)));
      const overloaded = (hint?: number) => new ApiError(429, 'busy', { code: 'worker_overloaded', ...(hint === undefined ? {} : { retryAfterMs: hint }) });
      rd.next();
      assert.equal(rd.retryDelay(overloaded(), Infinity), 50);
      rd.next();
      assert.equal(rd.retryDelay(overloaded(700), Infinity), 700, 'the hint wins over the 100 ms backoff');
      assert.equal(rd.retryDelay(overloaded(), 60), undefined, 'a wait past the deadline is no retry');
      rd.next();
      assert.equal(rd.retryDelay(overloaded(), Infinity), undefined, 'three attempts used');
      assert.equal(rd.retryDelay(new ApiError(400, 'bad', { code: 'invalid_request' }), Infinity), undefined);
      rd.ended('failed');
      const text = registry.expose();
      assert.match(text, /switchyard_router_retries_exhausted_total\{route="\/v1\/chat\/completions"\} 2/);
      assert.match(text, /switchyard_router_retries_total\{route="\/v1\/chat\/completions",outcome="failure"\} 1/);
    } finally {
      fleet.close();
    }
  });

  it('takes the affinity key from X-Routing-Key, else the body user, else the session header', () => {
    assert.equal(routingKey('k', 'u', 's'), 'k');
    assert.equal(routingKey(undefined, 'u', 's'), 'u');
    assert.equal(routingKey(undefined, undefined, 's'), 's');
    assert.equal(routingKey('', '', undefined), undefined);
  });
});
