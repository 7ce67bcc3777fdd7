import { invalidParam } from '../errors.js';
import { decideThinking } from '../parsers/reasoning/thinking.js';
import { harmonyResponseFormatTag, harmonyToolTag, structuralTagBuilder } from '../parsers/tools/structural-tags.js';
import type { ToolCallDelta } from '../parsers/types.js';
import type { ChatRequest } from '../protocol/openai.js';
import type { ChoiceOutputParser } from './choice-parsing.js';
import type { PipelineContext, RequestMeta } from './context.js';
import type { Generation } from './generation.js';
import { HARMONY_STOP_IDS, harmonyTokenText } from './harmony-output.js';
import type { TokenLogprob } from './logprobs.js';
import { callId, choiceParsing, isParsed, needsSpecialTokens, parseChoice, planOutput, type OutputPlan } from './output-plan.js';
import { checkContextLength, decoderOptions, setupStops, startGeneration, workerShouldStream } from './prepared.js';
import { buildChatGenerateRequest, responseFormatSchema, type EngineConstraint } from './request-builder.js';
import { resolveRequestId } from './request-id.js';
import type { ServedModel } from './served-model.js';
import { drain, mapStream, type Startable, type StreamSource, type TokenClock } from './stream-source.js';
import { planTools } from './tool-plan.js';
import { toUsage, type Usage } from './usage.js';

export interface ChatRun {
  id: string;
  created: number;
  model: string;
  systemFingerprint: string;
  n: number;
  includeUsage: boolean;
  generation: Generation;
  promptTokens: number;
  output: OutputPlan;
}

function hasOwnConstraint(req: ChatRequest): boolean {
  const rf = req.response_format?.type;
  return rf === 'json_object' || rf === 'json_schema' || req.regex !== undefined || req.ebnf !== undefined;
}

/** GPT-OSS answers a response_format in a final-channel message: the schema is wrapped in a Harmony structural tag. */
function harmonyFormatConstraint(req: ChatRequest): EngineConstraint | undefined {
  const schema = responseFormatSchema(req.response_format);
  return schema === undefined ? undefined : { $case: 'structuralTag', value: harmonyResponseFormatTag(schema) };
}

export async function startChat(ctx: PipelineContext, model: ServedModel, req: ChatRequest, meta: RequestMeta): Promise<ChatRun> {
  // Harmony constrains tool calls with its own structural tag whatever the flags say (parsers.md §4).
  const tagBuilder = model.harmony ? harmonyToolTag : model.toolParserConfigured && model.toolParser ? structuralTagBuilder(model.toolParser) : undefined;
  const formatConstraint = model.harmony ? harmonyFormatConstraint(req) : undefined;
  // Harmony's response_format tag and tool tag describe different replies: the reference refuses the pair.
  const tools = planTools(req, hasOwnConstraint(req) && !formatConstraint, tagBuilder);
  if (formatConstraint && tools.constraint) {
    throw invalidParam(
      'response_format',
      'response_format cannot be combined with tool_choice required or a named function for GPT-OSS (Harmony) models: both constrain the reply.',
      'invalid_request_parameters',
    );
  }
  const thinking = decideThinking(model.thinking, { chatTemplateKwargs: req.chat_template_kwargs, reasoningEffort: req.reasoning_effort });
  // Explicit chat_template_kwargs win over what reasoning_effort implies.
  const kwargs: Record<string, unknown> = { ...thinking.templateKwargs };
  if (req.reasoning_effort !== undefined) kwargs['reasoning_effort'] = req.reasoning_effort;
  if (req.chat_template_kwargs) Object.assign(kwargs, req.chat_template_kwargs);
  const continueFinal = req.continue_final_message === true && req.messages[req.messages.length - 1]?.role === 'assistant';
  if (continueFinal && model.harmony) {
    throw invalidParam('continue_final_message', 'continue_final_message is not supported for GPT-OSS (Harmony) models: each reply starts a new assistant message');
  }

  const stops = req.stop;
  const stopTokenIds = model.harmony ? [...req.stop_token_ids, ...HARMONY_STOP_IDS] : req.stop_token_ids;
  const [prepared, stopSetup] = await Promise.all([
    model.prep.renderChat({
      messages: req.messages,
      ...(tools.templateTools ? { tools: tools.templateTools } : {}),
      addGenerationPrompt: !continueFinal,
      continueFinalMessage: continueFinal,
      ...(Object.keys(kwargs).length ? { kwargs } : {}),
    }),
    setupStops(model, stops, stopTokenIds),
  ]);
  checkContextLength(model, prepared.ids.length, req.max_completion_tokens);

  const output = planOutput({
    reasoningParser: model.reasoningParser,
    separateReasoning: req.separate_reasoning,
    thinking,
    toolParser: model.toolParser,
    tools,
    messages: req.messages,
    modelId: model.id,
    ...(model.harmony ? { harmony: harmonyTokenText(model.tokenizer) } : {}),
  });
  const id = resolveRequestId({ rid: req.rid, headerId: meta.headerRequestId, prefix: 'chatcmpl-' });
  const skipSpecialTokens = req.skip_special_tokens && !needsSpecialTokens(output, tools);
  const request = buildChatGenerateRequest(req, {
    requestId: id,
    inputIds: prepared.ids,
    text: prepared.text,
    stops: stopSetup.plan,
    defaults: model.defaults,
    skipSpecialTokens,
    ...(tools.constraint ? { toolConstraint: tools.constraint } : {}),
    ...(formatConstraint ? { formatConstraint } : {}),
    // Field 18 means something else to older workers: only set when the template has a thinking toggle that is on.
    ...(model.thinking.kind !== 'none' && thinking.requireReasoning ? { requireReasoning: true } : {}),
  });
  request.stream = workerShouldStream(req.stream, stopSetup.plan);
  const decoder = decoderOptions(
    model,
    { skipSpecialTokens, ignoreEos: req.ignore_eos, noStopTrim: req.no_stop_trim, stops, stopTokenIds },
    stopSetup,
  );
  const generation = startGeneration(ctx, model, meta, { ids: prepared.ids, user: req.user, maxNewTokens: req.max_completion_tokens }, request, decoder, stopSetup, req.logprobs, model.harmony);
  return {
    id,
    created: Math.floor(meta.startedAt / 1000),
    model: req.model ?? model.id,
    systemFingerprint: model.weightVersion ?? 'switchyard',
    n: req.n,
    includeUsage: req.stream_options?.include_usage === true,
    generation,
    promptTokens: prepared.ids.length,
    output,
  };
}

function chunk(run: ChatRun, choices: unknown[], usage?: Usage): Record<string, unknown> {
  const c: Record<string, unknown> = {
    id: run.id,
    object: 'chat.completion.chunk',
    created: run.created,
    model: run.model,
    system_fingerprint: run.systemFingerprint,
    choices,
  };
  if (usage) c['usage'] = usage;
  return c;
}

function logprobsField(lp: TokenLogprob[] | undefined): { content: unknown[] } | null {
  if (!lp) return null;
  return { content: lp.map(({ token, logprob, bytes, top_logprobs }) => ({ token, logprob, bytes, top_logprobs })) };
}

/** Usage with the reasoning tokens a parser counted where the engine reported none. */
function chatUsage(run: ChatRun, counted: readonly (number | undefined)[]): Usage {
  const choices = run.generation.usage().map((u, i) => {
    const r = counted[i];
    return r !== undefined && u.reasoningTokens === 0 ? { ...u, reasoningTokens: r } : u;
  });
  return toUsage(choices, run.promptTokens);
}

/** A call is reported as `tool_calls` unless the engine ran out of tokens (then the call may be cut short). */
function finalReason(reason: string, calledTools: boolean): string {
  return calledTools && reason !== 'length' ? 'tool_calls' : reason;
}

/** OpenAI chat.completion.chunk objects: a role delta first per choice, content deltas, a finish chunk, then usage. */
export function chatStream(run: ChatRun, clock?: TokenClock): StreamSource {
  const started = new Array<boolean>(run.n).fill(false);
  const parsing: (ChoiceOutputParser | undefined)[] = new Array(run.n);
  const parsed = isParsed(run.output);
  // Content deltas are most of a stream's events: they are serialised from a fixed prefix instead of
  // building and stringifying a fresh object per token (same JSON, field for field).
  const head = JSON.stringify(chunk(run, [])).slice(0, -3) + '[{"index":';
  const content = (index: number, text: string) => `${head}${index},"delta":{"content":${JSON.stringify(text)}},"logprobs":null,"finish_reason":null}]}`;

  // Logprobs of tokens whose text the parsers still hold ride on the choice's next emitted chunk.
  const pendingLogprobs: (TokenLogprob[] | undefined)[] = new Array(run.n);
  const emitParsed = (index: number, d: { content: string; reasoning: string; calls: ToolCallDelta[] }, emit: (o: unknown) => void) => {
    const deltas: Record<string, unknown>[] = [];
    if (d.reasoning) deltas.push({ reasoning_content: d.reasoning });
    if (d.content) deltas.push({ content: d.content });
    if (d.calls.length) {
      const calls = d.calls.map((c) =>
        c.name !== undefined
          ? { index: c.index, id: callId(run.output, c.name, c.index), type: 'function', function: { name: c.name, arguments: c.arguments } }
          : { index: c.index, function: { arguments: c.arguments } },
      );
      deltas.push({ tool_calls: calls });
    }
    for (const delta of deltas) {
      const lp = pendingLogprobs[index];
      pendingLogprobs[index] = undefined;
      if (!lp && delta['content'] !== undefined) emit(content(index, delta['content'] as string));
      else emit(chunk(run, [{ index, delta, logprobs: logprobsField(lp), finish_reason: null }]));
    }
  };

  return mapStream(
    run.generation,
    (ev, emit) => {
      if (!started[ev.index]) {
        started[ev.index] = true;
        emit(chunk(run, [{ index: ev.index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]));
      }
      if (ev.kind === 'text') {
        if (parsed) {
          const p = (parsing[ev.index] ??= choiceParsing(run.output));
          if (ev.logprobs) pendingLogprobs[ev.index] = (pendingLogprobs[ev.index] ?? []).concat(ev.logprobs);
          emitParsed(ev.index, p.push(ev.text, ev.ids), emit);
        } else if (ev.logprobs) {
          emit(chunk(run, [{ index: ev.index, delta: { content: ev.text }, logprobs: logprobsField(ev.logprobs), finish_reason: null }]));
        } else if (ev.text !== '') {
          emit(content(ev.index, ev.text));
        }
        return;
      }
      let calledTools = false;
      if (parsed) {
        const p = (parsing[ev.index] ??= choiceParsing(run.output));
        emitParsed(ev.index, p.finish(), emit);
        calledTools = p.sawToolCalls;
        // Tokens that never made a delta (a lone stop token, trailing markup) still report their logprobs.
        const lp = pendingLogprobs[ev.index];
        if (lp) {
          pendingLogprobs[ev.index] = undefined;
          emit(chunk(run, [{ index: ev.index, delta: {}, logprobs: logprobsField(lp), finish_reason: null }]));
        }
      }
      const choice: Record<string, unknown> = { index: ev.index, delta: {}, logprobs: null, finish_reason: finalReason(ev.finishReason, calledTools) };
      if (ev.matchedStop !== undefined) choice['matched_stop'] = ev.matchedStop;
      emit(chunk(run, [choice]));
    },
    (emit) => {
      if (run.includeUsage) emit(chunk(run, [], chatUsage(run, parsing.map((p) => p?.reasoningTokens))));
    },
    clock,
  );
}

export interface CollectedChoice {
  text: string;
  logprobs: TokenLogprob[] | undefined;
  finishReason: string | null;
  matchedStop?: string | number;
  /** The output token ids, when the generation passes them (Harmony). */
  ids?: number[];
}

/** Runs a generation to its end and gathers each choice's text (choice order = index). */
export async function collectChoices(generation: Startable, n: number, logprobs: boolean): Promise<CollectedChoice[]> {
  const parts: string[][] = Array.from({ length: n }, () => []);
  const out: CollectedChoice[] = Array.from({ length: n }, () => ({ text: '', logprobs: logprobs ? [] : undefined, finishReason: null }));
  await drain(generation, (ev) => {
    const c = out[ev.index]!;
    if (ev.kind === 'text') {
      parts[ev.index]!.push(ev.text);
      if (ev.ids) for (const id of ev.ids) (c.ids ??= []).push(id);
      if (ev.logprobs && c.logprobs) for (const l of ev.logprobs) c.logprobs.push(l);
    } else {
      c.finishReason = ev.finishReason;
      if (ev.matchedStop !== undefined) c.matchedStop = ev.matchedStop;
    }
  });
  out.forEach((c, i) => (c.text = parts[i]!.join('')));
  return out;
}

export async function collectChat(run: ChatRun, logprobs: boolean): Promise<Record<string, unknown>> {
  const choices = await collectChoices(run.generation, run.n, logprobs);
  const parsed = choices.map((c) => parseChoice(run.output, c.text, c.ids ?? []));
  return {
    id: run.id,
    object: 'chat.completion',
    created: run.created,
    model: run.model,
    system_fingerprint: run.systemFingerprint,
    choices: choices.map((c, index) => {
      const m = parsed[index]!;
      const message: Record<string, unknown> = { role: 'assistant', content: m.content.trim() === '' ? null : m.content };
      if (m.reasoning) message['reasoning_content'] = m.reasoning;
      if (m.calls.length) {
        message['tool_calls'] = m.calls.map((call, i) => ({
          id: callId(run.output, call.name, i),
          type: 'function',
          function: { name: call.name, arguments: call.arguments },
        }));
      }
      const choice: Record<string, unknown> = {
        index,
        message,
        logprobs: logprobsField(c.logprobs),
        finish_reason: c.finishReason === null ? null : finalReason(c.finishReason, m.calls.length > 0),
      };
      if (c.matchedStop !== undefined) choice['matched_stop'] = c.matchedStop;
      return choice;
    }),
    usage: chatUsage(
      run,
      parsed.map((m) => m.reasoningTokens),
    ),
  };
}
