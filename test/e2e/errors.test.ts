import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { MODEL, postJson, sseData, startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { parseRouterConfig } from '../../src/config/router-config.js';
import { startRouter } from '../../src/router.js';
import { bundledTokenizerDir } from '../../src/tokenizer/bundled.js';

function assertOpenAiError(body: any, status: number, res: { status: number }): void {
  assert.equal(res.status, status);
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0);
  assert.equal(typeof body.error.type, 'string');
  assert.ok('param' in body.error && 'code' in body.error);
}

describe('bad input and worker failures become OpenAI errors', () => {
  let h: Harness;
  before(async () => {
    // One attempt each: these pin how a failure maps to a status (retries are dispatch.test's).
    h = await startHarness({ routerArgs: ['--disable-retries'] });
  });
  after(async () => {
    await h.close();
  });

  it('rejects malformed JSON with 400', async () => {
    const res = await postJson(`${h.url}/v1/chat/completions`, '{"model": "x", "messages": [');
    assertOpenAiError(res.json, 400, res);
    assert.equal(res.json.error.code, 'json_parse_error');
  });

  it('rejects out-of-range fields with 400 naming the param', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ temperature: 3 }, 'temperature'],
      [{ top_p: 0 }, 'top_p'],
      [{ n: 11 }, 'n'],
      [{ max_tokens: 0 }, 'max_tokens'],
      [{ messages: [] }, 'messages'],
    ];
    for (const [patch, param] of cases) {
      const res = await postJson(`${h.url}/v1/chat/completions`, { model: MODEL, messages: [{ role: 'user', content: 'x' }], ...patch });
      assertOpenAiError(res.json, 400, res);
      assert.match(String(res.json.error.param), new RegExp(param));
    }
  });

  it('answers 404 model_not_found for an unknown model, through the SDK', async () => {
    await assert.rejects(
      h.client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
      (err: unknown) => err instanceof OpenAI.NotFoundError && (err.error as any)?.code === 'model_not_found',
    );
  });

  it('answers 404 in the OpenAI shape for unknown routes', async () => {
    const res = await postJson(`${h.url}/v1/nothing-here`, {});
    assertOpenAiError(res.json, 404, res);
  });

  it('maps worker gRPC statuses to HTTP statuses', async () => {
    const cases: [string, number][] = [
      ['INVALID_ARGUMENT', 400],
      ['RESOURCE_EXHAUSTED', 429],
      ['UNAVAILABLE', 503],
      ['INTERNAL', 502],
    ];
    for (const [code, status] of cases) {
      for (const stream of [false, true]) {
        const res = await postJson(`${h.url}/v1/chat/completions`, {
          model: MODEL,
          stream,
          messages: [{ role: 'user', content: `<<sim error=${code} message="boom ${code}">>` }],
        });
        assertOpenAiError(res.json, status, res);
        assert.match(res.json.error.message, new RegExp(`boom ${code}`));
      }
    }
  });

  it('maps a legacy in-band GenerateError', async () => {
    for (const [status, expected] of [
      [400, 400],
      [503, 503],
      [500, 502],
    ]) {
      const res = await postJson(`${h.url}/v1/chat/completions`, {
        model: MODEL,
        messages: [{ role: 'user', content: `<<sim legacy-error="legacy failure ${status}" http-status=${status}>>` }],
      });
      assertOpenAiError(res.json, expected!, res);
      assert.match(res.json.error.message, new RegExp(`legacy failure ${status}`));
    }
  });

  it('ends a stream that fails mid-way with an error event and [DONE]', async () => {
    const res = await postJson(`${h.url}/v1/chat/completions`, {
      model: MODEL,
      stream: true,
      messages: [{ role: 'user', content: '<<sim fail-after=3>> <<sim tokens=200>>' }],
    });
    assert.equal(res.status, 200);
    const events = sseData(res.text) as any[];
    assert.equal(events.at(-1), '[DONE]');
    const err = events.at(-2);
    assert.equal(typeof err.error.message, 'string');
    assert.ok(events.some((e) => e.choices?.[0]?.delta?.content));
  });

  it('survives a burst of bad requests and still serves', async () => {
    await Promise.all(Array.from({ length: 50 }, (_, i) => postJson(`${h.url}/v1/chat/completions`, i % 2 ? '{' : { messages: 5 })));
    const ok = await h.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'still there?' }] });
    assert.equal(ok.choices[0]!.finish_reason, 'stop');
  });
});

describe('readiness and unreachable workers', () => {
  it('reports 503 and answers requests with 503 when no worker is healthy, then recovers', async () => {
    const h = await startHarness();
    try {
      const dead = 'grpc://127.0.0.1:1';
      const cfg = parseRouterConfig(
        ['--port', '0', '--prometheus-port', '0', '--worker-urls', dead, '--tokenizer-path', bundledTokenizerDir('qwen3'), '--log-level', 'silent', '--prep-threads', '1', '--health-check-interval-secs', '0.2', '--served-model-name', MODEL],
        { requireWorkers: true },
      );
      if (cfg === 'help') throw new Error('help');
      const router = await startRouter(cfg);
      try {
        const ready = await fetch(`${router.url}/readiness`);
        assert.equal(ready.status, 503);
        assert.equal((await fetch(`${router.url}/liveness`)).status, 200);
        const res = await postJson(`${router.url}/v1/chat/completions`, { model: MODEL, messages: [{ role: 'user', content: 'x' }] });
        assertOpenAiError(res.json, 503, res);
      } finally {
        await router.close();
      }
      await waitFor(() => h.router.fleet.routable().length === 1, 2_000);
      assert.equal((await fetch(`${h.url}/readiness`)).status, 200);
    } finally {
      await h.close();
    }
  });
});

describe('deadlines and non-streaming disconnects', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ routerArgs: ['--request-timeout-secs', '0.5'] });
  });
  after(async () => {
    await h.close();
  });

  it('answers 504 when the worker misses the request deadline, and the worker sees the cancel', async () => {
    const cancelled = new Promise((resolve) => h.workers[0]!.events.once('cancelled', resolve));
    const started = Date.now();
    const res = await postJson(`${h.url}/v1/chat/completions`, { model: MODEL, messages: [{ role: 'user', content: '<<sim delay-ms=5000>>' }] });
    assertOpenAiError(res.json, 504, res);
    assert.ok(Date.now() - started < 3_000);
    await cancelled;
  });

  it('cancels the worker call when a non-streaming client goes away', async () => {
    const cancelled = new Promise((resolve) => h.workers[0]!.events.once('cancelled', resolve));
    const ac = new AbortController();
    const req = fetch(`${h.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: '<<sim delay-ms=5000>>' }] }),
      signal: ac.signal,
    });
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(req);
    await Promise.race([cancelled, new Promise((_, rej) => setTimeout(() => rej(new Error('no cancel seen')), 300))]);
    await waitFor(() => h.workers[0]!.stats().running === 0, 1_000, 'worker idle');
  });
});
