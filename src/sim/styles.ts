/**
 * Model-format replies, so the router's reasoning and tool-call parsers meet realistic output
 * without a GPU. `qwen3`: a `<think>` block (unless the prompt already closed it, as the template
 * does with enable_thinking=false), then either a `<tool_call>` for the first tool the prompt
 * declares, or a prose answer.
 */
import { harmonyReply } from './harmony-style.js';

export type OutputStyle = 'plain' | 'qwen3' | 'gpt-oss';

export const OUTPUT_STYLES: readonly OutputStyle[] = ['plain', 'qwen3', 'gpt-oss'];

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

interface ToolDecl {
  name: string;
  parameters?: { properties?: Record<string, { type?: string; enum?: unknown[] }>; required?: string[] };
}

/** The first tool of a Qwen-style `<tools>` block, one JSON object per line. */
function firstTool(prompt: string): ToolDecl | undefined {
  const start = prompt.indexOf('<tools>\n');
  if (start === -1) return undefined;
  const line = prompt.slice(start + 8).split('\n', 1)[0] ?? '';
  try {
    const t = JSON.parse(line) as { function?: ToolDecl } & ToolDecl;
    const fn = t.function ?? t;
    return typeof fn.name === 'string' ? fn : undefined;
  } catch {
    return undefined;
  }
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

function argumentsFor(tool: ToolDecl): Record<string, unknown> {
  const props = tool.parameters?.properties ?? {};
  const names = tool.parameters?.required?.length ? tool.parameters.required : Object.keys(props).slice(0, 1);
  return Object.fromEntries(names.map((k) => [k, sampleValue(props[k])]));
}

export function styledReply(style: OutputStyle, prompt: string, seed: number): string | undefined {
  if (style === 'plain') return undefined;
  if (style === 'gpt-oss') return harmonyReply(prompt, seed);
  const thinkingOff = /<\/think>\s*$/.test(prompt);
  const think = thinkingOff ? '' : `<think>\n${THOUGHTS[seed % THOUGHTS.length]}\n</think>\n\n`;
  const tool = firstTool(prompt);
  // After a tool result the model answers in prose instead of calling again.
  const answeredTool = prompt.lastIndexOf('<tool_response>') > prompt.lastIndexOf('<tools>');
  if (tool && !answeredTool) {
    const call = JSON.stringify({ name: tool.name, arguments: argumentsFor(tool) });
    return `${think}<tool_call>\n${call}\n</tool_call>`;
  }
  return `${think}${ANSWERS[(seed >>> 4) % ANSWERS.length]}`;
}
