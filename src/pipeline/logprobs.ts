import type { InputLogProbs, OutputLogProbs } from '../gen/sglang/grpc/scheduler/sglang_scheduler.js';

export interface TopLogprob {
  token: string;
  logprob: number;
  bytes: number[];
}

export interface TokenLogprob extends TopLogprob {
  id: number;
  top_logprobs: TopLogprob[];
}

/** Token text for logprobs: always with special tokens, since the client asked about every token. */
export type TokenText = (id: number) => string;

function entry(id: number, logprob: number, text: TokenText): TopLogprob {
  const token = text(id);
  return { token, logprob, bytes: Array.from(Buffer.from(token, 'utf8')) };
}

export function convertOutputLogprobs(lp: OutputLogProbs | undefined, text: TokenText): TokenLogprob[] {
  if (!lp) return [];
  const out: TokenLogprob[] = [];
  for (let i = 0; i < lp.tokenIds.length; i++) {
    const id = lp.tokenIds[i]!;
    const top = lp.topLogprobs[i];
    const tops: TopLogprob[] = [];
    if (top) for (let j = 0; j < top.tokenIds.length; j++) tops.push(entry(top.tokenIds[j]!, top.values[j] ?? 0, text));
    out.push({ id, ...entry(id, lp.tokenLogprobs[i] ?? 0, text), top_logprobs: tops });
  }
  return out;
}

/** A prompt token's logprob: null for the first token, which nothing precedes. */
export interface PromptTokenLogprob {
  id: number;
  token: string;
  logprob: number | null;
  top_logprobs: TopLogprob[];
}

export function convertInputLogprobs(lp: InputLogProbs, text: TokenText): PromptTokenLogprob[] {
  const out: PromptTokenLogprob[] = [];
  for (let i = 0; i < lp.tokenIds.length; i++) {
    const id = lp.tokenIds[i]!;
    const top = lp.topLogprobs[i];
    const tops: TopLogprob[] = [];
    if (top) for (let j = 0; j < top.tokenIds.length; j++) tops.push(entry(top.tokenIds[j]!, top.values[j] ?? 0, text));
    out.push({ id, token: text(id), logprob: lp.tokenLogprobs[i]?.value ?? null, top_logprobs: tops });
  }
  return out;
}
