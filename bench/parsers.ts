/**
 * Parser cost per family, in this thread: complete-parse throughput, streaming cost per token-sized
 * chunk, and that cost next to what the router spends per streamed token.
 */
import { deepStrictEqual } from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import type { Tokenizer } from '../native/tokenizer.js';
import { createReasoningParser, parseReasoningComplete, REASONING_PARSER_NAMES } from '../src/parsers/reasoning/registry.js';
import { TOOL_PARSER_NAMES, toolParserFamily } from '../src/parsers/tools/registry.js';
import type { ReasoningDelta, ToolParserFamily, ToolStreamResult } from '../src/parsers/types.js';
import { createSequenceDecoder } from '../src/tokenizer/sequence-decoder.js';
import type { BenchContext } from './context.js';
import type { PathStats } from './paths.js';
import { BENCH_TOOLS, reasoningWorkloads, toolWorkloads, type ReasoningWorkload, type ToolWorkload } from './parser-texts.js';

export interface ParserSettings {
  /** Running time before the samples (also sizes the samples). */
  warmupMs: number;
  /** Length of one sample. */
  sampleMs: number;
  /** Samples per measurement: the median and the range are reported. */
  repeats: number;
}

/** Microseconds per run of a measured function over the samples. */
export interface Timing {
  median: number;
  min: number;
  max: number;
}

export interface WorkloadTiming {
  workload: string;
  /** UTF-8 bytes of the text. */
  bytes: number;
  /** Non-empty decoded chunks the router would hand the streaming parser (one per token, mostly). */
  chunks: number;
  tokens: number;
  complete: Timing;
  stream: Timing;
}

export interface ParserRow {
  kind: 'reasoning' | 'tool';
  name: string;
  workloads: WorkloadTiming[];
}

export interface ParserResults {
  rows: ParserRow[];
  /** The router's own per-token text path, measured here: incremental detokenizer + stop check (µs per token). */
  decodePerToken: Timing;
}

/** Folds every parser output into a number that is logged, so no measured call is dead code. */
let sink = 0;

/** Runs `fn` for the warm-up, then `repeats` samples of `sampleMs`; µs per call. */
export function timeCalls(fn: () => number, s: ParserSettings): Timing {
  const t0 = performance.now();
  let n = 0;
  do {
    sink += fn();
    n++;
  } while (performance.now() - t0 < s.warmupMs);
  const iterations = Math.max(1, Math.round((s.sampleMs * n) / (performance.now() - t0)));
  const samples = new Float64Array(s.repeats);
  for (let r = 0; r < s.repeats; r++) {
    const a = performance.now();
    for (let i = 0; i < iterations; i++) sink += fn();
    samples[r] = ((performance.now() - a) * 1000) / iterations;
  }
  samples.sort();
  return { median: samples[samples.length >> 1]!, min: samples[0]!, max: samples[samples.length - 1]! };
}

/** The text as the router streams it: the ids of the real tokenizer, through the router's incremental decoder. */
async function tokenChunks(tok: Tokenizer, text: string): Promise<{ ids: Uint32Array; chunks: string[] }> {
  const ids = await tok.encode(text, false);
  const decoder = createSequenceDecoder(tok, { skipSpecialTokens: false, stopStrings: [], stopTokenIds: [], noStopTrim: false });
  const chunks: string[] = [];
  for (let i = 0; i < ids.length; i++) {
    const step = decoder.push(ids.subarray(i, i + 1));
    if (step.text !== '') chunks.push(step.text);
  }
  const tail = decoder.finish();
  if (tail !== '') chunks.push(tail);
  if (chunks.join('') !== text) throw new Error('the tokenizer round trip changed the bench text');
  return { ids, chunks };
}

const deltaSize = (d: ReasoningDelta) => d.normal.length + d.reasoning.length;
const toolSize = (r: ToolStreamResult) => r.normal.length + r.calls.length;

function streamReasoning(name: string, chunks: readonly string[]): ReasoningDelta {
  const p = createReasoningParser(name);
  let normal = '';
  let reasoning = '';
  for (const c of chunks) {
    const d = p.push(c);
    normal += d.normal;
    reasoning += d.reasoning;
  }
  const d = p.finish();
  return { normal: normal + d.normal, reasoning: reasoning + d.reasoning };
}

function streamTools(family: ToolParserFamily, chunks: readonly string[]): { normal: string; calls: { name: string; arguments: string }[] } {
  const p = family.create(BENCH_TOOLS);
  let normal = '';
  const calls: { name: string; arguments: string }[] = [];
  const take = (r: ToolStreamResult) => {
    normal += r.normal;
    for (const c of r.calls) {
      const call = (calls[c.index] ??= { name: '', arguments: '' });
      if (c.name !== undefined) call.name = c.name;
      call.arguments += c.arguments;
    }
  };
  for (const c of chunks) take(p.push(c));
  take(p.finish());
  return { normal, calls };
}

/** Refuses to time a parser that does not read the text as intended, in either mode. */
function checkReasoning(name: string, w: ReasoningWorkload, chunks: readonly string[]): void {
  const complete = parseReasoningComplete(name, w.text);
  const where = `${name} / ${w.name}`;
  deepStrictEqual({ normal: complete.normal.trim(), reasoning: complete.reasoning.trim() }, { normal: w.normal.trim(), reasoning: w.reasoning.trim() }, `${where}: complete parse`);
  deepStrictEqual(streamReasoning(name, chunks), complete, `${where}: streamed deltas differ from the complete parse`);
}

function checkTools(family: ToolParserFamily, w: ToolWorkload, chunks: readonly string[]): void {
  const where = `${family.name} / ${w.name}`;
  const complete = family.complete(w.text, BENCH_TOOLS);
  const readable = (cs: readonly { name: string; arguments: string }[]) => cs.map((c) => ({ name: c.name, args: JSON.parse(c.arguments) as unknown }));
  deepStrictEqual(complete.normal.trim(), w.normal.trim(), `${where}: complete parse, normal text`);
  deepStrictEqual(readable(complete.calls), w.calls, `${where}: complete parse, calls`);
  deepStrictEqual(streamTools(family, chunks), complete, `${where}: streamed deltas differ from the complete parse`);
}

async function measureWorkload(
  ctx: BenchContext,
  s: ParserSettings,
  label: string,
  text: string,
  check: (chunks: readonly string[]) => void,
  complete: () => number,
  stream: (chunks: readonly string[]) => number,
): Promise<{ timing: WorkloadTiming; ids: Uint32Array }> {
  const { ids, chunks } = await tokenChunks(ctx.tokenizer, text);
  check(chunks);
  const timing: WorkloadTiming = {
    workload: label,
    bytes: Buffer.byteLength(text),
    chunks: chunks.length,
    tokens: ids.length,
    complete: timeCalls(complete, s),
    stream: timeCalls(() => stream(chunks), s),
  };
  return { timing, ids };
}

/**
 * Every reasoning and tool-call parser of the registries on its workloads, then the router's own
 * per-token decode path on the longest of their token sequences.
 */
export async function runParsers(ctx: BenchContext, s: ParserSettings): Promise<ParserResults> {
  const rows: ParserRow[] = [];
  let longest: Uint32Array = new Uint32Array(0);
  const add = (kind: ParserRow['kind'], name: string, measured: { timing: WorkloadTiming; ids: Uint32Array }[]) => {
    for (const m of measured) if (m.ids.length > longest.length) longest = m.ids;
    const row: ParserRow = { kind, name, workloads: measured.map((m) => m.timing) };
    rows.push(row);
    logRow(ctx, row);
  };
  for (const name of REASONING_PARSER_NAMES) {
    const measured = [];
    for (const w of reasoningWorkloads(name, createReasoningParser(name).inReasoning)) {
      measured.push(
        await measureWorkload(
          ctx,
          s,
          w.name,
          w.text,
          (chunks) => checkReasoning(name, w, chunks),
          () => deltaSize(parseReasoningComplete(name, w.text)),
          (chunks) => {
            const p = createReasoningParser(name);
            let n = 0;
            for (const c of chunks) n += deltaSize(p.push(c));
            return n + deltaSize(p.finish());
          },
        ),
      );
    }
    add('reasoning', name, measured);
  }
  for (const name of TOOL_PARSER_NAMES) {
    const family = toolParserFamily(name);
    // qwen_coder is a registry alias of qwen_xml: the same parser.
    if (family === undefined || family.name !== name) continue;
    const measured = [];
    for (const w of toolWorkloads(name)) {
      measured.push(
        await measureWorkload(
          ctx,
          s,
          w.name,
          w.text,
          (chunks) => checkTools(family, w, chunks),
          () => {
            const r = family.complete(w.text, BENCH_TOOLS);
            return r.normal.length + r.calls.length;
          },
          (chunks) => {
            const p = family.create(BENCH_TOOLS);
            let n = 0;
            for (const c of chunks) n += toolSize(p.push(c));
            return n + toolSize(p.finish());
          },
        ),
      );
    }
    add('tool', name, measured);
  }
  const decodePerToken = timeDecoder(ctx.tokenizer, ctx.eosTokenIds, longest, s);
  ctx.log(`parsers: decode + stop check ${decodePerToken.median.toFixed(3)} µs/token (output checksum ${sink})`);
  return { rows, decodePerToken };
}

/** The router's per-token text path on the same tokens: a fresh decoder per output, one id per push (µs per token). */
function timeDecoder(tok: Tokenizer, eos: readonly number[], ids: Uint32Array, s: ParserSettings): Timing {
  const t = timeCalls(() => {
    const d = createSequenceDecoder(tok, { skipSpecialTokens: true, stopStrings: [], stopTokenIds: eos, noStopTrim: false });
    let n = 0;
    for (let i = 0; i < ids.length; i++) n += d.push(ids.subarray(i, i + 1)).text.length;
    return n + d.finish().length;
  }, s);
  return { median: t.median / ids.length, min: t.min / ids.length, max: t.max / ids.length };
}

function logRow(ctx: BenchContext, r: ParserRow): void {
  const cells = r.workloads.map((w) => `${w.workload}: ${(w.bytes / w.complete.median).toFixed(0)} MB/s, ${(w.stream.median / w.chunks).toFixed(2)} µs/chunk`);
  ctx.log(`parsers ${r.kind} ${r.name}: ${cells.join('; ')}`);
}

/** What the router thread spends per streamed token, from a routed relay run of this session. */
export interface RouterTokenCost {
  /** Router-thread busy time (event-loop utilization × wall time) per token-carrying SSE event, µs. */
  usPerEvent: number;
  tokensPerEvent: number;
  eventsPerSec: number;
  busy: number;
  source: string;
}

export function routerTokenCost(p: PathStats, source: string): RouterTokenCost {
  const busy = p.loop?.utilization ?? NaN;
  return { usPerEvent: (busy * 1e6) / p.eventsPerSec, tokensPerEvent: p.tokensPerSec / p.eventsPerSec, eventsPerSec: p.eventsPerSec, busy, source };
}
