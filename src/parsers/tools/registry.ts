/**
 * Tool-call parsers by name: the reference's 21 registry names, SGLang's Python names as aliases,
 * and auto-detection from what the served model is.
 */
import type { ToolParserFamily } from '../types.js';
import { cohereFamily } from './cohere.js';
import { deepseekFamily } from './deepseek.js';
import { deepseek31Family } from './deepseek31.js';
import { deepseek32Family, deepseekV4Family } from './dsml.js';
import { glm45MoeFamily, glm47MoeFamily } from './glm.js';
import { inklingFamily } from './inkling.js';
import { jsonFamily } from './json.js';
import { kimiK2Family } from './kimi-k2.js';
import { kimiK3Family } from './kimi-k3.js';
import { llamaFamily } from './llama.js';
import { minimaxM2Family } from './minimax-m2.js';
import { mistralFamily } from './mistral.js';
import { passthroughFamily } from './passthrough.js';
import { pythonicFamily } from './pythonic.js';
import { qwenXmlFamily } from './qwen-xml.js';
import { qwenFamily } from './qwen.js';
import { sarashinaFamily } from './sarashina.js';
import { step3Family } from './step3.js';

const FAMILIES: ReadonlyMap<string, ToolParserFamily> = new Map(
  [
    passthroughFamily,
    jsonFamily,
    mistralFamily,
    qwenFamily,
    qwenXmlFamily,
    pythonicFamily,
    llamaFamily,
    deepseekFamily,
    deepseek31Family,
    deepseek32Family,
    deepseekV4Family,
    glm45MoeFamily,
    glm47MoeFamily,
    step3Family,
    sarashinaFamily,
    kimiK2Family,
    kimiK3Family,
    inklingFamily,
    minimaxM2Family,
    cohereFamily,
  ].map((f) => [f.name, f]),
);

/** The reference's registry names (qwen_coder is its alias of qwen_xml). */
export const TOOL_PARSER_NAMES: readonly string[] = Object.freeze([...FAMILIES.keys(), 'qwen_coder']);

/** SGLang `--tool-call-parser` names (and a few common spellings) → ours. */
export const TOOL_PARSER_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  qwen_coder: 'qwen_xml',
  qwen3_coder: 'qwen_xml',
  qwen25: 'qwen',
  qwen3: 'qwen',
  hermes: 'qwen',
  llama3: 'llama',
  llama4: 'pythonic',
  deepseekv3: 'deepseek',
  deepseekv31: 'deepseek31',
  deepseekv32: 'deepseek32',
  deepseekv4: 'deepseek_v4',
  kimi_k2: 'kimik2',
  glm: 'glm45_moe',
  glm45: 'glm45_moe',
  glm47: 'glm47_moe',
  'minimax-m2': 'minimax_m2',
  step3p5: 'step3',
});

/** Name or alias (case-insensitive) → registry name; undefined when unknown. */
export function resolveToolParserName(name: string): string | undefined {
  const lower = name.toLowerCase();
  if (FAMILIES.has(lower)) return lower;
  return Object.hasOwn(TOOL_PARSER_ALIASES, lower) ? TOOL_PARSER_ALIASES[lower] : undefined;
}

export function toolParserFamily(name: string): ToolParserFamily | undefined {
  const canonical = resolveToolParserName(name);
  return canonical === undefined ? undefined : FAMILIES.get(canonical);
}

export interface ToolModelIdentity {
  architectures?: string[];
  modelType?: string;
  chatTemplate?: string;
  names: string[];
}

/**
 * Template evidence first: the template spells out the exact call format the model was trained
 * on, which beats guessing from a model id. Most specific markers come first.
 */
export const TEMPLATE_RULES: readonly [RegExp, string][] = [
  [/<｜DSML｜/, 'deepseek32'],
  [/<｜tool▁calls▁begin｜>[\s\S]*```json/, 'deepseek'],
  [/<｜tool▁calls▁begin｜>/, 'deepseek31'],
  [/<\|tool_calls_section_begin\|>/, 'kimik2'],
  [/<\|open\|>/, 'kimi_k3'],
  [/<\|content_invoke_tool_json\|>/, 'inkling'],
  [/<minimax:tool_call>/, 'minimax_m2'],
  [/<arg_key>/, 'glm45_moe'],
  [/<function=/, 'qwen_xml'],
  [/<tool_call>/, 'qwen'],
  [/\[TOOL_CALLS\]/, 'mistral'],
  [/<\|python_tag\|>/, 'llama'],
  [/<\|START_ACTION\|>|Action: ```json/, 'cohere'],
  [/<\|python_start\|>/, 'pythonic'],
];

/** Name stems, longest first wins (the reference takes the first substring match). */
export const NAME_RULES: readonly [string, string][] = [
  ['qwen3-coder', 'qwen_xml'],
  ['qwen3.5', 'qwen_xml'],
  ['qwen', 'qwen'],
  ['deepseek-v3.2-exp', 'deepseek31'],
  ['deepseek-v3.2', 'deepseek32'],
  ['deepseek-v3.1', 'deepseek31'],
  ['deepseek-v4', 'deepseek_v4'],
  ['deepseek-v3', 'deepseek'],
  ['deepseek-r1', 'pythonic'],
  ['llama-4', 'pythonic'],
  ['llama-3.2', 'llama'],
  ['llama-3', 'llama'],
  ['mistral', 'mistral'],
  ['mixtral', 'mistral'],
  ['glm-4.5', 'glm45_moe'],
  ['glm-4.6', 'glm45_moe'],
  ['glm-4.7', 'glm47_moe'],
  ['glm-5', 'glm47_moe'],
  ['kimi-k2', 'kimik2'],
  ['kimi-k3', 'kimi_k3'],
  ['kimi_k3', 'kimi_k3'],
  ['minimax', 'minimax_m2'],
  ['step3', 'step3'],
  ['step-3', 'step3'],
  ['sarashina', 'sarashina'],
  ['inkling', 'inkling'],
  ['command-r', 'cohere'],
  ['command-a', 'cohere'],
  ['c4ai-command', 'cohere'],
];

/** Which parser reads this model's tool calls, or undefined (tools are then returned as text). */
export function detectToolParser(model: ToolModelIdentity): string | undefined {
  const template = model.chatTemplate ?? '';
  for (const [re, parser] of TEMPLATE_RULES) if (re.test(template)) return parser;
  let best: [string, string] | undefined;
  for (const raw of model.names) {
    const name = raw.toLowerCase();
    for (const rule of NAME_RULES) if (name.includes(rule[0]) && (!best || rule[0].length > best[0].length)) best = rule;
  }
  return best?.[1];
}
