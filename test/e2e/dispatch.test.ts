import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type OpenAI from 'openai';
import { MODEL, postJson, sseData, startHarness, waitFor, type Harness } from '../helpers/harness.js';

const CHAT = '/v1/chat/completions';

/** A non-streaming chat through the SDK, with the route headers of its response. */
async function chatRouted(h: Harness, content: string, extra: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {}, headers: Record<string, string> = {}) {
  const { data, response } = await h.client.chat.completions
    .create({ model: MODEL, messages: [{ role: 'user', content }], max_tokens: 8, ...extra }, { headers })
    .withResponse();
  return { data, worker: response.headers.get('x-switchyard-worker'), attempt: response.headers.get('x-switchyard-route-attempt') };
}

/** A streamed chat through the SDK: its text and the route headers (sent with the first event). */
async function streamRouted(h: Harness, content: string) {
  const { data, response } = await h.client.chat.completions
    .create({ model: MODEL, stream: true, messages: [{ role: 'user', content }], max_tokens: 8 })
    .withResponse();
  let text = '';
  for await (const chunk of data) text += chunk.choices[0]?.delta.content ?? '';
  return { text, worker: response.headers.get('x-switchyard-worker'), attempt: response.headers.get('x-switchyard-route-attempt') };
}

const generates = (h: Harness) => h.workers.reduce((n, w) => n + w.stats().generates, 0);
const workerByUrl = (h: Harness, url: string | null) => h.workers.find((w) => w.url === url)!;

async function scrape(h: Harness): Promise<string> {
  return (await fetch(`${h.router.metricsUrl}/metrics`)).text();
}

/** The value of one series in a Prometheus text exposition (0 when absent). */
function series(text: string, selector: string): number {
  const line = text.split('\n').find((l) => l.startsWith(selector + ' '));
  return line ? Number(line.slice(selector.length + 1)) : 0;
}

describe('retries before the first token', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ workers: 2, routerArgs: ['--policy', 'round_robin'] });
  });
  after(() => h.close());

  /** With round_robin over two workers, the one the next request goes to: the one the last did not. */
  async function nextWorkerUrl(): Promise<string> {
    const { worker } = await chatRouted(h, 'which one now?');
    return h.workers.find((w) => w.url !== worker)!.url;
  }

  for (const [name, code] of [
    ['RESOURCE_EXHAUSTED', GrpcStatus.RESOURCE_EXHAUSTED],
    ['UNAVAILABLE', GrpcStatus.UNAVAILABLE],
  ] as const) {
    it(`moves a request its worker refused with ${name} to the other worker, streaming or not, and the client sees only success`, async () => {
      for (const stream of [false, true]) {
        const first = await nextWorkerUrl();
        workerByUrl(h, first).failNext(1, { code, message: `refused (${name})` });
        const before = generates(h);
        const res = stream ? await streamRouted(h, 'hello there') : await chatRouted(h, 'hello there');
        assert.equal(res.attempt, '2');
        assert.ok(res.worker && res.worker !== first, `served by the other worker, not ${first}`);
        assert.equal(generates(h) - before, 2, 'one refused call and one served call');
        if ('data' in res) assert.ok(res.data.choices[0]!.message.content);
        else assert.ok(res.text.length > 0);
      }
    });
  }

  it('sends a retry under its own engine request id while the response keeps the request\'s id', async () => {
    const first = await nextWorkerUrl();
    workerByUrl(h, first).failNext(1, { code: GrpcStatus.UNAVAILABLE, message: 'refused' });
    const seen: { worker: string; rid: string }[] = [];
    const listeners = h.workers.map((w) => {
      const l = (r: { requestId: string }) => seen.push({ worker: w.url, rid: r.requestId });
      w.events.on('request', l);
      return l;
    });
    try {
      const res = await chatRouted(h, 'once more', { rid: 'retried-rid-1' } as Partial<OpenAI.ChatCompletionCreateParamsNonStreaming>);
      assert.equal(res.attempt, '2');
      assert.equal(res.data.id, 'retried-rid-1');
      const second = h.workers.find((w) => w.url !== first)!.url;
      assert.deepEqual(seen, [
        { worker: first, rid: 'retried-rid-1' },
        { worker: second, rid: 'retried-rid-1-a2' },
      ]);
    } finally {
      h.workers.forEach((w, i) => w.events.off('request', listeners[i]!));
    }
  });

  it('waits at least the worker\'s retry-pushback hint before retrying', async () => {
    const first = await nextWorkerUrl();
    workerByUrl(h, first).failNext(1, { code: GrpcStatus.RESOURCE_EXHAUSTED, retryPushbackMs: 400 });
    const seen: number[] = [];
    const record = () => seen.push(Date.now());
    for (const w of h.workers) w.events.on('request', record);
    try {
      const res = await chatRouted(h, 'patience');
      assert.equal(res.attempt, '2');
    } finally {
      for (const w of h.workers) w.events.off('request', record);
    }
    assert.equal(seen.length, 2);
    // The default first backoff is 50 ms ± 20 %; the hint stretches it (loose bound: timers may fire early by a tick).
    assert.ok(seen[1]! - seen[0]! >= 350, `retry came ${seen[1]! - seen[0]!} ms after the refusal`);
  });

  it('counts retries, their outcome and route decisions in /metrics', async () => {
    const text = await scrape(h);
    assert.ok(series(text, `switchyard_router_retries_total{route="${CHAT}",outcome="success"}`) >= 5);
    assert.ok(series(text, 'switchyard_router_retry_backoff_seconds_count') >= 5);
    for (const w of h.workers) assert.ok(series(text, `switchyard_router_route_decisions_total{policy="round_robin",worker="${w.url}"}`) > 0);
  });

  it('gives up with the worker\'s error once every attempt failed, and counts the request as exhausted', async () => {
    for (const w of h.workers) w.failNext(100, { code: GrpcStatus.RESOURCE_EXHAUSTED, message: 'full up' });
    try {
      const before = generates(h);
      const res = await postJson(`${h.url}${CHAT}`, { model: MODEL, messages: [{ role: 'user', content: 'anyone?' }] }, { 'x-request-id': 'exhaust-1' });
      assert.equal(res.status, 429);
      assert.equal(res.json.error.code, 'worker_overloaded');
      assert.equal(res.headers.get('x-switchyard-route-attempt'), '5', 'the default --retry-max-retries');
      assert.equal(generates(h) - before, 5);
    } finally {
      for (const w of h.workers) w.failNext(0, { code: GrpcStatus.OK });
    }
    assert.ok(series(await scrape(h), `switchyard_router_retries_exhausted_total{route="${CHAT}"}`) >= 1);
  });

  it('ends cleanly when the client leaves during the backoff: no second attempt, no lease left behind', async () => {
    const first = await nextWorkerUrl();
    workerByUrl(h, first).failNext(1, { code: GrpcStatus.RESOURCE_EXHAUSTED, retryPushbackMs: 500 });
    const before = generates(h);
    const ac = new AbortController();
    const req = fetch(`${h.url}${CHAT}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'leaving soon' }] }),
      signal: ac.signal,
    });
    await waitFor(() => generates(h) - before === 1, 2_000, 'the refused first attempt');
    ac.abort();
    await assert.rejects(req);
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(generates(h) - before, 1, 'nothing was sent after the client left');
    assert.deepEqual(
      h.router.fleet.list().map((e) => e.inFlight),
      [0, 0],
    );
    assert.ok(series(await scrape(h), `switchyard_router_retries_total{route="${CHAT}",outcome="cancelled"}`) >= 1);
  });

  it('answers 503 no_available_workers when no worker is routable, naming no worker', async () => {
    for (const e of h.router.fleet.list()) h.router.fleet.setFlags(e.id, { disabled: true });
    try {
      for (const stream of [false, true]) {
        const res = await postJson(`${h.url}${CHAT}`, { model: MODEL, stream, messages: [{ role: 'user', content: 'x' }] });
        assert.equal(res.status, 503);
        assert.equal(res.json.error.code, 'no_available_workers');
        assert.equal(res.headers.get('x-switchyard-worker'), null);
      }
    } finally {
      for (const e of h.router.fleet.list()) h.router.fleet.setFlags(e.id, { disabled: false });
    }
  });
});

describe('failures after the first token', () => {
  let h: Harness;
  before(async () => {
    // A slow decode step, so a stream is still running when its worker goes away.
    h = await startHarness({ workers: 2, sim: { latency: { prefillTokensPerSec: 0, decodeBaseMs: 10, decodePerReqMs: 0 } } });
  });
  after(() => h.close());

  it('never retries a stream that failed after tokens: the client gets an error event and [DONE]', async () => {
    const before = generates(h);
    const res = await postJson(`${h.url}${CHAT}`, {
      model: MODEL,
      stream: true,
      messages: [{ role: 'user', content: '<<sim fail-after=3>> <<sim tokens=200>>' }],
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-switchyard-route-attempt'), '1');
    const events = sseData(res.text) as any[];
    assert.ok(events.some((e) => e.choices?.[0]?.delta?.content), 'tokens arrived before the failure');
    assert.equal(events.at(-1), '[DONE]');
    assert.equal(typeof events.at(-2).error.message, 'string');
    assert.equal(generates(h) - before, 1, 'one worker call, no retry');
  });

  it('ends the stream with an error event when its worker is killed mid-stream, without a hang or a retry', async () => {
    const before = generates(h);
    const res = await fetch(`${h.url}${CHAT}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: '<<sim tokens=2000>>' }] }),
    });
    assert.equal(res.status, 200);
    const victim = workerByUrl(h, res.headers.get('x-switchyard-worker'));
    const reader = res.body!.getReader();
    let text = new TextDecoder().decode((await reader.read()).value);
    const closing = victim.close();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await closing;
    const events = sseData(text) as any[];
    assert.equal(events.at(-1), '[DONE]');
    assert.equal(typeof events.at(-2).error.message, 'string');
    assert.equal(generates(h) - before, 1, 'the surviving worker was not asked to start over');
  });
});

describe('routing policies on the request path', () => {
  it('cache_aware (the default) keeps a growing conversation on one worker, whose cache grows with it', async () => {
    const h = await startHarness({ workers: 3 });
    try {
      const system = `You are a careful assistant. ${'Answer briefly and cite the house rules when asked. '.repeat(20)}`;
      const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'system', content: system }];
      const workers: (string | null)[] = [];
      const cached: number[] = [];
      for (const turn of ['first question', 'second question, a follow-up', 'third question, to wrap up', 'one more thing']) {
        messages.push({ role: 'user', content: turn });
        const { data, response } = await h.client.chat.completions.create({ model: MODEL, messages, max_tokens: 12 }).withResponse();
        workers.push(response.headers.get('x-switchyard-worker'));
        cached.push(data.usage?.prompt_tokens_details?.cached_tokens ?? 0);
        messages.push({ role: 'assistant', content: data.choices[0]!.message.content ?? '' });
      }
      assert.equal(new Set(workers).size, 1, `every turn on one worker: ${workers.join(' ')}`);
      assert.equal(cached[0], 0);
      for (let i = 1; i < cached.length; i++) assert.ok(cached[i]! > cached[i - 1]!, `cached tokens grow turn over turn: ${cached.join(', ')}`);
      const text = await scrape(h);
      const w = workers[0]!;
      const predicted = series(text, `switchyard_router_predicted_cached_tokens_total{worker="${w}"}`);
      const reported = series(text, `switchyard_worker_reported_cached_tokens_total{worker="${w}"}`);
      assert.ok(predicted > 0 && reported > 0, `predicted ${predicted}, reported ${reported}`);
      assert.ok(series(text, `switchyard_router_route_decisions_total{policy="cache_aware",worker="${w}"}`) >= 4);
    } finally {
      await h.close();
    }
  });

  it('consistent_hash keeps one X-Routing-Key (or one user) on one worker', async () => {
    const h = await startHarness({ workers: 3, routerArgs: ['--policy', 'consistent_hash'] });
    try {
      const byKey = new Set<string | null>();
      for (let i = 0; i < 5; i++) byKey.add((await chatRouted(h, `question ${i}`, {}, { 'x-routing-key': 'tenant-7' })).worker);
      assert.equal(byKey.size, 1);
      const byUser = new Set<string | null>();
      for (let i = 0; i < 5; i++) byUser.add((await chatRouted(h, `other question ${i}`, { user: 'alice' })).worker);
      assert.equal(byUser.size, 1);
      const spread = new Set<string | null>();
      for (let i = 0; i < 12; i++) spread.add((await chatRouted(h, 'same text', {}, { 'x-session-id': `session-${i}` })).worker);
      assert.ok(spread.size > 1, 'different sessions land on different workers');
    } finally {
      await h.close();
    }
  });

  it('round_robin alternates between workers', async () => {
    const h = await startHarness({ workers: 2, routerArgs: ['--policy', 'round_robin'] });
    try {
      const workers: (string | null)[] = [];
      for (let i = 0; i < 4; i++) workers.push((await chatRouted(h, 'same prompt every time')).worker);
      assert.notEqual(workers[0], workers[1]);
      assert.deepEqual(workers, [workers[0], workers[1], workers[0], workers[1]]);
    } finally {
      await h.close();
    }
  });
});
