import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { credentials, type ClientReadableStream, type ServerWritableStream, type ServiceError } from '@grpc/grpc-js';
import {
  GenerateRequest,
  SglangSchedulerClient,
  type GenerateComplete,
  type GenerateResponse,
  type GenerateStreamChunk,
  type GetLoadsResponse,
  type SamplingParams,
} from '../../src/gen/sglang/grpc/scheduler/sglang_scheduler.js';
import { runSimCommand } from '../../src/sim/cli.js';
import { DirectiveError, parseDirectives } from '../../src/sim/directives.js';
import { SimEngine } from '../../src/sim/engine.js';
import { hashPrompt, PrefixCache } from '../../src/sim/kv-cache.js';
import { ReplyScript } from '../../src/sim/script.js';
import { startSimWorker, type SimTokenizer, type SimWorker, type SimWorkerOptions } from '../../src/sim/server.js';
import { GenerateSession } from '../../src/sim/session.js';

/** One id per UTF-16 code unit: enough for the engine, and any id decodes. */
const EOS = 0x10000;
const charTokenizer: SimTokenizer = {
  vocabSize: EOS + 1,
  encode: async (text) => Uint32Array.from({ length: text.length }, (_, i) => text.charCodeAt(i)),
  decode: (ids) => {
    let s = '';
    for (let i = 0; i < ids.length; i++) if (ids[i]! < EOS) s += String.fromCharCode(ids[i]!);
    return s;
  },
};
const FAST = { prefillTokensPerSec: 0, decodeBaseMs: 0, decodePerReqMs: 0 };

const open: { worker: SimWorker; client: SglangSchedulerClient }[] = [];
after(async () => {
  for (const { worker, client } of open) {
    client.close();
    await worker.close();
  }
});

async function start(opts: Partial<SimWorkerOptions>, clientOpts: Record<string, number> = {}) {
  const worker = await startSimWorker({ tokenizer: charTokenizer, eosTokenIds: [EOS], latency: FAST, ...opts });
  const client = new SglangSchedulerClient(`127.0.0.1:${worker.port}`, credentials.createInsecure(), clientOpts);
  open.push({ worker, client });
  return { worker, client };
}

let nextId = 0;
function request(prompt: string | number[], params: Partial<SamplingParams> = {}, stream = false): GenerateRequest {
  const inputIds = typeof prompt === 'string' ? Array.from(prompt, (c) => c.charCodeAt(0)) : prompt;
  return GenerateRequest.fromPartial({
    requestId: `e-${nextId++}`,
    tokenized: { originalText: '', inputIds },
    samplingParams: { temperature: 1, topP: 1, topK: -1, repetitionPenalty: 1, n: 1, ...params },
    stream,
    logprobStartLen: -1,
  });
}

async function collect(call: ClientReadableStream<GenerateResponse>): Promise<{ chunks: GenerateStreamChunk[]; complete: GenerateComplete }> {
  const chunks: GenerateStreamChunk[] = [];
  const completes: GenerateComplete[] = [];
  for await (const msg of call as AsyncIterable<GenerateResponse>) {
    if (msg.response?.$case === 'chunk') chunks.push(msg.response.value);
    if (msg.response?.$case === 'complete') completes.push(msg.response.value);
  }
  assert.equal(completes.length, 1);
  return { chunks, complete: completes[0]! };
}

async function waitFor(cond: () => boolean): Promise<void> {
  for (let waited = 0; !cond(); waited += 2) {
    if (waited > 5000) throw new Error('condition not reached in 5 s');
    await sleep(2);
  }
}

const loads = (client: SglangSchedulerClient): Promise<GetLoadsResponse> =>
  new Promise((resolve, reject) => client.getLoads({ include: [] }, (err: ServiceError | null, res) => (err ? reject(err) : resolve(res))));

describe('sim engine: prefix KV cache', () => {
  it('PrefixCache matches leading blocks only and evicts least recently used, leaves first', () => {
    const cache = new PrefixCache();
    const a = hashPrompt([1, 2, 3, 4, 5, 6, 7, 8, 9], 4).keys;
    const b = hashPrompt([1, 2, 3, 4, 9, 9, 9, 9], 4).keys;
    assert.equal(a.length, 2);
    assert.equal(a[0], b[0], 'same first block, same key');
    assert.notEqual(a[1], b[1], 'a key covers the whole prefix');
    cache.acquire(a, 0, 2);
    assert.equal(cache.match(b, 2), 1);
    assert.equal(cache.evict(10), 0, 'pinned blocks stay');
    cache.release(a, 0, 2);
    assert.equal(cache.idleBlocks, 2);
    assert.equal(cache.evict(1), 1);
    assert.equal(cache.match(a, 2), 1, 'the leaf went first; the shared parent survives');
  });

  it('cached_tokens grows on a repeated prompt and falls back after eviction under a tiny capacity', async () => {
    const { client } = await start({ kvCapacityTokens: 96, blockSize: 16 });
    const a = 'x'.repeat(50);
    const first = await collect(client.generate(request(a, { maxNewTokens: 4 })));
    const second = await collect(client.generate(request(a, { maxNewTokens: 4 })));
    assert.equal(first.complete.cachedTokens, 0);
    assert.equal(second.complete.cachedTokens, 48, 'three full blocks of the 50-token prompt');
    await collect(client.generate(request('y'.repeat(90), { maxNewTokens: 4 })));
    const third = await collect(client.generate(request(a, { maxNewTokens: 4 })));
    assert.equal(third.complete.cachedTokens, 0, 'the 90-token prompt evicted the first one');
  });

  it('prompt logprobs from position k cap the cached prefix at k, as SGLang does', async () => {
    const { client } = await start({});
    const p = 'z'.repeat(100);
    await collect(client.generate(request(p, { maxNewTokens: 1 })));
    const req = { ...request(p, { maxNewTokens: 1 }), returnLogprob: true, logprobStartLen: 40 };
    const out = await collect(client.generate(req));
    assert.equal(out.complete.cachedTokens, 32);
  });
});

describe('sim engine: batching and latency', () => {
  it('honours the latency model: decode_base_ms=20 and 5 tokens take at least 80 ms', async () => {
    const { client } = await start({ latency: { ...FAST, decodeBaseMs: 20 } });
    const t0 = performance.now();
    const out = await collect(client.generate(request('hi', { maxNewTokens: 5 }, true)));
    const ms = performance.now() - t0;
    assert.equal(out.complete.completionTokens, 5);
    assert.equal(out.chunks.length, 5, 'one token per step');
    assert.ok(ms >= 80, `took ${ms} ms`);
    assert.ok(ms < 2000, `took ${ms} ms`);
  });

  it('admits FIFO up to max_running; the rest wait and show up in GetLoads', async () => {
    const { worker, client } = await start({ maxRunning: 1, latency: { ...FAST, decodeBaseMs: 3 } });
    const first = collect(client.generate(request('first', { maxNewTokens: 100 })));
    const second = collect(client.generate(request('second', { maxNewTokens: 100 })));
    await waitFor(() => worker.stats().running + worker.stats().waiting === 2);
    assert.deepEqual([worker.stats().running, worker.stats().waiting], [1, 1]);
    const l = (await loads(client)).loads[0]!;
    assert.deepEqual([l.numRunningReqs, l.numWaitingReqs, l.numWaitingUncachedTokens], [1, 1, 6]);
    assert.ok(l.numUsedTokens > 0);
    await Promise.all([first, second]);
    assert.deepEqual([worker.stats().running, worker.stats().waiting], [0, 0]);
  });

  it('simulates and reports DP ranks separately', async () => {
    const { client, worker } = await start({ dpSize: 2, latency: { ...FAST, decodeBaseMs: 2 } });
    const a = collect(client.generate(request('a', { maxNewTokens: 200 })));
    const b = collect(client.generate(request('b', { maxNewTokens: 200 })));
    await waitFor(() => worker.stats().running === 2);
    const l = await loads(client);
    assert.equal(l.dpRankCount, 2);
    assert.deepEqual(
      l.loads.map((x) => [x.dpRank, x.numRunningReqs]),
      [
        [0, 1],
        [1, 1],
      ],
    );
    assert.equal(l.aggregate?.totalRunningReqs, 2);
    await Promise.all([a, b]);
  });

  it('coalesces tokens while call.write() reports backpressure, and flushes them on drain', async () => {
    // Loopback HTTP/2 buffers far more than a test can fill, so the call is faked here.
    const engine = new SimEngine({ ...FAST, prefillChunk: 0, kvCapacityTokens: 1 << 16, blockSize: 16, maxRunning: 8, eosTokenIds: [EOS] });
    const writes: GenerateResponse[] = [];
    let accept = false;
    let blockedWrites = 0;
    const call = Object.assign(new EventEmitter(), {
      request: request('<<sim tokens=50>>', {}, true),
      write: (msg: GenerateResponse) => writes.push(msg) > 0 && accept,
      end: () => call.emit('ended'),
    });
    const session = new GenerateSession(call as unknown as ServerWritableStream<GenerateRequest, GenerateResponse>, {
      tokenizer: charTokenizer,
      script: await ReplyScript.create(charTokenizer),
      maxContextLength: 1000,
      vocabSize: EOS + 1,
      disaggregationMode: 'null',
      outputStyle: 'plain',
      blockSize: 16,
      pickEngine: () => engine,
      onPromptAccepted: () => {},
      onBlocked: () => void blockedWrites++,
      onFinished: () => {},
      onCancelled: () => {},
      onClosed: () => {},
    });
    const ended = once(call, 'ended');
    await session.run();
    await sleep(30);
    assert.equal(engine.runningCount, 0, 'the engine finished while the call was blocked');
    assert.equal(writes.length, 1, 'nothing written after write() returned false');
    assert.equal(blockedWrites, 1, 'the refused write was reported');
    accept = true;
    call.emit('drain');
    await ended;
    const kinds = writes.map((m) => m.response!.$case);
    assert.deepEqual(kinds, ['chunk', 'chunk', 'complete']);
    const chunk = (i: number) => (writes[i]!.response as { value: GenerateStreamChunk }).value;
    assert.equal(chunk(0).tokenIds.length + chunk(1).tokenIds.length, 51);
    assert.equal(chunk(1).completionTokens, 51);
    engine.stop();
  });

  it('takes a 1.5M-token prompt from a client configured for large messages', async () => {
    const big = { 'grpc.max_send_message_length': 64 << 20, 'grpc.max_receive_message_length': 64 << 20 };
    const { client, worker } = await start({ maxContextLength: 2_000_000 }, big);
    const prompt = Array.from({ length: 1_500_000 }, (_, i) => 32 + (i % 150_000));
    const out = await collect(client.generate(request(prompt, { maxNewTokens: 3 })));
    assert.equal(out.complete.promptTokens, 1_500_000);
    assert.equal(out.complete.completionTokens, 3);
    assert.equal(worker.stats().promptTokens, 1_500_000);
  });
});

describe('sim directives', () => {
  it('parses attributes and escapes, merges blocks in order, and ignores look-alike prose', () => {
    const d = parseDirectives('sys <<sim delay-ms=5 reply="a\\"b\\nc">> user <<simple>> <<sim reply=short tokens=7>>');
    assert.deepEqual(d, { delayMs: 5, reply: 'short', tokens: 7 });
    assert.equal(parseDirectives('<<sim reply="a\\"b\\nc\\\\">>').reply, 'a"b\nc\\');
    assert.deepEqual(parseDirectives('<<sim fail-after=2 error=unavailable>>').failAfter, { chunks: 2, code: 14, message: 'simulated UNAVAILABLE after 2 chunks' });
    assert.deepEqual(parseDirectives('<<sim legacy-error=503>>').legacyError, { message: 'simulated legacy worker error', httpStatusCode: '503' });
    assert.deepEqual(parseDirectives('<<sim legacy-error="boom">>').legacyError, { message: 'boom', httpStatusCode: '500' });
    assert.throws(() => parseDirectives('<<sim error=NOPE>>'), DirectiveError);
    assert.throws(() => parseDirectives('<<sim tokens=-1>>'), DirectiveError);
    assert.throws(() => parseDirectives('<<sim reply="open>>'), DirectiveError);
  });
});

describe('sim engine: CLI', () => {
  it('rejects unknown flags and bad numbers with exit code 2, and prints help', async () => {
    const errors: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((s: string) => errors.push(s) > 0) as typeof process.stderr.write;
    try {
      assert.equal(await runSimCommand(['--bogus']), 2);
      assert.equal(await runSimCommand(['--tokenizer-path', '/x', '--block-size', '0']), 2);
      assert.equal(await runSimCommand(['--port', '1']), 2, '--tokenizer-path is required');
    } finally {
      process.stderr.write = write;
    }
    assert.match(errors.join(''), /bogus/);
    assert.match(errors.join(''), /--block-size must be an integer/);
    const out = process.stdout.write;
    let help = '';
    process.stdout.write = ((s: string) => (help += s).length > 0) as typeof process.stdout.write;
    try {
      assert.equal(await runSimCommand(['--help']), 0);
    } finally {
      process.stdout.write = out;
    }
    assert.match(help, /--kv-tokens/);
  });
});
