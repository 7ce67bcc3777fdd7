import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startSimWorker, type DisaggregationMode } from '../../src/sim/server.js';
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

/** A worker to kill mid-run and restart on its port: what it serves, in which PD role. */
interface KillSpec {
  index: number;
  bundled?: 'qwen3' | 'llama3_1';
  name?: string;
  mode?: DisaggregationMode;
}

/** Closes the worker and starts a new one on its port (same model and role) `downMs` later. */
async function killAndRestart(h: Harness, kill: KillSpec, downMs: number): Promise<void> {
  const victim = h.workers[kill.index]!;
  const port = victim.port;
  await victim.close();
  await new Promise((r) => setTimeout(r, downMs));
  const bundled = kill.bundled ?? 'qwen3';
  const dir = bundledTokenizerDir(bundled);
  h.workers[kill.index] = await startSimWorker({
    tokenizer: await bundledTokenizer(bundled),
    tokenizerPath: dir,
    servedModelName: kill.name ?? MODEL,
    eosTokenIds: (await loadModelAssets(dir)).eosTokenIds,
    disaggregationMode: kill.mode ?? 'null',
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
  kill?: KillSpec;
}

/** Runs the mix and checks every outcome and, once settled, every invariant. */
async function soak(run: SoakRun): Promise<void> {
  const h = await startHarness({ ...run.harness, sim: { ...SIM, ...run.harness.sim } });
  try {
    const outcomes = recordOutcomes(h);
    const plans: RequestPlan[] = planMix({ seed: run.seed, requests: run.requests, models: run.models ?? [MODEL], pd: run.pd, spreadMs: 1_200 });
    armFailNext(h, plans, run.seed + 1);
    const kill = run.kill;
    const killed = kill === undefined ? Promise.resolve() : new Promise((r) => setTimeout(r, 400)).then(() => killAndRestart(h, kill, 300));
    const results = await Promise.all(plans.map((p) => runOne(h, h.client, p)));
    await killed;
    const { counts, broken } = summary(plans, results);
    assert.deepEqual(broken, [], `requests without a well-formed outcome (outcomes: ${JSON.stringify(counts)})`);
    const left = await settled(h, outcomes);
    assert.deepEqual(left, [], `invariants after the run (outcomes: ${JSON.stringify(counts)})`);
    assert.deepEqual(unhandled, [], 'no unhandled rejections');
    // Breakers open by design under this many hard failures; some answers must still get through.
    assert.ok((counts['ok'] ?? 0) >= 5, `some requests are served: ${JSON.stringify(counts)}`);
  } finally {
    await h.close();
  }
}

describe('soak: nothing leaks, nothing is lost', () => {
  it('three regular workers with cache_aware, one killed and restarted mid-run', () =>
    soak({ harness: { workers: 3, routerArgs: ['--policy', 'cache_aware', ...FAST_RECOVERY] }, seed: 11, requests: 90, kill: { index: 1 } }));

  it('prefill/decode pairs (2 prefill + 2 decode)', () =>
    soak({ harness: { pd: { prefill: 2, decode: 2 }, routerArgs: FAST_RECOVERY }, seed: 23, requests: 80, pd: true, kill: { index: 3, mode: 'decode' } }));

  it('admission control with a small slot count and a queue', () =>
    soak({
      harness: {
        workers: 3,
        routerArgs: ['--max-concurrent-requests', '6', '--queue-size', '16', '--queue-timeout-secs', '0.6', '--request-timeout-secs', '1', ...FAST_RECOVERY],
      },
      seed: 37,
      requests: 80,
    }));

  it('two models, each on its own workers', () =>
    soak({
      harness: { models: [{ name: 'soak-qwen', bundled: 'qwen3', workers: 2 }, { name: 'soak-llama', bundled: 'llama3_1', workers: 2 }], routerArgs: FAST_RECOVERY },
      seed: 53,
      requests: 80,
      models: ['soak-qwen', 'soak-llama'],
      kill: { index: 2, bundled: 'llama3_1', name: 'soak-llama' },
    }));
});
