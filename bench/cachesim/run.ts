/**
 * The cache-hit simulation scenario of `npm run bench` (`--only cachesim`): every trace × load ×
 * policy through the discrete-event simulator, summarised as hit rate, TTFT percentiles and load
 * imbalance.
 */
import { createPolicy } from '../../src/routing/index.js';
import { DEFAULT_POLICY_OPTIONS } from '../../src/routing/types.js';
import { mulberry32 } from '../rng.js';
import { summarize } from '../stats.js';
import { AffinityBoundRouter } from './affinity-bound.js';
import { OracleRouter } from './oracle.js';
import { ReferenceCacheAware } from './reference-cache-aware.js';
import { PolicyRouter, simulate, type EngineCache, type FleetSpec, type SimRouter } from './simulate.js';
import { multiTurnTrace, sharedPrefixTrace, type ColdCost, type MultiTurnShape, type SharedPrefixShape, type Trace, type TraceName } from './traces.js';
import type { SimWorker } from './worker.js';

/**
 * The rows of the simulation. `affinity_bound` is a clairvoyant static partition of the groups
 * (affinity-bound.ts); `affinity_bound_no_tails` runs it on the diagnostic engines that keep no unique
 * tails of finished sequences (worker.ts) — neither is a router one could deploy.
 */
export const SIM_POLICIES = [
  'round_robin',
  'power_of_two',
  'reference_cache_aware',
  'cache_aware',
  'oracle',
  'affinity_bound',
  'affinity_bound_no_tails',
] as const;
export type SimPolicy = (typeof SIM_POLICIES)[number];
export const SIM_TRACES = ['multi_turn', 'shared_prefix', 'shared_prefix_burst'] as const satisfies readonly TraceName[];

export interface CacheSimSettings {
  seed: number;
  /** Offered work as fractions of fleet capacity. */
  loads: number[];
  fleet: FleetSpec;
  /** Batch size at which a decoded token's cost is charged when sizing the offered load. */
  nominalDecodeBatch: number;
  multiTurn: MultiTurnShape;
  sharedPrefix: SharedPrefixShape;
  /** The shared-prefix shape again, arriving in bursts per group (`burstGapMs`). */
  sharedPrefixBurst: SharedPrefixShape;
}

export interface CacheSimRow {
  trace: TraceName;
  load: number;
  policy: SimPolicy;
  requests: number;
  hitRate: number;
  ttftP50: number;
  ttftP99: number;
  /** Max / mean of per-worker busy time. */
  imbalance: number;
  /** Virtual seconds until the last request finished. */
  makespanSec: number;
}

export interface CacheSimTraceInfo {
  trace: TraceName;
  load: number;
  requests: number;
  meanPromptTokens: number;
  /** Distinct prompt tokens / fleet KV capacity. */
  prefixDemand: number;
  /**
   * The hit rate with only compulsory misses (every distinct prompt token missed once, e.g. the first
   * request of every shared-prefix group): the ceiling for any router on any engine.
   */
  compulsoryBound: number;
  spanSec: number;
}

export interface CacheSimResults {
  settings: CacheSimSettings;
  traces: CacheSimTraceInfo[];
  rows: CacheSimRow[];
}

export function coldCost(s: CacheSimSettings): ColdCost {
  const f = s.fleet;
  const decodeMsPerToken = f.decodePerReqMs + f.decodeBaseMs / s.nominalDecodeBatch;
  return (prompt, output) => (prompt * 1000) / f.prefillTokensPerSec + output * decodeMsPerToken;
}

function makeRouter(policy: SimPolicy, trace: Trace, s: CacheSimSettings, seed: number): (workers: readonly SimWorker[], now: () => number) => SimRouter {
  const random = mulberry32(seed);
  return (workers, now) => {
    switch (policy) {
      case 'affinity_bound':
      case 'affinity_bound_no_tails':
        return new AffinityBoundRouter(trace.requests, s.fleet.workers);
      case 'oracle':
        return new OracleRouter(workers);
      case 'reference_cache_aware':
        return new PolicyRouter(new ReferenceCacheAware({ ...DEFAULT_POLICY_OPTIONS, blockSize: s.fleet.blockSize, random, now }), s.fleet);
      default:
        return new PolicyRouter(createPolicy(policy, { blockSize: s.fleet.blockSize, random }), s.fleet);
    }
  };
}

export function buildTrace(name: TraceName, load: number, s: CacheSimSettings): Trace {
  const fleetMsPerMs = s.fleet.workers;
  const cost = coldCost(s);
  if (name === 'multi_turn') return multiTurnTrace(s.multiTurn, s.seed, load, fleetMsPerMs, s.fleet.blockSize, cost);
  const shape = name === 'shared_prefix' ? s.sharedPrefix : s.sharedPrefixBurst;
  return sharedPrefixTrace(shape, s.seed, load, fleetMsPerMs, s.fleet.blockSize, cost);
}

export function runCacheSim(
  s: CacheSimSettings,
  log: (message: string) => void,
  policies: readonly SimPolicy[] = SIM_POLICIES,
  traces: readonly TraceName[] = SIM_TRACES,
): CacheSimResults {
  const results: CacheSimResults = { settings: s, traces: [], rows: [] };
  for (const name of traces) {
    for (const load of s.loads) {
      const trace = buildTrace(name, load, s);
      const reqs = trace.requests;
      const promptTokens = reqs.reduce((n, r) => n + r.tokens.length, 0);
      results.traces.push({
        trace: name,
        load,
        requests: reqs.length,
        meanPromptTokens: promptTokens / reqs.length,
        prefixDemand: trace.uniquePromptTokens / (s.fleet.kvCapacityTokens * s.fleet.workers),
        compulsoryBound: 1 - trace.uniquePromptTokens / promptTokens,
        spanSec: (reqs.at(-1)?.at ?? 0) / 1000,
      });
      for (const policy of policies) {
        const started = performance.now();
        const engine: EngineCache = policy === 'affinity_bound_no_tails' ? 'no_unique_tails' : 'lru';
        const r = simulate(trace, s.fleet, makeRouter(policy, trace, s, s.seed), engine);
        const ttft = summarize(r.ttftMs);
        const meanBusy = r.busyMs.reduce((a, b) => a + b, 0) / r.busyMs.length;
        const row: CacheSimRow = {
          trace: name,
          load,
          policy,
          requests: r.requests,
          hitRate: r.cachedTokens / r.promptTokens,
          ttftP50: ttft.p50,
          ttftP99: ttft.p99,
          imbalance: Math.max(...r.busyMs) / meanBusy,
          makespanSec: r.endMs / 1000,
        };
        results.rows.push(row);
        log(
          `cachesim ${name} @${Math.round(load * 100)}% ${policy}: hit ${(row.hitRate * 100).toFixed(1)}%, TTFT p50 ${row.ttftP50.toFixed(0)} p99 ${row.ttftP99.toFixed(0)} ms, ` +
            `imbalance ${row.imbalance.toFixed(2)} (${((performance.now() - started) / 1000).toFixed(1)} s)`,
        );
      }
    }
  }
  return results;
}
