import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { cacheSimSection } from './cachesim/report.js';
import type { CacheSimResults } from './cachesim/run.js';
import { harmonySection, type HarmonyResult, type HarmonySettings } from './harmony.js';
import type { LatencyRow, LatencySettings } from './latency.js';
import type { ParserResults, ParserRow, ParserSettings, RouterTokenCost, Timing } from './parsers.js';
import type { PathStats } from './paths.js';
import type { MultiTurnRow, MultiTurnSettings, PrepRow, PrepSettings } from './prep.js';
import type { ProfileSummary } from './profile.js';
import type { RelayResult, RelaySettings } from './relay.js';
import { routingSection, routingTargets, type RoutingResult, type RoutingSettings } from './routing.js';

export interface BenchResults {
  command: string;
  machine: string;
  durationSec: number;
  latency?: { settings: LatencySettings; rows: LatencyRow[] };
  relay?: { settings: RelaySettings; result: RelayResult };
  prep?: { settings: PrepSettings; rows: PrepRow[]; multiTurn: { settings: MultiTurnSettings; rows: MultiTurnRow[] } };
  routing?: { settings: RoutingSettings; result: RoutingResult };
  cachesim?: CacheSimResults;
  harmony?: { settings: HarmonySettings; result: HarmonyResult };
  parsers?: { settings: ParserSettings; result: ParserResults; router: RouterTokenCost };
  profiles: { name: string; file: string; summary: ProfileSummary }[];
}

/** CPU model, cores, memory, Node, OS, date — and the load average, since the machine may be shared. */
export function machineLine(): string {
  const cpu = cpus();
  const load = loadavg().map((x) => x.toFixed(2)).join(' ');
  return (
    `${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ` +
    `Node ${process.version}, ${platform()} ${release()}, load average at start ${load}, ${new Date().toISOString()}`
  );
}

const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const delta = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(2)}` : '–');
const pct = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? `${Math.round(x * 100)}%` : '–');
const cores = (p: PathStats) => `${p.cpu.sim.toFixed(2)} / ${p.cpu.bench.toFixed(2)}`;
const count = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');

function latencySection(l: NonNullable<BenchResults['latency']>): string[] {
  const s = l.settings;
  const out = [
    '### Router-added latency',
    '',
    `Prompts of ${s.promptTokens} Qwen3 tokens (chat template included), ${s.maxTokens} streamed tokens each (1 per chunk, \`ignore_eos\`); ` +
      `sim: one idle DP rank per stream, instant prefill, ${s.decodeStepMs} ms decode step; closed loop, ${s.measureMs / 1000} s measured per row after ${s.warmupMs / 1000} s warm-up. ` +
      'Times in ms, measured by the client. "added" rows are routed − direct of each percentile (a difference of percentiles, not a percentile of differences). ' +
      '"router prep" is the prep-pool call (chat template + tokenizer, queueing included) timed inside the router: part of the added TTFT.',
    '',
    '| streams | path | requests | req/s | TTFT p50 | TTFT p99 | ITL p50 | ITL p99 | router prep p50 / p99 | router loop delay p99 / max | router loop busy | CPU cores sim / bench process |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of l.rows) {
    for (const [name, p] of [['direct', r.direct], ['routed', r.routed]] as const) {
      const loop = p.loop ? `${ms(p.loop.p99)} / ${ms(p.loop.max)}` : '–';
      const prep = p.prep ? `${ms(p.prep.p50)} / ${ms(p.prep.p99)}` : '–';
      const errors = p.errors > 0 ? ` (${p.errors} failed)` : '';
      out.push(
        `| ${r.concurrency} | ${name} | ${p.requests}${errors} | ${p.reqPerSec.toFixed(1)} | ${ms(p.ttft.p50)} | ${ms(p.ttft.p99)} | ${ms(p.itl.p50)} | ${ms(p.itl.p99)} | ${prep} | ${loop} | ${pct(p.loop?.utilization)} | ${cores(p)} |`,
      );
    }
    const d = r.direct;
    const x = r.routed;
    out.push(
      `| ${r.concurrency} | **added** | | | **${delta(x.ttft.p50 - d.ttft.p50)}** | **${delta(x.ttft.p99 - d.ttft.p99)}** | ${delta(x.itl.p50 - d.itl.p50)} | ${delta(x.itl.p99 - d.itl.p99)} | | | | |`,
    );
  }
  return out;
}

function relaySection(r: NonNullable<BenchResults['relay']>): string[] {
  const s = r.settings;
  const row = (name: string, p: PathStats) =>
    `| ${name} | **${count(p.tokensPerSec)}** | ${count(p.eventsPerSec)} | ${(p.tokensPerSec / p.eventsPerSec).toFixed(2)} | ` +
    `${p.loop ? `${ms(p.loop.p99)} / ${ms(p.loop.max)}` : '–'} | ${pct(p.loop?.utilization)} | ${cores(p)} |${p.errors > 0 ? ` ${p.errors} failed` : ''}`;
  return [
    '### Relayed tokens per second',
    '',
    `${s.streams} concurrent streams of ${s.tokensPerRequest} tokens (${s.promptTokens}-token prompts, \`ignore_eos\`), ${s.measureMs / 1000} s measured per row. ` +
      `The sim decodes one token per stream per step and sends it as its own chunk; "paced" = a ${s.pacedStepMs} ms step ` +
      `(at most ${count((s.streams * 1000) / s.pacedStepMs)} chunks/s offered), "unpaced" = steps back to back. ` +
      'When its gRPC stream is blocked the sim sends the tokens of the blocked steps together (as a real server would), so ' +
      'tokens/event above 1 means the reader fell behind. Events are token-carrying SSE events (routed) or gRPC chunks (direct) seen by the client.',
    '',
    '| run | tokens/s | events/s | tokens/event | router loop delay p99 / max (ms) | router loop busy | CPU cores sim / bench process |',
    '|---|---:|---:|---:|---:|---:|---:|',
    row('direct, paced (what sim + gRPC + client offer here)', r.result.direct),
    row('routed, paced', r.result.routed),
    row('routed, unpaced', r.result.routedUnpaced),
  ];
}

function prepSection(p: NonNullable<BenchResults['prep']>): string[] {
  const s = p.settings;
  const out = [
    '### Prep pool (chat template + tokenizer in worker threads)',
    '',
    `\`PrepPool.renderChat\` with ${s.threads} threads (native tokenizer), ${s.concurrency} requests in flight for ${s.measureMs / 1000} s per size, driven from the bench's main thread; ` +
      '"alone" is one request at a time. Times in ms.',
    '',
    `| prompt tokens | alone p50 / p99 | req/s (${s.concurrency} in flight) | prompt tokens/s | latency p50 / p99 | main loop delay p99 / max | main loop busy |`,
    '|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of p.rows) {
    out.push(
      `| ${r.tokens} | ${ms(r.floor.p50)} / ${ms(r.floor.p99)} | **${r.reqPerSec.toFixed(0)}** | ${count(r.reqPerSec * r.tokens)} | ${ms(r.latency.p50)} / ${ms(r.latency.p99)} | **${ms(r.loop.p99)}** / ${ms(r.loop.max)} | ${pct(r.loop.utilization)} |`,
    );
  }
  const m = p.multiTurn.settings;
  out.push(
    '',
    `Multi-turn chats: ${m.conversations} conversations over one ${m.systemTokens}-token system prompt, each request the whole history plus a new ${m.userTokens}-token user turn ` +
      `(a ${m.answerTokens}-token answer is appended after it), replaced after ${m.turns} turns; ${m.concurrency} in flight for ${m.measureMs / 1000} s, ` +
      'the same seeded workload with the tokenizer caches off and on (L0 10000 entries + L1 50 MiB per thread). Times in ms.',
    '',
    '| tokenizer cache | req/s | latency p50 / p99 | L0 hits | L1 hits | prompt tokens from the cache |',
    '|---|---:|---:|---:|---:|---:|',
  );
  for (const r of p.multiTurn.rows) out.push(`| ${r.cache} | **${r.reqPerSec.toFixed(0)}** | ${ms(r.latency.p50)} / ${ms(r.latency.p99)} | ${pct(r.l0)} | ${pct(r.l1)} | ${pct(r.reused)} |`);
  return out;
}

/** A value derived from a timing's median, with half the timing's min–max range relative to it: `12.3 ±4%`. */
function spread(value: number, t: Timing, digits: number): string {
  return `${value.toFixed(digits)} ±${Math.round(((t.max - t.min) / 2 / t.median) * 100)}%`;
}

function parserTable(title: string, rows: ParserRow[], router: RouterTokenCost, decodeUs: number): string[] {
  const first = rows[0];
  if (!first) return [];
  const heads = first.workloads.map((w) => `${w.workload} (${(w.bytes / 1000).toFixed(0)} KB)`);
  const out = [
    `#### ${title}`,
    '',
    `| parser | ${heads.map((h) => `${h}: complete MB/s | streamed µs/chunk`).join(' | ')} | slowest µs/chunk ÷ decode µs/token | share of router time per token |`,
    `|---|${heads.map(() => '---:|---:|').join('')}---:|---:|`,
  ];
  for (const r of rows) {
    const cells = r.workloads.map((w) => `${spread(w.bytes / w.complete.median, w.complete, 0)} | ${spread(w.stream.median / w.chunks, w.stream, 2)}`);
    const worst = Math.max(...r.workloads.map((w) => w.stream.median / w.chunks));
    out.push(`| ${r.name} | ${cells.join(' | ')} | ${(worst / decodeUs).toFixed(2)}× | ${pct1(worst / router.usPerEvent)} |`);
  }
  return out;
}

const pct1 = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '–');

function parsersSection(p: NonNullable<BenchResults['parsers']>): string[] {
  const s = p.settings;
  const r = p.router;
  const decode = p.result.decodePerToken;
  const plain = p.result.rows.find((x) => x.kind === 'tool')?.workloads.find((w) => w.workload === 'plain text');
  const perChunk = plain ? `; the ${(plain.bytes / 1000).toFixed(0)} KB plain text is ${plain.tokens} tokens in ${plain.chunks} chunks, ${(plain.bytes / plain.chunks).toFixed(1)} bytes per chunk` : '';
  return [
    '### Parsers',
    '',
    'Every parser of the reasoning and tool-call registries, run in the bench\'s main thread on seeded texts in its family\'s markup ' +
      '(checked first: both modes must return the expected reasoning / calls, and the streamed deltas must add up to the complete parse). ' +
      '"complete" is the one-shot parse of the whole text, in MB/s of UTF-8; "streamed" feeds the text to a fresh streaming parser in the chunks the router would ' +
      `hand it (the Qwen3 tokenizer's ids through the router's incremental decoder${perChunk}), in µs per chunk, parser creation and \`finish()\` included. ` +
      `Median of ${s.repeats} samples of ${s.sampleMs} ms after ${s.warmupMs} ms of warm-up; ± is half the min–max range relative to the median. ` +
      `Router time per streamed token: the router thread's busy time per token-carrying SSE event in ${r.source}, **${r.usPerEvent.toFixed(1)} µs** ` +
      `(${count(r.eventsPerSec)} events/s, ${pct(r.busy)} busy, ${r.tokensPerEvent.toFixed(2)} tokens/event; it already includes the qwen3 reasoning parser). ` +
      `The router's own per-token text path measured here (incremental detokenizer + stop check, one id per push): **${spread(decode.median, decode, 3)} µs/token**. ` +
      `"share" is the family's slowest streamed µs/chunk over the router's µs per event.`,
    '',
    ...parserTable('Reasoning parsers', p.result.rows.filter((x) => x.kind === 'reasoning'), r, decode.median),
    '',
    ...parserTable('Tool-call parsers', p.result.rows.filter((x) => x.kind === 'tool'), r, decode.median),
  ];
}

function targetsSection(res: BenchResults): string[] {
  const rows: [string, string, boolean | undefined][] = [];
  const at64 = res.latency?.rows.find((r) => r.concurrency === 64);
  if (at64) {
    const p50 = at64.routed.ttft.p50 - at64.direct.ttft.p50;
    const p99 = at64.routed.ttft.p99 - at64.direct.ttft.p99;
    const loop = at64.routed.loop?.p99 ?? NaN;
    const clean = at64.routed.errors === 0 && at64.direct.errors === 0;
    rows.push(['router-added TTFT p50 ≤ 1 ms at 64 streams', `${delta(p50)} ms`, clean && p50 <= 1]);
    rows.push(['router-added TTFT p99 ≤ 5 ms at 64 streams', `${delta(p99)} ms`, clean && p99 <= 5]);
    rows.push(['router event-loop delay p99 ≤ 5 ms at 64 streams', `${ms(loop)} ms`, loop <= 5]);
  }
  if (res.relay) {
    // The target is for 1-token chunks: when the sim had to batch tokens, only the event rate was relayed one token at a time.
    const p = res.relay.result.routed;
    const oneTokenRate = p.tokensPerSec / p.eventsPerSec <= 1.1 ? p.tokensPerSec : p.eventsPerSec;
    rows.push([
      '≥ 100k relayed tokens/s with 1-token chunks (2-core machine)',
      `${count(p.tokensPerSec)} tokens/s in ${count(p.eventsPerSec)} events/s (paced)`,
      p.errors === 0 && oneTokenRate >= 100_000,
    ]);
  }
  if (res.routing) rows.push(...routingTargets(res.routing.result));
  if (rows.length === 0) return [];
  return [
    '### Targets',
    '',
    '| target | measured | verdict |',
    '|---|---:|---|',
    ...rows.map(([t, m, ok]) => `| ${t} | ${m} | ${ok ? 'met' : '**not met**'} |`),
  ];
}

function profileSection(res: BenchResults): string[] {
  const out: string[] = [];
  for (const p of res.profiles) {
    const top = (lines: ProfileSummary['areas'], n: number) =>
      lines.slice(0, n).map((l) => `| ${l.name.replace(/\|/g, '\\|')} | ${l.ms.toFixed(0)} | ${pct(l.share)} |`);
    out.push(
      `### Router thread CPU profile: ${p.name}`,
      '',
      `\`${p.file}\` (open in Chrome DevTools); ${p.summary.totalMs.toFixed(0)} ms sampled. Self time:`,
      '',
      '| area | ms | share |',
      '|---|---:|---:|',
      ...top(p.summary.areas, 12),
      '',
      '| function | ms | share |',
      '|---|---:|---:|',
      ...top(p.summary.functions, 15),
      '',
    );
  }
  return out;
}

/** The results block of BENCHMARKS.md (also printed to stdout). */
export function renderResults(res: BenchResults): string {
  const blocks: string[][] = [
    [`Command: \`${res.command}\` (${res.durationSec.toFixed(0)} s)`, '', `Machine: ${res.machine}`],
    targetsSection(res),
    res.latency ? latencySection(res.latency) : [],
    res.relay ? relaySection(res.relay) : [],
    res.prep ? prepSection(res.prep) : [],
    res.routing ? routingSection(res.routing.result, res.routing.settings) : [],
    res.cachesim ? cacheSimSection(res.cachesim) : [],
    res.harmony ? harmonySection(res.harmony.result, res.harmony.settings) : [],
    res.parsers ? parsersSection(res.parsers) : [],
    profileSection(res),
  ];
  return blocks
    .filter((b) => b.length > 0)
    .map((b) => b.join('\n'))
    .join('\n\n')
    .trimEnd();
}
