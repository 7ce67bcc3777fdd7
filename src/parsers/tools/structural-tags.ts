/**
 * xgrammar structural tags that force a tool call in a model's own format (parsers.md §3), for
 * the parsers whose format a tag can describe. The output is then parsed by that model's parser.
 */
import type { Tool } from '../../protocol/openai.js';

interface Tag {
  type: 'tag';
  begin: string;
  content: unknown;
  end: string;
}

function schemaOf(t: Tool): unknown {
  return { type: 'json_schema', json_schema: t.function.parameters ?? { type: 'object' } };
}

function triggered(triggers: string[], tags: Tag[], opts: { requireOne: boolean; single: boolean }): string {
  return JSON.stringify({
    type: 'structural_tag',
    format: { type: 'triggered_tags', triggers, tags, at_least_one: opts.requireOne, stop_after_first: opts.single },
  });
}

type Builder = (tools: readonly Tool[], opts: { requireOne: boolean; single: boolean }) => string;

const mistral: Builder = (tools, opts) => {
  // One `[TOOL_CALLS] [ ... ]` block whose items are the declared calls, separated by ", ".
  const items = tools.map((t) => ({
    type: 'tag',
    begin: `{"name": "${t.function.name}", "arguments": `,
    content: schemaOf(t),
    end: '}',
  }));
  const content = { type: 'tags_with_separator', tags: items, separator: ', ', at_least_one: true, stop_after_first: opts.single };
  return triggered(['[TOOL_CALLS]'], [{ type: 'tag', begin: '[TOOL_CALLS] [', content, end: ']' }], opts);
};

const kimik2: Builder = (tools, opts) => {
  const tags: Tag[] = [];
  tools.forEach((t, i) => {
    const call = `<|tool_call_begin|>functions.${t.function.name}:${i}<|tool_call_argument_begin|>`;
    tags.push({ type: 'tag', begin: `<|tool_calls_section_begin|>${call}`, content: schemaOf(t), end: '<|tool_call_end|>' });
    tags.push({ type: 'tag', begin: call, content: schemaOf(t), end: '<|tool_call_end|>' });
  });
  return triggered(['<|tool_calls_section_begin|>', '<|tool_call_begin|>'], tags, opts);
};

const inkling: Builder = (tools, opts) =>
  triggered(
    ['<|content_invoke_tool_json|>'],
    tools.map((t) => ({
      type: 'tag' as const,
      begin: `<|content_invoke_tool_json|>{"name":${JSON.stringify(t.function.name)},"args":`,
      content: schemaOf(t),
      end: '}<|end_message|>',
    })),
    opts,
  );

/**
 * GPT-OSS Harmony (parsers.md §4): a commentary message addressed to `functions.NAME` with JSON
 * arguments, with or without its `<|start|>assistant` prefix. The tag ends with the arguments:
 * `<|call|>` is an engine stop token of every Harmony request.
 */
export const harmonyToolTag: Builder = (tools, opts) => {
  const tags: Tag[] = [];
  for (const t of tools) {
    const header = `<|channel|>commentary to=functions.${t.function.name}<|constrain|>json<|message|>`;
    tags.push({ type: 'tag', begin: `<|start|>assistant${header}`, content: schemaOf(t), end: '' });
    tags.push({ type: 'tag', begin: header, content: schemaOf(t), end: '' });
  }
  return triggered(['<|start|>assistant<|channel|>commentary', '<|channel|>commentary'], tags, opts);
};

/**
 * GPT-OSS Harmony with a response_format (parsers.md §4): the model may think in an analysis
 * message, free text up to `<|end|>`, and must answer in a final message constrained to `schema`.
 * A bare JSON-schema constraint would forbid the channel markup every Harmony reply starts with.
 * The final tag ends with the JSON: `<|return|>` is an engine stop token of every Harmony request.
 */
export function harmonyResponseFormatTag(schema: unknown): string {
  const tags: Tag[] = [
    { type: 'tag', begin: '<|channel|>analysis<|message|>', content: { type: 'any_text' }, end: '<|end|>' },
    { type: 'tag', begin: '<|channel|>final<|constrain|>json<|message|>', content: { type: 'json_schema', json_schema: schema }, end: '' },
  ];
  return triggered(['<|channel|>analysis', '<|channel|>final'], tags, { requireOne: true, single: false });
}

const K3_TOOLS_OPEN = '<|open|>tools<|sep|>';
/** Where a Kimi-K3 tools channel may start: at once, after the think channel, or after the response. */
const K3_TRIGGERS = [K3_TOOLS_OPEN, '<|close|>think<|sep|>', '<|close|>response<|sep|>'];
/** JSON schema type → XTML argument type; the parser reads `string` raw and every other type as JSON. */
const K3_TYPES: Readonly<Record<string, string>> = {
  string: 'string',
  integer: 'number',
  number: 'number',
  boolean: 'boolean',
  null: 'null',
  object: 'object',
  array: 'array',
};

/** XTML attribute escaping, the inverse of the parser's (`&quot;` then `&amp;`). */
const k3Attr = (v: string): string => v.replaceAll('&', '&amp;').replaceAll('"', '&quot;');

interface PropertySchema {
  type?: unknown;
  enum?: unknown[];
}

function k3Argument(key: string, schema: PropertySchema): Tag {
  // An untyped property is written as a raw string, which the parser keeps as is.
  const type = (typeof schema.type === 'string' && K3_TYPES[schema.type]) || 'string';
  let content: unknown;
  if (type !== 'string') content = { type: 'json_schema', json_schema: schema };
  else if (schema.enum?.length && schema.enum.every((v) => typeof v === 'string')) {
    content = { type: 'or', elements: schema.enum.map((value) => ({ type: 'const_string', value })) };
  } else content = { type: 'any_text' };
  return { type: 'tag', begin: `<|open|>argument key="${k3Attr(key)}" type="${type}"<|sep|>`, content, end: '<|close|>argument<|sep|>' };
}

/** One call: its typed arguments in any order (the schema's `required` is not enforced by the tag). */
function k3Call(t: Tool): Tag {
  const props = (t.function.parameters as { properties?: Record<string, PropertySchema> } | undefined)?.properties ?? {};
  const args = Object.entries(props).map(([key, schema]) => k3Argument(key, schema));
  const header = [{ type: 'regex', pattern: '[0-9]+' }, { type: 'const_string', value: '"<|sep|>' }];
  const body = args.length ? [{ type: 'tags_with_separator', tags: args, separator: '', at_least_one: false, stop_after_first: false }] : [];
  return {
    type: 'tag',
    begin: `<|open|>call tool="${k3Attr(t.function.name)}" index="`,
    content: { type: 'sequence', elements: [...header, ...body] },
    end: '<|close|>call<|sep|>',
  };
}

const kimiK3: Builder = (tools, opts) => {
  const calls = { type: 'tags_with_separator', tags: tools.map(k3Call), separator: '', at_least_one: true, stop_after_first: opts.single };
  const tags: Tag[] = K3_TRIGGERS.map((trigger) => ({
    type: 'tag',
    begin: trigger === K3_TOOLS_OPEN ? trigger : trigger + K3_TOOLS_OPEN,
    content: calls,
    end: '<|close|>tools<|sep|>',
  }));
  return triggered(K3_TRIGGERS, tags, opts);
};

const BUILDERS: Readonly<Record<string, Builder>> = { mistral, kimik2, kimi_k3: kimiK3, inkling };

/** The structural-tag builder of a tool-call parser, if its format has one. */
export function structuralTagBuilder(parser: string): Builder | undefined {
  return BUILDERS[parser];
}
