import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { MODEL, postJson, sseData, startHarness, type Harness } from '../helpers/harness.js';

const API_KEY = 'sk-guard-client';
const ADMIN_KEY = 'sk-guard-admin';

const chatBody = (content: string, extra: Record<string, unknown> = {}) => ({ model: MODEL, messages: [{ role: 'user', content }], ...extra });
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function scrape(h: Harness): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`${h.router.metricsUrl}/metrics`);
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

/** The value of one exposition line, e.g. `switchyard_admission_inflight` → 0. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('API keys and Prometheus metrics', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ routerArgs: ['--api-key', API_KEY, '--admin-api-key', ADMIN_KEY] });
  });
  after(async () => {
    await h.close();
  });

  it('answers 401 in the OpenAI envelope without a key or with a wrong one', async () => {
    for (const headers of [{}, bearer('sk-wrong'), { authorization: API_KEY }, bearer(ADMIN_KEY)]) {
      const chat = await postJson(`${h.url}/v1/chat/completions`, chatBody('hi'), headers);
      assert.equal(chat.status, 401);
      assert.equal(chat.json.error.type, 'authentication_error');
      assert.match(chat.json.error.code, /^(missing|invalid)_api_key$/);
      assert.equal(chat.headers.get('www-authenticate'), 'Bearer');
      assert.ok(chat.headers.get('x-request-id'));

      const models = await fetch(`${h.url}/v1/models`, { headers });
      assert.equal(models.status, 401);
      assert.equal(((await models.json()) as { error: { type: string } }).error.type, 'authentication_error');
    }
    const missing = await postJson(`${h.url}/v1/chat/completions`, chatBody('hi'));
    assert.equal(missing.json.error.code, 'missing_api_key');
  });

  it('keeps the health probes open', async () => {
    for (const path of ['/health', '/liveness', '/readiness']) {
      const res = await fetch(`${h.url}${path}`);
      assert.equal(res.status, 200, path);
    }
  });

  it('serves the official OpenAI client that sends the right key, and refuses one with a wrong key', async () => {
    const client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: API_KEY, maxRetries: 0 });
    const reply = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: '<<sim reply="let in">>' }] });
    assert.equal(reply.choices[0]!.message.content, 'let in');
    const models = await client.models.list();
    assert.deepEqual(
      models.data.map((m) => m.id),
      [MODEL],
    );
    await assert.rejects(h.client.models.list(), (err: unknown) => err instanceof OpenAI.AuthenticationError);
  });

  it('takes only the admin key on admin routes, and refuses the admin key elsewhere', async () => {
    const body = { text: '<think>a</think>b', reasoning_parser: 'qwen3' };
    assert.equal((await postJson(`${h.url}/parse/reasoning`, body, bearer(ADMIN_KEY))).status, 200);
    const asClient = await postJson(`${h.url}/parse/reasoning`, body, bearer(API_KEY));
    assert.equal(asClient.status, 403);
    assert.equal(asClient.json.error.code, 'admin_key_required');
    const anonymous = await postJson(`${h.url}/parse/reasoning`, body);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer realm="admin"');
  });

  it('exposes request counts, latency histograms and token timings on the Prometheus port', async () => {
    const text = '<<sim reply="one two three four five six">>';
    const plain = await postJson(`${h.url}/v1/chat/completions`, chatBody(text), bearer(API_KEY));
    assert.equal(plain.status, 200);
    const streamed = await postJson(`${h.url}/v1/chat/completions`, chatBody(text, { stream: true }), bearer(API_KEY));
    assert.equal((sseData(streamed.text) as unknown[]).at(-1), '[DONE]');

    const m = await scrape(h);
    assert.equal(m.status, 200);
    assert.equal(m.type, 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(m.text, /^# TYPE switchyard_http_requests_total counter$/m);
    const chat = `path="/v1/chat/completions",model="${MODEL}"`;
    assert.ok(sample(m.text, `switchyard_http_requests_total{${chat},status_code="200"}`)! >= 2);
    assert.ok(sample(m.text, `switchyard_http_requests_total{path="/v1/chat/completions",model="",status_code="401"}`)! >= 1);
    assert.ok(sample(m.text, `switchyard_http_request_duration_seconds_bucket{${chat},le="+Inf"}`)! >= 2);
    assert.ok(sample(m.text, `switchyard_http_request_duration_seconds_sum{${chat}}`)! > 0);
    assert.equal(sample(m.text, `switchyard_router_ttft_seconds_count{${chat}}`), 1);
    assert.ok(sample(m.text, `switchyard_router_inter_token_latency_seconds_count{${chat}}`)! >= 1);
    assert.equal(sample(m.text, 'switchyard_http_requests_active'), 0);
    // The scrape needs no API key and is not served on the API port.
    assert.equal((await fetch(`${h.url}/metrics`, { headers: bearer(API_KEY) })).status, 404);
  });
});

describe('admission control', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ routerArgs: ['--max-concurrent-requests', '1', '--queue-size', '1', '--queue-timeout-secs', '0.4'] });
  });
  after(async () => {
    await h.close();
  });

  const gauges = async () => {
    const m = await scrape(h);
    return { inflight: sample(m.text, 'switchyard_admission_inflight'), queued: sample(m.text, 'switchyard_admission_queue_depth'), text: m.text };
  };
  const idle = () => waitForGauges({ inflight: 0, queued: 0 });
  const waitForGauges = async (want: { inflight: number; queued: number }) => {
    let last = await gauges();
    const end = Date.now() + 5_000;
    while (last.inflight !== want.inflight || last.queued !== want.queued) {
      if (Date.now() > end) assert.fail(`admission gauges stayed at ${JSON.stringify(last)}, wanted ${JSON.stringify(want)}`);
      await new Promise((r) => setTimeout(r, 20));
      last = await gauges();
    }
  };
  const hold = (ms: number, extra: Record<string, unknown> = {}, signal?: AbortSignal) =>
    fetch(`${h.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chatBody(`<<sim delay-ms=${ms} reply="held">>`, extra)),
      ...(signal ? { signal } : {}),
    });

  it('queues a request while the slot is busy, refuses a full queue with 429 and a long wait with 408', async () => {
    const holder = hold(1_500);
    await waitForGauges({ inflight: 1, queued: 0 });
    const waiter = postJson(`${h.url}/v1/chat/completions`, chatBody('<<sim reply="late">>'));
    await waitForGauges({ inflight: 1, queued: 1 });

    const rejected = await postJson(`${h.url}/v1/chat/completions`, chatBody('<<sim reply="no room">>'));
    assert.equal(rejected.status, 429);
    assert.equal(rejected.json.error.type, 'rate_limit_error');
    assert.equal(rejected.json.error.code, 'queue_full');

    const timedOut = await waiter;
    assert.equal(timedOut.status, 408);
    assert.equal(timedOut.json.error.code, 'queue_timeout');

    assert.equal((await holder).status, 200);
    await idle();
    const m = await gauges();
    assert.equal(sample(m.text, 'switchyard_http_rate_limit_total{result="queue_full"}'), 1);
    assert.equal(sample(m.text, 'switchyard_http_rate_limit_total{result="queue_timeout"}'), 1);
  });

  it('admits a queued request as soon as the running one finishes, in arrival order', async () => {
    const holder = hold(300);
    await waitForGauges({ inflight: 1, queued: 0 });
    const queued = postJson(`${h.url}/v1/chat/completions`, chatBody('<<sim reply="my turn">>'));
    const [a, b] = await Promise.all([holder, queued]);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.equal(b.json.choices[0].message.content, 'my turn');
    await idle();
  });

  it('does not count probes and model listings against the limit', async () => {
    const holder = hold(600);
    await waitForGauges({ inflight: 1, queued: 0 });
    assert.equal((await fetch(`${h.url}/v1/models`)).status, 200);
    assert.equal((await fetch(`${h.url}/health`)).status, 200);
    assert.equal((await holder).status, 200);
    await idle();
  });

  it('releases the slot when a streamed response ends', async () => {
    const stream = await h.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: '<<sim reply="a b c d">>' }], stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    assert.equal(text, 'a b c d');
    await idle();
    assert.equal((await postJson(`${h.url}/v1/chat/completions`, chatBody('<<sim reply="next">>'))).status, 200);
  });

  it('releases the slot when the client aborts, and drops an aborted request from the queue', async () => {
    const running = new AbortController();
    const holder = hold(5_000, { stream: true }, running.signal).catch((e: Error) => e);
    await waitForGauges({ inflight: 1, queued: 0 });
    const queuedCall = new AbortController();
    const waiter = hold(0, {}, queuedCall.signal).catch((e: Error) => e);
    await waitForGauges({ inflight: 1, queued: 1 });

    queuedCall.abort();
    assert.ok((await waiter) instanceof Error);
    await waitForGauges({ inflight: 1, queued: 0 });
    running.abort();
    assert.ok((await holder) instanceof Error);
    await idle();

    const after = await postJson(`${h.url}/v1/chat/completions`, chatBody('<<sim reply="free again">>'));
    assert.equal(after.status, 200);
    assert.equal(after.json.choices[0].message.content, 'free again');
    const m = await gauges();
    assert.equal(sample(m.text, 'switchyard_http_rate_limit_total{result="cancelled"}'), 1);
  });
});
