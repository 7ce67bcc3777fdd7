import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mulberry32 } from '../../bench/rng.js';
import { createPolicy, POLICY_NAMES, selectPair, type RoutingCandidate } from '../../src/routing/index.js';
import { CandidateSlots } from '../../src/routing/candidate-index.js';
import { candidate, fleet, randomTokens } from '../helpers/routing.js';

const tokens = [1, 2, 3];
const keyOf = (i: number) => `session-${i}`;

function routeKeys(policy: ReturnType<typeof createPolicy>, workers: RoutingCandidate[], n: number): string[] {
  return Array.from({ length: n }, (_, i) => policy.select(workers, { tokens, key: keyOf(i) }).id);
}

describe('consistent_hash policy', () => {
  it('sends the same key to the same worker', () => {
    const policy = createPolicy('consistent_hash');
    const workers = fleet(10);
    assert.deepEqual(routeKeys(policy, workers, 200), routeKeys(policy, workers, 200));
  });

  it('moves about 1/n of the keys, all to the new worker, when a worker joins', () => {
    const policy = createPolicy('consistent_hash');
    const before = routeKeys(policy, fleet(10), 10_000);
    const after = routeKeys(policy, fleet(11), 10_000);
    let moved = 0;
    for (let i = 0; i < before.length; i++) {
      if (before[i] === after[i]) continue;
      moved++;
      assert.equal(after[i], 'w10');
    }
    const share = moved / before.length;
    assert.ok(share > 0.06 && share < 0.12, `moved ${share}`);
  });

  it('spreads keys roughly evenly over the ring', () => {
    const counts = new Map<string, number>();
    for (const id of routeKeys(createPolicy('consistent_hash'), fleet(8), 16_000)) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (const [id, n] of counts) assert.ok(n > 1400 && n < 2600, `${id}: ${n}`);
  });

  it('walks past a worker that is not a candidate and returns when it is back', () => {
    const policy = createPolicy('consistent_hash');
    const all = fleet(5);
    const base = routeKeys(policy, all, 500);
    const without = routeKeys(policy, all.filter((w) => w.id !== 'w2'), 500);
    for (let i = 0; i < base.length; i++) {
      if (base[i] === 'w2') assert.notEqual(without[i], 'w2');
      else assert.equal(without[i], base[i], 'keys of other workers stay put');
    }
    assert.deepEqual(routeKeys(policy, all, 500), base);
  });

  it('re-spreads a removed worker’s keys', () => {
    const policy = createPolicy('consistent_hash');
    const all = fleet(4);
    routeKeys(policy, all, 100);
    policy.removeWorker('w1');
    assert.ok(!routeKeys(policy, all.filter((w) => w.id !== 'w1'), 400).includes('w1'));
  });

  it('routes a request without a key to the least in-flight worker', () => {
    const policy = createPolicy('consistent_hash', { random: mulberry32(1) });
    const d = policy.select([candidate('a', 3), candidate('b', 1), candidate('c', 2)], { tokens });
    assert.deepEqual(d, { id: 'b', predictedCachedTokens: 0 });
  });
});

describe('cache-blind policies', () => {
  it('round_robin cycles through the candidates', () => {
    const policy = createPolicy('round_robin');
    const ids = Array.from({ length: 6 }, () => policy.select(fleet(3), { tokens }).id);
    assert.deepEqual(ids, ['w0', 'w1', 'w2', 'w0', 'w1', 'w2']);
  });

  it('random picks the candidate the injected RNG points at', () => {
    const draws = [0.1, 0.6, 0.99];
    const policy = createPolicy('random', { random: () => draws.shift()! });
    assert.deepEqual(
      [0, 1, 2].map(() => policy.select(fleet(4), { tokens }).id),
      ['w0', 'w2', 'w3'],
    );
  });

  it('least_request takes the fewest in-flight requests, then the fewest in-flight tokens', () => {
    const policy = createPolicy('least_request', { random: mulberry32(1) });
    assert.equal(policy.select([candidate('a', 2), candidate('b', 1, 900), candidate('c', 1, 100)], { tokens }).id, 'c');
  });

  it('least_request breaks ties with the RNG', () => {
    const policy = createPolicy('least_request', { random: mulberry32(5) });
    const seen = new Set(Array.from({ length: 40 }, () => policy.select(fleet(3), { tokens }).id));
    assert.equal(seen.size, 3);
  });

  it('power_of_two compares two distinct samples by KV usage when both report it', () => {
    // Draws pick index 0 then offset 0 → candidates 0 and 1.
    const policy = createPolicy('power_of_two', { random: () => 0 });
    const workers = [
      candidate('busy', 0, 0, { kvUsedTokens: 800, kvCapacityTokens: 1000 }),
      candidate('light', 5, 0, { kvUsedTokens: 100, kvCapacityTokens: 1000 }),
      candidate('never-sampled'),
    ];
    assert.equal(policy.select(workers, { tokens }).id, 'light');
  });

  it('power_of_two counts tokens dispatched since the snapshot as KV in use', () => {
    const policy = createPolicy('power_of_two', { random: () => 0 });
    const workers = [
      candidate('stale-idle', 0, 700, { kvUsedTokens: 100, kvCapacityTokens: 1000 }),
      candidate('steady', 0, 0, { kvUsedTokens: 500, kvCapacityTokens: 1000 }),
    ];
    assert.equal(policy.select(workers, { tokens }).id, 'steady');
  });

  it('power_of_two falls back to in-flight counts without snapshots', () => {
    const policy = createPolicy('power_of_two', { random: () => 0 });
    assert.equal(policy.select([candidate('a', 4), candidate('b', 2)], { tokens }).id, 'b');
  });

  it('power_of_two never samples the same worker twice', () => {
    const policy = createPolicy('power_of_two', { random: mulberry32(3) });
    // If both samples were the loaded worker it would be chosen; it never is while an idle one exists.
    for (let i = 0; i < 100; i++) assert.equal(policy.select([candidate('loaded', 9), candidate('idle')], { tokens }).id, 'idle');
  });

  it('every policy answers with a candidate from any non-empty list', () => {
    for (const name of POLICY_NAMES) {
      const policy = createPolicy(name, { random: mulberry32(2) });
      for (let n = 1; n <= 5; n++) {
        const workers = fleet(n);
        const d = policy.select(workers, { tokens: randomTokens(40, mulberry32(n)), key: 'k' });
        assert.ok(workers.some((w) => w.id === d.id), `${name} with ${n}`);
      }
    }
  });
});

describe('selectPair', () => {
  const roomy = (id: string, inFlight: number) => candidate(id, inFlight, 0, { kvUsedTokens: 0, kvCapacityTokens: 100_000 });

  it('chooses prefill by prefix overlap and decode by load', () => {
    const prefillPolicy = createPolicy('cache_aware', { random: mulberry32(1) });
    const decodePolicy = createPolicy('least_request', { random: mulberry32(1) });
    const prompt = randomTokens(2048, mulberry32(4));
    prefillPolicy.select([candidate('p1')], { tokens: prompt });
    const pair = selectPair(prefillPolicy, decodePolicy, [candidate('p0'), candidate('p1', 1)], [roomy('d0', 3), roomy('d1', 1)], { tokens: prompt });
    assert.equal(pair.prefill.id, 'p1');
    assert.equal(pair.prefill.predictedCachedTokens, 2048);
    assert.equal(pair.decode.id, 'd1');
  });

  it('skips decode workers without KV room for the prompt plus max new tokens', () => {
    const policy = () => createPolicy('least_request', { random: mulberry32(1) });
    const decode = [candidate('tight', 0, 0, { kvUsedTokens: 96_000, kvCapacityTokens: 100_000 }), roomy('busy', 6)];
    const input = { tokens: randomTokens(2000, mulberry32(2)), maxNewTokens: 4000 };
    assert.equal(selectPair(policy(), policy(), [candidate('p')], decode, input).decode.id, 'busy');
    assert.equal(selectPair(policy(), policy(), [candidate('p')], decode, { ...input, maxNewTokens: 1000 }).decode.id, 'tight');
  });

  it('falls back to the decode worker with the most headroom when none has room', () => {
    const policy = () => createPolicy('least_request', { random: mulberry32(1) });
    const decode = [
      candidate('fuller', 0, 0, { kvUsedTokens: 99_000, kvCapacityTokens: 100_000 }),
      candidate('emptier', 9, 0, { kvUsedTokens: 97_000, kvCapacityTokens: 100_000 }),
    ];
    assert.equal(selectPair(policy(), policy(), [candidate('p')], decode, { tokens: randomTokens(5000, mulberry32(2)) }).decode.id, 'emptier');
  });
});

describe('CandidateSlots', () => {
  it('maps candidates to slots and back, and follows a changed fleet whether objects or ids change', () => {
    const resolved: string[] = [];
    const slots = new CandidateSlots((id) => {
      resolved.push(id);
      return id.charCodeAt(0) - 97;
    });
    const a = candidate('a');
    const c = candidate('c');
    assert.deepEqual([...slots.of([a, c]).subarray(0, 2)], [0, 2]);
    assert.equal(slots.positionOf(2), 1);
    assert.equal(slots.positionOf(1), -1, 'b is not a candidate');
    slots.of([candidate('a'), candidate('c')]);
    assert.deepEqual(resolved, ['a', 'c'], 'new objects with the same ids reuse the mapping');
    slots.of([c, candidate('b')]);
    assert.deepEqual([slots.positionOf(0), slots.positionOf(1), slots.positionOf(2)], [-1, 1, 0]);
    slots.invalidate();
    slots.of([c, candidate('b')]);
    assert.deepEqual(resolved, ['a', 'c', 'c', 'b', 'c', 'b']);
  });
});
