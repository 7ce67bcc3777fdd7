import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AffinityBoundRouter } from '../../bench/cachesim/affinity-bound.js';
import { buildTrace } from '../../bench/cachesim/run.js';
import { cacheSimSettings } from '../../bench/cachesim/settings.js';
import { ReferenceCacheAware } from '../../bench/cachesim/reference-cache-aware.js';
import { PolicyRouter, simulate, workerId, type FleetSpec, type SimRouter } from '../../bench/cachesim/simulate.js';
import type { SimRequest } from '../../bench/cachesim/traces.js';
import { SimWorker, type Job } from '../../bench/cachesim/worker.js';
import { mulberry32 } from '../../bench/rng.js';
import { DEFAULT_POLICY_OPTIONS } from '../../src/routing/types.js';
import { hashPrompt } from '../../src/sim/kv-cache.js';

const BLOCK = 16;

/**
 * A request of `prompt` tokens answering `output` tokens. Prompts with the same `first` share their
 * leading tokens; answers never match a prompt.
 */
function req(at: number, first: number, prompt: number, output = 1): SimRequest {
  const seq = new Uint32Array(prompt + output);
  for (let i = 0; i < seq.length; i++) seq[i] = first * 1000 + i + (i < prompt ? 0 : 500);
  return { at, tokens: seq.subarray(0, prompt), keys: hashPrompt(seq, BLOCK).keys, promptBlocks: Math.floor(prompt / BLOCK), outputTokens: output, group: first };
}

function fleet(workers: number, kvCapacityTokens: number, prefillTokensPerSec = 1000): FleetSpec {
  return { workers, blockSize: BLOCK, prefillTokensPerSec, decodeBaseMs: 10, decodePerReqMs: 0, maxRunning: 8, kvCapacityTokens, snapshotIntervalMs: 1000 };
}

const toWorker0 = (): SimRouter => ({ route: () => 0, finished: () => {}, snapshot: () => {} });

function run(requests: SimRequest[], spec: FleetSpec) {
  return simulate({ name: 'shared_prefix', requests, uniquePromptTokens: 0 }, spec, toWorker0);
}

describe('cache-hit simulator', () => {
  it('evicts the least recently used finished sequence once the cache is at capacity', () => {
    const hits: number[] = [];
    const w = new SimWorker(0, fleet(1, 4 * BLOCK), { firstToken: (j: Job) => void hits.push(j.cachedTokens), finished: () => {} });
    const serve = (r: SimRequest) => {
      w.enqueue(r);
      for (let end = w.startStep(0); end >= 0; end = w.startStep(end)) w.finishStep(end);
    };
    // Each sequence is 2 blocks (31 prompt tokens + 1 answer token), so the 4-block cache holds two.
    for (const first of [1, 2, 3, 2, 1]) serve(req(0, first, 31));
    // 1, 2: cold; 3 evicts 1 (least recently used); 2 is still cached; 1 was evicted.
    assert.deepEqual(hits, [0, 0, 0, BLOCK, 0]);
    assert.equal(w.cache.blocks, 4);
  });

  it('the no-unique-tails engine frees a finished sequence\'s blocks that no other request contains', () => {
    // 32 prompt tokens + 16 answer tokens: three blocks, of which only the first is shared with another request.
    const a = req(0, 1, 32, 16);
    const served = (reused: Set<number> | null) => {
      const w = new SimWorker(0, fleet(1, 4096), { firstToken: () => {}, finished: () => {} }, reused);
      w.enqueue(a);
      for (let end = w.startStep(0); end >= 0; end = w.startStep(end)) w.finishStep(end);
      return w.cache;
    };
    assert.equal(served(null).blocks, 3);
    const noTails = served(new Set([a.keys[0]!]));
    assert.equal(noTails.blocks, 1);
    assert.equal(noTails.match(a.keys, 3), 1);
  });

  it('TTFT is the queue wait plus the uncached prompt tokens at the prefill rate', () => {
    // 1000 tok/s: 1 ms per token. B queues behind A's prefill; C reuses A's 160-token prefix.
    const a = req(0, 1, 160, 50);
    const b = req(0, 2, 320, 50);
    const c = req(1000, 1, 200, 1);
    const r = run([a, b, c], fleet(1, 4096));
    assert.equal(r.ttftMs[0], 160);
    assert.equal(r.ttftMs[1], 160 + 320);
    assert.equal(r.ttftMs[2], 200 - 160);
    assert.equal(r.cachedTokens, 160);
  });

  it('a request waits while running sequences pin the whole cache', () => {
    // Each sequence pins 3 blocks of a 4-block cache, so B starts only when A has decoded its 16 tokens.
    const r = run([req(0, 1, 32, 16), req(0, 2, 32, 16)], fleet(1, 4 * BLOCK));
    assert.equal(r.ttftMs[0], 32);
    assert.equal(r.ttftMs[1], 32 + 15 * 10 + 32);
  });

  it('the same seed gives the same trace and the same results', () => {
    const s = cacheSimSettings(true);
    s.multiTurn.spanMs = 5000;
    const once = () => {
      const trace = buildTrace('multi_turn', 0.7, s);
      const result = simulate(trace, s.fleet, (_, now) => {
        const policy = new ReferenceCacheAware({ ...DEFAULT_POLICY_OPTIONS, random: mulberry32(7), now });
        return new PolicyRouter(policy, s.fleet);
      });
      return { trace, result };
    };
    const x = once();
    const y = once();
    assert.ok(x.trace.requests.length > 20);
    assert.deepEqual(x.trace.requests, y.trace.requests);
    assert.deepEqual(x.result, y.result);
    s.seed++;
    assert.notDeepEqual(buildTrace('multi_turn', 0.7, s).requests[0]!.tokens, x.trace.requests[0]!.tokens);
  });
});

describe('cache-hit traces', () => {
  const groupOf = (r: SimRequest) => r.tokens.subarray(0, 16).join();

  it('shared_prefix_burst sends each group as one burst at the same overall rate as shared_prefix', () => {
    const s = cacheSimSettings(true);
    const shuffled = buildTrace('shared_prefix', 0.7, s).requests;
    const burst = buildTrace('shared_prefix_burst', 0.7, s).requests;
    assert.equal(burst.length, shuffled.length);
    // Consecutive arrivals change group about once per burst (bursts may overlap), against almost every time when shuffled.
    const switches = (reqs: SimRequest[]) => reqs.filter((r, i) => i > 0 && groupOf(r) !== groupOf(reqs[i - 1]!)).length;
    assert.ok(switches(burst) < s.sharedPrefix.groups * 3, `burst switches ${switches(burst)}`);
    assert.ok(switches(shuffled) > shuffled.length * 0.8, `shuffled switches ${switches(shuffled)}`);
    const span = (reqs: SimRequest[]) => reqs.at(-1)!.at;
    assert.ok(Math.abs(span(burst) / span(shuffled) - 1) < 0.35, `spans ${span(burst)} vs ${span(shuffled)}`);
  });
});

describe('affinity upper bound', () => {
  it('sends every group to one worker and spreads the groups by prompt tokens', () => {
    const requests = [req(0, 1, 320), req(1, 2, 160), req(2, 3, 160), req(3, 1, 320), req(4, 4, 32)];
    const router = new AffinityBoundRouter(requests, 2);
    const workers = requests.map((r) => router.route(r));
    // Group 1 (640 tokens) fills one worker; groups 2, 3 and 4 (352 tokens) share the other.
    assert.equal(workers[0], workers[3]);
    assert.deepEqual(new Set([workers[1], workers[2], workers[4]]), new Set([1 - workers[0]!]));
  });
});

describe('reference cache_aware port', () => {
  const candidates = (inFlight: number[]) => inFlight.map((n, i) => ({ id: workerId(i), inFlight: n, inFlightTokens: 0 }));
  const prompt = (first: number, n: number) => Uint32Array.from({ length: n }, (_, i) => first * 1000 + i);
  const policy = () => new ReferenceCacheAware({ ...DEFAULT_POLICY_OPTIONS, random: mulberry32(1), now: () => 0 });

  it('follows the matched tenant regardless of its load while the fleet is balanced', () => {
    const p = policy();
    assert.equal(p.select(candidates([0, 0]), { tokens: prompt(1, 64) }).id, workerId(0));
    const d = p.select(candidates([60, 0]), { tokens: prompt(1, 80) });
    assert.deepEqual(d, { id: workerId(0), predictedCachedTokens: 64 });
  });

  it('goes to the least loaded worker once in-flight counts differ by more than both thresholds', () => {
    const p = policy();
    p.select(candidates([0, 0]), { tokens: prompt(1, 64) });
    assert.equal(p.select(candidates([100, 30]), { tokens: prompt(1, 64) }).id, workerId(1));
  });

  it('its periodic sweep trims a tenant to max_tree_size, least recently used leaves first', () => {
    let now = 0;
    const p = new ReferenceCacheAware({ ...DEFAULT_POLICY_OPTIONS, maxTreeSize: 64, random: mulberry32(1), now: () => now });
    p.select(candidates([0]), { tokens: prompt(1, 64) });
    p.select(candidates([0]), { tokens: prompt(2, 64) });
    assert.equal(p.tree.size(workerId(0)), 128);
    now = DEFAULT_POLICY_OPTIONS.evictionIntervalSecs * 1000;
    // The sweep runs before this select's own 16-token insert.
    p.select(candidates([0]), { tokens: prompt(3, 16) });
    assert.equal(p.tree.size(workerId(0)), 64 + 16);
    assert.equal(p.tree.match(hashPrompt(prompt(1, 64), BLOCK).keys).pages, 0);
    assert.equal(p.tree.match(hashPrompt(prompt(2, 64), BLOCK).keys).pages, 4);
  });
});
