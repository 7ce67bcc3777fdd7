import OpenAI from 'openai';
import { loadTokenizer, type Tokenizer } from '../../native/tokenizer.js';
import { parseRouterConfig, type RouterConfig } from '../../src/config/router-config.js';
import { startRouter, type RunningRouter } from '../../src/router.js';
import { startSimWorker, type DisaggregationMode, type SimWorker, type SimWorkerOptions } from '../../src/sim/server.js';
import { loadModelAssets } from '../../src/tokenizer/assets.js';
import { bundledTokenizerDir, type BundledModel } from '../../src/tokenizer/bundled.js';

export const MODEL = 'qwen3-test';

export interface Harness {
  router: RunningRouter;
  workers: SimWorker[];
  tokenizer: Tokenizer;
  client: OpenAI;
  url: string;
  close(): Promise<void>;
}

const loadedTokenizers = new Map<BundledModel, Promise<Tokenizer>>();

/** A real bundled tokenizer, loaded once per test process. */
export function bundledTokenizer(name: BundledModel): Promise<Tokenizer> {
  let t = loadedTokenizers.get(name);
  if (!t) {
    t = loadTokenizer(`${bundledTokenizerDir(name)}/tokenizer.json`, 'native');
    loadedTokenizers.set(name, t);
  }
  return t;
}

export function qwen3Tokenizer(): Promise<Tokenizer> {
  return bundledTokenizer('qwen3');
}

export interface HarnessOptions {
  workers?: number;
  /** The model whose real tokenizer and template the workers and the router use (default qwen3). */
  bundled?: BundledModel;
  sim?: Partial<SimWorkerOptions>;
  routerArgs?: string[];
  config?: Partial<RouterConfig>;
  /**
   * Prefill/decode disaggregation instead of `workers`: this many prefill sims, then decode sims
   * (in `workers` in that order), registered with --prefill URL [bootstrapPorts[i]] and --decode URL.
   */
  pd?: { prefill: number; decode: number; bootstrapPorts?: ReadonlyArray<number | undefined> };
  /**
   * Several models instead of `workers` and `bundled`: for each, `workers` sims serving `name` with
   * that bundled tokenizer (in `workers` in this order). The router gets no model flags, so every
   * model is read from its workers' GetModelInfo; `tokenizer` is the first model's.
   */
  models?: ReadonlyArray<{ name: string; bundled: BundledModel; workers: number }>;
}

interface SimSpec {
  bundled: BundledModel;
  servedModelName: string;
  disaggregationMode: DisaggregationMode;
}

function simSpecs(opts: HarnessOptions): SimSpec[] {
  if (opts.models) return opts.models.flatMap((m) => Array.from({ length: m.workers }, () => ({ bundled: m.bundled, servedModelName: m.name, disaggregationMode: 'null' as const })));
  const pd = opts.pd;
  const modes: DisaggregationMode[] = pd
    ? [...Array<DisaggregationMode>(pd.prefill).fill('prefill'), ...Array<DisaggregationMode>(pd.decode).fill('decode')]
    : Array<DisaggregationMode>(opts.workers ?? 1).fill('null');
  return modes.map((disaggregationMode) => ({ bundled: opts.bundled ?? 'qwen3', servedModelName: MODEL, disaggregationMode }));
}

/** The router flags that register `workers`: --worker-urls, or --prefill/--decode ones in PD mode. */
function workerArgs(workers: readonly SimWorker[], pd: HarnessOptions['pd']): string[] {
  if (!pd) return ['--worker-urls', ...workers.map((w) => w.url)];
  const args = ['--pd-disaggregation'];
  workers.forEach((w, i) => {
    if (i >= pd.prefill) return void args.push('--decode', w.url);
    const port = pd.bootstrapPorts?.[i];
    args.push('--prefill', w.url, ...(port === undefined ? [] : [String(port)]));
  });
  return args;
}

/** Simulated SRT workers on loopback gRPC, the router on an ephemeral HTTP port, and an official OpenAI client. */
export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const specs = simSpecs(opts);
  const dir = bundledTokenizerDir(specs[0]!.bundled);
  const tokenizer = await bundledTokenizer(specs[0]!.bundled);
  const workers: SimWorker[] = [];
  const pd = opts.pd;
  for (const spec of specs) {
    const simDir = bundledTokenizerDir(spec.bundled);
    workers.push(
      await startSimWorker({
        tokenizer: await bundledTokenizer(spec.bundled),
        tokenizerPath: simDir,
        servedModelName: spec.servedModelName,
        eosTokenIds: (await loadModelAssets(simDir)).eosTokenIds,
        latency: { prefillTokensPerSec: 0, decodeBaseMs: 0, decodePerReqMs: 0 },
        disaggregationMode: spec.disaggregationMode,
        ...opts.sim,
      }),
    );
  }
  const parsed = parseRouterConfig(
    [
      '--port', '0',
      '--prometheus-port', '0',
      ...workerArgs(workers, pd),
      ...(opts.models ? [] : ['--tokenizer-path', dir, '--served-model-name', MODEL]),
      '--log-level', 'silent',
      '--prep-threads', '1',
      '--health-check-interval-secs', '0.2',
      ...(opts.routerArgs ?? []),
    ],
    { requireWorkers: true },
  );
  if (parsed === 'help') throw new Error('unexpected help');
  const router = await startRouter({ ...parsed, ...opts.config });
  await router.fleet.whenRoutable(workers.length * (parsed.dpAware ? (opts.sim?.dpSize ?? 1) : 1), 5_000);
  const client = new OpenAI({ baseURL: `${router.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 20_000 });
  return {
    router,
    workers,
    tokenizer,
    client,
    url: router.url,
    close: async () => {
      await router.close();
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** POSTs JSON and returns the status, headers and parsed (or raw) body. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json: json as any };
}

/** Parses an SSE body into its data payloads ('[DONE]' kept as a string). */
export function sseData(text: string): unknown[] {
  return text
    .split('\n\n')
    .filter((b) => b.startsWith('data: '))
    .map((b) => b.slice(6))
    .map((d) => (d === '[DONE]' ? d : JSON.parse(d)));
}

/** A streamed chat completion of one choice, reassembled as the openai SDK delivers it. */
export interface Streamed {
  content: string;
  reasoning: string;
  calls: { id?: string; name: string; arguments: string }[];
  finish: string | null;
}

export async function streamChat(h: Harness, body: Omit<OpenAI.ChatCompletionCreateParamsStreaming, 'model' | 'stream'>): Promise<Streamed> {
  const stream = await h.client.chat.completions.create({ model: MODEL, stream: true, ...body });
  const out: Streamed = { content: '', reasoning: '', calls: [], finish: null };
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    if (!c) continue;
    out.content += c.delta.content ?? '';
    out.reasoning += (c.delta as { reasoning_content?: string }).reasoning_content ?? '';
    for (const t of c.delta.tool_calls ?? []) {
      const slot = (out.calls[t.index] ??= { name: '', arguments: '' });
      if (t.id) slot.id = t.id;
      if (t.function?.name) slot.name = t.function.name;
      slot.arguments += t.function?.arguments ?? '';
    }
    if (c.finish_reason) out.finish = c.finish_reason;
  }
  return out;
}
