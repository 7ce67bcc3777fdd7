import { ApiError } from '../errors.js';
import type { GenerateNativeRequest } from '../protocol/openai.js';
import type { PipelineContext, RequestMeta } from './context.js';
import { GenerationGroup, type Generation, type OutputEvent } from './generation.js';
import type { TokenLogprob } from './logprobs.js';
import { checkContextLength, decoderOptions, setupStops, startGeneration, workerShouldStream } from './prepared.js';
import { buildNativeGenerateRequest } from './request-builder.js';
import { resolveRequestId } from './request-id.js';
import type { ServedModel } from './served-model.js';
import { drain, mapStream, type StreamSource, type TokenClock } from './stream-source.js';

interface NativeItem {
  id: string;
  generation: Generation;
  promptTokens: number;
  /** `input_token_logprobs`, built once the worker sent the prompt's logprobs (every later event repeats it). */
  inputLogprobs?: [number | null, number, null][];
}

export interface GenerateRun {
  items: NativeItem[];
  batched: boolean;
  n: number;
  logprobs: boolean;
  startedAt: number;
}

function inputs(req: GenerateNativeRequest): { texts?: string[]; ids?: number[][]; batched: boolean } {
  if (req.input_ids !== undefined) {
    const batched = Array.isArray(req.input_ids[0]);
    return { ids: batched ? (req.input_ids as number[][]) : [req.input_ids as number[]], batched };
  }
  const text = req.text!;
  return typeof text === 'string' ? { texts: [text], batched: false } : { texts: text, batched: true };
}

/** SGLang's native /generate: text or input ids in, SGLang-shaped JSON or SSE out. */
export async function startGenerate(ctx: PipelineContext, model: ServedModel, req: GenerateNativeRequest, meta: RequestMeta): Promise<GenerateRun> {
  const sp = req.sampling_params;
  const stops = sp.stop;
  const stopTokenIds = sp.stop_token_ids;
  const inp = inputs(req);
  const [encoded, stopSetup] = await Promise.all([
    inp.texts ? model.prep.encode(inp.texts, false) : Promise.resolve(inp.ids!.map((a) => Uint32Array.from(a))),
    setupStops(model, stops, stopTokenIds),
  ]);
  const skipSpecialTokens = sp.skip_special_tokens ?? true;
  const decoder = decoderOptions(
    model,
    { skipSpecialTokens, ignoreEos: sp.ignore_eos === true, noStopTrim: sp.no_stop_trim === true, stops, stopTokenIds },
    stopSetup,
  );
  const baseId = resolveRequestId({ rid: typeof req.rid === 'string' ? req.rid : undefined, headerId: meta.headerRequestId, prefix: 'gnt-' });
  const items = encoded.map((ids, i): NativeItem => {
    if (ids.length === 0) throw new ApiError(400, 'the prompt is empty', { param: inp.texts ? 'text' : 'input_ids', code: 'invalid_value' });
    checkContextLength(model, ids.length, sp.max_new_tokens);
    const id = Array.isArray(req.rid) ? String(req.rid[i] ?? `${baseId}-${i}`) : encoded.length === 1 ? baseId : `${baseId}-${i}`;
    const request = buildNativeGenerateRequest(req, {
      requestId: id,
      inputIds: ids,
      text: inp.texts?.[i] ?? '',
      stops: stopSetup.plan,
      defaults: model.defaults,
      skipSpecialTokens,
    });
    request.stream = workerShouldStream(req.stream, stopSetup.plan);
    return { id, generation: startGeneration(ctx, model, meta, { ids, maxNewTokens: sp.max_new_tokens }, request, decoder, stopSetup, req.return_logprob), promptTokens: ids.length };
  });
  return {
    items,
    batched: inp.batched,
    n: sp.n ?? 1,
    logprobs: req.return_logprob,
    startedAt: meta.startedAt,
  };
}

interface ChoiceAcc {
  text: string;
  logprobs: [number, number, null][];
  finish: { type: string; matched?: string | number } | null;
}

function metaInfo(run: GenerateRun, item: NativeItem, choice: number, acc: ChoiceAcc): Record<string, unknown> {
  const u = item.generation.usage()[choice];
  const m: Record<string, unknown> = {
    id: run.n > 1 ? `${item.id}-${choice}` : item.id,
    finish_reason: acc.finish,
    prompt_tokens: u?.promptTokens || item.promptTokens,
    completion_tokens: u?.completionTokens ?? 0,
    cached_tokens: u?.cachedTokens ?? 0,
    e2e_latency: (Date.now() - run.startedAt) / 1000,
  };
  if (run.logprobs) {
    item.inputLogprobs ??= item.generation.promptLogprobs()?.map((l) => [l.logprob, l.id, null]);
    if (item.inputLogprobs) m['input_token_logprobs'] = item.inputLogprobs;
    m['output_token_logprobs'] = acc.logprobs;
  }
  return m;
}

function apply(acc: ChoiceAcc, ev: OutputEvent): void {
  if (ev.kind === 'text') {
    acc.text += ev.text;
    if (ev.logprobs) for (const l of ev.logprobs as TokenLogprob[]) acc.logprobs.push([l.logprob, l.id, null]);
  } else {
    acc.finish = ev.matchedStop === undefined ? { type: ev.finishReason } : { type: ev.finishReason, matched: ev.matchedStop };
  }
}

const newAcc = (): ChoiceAcc => ({ text: '', logprobs: [], finish: null });

/** All prompts of the request as one generation, choice indexes numbered `prompt_index * n + i`. */
export function generateGroup(run: GenerateRun): GenerationGroup {
  return new GenerationGroup(run.items.map((it) => it.generation), run.n);
}

/** SGLang streams the cumulative text so far in every event. */
export function generateStream(run: GenerateRun, clock?: TokenClock): StreamSource {
  const accs = new Map<number, ChoiceAcc>();
  return mapStream(
    generateGroup(run),
    (ev, emit) => {
      let acc = accs.get(ev.index);
      if (!acc) accs.set(ev.index, (acc = newAcc()));
      apply(acc, ev);
      const item = Math.floor(ev.index / run.n);
      const out: Record<string, unknown> = { text: acc.text, meta_info: metaInfo(run, run.items[item]!, ev.index % run.n, acc) };
      if (run.batched || run.n > 1) out['index'] = ev.index;
      emit(out);
    },
    () => undefined,
    clock,
  );
}

export async function collectGenerate(run: GenerateRun): Promise<unknown> {
  const accs = Array.from({ length: run.items.length * run.n }, newAcc);
  await drain(generateGroup(run), (ev) => apply(accs[ev.index]!, ev));
  const flat = accs.map((acc, i) => ({ text: acc.text, meta_info: metaInfo(run, run.items[Math.floor(i / run.n)]!, i % run.n, acc) }));
  return run.batched || run.n > 1 ? flat : flat[0];
}
