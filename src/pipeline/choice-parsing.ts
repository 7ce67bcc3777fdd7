import type { ReasoningParser, ToolCallDelta, ToolParser, ToolParserFamily, ToolSpec } from '../parsers/types.js';
import { uuidv7 } from './request-id.js';

/** One streamed step of a choice's output after reasoning and tool-call separation. */
export interface ParsedDelta {
  content: string;
  reasoning: string;
  calls: ToolCallDelta[];
}

const EMPTY: ParsedDelta = { content: '', reasoning: '', calls: [] };

/**
 * The model wrote only the arguments object of one named function (json_schema constraint):
 * the call's name goes out first, then the text verbatim as argument fragments.
 */
export class NamedCallParser implements ToolParser {
  readonly name = 'named_function';
  private started = false;

  constructor(private readonly fn: string) {}

  push(chunk: string): { normal: string; calls: ToolCallDelta[] } {
    let text = chunk;
    if (!this.started) {
      text = text.trimStart();
      if (text === '') return { normal: '', calls: [] };
      this.started = true;
      return { normal: '', calls: [{ index: 0, name: this.fn, arguments: text }] };
    }
    return { normal: '', calls: text ? [{ index: 0, arguments: text }] : [] };
  }

  finish(): { normal: string; calls: ToolCallDelta[] } {
    // An empty answer still names the call, with empty arguments, as the constraint demanded one.
    if (this.started) return { normal: '', calls: [] };
    this.started = true;
    return { normal: '', calls: [{ index: 0, name: this.fn, arguments: '{}' }] };
  }
}

export interface ChoiceParsingOptions {
  reasoning?: ReasoningParser;
  tools?: ToolParser;
  /** parallel_tool_calls: false → later calls are dropped. */
  maxCalls?: number;
}

/** One choice's output parser: text parsers read an event's text, Harmony its token ids. */
export interface ChoiceOutputParser {
  push(text: string, ids: readonly number[] | undefined): ParsedDelta;
  finish(): ParsedDelta;
  readonly sawToolCalls: boolean;
  /** Reasoning tokens the parser counted, for parsers that see tokens (Harmony). */
  readonly reasoningTokens?: number;
}

/**
 * Splits one choice's text stream into reasoning, content and tool-call deltas. Reasoning is
 * separated first; the tool parser only ever sees text that is outside the reasoning.
 */
export class ChoiceParsing implements ChoiceOutputParser {
  private calls = 0;

  constructor(private readonly opts: ChoiceParsingOptions) {}

  get sawToolCalls(): boolean {
    return this.calls > 0;
  }

  push(text: string): ParsedDelta {
    if (!this.opts.reasoning && !this.opts.tools) return text ? { content: text, reasoning: '', calls: [] } : EMPTY;
    let normal = text;
    let reasoning = '';
    if (this.opts.reasoning) {
      const d = this.opts.reasoning.push(text);
      normal = d.normal;
      reasoning = d.reasoning;
    }
    return this.tools(normal, reasoning, false);
  }

  finish(): ParsedDelta {
    let normal = '';
    let reasoning = '';
    if (this.opts.reasoning) {
      const d = this.opts.reasoning.finish();
      normal = d.normal;
      reasoning = d.reasoning;
    }
    return this.tools(normal, reasoning, true);
  }

  private tools(normal: string, reasoning: string, last: boolean): ParsedDelta {
    const parser = this.opts.tools;
    if (!parser) return { content: normal, reasoning, calls: [] };
    const fromText = normal ? parser.push(normal) : { normal: '', calls: [] as ToolCallDelta[] };
    const tail = last ? parser.finish() : undefined;
    const calls = tail ? fromText.calls.concat(tail.calls) : fromText.calls;
    const max = this.opts.maxCalls ?? Number.POSITIVE_INFINITY;
    const kept = calls.filter((c) => c.index < max);
    for (const c of kept) if (c.name !== undefined) this.calls = Math.max(this.calls, c.index + 1);
    return { content: fromText.normal + (tail?.normal ?? ''), reasoning, calls: kept };
  }
}

/** Complete-mode parse of one choice's whole text. */
export interface ParsedMessage {
  content: string;
  reasoning: string;
  calls: { name: string; arguments: string }[];
}

export function parseComplete(
  text: string,
  reasoning: ((text: string) => { normal: string; reasoning: string }) | undefined,
  tools: { family: ToolParserFamily; specs: readonly ToolSpec[] } | { named: string } | undefined,
  maxCalls?: number,
): ParsedMessage {
  const r = reasoning ? reasoning(text) : { normal: text, reasoning: '' };
  if (!tools) return { content: r.normal, reasoning: r.reasoning, calls: [] };
  if ('named' in tools) {
    const args = r.normal.trimStart();
    return { content: '', reasoning: r.reasoning, calls: [{ name: tools.named, arguments: args === '' ? '{}' : args }] };
  }
  const parsed = tools.family.complete(r.normal, tools.specs);
  const calls = maxCalls === undefined ? parsed.calls : parsed.calls.slice(0, maxCalls);
  return { content: parsed.normal, reasoning: r.reasoning, calls };
}

/**
 * OpenAI tool-call ids. Kimi models expect `functions.NAME:IDX` (K3: `NAME:IDX`) because their
 * templates replay ids into the prompt; everyone else gets `call_` + 24 hex digits.
 */
export function toolCallId(modelId: string, name: string, index: number, historyCalls: number): string {
  const m = modelId.toLowerCase();
  if (m.includes('kimi')) return m.includes('k3') ? `${name}:${index}` : `functions.${name}:${historyCalls + index}`;
  return `call_${uuidv7().replace(/-/g, '').slice(0, 24)}`;
}
