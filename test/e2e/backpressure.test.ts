import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { MODEL, sseData, startHarness, streamChat, waitFor, type Harness, type HarnessOptions } from '../helpers/harness.js';

/** Far more SSE than loopback socket and HTTP/1.1 buffers hold (~150 bytes an event): the router must pause. */
const LONG = '<<sim tokens=50000>>';
/** What the router may hold for one stalled stream: a few gRPC messages' events, nowhere near the ~7 MB answer. */
const BUFFER_BOUND = 512 * 1024;
/** How long the client stalls once backpressure reached the worker, sampling the router's buffers. */
const STALL_MS = 400;
/** Stalled streams at once: enough paused flow-control windows to starve a connection that is not shared fairly. */
const STALLED_STREAMS = 8;

const body = (stream: boolean) => JSON.stringify({ model: MODEL, stream, max_tokens: 60000, messages: [{ role: 'user', content: `tell a long story ${LONG}` }] });

/** A streamed request whose response body is not read until told: the socket fills up. */
function stalledStream(h: Harness): { res: Promise<http.IncomingMessage>; req: http.ClientRequest } {
  const req = http.request(`${h.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } });
  const res = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.once('response', (r) => {
      r.pause();
      resolve(r);
    });
    req.once('error', reject);
  });
  req.end(body(true));
  return { res, req };
}

function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    res.on('data', (b: Buffer) => parts.push(b));
    res.once('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    res.once('error', reject);
    res.resume();
  });
}

/** The router's SSE gauges, as /metrics shows them. */
async function sseGauges(h: Harness): Promise<{ blocked: number; buffered: number }> {
  const text = await (await fetch(`${h.router.metricsUrl}/metrics`)).text();
  const value = (name: string) => Number(/^(\S+) (\S+)$/m.exec(text.split('\n').find((l) => l.startsWith(`${name} `)) ?? '')?.[2] ?? NaN);
  return { blocked: value('switchyard_sse_streams_blocked'), buffered: value('switchyard_sse_buffered_bytes') };
}

/** The decode-side (or only) worker: the one whose stream the router relays. */
const relayed = (h: Harness) => h.workers[h.workers.length - 1]!;

function released(h: Harness): boolean {
  return h.router.fleet.list().every((e) => e.inFlight === 0 && e.client.activeStreams === 0) && h.workers.every((w) => w.stats().sessions === 0);
}

for (const [mode, opts] of [
  ['a single worker', { workers: 1 }],
  ['PD mode', { pd: { prefill: 1, decode: 1 } }],
] as [string, HarnessOptions][]) {
  describe(`a streaming client that stops reading (${mode})`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ ...opts, sim: { maxContextLength: 131072 } });
    });
    after(() => h.close());

    it('pauses the worker call, keeps the router buffer bounded, then delivers every token in order', async () => {
      const whole = await fetch(`${h.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(false) });
      const expected = ((await whole.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content;
      assert.ok(expected.length > 100_000, 'the answer is long');

      const worker = relayed(h);
      const blockedBefore = worker.stats().blockedWrites;
      const { res } = stalledStream(h);
      const response = await res;
      assert.equal(response.statusCode, 200);
      await waitFor(() => worker.stats().blockedWrites > blockedBefore, 20_000, 'the worker to see its stream blocked');
      let maxBuffered = 0;
      for (const end = Date.now() + STALL_MS; Date.now() < end; ) {
        const g = await sseGauges(h);
        assert.equal(g.blocked, 1, 'the router holds the stream as blocked');
        maxBuffered = Math.max(maxBuffered, g.buffered);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(maxBuffered > 0 && maxBuffered < BUFFER_BOUND, `router buffered ${maxBuffered} bytes for a stalled client`);
      assert.equal(worker.stats().sessions, 1, 'the worker cannot finish while the router does not read');

      const events = sseData(await readAll(response));
      assert.equal(events.at(-1), '[DONE]');
      let content = '';
      for (const e of events.slice(0, -1) as { choices: { delta: { content?: string } }[] }[]) content += e.choices[0]?.delta.content ?? '';
      assert.equal(content, expected);
      await waitFor(() => released(h), 5_000, 'leases and streams released');
      assert.deepEqual(await sseGauges(h), { blocked: 0, buffered: 0 });
    });

    it('keeps serving other requests on the same worker connection while stalled streams are paused', async () => {
      const worker = relayed(h);
      const before = worker.stats().blockedWrites;
      // Each paused gRPC stream holds up to its flow-control window: together far more than one connection's default.
      const stalled = Array.from({ length: STALLED_STREAMS }, () => stalledStream(h));
      await Promise.all(stalled.map((s) => s.res));
      await waitFor(() => worker.stats().blockedWrites >= before + STALLED_STREAMS, 20_000, 'every stalled stream to block its worker call');
      const other = await streamChat(h, { max_tokens: 3000, messages: [{ role: 'user', content: 'another client <<sim tokens=2000>>' }] });
      assert.equal(other.finish, 'stop', 'the other client got its whole answer, up to EOS');
      assert.ok(other.content.length > 2000);
      assert.equal((await sseGauges(h)).blocked, STALLED_STREAMS, 'the stalled streams are still paused');
      for (const s of stalled) s.req.destroy();
      await waitFor(() => released(h), 5_000, 'leases and streams released');
    });

    it('cancels and aborts the paused worker call when the stalled client disconnects, returning every lease', async () => {
      const worker = relayed(h);
      const before = worker.stats();
      const { res, req } = stalledStream(h);
      await res;
      await waitFor(() => worker.stats().blockedWrites > before.blockedWrites, 20_000, 'the worker to see its stream blocked');
      req.destroy();
      await waitFor(
        () => worker.stats().cancelled > before.cancelled && worker.stats().abortCalls > before.abortCalls,
        5_000,
        'the worker call reset and an Abort sent',
      );
      await waitFor(() => released(h), 5_000, 'leases and streams released');
      assert.deepEqual(await sseGauges(h), { blocked: 0, buffered: 0 });
    });
  });
}
