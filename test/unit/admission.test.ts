import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdmissionGate, type AdmissionOptions, type Refusal } from '../../src/server/admission.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function gate(opts: Partial<AdmissionOptions> = {}) {
  return new AdmissionGate({ maxConcurrent: 1, queueSize: 2, queueTimeoutMs: 10_000, refillPerSecond: 0, ...opts });
}

/** Enters the gate and records what happened to this request. */
function enter(g: AdmissionGate, log: string[], name: string) {
  const r = g.enter(
    () => log.push(`${name}:granted`),
    (why: Refusal) => log.push(`${name}:${why}`),
  );
  if (r === true) log.push(`${name}:now`);
  return r;
}

describe('admission gate', () => {
  it('admits up to capacity at once, then queues, then refuses a full queue immediately', () => {
    const g = gate({ maxConcurrent: 2, queueSize: 1 });
    const log: string[] = [];
    enter(g, log, 'a');
    enter(g, log, 'b');
    enter(g, log, 'c');
    enter(g, log, 'd');
    assert.deepEqual(log, ['a:now', 'b:now', 'd:queue_full']);
    assert.equal(g.inFlight, 2);
    assert.equal(g.queued, 1);
    g.close();
  });

  it('grants queued requests in arrival order as slots come back', () => {
    const g = gate();
    const log: string[] = [];
    enter(g, log, 'a');
    enter(g, log, 'b');
    enter(g, log, 'c');
    g.leave();
    assert.deepEqual(log, ['a:now', 'b:granted']);
    g.leave();
    assert.deepEqual(log, ['a:now', 'b:granted', 'c:granted']);
    g.leave();
    assert.equal(g.inFlight, 0);
    assert.equal(g.queued, 0);
    // Capacity is back: the next request runs at once.
    enter(g, log, 'd');
    assert.equal(log.at(-1), 'd:now');
    g.close();
  });

  it('refuses a request that waited longer than the queue timeout, and frees its queue place', async () => {
    const g = gate({ queueTimeoutMs: 30 });
    const log: string[] = [];
    enter(g, log, 'a');
    enter(g, log, 'b');
    await sleep(60);
    assert.deepEqual(log, ['a:now', 'b:queue_timeout']);
    assert.equal(g.queued, 0);
    g.leave();
    assert.equal(g.inFlight, 0);
    g.close();
  });

  it('forgets a withdrawn request: it is neither granted nor timed out, and leaks no slot', async () => {
    const g = gate({ queueTimeoutMs: 30 });
    const log: string[] = [];
    enter(g, log, 'a');
    const b = enter(g, log, 'b');
    assert.notEqual(b, true);
    if (b !== true) b.withdraw();
    assert.equal(g.queued, 0);
    g.leave();
    await sleep(60);
    assert.deepEqual(log, ['a:now']);
    assert.equal(g.inFlight, 0);
    enter(g, log, 'c');
    assert.equal(log.at(-1), 'c:now');
    g.close();
  });

  it('never lets a newcomer overtake a waiter', () => {
    const g = gate({ maxConcurrent: 1, queueSize: 5 });
    const log: string[] = [];
    enter(g, log, 'a');
    enter(g, log, 'b');
    g.leave();
    enter(g, log, 'c');
    assert.deepEqual(log, ['a:now', 'b:granted']);
    assert.equal(g.queued, 1);
    g.close();
  });

  it('with a refill rate, admits waiters as tokens trickle in while earlier requests still run', async () => {
    const g = gate({ refillPerSecond: 50, queueSize: 5 });
    const log: string[] = [];
    enter(g, log, 'a');
    enter(g, log, 'b');
    assert.deepEqual(log, ['a:now']);
    await sleep(80);
    assert.deepEqual(log, ['a:now', 'b:granted']);
    assert.equal(g.inFlight, 2);
    g.close();
  });

  it('with a queue size of 0, refuses at once whenever the bucket is empty', () => {
    const g = gate({ queueSize: 0 });
    const log: string[] = [];
    enter(g, log, 'a');
    enter(g, log, 'b');
    assert.deepEqual(log, ['a:now', 'b:queue_full']);
    g.close();
  });
});
