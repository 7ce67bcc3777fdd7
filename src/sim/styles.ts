/**
 * Model-format replies, so the router's reasoning and tool-call parsers meet realistic output
 * without a GPU. Every style but `plain` writes, in its model family's own markup:
 * - a `<think>` block first when the family reasons (without the opening tag when the prompt already
 *   opened it; none at all when the prompt closed it, as templates do to turn thinking off);
 * - then a call of the first tool the prompt declares, with arguments shaped by its schema;
 * - or, without declared tools or after a tool result, a prose answer.
 * The sim sees only the rendered prompt, so a tool counts as declared when its JSON declaration
 * (`{"type": "function", "function": {…}}` or `{"name": …, "parameters": {…}}`) appears in it, which
 * is how the Qwen, Llama-3.1, Mistral, GLM and Kimi templates render tools.
 */
import { harmonyReply } from './harmony-style.js';

export type OutputStyle =
  | 'plain'
  | 'qwen3'
  | 'deepseek-r1'
  | 'deepseek-v3'
  | 'llama3-json'
  | 'llama3-python-tag'
  | 'mistral'
  | 'kimi-k2'
  | 'glm45'
  | 'qwen3-coder'
  | 'gpt-oss';

type Args = Record<string, unknown>;

interface ModelFormat {
  /** The family writes a `<think>` block before answering. */
  reasons: boolean;
  /** One call of `name` in the family's markup. */
  call(name: string, args: Args): string;
}

const json = JSON.stringify;
/** Raw text for strings, JSON for everything else: how the XML-ish formats write values. */
const raw = (v: unknown): string => (typeof v === 'string' ? v : json(v));

const deepseekCall = (name: string, args: Args): string =>
  `<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>${name}\n\`\`\`json\n${json(args)}\n\`\`\`<｜tool▁call▁end｜><｜tool▁calls▁end｜>`;

const FORMATS: Readonly<Record<Exclude<OutputStyle, 'plain' | 'gpt-oss'>, ModelFormat>> = {
  qwen3: { reasons: true, call: (name, args) => `<tool_call>\n${json({ name, arguments: args })}\n</tool_call>` },
  'deepseek-r1': { reasons: true, call: deepseekCall },
  'deepseek-v3': { reasons: false, call: deepseekCall },
  'llama3-json': { reasons: false, call: (name, args) => json({ name, parameters: args }) },
  'llama3-python-tag': { reasons: false, call: (name, args) => `<|python_tag|>${json({ name, parameters: args })}` },
  mistral: { reasons: false, call: (name, args) => `[TOOL_CALLS] [${json({ name, arguments: args })}]` },
  'kimi-k2': {
    reasons: true,
    call: (name, args) =>
      `<|tool_calls_section_begin|><|tool_call_begin|>functions.${name}:0<|tool_call_argument_begin|>${json(args)}<|tool_call_end|><|tool_calls_section_end|>`,
  },
  glm45: {
    reasons: true,
    call: (name, args) =>
      `<tool_call>${name}\n${Object.entries(args)
        .map(([k, v]) => `<arg_key>${k}</arg_key>\n<arg_value>${raw(v)}</arg_value>\n`)
        .join('')}</tool_call>`,
  },
  'qwen3-coder': {
    reasons: false,
    call: (name, args) =>
      `<tool_call>\n<function=${name}>\n${Object.entries(args)
        .map(([k, v]) => `<parameter=${k}>\n${raw(v)}\n</parameter>\n`)
        .join('')}</function>\n</tool_call>`,
  },
};

export const OUTPUT_STYLES: readonly OutputStyle[] = ['plain', ...(Object.keys(FORMATS) as OutputStyle[]), 'gpt-oss'];

const THOUGHTS = [
  'The user asked a direct question, so a short answer is enough.',
  'Let me recall what I know about rail yards and routing before answering.',
  'I should keep the answer friendly and concrete.',
];

const ANSWERS = [
  'Switchyards sort wagons the way routers sort requests: by where each one needs to go next.',
  'The short answer is yes — and the longer answer involves a lot of signal lights.',
  'Here is what I found: the freight leaves on track seven at a quarter past four.',
];

/** How the templates hand a tool result back to the model. */
const TOOL_RESULT_MARKERS = [
  '<tool_response>',
  '<｜tool▁output▁begin｜>',
  'ipython<|end_header_id|>',
  '[TOOL_RESULTS]',
  '<|observation|>',
  '<|im_system|>tool<|im_middle|>',
];

interface ToolDecl {
  name: string;
  parameters?: { properties?: Record<string, { type?: string; enum?: unknown[] }>; required?: string[] };
}

const DECL_START = /\{\s*"(?:type|name)"\s*:/g;
/** Longest declaration read; a longer object is not taken for one. */
const MAX_DECL_CHARS = 65536;

/** End (exclusive) of the JSON object opening at `start`, or -1. */
function objectEnd(s: string, start: number): number {
  let depth = 0;
  let inString = false;
  const limit = Math.min(s.length, start + MAX_DECL_CHARS);
  for (let i = start; i < limit; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if ((c === '}' || c === ']') && --depth === 0) return i + 1;
  }
  return -1;
}

function asDecl(v: unknown): ToolDecl | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as { type?: unknown; function?: unknown; name?: unknown; parameters?: unknown };
  if (o.type === 'function' && o.function !== undefined) return asDecl(o.function);
  return typeof o.name === 'string' && typeof o.parameters === 'object' && o.parameters !== null ? (o as ToolDecl) : undefined;
}

/** The first tool declared in the prompt and where its declaration starts. */
function firstTool(prompt: string): { tool: ToolDecl; at: number } | undefined {
  for (const m of prompt.matchAll(DECL_START)) {
    const end = objectEnd(prompt, m.index);
    if (end === -1) continue;
    let value: unknown;
    try {
      value = JSON.parse(prompt.slice(m.index, end));
    } catch {
      continue;
    }
    const tool = asDecl(value);
    if (tool) return { tool, at: m.index };
  }
  return undefined;
}

function sampleValue(schema: { type?: string; enum?: unknown[] } | undefined): unknown {
  if (schema?.enum?.length) return schema.enum[0];
  switch (schema?.type) {
    case 'number':
    case 'integer':
      return 1;
    case 'boolean':
      return true;
    case 'array':
      return [];
    case 'object':
      return {};
    default:
      return 'Paris';
  }
}

function argumentsFor(tool: ToolDecl): Args {
  const props = tool.parameters?.properties ?? {};
  const names = tool.parameters?.required?.length ? tool.parameters.required : Object.keys(props).slice(0, 1);
  return Object.fromEntries(names.map((k) => [k, sampleValue(props[k])]));
}

/** The reasoning block, given how the prompt ends (thinking opened, closed, or neither). */
function reasoning(prompt: string, seed: number): string {
  if (/<\/think>\s*$/.test(prompt)) return '';
  const thought = `\n${THOUGHTS[seed % THOUGHTS.length]}\n</think>\n\n`;
  return /<think>\s*$/.test(prompt) ? thought : `<think>${thought}`;
}

/** The reply of `style` to a prompt (special tokens kept), or undefined for `plain` (the corpus answers). */
export function styledReply(style: OutputStyle, prompt: string, seed: number): string | undefined {
  if (style === 'plain') return undefined;
  if (style === 'gpt-oss') return harmonyReply(prompt, seed);
  const format = FORMATS[style];
  const think = format.reasons ? reasoning(prompt, seed) : '';
  const declared = firstTool(prompt);
  // After a tool result the model answers in prose instead of calling again.
  const answered = declared !== undefined && TOOL_RESULT_MARKERS.some((m) => prompt.lastIndexOf(m) > declared.at);
  if (declared && !answered) return think + format.call(declared.tool.name, argumentsFor(declared.tool));
  return think + ANSWERS[(seed >>> 4) % ANSWERS.length]!;
}
