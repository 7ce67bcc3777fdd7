import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type OpenAI from 'openai';
import { MODEL, postJson, startHarness, streamChat, type Harness } from '../helpers/harness.js';

const reply = (text: string) => `<<sim reply="${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}">>`;
const WEATHER: OpenAI.ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
const TIME: OpenAI.ChatCompletionTool = { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } };
const call = (name: string, args: unknown) => `<tool_call>\n${JSON.stringify({ name, arguments: args })}\n</tool_call>`;

describe('reasoning and tool calls through the router (Qwen3 formats)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  it('separates <think> reasoning from the answer, streaming and not', async () => {
    const messages = [{ role: 'user' as const, content: reply('<think>\nThe user greets me.\n</think>\n\nHello! How can I help?') }];
    const res = await h.client.chat.completions.create({ model: MODEL, messages });
    const msg = res.choices[0]!.message as OpenAI.ChatCompletionMessage & { reasoning_content?: string };
    assert.equal(msg.reasoning_content, '\nThe user greets me.\n');
    assert.equal(msg.content, '\n\nHello! How can I help?');
    const s = await streamChat(h, { messages });
    assert.equal(s.reasoning, msg.reasoning_content);
    assert.equal(s.content, msg.content);
    assert.equal(s.finish, 'stop');
  });

  it('keeps the tags in the content when separate_reasoning is false', async () => {
    const text = '<think>hmm</think>Answer.';
    const res = await postJson(`${h.url}/v1/chat/completions`, { model: MODEL, separate_reasoning: false, messages: [{ role: 'user', content: reply(text) }] });
    assert.equal(res.json.choices[0].message.content, text);
    assert.equal(res.json.choices[0].message.reasoning_content, undefined);
  });

  it('returns tool calls with ids, finish_reason tool_calls and null content; streaming matches', async () => {
    const messages = [{ role: 'user' as const, content: `Weather? ${reply(`<think>\nI need the weather tool.\n</think>\n\n${call('get_weather', { city: 'Paris' })}`)}` }];
    const res = await h.client.chat.completions.create({ model: MODEL, messages, tools: [WEATHER] });
    const c = res.choices[0]!;
    assert.equal(c.finish_reason, 'tool_calls');
    assert.equal(c.message.content, null);
    assert.equal((c.message as { reasoning_content?: string }).reasoning_content, '\nI need the weather tool.\n');
    assert.equal(c.message.tool_calls!.length, 1);
    const tc = c.message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    assert.match(tc.id, /^call_[0-9a-f]{24}$/);
    assert.equal(tc.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(tc.function.arguments), { city: 'Paris' });

    const s = await streamChat(h, { messages, tools: [WEATHER] });
    assert.equal(s.finish, 'tool_calls');
    assert.equal(s.reasoning, '\nI need the weather tool.\n');
    assert.equal(s.calls.length, 1);
    assert.equal(s.calls[0]!.name, 'get_weather');
    assert.match(s.calls[0]!.id!, /^call_/);
    assert.equal(s.calls[0]!.arguments, tc.function.arguments);
    assert.equal(s.content.trim(), '');
  });

  it('keeps the text around and between several calls', async () => {
    const text = `Let me check. ${call('get_weather', { city: 'Oslo' })}\n${call('get_time', {})} Done.`;
    const messages = [{ role: 'user' as const, content: reply(text) }];
    const res = await h.client.chat.completions.create({ model: MODEL, messages, tools: [WEATHER, TIME] });
    const calls = res.choices[0]!.message.tool_calls as OpenAI.ChatCompletionMessageFunctionToolCall[];
    assert.deepEqual(calls.map((c) => c.function.name), ['get_weather', 'get_time']);
    assert.match(res.choices[0]!.message.content!, /Let me check\./);
    assert.match(res.choices[0]!.message.content!, /Done\./);
    const s = await streamChat(h, { messages, tools: [WEATHER, TIME] });
    assert.deepEqual(s.calls.map((c) => c.name), ['get_weather', 'get_time']);
    assert.deepEqual(s.calls.map((c) => c.arguments), calls.map((c) => c.function.arguments));
    assert.equal(s.content, res.choices[0]!.message.content);
  });

  it('returns at most one call with parallel_tool_calls false', async () => {
    const text = `${call('get_weather', { city: 'Oslo' })}\n${call('get_time', {})}`;
    const res = await h.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: reply(text) }], tools: [WEATHER, TIME], parallel_tool_calls: false });
    assert.equal(res.choices[0]!.message.tool_calls!.length, 1);
  });

  it('leaves tool markup in the content with tool_choice none, and does not render the tools', async () => {
    const seen = new Promise<any>((resolve) => h.workers[0]!.events.once('request', resolve));
    const text = call('get_weather', { city: 'Rome' });
    const res = await h.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: reply(text) }], tools: [WEATHER], tool_choice: 'none' });
    assert.equal(res.choices[0]!.message.content, text);
    assert.equal(res.choices[0]!.finish_reason, 'stop');
    assert.doesNotMatch((await seen).tokenized.originalText, /<tools>/);
  });

  it('constrains a named tool_choice to the function schema and returns that call', async () => {
    const seen = new Promise<any>((resolve) => h.workers[0]!.events.once('request', resolve));
    const res = await h.client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: reply('{"city": "Lima"}') }],
      tools: [WEATHER, TIME],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
    const req = await seen;
    assert.equal(req.samplingParams.constraint.$case, 'jsonSchema');
    assert.deepEqual(JSON.parse(req.samplingParams.constraint.value), WEATHER.function.parameters);
    const tc = res.choices[0]!.message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    assert.equal(tc.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(tc.function.arguments), { city: 'Lima' });
    assert.equal(res.choices[0]!.finish_reason, 'tool_calls');
  });

  it('constrains tool_choice required to an array of calls', async () => {
    const seen = new Promise<any>((resolve) => h.workers[0]!.events.once('request', resolve));
    const s = await streamChat(h, {
      messages: [{ role: 'user', content: reply('[{"name": "get_time", "parameters": {}}]') }],
      tools: [WEATHER, TIME],
      tool_choice: 'required',
    });
    const schema = JSON.parse((await seen).samplingParams.constraint.value);
    assert.equal(schema.type, 'array');
    assert.equal(schema.minItems, 1);
    assert.deepEqual(s.calls.map((c) => c.name), ['get_time']);
    assert.deepEqual(JSON.parse(s.calls[0]!.arguments), {});
    assert.equal(s.finish, 'tool_calls');
  });

  it('turns thinking off through chat_template_kwargs and reasoning_effort', async () => {
    for (const body of [{ chat_template_kwargs: { enable_thinking: false } }, { reasoning_effort: 'none' }]) {
      const seen = new Promise<any>((resolve) => h.workers[0]!.events.once('request', resolve));
      await postJson(`${h.url}/v1/chat/completions`, { model: MODEL, messages: [{ role: 'user', content: 'hi' }], ...body });
      assert.match((await seen).tokenized.originalText, /<think>\n\n<\/think>\n\n$/);
    }
  });

  it('treats malformed tool markup as content, never as an error', async () => {
    const text = '<tool_call>\n{"name": "get_weather", "arguments": {"city": \n</tool_call> trailing';
    const res = await h.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: reply(text) }], tools: [WEATHER] });
    assert.equal(res.choices[0]!.finish_reason, 'stop');
    assert.equal(res.choices[0]!.message.tool_calls, undefined);
    assert.equal(res.choices[0]!.message.content, text);
  });

  it('parses offline through /parse/reasoning and /parse/function_call', async () => {
    const r = await postJson(`${h.url}/parse/reasoning`, { text: '<think>why</think>because', reasoning_parser: 'qwen3' });
    assert.deepEqual(r.json, { normal_text: 'because', reasoning_text: 'why', success: true });
    const f = await postJson(`${h.url}/parse/function_call`, { text: `Sure. ${call('get_weather', { city: 'Oslo' })}`, tool_call_parser: 'qwen25', tools: [WEATHER] });
    assert.equal(f.json.success, true);
    assert.equal(f.json.remaining_text.trim(), 'Sure.');
    assert.deepEqual(f.json.tool_calls, [{ function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }]);
    const bad = await postJson(`${h.url}/parse/reasoning`, { text: 'x', reasoning_parser: 'nope' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.param, 'reasoning_parser');
  });

  it('keeps streamed logprobs when reasoning is separated', async () => {
    const stream = await h.client.chat.completions.create({
      model: MODEL,
      stream: true,
      logprobs: true,
      messages: [{ role: 'user', content: reply('<think>a b</think>c d e') }],
      stream_options: { include_usage: true },
    });
    let tokens = 0;
    let usage = 0;
    for await (const chunk of stream) {
      tokens += chunk.choices[0]?.logprobs?.content?.length ?? 0;
      if (chunk.usage) usage = chunk.usage.completion_tokens;
    }
    // Every generated token carries its logprob, the EOS (whose text is never emitted) included.
    assert.ok(tokens > 3);
    assert.equal(tokens, usage);
  });
});
