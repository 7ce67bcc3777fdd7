import type { CacheSimSettings } from './run.js';

/**
 * The simulated fleet follows the reference's realistic mock engine (routing.md §4.2: prefill 8 000
 * tok/s, decode 6 ms + 0.35 ms × batch, 256 running, 16-token blocks) with a KV pool scaled down so
 * that a few thousand requests put it under pressure. `quick` shortens the traces only.
 */
export function cacheSimSettings(quick: boolean): CacheSimSettings {
  const sharedPrefix = { groups: quick ? 48 : 192, perGroup: 16, prefixTokens: 2048, questionTokens: 128, outputTokens: 256 };
  return {
    seed: 20261130,
    loads: [0.5, 0.7, 0.9],
    fleet: {
      workers: 8,
      blockSize: 16,
      prefillTokensPerSec: 8000,
      decodeBaseMs: 6,
      decodePerReqMs: 0.35,
      maxRunning: 256,
      kvCapacityTokens: 65_536,
      snapshotIntervalMs: 1000,
    },
    nominalDecodeBatch: 32,
    multiTurn: {
      spanMs: quick ? 30_000 : 120_000,
      turns: 6,
      systemTokens: 1000,
      historyTokens: 2000,
      question: [100, 300],
      answer: [50, 150],
      thinkMinMs: 2000,
      thinkMeanMs: 8000,
    },
    sharedPrefix,
    // routing.md §6.2's agentic shape: parallel sub-agents sharing their parent's prefix arrive at once.
    sharedPrefixBurst: { ...sharedPrefix, burstGapMs: 20 },
  };
}
