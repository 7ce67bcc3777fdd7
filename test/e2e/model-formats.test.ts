/**
 * Model-format output end to end: the simulated worker answers in a model family's own markup
 * (--output-style), the router's reasoning and tool-call parsers split it, and the official openai
 * SDK reads reasoning_content, content and tool_calls, streaming and not.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type OpenAI from 'openai';
import type { BundledModel } from '../../src/tokenizer/bundled.js';
import type { OutputStyle } from '../../src/sim/styles.js';
import { MODEL, startHarness, streamChat, type Harness } from '../helpers/harness.js';

const WEATHER: OpenAI.ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Forecast for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city', 'days'] },
  },
};
/** What the sim fills in from the schema: a string and an integer, so typed formats must coerce. */
const EXPECTED_ARGS = { city: 'Paris', days: 1 };
const LLAMA_TEMPLATE = fileURLToPath(new URL('../../../test/fixtures/templates/llama3_1.jinja', import.meta.url));

interface Family {
  name: string;
  bundled?: BundledModel;
  style: OutputStyle;
  /** Router flags; none means `auto` detection. */
  routerArgs: string[];
  reasons: boolean;
  /** The bundled template ignores `tools`, so the system prompt declares them, as clients of such deployments do. */
  toolsInSystemPrompt?: boolean;
}

const FAMILIES: Family[] = [
  {
    name: 'DeepSeek-R1 (DeepSeek-V3 tokenizer)',
    bundled: 'deepseek_v3',
    style: 'deepseek-r1',
    routerArgs: ['--reasoning-parser', 'deepseek-r1', '--tool-call-parser', 'deepseekv3'],
    reasons: true,
    toolsInSystemPrompt: true,
  },
  { name: 'DeepSeek-V3 with auto detection', bundled: 'deepseek_v3', style: 'deepseek-v3', routerArgs: [], reasons: false, toolsInSystemPrompt: true },
  {
    name: 'Llama-3 JSON (Llama-3.1 template)',
    bundled: 'llama3_1',
    style: 'llama3-json',
    routerArgs: ['--chat-template', LLAMA_TEMPLATE, '--reasoning-parser', 'none', '--tool-call-parser', 'llama3'],
    reasons: false,
  },
  {
    name: 'Llama-3 <|python_tag|> with auto detection from the template',
    bundled: 'llama3_1',
    style: 'llama3-python-tag',
    routerArgs: ['--chat-template', LLAMA_TEMPLATE],
    reasons: false,
  },
  { name: 'Mistral', style: 'mistral', routerArgs: ['--reasoning-parser', 'none', '--tool-call-parser', 'mistral'], reasons: false },
  { name: 'Kimi-K2 (Thinking)', style: 'kimi-k2', routerArgs: ['--reasoning-parser', 'kimi_k2', '--tool-call-parser', 'kimi_k2'], reasons: true },
  { name: 'GLM-4.5', style: 'glm45', routerArgs: ['--reasoning-parser', 'glm45', '--tool-call-parser', 'glm45'], reasons: true },
  { name: 'Qwen3-Coder', style: 'qwen3-coder', routerArgs: ['--reasoning-parser', 'none', '--tool-call-parser', 'qwen3_coder'], reasons: false },
];

type Message = OpenAI.ChatCompletionMessage & { reasoning_content?: string };

for (const family of FAMILIES) {
  describe(`${family.name} output through the router`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ ...(family.bundled ? { bundled: family.bundled } : {}), sim: { outputStyle: family.style }, routerArgs: family.routerArgs });
    });
    after(async () => {
      await h.close();
    });

    const ask: OpenAI.ChatCompletionMessageParam[] = [
      ...(family.toolsInSystemPrompt ? [{ role: 'system' as const, content: `You may call these tools:\n${JSON.stringify(WEATHER)}` }] : []),
      { role: 'user', content: 'What will the weather be in Paris tomorrow?' },
    ];

    it('returns the tool call with its reasoning, streaming and not, with equal arguments', async () => {
      const res = await h.client.chat.completions.create({ model: MODEL, messages: ask, tools: [WEATHER] });
      const choice = res.choices[0]!;
      const msg = choice.message as Message;
      assert.equal(choice.finish_reason, 'tool_calls');
      assert.equal(msg.content, null);
      assert.equal(msg.tool_calls?.length, 1);
      const call = msg.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
      assert.equal(call.function.name, 'get_weather');
      assert.deepEqual(JSON.parse(call.function.arguments), EXPECTED_ARGS);
      if (family.reasons) assert.ok(msg.reasoning_content?.trim(), 'reasoning_content');
      else assert.equal(msg.reasoning_content, undefined);

      const s = await streamChat(h, { messages: ask, tools: [WEATHER] });
      assert.equal(s.finish, 'tool_calls');
      assert.deepEqual(
        s.calls.map((c) => [c.name, c.arguments]),
        [['get_weather', call.function.arguments]],
      );
      assert.match(s.calls[0]!.id!, /^call_/);
      assert.equal(s.reasoning, msg.reasoning_content ?? '');
      assert.equal(s.content.trim(), '');
    });

    it('answers in prose when no tools are declared, streaming and not', async () => {
      const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Tell me about switchyards.' }];
      const res = await h.client.chat.completions.create({ model: MODEL, messages });
      const msg = res.choices[0]!.message as Message;
      assert.equal(res.choices[0]!.finish_reason, 'stop');
      assert.equal(msg.tool_calls, undefined);
      assert.ok((msg.content ?? '').trim().length > 10, String(msg.content));
      assert.doesNotMatch(msg.content!, /think>/);
      if (family.reasons) assert.ok(msg.reasoning_content?.trim(), 'reasoning_content');
      const s = await streamChat(h, { messages });
      assert.equal(s.finish, 'stop');
      assert.equal(s.content, msg.content);
      assert.equal(s.reasoning, msg.reasoning_content ?? '');
    });
  });
}
