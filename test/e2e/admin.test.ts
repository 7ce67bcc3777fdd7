import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startSimWorker, type SimWorker, type SimWorkerOptions } from '../../src/sim/server.js';
import { bundledTokenizerDir } from '../../src/tokenizer/bundled.js';
import { MODEL, startHarness, waitFor, type Harness } from '../helpers/harness.js';

interface AdminResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

async function admin(h: Harness, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<AdminResponse> {
  const res = await fetch(`${h.url}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: text.startsWith('{') ? JSON.parse(text) : undefined };
}

const workerPath = (id: string) => `/workers/${encodeURIComponent(id)}`;

function extraSim(h: Harness, opts: Partial<SimWorkerOptions> = {}): Promise<SimWorker> {
  return startSimWorker({
    tokenizer: h.tokenizer,
    tokenizerPath: bundledTokenizerDir('qwen3'),
    servedModelName: MODEL,
    eosTokenIds: [151645],
    latency: { prefillTokensPerSec: 0, decodeBaseMs: 0, decodePerReqMs: 0 },
    ...opts,
  });
}

async function chats(h: Harness, n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await h.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `${tag} ${i}` }], max_tokens: 4 });
    assert.ok(res.choices[0]!.finish_reason);
  }
}

describe('registering and removing workers at runtime', () => {
  let h: Harness;
  const extras: SimWorker[] = [];
  before(async () => {
    // Round robin: these tests ask whether a worker gets traffic at all, which cache affinity would decide instead.
    h = await startHarness({ workers: 1, routerArgs: ['--policy', 'round_robin'] });
  });
  after(async () => {
    await h.close();
    await Promise.all(extras.map((w) => w.close()));
  });

  it('adds a worker with POST /workers (202 + Location) and routes traffic to it once healthy', async () => {
    const sim = await extraSim(h);
    extras.push(sim);
    const res = await admin(h, 'POST', '/workers', { url: sim.url });
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('location'), workerPath(sim.url));
    assert.equal(res.json.status, 'accepted');
    assert.equal(res.json.admitted, true);
    assert.equal(res.json.workers[0].url, sim.url);
    await h.router.fleet.whenRoutable(2, 5_000);
    await chats(h, 6, 'spread');
    assert.ok(sim.stats().generates >= 2, 'the new worker takes its share');
  });

  it('refuses a duplicate with 409, a bad URL or body with 400, and a worker whose model cannot be loaded with 400', async () => {
    const [, added] = h.router.fleet.list();
    const dup = await admin(h, 'POST', '/workers', { url: added!.url.replace('grpc://', '') });
    assert.equal(dup.status, 409);
    assert.equal(dup.json.error.code, 'worker_exists');

    const badUrl = await admin(h, 'POST', '/workers', { url: 'ftp://127.0.0.1:1' });
    assert.equal(badUrl.status, 400);
    assert.equal(badUrl.json.error.code, 'invalid_worker_url');
    const badType = await admin(h, 'POST', '/workers', { url: 5 });
    assert.equal(badType.status, 400);
    assert.equal(badType.json.error.param, 'url');
    const unknownField = await admin(h, 'POST', '/workers', { url: '127.0.0.1:1', priority: 3 });
    assert.equal(unknownField.status, 400);
    assert.equal(unknownField.json.error.param, 'priority');

    // A new model whose tokenizer the router cannot find: the worker is refused, not left unservable.
    const other = await extraSim(h, { servedModelName: 'another-model', tokenizerPath: '/nonexistent/tokenizer' });
    extras.push(other);
    const mismatch = await admin(h, 'POST', '/workers', { url: other.url });
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.json.error.code, 'model_unavailable');
    assert.match(mismatch.json.error.message, /another-model/);
    assert.equal((await h.client.models.list()).data.length, 1, 'the refused model is not listed');
    assert.equal(h.router.fleet.has(other.url), false, 'the rejected worker is removed again');
    assert.equal((await admin(h, 'GET', workerPath(other.url))).status, 404);
  });

  it('finds a worker by its URL-encoded URL in any accepted form, and answers 404 for an unknown one', async () => {
    const [, added] = h.router.fleet.list();
    const byUrl = await admin(h, 'GET', workerPath(added!.url));
    assert.equal(byUrl.status, 200);
    assert.equal(byUrl.json.url, added!.url);
    assert.equal(byUrl.json.state, 'ready');
    assert.equal(byUrl.json.has_api_key, false);
    const byHostPort = await admin(h, 'GET', workerPath(added!.url.replace('grpc://', '')));
    assert.equal(byHostPort.json.id, added!.id);
    const missing = await admin(h, 'GET', workerPath('grpc://127.0.0.1:1'));
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.code, 'worker_not_found');
    assert.equal((await admin(h, 'PUT', workerPath('grpc://127.0.0.1:1'), { disabled: true })).status, 404);
    assert.equal((await admin(h, 'DELETE', workerPath('nonsense'))).status, 404);
  });

  it('lists workers with counts by role and filters by model', async () => {
    const all = await admin(h, 'GET', '/workers');
    assert.equal(all.status, 200);
    assert.equal(all.json.total, 2);
    assert.deepEqual(all.json.stats, { regular_count: 2, prefill_count: 0, decode_count: 0 });
    assert.equal((await admin(h, 'GET', `/workers?model=${MODEL}`)).json.total, 2);
    assert.equal((await admin(h, 'GET', '/workers?model=nope')).json.total, 0);
  });

  it('PUT disabled / is_dead takes a worker out of rotation and clearing them brings it back', async () => {
    const [first, added] = h.router.fleet.list();
    const sim = extras[0]!;
    const off = await admin(h, 'PUT', workerPath(added!.id), { disabled: true });
    assert.equal(off.status, 200);
    assert.equal(off.json.disabled, true);
    assert.equal(off.json.routable, false);
    let before = sim.stats().generates;
    await chats(h, 4, 'disabled');
    assert.equal(sim.stats().generates, before, 'a disabled worker gets nothing');

    assert.equal((await admin(h, 'PUT', workerPath(added!.id), { disabled: false, is_dead: true })).json.dead, true);
    before = sim.stats().generates;
    await chats(h, 4, 'dead');
    assert.equal(sim.stats().generates, before, 'a dead worker gets nothing');

    const cleared = await admin(h, 'PUT', workerPath(added!.id), { is_dead: false });
    assert.equal(cleared.json.dead, false);
    await waitFor(() => h.router.fleet.isRoutable(added!), 5_000, 'the cleared worker to pass a probe');
    await chats(h, 4, 'back');
    assert.ok(sim.stats().generates > before, 'the worker takes traffic again');
    assert.ok(h.router.fleet.isRoutable(first!));
  });

  it('a PUT with one bad field changes nothing (400)', async () => {
    const [, added] = h.router.fleet.list();
    for (const body of [{ disabled: true, is_dead: 'yes' }, { disabled: true, draining: true }, {}]) {
      const res = await admin(h, 'PUT', workerPath(added!.id), body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.json.error.type, 'invalid_request_error');
      assert.equal(added!.disabled, false);
      assert.equal(added!.dead, false);
    }
  });

  it('reports per-worker loads on GET /get_loads', async () => {
    await h.router.fleet.refreshLoads();
    const res = await admin(h, 'GET', '/get_loads');
    assert.equal(res.status, 200);
    assert.equal(res.json.workers.length, 2);
    for (const w of res.json.workers) {
      assert.equal(typeof w.worker, 'string');
      assert.equal(w.dp_rank, null);
      assert.equal(w.in_flight, 0);
      assert.equal(w.load.kv_capacity_tokens, 524288);
      assert.equal(typeof w.load.kv_usage, 'number');
      assert.equal(typeof w.load.age_ms, 'number');
    }
  });

  it('exposes per-worker health, breaker, in-flight and load gauges on /metrics', async () => {
    const [, added] = h.router.fleet.list();
    const text = await (await fetch(`${h.router.metricsUrl}/metrics`)).text();
    const worker = `worker="${added!.id}"`;
    assert.ok(text.includes(`switchyard_worker_health_state{${worker},state="ready"} 1`), text);
    assert.ok(text.includes(`switchyard_worker_health_state{${worker},state="failed"} 0`));
    assert.ok(text.includes(`switchyard_worker_routable{${worker}} 1`));
    assert.ok(text.includes(`switchyard_worker_cb_state{${worker}} 0`));
    assert.ok(text.includes(`switchyard_worker_requests_active{${worker}} 0`));
    assert.match(text, new RegExp(`switchyard_worker_kv_usage\\{${worker.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\} [0-9.e-]+`));
    assert.ok(text.includes(`switchyard_worker_state_transitions_total{${worker},from="ready",to="pending"} 1`), 'the cleared quarantine restarted its health');
  });

  it('DELETE drains: the in-flight request finishes, nothing new is routed there, its gauges go away', async () => {
    const slow = await extraSim(h, { latency: { prefillTokensPerSec: 0, decodeBaseMs: 15, decodePerReqMs: 0 } });
    extras.push(slow);
    assert.equal((await admin(h, 'POST', '/workers', { url: slow.url })).status, 202);
    await h.router.fleet.whenRoutable(3, 5_000);
    const others = h.router.fleet.list().filter((e) => e.url !== slow.url);
    for (const e of others) await admin(h, 'PUT', workerPath(e.id), { disabled: true });

    let finishedOnSlow = 0;
    slow.events.on('finished', () => finishedOnSlow++);
    const pending = h.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'a long answer' }], max_tokens: 40, stream: false });
    await waitFor(() => slow.stats().running === 1, 5_000, 'the request to start on the slow worker');
    const del = await admin(h, 'DELETE', workerPath(slow.url));
    assert.equal(del.status, 202);
    assert.equal(del.json.in_flight, 1);
    for (const e of others) await admin(h, 'PUT', workerPath(e.id), { disabled: false });

    const res = await pending;
    assert.ok(res.choices[0]!.finish_reason === 'stop' || res.choices[0]!.finish_reason === 'length', 'the in-flight request ran to its end');
    assert.ok(res.usage!.completion_tokens > 0);
    assert.equal(slow.stats().cancelled, 0, 'removal did not cut the running call');
    assert.equal(finishedOnSlow, 1, 'the removed worker itself finished it');
    const before = slow.stats().generates;
    await chats(h, 4, 'after delete');
    assert.equal(slow.stats().generates, before, 'a removed worker gets nothing');
    assert.equal((await admin(h, 'GET', workerPath(slow.url))).status, 404);
    const text = await (await fetch(`${h.router.metricsUrl}/metrics`)).text();
    assert.ok(!text.includes(`worker="${slow.url}"}`), 'the removed worker has no gauges');
  });

  it('sends a per-worker API key to the worker and never returns it', async () => {
    const keyed = await extraSim(h, { apiKey: 'worker-secret-123' });
    extras.push(keyed);
    const add = await admin(h, 'POST', '/workers', { url: keyed.url, api_key: 'worker-secret-123' });
    assert.equal(add.status, 202);
    assert.equal(add.json.admitted, true, 'GetModelInfo carried the key');
    assert.equal(add.json.workers[0].has_api_key, true);
    await waitFor(() => h.router.fleet.isRoutable(h.router.fleet.get(keyed.url)!), 5_000, 'the keyed worker to become ready');
    const bodies = [
      add.text,
      (await admin(h, 'GET', '/workers')).text,
      (await admin(h, 'GET', workerPath(keyed.url))).text,
      (await admin(h, 'PUT', workerPath(keyed.url), { disabled: false })).text,
      (await admin(h, 'GET', '/get_loads')).text,
      (await admin(h, 'DELETE', workerPath(keyed.url))).text,
    ];
    for (const b of bodies) assert.ok(!b.includes('worker-secret-123'), b);
  });
});

describe('POST /flush_cache', () => {
  let h: Harness;
  let down: SimWorker;
  before(async () => {
    h = await startHarness({ workers: 1 });
  });
  after(() => h.close());

  const prompt = 'The quick brown fox jumps over the lazy dog while the five boxing wizards jump quickly. '.repeat(4);
  const cachedTokens = async (): Promise<number> => {
    const res = await h.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: prompt }], max_tokens: 2 });
    return res.usage?.prompt_tokens_details?.cached_tokens ?? 0;
  };

  it('flushes every worker (200) and the next identical request finds nothing cached', async () => {
    await cachedTokens();
    assert.ok((await cachedTokens()) > 0, 'the repeated prompt is served from the prefix cache');
    const flushed = new Promise((resolve) => h.router.fleet.once('flushed', resolve));
    const res = await admin(h, 'POST', '/flush_cache');
    assert.equal(res.status, 200);
    assert.equal(res.json.status, 'success');
    assert.equal(res.json.workers_flushed, 1);
    assert.deepEqual(res.json.successful, [h.workers[0]!.url]);
    assert.deepEqual(await flushed, h.router.fleet.list(), "the fleet announces the flushed worker's entries");
    assert.equal(await cachedTokens(), 0, 'the cache was really emptied');
  });

  it('answers 206 partial_success with the failing worker when one is down', async () => {
    down = await extraSim(h);
    const url = down.url;
    await down.close();
    const add = await admin(h, 'POST', '/workers', { url });
    assert.equal(add.status, 202);
    assert.equal(add.json.admitted, false, 'an unreachable worker stays pending');
    const res = await admin(h, 'POST', '/flush_cache');
    assert.equal(res.status, 206);
    assert.equal(res.json.status, 'partial_success');
    assert.equal(res.json.workers_flushed, 1);
    assert.equal(res.json.total_workers, 2);
    assert.deepEqual(res.json.successful, [h.workers[0]!.url]);
    assert.equal(res.json.failed.length, 1);
    assert.equal(res.json.failed[0].worker, url);
    assert.equal(typeof res.json.failed[0].error, 'string');
  });
});

describe('admin route keys', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ workers: 1, routerArgs: ['--api-key', 'client-key', '--admin-api-key', 'admin-key'] });
  });
  after(() => h.close());

  it('/workers needs the admin key: 401 without or with a wrong key, 403 with the client key', async () => {
    const none = await admin(h, 'GET', '/workers');
    assert.equal(none.status, 401);
    assert.equal(none.json.error.code, 'missing_api_key');
    assert.equal((await admin(h, 'GET', '/workers', undefined, { authorization: 'Bearer wrong' })).status, 401);
    const client = await admin(h, 'POST', '/flush_cache', undefined, { authorization: 'Bearer client-key' });
    assert.equal(client.status, 403);
    assert.equal(client.json.error.code, 'admin_key_required');
    const ok = await admin(h, 'GET', '/workers', undefined, { authorization: 'Bearer admin-key' });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.total, 1);
    assert.equal((await admin(h, 'GET', '/get_loads', undefined, { authorization: 'Bearer admin-key' })).status, 200);
    assert.equal((await admin(h, 'GET', '/health')).status, 200);
  });
});

describe('admin routes under --api-key alone', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ workers: 1, routerArgs: ['--api-key', 'only-key'] });
  });
  after(() => h.close());

  it('accept the API key and refuse anything else with 401', async () => {
    assert.equal((await admin(h, 'GET', '/workers', undefined, { authorization: 'Bearer only-key' })).status, 200);
    assert.equal((await admin(h, 'DELETE', workerPath(h.workers[0]!.url), undefined, { authorization: 'Bearer nope' })).status, 401);
    assert.equal(h.router.fleet.list().length, 1);
  });
});
