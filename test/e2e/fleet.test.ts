import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GenerateRequest } from '../../src/gen/sglang/grpc/scheduler/sglang_scheduler.js';
import { startSimWorker, type SimWorker } from '../../src/sim/server.js';
import { bundledTokenizerDir } from '../../src/tokenizer/bundled.js';
import type { WorkerClient } from '../../src/workers/worker-client.js';
import { MODEL, startHarness, waitFor, type Harness } from '../helpers/harness.js';

async function chat(h: Harness, content = 'hello'): Promise<string> {
  const res = await h.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content }], max_tokens: 8 });
  assert.ok(res.choices[0]!.finish_reason);
  return res.choices[0]!.message.content ?? '';
}

function restartSim(h: Harness, port: number, extra: { apiKey?: string } = {}): Promise<SimWorker> {
  return startSimWorker({
    tokenizer: h.tokenizer,
    tokenizerPath: bundledTokenizerDir('qwen3'),
    servedModelName: MODEL,
    eosTokenIds: [151645],
    latency: { prefillTokensPerSec: 0, decodeBaseMs: 0, decodePerReqMs: 0 },
    port,
    ...extra,
  });
}

const generates = (h: Harness) => h.workers.map((w) => w.stats().generates);

describe('losing and regaining a worker', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ workers: 3, routerArgs: ['--policy', 'round_robin'] });
  });
  after(() => h.close());

  it('keeps serving when a worker dies between requests, takes it out within a second and takes it back once restarted', async () => {
    for (let i = 0; i < 3; i++) await chat(h);
    const victim = h.workers[1]!;
    const port = victim.port;
    await victim.close();
    for (let i = 0; i < 6; i++) await chat(h, `after the loss ${i}`);
    await waitFor(() => h.router.fleet.routable().length === 2, 1_000, 'the dead worker to leave rotation');
    assert.notEqual(h.router.fleet.get(victim.url)!.state, 'ready');

    const reborn = await restartSim(h, port);
    h.workers[1] = reborn;
    await waitFor(() => h.router.fleet.routable().length === 3, 10_000, 'the restarted worker to come back');
    for (let i = 0; i < 6; i++) await chat(h, `after the return ${i}`);
    assert.ok(reborn.stats().generates > 0, 'the restarted worker gets traffic again');
  });
});

describe('operator flags', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ workers: 3, routerArgs: ['--policy', 'round_robin'] });
  });
  after(() => h.close());

  it('sends nothing to disabled or dead workers, and resumes when the flags are cleared', async () => {
    const [a, b] = h.router.fleet.list();
    h.router.fleet.setFlags(a!.id, { disabled: true });
    h.router.fleet.setFlags(b!.id, { dead: true });
    const before = generates(h);
    for (let i = 0; i < 6; i++) await chat(h);
    const delta = generates(h).map((n, i) => n - before[i]!);
    assert.deepEqual(delta, [0, 0, 6]);

    h.router.fleet.setFlags(a!.id, { disabled: false });
    h.router.fleet.setFlags(b!.id, { dead: false });
    await waitFor(() => h.router.fleet.routable().length === 3, 5_000, 'the quarantined worker to be probed back');
    const mid = generates(h);
    for (let i = 0; i < 6; i++) await chat(h);
    assert.deepEqual(generates(h).map((n, i) => n - mid[i]!), [2, 2, 2]);
  });
});

describe('data-parallel ranks', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ workers: 1, sim: { dpSize: 3 }, routerArgs: ['--dp-aware', '--policy', 'round_robin'] });
  });
  after(() => h.close());

  it('routes to each rank as its own worker and sets data_parallel_rank', async () => {
    assert.deepEqual(
      h.router.fleet.list().map((e) => e.id),
      [0, 1, 2].map((r) => `${h.workers[0]!.url}@${r}`),
    );
    const ranks: number[] = [];
    const onRequest = (req: GenerateRequest) => ranks.push(req.dataParallelRank);
    h.workers[0]!.events.on('request', onRequest);
    for (let i = 0; i < 6; i++) await chat(h);
    h.workers[0]!.events.off('request', onRequest);
    assert.deepEqual(ranks, [0, 1, 2, 0, 1, 2]);
  });
});

describe('per-worker API keys', () => {
  let h: Harness;
  const extra: SimWorker[] = [];
  before(async () => {
    h = await startHarness({ workers: 1 });
  });
  after(async () => {
    await h.close();
    await Promise.all(extra.map((w) => w.close()));
  });

  it('sends the worker its key as bearer metadata, and a worker that refuses the key never gets traffic', async () => {
    const keyed = await restartSim(h, 0, { apiKey: 'worker-secret' });
    const strict = await restartSim(h, 0, { apiKey: 'other-secret' });
    extra.push(keyed, strict);
    // Admitted as the router admits its workers: a worker is routable for the model its GetModelInfo names.
    const admit = (url: string) => (client: WorkerClient) => h.router.models.admit(url, client, 1_000);
    await h.router.fleet.add(keyed.url, { apiKey: 'worker-secret', admit: admit(keyed.url) });
    await h.router.fleet.add(strict.url, { apiKey: 'wrong', admit: admit(strict.url) });
    await h.router.fleet.whenRoutable(2, 5_000);
    h.router.fleet.setFlags(h.workers[0]!.url, { disabled: true });
    for (let i = 0; i < 4; i++) await chat(h);
    assert.equal(keyed.stats().generates, 4);
    assert.equal(strict.stats().generates, 0);
    assert.equal(h.router.fleet.get(strict.url)!.state, 'pending');
    assert.ok(!JSON.stringify(h.router.fleet.describe()).includes('secret'));
  });
});

describe('--worker-api-key', () => {
  let h: Harness;
  before(async () => {
    // The harness waits for the workers to be routable: a sim that refused the key would never be.
    h = await startHarness({ workers: 2, sim: { apiKey: 'cli-secret' }, routerArgs: ['--worker-api-key', 'cli-secret'] });
  });
  after(async () => {
    await h.close();
  });

  it('is sent to every worker listed on the command line and never shown by the admin API', async () => {
    await chat(h);
    assert.equal(h.workers.reduce((n, w) => n + w.stats().generates, 0), 1);
    const listed = await (await fetch(`${h.url}/workers`)).text();
    assert.ok(!listed.includes('cli-secret'));
    assert.ok(listed.includes('"has_api_key":true'));
  });
});
