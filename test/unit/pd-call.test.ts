import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiError } from '../../src/errors.js';
import { PdMetrics } from '../../src/metrics/pd-metrics.js';
import { Registry } from '../../src/metrics/registry.js';
import { RoutingMetrics } from '../../src/metrics/routing-metrics.js';
import { Dispatcher } from '../../src/pipeline/dispatch.js';
import { RetryPolicy } from '../../src/pipeline/retry-policy.js';
import { GenerateRequest, type GenerateResponse } from '../../src/gen/sglang/grpc/scheduler/sglang_scheduler.js';
import { startSimWorker, type DisaggregationMode, type SimWorker } from '../../src/sim/server.js';
import { loadModelAssets } from '../../src/tokenizer/assets.js';
import { bundledTokenizerDir } from '../../src/tokenizer/bundled.js';
import { WorkerFleet, type FleetOptions, type WorkerEntry } from '../../src/workers/fleet.js';
import { BOOTSTRAP_ROOM_BOUND, bootstrapParams, DEFAULT_BOOTSTRAP_PORT, generatePair } from '../../src/workers/pd-call.js';
import { bundledTokenizer, waitFor } from '../helpers/harness.js';

const OPTS: FleetOptions = {
  health: { intervalMs: 60_000, timeoutMs: 1_000, failureThreshold: 2, successThreshold: 2 },
  breaker: { failureThreshold: 3, successThreshold: 2, openMs: 1_000, disabled: false },
  loadIntervalMs: 60_000,
  dpAware: false,
};

let prefillSim: SimWorker;
let decodeSim: SimWorker;
let fleet: WorkerFleet;
let prefill: WorkerEntry;
let decode: WorkerEntry;
let encode: (text: string) => Promise<number[]>;

async function sim(mode: DisaggregationMode): Promise<SimWorker> {
  const tokenizer = await bundledTokenizer('qwen3');
  const { eosTokenIds } = await loadModelAssets(bundledTokenizerDir('qwen3'));
  // A decode step of 5 ms leaves time to act between two tokens.
  return startSimWorker({ tokenizer, eosTokenIds, disaggregationMode: mode, latency: { prefillTokensPerSec: 0, decodeBaseMs: mode === 'decode' ? 5 : 0, decodePerReqMs: 0 } });
}

before(async () => {
  const tokenizer = await bundledTokenizer('qwen3');
  encode = async (text) => Array.from(await tokenizer.encode(text, false));
  [prefillSim, decodeSim] = await Promise.all([sim('prefill'), sim('decode')]);
  fleet = new WorkerFleet(OPTS);
  [prefill] = (await fleet.add(prefillSim.url, { role: 'prefill', bootstrapPort: 9123 })) as [WorkerEntry];
  [decode] = (await fleet.add(decodeSim.url, { role: 'decode' })) as [WorkerEntry];
});

after(async () => {
  fleet.close();
  await Promise.all([prefillSim.close(), decodeSim.close()]);
});

let nextId = 0;
async function request(prompt: string, stream: boolean): Promise<GenerateRequest> {
  return GenerateRequest.fromPartial({
    requestId: `pd-${nextId++}`,
    tokenized: { originalText: prompt, inputIds: await encode(prompt) },
    samplingParams: { temperature: 0.5, topP: 0.9, topK: -1, repetitionPenalty: 1, n: 1, maxNewTokens: 64 },
    stream,
    logprobStartLen: -1,
  });
}

/** The GenerateRequests a sim received, by request id. */
function recorder(w: SimWorker): Map<string, GenerateRequest> {
  const seen = new Map<string, GenerateRequest>();
  w.events.on('request', (r: GenerateRequest) => seen.set(r.requestId, r));
  return seen;
}

/** Runs a pair to its end: the messages relayed and the error, if any. */
function runPair(req: GenerateRequest, onPrefillFailure?: (err: ApiError, failedPair: boolean) => void) {
  const messages: GenerateResponse[] = [];
  return new Promise<{ messages: GenerateResponse[]; err: ApiError | undefined }>((resolve) => {
    generatePair(
      fleet.lease(prefill, 10),
      fleet.lease(decode, 10),
      req,
      { message: (m) => messages.push(m), end: (err) => resolve({ messages, err }) },
      onPrefillFailure ? { onPrefillFailure } : {},
    );
  });
}

/** Resolves when the sim saw the request cancelled or aborted. */
function stopped(w: SimWorker, requestId: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (id: string) => {
      if (id !== requestId) return;
      w.events.off('cancelled', on);
      w.events.off('abort', on);
      resolve();
    };
    w.events.on('cancelled', on);
    w.events.on('abort', on);
  });
}

const leasesReleased = () => waitFor(() => prefill.inFlight === 0 && decode.inFlight === 0, 2_000, 'both leases finished');

describe('prefill/decode pair call', () => {
  it('sends both legs the same request id, input ids, sampling params and rendezvous, and relays the decode stream', async () => {
    const p = recorder(prefillSim);
    const d = recorder(decodeSim);
    const req = await request('<<sim tokens=12>> Tell me about trains.', true);
    const { messages, err } = await runPair(req);
    assert.equal(err, undefined);
    const chunks = messages.filter((m) => m.response?.$case === 'chunk');
    assert.ok(chunks.length >= 12, `every decode token relayed (a prefill leg stops after one), got ${chunks.length} chunks`);
    assert.equal(messages.at(-1)?.response?.$case, 'complete');
    const pr = p.get(req.requestId)!;
    const dr = d.get(req.requestId)!;
    assert.deepEqual(pr.tokenized!.inputIds, req.tokenized!.inputIds);
    assert.deepEqual(dr.tokenized!.inputIds, req.tokenized!.inputIds);
    assert.deepEqual(pr.samplingParams, dr.samplingParams);
    assert.equal(pr.samplingParams!.temperature, 0.5);
    assert.equal(pr.samplingParams!.maxNewTokens, 64);
    assert.deepEqual(pr.disaggregatedParams, dr.disaggregatedParams);
    assert.equal(pr.disaggregatedParams!.bootstrapHost, '127.0.0.1');
    assert.equal(pr.disaggregatedParams!.bootstrapPort, 9123);
    const room = pr.disaggregatedParams!.bootstrapRoom;
    assert.ok(Number.isInteger(room) && room >= 0 && room < BOOTSTRAP_ROOM_BOUND, `room ${room}`);
    assert.equal(req.disaggregatedParams, undefined, 'the caller\'s request is left as it was');
    await leasesReleased();
  });

  it('draws a fresh room for every call', async () => {
    const p = recorder(prefillSim);
    const reqs = await Promise.all(['one', 'two', 'three'].map((w) => request(`<<sim tokens=2>> ${w}`, false)));
    for (const r of reqs) assert.equal((await runPair(r)).err, undefined);
    const rooms = new Set(reqs.map((r) => p.get(r.requestId)!.disaggregatedParams!.bootstrapRoom));
    assert.equal(rooms.size, 3);
    await leasesReleased();
  });

  it('defaults the bootstrap port to 8998 and takes the bare host of an IPv6 URL', async () => {
    const other = new WorkerFleet({ ...OPTS });
    try {
      const [v6] = await other.add('grpc://[::1]:7001', { role: 'prefill' });
      assert.deepEqual(bootstrapParams(v6!, 42), { bootstrapHost: '::1', bootstrapPort: DEFAULT_BOOTSTRAP_PORT, bootstrapRoom: 42 });
    } finally {
      other.close();
    }
  });

  it('fails the pair with prefill_worker_failed when the prefill leg fails first, and stops the decode leg', async () => {
    const req = await request('<<sim prefill-error=UNAVAILABLE tokens=400>> hello', true);
    const decodeStopped = stopped(decodeSim, req.requestId);
    const reported: [string | null, boolean][] = [];
    const { err } = await runPair(req, (e, failedPair) => reported.push([e.code, failedPair]));
    assert.ok(err instanceof ApiError);
    assert.deepEqual(reported, [['worker_unavailable', true]], 'the prefill leg\'s own error is reported');
    assert.equal(err.code, 'prefill_worker_failed');
    assert.equal(err.status, 503, 'the prefill status is kept, so retries can judge it');
    assert.match(err.message, /prefill/);
    await decodeStopped;
    await leasesReleased();
  });

  it('only reports a prefill failure that comes after the decode stream finished', async () => {
    const req = await request('<<sim prefill-error=INTERNAL prefill-delay-ms=300 tokens=3>> hello', false);
    let late: ApiError | undefined;
    const { messages, err } = await runPair(req, (e, failedPair) => {
      assert.equal(failedPair, false);
      late = e;
    });
    assert.equal(err, undefined);
    assert.equal(messages.length, 1, 'the decode Complete');
    await waitFor(() => late !== undefined, 2_000, 'the late prefill error');
    assert.equal(late!.status, 502);
    await leasesReleased();
  });

  it('does not count a late prefill failure under a prefill worker removed meanwhile (its series stay gone)', async () => {
    const own = new WorkerFleet(OPTS);
    try {
      const [p] = (await own.add(prefillSim.url, { role: 'prefill' })) as [WorkerEntry];
      const [d] = (await own.add(decodeSim.url, { role: 'decode' })) as [WorkerEntry];
      for (const e of [p, d]) {
        e.server.health.probeSucceeded();
        e.server.model = 'm';
      }
      const registry = new Registry();
      const dispatcher = new Dispatcher(own, {
        policy: 'round_robin',
        pd: { prefillPolicy: 'round_robin', decodePolicy: 'round_robin', metrics: new PdMetrics(registry, [1]) },
        policyOptions: {},
        retry: new RetryPolicy({ maxAttempts: 1, initialBackoffMs: 1, maxBackoffMs: 1, multiplier: 1, jitterFactor: 0 }),
        metrics: new RoutingMetrics(registry),
      });
      const req = await request('<<sim prefill-error=INTERNAL prefill-delay-ms=300 tokens=3>> hello', false);
      const attempt = dispatcher.begin({ model: 'm', route: '/generate', input: { tokens: req.tokenized!.inputIds } }).next();
      const err = await new Promise<ApiError | undefined>((resolve) => attempt.call(req, { message: () => undefined, end: resolve }, {}));
      assert.equal(err, undefined, 'the decode leg answered');
      attempt.finish('ok');
      own.remove(p.id);
      await waitFor(() => p.inFlight === 0, 2_000, 'the late prefill failure');
      assert.ok(!registry.expose().includes(p.id), 'no series names the removed prefill worker');
    } finally {
      own.close();
    }
  });

  for (const stream of [false, true]) {
    it(`copies the prefill leg's prompt logprobs into the decode Complete, waiting for a prefill slower than the decode (stream=${stream})`, async () => {
      const prompt = '<<sim tokens=3 prefill-delay-ms=120>> Score my prompt.';
      const req = { ...(await request(prompt, stream)), returnLogprob: true, logprobStartLen: 0 };
      const decodeOwn: GenerateResponse[] = [];
      const direct = { ...req, requestId: `${req.requestId}-direct`, disaggregatedParams: bootstrapParams(prefill, 5) };
      await new Promise((resolve) => decode.client.generate(direct, { message: (m) => decodeOwn.push(m), end: resolve }));
      assert.ok(decodeOwn.every((m) => m.response?.$case !== 'complete' || m.response.value.inputLogprobs === undefined), 'a decode worker has no prompt logprobs');
      const { messages, err } = await runPair(req);
      assert.equal(err, undefined);
      const complete = messages.at(-1)!.response;
      assert.ok(complete?.$case === 'complete');
      const input = complete.value.inputLogprobs;
      assert.deepEqual(input?.tokenIds, await encode(prompt));
      assert.equal(input!.tokenLogprobs[0]!.value, undefined, 'the first prompt token has no logprob');
      assert.ok(input!.tokenLogprobs.slice(1).every((l) => typeof l.value === 'number' && l.value <= 0));
      await leasesReleased();
    });
  }

  it('leaves a decode Complete as it is when prompt logprobs were not asked for', async () => {
    const { messages, err } = await runPair({ ...(await request('<<sim tokens=3 prefill-delay-ms=50>> No scores.', false)), returnLogprob: true });
    assert.equal(err, undefined);
    const complete = messages.at(-1)!.response;
    assert.ok(complete?.$case === 'complete');
    assert.equal(complete.value.inputLogprobs, undefined);
    assert.ok(complete.value.outputLogprobs!.tokenIds.length > 0, 'the output logprobs are there');
  });

  it('cancel(), abort() and finish() stop both legs on both workers and release both leases', async () => {
    const req = await request('<<sim prefill-delay-ms=5000 tokens=500>> hello', true);
    const both = Promise.all([stopped(prefillSim, req.requestId), stopped(decodeSim, req.requestId)]);
    let ended = false;
    await new Promise<void>((resolve) => {
      const call = generatePair(fleet.lease(prefill, 10), fleet.lease(decode, 10), req, {
        message: () => {
          call.cancel();
          call.abort('client went away');
          call.finish('cancelled');
          resolve();
        },
        end: () => (ended = true),
      });
    });
    await both;
    assert.equal(ended, false, 'a cancelled call ends nothing, like a single worker call');
    await leasesReleased();
  });

  // Last in this suite: it leaves the prefill worker's breaker open.
  it('charges a failing prefill leg to the prefill worker\'s breaker only', async () => {
    for (let i = 0; i < OPTS.breaker.failureThreshold; i++) {
      const { err } = await runPair(await request('<<sim prefill-error=INTERNAL tokens=50>> hello', false));
      assert.equal(err?.code, 'prefill_worker_failed');
    }
    await leasesReleased();
    assert.equal(fleet.view(prefill).circuit_breaker, 'open');
    assert.equal(fleet.view(decode).circuit_breaker, 'closed');
  });
});

describe('simulated disaggregated workers', () => {
  it('reject a request without disaggregated_params', async () => {
    for (const entry of [prefill, decode]) {
      const req = await request('hello', false);
      const err = await new Promise<ApiError | undefined>((resolve) => entry.client.generate(req, { message: () => undefined, end: resolve }));
      assert.ok(err instanceof ApiError, entry.role);
      assert.equal(err.status, 400);
      assert.match(err.message, /disaggregated_params/);
    }
  });

  it('a prefill worker answers with the first token only, finish reason length', async () => {
    const req = { ...(await request('<<sim tokens=50>> hello', false)), disaggregatedParams: bootstrapParams(prefill, 7) };
    const messages: GenerateResponse[] = [];
    const err = await new Promise<ApiError | undefined>((resolve) => prefill.client.generate(req, { message: (m) => messages.push(m), end: resolve }));
    assert.equal(err, undefined);
    assert.equal(messages.length, 1);
    const r = messages[0]!.response;
    assert.ok(r?.$case === 'complete');
    assert.equal(r.value.outputIds.length, 1);
    assert.equal(r.value.finishReason, 'length');
  });
});
