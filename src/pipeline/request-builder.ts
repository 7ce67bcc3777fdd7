import { GenerateRequest, type SamplingParams } from '../gen/sglang/grpc/scheduler/sglang_scheduler.js';
import type { ChatRequest, CompletionRequest, GenerateNativeRequest, SamplingFields } from '../protocol/openai.js';
import { isValidSamplingValue, multipleConstraints } from '../protocol/validate.js';

/*
 * OpenAI / SGLang requests → the scheduler's GenerateRequest. Proto3 zero values are wrong for most
 * sampling fields (temperature 0 is greedy, top_p 0 and repetition_penalty 0 are invalid, n 0 is
 * nothing, logprob_start_len 0 asks for prompt logprobs), so every one of them is set explicitly.
 */

/** The worker's `default_sampling_params_json`: applied only to fields the client left out. */
export interface ModelSamplingDefaults {
  temperature?: number;
  top_p?: number;
  top_k?: number;
  min_p?: number;
  repetition_penalty?: number;
}

/**
 * SGLang gRPC workers reject stop strings. A stop string that is exactly one token goes to the
 * engine as a stop id (so it stops early); the rest can only be matched by the router.
 */
export interface StopPlan {
  /** Request `stop_token_ids` then the single-token stop strings' ids, without duplicates. */
  engineStopTokenIds: number[];
  /** Multi-token, unencodable or empty-encoding stop strings, without duplicates. */
  routerStops: string[];
}

export type EngineConstraint = NonNullable<SamplingParams['constraint']>;

export interface GenerateBuildInput {
  requestId: string;
  inputIds: ArrayLike<number>;
  /** The rendered prompt (or the prompt text), sent as `tokenized.original_text`. */
  text: string;
  stops: StopPlan;
  defaults: ModelSamplingDefaults;
  /** How the router will decode this request's tokens; sent so the proto tells the truth about it. */
  skipSpecialTokens: boolean;
  /** Sets proto field 18, which older (upstream-proto) workers read as need_wait_for_encoder. */
  requireReasoning?: boolean;
}

export interface ChatBuildInput extends GenerateBuildInput {
  /** The tool parser's grammar for tool_choice required/named; a constraint of the request's own wins. */
  toolConstraint?: EngineConstraint;
  /** response_format's constraint as the model needs it (Harmony wraps it); default: the bare JSON schema. */
  formatConstraint?: EngineConstraint;
}

/** The JSON schema a chat response_format asks for (grpc-pipeline.md §2.3); undefined for text or none. */
export function responseFormatSchema(rf: ChatRequest['response_format']): unknown {
  if (rf?.type === 'json_object') return { type: 'object' };
  if (rf?.type === 'json_schema') return rf.json_schema.schema;
  return undefined;
}

const DEFAULT_KEYS = ['temperature', 'top_p', 'top_k', 'min_p', 'repetition_penalty'] as const;

export function planStops(
  stops: readonly string[],
  encodedStops: ReadonlyMap<string, ArrayLike<number>>,
  requestStopTokenIds: readonly number[],
): StopPlan {
  const ids = new Set<number>(requestStopTokenIds);
  const routerStops: string[] = [];
  for (const s of stops) {
    if (s === '') continue;
    const encoded = encodedStops.get(s);
    if (encoded !== undefined && encoded.length === 1) ids.add(encoded[0]!);
    else if (!routerStops.includes(s)) routerStops.push(s);
  }
  return { engineStopTokenIds: [...ids], routerStops };
}

/** Tolerant by design: a worker's bad defaults must not break serving, so bad input gives `{}` / drops the field. */
export function parseDefaultSamplingParams(json: string | undefined): ModelSamplingDefaults {
  if (!json) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
  const out: ModelSamplingDefaults = {};
  for (const key of DEFAULT_KEYS) {
    const v = (parsed as Record<string, unknown>)[key];
    if (typeof v === 'number' && isValidSamplingValue(key, v)) out[key] = v;
  }
  return out;
}

export function buildChatGenerateRequest(req: ChatRequest, input: ChatBuildInput): GenerateRequest {
  const found: EngineConstraint[] = [];
  const schema = responseFormatSchema(req.response_format);
  if (schema !== undefined) found.push(input.formatConstraint ?? { $case: 'jsonSchema', value: JSON.stringify(schema) });
  if (req.regex !== undefined) found.push({ $case: 'regex', value: req.regex });
  if (req.ebnf !== undefined) found.push({ $case: 'ebnfGrammar', value: req.ebnf });
  return build(req, input, {
    maxNewTokens: req.max_completion_tokens,
    // SMG drops chat min_tokens on the SGLang path; SGLang's own HTTP server honours it, and so do we.
    minNewTokens: req.min_tokens,
    n: req.n,
    constraint: single(found) ?? input.toolConstraint,
    ignoreEos: req.ignore_eos,
    noStopTrim: req.no_stop_trim,
    spacesBetweenSpecialTokens: true,
    returnLogprob: req.logprobs,
    topLogprobsNum: req.top_logprobs ?? 0,
    logprobStartLen: -1,
    tokenIdsLogprob: [],
    stream: req.stream,
    requireReasoning: input.requireReasoning === true,
  });
}

export function buildCompletionGenerateRequest(req: CompletionRequest, input: GenerateBuildInput): GenerateRequest {
  const found: EngineConstraint[] = [];
  if (req.json_schema !== undefined) found.push({ $case: 'jsonSchema', value: req.json_schema });
  if (req.regex !== undefined) found.push({ $case: 'regex', value: req.regex });
  if (req.ebnf !== undefined) found.push({ $case: 'ebnfGrammar', value: req.ebnf });
  return build(req, input, {
    maxNewTokens: req.max_tokens,
    minNewTokens: req.min_tokens,
    n: req.n,
    constraint: single(found),
    ignoreEos: req.ignore_eos,
    noStopTrim: req.no_stop_trim,
    spacesBetweenSpecialTokens: true,
    returnLogprob: req.logprobs !== undefined,
    topLogprobsNum: req.logprobs ?? 0,
    // echo with logprobs scores the echoed prompt too (a whole answer: the stream carries output logprobs only).
    logprobStartLen: req.echo && req.logprobs !== undefined && !req.stream ? 0 : -1,
    tokenIdsLogprob: [],
    stream: req.stream,
    requireReasoning: input.requireReasoning === true,
  });
}

/** `require_reasoning` comes from the body here (SGLang's native field) or from the caller. */
export function buildNativeGenerateRequest(req: GenerateNativeRequest, input: GenerateBuildInput): GenerateRequest {
  const sp = req.sampling_params;
  const found: EngineConstraint[] = [];
  if (sp.json_schema !== undefined) found.push({ $case: 'jsonSchema', value: sp.json_schema });
  if (sp.regex !== undefined) found.push({ $case: 'regex', value: sp.regex });
  if (sp.ebnf !== undefined) found.push({ $case: 'ebnfGrammar', value: sp.ebnf });
  if (sp.structural_tag !== undefined) found.push({ $case: 'structuralTag', value: sp.structural_tag });
  return build(sp, input, {
    maxNewTokens: sp.max_new_tokens,
    minNewTokens: sp.min_new_tokens,
    n: sp.n ?? 1,
    constraint: single(found),
    ignoreEos: sp.ignore_eos ?? false,
    noStopTrim: sp.no_stop_trim ?? false,
    spacesBetweenSpecialTokens: sp.spaces_between_special_tokens ?? true,
    returnLogprob: req.return_logprob,
    topLogprobsNum: req.top_logprobs_num,
    logprobStartLen: req.logprob_start_len,
    tokenIdsLogprob: req.token_ids_logprob,
    stream: req.stream,
    requireReasoning: input.requireReasoning === true || req.require_reasoning,
  });
}

interface EngineKnobs {
  maxNewTokens: number | undefined;
  minNewTokens: number | undefined;
  n: number;
  constraint: EngineConstraint | undefined;
  ignoreEos: boolean;
  noStopTrim: boolean;
  spacesBetweenSpecialTokens: boolean;
  returnLogprob: boolean;
  topLogprobsNum: number;
  logprobStartLen: number;
  tokenIdsLogprob: number[];
  stream: boolean;
  requireReasoning: boolean;
}

function single(found: EngineConstraint[]): EngineConstraint | undefined {
  if (found.length > 1) throw multipleConstraints();
  return found[0];
}

function build(s: SamplingFields, input: GenerateBuildInput, k: EngineKnobs): GenerateRequest {
  const d = input.defaults;
  const request = GenerateRequest.fromPartial({
    requestId: input.requestId,
    samplingParams: {
      temperature: s.temperature ?? d.temperature ?? 1,
      topP: s.top_p ?? d.top_p ?? 1,
      topK: s.top_k ?? d.top_k ?? -1,
      minP: s.min_p ?? d.min_p ?? 0,
      frequencyPenalty: s.frequency_penalty ?? 0,
      presencePenalty: s.presence_penalty ?? 0,
      repetitionPenalty: s.repetition_penalty ?? d.repetition_penalty ?? 1,
      maxNewTokens: k.maxNewTokens,
      stopTokenIds: input.stops.engineStopTokenIds,
      skipSpecialTokens: input.skipSpecialTokens,
      spacesBetweenSpecialTokens: k.spacesBetweenSpecialTokens,
      constraint: k.constraint,
      n: k.n,
      minNewTokens: k.minNewTokens ?? 0,
      ignoreEos: k.ignoreEos,
      noStopTrim: k.noStopTrim,
    },
    returnLogprob: k.returnLogprob,
    logprobStartLen: k.logprobStartLen,
    topLogprobsNum: k.topLogprobsNum,
    tokenIdsLogprob: k.tokenIdsLogprob,
    stream: k.stream,
    requireReasoning: k.requireReasoning,
  });
  // Set after fromPartial, which would copy a long id array a second time.
  request.tokenized = { originalText: input.text, inputIds: Array.isArray(input.inputIds) ? input.inputIds : Array.from(input.inputIds) };
  return request;
}
