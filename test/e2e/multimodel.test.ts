import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import type { GenerateRequest } from '../../src/gen/sglang/grpc/scheduler/sglang_scheduler.js';
import { startSimWorker, type SimWorker } from '../../src/sim/server.js';
import { loadModelAssets } from '../../src/tokenizer/assets.js';
import { bundledTokenizerDir } from '../../src/tokenizer/bundled.js';
import { bundledTokenizer, postJson, startHarness, waitFor, type Harness } from '../helpers/harness.js';

/** Each family's chat template marks a user turn its own way; the worker's prompt text shows whose template rendered it. */
const QWEN_USER = '<|im_start|>user';
const DEEPSEEK_USER = '<｜User｜>';
const LLAMA_USER = '<|start_header_id|>user<|end_header_id|>';

async function chatVia(h: Harness, model: string, content: string): Promise<string | null> {
  const { data, response } = await h.client.chat.completions.create({ model, messages: [{ role: 'user', content }], max_tokens: 4 }).withResponse();
  assert.equal(data.model, model);
  assert.ok(data.choices[0]!.finish_reason);
  return response.headers.get('x-switchyard-worker');
}

/** The prompt texts each worker was sent while `run` ran. */
async function promptsSeen(workers: readonly SimWorker[], run: () => Promise<void>): Promise<string[][]> {
  const seen = workers.map((): string[] => []);
  const listeners = workers.map((w, i) => {
    const record = (req: GenerateRequest) => seen[i]!.push(req.tokenized!.originalText);
    w.events.on('request', record);
    return record;
  });
  try {
    await run();
  } finally {
    workers.forEach((w, i) => w.events.off('request', listeners[i]!));
  }
  return seen;
}

async function modelIds(h: Harness): Promise<string[]> {
  return (await h.client.models.list()).data.map((m) => m.id).sort();
}

describe('several models behind one router', () => {
  let h: Harness;
  const extras: SimWorker[] = [];
  before(async () => {
    h = await startHarness({
      models: [
        { name: 'model-a', bundled: 'qwen3', workers: 2 },
        { name: 'model-b', bundled: 'deepseek_v3', workers: 1 },
      ],
    });
  });
  after(async () => {
    await h.close();
    await Promise.all(extras.map((w) => w.close()));
  });

  it('lists every served model on /v1/models', async () => {
    assert.deepEqual(await modelIds(h), ['model-a', 'model-b']);
  });

  it("sends each model's requests only to its own workers, rendered with its own chat template", async () => {
    const [a1, a2, b] = h.workers;
    const aUrls = [a1!.url, a2!.url];
    const seen = await promptsSeen(h.workers, async () => {
      for (let i = 0; i < 4; i++) {
        assert.ok(aUrls.includes((await chatVia(h, 'model-a', `question ${i}`))!), 'model-a is served by a model-a worker');
        assert.equal(await chatVia(h, 'model-b', `question ${i}`), b!.url, 'model-b is served by its one worker');
      }
    });
    const [forA1, forA2, forB] = seen;
    assert.equal(forA1!.length + forA2!.length, 4);
    assert.equal(forB!.length, 4);
    for (const text of [...forA1!, ...forA2!]) {
      assert.ok(text.includes(QWEN_USER), `a Qwen3 prompt: ${text}`);
      assert.ok(!text.includes(DEEPSEEK_USER));
    }
    for (const text of forB!) {
      assert.ok(text.includes(DEEPSEEK_USER), `a DeepSeek-V3 prompt: ${text}`);
      assert.ok(!text.includes(QWEN_USER));
    }
  });

  it("tokenizes with the named model's tokenizer and detects each model's parsers from its own files", async () => {
    const text = 'Multi-model routers tokenize per model: ünïcödé too.';
    for (const [name, bundled] of [['model-a', 'qwen3'], ['model-b', 'deepseek_v3']] as const) {
      const res = await postJson(`${h.url}/v1/tokenize`, { model: name, prompt: text, add_special_tokens: false });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json.tokens, Array.from(await (await bundledTokenizer(bundled)).encode(text, false)));
    }
    const a = h.router.models.resolve('model-a');
    const b = h.router.models.resolve('model-b');
    assert.notEqual(a.prep, b.prep, 'each model has its own prep pool');
    assert.equal(a.reasoningParser, 'qwen3');
    assert.notEqual(b.reasoningParser, a.reasoningParser);
  });

  it('answers 404 model_not_found for an unknown model without naming the served ones, and 400 model_required for none', async () => {
    await assert.rejects(
      h.client.chat.completions.create({ model: 'model-z', messages: [{ role: 'user', content: 'hi' }] }),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.NotFoundError);
        const body = err.error as { code?: string; param?: string; message?: string };
        assert.equal(body.code, 'model_not_found');
        assert.equal(body.param, 'model');
        assert.doesNotMatch(body.message ?? '', /model-a|model-b/);
        return true;
      },
    );
    const none = await postJson(`${h.url}/v1/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(none.status, 400);
    assert.equal(none.json.error.code, 'model_required');
    assert.equal(none.json.error.param, 'model');
  });

  it("lists a model's workers with GET /workers?model= and their model_id", async () => {
    const res = await fetch(`${h.url}/workers?model=model-b`);
    const body = (await res.json()) as { total: number; workers: Array<{ url: string; model_id: string }> };
    assert.equal(body.total, 1);
    assert.equal(body.workers[0]!.url, h.workers[2]!.url);
    assert.equal(body.workers[0]!.model_id, 'model-b');
  });

  it('makes a third model servable when a worker of it registers, and unknown again when its last worker leaves', async () => {
    const dir = bundledTokenizerDir('llama3_1');
    const sim = await startSimWorker({
      tokenizer: await bundledTokenizer('llama3_1'),
      tokenizerPath: dir,
      servedModelName: 'model-c',
      eosTokenIds: (await loadModelAssets(dir)).eosTokenIds,
      latency: { prefillTokensPerSec: 0, decodeBaseMs: 0, decodePerReqMs: 0 },
    });
    extras.push(sim);
    const added = await postJson(`${h.url}/workers`, { url: sim.url });
    assert.equal(added.status, 202);
    await waitFor(() => h.router.fleet.routable('regular', 'model-c').length === 1, 10_000, 'the model-c worker to be routable');
    assert.deepEqual(await modelIds(h), ['model-a', 'model-b', 'model-c']);

    const [seen] = await promptsSeen([sim], async () => {
      assert.equal(await chatVia(h, 'model-c', 'hello there'), sim.url);
    });
    assert.equal(seen!.length, 1);
    assert.ok(seen![0]!.includes(LLAMA_USER), `a Llama 3.1 prompt: ${seen![0]}`);
    assert.ok([h.workers[0]!.url, h.workers[1]!.url].includes((await chatVia(h, 'model-a', 'still here'))!), 'the other models keep their workers');

    const removed = await fetch(`${h.url}/workers/${encodeURIComponent(sim.url)}`, { method: 'DELETE' });
    assert.equal(removed.status, 202);
    assert.deepEqual(await modelIds(h), ['model-a', 'model-b']);
    const gone = await postJson(`${h.url}/v1/chat/completions`, { model: 'model-c', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(gone.status, 404);
    assert.equal(gone.json.error.code, 'model_not_found');
  });
});
