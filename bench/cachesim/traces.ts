/**
 * Deterministic request traces for the cache-hit simulation (routing.md §6.2): multi-turn
 * conversations whose prompts grow by the previous answer and a new question, and shared-prefix
 * groups (a few long system prompts, many different questions). Token ids are synthetic (vocab
 * 50 000), drawn from a seeded PRNG; every occurrence of a shared segment carries the same ids.
 */
import { hashPrompt } from '../../src/sim/kv-cache.js';
import { mulberry32 } from '../rng.js';

export const VOCAB = 50_000;

export interface SimRequest {
  /** Arrival time, virtual ms. */
  at: number;
  /** Prompt token ids (often a view into a conversation's buffer). */
  tokens: Uint32Array;
  /** Block keys of prompt + answer; the first `promptBlocks` are the prompt's. */
  keys: Float64Array;
  promptBlocks: number;
  outputTokens: number;
  /**
   * The prefix group (shared_prefix*) or conversation (multi_turn) the request belongs to: a label no
   * router sees, read only by the clairvoyant affinity bound.
   */
  group: number;
}

export interface Trace {
  name: TraceName;
  requests: SimRequest[];
  /** Distinct prompt tokens over the whole trace (a measure of prefix demand). */
  uniquePromptTokens: number;
}

export type TraceName = 'multi_turn' | 'shared_prefix' | 'shared_prefix_burst';

export interface MultiTurnShape {
  /** Conversations started over `spanMs` as a Poisson process. */
  spanMs: number;
  turns: number;
  systemTokens: number;
  historyTokens: number;
  /** Question and answer lengths, uniform in [min, max]. */
  question: [number, number];
  answer: [number, number];
  /** Think time between an answer and the next question: min + exponential(mean). */
  thinkMinMs: number;
  thinkMeanMs: number;
}

export interface SharedPrefixShape {
  groups: number;
  perGroup: number;
  prefixTokens: number;
  questionTokens: number;
  outputTokens: number;
  /**
   * Arrivals in bursts (agentic sub-agents fanned out from one parent prompt): a group's prompts arrive
   * together, this many ms apart on average, and groups start as a Poisson process. Without it the
   * prompts of all groups are shuffled and arrive one Poisson process.
   */
  burstGapMs?: number;
}

/** What one request costs a worker with no cache hit: the yardstick for "x % of fleet capacity". */
export type ColdCost = (promptTokens: number, outputTokens: number) => number;

type Rand = () => number;

function randomTokens(rand: Rand, n: number, into: Uint32Array, at: number): number {
  for (let i = 0; i < n; i++) into[at + i] = Math.floor(rand() * VOCAB);
  return at + n;
}

const between = (rand: Rand, [lo, hi]: [number, number]) => lo + Math.floor(rand() * (hi - lo + 1));
const exponential = (rand: Rand, mean: number) => -Math.log(1 - rand()) * mean;

function request(at: number, tokens: Uint32Array, seq: Uint32Array, blockSize: number, outputTokens: number, group: number): SimRequest {
  return { at, tokens, keys: hashPrompt(seq, blockSize).keys, promptBlocks: Math.floor(tokens.length / blockSize), outputTokens, group };
}

/** Distinct prompt tokens over the trace: a block seen earlier (in a prompt or an answer) is not counted again. */
function uniquePromptTokens(reqs: readonly SimRequest[], blockSize: number): number {
  const seen = new Set<number>();
  let unique = 0;
  for (const r of reqs) {
    let hit = 0;
    while (hit < r.promptBlocks && seen.has(r.keys[hit]!)) hit++;
    unique += r.tokens.length - hit * blockSize;
    for (const k of r.keys) seen.add(k);
  }
  return unique;
}

/**
 * Multi-turn conversations: one shared system prompt, a per-user history, then `turns` rounds that
 * each append a question; the next round's prompt also carries the answer. Round k+1 arrives one
 * think time after round k's arrival, independent of the policy, so every policy sees the same
 * arrivals (a slow answer can still be in flight when the next question comes). Conversations start
 * as a Poisson process at the rate that makes their cold work `load` of `fleetMsPerMs`.
 */
export function multiTurnTrace(shape: MultiTurnShape, seed: number, load: number, fleetMsPerMs: number, blockSize: number, cost: ColdCost): Trace {
  const rand = mulberry32(seed);
  const system = new Uint32Array(shape.systemTokens);
  randomTokens(rand, system.length, system, 0);
  interface Conversation {
    buf: Uint32Array;
    /** Prompt end and answer length per turn, and gap before the turn (ms after the previous arrival). */
    turns: { promptEnd: number; answer: number; gapMs: number }[];
    keys: Float64Array;
  }
  const conversations: Conversation[] = [];
  // Conversations are built until their cold work covers the span at the requested load.
  const targetWork = load * fleetMsPerMs * shape.spanMs;
  let work = 0;
  while (work < targetWork) {
    const plan: { q: number; a: number; gap: number }[] = [];
    let len = shape.systemTokens + shape.historyTokens;
    for (let t = 0; t < shape.turns; t++) {
      const q = between(rand, shape.question);
      const a = between(rand, shape.answer);
      const gap = t === 0 ? 0 : shape.thinkMinMs + exponential(rand, shape.thinkMeanMs);
      plan.push({ q, a, gap });
      len += q + a;
    }
    const buf = new Uint32Array(len);
    buf.set(system);
    let at = randomTokens(rand, shape.historyTokens, buf, system.length);
    const turns: Conversation['turns'] = [];
    for (const p of plan) {
      at = randomTokens(rand, p.q, buf, at);
      turns.push({ promptEnd: at, answer: p.a, gapMs: p.gap });
      at = randomTokens(rand, p.a, buf, at);
    }
    const keys = hashPrompt(buf, blockSize).keys;
    conversations.push({ buf, turns, keys });
    for (const t of turns) work += cost(t.promptEnd, t.answer);
  }
  const rate = conversations.length / shape.spanMs;
  const requests: SimRequest[] = [];
  let start = 0;
  for (const [group, c] of conversations.entries()) {
    start += exponential(rand, 1 / rate);
    let at = start;
    for (const t of c.turns) {
      at += t.gapMs;
      const seqEnd = t.promptEnd + t.answer;
      requests.push({
        at,
        tokens: c.buf.subarray(0, t.promptEnd),
        keys: c.keys.subarray(0, Math.floor(seqEnd / blockSize)),
        promptBlocks: Math.floor(t.promptEnd / blockSize),
        outputTokens: t.answer,
        group,
      });
    }
  }
  requests.sort((a, b) => a.at - b.at);
  return { name: 'multi_turn', requests, uniquePromptTokens: uniquePromptTokens(requests, blockSize) };
}

/**
 * Shared-prefix groups (SGLang's generated-shared-prefix): `groups` system prompts, `perGroup`
 * questions each, shuffled, Poisson arrivals at the rate that makes the cold work `load` of the fleet;
 * or, with `burstGapMs`, each group's prompts in one burst (the same average rate).
 */
export function sharedPrefixTrace(shape: SharedPrefixShape, seed: number, load: number, fleetMsPerMs: number, blockSize: number, cost: ColdCost): Trace {
  const rand = mulberry32(seed);
  const prefixes: Uint32Array[] = [];
  for (let g = 0; g < shape.groups; g++) {
    const p = new Uint32Array(shape.prefixTokens);
    randomTokens(rand, p.length, p, 0);
    prefixes.push(p);
  }
  const order: number[] = [];
  for (let g = 0; g < shape.groups; g++) for (let i = 0; i < shape.perGroup; i++) order.push(g);
  const bursts = shape.burstGapMs !== undefined;
  for (let i = order.length - 1; i > 0 && !bursts; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const promptLen = shape.prefixTokens + shape.questionTokens;
  const requests = order.map((g) => {
    const seq = new Uint32Array(promptLen + shape.outputTokens);
    seq.set(prefixes[g]!);
    randomTokens(rand, seq.length - shape.prefixTokens, seq, shape.prefixTokens);
    return request(0, seq.subarray(0, promptLen), seq, blockSize, shape.outputTokens, g);
  });
  const rate = (load * fleetMsPerMs) / cost(promptLen, shape.outputTokens);
  let at = 0;
  if (shape.burstGapMs === undefined) {
    for (const r of requests) {
      at += exponential(rand, 1 / rate);
      r.at = at;
    }
    return { name: 'shared_prefix', requests, uniquePromptTokens: uniquePromptTokens(requests, blockSize) };
  }
  for (let g = 0; g < shape.groups; g++) {
    at += exponential(rand, shape.perGroup / rate);
    let t = at;
    for (let i = 0; i < shape.perGroup; i++) {
      requests[g * shape.perGroup + i]!.at = t;
      t += exponential(rand, shape.burstGapMs);
    }
  }
  requests.sort((a, b) => a.at - b.at);
  return { name: 'shared_prefix_burst', requests, uniquePromptTokens: uniquePromptTokens(requests, blockSize) };
}
