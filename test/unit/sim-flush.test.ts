import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GenerateRequest, type GenerateResponse } from '../../src/gen/sglang/grpc/scheduler/sglang_scheduler.js';
import { startSimWorker, type SimWorker } from '../../src/sim/server.js';
import { WorkerClient } from '../../src/workers/worker-client.js';
import { bundledTokenizer } from '../helpers/harness.js';

const PROMPT = 'The yard master counted the wagons twice and wrote the total on the board before the night train left for the coast.';

describe('FlushCache on the simulated worker', () => {
  let sim: SimWorker;
  let client: WorkerClient;
  let ids: number[];
  let next = 0;
  before(async () => {
    const tok = await bundledTokenizer('qwen3');
    ids = Array.from(await tok.encode(PROMPT, false));
    sim = await startSimWorker({ tokenizer: tok, eosTokenIds: [151645], latency: { prefillTokensPerSec: 0, decodeBaseMs: 4, decodePerReqMs: 0 } });
    client = new WorkerClient(sim.url);
  });
  after(async () => {
    client.close();
    await sim.close();
  });

  /** Runs one request to its end; resolves with the cached prompt tokens it reported. */
  const generate = (maxNewTokens: number): Promise<number> =>
    new Promise((resolve, reject) => {
      let cached = 0;
      const req = GenerateRequest.fromPartial({
        requestId: `flush-${next++}`,
        tokenized: { originalText: PROMPT, inputIds: ids },
        samplingParams: { temperature: 0, topP: 1, topK: -1, repetitionPenalty: 1, n: 1, maxNewTokens, ignoreEos: true },
      });
      client.generate(req, {
        message: (m: GenerateResponse) => {
          if (m.response?.$case === 'complete') cached = m.response.value.cachedTokens;
        },
        end: (err) => (err ? reject(err) : resolve(cached)),
      });
    });

  it('refuses while a request runs, flushes once idle, and the next identical prompt finds nothing cached', async () => {
    await generate(1);
    assert.ok((await generate(1)) > 0, 'the prompt is cached after one run');

    const running = generate(30);
    while (sim.stats().running === 0) await new Promise((r) => setTimeout(r, 2));
    const refused = await client.flushCache(0);
    assert.equal(refused.success, false);
    assert.match(refused.message, /pending requests/);

    const waited = await client.flushCache(5);
    assert.equal(waited.success, true, 'a timeout lets the flush wait for the running request');
    assert.equal(sim.stats().running, 0);
    await running;
    assert.equal(await generate(1), 0, 'the prefix cache is empty');
  });
});
