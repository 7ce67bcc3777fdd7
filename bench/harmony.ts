/**
 * Harmony relay, per output token, in process: a GPT-OSS choice's ids go through the generation's
 * stop-checking decoder (its text only serves router-side stop strings) and then through the
 * Harmony parser, which decodes the message text again. Measured one token per push, as the relay
 * sees 1-token chunks, so that the cost of the second decode can be weighed against the whole.
 */
import { performance } from 'node:perf_hooks';
import type { Tokenizer } from '../native/tokenizer.js';
import { HARMONY_STOP_IDS, HarmonyChoiceParsing, harmonyTokenText } from '../src/pipeline/harmony-output.js';
import { createSequenceDecoder } from '../src/tokenizer/sequence-decoder.js';
import { summarize } from './stats.js';

export interface HarmonySettings {
  /** Timed passes over the reply per stage (after as many untimed ones). */
  rounds: number;
}

export interface HarmonyStage {
  name: string;
  p50Ns: number;
  p99Ns: number;
}

export interface HarmonyResult {
  tokens: number;
  stages: HarmonyStage[];
}

const SENTENCE = 'The freight for Lyon leaves from track four at nine, once the crew has signed off the brakes and couplings. ';

/** A typical reply: a long analysis message, then the final answer, as one token-id stream. */
async function replyIds(tok: Tokenizer): Promise<number[]> {
  const text = `<|channel|>analysis<|message|>${SENTENCE.repeat(20)}<|end|><|start|>assistant<|channel|>final<|message|>${SENTENCE.repeat(20)}<|return|>`;
  return Array.from(await tok.encode(text, false));
}

type Stage = (ids: readonly number[]) => void;

export async function runHarmony(tok: Tokenizer, s: HarmonySettings, log: (m: string) => void): Promise<HarmonyResult> {
  const ids = await replyIds(tok);
  const text = harmonyTokenText(tok);
  const decoderOptions = { skipSpecialTokens: true, stopStrings: [], stopTokenIds: new Set(HARMONY_STOP_IDS), noStopTrim: false };
  const decode: Stage = (reply) => {
    const d = createSequenceDecoder(tok, decoderOptions);
    for (const id of reply) d.push([id]);
  };
  const parse: Stage = (reply) => {
    const p = new HarmonyChoiceParsing(text, undefined);
    for (const id of reply) p.push('', [id]);
  };
  const both: Stage = (reply) => {
    decode(reply);
    parse(reply);
  };
  const stages: [string, Stage][] = [
    ['stop-checking decoder (the first decode)', decode],
    ['Harmony parser (the second decode and the channel machine)', parse],
    ['both, as the relay runs them', both],
  ];
  // Rounds interleave the stages, so that load from other processes falls on all of them alike.
  const samples = stages.map(() => new Float64Array(s.rounds));
  for (let round = -s.rounds; round < s.rounds; round++) {
    stages.forEach(([, stage], i) => {
      const t0 = performance.now();
      stage(ids);
      const ns = ((performance.now() - t0) * 1e6) / ids.length;
      if (round >= 0) samples[i]![round] = ns;
    });
  }
  const result = {
    tokens: ids.length,
    stages: stages.map(([name], i) => {
      const sum = summarize(samples[i]!);
      return { name, p50Ns: sum.p50, p99Ns: sum.p99 };
    }),
  };
  for (const st of result.stages) log(`harmony ${st.name}: p50 ${st.p50Ns.toFixed(0)} ns/token`);
  return result;
}

export function harmonySection(r: HarmonyResult, s: HarmonySettings): string[] {
  return [
    '### Harmony relay: per-token decode cost',
    '',
    `A ${r.tokens}-token GPT-OSS reply (analysis, then final) pushed one token at a time, in process; ns per token over ${s.rounds} timed passes.`,
    '',
    '| stage | p50 | p99 |',
    '|---|---:|---:|',
    ...r.stages.map((st) => `| ${st.name} | ${st.p50Ns.toFixed(0)} | ${st.p99Ns.toFixed(0)} |`),
  ];
}
