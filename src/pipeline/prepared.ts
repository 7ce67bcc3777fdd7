import { ApiError } from '../errors.js';
import type { GenerateRequest } from '../gen/sglang/grpc/scheduler/sglang_scheduler.js';
import type { SequenceDecoderOptions } from '../tokenizer/sequence-decoder.js';
import type { PipelineContext, RequestMeta } from './context.js';
import type { ServedModel } from './served-model.js';
import type { RouteInput } from '../routing/types.js';
import { routingKey } from './dispatch.js';
import { Generation } from './generation.js';
import { planStops, type StopPlan } from './request-builder.js';

export interface StopSetup {
  plan: StopPlan;
  stopIdToString: Map<number, string>;
}

/** Encodes stop strings in the prep pool; single-token ones become engine stop ids (the engine rejects strings). */
export async function setupStops(model: ServedModel, stops: readonly string[], stopTokenIds: readonly number[]): Promise<StopSetup> {
  const encoded = new Map<string, ArrayLike<number>>();
  if (stops.length) {
    const ids = await model.prep.encode([...stops], false);
    stops.forEach((s, i) => encoded.set(s, ids[i]!));
  }
  const plan = planStops(stops, encoded, stopTokenIds);
  const stopIdToString = new Map<number, string>();
  for (const s of stops) {
    const ids = encoded.get(s);
    if (ids && ids.length === 1 && !stopTokenIds.includes(ids[0]!)) stopIdToString.set(ids[0]!, s);
  }
  return { plan, stopIdToString };
}

export function checkContextLength(model: ServedModel, promptTokens: number, maxNewTokens: number | undefined): void {
  const limit = model.maxContextLength;
  if (!limit) return;
  if (promptTokens + (maxNewTokens ?? 0) > limit) {
    const what = maxNewTokens ? `${promptTokens} prompt tokens + ${maxNewTokens} requested completion tokens` : `${promptTokens} prompt tokens`;
    throw new ApiError(400, `This model's maximum context length is ${limit} tokens; the request has ${what}.`, {
      code: 'context_length_exceeded',
      param: 'messages',
    });
  }
}

export interface DecodeSettings {
  skipSpecialTokens: boolean;
  ignoreEos: boolean;
  noStopTrim: boolean;
  stops: readonly string[];
  stopTokenIds: readonly number[];
}

export function decoderOptions(model: ServedModel, s: DecodeSettings, stopSetup: StopSetup): SequenceDecoderOptions {
  const ids = new Set<number>(s.stopTokenIds);
  if (!s.ignoreEos) for (const id of model.eosTokenIds) ids.add(id);
  for (const id of stopSetup.stopIdToString.keys()) ids.add(id);
  return { skipSpecialTokens: s.skipSpecialTokens, stopStrings: s.stops, stopTokenIds: ids, noStopTrim: s.noStopTrim };
}

/** What the routing policy sees of one prompt. */
export interface RoutedPrompt {
  /** The prompt's token ids (the prep pool's Uint32Array). */
  ids: ArrayLike<number>;
  /** The body's `user`, an affinity key when no X-Routing-Key header is given. */
  user?: string | undefined;
  maxNewTokens?: number | undefined;
}

/** Binds one GenerateRequest to a dispatch: the worker is chosen by the routing policy when the generation starts. */
export function startGeneration(
  ctx: PipelineContext,
  model: ServedModel,
  meta: RequestMeta,
  prompt: RoutedPrompt,
  request: GenerateRequest,
  decoder: SequenceDecoderOptions,
  stopSetup: StopSetup,
  logprobs: boolean,
  withIds = false,
): Generation {
  const key = routingKey(meta.routingKey, prompt.user, meta.sessionId);
  const input: RouteInput = { tokens: prompt.ids };
  if (key !== undefined) input.key = key;
  if (prompt.maxNewTokens !== undefined) input.maxNewTokens = prompt.maxNewTokens;
  return new Generation({
    dispatch: ctx.dispatcher.begin({ model: model.id, route: meta.route, input, log: meta.log }),
    request,
    tokenizer: model.tokenizer,
    decoder,
    stopIdToString: stopSetup.stopIdToString,
    logprobs,
    withIds,
    deadline: meta.startedAt + ctx.requestTimeoutMs,
    metadata: meta.forward,
  });
}

/**
 * The engine only stops early on single-token stops; with router-side stop strings a non-streaming
 * request is still streamed from the worker so that a local match can Abort the rest of the generation.
 */
export function workerShouldStream(clientStream: boolean, plan: StopPlan): boolean {
  return clientStream || plan.routerStops.length > 0;
}
