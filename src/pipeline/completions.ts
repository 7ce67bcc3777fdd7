import { ApiError } from '../errors.js';
import type { CompletionRequest } from '../protocol/openai.js';
import { collectChoices } from './chat.js';
import type { PipelineContext, RequestMeta } from './context.js';
import { GenerationGroup, type Generation } from './generation.js';
import type { PromptTokenLogprob, TokenLogprob, TopLogprob } from './logprobs.js';
import { checkContextLength, decoderOptions, setupStops, startGeneration, workerShouldStream } from './prepared.js';
import { buildCompletionGenerateRequest } from './request-builder.js';
import { resolveRequestId } from './request-id.js';
import type { ServedModel } from './served-model.js';
import { mapStream, type StreamSource, type TokenClock } from './stream-source.js';
import { addUsage, toUsage, type Usage } from './usage.js';

interface PromptRun {
  generation: Generation;
  promptText: string;
  promptTokens: number;
}

export interface CompletionRun {
  id: string;
  created: number;
  model: string;
  n: number;
  echo: boolean;
  includeUsage: boolean;
  logprobs: boolean;
  prompts: PromptRun[];
}

/** Normalises the four OpenAI prompt shapes into a list of text or token-id prompts. */
function promptList(prompt: CompletionRequest['prompt']): (string | number[])[] {
  if (typeof prompt === 'string') return [prompt];
  if (Array.isArray(prompt) && prompt.length > 0 && typeof prompt[0] === 'number') return [prompt as number[]];
  return prompt as (string | number[])[];
}

export async function startCompletion(ctx: PipelineContext, model: ServedModel, req: CompletionRequest, meta: RequestMeta): Promise<CompletionRun> {
  const prompts = promptList(req.prompt);
  if (prompts.length === 0) throw new ApiError(400, 'prompt must not be empty', { param: 'prompt', code: 'invalid_value' });
  const texts = prompts.filter((p): p is string => typeof p === 'string');
  const stops = req.stop;
  const stopTokenIds = req.stop_token_ids;
  const [encodedTexts, stopSetup] = await Promise.all([
    texts.length ? model.prep.encode(texts, true) : Promise.resolve([]),
    setupStops(model, stops, stopTokenIds),
  ]);
  const id = resolveRequestId({ rid: req.rid, headerId: meta.headerRequestId, prefix: 'cmpl-' });
  const skipSpecialTokens = req.skip_special_tokens;
  const decoder = decoderOptions(
    model,
    { skipSpecialTokens, ignoreEos: req.ignore_eos, noStopTrim: req.no_stop_trim, stops, stopTokenIds },
    stopSetup,
  );
  let t = 0;
  const runs: PromptRun[] = prompts.map((p, i) => {
    const ids = typeof p === 'string' ? encodedTexts[t++]! : Uint32Array.from(p);
    if (ids.length === 0) throw new ApiError(400, 'prompt must not be empty', { param: 'prompt', code: 'invalid_value' });
    checkContextLength(model, ids.length, req.max_tokens);
    const promptText = typeof p === 'string' ? p : model.tokenizer.decode(p, false);
    const request = buildCompletionGenerateRequest(req, {
      requestId: prompts.length === 1 ? id : `${id}-p${i}`,
      inputIds: ids,
      text: promptText,
      stops: stopSetup.plan,
      defaults: model.defaults,
      skipSpecialTokens,
    });
    request.stream = workerShouldStream(req.stream, stopSetup.plan);
    return {
      generation: startGeneration(ctx, model, meta, { ids, user: req.user, maxNewTokens: req.max_tokens }, request, decoder, stopSetup, req.logprobs !== undefined && req.logprobs !== null),
      promptText,
      promptTokens: ids.length,
    };
  });
  return {
    id,
    created: Math.floor(meta.startedAt / 1000),
    model: req.model ?? model.id,
    n: req.n,
    echo: req.echo,
    includeUsage: req.stream_options?.include_usage === true,
    logprobs: req.logprobs !== undefined && req.logprobs !== null,
    prompts: runs,
  };
}

/**
 * OpenAI's legacy logprobs object. With echo, the prompt's tokens come first, offsets counted from
 * the start of the echoed text; the first prompt token has no logprob and no alternatives.
 */
function completionLogprobs(lp: TokenLogprob[] | undefined, startOffset: number, prompt?: readonly PromptTokenLogprob[]): Record<string, unknown> | null {
  if (!lp) return null;
  const tokens: string[] = [];
  const tokenLogprobs: (number | null)[] = [];
  const topLogprobs: (Record<string, number> | null)[] = [];
  const textOffset: number[] = [];
  const add = (token: string, logprob: number | null, tops: readonly TopLogprob[], off: number) => {
    tokens.push(token);
    tokenLogprobs.push(logprob);
    topLogprobs.push(logprob === null ? null : Object.fromEntries(tops.map((t) => [t.token, t.logprob])));
    textOffset.push(off);
    return off + token.length;
  };
  let off = 0;
  if (prompt) for (const l of prompt) off = add(l.token, l.logprob, l.top_logprobs, off);
  off = startOffset;
  for (const l of lp) off = add(l.token, l.logprob, l.top_logprobs, off);
  return { tokens, token_logprobs: tokenLogprobs, top_logprobs: topLogprobs, text_offset: textOffset };
}

function usageOf(run: CompletionRun): Usage {
  return run.prompts.map((p) => toUsage(p.generation.usage(), p.promptTokens)).reduce(addUsage);
}

/** All prompts of the request as one generation, choice indexes numbered `prompt_index * n + i`. */
export function completionGroup(run: CompletionRun): GenerationGroup {
  return new GenerationGroup(run.prompts.map((p) => p.generation), run.n);
}

export function completionStream(run: CompletionRun, clock?: TokenClock): StreamSource {
  const base = { id: run.id, object: 'text_completion', created: run.created, model: run.model };
  const echoed = new Set<number>();
  const offsets = new Map<number, number>();
  return mapStream(
    completionGroup(run),
    (ev, emit) => {
      let prefix = '';
      if (run.echo && !echoed.has(ev.index)) {
        echoed.add(ev.index);
        prefix = run.prompts[Math.floor(ev.index / run.n)]!.promptText;
      }
      if (ev.kind === 'text') {
        const start = (offsets.get(ev.index) ?? 0) + prefix.length;
        offsets.set(ev.index, start + ev.text.length);
        emit({ ...base, choices: [{ index: ev.index, text: prefix + ev.text, logprobs: completionLogprobs(ev.logprobs, start), finish_reason: null }] });
      } else {
        const choice: Record<string, unknown> = { index: ev.index, text: prefix, logprobs: null, finish_reason: ev.finishReason };
        if (ev.matchedStop !== undefined) choice['matched_stop'] = ev.matchedStop;
        emit({ ...base, choices: [choice] });
      }
    },
    (emit) => {
      if (run.includeUsage) emit({ ...base, choices: [], usage: usageOf(run) });
    },
    clock,
  );
}

export async function collectCompletion(run: CompletionRun): Promise<Record<string, unknown>> {
  const choices = await collectChoices(completionGroup(run), run.prompts.length * run.n, run.logprobs);
  return {
    id: run.id,
    object: 'text_completion',
    created: run.created,
    model: run.model,
    choices: choices.map((c, index) => {
      const prompt = run.prompts[Math.floor(index / run.n)]!;
      const prefix = run.echo ? prompt.promptText : '';
      const choice: Record<string, unknown> = {
        index,
        text: prefix + c.text,
        logprobs: completionLogprobs(c.logprobs, prefix.length, run.echo ? prompt.generation.promptLogprobs() : undefined),
        finish_reason: c.finishReason,
      };
      if (c.matchedStop !== undefined) choice['matched_stop'] = c.matchedStop;
      return choice;
    }),
    usage: usageOf(run),
  };
}
