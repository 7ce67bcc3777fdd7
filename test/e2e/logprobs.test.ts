import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MODEL, postJson, sseData, startHarness, type Harness } from '../helpers/harness.js';

const reply = (text: string) => `<<sim reply="${text}">>`;
const EOS = '<|im_end|>';

describe('streamed logprobs match the non-streamed answer token for token', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  it('chat: every output token, the stop token included, with the same logprob', async () => {
    const body = { model: MODEL, logprobs: true, top_logprobs: 1, messages: [{ role: 'user' as const, content: reply('Freight leaves at nine.') }] };
    const whole = await h.client.chat.completions.create(body);
    const expected = whole.choices[0]!.logprobs!.content!.map((c) => [c.token, c.logprob]);
    assert.equal(expected.length, whole.usage!.completion_tokens);
    assert.equal(expected.at(-1)![0], EOS, 'the engine stop token is the last entry');

    const stream = await h.client.chat.completions.create({ ...body, stream: true });
    const streamed: [string, number][] = [];
    for await (const chunk of stream) for (const c of chunk.choices[0]?.logprobs?.content ?? []) streamed.push([c.token, c.logprob]);
    assert.deepEqual(streamed, expected);
  });

  it('chat with reasoning separated: the parsers hold no logprob back', async () => {
    const body = { model: MODEL, logprobs: true, messages: [{ role: 'user' as const, content: reply('<think>a b</think>c d e') }] };
    const whole = await h.client.chat.completions.create(body);
    const expected = whole.choices[0]!.logprobs!.content!.map((c) => c.token);
    assert.equal(expected.length, whole.usage!.completion_tokens);

    const stream = await h.client.chat.completions.create({ ...body, stream: true });
    const streamed: string[] = [];
    for await (const chunk of stream) for (const c of chunk.choices[0]?.logprobs?.content ?? []) streamed.push(c.token);
    assert.deepEqual(streamed, expected);
  });

  it('completions: the same tokens and logprobs, streamed or not', async () => {
    const body = { model: MODEL, prompt: reply('Track four.'), logprobs: 1 };
    const whole = await h.client.completions.create(body);
    const expected = whole.choices[0]!.logprobs!;
    assert.equal(expected.tokens!.length, whole.usage!.completion_tokens);
    assert.equal(expected.tokens!.at(-1), EOS);

    const stream = await h.client.completions.create({ ...body, stream: true });
    const tokens: string[] = [];
    const values: number[] = [];
    for await (const chunk of stream) {
      const lp = chunk.choices[0]?.logprobs;
      if (!lp) continue;
      tokens.push(...lp.tokens!);
      values.push(...lp.token_logprobs!);
    }
    assert.deepEqual(tokens, expected.tokens);
    assert.deepEqual(values, expected.token_logprobs);
  });

  it('/generate: the last streamed event carries every output_token_logprobs entry', async () => {
    const body = { text: reply('Platform two.'), return_logprob: true };
    const whole = await postJson(`${h.url}/generate`, body);
    const expected = whole.json.meta_info.output_token_logprobs as [number, number, null][];
    assert.equal(expected.length, whole.json.meta_info.completion_tokens);

    const streamed = await postJson(`${h.url}/generate`, { ...body, stream: true });
    const events = sseData(streamed.text) as any[];
    assert.equal(events.at(-1), '[DONE]');
    assert.deepEqual(events.at(-2).meta_info.output_token_logprobs, expected);
  });

  it('completions with echo: the prompt\'s tokens lead the logprobs, the first without a value, offsets running through the echoed text', async () => {
    const prompt = `${reply('Mind the gap.')} Platform nine.`;
    const res = await h.client.completions.create({ model: MODEL, prompt, echo: true, logprobs: 2, max_tokens: 8 });
    const c = res.choices[0]!;
    const lp = c.logprobs!;
    const promptTokens = res.usage!.prompt_tokens;
    assert.equal(lp.tokens!.length, promptTokens + res.usage!.completion_tokens);
    assert.equal(lp.tokens!.slice(0, promptTokens).join(''), prompt);
    assert.equal(lp.token_logprobs![0], null);
    assert.equal(lp.top_logprobs![0], null);
    assert.ok(lp.token_logprobs!.slice(1).every((v) => typeof v === 'number'));
    assert.equal(Object.keys(lp.top_logprobs![1]!).length, 2);
    assert.equal(lp.text_offset![1], lp.tokens![0]!.length);
    assert.equal(lp.text_offset![promptTokens], prompt.length, 'the answer starts where the echoed prompt ends');
    assert.ok(c.text.startsWith(prompt));

    const plain = await h.client.completions.create({ model: MODEL, prompt, logprobs: 2, max_tokens: 8 });
    assert.deepEqual(lp.tokens!.slice(promptTokens), plain.choices[0]!.logprobs!.tokens, 'without echo, the answer\'s logprobs alone');
  });

  it('/generate with logprob_start_len: input_token_logprobs from that position, the first prompt token\'s value null', async () => {
    const body = { text: `${reply('Next stop.')} Where to?`, return_logprob: true, sampling_params: { max_new_tokens: 4 } };
    const all = (await postJson(`${h.url}/generate`, { ...body, logprob_start_len: 0 })).json.meta_info;
    const input = all.input_token_logprobs as [number | null, number, null][];
    assert.equal(input.length, all.prompt_tokens);
    assert.equal(input[0]![0], null);
    assert.ok(input.slice(1).every(([v]) => typeof v === 'number'));
    const tail = (await postJson(`${h.url}/generate`, { ...body, logprob_start_len: 3 })).json.meta_info;
    assert.deepEqual(tail.input_token_logprobs, input.slice(3));
    const none = (await postJson(`${h.url}/generate`, body)).json.meta_info;
    assert.equal(none.input_token_logprobs, undefined, 'logprob_start_len -1 (the default) asks for none');
  });
});
