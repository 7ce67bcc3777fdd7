import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiError } from '../../src/errors.js';
import { startSimWorker, type SimWorker } from '../../src/sim/server.js';
import { CircuitBreaker, type BreakerState } from '../../src/workers/circuit-breaker.js';
import { WorkerFleet, type FleetOptions, type StateChange } from '../../src/workers/fleet.js';
import { outcomeOfError } from '../../src/workers/grpc-errors.js';
import { HealthTracker, type HealthState } from '../../src/workers/health-state.js';
import { bundledTokenizer } from '../helpers/harness.js';

const BREAKER = { failureThreshold: 3, successThreshold: 2, openMs: 1_000, disabled: false };

function breaker(opts = BREAKER) {
  const changes: string[] = [];
  const b = new CircuitBreaker(opts, (from: BreakerState, to: BreakerState) => changes.push(`${from}>${to}`));
  return { b, changes };
}

describe('circuit breaker', () => {
  it('opens after the failure threshold of consecutive failures, and a success resets the count', () => {
    const { b, changes } = breaker();
    b.failure(0);
    b.failure(0);
    b.success();
    b.failure(0);
    b.failure(0);
    assert.equal(b.state(0), 'closed');
    b.failure(0);
    assert.equal(b.state(0), 'open');
    assert.equal(b.allows(500), false);
    assert.deepEqual(changes, ['closed>open']);
  });

  it('overload and cancellations neither open nor reset it', () => {
    const { b } = breaker();
    b.failure(0);
    b.failure(0);
    for (let i = 0; i < 10; i++) b.neutral();
    assert.equal(b.state(0), 'closed');
    b.failure(0);
    assert.equal(b.state(0), 'open');
  });

  it('turns half-open after the timeout and admits one trial request at a time', () => {
    const { b } = breaker();
    for (let i = 0; i < 3; i++) b.failure(0);
    assert.equal(b.state(999), 'open');
    assert.equal(b.state(1_000), 'half_open');
    assert.equal(b.allows(1_000), true);
    b.dispatched(1_000);
    assert.equal(b.allows(1_001), false, 'the trial slot is taken');
    b.neutral();
    assert.equal(b.allows(1_002), true, 'an overloaded trial frees the slot without a verdict');
  });

  it('closes after the success threshold of half-open successes', () => {
    const { b, changes } = breaker();
    for (let i = 0; i < 3; i++) b.failure(0);
    for (let i = 0; i < 2; i++) {
      b.dispatched(2_000);
      b.success();
    }
    assert.equal(b.state(2_000), 'closed');
    assert.deepEqual(changes, ['closed>open', 'open>half_open', 'half_open>closed']);
  });

  it('re-opens on a half-open failure and waits the full timeout again', () => {
    const { b } = breaker();
    for (let i = 0; i < 3; i++) b.failure(0);
    b.dispatched(1_500);
    b.success();
    b.dispatched(1_600);
    b.failure(1_600);
    assert.equal(b.state(2_599), 'open');
    assert.equal(b.state(2_600), 'half_open');
  });

  it('counts only the trial while half-open: a request sent before it opened neither closes it nor frees the slot', () => {
    const { b, changes } = breaker();
    const stale = [b.dispatched(0), b.dispatched(0)];
    for (let i = 0; i < 3; i++) b.failure(0);
    const trial = b.dispatched(1_000);
    assert.deepEqual([stale, trial], [[false, false], true]);
    for (const t of stale) b.success(t);
    assert.equal(b.state(1_001), 'half_open', 'stale successes do not close it');
    assert.equal(b.allows(1_001), false, 'nor free the trial slot');
    b.failure(1_002, false);
    assert.equal(b.state(1_002), 'half_open', 'a stale failure does not re-open it');
    b.success(trial);
    assert.equal(b.allows(1_003), true);
    assert.deepEqual(changes, ['closed>open', 'open>half_open']);
  });

  it('never opens when disabled', () => {
    const { b } = breaker({ ...BREAKER, disabled: true });
    for (let i = 0; i < 100; i++) b.failure(0);
    assert.equal(b.state(0), 'closed');
  });
});

describe('health state machine', () => {
  function tracker(failureThreshold = 2, successThreshold = 3) {
    const changes: string[] = [];
    const t = new HealthTracker({ failureThreshold, successThreshold }, (from: HealthState, to: HealthState) => changes.push(`${from}>${to}`));
    return { t, changes };
  }

  it('a new worker is ready on its first passed probe', () => {
    const { t, changes } = tracker();
    assert.equal(t.state, 'pending');
    t.probeSucceeded();
    assert.deepEqual(changes, ['pending>ready']);
  });

  it('leaves rotation after the failure threshold of failed probes and needs the success threshold to return', () => {
    const { t, changes } = tracker();
    t.probeSucceeded();
    t.probeFailed('timeout');
    t.probeSucceeded();
    t.probeFailed('timeout');
    assert.equal(t.state, 'ready', 'failures must be consecutive');
    t.probeFailed('timeout');
    assert.equal(t.state, 'not_ready');
    t.probeSucceeded();
    t.probeSucceeded();
    t.probeFailed('timeout');
    t.probeSucceeded();
    t.probeSucceeded();
    assert.equal(t.state, 'not_ready', 'successes must be consecutive');
    t.probeSucceeded();
    assert.equal(t.state, 'ready');
    assert.deepEqual(changes, ['pending>ready', 'ready>not_ready', 'not_ready>ready']);
  });

  it('a passive connect error takes a ready worker out at once', () => {
    const { t } = tracker();
    t.probeSucceeded();
    t.unreachable('connection refused');
    assert.equal(t.state, 'not_ready');
  });

  it('fails after three times the failure threshold while not ready, and recovers from failed through probes', () => {
    const { t, changes } = tracker(2, 2);
    t.probeSucceeded();
    t.unreachable('refused');
    for (let i = 0; i < 5; i++) t.probeFailed('refused');
    assert.equal(t.state, 'not_ready');
    t.probeFailed('refused');
    assert.equal(t.state, 'failed');
    t.probeSucceeded();
    t.probeSucceeded();
    assert.deepEqual(changes, ['pending>ready', 'ready>not_ready', 'not_ready>failed', 'failed>ready']);
  });

  it('a pending worker fails after ten times the failure threshold of probes without one success', () => {
    const { t } = tracker(2, 2);
    for (let i = 0; i < 19; i++) t.probeFailed('refused');
    assert.equal(t.state, 'pending');
    t.probeFailed('refused');
    assert.equal(t.state, 'failed');
  });
});

describe('request outcomes', () => {
  it('classifies transport failures, overload, worker errors and client errors', () => {
    assert.equal(outcomeOfError(new ApiError(503, 'x', { code: 'worker_unreachable' })), 'unreachable');
    assert.equal(outcomeOfError(new ApiError(503, 'x', { code: 'worker_unavailable' })), 'failure');
    assert.equal(outcomeOfError(new ApiError(429, 'x', { code: 'worker_overloaded' })), 'overload');
    assert.equal(outcomeOfError(new ApiError(502, 'x', { code: 'upstream_error' })), 'failure');
    assert.equal(outcomeOfError(new ApiError(400, 'x', { code: 'invalid_request' })), 'ok');
  });
});

const OPTS: FleetOptions = {
  health: { intervalMs: 60_000, timeoutMs: 1_000, failureThreshold: 2, successThreshold: 2 },
  breaker: BREAKER,
  loadIntervalMs: 60_000,
  dpAware: false,
};

describe('worker registry', () => {
  it('routes only to ready, enabled, live entries with a closed breaker', async () => {
    const fleet = new WorkerFleet(OPTS);
    try {
      const [a] = await fleet.add('grpc://127.0.0.1:1');
      const [b] = await fleet.add('grpc://127.0.0.1:2');
      const [c] = await fleet.add('grpc://127.0.0.1:3', { role: 'prefill', bootstrapPort: 8998 });
      assert.deepEqual(fleet.routable(), []);
      for (const e of [a!, b!, c!]) e.server.health.probeSucceeded();
      assert.deepEqual(fleet.routable('regular').map((e) => e.id), [a!.id, b!.id]);
      assert.deepEqual(fleet.routable('prefill').map((e) => e.id), [c!.id]);
      fleet.setFlags(a!.id, { disabled: true });
      assert.deepEqual(fleet.routable('regular').map((e) => e.id), [b!.id]);
      fleet.setFlags(a!.id, { disabled: false });
      fleet.setFlags(b!.id, { dead: true });
      assert.deepEqual(fleet.routable('regular').map((e) => e.id), [a!.id]);
      for (let i = 0; i < 3; i++) fleet.lease(a!, 10).finish('failure');
      assert.deepEqual(fleet.routable('regular'), [], 'breaker open');
    } finally {
      fleet.close();
    }
  });

  it('setFlags validates every flag before applying any', async () => {
    const fleet = new WorkerFleet(OPTS);
    try {
      const [a] = await fleet.add('grpc://127.0.0.1:1');
      assert.throws(() => fleet.setFlags(a!.id, { disabled: true, dead: 'yes' as unknown as boolean }), (e: unknown) => e instanceof ApiError && e.status === 400);
      assert.equal(a!.disabled, false);
      assert.throws(() => fleet.setFlags(a!.id, { disabled: true, draining: true } as never), (e: unknown) => e instanceof ApiError && e.param === 'draining');
      assert.equal(a!.disabled, false);
      assert.throws(() => fleet.setFlags('grpc://nowhere:1', { disabled: true }), (e: unknown) => e instanceof ApiError && e.status === 404);
      const view = fleet.setFlags(a!.id, { disabled: true, dead: true });
      assert.equal(view.disabled && view.dead, true);
    } finally {
      fleet.close();
    }
  });

  it('credits dispatches to in-flight counts and lets overload pass without touching the breaker', async () => {
    const fleet = new WorkerFleet(OPTS);
    try {
      const [a] = await fleet.add('grpc://127.0.0.1:1');
      a!.server.health.probeSucceeded();
      const leases = Array.from({ length: 5 }, () => fleet.lease(a!, 100));
      assert.deepEqual(fleet.candidates([a!]), [{ id: a!.id, inFlight: 5, inFlightTokens: 500 }]);
      for (const l of leases) {
        l.finish('overload');
        l.finish('failure');
      }
      assert.equal(a!.inFlight, 0, 'a lease finishes once');
      assert.equal(a!.breaker.state(Date.now()), 'closed');
      assert.equal(a!.breaker.consecutiveFailures, 0);
    } finally {
      fleet.close();
    }
  });

  it('an unreachable outcome takes the worker out of rotation at once and emits a state change', async () => {
    const fleet = new WorkerFleet(OPTS);
    try {
      const [a] = await fleet.add('grpc://127.0.0.1:1');
      a!.server.health.probeSucceeded();
      const seen: StateChange[] = [];
      fleet.on('state', (c: StateChange) => seen.push(c));
      fleet.lease(a!, 1).finish('unreachable', 'connection refused');
      assert.deepEqual(fleet.routable(), []);
      assert.deepEqual(seen, [{ id: a!.id, url: a!.url, from: 'ready', to: 'not_ready', reason: 'connection refused' }]);
    } finally {
      fleet.close();
    }
  });

  it('a lease held across the breaker opening does not decide its half-open trial', async () => {
    let clock = 0;
    const fleet = new WorkerFleet({ ...OPTS, now: () => clock });
    try {
      const [a] = await fleet.add('grpc://127.0.0.1:1');
      a!.server.health.probeSucceeded();
      const long = Array.from({ length: 2 }, () => fleet.lease(a!, 1));
      for (let i = 0; i < 3; i++) fleet.lease(a!, 1).finish('failure');
      clock = 1_000;
      assert.deepEqual(fleet.routable(), [a], 'half-open admits a trial');
      const trial = fleet.lease(a!, 1);
      for (const l of long) l.finish('ok');
      assert.equal(a!.breaker.state(clock), 'half_open');
      assert.deepEqual(fleet.routable(), [], 'the trial still holds the slot');
      trial.finish('ok');
      fleet.lease(a!, 1).finish('ok');
      assert.equal(a!.breaker.state(clock), 'closed');
    } finally {
      fleet.close();
    }
  });

  it('a request ending on a removed worker emits no health or breaker change', async () => {
    const fleet = new WorkerFleet(OPTS);
    try {
      const [a] = await fleet.add('grpc://127.0.0.1:1');
      a!.server.health.probeSucceeded();
      const leases = Array.from({ length: 4 }, () => fleet.lease(a!, 1));
      fleet.remove(a!.id);
      const seen: string[] = [];
      fleet.on('state', () => seen.push('state'));
      fleet.on('breaker', () => seen.push('breaker'));
      leases[0]!.finish('unreachable', 'connection reset');
      for (const l of leases.slice(1)) l.finish('failure');
      assert.deepEqual(seen, []);
      assert.equal(a!.inFlight, 0);
    } finally {
      fleet.close();
    }
  });

  it('refuses a URL twice and removes a worker with its entries', async () => {
    const fleet = new WorkerFleet(OPTS);
    try {
      await fleet.add('grpc://127.0.0.1:1');
      await assert.rejects(fleet.add('grpc://127.0.0.1:1'), (e: unknown) => e instanceof ApiError && e.status === 409);
      assert.equal(fleet.remove('grpc://127.0.0.1:1').length, 1);
      assert.equal(fleet.list().length, 0);
      assert.equal(fleet.get('grpc://127.0.0.1:1'), undefined);
    } finally {
      fleet.close();
    }
  });
});

describe('registry against simulated workers', () => {
  let sim: SimWorker;
  before(async () => {
    const tokenizer = await bundledTokenizer('qwen3');
    sim = await startSimWorker({ tokenizer, eosTokenIds: [151645], dpSize: 3, kvCapacityTokens: 4096, apiKey: 'sekret' });
  });
  after(() => sim.close());

  it('splits a DP server into one entry per rank once GetServerInfo gave dp_size, and reads per-rank loads', async () => {
    const fleet = new WorkerFleet({ ...OPTS, dpAware: true });
    try {
      const added = fleet.add(sim.url, { apiKey: 'sekret' });
      assert.equal(fleet.list().length, 0, 'ranks are unknown before the first probe');
      fleet.start();
      const entries = await added;
      assert.deepEqual(entries.map((e) => [e.id, e.rank]), [0, 1, 2].map((r) => [`${sim.url}@${r}`, r]));
      await fleet.whenRoutable(3, 2_000);
      await fleet.refreshLoads();
      for (const e of entries) assert.equal(e.load?.kvCapacityTokens, 4096);
      const view = fleet.describe()[1]!;
      assert.equal(view.dp_rank, 1);
      assert.equal(view.dp_size, 3);
      assert.equal(view.has_api_key, true);
      assert.ok(!JSON.stringify(fleet.describe()).includes('sekret'), 'the key is never shown');
      const c = fleet.candidates(entries)[0]!;
      assert.equal(c.load?.runningRequests, 0);
    } finally {
      fleet.close();
    }
  });

  it('a worker that rejects the key never becomes routable', async () => {
    const fleet = new WorkerFleet(OPTS);
    try {
      const [e] = await fleet.add(sim.url, { apiKey: 'wrong' });
      await fleet.probeAll();
      assert.equal(e!.state, 'pending');
      assert.deepEqual(fleet.routable(), []);
    } finally {
      fleet.close();
    }
  });
});
