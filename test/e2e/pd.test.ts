import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import OpenAI from 'openai';
import type { GenerateRequest } from '../../src/gen/sglang/grpc/scheduler/sglang_scheduler.js';
import type { SimWorker } from '../../src/sim/server.js';
import { BOOTSTRAP_ROOM_BOUND, DEFAULT_BOOTSTRAP_PORT } from '../../src/workers/pd-call.js';
import { MODEL, postJson, sseData, startHarness, streamChat, waitFor, type Harness } from '../helpers/harness.js';

const CUSTOM_BOOTSTRAP_PORT = 9100;

/** Every GenerateRequest each sim received, in order. */
function record(workers: readonly SimWorker[]): GenerateRequest[][] {
  return workers.map((w) => {
    const seen: GenerateRequest[] = [];
    w.events.on('request', (r: GenerateRequest) => seen.push(r));
    return seen;
  });
}

/** The one request with this id that the given sims received, and which of them got it. */
function legOf(seen: GenerateRequest[][], indexes: readonly number[], requestId: string): { worker: number; req: GenerateRequest } {
  const hits = indexes.flatMap((i) => seen[i]!.filter((r) => r.requestId === requestId).map((req) => ({ worker: i, req })));
  assert.equal(hits.length, 1, `exactly one of workers ${indexes.join(',')} got ${requestId}`);
  return hits[0]!;
}

/** Resolves when the sim reports the request cancelled (stream reset) or aborted (Abort RPC). */
function stopped(w: SimWorker, requestId: () => string | undefined): Promise<void> {
  return new Promise((resolve) => {
    const on = (id: string) => {
      if (id !== requestId()) return;
      w.events.off('cancelled', on);
      w.events.off('abort', on);
      resolve();
    };
    w.events.on('cancelled', on);
    w.events.on('abort', on);
  });
}

const PREFILLS = [0, 1];
const DECODES = [2, 3];

describe('prefill/decode disaggregation', () => {
  let h: Harness;
  let seen: GenerateRequest[][];

  before(async () => {
    h = await startHarness({
      pd: { prefill: 2, decode: 2, bootstrapPorts: [CUSTOM_BOOTSTRAP_PORT, undefined] },
      // 2 ms per decode step: a 300-token reply takes long enough to act while it streams.
      sim: { latency: { prefillTokensPerSec: 0, decodeBaseMs: 2, decodePerReqMs: 0 } },
      // Round robin on both legs, so consecutive requests use every worker.
      routerArgs: ['--prefill-policy', 'round_robin', '--decode-policy', 'round_robin', '--retry-max-retries', '2'],
    });
    seen = record(h.workers);
  });

  after(() => h.close());

  it('serves a non-streaming chat through a prefill and a decode worker, naming both in x-switchyard-worker', async () => {
    const { data, response } = await h.client.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: '<<sim reply="The pair works.">> hello' }] })
      .withResponse();
    assert.equal(data.choices[0]!.message.content, 'The pair works.');
    assert.equal(data.choices[0]!.finish_reason, 'stop');
    assert.match(response.headers.get('x-switchyard-worker') ?? '', /^prefill=grpc:\/\/127\.0\.0\.1:\d+,decode=grpc:\/\/127\.0\.0\.1:\d+$/);
  });

  it('streams a chat from the decode worker', async () => {
    const out = await streamChat(h, { messages: [{ role: 'user', content: '<<sim reply="The pair streams along.">> hello' }] });
    assert.equal(out.content, 'The pair streams along.');
    assert.equal(out.finish, 'stop');
  });

  it('gives both legs the same request id, input ids, sampling params and rendezvous, with a fresh room each time', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const c = await h.client.chat.completions.create({ model: MODEL, temperature: 0.3, max_tokens: 20, messages: [{ role: 'user', content: `question ${i}` }] });
      ids.push(c.id);
    }
    const rooms = new Set<number>();
    const ports = new Set<number>();
    // The response id is the request id both workers were sent.
    for (const requestId of ids) {
      const p = legOf(seen, PREFILLS, requestId);
      const d = legOf(seen, DECODES, requestId);
      assert.deepEqual(d.req.tokenized!.inputIds, p.req.tokenized!.inputIds);
      assert.deepEqual(d.req.samplingParams, p.req.samplingParams);
      assert.equal(p.req.samplingParams!.maxNewTokens, 20);
      assert.deepEqual(d.req.disaggregatedParams, p.req.disaggregatedParams);
      const params = p.req.disaggregatedParams!;
      assert.equal(params.bootstrapHost, '127.0.0.1');
      assert.equal(params.bootstrapPort, p.worker === 0 ? CUSTOM_BOOTSTRAP_PORT : DEFAULT_BOOTSTRAP_PORT);
      assert.ok(Number.isInteger(params.bootstrapRoom) && params.bootstrapRoom >= 0 && params.bootstrapRoom < BOOTSTRAP_ROOM_BOUND);
      rooms.add(params.bootstrapRoom);
      ports.add(params.bootstrapPort);
    }
    assert.equal(rooms.size, 4, 'a fresh room per request');
    assert.deepEqual([...ports].sort(), [DEFAULT_BOOTSTRAP_PORT, CUSTOM_BOOTSTRAP_PORT].sort(), 'both prefill workers served');
  });

  it('retries a pair whose prefill leg failed before the decode leg answered, on another pair with a fresh room and the attempt\'s own request id', async () => {
    h.workers[0]!.failNext(1, { code: status.UNAVAILABLE, message: 'prefill queue full' });
    const attempts: string[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      // The decode leg waits (a slow KV transfer), so the prefill failure comes first.
      const { data, response } = await h.client.chat.completions
        .create({ model: MODEL, messages: [{ role: 'user', content: `<<sim decode-delay-ms=150 reply="Served anyway.">> try ${i}` }] })
        .withResponse();
      assert.equal(data.choices[0]!.message.content, 'Served anyway.');
      attempts.push(response.headers.get('x-switchyard-route-attempt') ?? '');
      ids.push(data.id);
    }
    const retried = ids[attempts.indexOf('2')]!;
    assert.deepEqual([...attempts].sort(), ['1', '2'], 'the request that met the failing prefill worker was served by its second pair');
    const first = legOf(seen, PREFILLS, retried);
    const second = legOf(seen, PREFILLS, `${retried}-a2`);
    assert.notEqual(first.worker, second.worker, 'one prefill leg per attempt, one on each prefill worker');
    assert.notEqual(first.req.disaggregatedParams!.bootstrapRoom, second.req.disaggregatedParams!.bootstrapRoom);
    const secondDecode = legOf(seen, DECODES, `${retried}-a2`);
    assert.deepEqual(secondDecode.req.disaggregatedParams, second.req.disaggregatedParams, 'both legs of the retry share its id and rendezvous');
  });

  it('answers a 5xx OpenAI error prefill_worker_failed when the prefill leg fails on every pair', async () => {
    await assert.rejects(
      h.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: '<<sim prefill-error=INTERNAL decode-delay-ms=100>> hello' }] }),
      (err: unknown) => err instanceof OpenAI.APIError && err.status === 502 && err.code === 'prefill_worker_failed' && /prefill/.test(err.message),
    );
  });

  it('ends a stream with an error event when the prefill leg fails after the decode leg started', async () => {
    const res = await fetch(`${h.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: '<<sim prefill-error=INTERNAL prefill-delay-ms=150 tokens=300>> hello' }] }),
    });
    assert.equal(res.status, 200);
    const events = sseData(await res.text()) as any[];
    assert.equal(events.at(-1), '[DONE]');
    assert.equal(events.at(-2).error.code, 'prefill_worker_failed');
    assert.ok(events.some((e) => e.choices?.[0]?.delta?.content), 'decode tokens reached the client first');
  });

  it('aborts both legs when the client disconnects', async () => {
    const before = seen.map((s) => s.length);
    const newId = (indexes: readonly number[]) => indexes.map((i) => seen[i]!.slice(before[i])[0]?.requestId).find((id) => id !== undefined);
    const legsStopped = Promise.all([
      Promise.race(PREFILLS.map((i) => stopped(h.workers[i]!, () => newId(PREFILLS)))),
      Promise.race(DECODES.map((i) => stopped(h.workers[i]!, () => newId(DECODES)))),
    ]);
    const abort = new AbortController();
    const res = await fetch(`${h.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: '<<sim prefill-delay-ms=5000 tokens=2000>> hello' }] }),
      signal: abort.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    abort.abort();
    await legsStopped;
    await waitFor(() => h.router.fleet.list().every((e) => e.inFlight === 0), 2_000, 'both leases released');
  });
  it('counts pair decisions, prefill-leg failures by kind and the PD time to first token in /metrics', async () => {
    const text = await (await fetch(`${h.router.metricsUrl}/metrics`)).text();
    const value = (selector: string) => Number(text.split('\n').find((l) => l.startsWith(selector + ' '))?.slice(selector.length + 1) ?? 0);
    const url = (i: number) => h.workers[i]!.url;
    let pairs = 0;
    for (const p of PREFILLS) for (const d of DECODES) pairs += value(`switchyard_pd_pair_decisions_total{prefill="${url(p)}",decode="${url(d)}"}`);
    assert.ok(pairs >= 10, `every attempt's pair is counted (${pairs})`);
    assert.ok(value(`switchyard_pd_prefill_failures_total{worker="${url(0)}",kind="worker_unavailable",effect="failed_pair"}`) >= 1, 'the refused prefill leg');
    const internal = PREFILLS.reduce((n, i) => n + value(`switchyard_pd_prefill_failures_total{worker="${url(i)}",kind="upstream_error",effect="failed_pair"}`), 0);
    assert.ok(internal >= 3, `the INTERNAL prefill legs (${internal})`);
    assert.ok(value(`switchyard_pd_ttft_seconds_count{model="${MODEL}"}`) >= 2, 'the streamed pairs');
    assert.ok(value(`switchyard_pd_ttft_seconds_sum{model="${MODEL}"}`) > 0);
  });
});

describe('prefill/decode disaggregation with --dp-aware', () => {
  let h: Harness;
  let seen: GenerateRequest[][];

  before(async () => {
    h = await startHarness({ pd: { prefill: 1, decode: 1 }, sim: { dpSize: 2 }, routerArgs: ['--dp-aware'] });
    seen = record(h.workers);
  });

  after(() => h.close());

  it('sets each leg\'s data_parallel_rank to the rank chosen for it (default policies)', async () => {
    const rankOf = (header: string, leg: string) => Number(new RegExp(`${leg}=grpc://[^,]+@(\\d+)`).exec(header)?.[1]);
    const ranks = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const { data, response } = await h.client.chat.completions
        .create({ model: MODEL, messages: [{ role: 'user', content: `<<sim tokens=4>> rank check ${i}` }] })
        .withResponse();
      const header = response.headers.get('x-switchyard-worker') ?? '';
      const p = seen[0]!.at(-1)!;
      const d = seen[1]!.at(-1)!;
      assert.equal(p.requestId, d.requestId);
      assert.equal(p.requestId, data.id);
      assert.equal(p.dataParallelRank, rankOf(header, 'prefill'), header);
      assert.equal(d.dataParallelRank, rankOf(header, 'decode'), header);
      ranks.add(`${p.dataParallelRank}/${d.dataParallelRank}`);
    }
    assert.ok(ranks.size > 1, `the ranks vary across requests: ${[...ranks].join(' ')}`);
  });
});

describe('prompt logprobs with prefill/decode disaggregation', () => {
  let pd: Harness;
  let plain: Harness;

  before(async () => {
    [pd, plain] = await Promise.all([
      // The prefill leg answers after the decode leg: its prompt logprobs must still reach the answer.
      startHarness({ pd: { prefill: 1, decode: 1 }, sim: { latency: { prefillTokensPerSec: 0, decodeBaseMs: 1, decodePerReqMs: 0 } } }),
      startHarness({ workers: 1 }),
    ]);
  });

  after(async () => {
    await Promise.all([pd.close(), plain.close()]);
  });

  it('completions echo+logprobs return the prompt\'s logprobs from the prefill leg, equal to a non-PD run\'s', async () => {
    for (const directive of ['', '<<sim prefill-delay-ms=80>> ']) {
      const body = { model: MODEL, prompt: `${directive}<<sim reply="All aboard.">> Which train?`, echo: true, logprobs: 1, max_tokens: 6 };
      const [a, b] = await Promise.all([pd.client.completions.create(body), plain.client.completions.create(body)]);
      const promptTokens = b.usage!.prompt_tokens;
      const expected = b.choices[0]!.logprobs!;
      assert.equal(expected.token_logprobs![0], null);
      assert.equal(expected.tokens!.length, promptTokens + b.usage!.completion_tokens);
      assert.deepEqual(a.choices[0]!.logprobs, expected);
      assert.equal(a.choices[0]!.text, b.choices[0]!.text);
    }
  });

  it('/generate with logprob_start_len returns the same input_token_logprobs as a non-PD run', async () => {
    const body = { text: '<<sim prefill-delay-ms=50 tokens=3>> Count the carriages.', return_logprob: true, logprob_start_len: 2 };
    const [a, b] = await Promise.all([postJson(`${pd.url}/generate`, body), postJson(`${plain.url}/generate`, body)]);
    assert.equal(a.status, 200);
    assert.ok(b.json.meta_info.input_token_logprobs.length > 0);
    assert.deepEqual(a.json.meta_info.input_token_logprobs, b.json.meta_info.input_token_logprobs);
  });
});
