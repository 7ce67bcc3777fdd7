import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mulberry32 } from '../../bench/rng.js';
import { createPolicy, type LoadSnapshot, type RoutingCandidate } from '../../src/routing/index.js';
import { candidate, fleet, randomTokens } from '../helpers/routing.js';

const cacheAware = (seed = 1, extra = {}) => createPolicy('cache_aware', { random: mulberry32(seed), ...extra });

describe('cache_aware policy', () => {
  it('keeps a growing conversation on the worker that holds it', () => {
    const random = mulberry32(3);
    const policy = cacheAware();
    const workers = fleet(8);
    const sessions = Array.from({ length: 6 }, () => randomTokens(800, random));
    const home = new Map<number, string>();
    for (let turn = 0; turn < 6; turn++) {
      for (let s = 0; s < sessions.length; s++) {
        sessions[s] = [...sessions[s]!, ...randomTokens(300, random)];
        const d = policy.select(workers, { tokens: sessions[s]! });
        workers.find((w) => w.id === d.id)!.inFlight++;
        if (turn === 0) home.set(s, d.id);
        else {
          assert.equal(d.id, home.get(s), `session ${s} turn ${turn}`);
          assert.ok(d.predictedCachedTokens >= sessions[s]!.length - 300 - 16, `predicted ${d.predictedCachedTokens}`);
        }
      }
    }
    assert.equal(new Set(home.values()).size, sessions.length, 'first turns spread over the idle fleet');
  });

  it('predicts no cached tokens for a prompt it has never seen', () => {
    const d = cacheAware().select(fleet(3), { tokens: randomTokens(1000, mulberry32(1)) });
    assert.equal(d.predictedCachedTokens, 0);
  });

  it('lets load beat a small overlap but not a large one', () => {
    const random = mulberry32(5);
    const head = randomTokens(1024, random);
    for (const [sharedTokens, expected] of [
      [128, 'idle'],
      [960, 'warm'],
    ] as const) {
      const policy = cacheAware(1, { cacheThreshold: 0 });
      const prompt = [...head.slice(0, sharedTokens), ...randomTokens(1024 - sharedTokens, random)];
      policy.select([candidate('warm')], { tokens: head });
      const workers = [candidate('warm', 4, 400), candidate('idle')];
      assert.equal(policy.select(workers, { tokens: prompt }).id, expected, `${sharedTokens} shared tokens`);
    }
  });

  it('keeps a shared prefix on its holder while the holder is busier by less than twice the prefix', () => {
    const random = mulberry32(11);
    const system = randomTokens(2048, random);
    const policy = cacheAware();
    policy.select([candidate('warm')], { tokens: system });
    // 2 800 queued tokens outweigh the 2 048-token prefill the holder saves, but not that plus the
    // 2 048 cached tokens a duplicate on the idle worker would displace.
    const workers = [candidate('warm', 2, 2800), candidate('cold')];
    const d = policy.select(workers, { tokens: [...system, ...randomTokens(128, random)] });
    assert.deepEqual(d, { id: 'warm', predictedCachedTokens: 2048 });
    const busier = cacheAware();
    busier.select([candidate('warm')], { tokens: system });
    assert.equal(busier.select([candidate('warm', 2, 4500), candidate('cold')], { tokens: [...system, ...randomTokens(128, random)] }).id, 'cold');
  });

  it('sends a shared prefix to the least loaded of the workers that hold it', () => {
    const random = mulberry32(9);
    const policy = cacheAware();
    const system = randomTokens(2048, random);
    for (const id of ['a', 'b', 'c']) policy.select([candidate(id)], { tokens: system });
    const workers = [candidate('a', 3, 900), candidate('b', 1, 200), candidate('c', 2, 600), candidate('cold')];
    const d = policy.select(workers, { tokens: [...system, ...randomTokens(200, random)] });
    assert.equal(d.id, 'b');
    assert.equal(d.predictedCachedTokens, 2048);
  });

  it('gives no credit to an overlap at or below --cache-threshold of the prompt', () => {
    const random = mulberry32(13);
    const head = randomTokens(256, random);
    const policy = cacheAware(1, { cacheThreshold: 0.3 });
    policy.select([candidate('warm')], { tokens: head });
    const prompt = [...head, ...randomTokens(768, random)];
    // 25 % overlap: both compare on load alone, so the one with a single queued token less wins.
    assert.equal(policy.select([candidate('warm', 0, 1), candidate('cold')], { tokens: prompt }).id, 'cold');
  });

  it('withholds the credit from a worker past both balance thresholds', () => {
    const random = mulberry32(17);
    const head = randomTokens(4096, random);
    const prompt = [...head, ...randomTokens(64, random)];
    const run = (hotInFlight: number) => {
      const policy = cacheAware(1, { balanceAbsThreshold: 8, balanceRelThreshold: 1.5 });
      policy.select([candidate('hot')], { tokens: head });
      return policy.select([candidate('hot', hotInFlight), candidate('cool', 1)], { tokens: prompt }).id;
    };
    assert.equal(run(9), 'hot', 'within the absolute threshold');
    assert.equal(run(10), 'cool', '9 more than the least loaded and above 1.5×');
  });

  it('falls back on the in-flight counters when no worker reports load', () => {
    const policy = cacheAware();
    const random = mulberry32(21);
    const workers = [candidate('a', 5, 5000), candidate('b', 2, 2000), candidate('c', 7, 7000)];
    assert.equal(policy.select(workers, { tokens: randomTokens(500, random) }).id, 'b');
  });

  it('avoids a worker whose KV pool is nearly full', () => {
    const policy = cacheAware();
    const workers = [
      candidate('full', 0, 0, { kvUsedTokens: 98_000, kvCapacityTokens: 100_000 }),
      candidate('roomy', 1, 0, { kvUsedTokens: 20_000, kvCapacityTokens: 100_000, runningRequests: 1 }),
    ];
    assert.equal(policy.select(workers, { tokens: randomTokens(500, mulberry32(2)) }).id, 'roomy');
  });

  it('counts queued uncached prefill from the load snapshot', () => {
    const policy = cacheAware();
    const workers = [candidate('queued', 0, 0, { waitingUncachedTokens: 8000 }), candidate('free', 0, 0, { waitingUncachedTokens: 100 })];
    assert.equal(policy.select(workers, { tokens: randomTokens(500, mulberry32(2)) }).id, 'free');
  });

  it('charges requests waiting on a holder by their queued prefill, not again as decode batch', () => {
    // A burst on the holder of a 2 048-token prefix: the cold first prompt and 14 followers of 128
    // uncached tokens each wait there (3 968 tokens). That is still less than the idle worker's
    // 2 × 2 176; the same 15 requests decoding would add 15 × REQUEST_TOKENS and lose it.
    const random = mulberry32(13);
    const prefix = randomTokens(2048, random);
    const burst = (holder: Partial<LoadSnapshot>) => {
      const policy = cacheAware();
      policy.select([candidate('warm')], { tokens: prefix });
      const workers = [candidate('warm', 15, 0, { waitingUncachedTokens: 3968, ...holder }), candidate('cold', 0, 0, {})];
      return policy.select(workers, { tokens: [...prefix, ...randomTokens(128, random)] }).id;
    };
    assert.equal(burst({ waitingRequests: 15 }), 'warm');
    assert.equal(burst({ runningRequests: 15 }), 'cold');
  });

  it('breaks exact ties at random (never a fixed first worker)', () => {
    const policy = cacheAware(4);
    const chosen = new Set<string>();
    const random = mulberry32(8);
    for (let i = 0; i < 40; i++) chosen.add(policy.select(fleet(4), { tokens: randomTokens(8, random) }).id);
    assert.equal(chosen.size, 4);
  });

  it('is deterministic for a given RNG', () => {
    const run = () => {
      const policy = cacheAware(42);
      const random = mulberry32(1);
      return Array.from({ length: 50 }, () => policy.select(fleet(5), { tokens: randomTokens(64, random) }).id).join();
    };
    assert.equal(run(), run());
  });

  it('bounds each worker share by its reported KV capacity', () => {
    const policy = cacheAware();
    policy.setCapacity('a', 1024);
    const random = mulberry32(6);
    const first = randomTokens(1024, random);
    policy.select([candidate('a')], { tokens: first });
    policy.select([candidate('a')], { tokens: randomTokens(1024, random) });
    const workers: RoutingCandidate[] = [candidate('a'), candidate('b')];
    assert.equal(policy.select(workers, { tokens: first }).predictedCachedTokens, 0, 'the first prompt was evicted');
  });

  it('forgets a removed worker and can take it back cold', () => {
    const policy = cacheAware();
    const prompt = randomTokens(1024, mulberry32(6));
    policy.select([candidate('a')], { tokens: prompt });
    policy.removeWorker('a');
    const again = policy.select([candidate('b', 1), candidate('a', 2)], { tokens: prompt });
    assert.deepEqual(again, { id: 'b', predictedCachedTokens: 0 });
    assert.equal(policy.select([candidate('a')], { tokens: prompt }).predictedCachedTokens, 0);
  });
});
