import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type OpenAI from 'openai';
import { MODEL, postJson, startHarness, type Harness } from '../helpers/harness.js';

const WEATHER: OpenAI.ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
      required: ['city', 'unit'],
    },
  },
};
const TIME: OpenAI.ChatCompletionTool = { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } };

type Message = OpenAI.ChatCompletionMessage & { reasoning_content?: string };

/** A streamed answer folded back into one message, with what the stream said about itself. */
interface Folded {
  content: string;
  reasoning: string;
  calls: { id: string; name: string; arguments: string }[];
  finish: string | null;
  logprobTokens: string[];
  usage: OpenAI.CompletionUsage | undefined;
}

async function fold(h: Harness, body: Omit<OpenAI.ChatCompletionCreateParamsStreaming, 'model' | 'stream'>): Promise<Folded> {
  const stream = await h.client.chat.completions.create({ model: MODEL, stream: true, stream_options: { include_usage: true }, ...body });
  const out: Folded = { content: '', reasoning: '', calls: [], finish: null, logprobTokens: [], usage: undefined };
  for await (const chunk of stream) {
    if (chunk.usage) out.usage = chunk.usage;
    const c = chunk.choices[0];
    if (!c) continue;
    out.content += c.delta.content ?? '';
    out.reasoning += (c.delta as { reasoning_content?: string }).reasoning_content ?? '';
    for (const l of c.logprobs?.content ?? []) out.logprobTokens.push(l.token);
    for (const t of c.delta.tool_calls ?? []) {
      if (t.function?.name !== undefined) out.calls[t.index] = { id: t.id!, name: t.function.name, arguments: '' };
      out.calls[t.index]!.arguments += t.function?.arguments ?? '';
    }
    if (c.finish_reason) out.finish = c.finish_reason;
  }
  return out;
}

/** The sim sees the prompt without special tokens, so markup in a reply directive is escaped (`<\|…\|>`). */
const replyDirective = (harmony: string) => `<<sim reply="${harmony.replace(/[|"]/g, '\\$&')}">>`;

describe('GPT-OSS through the chat path (Harmony prompt and output)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ bundled: 'gptoss', sim: { outputStyle: 'gpt-oss' } });
  });
  after(async () => {
    await h.close();
  });

  it('renders a Harmony prompt with the reasoning level, instructions and tools, as single special ids', async () => {
    const seen = new Promise<any>((resolve) => h.workers[0]!.events.once('request', resolve));
    await h.client.chat.completions.create({
      model: MODEL,
      reasoning_effort: 'high',
      messages: [
        { role: 'system', content: 'Answer like a dispatcher.' },
        { role: 'user', content: 'Weather in Paris?' },
      ],
      tools: [WEATHER],
    });
    const req = await seen;
    const text: string = req.tokenized.originalText;
    assert.match(text, /^<\|start\|>system<\|message\|>You are ChatGPT/);
    assert.match(text, /\nReasoning: high\n/);
    assert.match(text, /<\|start\|>developer<\|message\|># Instructions\n\nAnswer like a dispatcher\.\n\n# Tools\n/);
    assert.match(text, /type get_weather = \(_: \{\ncity: string,\nunit: "celsius" \| "fahrenheit",\n\}\) => any;/);
    assert.ok(text.endsWith('<|start|>user<|message|>Weather in Paris?<|end|><|start|>assistant'));
    const ids: number[] = req.tokenized.inputIds;
    assert.equal(ids[0], 200006, '<|start|> is one special id');
    assert.equal(ids[ids.length - 1], 173781, 'the prompt ends with the word assistant');
    assert.equal(ids[ids.length - 2], 200006);
    assert.deepEqual([...req.samplingParams.stopTokenIds].sort(), [200002, 200012], '<|return|> and <|call|> stop the engine');
  });

  it('answers with reasoning_content and content, streaming and not, with usage and logprobs', async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Which track does the freight leave from?' }];
    const res = await h.client.chat.completions.create({ model: MODEL, messages, logprobs: true });
    const c = res.choices[0]!;
    const msg = c.message as Message;
    assert.equal(c.finish_reason, 'stop');
    assert.ok(msg.reasoning_content && msg.reasoning_content.length > 10, 'the analysis channel is reasoning');
    assert.ok(msg.content && msg.content.length > 10, 'the final channel is content');
    assert.doesNotMatch(`${msg.content}${msg.reasoning_content}`, /<\||analysis|assistant/);
    assert.equal(msg.tool_calls, undefined);
    assert.equal(c.logprobs!.content!.length, res.usage!.completion_tokens, 'every output token has a logprob');
    assert.ok(res.usage!.completion_tokens_details!.reasoning_tokens! > 0);

    const s = await fold(h, { messages, logprobs: true });
    assert.equal(s.reasoning, msg.reasoning_content);
    assert.equal(s.content, msg.content);
    assert.equal(s.finish, 'stop');
    assert.equal(s.calls.length, 0);
    // Header tokens make no delta: their logprobs ride on the next chunk; the lone <|return|> gets its own.
    assert.deepEqual(s.logprobTokens, c.logprobs!.content!.map((l) => l.token));
    assert.equal(s.logprobTokens.at(-1), '<|return|>');
    assert.equal(s.usage!.completion_tokens, res.usage!.completion_tokens);
    assert.equal(s.usage!.completion_tokens_details!.reasoning_tokens, res.usage!.completion_tokens_details!.reasoning_tokens);
  });

  it('turns a functions.X commentary message into a tool call with JSON arguments; streaming matches', async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];
    const res = await h.client.chat.completions.create({ model: MODEL, messages, tools: [WEATHER, TIME], logprobs: true });
    const c = res.choices[0]!;
    assert.equal(c.finish_reason, 'tool_calls');
    assert.equal(c.message.content, null);
    assert.ok((c.message as Message).reasoning_content);
    const calls = c.message.tool_calls as OpenAI.ChatCompletionMessageFunctionToolCall[];
    assert.equal(calls.length, 1);
    assert.match(calls[0]!.id, /^call_[0-9a-f]{24}$/);
    assert.equal(calls[0]!.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(calls[0]!.function.arguments), { city: 'Paris', unit: 'celsius' });

    const s = await fold(h, { messages, tools: [WEATHER, TIME], logprobs: true });
    assert.equal(s.finish, 'tool_calls');
    assert.deepEqual(s.logprobTokens, c.logprobs!.content!.map((l) => l.token));
    assert.equal(s.logprobTokens.at(-1), '<|call|>');
    assert.equal(s.content, '');
    assert.equal(s.reasoning, (c.message as Message).reasoning_content);
    assert.equal(s.calls.length, 1);
    assert.equal(s.calls[0]!.name, 'get_weather');
    assert.match(s.calls[0]!.id, /^call_/);
    assert.equal(s.calls[0]!.arguments, calls[0]!.function.arguments);
  });

  it('renders a tool result as a functions.X message and answers it', async () => {
    const seen = new Promise<any>((resolve) => h.workers[0]!.events.once('request', resolve));
    const res = await h.client.chat.completions.create({
      model: MODEL,
      tools: [WEATHER],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temperature":18}' },
      ],
    });
    const text: string = (await seen).tokenized.originalText;
    assert.ok(
      text.includes(
        '<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city":"Paris","unit":"celsius"}<|call|>' +
          '<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>{"temperature":18}<|end|><|start|>assistant',
      ),
    );
    const c = res.choices[0]!;
    assert.equal(c.finish_reason, 'stop');
    assert.equal(c.message.tool_calls, undefined);
    assert.ok(c.message.content && c.message.content.length > 10);
  });

  it('constrains tool_choice required and named with the Harmony structural tag', async () => {
    const required = new Promise<any>((resolve) => h.workers[0]!.events.once('request', resolve));
    const res = await h.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Weather?' }], tools: [WEATHER, TIME], tool_choice: 'required' });
    assert.equal(res.choices[0]!.finish_reason, 'tool_calls');
    const constraint = (await required).samplingParams.constraint;
    assert.equal(constraint.$case, 'structuralTag');
    const tag = JSON.parse(constraint.value);
    assert.deepEqual(tag.format.triggers, ['<|start|>assistant<|channel|>commentary', '<|channel|>commentary']);
    assert.equal(tag.format.at_least_one, true);
    assert.equal(tag.format.stop_after_first, false);
    assert.deepEqual(
      tag.format.tags.map((t: { begin: string }) => t.begin),
      [
        '<|start|>assistant<|channel|>commentary to=functions.get_weather<|constrain|>json<|message|>',
        '<|channel|>commentary to=functions.get_weather<|constrain|>json<|message|>',
        '<|start|>assistant<|channel|>commentary to=functions.get_time<|constrain|>json<|message|>',
        '<|channel|>commentary to=functions.get_time<|constrain|>json<|message|>',
      ],
    );
    assert.deepEqual(tag.format.tags[0].content, { type: 'json_schema', json_schema: WEATHER.function.parameters });

    const named = new Promise<any>((resolve) => h.workers[0]!.events.once('request', resolve));
    await h.client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Time?' }],
      tools: [WEATHER, TIME],
      tool_choice: { type: 'function', function: { name: 'get_time' } },
    });
    const namedTag = JSON.parse((await named).samplingParams.constraint.value);
    assert.equal(namedTag.format.stop_after_first, true);
    assert.deepEqual(namedTag.format.tags.map((t: { begin: string }) => t.begin.includes('functions.get_time')), [true, true]);
  });

  it('wraps a json_schema response_format in a Harmony tag: free analysis, then a final message held to the schema', async () => {
    const schema = { type: 'object', properties: { track: { type: 'integer' } }, required: ['track'] };
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: 'user', content: replyDirective('<|channel|>analysis<|message|>Track four.<|end|><|start|>assistant<|channel|>final <|constrain|>json<|message|>{"track":4}<|return|>') },
    ];
    const seen = new Promise<any>((resolve) => h.workers[0]!.events.once('request', resolve));
    const res = await h.client.chat.completions.create({
      model: MODEL,
      messages,
      response_format: { type: 'json_schema', json_schema: { name: 'departure', schema, strict: true } },
    });
    const constraint = (await seen).samplingParams.constraint;
    assert.equal(constraint.$case, 'structuralTag', 'not the bare schema, which forbids the channel markup');
    const tag = JSON.parse(constraint.value);
    assert.equal(tag.type, 'structural_tag');
    assert.deepEqual(tag.format.triggers, ['<|channel|>analysis', '<|channel|>final']);
    assert.deepEqual(tag.format.tags, [
      { type: 'tag', begin: '<|channel|>analysis<|message|>', content: { type: 'any_text' }, end: '<|end|>' },
      { type: 'tag', begin: '<|channel|>final<|constrain|>json<|message|>', content: { type: 'json_schema', json_schema: schema }, end: '' },
    ]);
    const msg = res.choices[0]!.message as Message;
    assert.deepEqual(JSON.parse(msg.content!), { track: 4 });
    assert.equal(msg.reasoning_content, 'Track four.');

    const s = await fold(h, { messages, response_format: { type: 'json_schema', json_schema: { name: 'departure', schema } } });
    assert.equal(s.content, msg.content);
    assert.equal(s.reasoning, msg.reasoning_content);
  });

  it('wraps json_object the same way, with the any-object schema', async () => {
    const seen = new Promise<any>((resolve) => h.workers[0]!.events.once('request', resolve));
    await h.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Departures as JSON?' }], response_format: { type: 'json_object' } });
    const constraint = (await seen).samplingParams.constraint;
    assert.equal(constraint.$case, 'structuralTag');
    assert.deepEqual(JSON.parse(constraint.value).format.tags[1].content, { type: 'json_schema', json_schema: { type: 'object' } });
  });

  it('rejects response_format together with a forced tool call, which no single Harmony reply satisfies', async () => {
    const res = await postJson(`${h.url}/v1/chat/completions`, {
      model: MODEL,
      messages: [{ role: 'user', content: 'Weather?' }],
      tools: [WEATHER],
      tool_choice: 'required',
      response_format: { type: 'json_object' },
    });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.type, 'invalid_request_error');
    assert.equal(res.json.error.param, 'response_format');
    assert.equal(res.json.error.code, 'invalid_request_parameters');

    // tool_choice auto sets no tool constraint, so the format's tag alone applies.
    const seen = new Promise<any>((resolve) => h.workers[0]!.events.once('request', resolve));
    await h.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Weather?' }], tools: [WEATHER], response_format: { type: 'json_object' } });
    const constraint = (await seen).samplingParams.constraint;
    assert.equal(constraint.$case, 'structuralTag');
    assert.deepEqual(JSON.parse(constraint.value).format.triggers, ['<|channel|>analysis', '<|channel|>final']);
  });

  it('rejects continue_final_message, which a Harmony prompt cannot express', async () => {
    const res = await postJson(`${h.url}/v1/chat/completions`, {
      model: MODEL,
      continue_final_message: true,
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello, ' },
      ],
    });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.param, 'continue_final_message');
  });

  it('returns malformed Harmony output as content instead of failing', async () => {
    const broken = replyDirective('<|channel|>final oops, the header never reached its message marker');
    const res = await h.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: broken }] });
    assert.equal(res.choices[0]!.message.content, 'oops, the header never reached its message marker');
    const s = await fold(h, { messages: [{ role: 'user', content: broken }] });
    assert.equal(s.content, res.choices[0]!.message.content);

    const plain = await h.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: '<<sim reply="No Harmony markup at all.">>' }] });
    assert.equal(plain.choices[0]!.message.content, 'No Harmony markup at all.');

    const cut = replyDirective('<|channel|>analysis<|message|>thinking<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city":');
    const truncated = await h.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: cut }], tools: [WEATHER] });
    const t = truncated.choices[0]!;
    assert.equal((t.message as Message).reasoning_content, 'thinking');
    assert.equal((t.message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall).function.arguments, '{"city":');
  });
});
