/**
 * Model outputs for the parser bench: seeded English-like prose, and for each parser family the
 * same content spelled in that family's markup (format examples: /work/shared/vectors/parsers.json).
 * Every text comes with what a correct parse must return, so the bench can refuse to time a parser
 * that does not recognise the text it is given.
 */
import type { ToolSpec } from '../src/parsers/types.js';
import { WORDS } from './prompts.js';
import { mulberry32 } from './rng.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Args = { [key: string]: Json };

export interface BenchCall {
  name: string;
  args: Args;
}

export interface ToolWorkload {
  name: string;
  text: string;
  /** Text outside the calls (compared trimmed). */
  normal: string;
  calls: BenchCall[];
}

export interface ReasoningWorkload {
  name: string;
  text: string;
  /** Expected reasoning and answer (compared trimmed); for `passthrough` everything is answer. */
  reasoning: string;
  normal: string;
}

export const BENCH_TOOLS: readonly ToolSpec[] = ['search_records', 'update_plan', 'write_report'].map((name) => ({
  name,
  parameters: {
    type: 'object',
    properties: {
      query: { type: 'string' },
      limit: { type: 'integer' },
      filters: { type: 'object' },
      items: { type: 'array' },
    },
    required: ['query', 'items'],
  },
}));

/** Prose without markup: sentences, paragraphs, bullet lists, numbers, parentheses, bold and code spans. */
export function prose(seed: number, chars: number): string {
  const rand = mulberry32(seed);
  const word = () => WORDS[Math.floor(rand() * WORDS.length)]!;
  const parts: string[] = [];
  let length = 0;
  const add = (s: string) => {
    parts.push(s);
    length += s.length;
  };
  while (length < chars) {
    const sentences = 2 + Math.floor(rand() * 4);
    const bullets = rand() < 0.15;
    for (let s = 0; s < sentences; s++) {
      const n = 6 + Math.floor(rand() * 16);
      const words: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = rand();
        let w = word();
        if (r < 0.03) w = String(Math.floor(rand() * 2000));
        else if (r < 0.05) w = `**${w}**`;
        else if (r < 0.06) w = `\`${w}_${word()}\``;
        else if (r < 0.08 && i + 2 < n) w = `(${w}`;
        else if (r < 0.1 && i > 0) w = `${w})`;
        if (rand() < 0.08 && i + 1 < n) w += ',';
        words.push(w);
      }
      const first = words[0]!;
      words[0] = first.charAt(0).toUpperCase() + first.slice(1);
      add(`${bullets ? '\n- ' : s > 0 ? ' ' : ''}${words.join(' ').replace(/\((\S+)$/, '$1')}${rand() < 0.1 ? '?' : '.'}`);
    }
    add('\n\n');
  }
  return parts.join('').trimEnd();
}

/** Nested JSON arguments of about `chars` characters once serialised. */
function callArgs(seed: number, chars: number): Args {
  const rand = mulberry32(seed);
  const word = () => WORDS[Math.floor(rand() * WORDS.length)]!;
  const words = (n: number) => Array.from({ length: n }, word).join(' ');
  const items: Json[] = [];
  const args: Args = {
    query: words(8),
    limit: 1 + Math.floor(rand() * 50),
    filters: { since: '2024-05-01', tags: [word(), word(), word()], strict: rand() < 0.5, range: { min: 0, max: 100 } },
    items,
  };
  while (JSON.stringify(args).length < chars) {
    items.push({
      id: items.length + 1,
      title: words(3 + Math.floor(rand() * 6)),
      score: Math.round(rand() * 10_000) / 100,
      done: rand() < 0.5,
      notes: rand() < 0.3 ? null : words(5 + Math.floor(rand() * 10)),
      meta: { owner: word(), labels: [word(), word()] },
    });
  }
  return args;
}

function calls(seed: number, count: number, chars: number): BenchCall[] {
  return Array.from({ length: count }, (_, i) => ({ name: BENCH_TOOLS[i % BENCH_TOOLS.length]!.name, args: callArgs(seed + i, chars) }));
}

/** Python literal of a JSON value (`True`, `None`, ...), strings in the given quote. */
function py(v: Json, quote: '"' | "'"): string {
  if (v === null) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return quote === '"' ? JSON.stringify(v) : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (Array.isArray(v)) return `[${v.map((x) => py(x, quote)).join(', ')}]`;
  return `{${Object.entries(v).map(([k, x]) => `${py(k, quote)}: ${py(x, quote)}`).join(', ')}}`;
}

/** A parameter value in the XML-like formats: strings raw, everything else as JSON. */
const raw = (v: Json) => (typeof v === 'string' ? v : JSON.stringify(v));
const json = (v: Json) => JSON.stringify(v, null, 1).replace(/\n\s*/g, ' ');
const each = (cs: BenchCall[], f: (c: BenchCall, i: number) => string, sep = '') => cs.map(f).join(sep);
const params = (c: BenchCall, f: (k: string, v: Json) => string, sep = '') => Object.entries(c.args).map(([k, v]) => f(k, v)).join(sep);
const jsonCalls = (cs: BenchCall[], key: 'arguments' | 'parameters', nameKey = 'name') =>
  cs.length === 1
    ? json({ [nameKey]: cs[0]!.name, [key]: cs[0]!.args })
    : `[${each(cs, (c) => json({ [nameKey]: c.name, [key]: c.args }), ', ')}]`;
const dsml = (block: string) => (pre: string, cs: BenchCall[]) =>
  `${pre}\n\n<｜DSML｜${block}>\n${each(
    cs,
    (c) =>
      `<｜DSML｜invoke name="${c.name}">\n${params(
        c,
        (k, v) => `<｜DSML｜parameter name="${k}" string="${typeof v === 'string'}">${raw(v)}</｜DSML｜parameter>\n`,
      )}</｜DSML｜invoke>\n`,
  )}</｜DSML｜${block}>`;
const glm = (nl: string) => (pre: string, cs: BenchCall[]) =>
  `${pre}\n${each(cs, (c) => `<tool_call>${c.name}${nl}${params(c, (k, v) => `<arg_key>${k}</arg_key>${nl}<arg_value>${raw(v)}</arg_value>${nl}`)}</tool_call>`, '\n')}`;
const deepseek = (call: (c: BenchCall) => string) => (pre: string, cs: BenchCall[]) =>
  `${pre}\n<｜tool▁calls▁begin｜>${each(cs, (c) => `<｜tool▁call▁begin｜>${call(c)}<｜tool▁call▁end｜>`, '\n')}<｜tool▁calls▁end｜>`;
const kimiType = (v: Json) => (typeof v === 'string' ? 'string' : Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);

/** How each tool-call family spells `pre` followed by the calls. */
const TOOL_FORMATS: Readonly<Record<string, (pre: string, cs: BenchCall[]) => string>> = {
  json: (pre, cs) => `${pre}\n${jsonCalls(cs, 'arguments')}`,
  mistral: (pre, cs) => `${pre}\n[TOOL_CALLS] [${each(cs, (c) => json({ name: c.name, arguments: c.args }), ', ')}]`,
  qwen: (pre, cs) => `${pre}\n${each(cs, (c) => `<tool_call>\n${json({ name: c.name, arguments: c.args })}\n</tool_call>`, '\n')}`,
  qwen_xml: (pre, cs) =>
    `${pre}\n${each(cs, (c) => `<tool_call>\n<function=${c.name}>\n${params(c, (k, v) => `<parameter=${k}>\n${raw(v)}\n</parameter>\n`)}</function>\n</tool_call>`, '\n')}`,
  pythonic: (pre, cs) => `${pre}\n[${each(cs, (c) => `${c.name}(${params(c, (k, v) => `${k}=${py(v, '"')}`, ', ')})`, ', ')}]`,
  llama: (pre, cs) => `${pre} <|python_tag|>${each(cs, (c) => json({ name: c.name, parameters: c.args }), '; ')}`,
  deepseek: deepseek((c) => `function<｜tool▁sep｜>${c.name}\n\`\`\`json\n${json(c.args)}\n\`\`\``),
  deepseek31: deepseek((c) => `${c.name}<｜tool▁sep｜>${json(c.args)}`),
  deepseek32: dsml('function_calls'),
  deepseek_v4: dsml('tool_calls'),
  glm45_moe: glm('\n'),
  glm47_moe: glm(''),
  step3: (pre, cs) =>
    `${pre}\n<｜tool_calls_begin｜>\n${each(
      cs,
      (c) =>
        `<｜tool_call_begin｜>function<｜tool_sep｜><steptml:invoke name="${c.name}">\n${params(
          c,
          (k, v) => `<steptml:parameter name="${k}">${raw(v)}</steptml:parameter>\n`,
        )}</steptml:invoke><｜tool_call_end｜>\n`,
    )}<｜tool_calls_end｜>`,
  sarashina: (pre, cs) => `${pre}\n<|tool_calls|>[${each(cs, (c) => py({ name: c.name, arguments: c.args }, "'"), ', ')}]`,
  kimik2: (pre, cs) =>
    `${pre}\n<|tool_calls_section_begin|>\n${each(
      cs,
      (c, i) => `<|tool_call_begin|>functions.${c.name}:${i}<|tool_call_argument_begin|>${json(c.args)}<|tool_call_end|>\n`,
    )}<|tool_calls_section_end|>`,
  kimi_k3: (pre, cs) =>
    `<|open|>response<|sep|>${pre}<|close|>response<|sep|><|open|>tools<|sep|>${each(
      cs,
      (c, i) =>
        `<|open|>call tool="${c.name}" index="${i + 1}"<|sep|>${params(
          c,
          (k, v) => `<|open|>argument key="${k}" type="${kimiType(v)}"<|sep|>${raw(v)}<|close|>argument<|sep|>`,
        )}<|close|>call<|sep|>`,
    )}<|close|>tools<|sep|>`,
  inkling: (pre, cs) =>
    `<|message_model|><|content_text|>${pre}<|end_message|>${each(
      cs,
      (c) => `<|message_model|>${c.name}<|content_invoke_tool_json|>${JSON.stringify({ name: c.name, args: c.args })}<|end_message|>`,
    )}<|content_model_end_sampling|>`,
  minimax_m2: (pre, cs) =>
    `${pre}\n<minimax:tool_call>\n${each(
      cs,
      (c) => `<invoke name="${c.name}">\n${params(c, (k, v) => `<parameter name="${k}">${raw(v)}</parameter>\n`)}</invoke>\n`,
    )}</minimax:tool_call>`,
  cohere: (pre, cs) => `<|START_RESPONSE|>${pre}<|END_RESPONSE|>\n<|START_ACTION|>\n${jsonCalls(cs, 'parameters', 'tool_name')}\n<|END_ACTION|>`,
  // Never holds calls: the text is a Qwen-style output that stays text.
  passthrough: (pre, cs) => `${pre}\n${each(cs, (c) => `<tool_call>\n${json({ name: c.name, arguments: c.args })}\n</tool_call>`, '\n')}`,
};

/** One short call after a short preamble, three calls with larger nested arguments, and long plain text. */
export function toolWorkloads(family: string): ToolWorkload[] {
  const format = TOOL_FORMATS[family];
  if (format === undefined) throw new Error(`no bench format for tool parser '${family}'`);
  const workload = (name: string, pre: string, cs: BenchCall[]): ToolWorkload => {
    const text = format(pre, cs);
    return family === 'passthrough' ? { name, text, normal: text, calls: [] } : { name, text, normal: pre, calls: cs };
  };
  const plain = prose(303, 100_000);
  return [
    workload('1 call', prose(101, 800), calls(111, 1, 1_200)),
    workload('3 calls', prose(202, 2_000), calls(222, 3, 10_000)),
    { name: 'plain text', text: plain, normal: plain, calls: [] },
  ];
}

/** Start/end tags of the tag-delimited reasoning parsers that do not use `<think>`. */
const OTHER_TAGS: Readonly<Record<string, readonly [string, string]>> = {
  kimi: ['◁think▷', '◁/think▷'],
  cohere_cmd: ['<|START_THINKING|>', '<|END_THINKING|>'],
};

function reasoningText(parser: string, reasoning: string, answer: string): string {
  if (parser === 'inkling') {
    return `<|message_model|><|content_thinking|>${reasoning}<|end_message|><|message_model|><|content_text|>${answer}<|end_message|><|content_model_end_sampling|>`;
  }
  if (parser === 'kimi_k3') return `<|open|>think<|sep|>${reasoning}<|close|>think<|sep|><|open|>response<|sep|>${answer}<|close|>response<|sep|>`;
  const [start, end] = OTHER_TAGS[parser] ?? ['<think>', '</think>'];
  return `${start}\n${reasoning}\n${end}\n\n${answer}`;
}

/** A reasoning block and its answer, and long plain text (which parsers that start in reasoning read as reasoning). */
export function reasoningWorkloads(parser: string, startsInReasoning: boolean): ReasoningWorkload[] {
  const reasoning = prose(404, 40_000);
  const answer = prose(505, 6_000);
  const text = reasoningText(parser, reasoning, answer);
  const plain = prose(303, 100_000);
  return [
    parser === 'passthrough'
      ? { name: 'reasoning + answer', text, reasoning: '', normal: text }
      : { name: 'reasoning + answer', text, reasoning, normal: answer },
    startsInReasoning ? { name: 'plain text', text: plain, reasoning: plain, normal: '' } : { name: 'plain text', text: plain, reasoning: '', normal: plain },
  ];
}
