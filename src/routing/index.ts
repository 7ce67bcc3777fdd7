/** Routing: policies that choose a worker for a prompt, and the PD pair chooser. */
import { CacheAwarePolicy } from './cache-aware.js';
import { ConsistentHashPolicy } from './consistent-hash.js';
import { LeastRequestPolicy, PowerOfTwoPolicy, RandomPolicy, RoundRobinPolicy } from './simple-policies.js';
import { DEFAULT_POLICY_OPTIONS, type PolicyName, type PolicyOptions, type RoutingPolicy } from './types.js';

export * from './types.js';
export { selectPair, type PdPair } from './pd-pair.js';
export { CacheAwarePolicy, KV_PRESSURE_TOKENS, REQUEST_TOKENS, UNCACHED_TOKEN_COST } from './cache-aware.js';
export { ConsistentHashPolicy, VIRTUAL_NODES } from './consistent-hash.js';
export { LeastRequestPolicy, PowerOfTwoPolicy, RandomPolicy, RoundRobinPolicy } from './simple-policies.js';
export { TokenRadixTree } from './radix-tree.js';
export { kvHeadroom, kvUsage } from './load.js';

/** A fresh policy instance (each keeps its own tree, ring or counter: one per model and PD leg). */
export function createPolicy(name: PolicyName, opts: Partial<PolicyOptions> = {}): RoutingPolicy {
  const o: PolicyOptions = { ...DEFAULT_POLICY_OPTIONS };
  for (const [k, v] of Object.entries(opts)) if (v !== undefined) Object.assign(o, { [k]: v });
  const random = o.random ?? Math.random;
  switch (name) {
    case 'random':
      return new RandomPolicy(random);
    case 'round_robin':
      return new RoundRobinPolicy(random);
    case 'least_request':
      return new LeastRequestPolicy(random);
    case 'power_of_two':
      return new PowerOfTwoPolicy(random);
    case 'consistent_hash':
      return new ConsistentHashPolicy(random);
    case 'cache_aware':
      return new CacheAwarePolicy({ ...o, random });
  }
}
