import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startSimWorker } from '../../src/sim/server.js';
import { loadModelAssets } from '../../src/tokenizer/assets.js';
import { bundledTokenizerDir } from '../../src/tokenizer/bundled.js';
import { bundledTokenizer, MODEL, startHarness, type Harness, type HarnessOptions } from '../helpers/harness.js';
import { armFailNext, planMix, recordOutcomes, runOne, settled, summary, type RequestPlan } from '../helpers/soak.js';

/** Streams long enough to be cut mid-way: a few ms per decode step. */
const SIM = { latency: { prefillTokensPerSec: 0, decodeBaseMs: 3, decodePerReqMs: 0 } };
/** Short backoffs and breaker timeouts keep the run brief; the retry and breaker paths still run. */
const FAST_RECOVERY = ['--retry-initial-backoff-ms', '20', '--retry-max-backoff-ms', '80', '--cb-timeout-duration-secs', '0.3'];

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);
before(() => process.on('unhandledRejection', onUnhandled));
after(() => process.off('unhandledRejection', onUnhandled));

/** Closes worker `index` and starts a new one on its port (same model and options) `downMs` later. */
async function killAndRestart(h: Harness, index: number, downMs: number, bundled: 'qwen3' | 'llama3_1' = 'qwen3', name = MODEL): Promise<void> {
  const victim = h.workers[index]!;
  const port = victim.port;
  await victim.close();
  await new Promise((r) => setTimeout(r, downMs));
  const dir = bundledTokenizerDir(bundled);
  h.workers[index] = await startSimWorker({
    tokenizer: await bundledTokenizer(bundled),
    tokenizerPath: dir,
    servedModelName: name,
    eosTokenIds: (await loadModelAssets(dir)).eosTokenIds,
    port,
    ...SIM,
  });
}

interface SoakRun {
  harness: HarnessOptions;
  seed: number;
  requests: number;
  models?: readonly string[];
  pd?: boolean;
  /** Kill this worker mid-run and bring it back. */
  kill?: number;
}

/** Runs the mix and checks every outcome and, once settled, every invariant. */
async function soak(run: SoakRun): Promise<void> {
  const h = await startHarness({ ...run.harness, sim: { ...SIM, ...run.harness.sim } });
  try {
    const outcomes = recordOutcomes(h);
    const plans: RequestPlan[] = planMix({ seed: run.seed, requests: run.requests, models: run.models ?? [MODEL], pd: run.pd, spreadMs: 1_200 });
    armFailNext(h, plans, run.seed + 1);
    const killed = run.kill === undefined ? Promise.resolve() : new Promise((r) => setTimeout(r, 400)).then(() => killAndRestart(h, run.kill!, 300));
    const results = await Promise.all(plans.map((p) => runOne(h, h.client, p)));
    await killed;
    const { counts, broken } = summary(plans, results);
    assert.deepEqual(broken, [], `requests without a well-formed outcome (outcomes: ${JSON.stringify(counts)})`);
    const left = await settled(h, outcomes);
    assert.deepEqual(left, [], `invariants after the run (outcomes: ${JSON.stringify(counts)})`);
    assert.deepEqual(unhandled, [], 'no unhandled rejections');
    assert.ok((counts['ok'] ?? 0) > run.requests / 4, `a good share of requests is served: ${JSON.stringify(counts)}`);
  } finally {
    await h.close();
  }
}

describe('soak: nothing leaks, nothing is lost', () => {
  it('three regular workers with cache_aware, one killed and restarted mid-run', () =>
    soak({ harness: { workers: 3, routerArgs: ['--policy', 'cache_aware', ...FAST_RECOVERY] }, seed: 11, requests: 90, kill: 1 }));

  it('prefill/decode pairs (2 prefill + 2 decode)', () =>
    soak({ harness: { pd: { prefill: 2, decode: 2 }, routerArgs: FAST_RECOVERY }, seed: 23, requests: 80, pd: true }));

  it('admission control with a small slot count and a queue', () =>
    soak({
      harness: { workers: 2, routerArgs: ['--max-concurrent-requests', '4', '--queue-size', '12', '--queue-timeout-secs', '1', ...FAST_RECOVERY] },
      seed: 37,
      requests: 80,
    }));

  it('two models, each on its own workers', () =>
    soak({
      harness: { models: [{ name: 'soak-qwen', bundled: 'qwen3', workers: 2 }, { name: 'soak-llama', bundled: 'llama3_1', workers: 2 }], routerArgs: FAST_RECOVERY },
      seed: 53,
      requests: 80,
      models: ['soak-qwen', 'soak-llama'],
    }));
});
