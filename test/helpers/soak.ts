/**
 * The soak driver: many concurrent requests with a seeded random mix of client aborts, worker
 * failures before and after the first token, slow streams and stop strings, each one's outcome
 * judged (well-formed answer, OpenAI error envelope, or gone because the client aborted), and the
 * router's and workers' books checked once everything settled (nothing in flight, nothing leaked).
 */
import { status as GrpcStatus } from '@grpc/grpc-js';
import OpenAI from 'openai';
import { mulberry32 } from '../../bench/rng.js';
import { sseData, type Harness } from './harness.js';
import type { WorkerOutcome } from '../../src/workers/grpc-errors.js';

type Endpoint = 'chat' | 'completions' | 'generate';
type Fault = 'none' | 'unavailable' | 'overload' | 'internal' | 'fail-after' | 'slow' | 'stop' | 'fail-next' | 'prefill-error';
type AbortMode = 'none' | 'early' | 'after-chunks' | 'during-backoff';

export interface RequestPlan {
  id: number;
  model: string;
  endpoint: Endpoint;
  sdk: boolean;
  stream: boolean;
  n: number;
  fault: Fault;
  abort: AbortMode;
  /** When the client starts it, ms after the run began. */
  startMs: number;
  /** early / during-backoff: ms after the start; after-chunks: events received. */
  abortAt: number;
  tokens: number;
  /** Prompts in one completions or generate request (a batch is answered as one generation group). */
  prompts: number;
  /** A long prompt: preparing it keeps the prep pool busy, so early aborts also land while requests are prepared. */
  long: boolean;
}

export interface MixOptions {
  seed: number;
  requests: number;
  models: readonly string[];
  /** Faults only a PD deployment can show (a failing prefill leg). */
  pd?: boolean;
  /** Requests start spread over this many ms. */
  spreadMs: number;
}

function pick<T>(rnd: () => number, items: readonly T[]): T {
  return items[Math.floor(rnd() * items.length)]!;
}

export function planMix(o: MixOptions): RequestPlan[] {
  const rnd = mulberry32(o.seed);
  // Hard failures (5xx) are rarer than the rest: a few of them already open breakers, by design.
  const faults: Fault[] = ['none', 'none', 'none', 'none', 'none', 'none', 'unavailable', 'overload', 'fail-after', 'fail-after', 'slow', 'slow', 'stop', 'stop', 'fail-next', 'fail-next', 'internal'];
  if (o.pd) faults.push('prefill-error');
  return Array.from({ length: o.requests }, (_, id) => {
    const endpoint = pick<Endpoint>(rnd, ['chat', 'chat', 'completions', 'generate']);
    const stream = rnd() < 0.6;
    const fault = pick(rnd, faults);
    let abort: AbortMode = pick<AbortMode>(rnd, ['none', 'none', 'none', 'early', 'after-chunks']);
    if (abort === 'after-chunks' && !stream) abort = 'early';
    if ((fault === 'unavailable' || fault === 'overload') && rnd() < 0.4) abort = 'during-backoff';
    return {
      id,
      model: pick(rnd, o.models),
      endpoint,
      sdk: endpoint !== 'generate' && rnd() < 0.6,
      stream,
      n: rnd() < 0.25 ? 2 : 1,
      fault,
      abort,
      startMs: Math.floor(rnd() * o.spreadMs),
      abortAt: abort === 'after-chunks' ? 1 + Math.floor(rnd() * 4) : Math.floor(rnd() * (abort === 'during-backoff' ? 60 : 40)),
      tokens: 8 + Math.floor(rnd() * 40),
      long: rnd() < 0.2,
      prompts: endpoint !== 'chat' && rnd() < 0.2 ? 2 : 1,
    };
  });
}

const STOP = 'HALT';
const LONG_CONTEXT = ' Some background follows.'.repeat(1500);

/** The prompt: a shared prefix per group (cache-aware routing sees reuse) and the plan's directives. */
function promptOf(p: RequestPlan): string {
  const group = `You are soak assistant ${p.id % 5}. Answer briefly and plainly.${p.long ? LONG_CONTEXT : ''}`;
  const directive: Record<Fault, string> = {
    none: `<<sim tokens=${p.tokens}>>`,
    unavailable: '<<sim error=UNAVAILABLE message="soak: not now">>',
    overload: '<<sim error=RESOURCE_EXHAUSTED message="soak: full">>',
    internal: '<<sim error=INTERNAL message="soak: broken">>',
    'fail-after': `<<sim tokens=${p.tokens} fail-after=${1 + (p.id % 4)}>>`,
    slow: `<<sim tokens=${p.tokens} delay-ms=${100 + (p.id % 5) * 40}>>`,
    stop: `<<sim reply="one two three ${STOP} four five six">>`,
    'fail-next': `<<sim tokens=${p.tokens}>>`,
    'prefill-error': '<<sim prefill-error=UNAVAILABLE message="soak: prefill down">>',
  };
  return `${group}\nrequest ${p.id}: ${directive[p.fault]}`;
}

/** How one request ended, as its client saw it. */
export type Outcome =
  | { kind: 'ok' }
  | { kind: 'error'; status: number | undefined; code: string }
  | { kind: 'aborted' }
  | { kind: 'broken'; why: string };

/** Statuses a failure may sensibly carry: retries exhausted on overload, unavailable or broken workers, timeouts. */
const ERROR_STATUSES = new Set([408, 429, 502, 503, 504]);

function isEnvelope(body: unknown): boolean {
  const e = (body as { error?: Record<string, unknown> } | undefined)?.error;
  return !!e && typeof e['message'] === 'string' && typeof e['type'] === 'string' && 'param' in e && 'code' in e;
}

function judgeError(status: number | undefined, body: unknown, where: string): Outcome {
  if (!isEnvelope(body)) return { kind: 'broken', why: `${where}: error without an OpenAI envelope: ${JSON.stringify(body)}` };
  if (status !== undefined && !ERROR_STATUSES.has(status)) return { kind: 'broken', why: `${where}: unexpected status ${status}: ${JSON.stringify(body)}` };
  return { kind: 'error', status, code: String((body as { error: { code: unknown } }).error.code) };
}

/** Finish reasons per choice index of a complete non-streamed body. */
function completeBody(p: RequestPlan, body: any): string | undefined {
  if (p.endpoint === 'generate') {
    const items = p.n * p.prompts > 1 ? body : [body];
    if (!Array.isArray(items) || items.length !== p.n * p.prompts) return `expected ${p.n * p.prompts} generate items`;
    return items.every((it: any) => typeof it.text === 'string' && it.meta_info?.finish_reason?.type) ? undefined : 'a generate item without finish_reason';
  }
  const choices = body?.choices;
  if (!Array.isArray(choices) || choices.length !== p.n * p.prompts) return `expected ${p.n * p.prompts} choices, got ${JSON.stringify(body)}`;
  return choices.every((c: any) => typeof c.finish_reason === 'string') ? undefined : 'a choice without finish_reason';
}

/** Whether a streamed body is complete: every event parses, [DONE] last, an error only right before it, else every choice finished. */
function completeStream(p: RequestPlan, events: unknown[]): Outcome {
  if (events.at(-1) !== '[DONE]') return { kind: 'broken', why: 'stream did not end with [DONE]' };
  const body = events.slice(0, -1) as any[];
  const errAt = body.findIndex((e) => e?.error !== undefined);
  if (errAt !== -1) {
    if (errAt !== body.length - 1) return { kind: 'broken', why: 'events after a stream error' };
    return isEnvelope(body[errAt]) ? { kind: 'error', status: undefined, code: String(body[errAt].error.code) } : { kind: 'broken', why: `malformed stream error ${JSON.stringify(body[errAt])}` };
  }
  const finished = new Set<number>();
  for (const e of body) {
    if (p.endpoint === 'generate') {
      if (e.meta_info?.finish_reason?.type) finished.add(e.index ?? 0);
    } else for (const c of e.choices ?? []) if (c.finish_reason) finished.add(c.index);
  }
  return finished.size === p.n * p.prompts ? { kind: 'ok' } : { kind: 'broken', why: `stream finished ${finished.size} of ${p.n * p.prompts} choices` };
}

const PATHS: Record<Endpoint, string> = { chat: '/v1/chat/completions', completions: '/v1/completions', generate: '/generate' };

function bodyOf(p: RequestPlan): Record<string, unknown> {
  const one = promptOf(p);
  // A batch's second prompt is served without faults: the first one's failure must cancel it.
  const prompt = p.prompts === 1 ? one : [one, promptOf({ ...p, fault: 'none' })];
  const stop = p.fault === 'stop' ? [STOP] : undefined;
  if (p.endpoint === 'generate') {
    return { model: p.model, text: prompt, stream: p.stream, sampling_params: { max_new_tokens: 64, n: p.n, ...(stop ? { stop } : {}) } };
  }
  const common = { model: p.model, stream: p.stream, n: p.n, max_tokens: 64, ...(stop ? { stop } : {}) };
  return p.endpoint === 'chat' ? { ...common, messages: [{ role: 'user', content: prompt }] } : { ...common, prompt };
}

/** The bound on any one request: a hung one counts as broken, not as a slow success. */
const CLIENT_TIMEOUT_MS = 15_000;

async function viaFetch(h: Harness, p: RequestPlan, signal: AbortSignal): Promise<Outcome> {
  const res = await fetch(h.url + PATHS[p.endpoint], {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(bodyOf(p)),
    signal,
  });
  if (res.status !== 200) return judgeError(res.status, await res.json().catch(() => undefined), 'fetch');
  if (!p.stream) {
    const why = completeBody(p, await res.json());
    return why ? { kind: 'broken', why } : { kind: 'ok' };
  }
  const text = await readEvents(res, p, signal);
  return completeStream(p, sseData(text));
}

/** Reads an SSE body; with an after-chunks abort, aborts once that many events arrived. */
async function readEvents(res: Response, p: RequestPlan, signal: AbortSignal & { abortNow?: () => void }): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
    text += decoder.decode(bytes, { stream: true });
    if (p.abort === 'after-chunks' && text.split('\n\n').length - 1 >= p.abortAt) {
      signal.abortNow?.();
      break;
    }
  }
  return text;
}

async function viaSdk(client: OpenAI, p: RequestPlan, signal: AbortSignal & { abortNow?: () => void }): Promise<Outcome> {
  const body = bodyOf(p) as any;
  const opts = { signal };
  try {
    if (!p.stream) {
      const res = p.endpoint === 'chat' ? await client.chat.completions.create(body, opts) : await client.completions.create(body, opts);
      const why = completeBody(p, res);
      return why ? { kind: 'broken', why } : { kind: 'ok' };
    }
    const stream = (p.endpoint === 'chat' ? await client.chat.completions.create(body, opts) : await client.completions.create(body, opts)) as unknown as AsyncIterable<any>;
    const finished = new Set<number>();
    let events = 0;
    for await (const chunk of stream) {
      if (p.abort === 'after-chunks' && ++events >= p.abortAt) {
        signal.abortNow?.();
        break;
      }
      for (const c of chunk.choices ?? []) if (c.finish_reason) finished.add(c.index);
    }
    return finished.size === p.n * p.prompts ? { kind: 'ok' } : { kind: 'broken', why: `sdk stream finished ${finished.size} of ${p.n * p.prompts} choices` };
  } catch (err) {
    if (err instanceof OpenAI.APIUserAbortError) throw err;
    // A mid-stream error event surfaces as an APIError without a status.
    if (err instanceof OpenAI.APIError && !(err instanceof OpenAI.APIConnectionError)) return judgeError(err.status, { error: err.error }, 'sdk');
    throw err;
  }
}

/** Runs one plan to its outcome; aborts it as planned, and bounds it by the client timeout. */
export async function runOne(h: Harness, client: OpenAI, p: RequestPlan): Promise<Outcome> {
  await new Promise((r) => setTimeout(r, p.startMs));
  const ctl = new AbortController();
  let abortedByPlan = false;
  const signal = ctl.signal as AbortSignal & { abortNow?: () => void };
  signal.abortNow = () => {
    abortedByPlan = true;
    ctl.abort();
  };
  const timers: NodeJS.Timeout[] = [];
  if (p.abort === 'early' || p.abort === 'during-backoff') timers.push(setTimeout(signal.abortNow, p.abortAt));
  // Raced, not only aborted: a client stuck after its own abort must not hang the run either.
  const timeout = new Promise<Outcome>((resolve) =>
    timers.push(
      setTimeout(() => {
        ctl.abort();
        resolve({ kind: 'broken', why: `no outcome within ${CLIENT_TIMEOUT_MS} ms` });
      }, CLIENT_TIMEOUT_MS),
    ),
  );
  try {
    const outcome = await Promise.race([p.sdk ? viaSdk(client, p, signal) : viaFetch(h, p, signal), timeout]);
    // An aborted stream is cut short, whatever was seen of it until then.
    return abortedByPlan && outcome.kind === 'broken' && !outcome.why.startsWith('no outcome') ? { kind: 'aborted' } : outcome;
  } catch (err) {
    if (abortedByPlan) return { kind: 'aborted' };
    return { kind: 'broken', why: `client error: ${(err as Error).message}` };
  } finally {
    for (const t of timers) clearTimeout(t);
  }
}

/** Records every lease outcome per fleet entry, to know which breakers only saw benign ones. */
export function recordOutcomes(h: Harness): Map<string, Set<WorkerOutcome>> {
  const seen = new Map<string, Set<WorkerOutcome>>();
  const fleet = h.router.fleet;
  const finished = fleet.finished.bind(fleet);
  fleet.finished = (entry, outcome, reason) => {
    let s = seen.get(entry.id);
    if (!s) seen.set(entry.id, (s = new Set()));
    s.add(outcome);
    finished(entry, outcome, reason);
  };
  return seen;
}

/** Fails requests to `workers` at random moments with failNext, as the plans with that fault say. */
export function armFailNext(h: Harness, plans: readonly RequestPlan[], seed: number): void {
  const rnd = mulberry32(seed);
  for (const p of plans) {
    if (p.fault !== 'fail-next') continue;
    setTimeout(() => {
      const w = h.workers[Math.floor(rnd() * h.workers.length)]!;
      w.failNext(1, { code: rnd() < 0.5 ? GrpcStatus.UNAVAILABLE : GrpcStatus.RESOURCE_EXHAUSTED, message: 'soak: fail next', retryPushbackMs: 10 });
    }, Math.max(0, p.startMs - 1));
  }
}

async function scrape(h: Harness): Promise<Map<string, number>> {
  const text = await (await fetch(`${h.router.metricsUrl}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** Every invariant that must hold once the run settled; returns what is violated (empty when all hold). */
export async function violations(h: Harness, outcomes: ReadonlyMap<string, ReadonlySet<WorkerOutcome>>): Promise<string[]> {
  const out: string[] = [];
  const now = Date.now();
  for (const e of h.router.fleet.list()) {
    if (e.inFlight !== 0) out.push(`${e.id}: inFlight ${e.inFlight}`);
    if (e.inFlightTokens !== 0) out.push(`${e.id}: inFlightTokens ${e.inFlightTokens}`);
    if (e.client.activeStreams !== 0) out.push(`${e.id}: ${e.client.activeStreams} active gRPC streams`);
    const seen = outcomes.get(e.id) ?? new Set<WorkerOutcome>();
    const benign = [...seen].every((o) => o === 'ok' || o === 'overload' || o === 'cancelled');
    if (benign && e.breaker.state(now) !== 'closed') out.push(`${e.id}: breaker ${e.breaker.state(now)} after only ${[...seen].join(', ') || 'no'} outcomes`);
  }
  h.workers.forEach((w, i) => {
    const s = w.stats();
    if (s.running !== 0 || s.waiting !== 0 || s.sessions !== 0) out.push(`sim ${i}: running ${s.running}, waiting ${s.waiting}, open sessions ${s.sessions}`);
  });
  const m = await scrape(h);
  for (const gauge of ['switchyard_http_requests_active', 'switchyard_admission_queue_depth', 'switchyard_admission_inflight']) {
    const v = m.get(gauge);
    if (v !== undefined && v !== 0) out.push(`${gauge} ${v}`);
  }
  return out;
}

/**
 * Checks the invariants once every client has its outcome. The server ends its share of a request
 * in the same turn as the HTTP response closes (lease finished, gRPC call ended or cancelled), so
 * once the active-requests gauge reads 0 nothing of the router's may still be in flight, except a
 * prefill leg draining by design after its pair's answer. Then waits (generously) for the workers'
 * side to settle; returns what is violated (empty when all holds).
 */
export async function settled(h: Harness, outcomes: ReadonlyMap<string, ReadonlySet<WorkerOutcome>>, timeoutMs = 5_000): Promise<string[]> {
  const end = Date.now() + timeoutMs;
  while ((await scrape(h)).get('switchyard_http_requests_active') !== 0) {
    if (Date.now() > end) return ['switchyard_http_requests_active stays above 0'];
    await new Promise((r) => setTimeout(r, 20));
  }
  const early: string[] = [];
  for (const e of h.router.fleet.list()) {
    if (e.role === 'prefill') continue;
    if (e.inFlight !== 0) early.push(`${e.id}: inFlight ${e.inFlight} when every response had ended`);
    if (e.client.activeStreams !== 0) early.push(`${e.id}: ${e.client.activeStreams} gRPC streams open when every response had ended`);
  }
  if (early.length > 0) return early;
  let last: string[];
  for (;;) {
    last = await violations(h, outcomes);
    if (last.length === 0 || Date.now() > end) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Summarises outcomes for failure messages: counts per kind and every broken one. */
export function summary(plans: readonly RequestPlan[], results: readonly Outcome[]): { counts: Record<string, number>; broken: string[] } {
  const counts: Record<string, number> = {};
  const broken: string[] = [];
  results.forEach((r, i) => {
    const key = r.kind === 'error' ? `${r.status ?? 'in-stream'} ${r.code}` : r.kind;
    counts[key] = (counts[key] ?? 0) + 1;
    if (r.kind === 'broken') broken.push(`${JSON.stringify(plans[i])}: ${r.why}`);
  });
  return { counts, broken };
}
