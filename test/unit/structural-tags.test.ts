import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kimiK3Family } from '../../src/parsers/tools/kimi-k3.js';
import { structuralTagBuilder } from '../../src/parsers/tools/structural-tags.js';
import { planTools } from '../../src/pipeline/tool-plan.js';
import type { ChatRequest, Tool } from '../../src/protocol/openai.js';

const WEATHER: Tool = {
  type: 'function',
  function: {
    name: 'get_weather',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, days: { type: 'integer' }, unit: { type: 'string', enum: ['c', 'f'] }, note: {} },
      required: ['city'],
    },
  },
};
const QUOTED: Tool = { type: 'function', function: { name: 'say "hi" & go' } };

interface Tag {
  type: string;
  begin: string;
  content: any;
  end: string;
}

const k3 = (tools: Tool[], opts = { requireOne: true, single: false }) => JSON.parse(structuralTagBuilder('kimi_k3')!(tools, opts));

describe('Kimi-K3 structural tag', () => {
  it('triggers the tools channel at once, after thinking, or after the response', () => {
    const tag = k3([WEATHER]);
    assert.equal(tag.type, 'structural_tag');
    assert.equal(tag.format.type, 'triggered_tags');
    assert.deepEqual(tag.format.triggers, ['<|open|>tools<|sep|>', '<|close|>think<|sep|>', '<|close|>response<|sep|>']);
    assert.deepEqual(
      tag.format.tags.map((t: Tag) => [t.begin, t.end]),
      [
        ['<|open|>tools<|sep|>', '<|close|>tools<|sep|>'],
        ['<|close|>think<|sep|><|open|>tools<|sep|>', '<|close|>tools<|sep|>'],
        ['<|close|>response<|sep|><|open|>tools<|sep|>', '<|close|>tools<|sep|>'],
      ],
    );
    assert.equal(tag.format.at_least_one, true);
    const calls = tag.format.tags[0].content;
    assert.equal(calls.type, 'tags_with_separator');
    assert.equal(calls.at_least_one, true);
  });

  it('types each argument the way the parser reads it back', () => {
    const call: Tag = k3([WEATHER]).format.tags[0].content.tags[0];
    assert.equal(call.begin, '<|open|>call tool="get_weather" index="');
    const args: Tag[] = call.content.elements.at(-1).tags;
    assert.deepEqual(
      args.map((a) => [a.begin, a.content.type]),
      [
        ['<|open|>argument key="city" type="string"<|sep|>', 'any_text'],
        ['<|open|>argument key="days" type="number"<|sep|>', 'json_schema'],
        ['<|open|>argument key="unit" type="string"<|sep|>', 'or'],
        ['<|open|>argument key="note" type="string"<|sep|>', 'any_text'],
      ],
    );
    assert.deepEqual(args[1]!.content.json_schema, { type: 'integer' });
    assert.deepEqual(args[2]!.content.elements.map((e: { value: string }) => e.value), ['c', 'f']);

    // Text the tag admits, assembled from its literals, is the call the kimi_k3 parser returns.
    const channel: Tag = k3([WEATHER]).format.tags[1];
    const text =
      `Let me look.${channel.begin}${call.begin}0${call.content.elements[1].value}` +
      `${args[0]!.begin}Paris${args[0]!.end}${args[1]!.begin}3${args[1]!.end}${args[2]!.begin}c${args[2]!.end}` +
      `${call.end}${channel.end}`;
    const parsed = kimiK3Family.complete(text, [{ name: 'get_weather', parameters: WEATHER.function.parameters! }]);
    assert.deepEqual(parsed.calls, [{ name: 'get_weather', arguments: '{"city":"Paris","days":3,"unit":"c"}' }]);
  });

  it('escapes tool names as XTML attributes and allows calls without arguments', () => {
    const call: Tag = k3([QUOTED]).format.tags[0].content.tags[0];
    assert.equal(call.begin, '<|open|>call tool="say &quot;hi&quot; &amp; go" index="');
    assert.equal(call.content.elements.length, 2);
    const text = `<|open|>tools<|sep|>${call.begin}0"<|sep|>${call.end}<|close|>tools<|sep|>`;
    assert.deepEqual(kimiK3Family.complete(text, [{ name: 'say "hi" & go' }]).calls, [{ name: 'say "hi" & go', arguments: '{}' }]);
  });

  it('stops after one call when parallel calls are off', () => {
    const tag = k3([WEATHER, QUOTED], { requireOne: true, single: true });
    assert.equal(tag.format.stop_after_first, true);
    assert.equal(tag.format.tags[0].content.stop_after_first, true);
    assert.equal(tag.format.tags[0].content.tags.length, 2);
  });

  it('is the constraint of tool_choice required and of a named function under --tool-call-parser kimi_k3', () => {
    const builder = structuralTagBuilder('kimi_k3');
    const base = { model: 'm', messages: [{ role: 'user', content: 'hi' }], tools: [WEATHER, QUOTED] } as ChatRequest;
    const required = planTools({ ...base, tool_choice: 'required' }, false, builder);
    assert.equal(required.mode, 'parser');
    assert.equal(required.constraint?.$case, 'structuralTag');
    assert.equal(JSON.parse(required.constraint!.value).format.tags[0].content.tags.length, 2);
    const named = planTools({ ...base, tool_choice: { type: 'function', function: { name: 'get_weather' } } }, false, builder);
    const tag = JSON.parse(named.constraint!.value);
    assert.equal(tag.format.stop_after_first, true);
    assert.deepEqual(tag.format.tags[0].content.tags.map((t: Tag) => t.begin), ['<|open|>call tool="get_weather" index="']);
    assert.equal(planTools({ ...base, tool_choice: 'auto' }, false, builder).constraint, undefined);
  });
});
