import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GenerateRequest } from '../../src/gen/sglang/grpc/scheduler/sglang_scheduler.js';
import { MODEL, startHarness, waitFor, type Harness } from '../helpers/harness.js';

/** Requests the router has taken in so far: those still being handled and those answered. */
async function arrived(h: Harness): Promise<number> {
  const text = await (await fetch(`${h.router.metricsUrl}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('switchyard_http_requests_active ') || line.startsWith('switchyard_http_requests_total{')) n += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return n;
}

describe('a client that leaves while its request is being prepared', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ workers: 1, sim: { latency: { prefillTokensPerSec: 0, decodeBaseMs: 5, decodePerReqMs: 0 } } });
  });
  after(() => h.close());

  for (const stream of [true, false]) {
    it(`gets no engine work started and holds no lease or stream afterwards (${stream ? 'streaming' : 'non-streaming'})`, async () => {
      const victimRequests: string[] = [];
      const finished: string[] = [];
      const onRequest = (r: GenerateRequest) => {
        if (r.tokenized?.originalText.includes('victim')) victimRequests.push(r.requestId);
      };
      const onFinished = (rid: string) => void finished.push(rid);
      h.workers[0]!.events.on('request', onRequest);
      h.workers[0]!.events.on('finished', onFinished);
      try {
        // One prep thread busy with long prompts for a while: the victim waits behind them.
        const big = 'lorem ipsum dolor sit amet '.repeat(3000);
        const before = await arrived(h);
        const hogs = Array.from({ length: 30 }, () => h.client.completions.create({ model: MODEL, prompt: `${big}<<sim tokens=1>>`, max_tokens: 1 }));
        while ((await arrived(h)) < before + hogs.length) await new Promise((r) => setTimeout(r, 2));
        const ctl = new AbortController();
        const victim = fetch(`${h.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: MODEL, stream, max_tokens: 400, messages: [{ role: 'user', content: 'victim <<sim tokens=300>>' }] }),
          signal: ctl.signal,
        }).catch((err: Error) => err.name);
        while ((await arrived(h)) < before + hogs.length + 1) await new Promise((r) => setTimeout(r, 2));
        ctl.abort();
        assert.equal(await victim, 'AbortError');
        await Promise.all(hogs);
        const entry = h.router.fleet.list()[0]!;
        await waitFor(() => entry.inFlight === 0 && entry.client.activeStreams === 0, 5_000, 'the lease and the gRPC stream to be released');
        await waitFor(() => h.workers[0]!.stats().sessions === 0, 5_000, 'the worker to hold no session');
        assert.deepEqual(
          finished.filter((rid) => victimRequests.some((v) => rid.startsWith(v))),
          [],
          'the worker never generated the whole answer for a client that had left',
        );
      } finally {
        h.workers[0]!.events.off('request', onRequest);
        h.workers[0]!.events.off('finished', onFinished);
      }
    });
  }
});
