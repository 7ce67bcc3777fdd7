import { createReasoningParser, parseReasoningComplete } from '../parsers/reasoning/registry.js';
import type { ThinkingDecision } from '../parsers/reasoning/thinking.js';
import { jsonFamily } from '../parsers/tools/json.js';
import { toolParserFamily } from '../parsers/tools/registry.js';
import type { ToolParserFamily, ToolSpec } from '../parsers/types.js';
import type { ChatMessage } from '../protocol/openai.js';
import type { HarmonyTokenText } from '../parsers/harmony/parser.js';
import { ChoiceParsing, NamedCallParser, parseComplete, toolCallId, type ChoiceOutputParser, type ParsedMessage } from './choice-parsing.js';
import { HarmonyChoiceParsing, parseHarmonyChoice } from './harmony-output.js';
import type { ToolPlan } from './tool-plan.js';

/** Parsers that need their markers as text: the decoder must keep special tokens for them. */
const SPECIAL_TOKEN_REASONING = new Set(['inkling', 'kimi_k3']);

/** How each choice's text is split into reasoning, content and tool calls — decided once per request. */
export interface OutputPlan {
  reasoning?: { name: string; started: boolean; stripped: boolean };
  tools?: { family: ToolParserFamily; specs: readonly ToolSpec[] } | { named: string };
  /** GPT-OSS: every choice is parsed on its token ids by the Harmony parser, never as text. */
  harmony?: HarmonyTokenText;
  maxCalls?: number;
  /** Calls in earlier assistant turns (Kimi numbers its call ids across the conversation). */
  historyCalls: number;
  modelId: string;
}

export function planOutput(opts: {
  reasoningParser: string | undefined;
  separateReasoning: boolean;
  thinking: ThinkingDecision;
  toolParser: string | undefined;
  tools: ToolPlan;
  messages: readonly ChatMessage[];
  modelId: string;
  harmony?: HarmonyTokenText;
}): OutputPlan {
  const plan: OutputPlan = { historyCalls: 0, modelId: opts.modelId };
  if (opts.tools.maxCalls !== undefined) plan.maxCalls = opts.tools.maxCalls;
  if (opts.harmony) {
    plan.harmony = opts.harmony;
    return plan;
  }
  if (opts.separateReasoning && opts.reasoningParser) {
    plan.reasoning = { name: opts.reasoningParser, started: opts.thinking.reasoningStarted, stripped: opts.thinking.thinkStartStripped };
  }
  const t = opts.tools;
  if (t.mode === 'named') plan.tools = { named: t.namedFunction! };
  else if (t.mode === 'required') plan.tools = { family: jsonFamily, specs: t.specs };
  else if (t.mode === 'parser' && opts.toolParser) plan.tools = { family: toolParserFamily(opts.toolParser)!, specs: t.specs };
  for (const m of opts.messages) if (m.role === 'assistant' && m.tool_calls) plan.historyCalls += m.tool_calls.length;
  return plan;
}

/** Whether the router's decoder must keep special tokens so that the parsers see their markers. */
export function needsSpecialTokens(plan: OutputPlan, tools: ToolPlan): boolean {
  if (plan.reasoning && SPECIAL_TOKEN_REASONING.has(plan.reasoning.name)) return true;
  return plan.tools !== undefined && tools.constraint?.$case !== 'jsonSchema';
}

/** Whether choices need a parser at all (otherwise their text is the content, verbatim). */
export function isParsed(plan: OutputPlan): boolean {
  return plan.reasoning !== undefined || plan.tools !== undefined || plan.harmony !== undefined;
}

export function choiceParsing(plan: OutputPlan): ChoiceOutputParser {
  if (plan.harmony) return new HarmonyChoiceParsing(plan.harmony, plan.maxCalls);
  let reasoning;
  if (plan.reasoning) {
    reasoning = createReasoningParser(plan.reasoning.name);
    if (plan.reasoning.started) reasoning.markReasoningStarted();
    if (plan.reasoning.stripped) reasoning.markThinkStartStripped();
  }
  let tools;
  if (plan.tools) tools = 'named' in plan.tools ? new NamedCallParser(plan.tools.named) : plan.tools.family.create(plan.tools.specs);
  return new ChoiceParsing({
    ...(reasoning ? { reasoning } : {}),
    ...(tools ? { tools } : {}),
    ...(plan.maxCalls !== undefined ? { maxCalls: plan.maxCalls } : {}),
  });
}

/** Complete-mode parse of one choice; Harmony reads `ids` (and counts its reasoning tokens). */
export function parseChoice(plan: OutputPlan, text: string, ids: readonly number[]): ParsedMessage & { reasoningTokens?: number } {
  if (plan.harmony) return parseHarmonyChoice(plan.harmony, ids, plan.maxCalls);
  const r = plan.reasoning;
  const reasoning = r ? (t: string) => parseReasoningComplete(r.name, t, { reasoningStarted: r.started, thinkStartStripped: r.stripped }) : undefined;
  return parseComplete(text, reasoning, plan.tools, plan.maxCalls);
}

export function callId(plan: OutputPlan, name: string, index: number): string {
  return toolCallId(plan.modelId, name, index, plan.historyCalls);
}
