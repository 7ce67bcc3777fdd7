import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toolParserFamily } from '../../src/parsers/tools/registry.js';
import { parseReasoningComplete } from '../../src/parsers/reasoning/registry.js';
import { OUTPUT_STYLES, styledReply, type OutputStyle } from '../../src/sim/styles.js';
import { bundledTokenizer } from '../helpers/harness.js';

const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather',
    parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } }, required: ['city', 'unit'] },
  },
};
const toolsPrompt = `system\n# Tools\n<tools>\n${JSON.stringify(WEATHER)}\n</tools>\nuser\nWeather in Paris?\nassistant\n`;
/** Llama-3.1's template writes each declaration with tojson(indent=4) after a format hint that is not JSON. */
const llamaPrompt = `<|start_header_id|>user<|end_header_id|>\n\nRespond in the format {"name": function name, "parameters": dictionary of argument name and its value}.\n\n${JSON.stringify(WEATHER, null, 4)}\n\nWeather?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n`;

/** Style → the parsers the router would run on it (gpt-oss is parsed on token ids: harmony-wiring.test.ts). */
type TextStyle = Exclude<OutputStyle, 'plain' | 'gpt-oss'>;
const PARSERS: Record<TextStyle, [reasoning: string | undefined, tools: string]> = {
  qwen3: ['qwen3', 'qwen'],
  'deepseek-r1': ['deepseek_r1', 'deepseek'],
  'deepseek-v3': [undefined, 'deepseek'],
  'llama3-json': [undefined, 'llama'],
  'llama3-python-tag': [undefined, 'llama'],
  mistral: [undefined, 'mistral'],
  'kimi-k2': ['kimi_thinking', 'kimik2'],
  glm45: ['glm45', 'glm45_moe'],
  'qwen3-coder': [undefined, 'qwen_xml'],
};

function parse(style: TextStyle, text: string) {
  const [reasoning, tools] = PARSERS[style];
  const split = reasoning ? parseReasoningComplete(reasoning, text) : { normal: text, reasoning: '' };
  const parsed = toolParserFamily(tools)!.complete(split.normal, [{ name: 'get_weather', parameters: WEATHER.function.parameters }]);
  return { reasoning: split.reasoning, ...parsed };
}

describe('simulated model-format replies', () => {
  it('plain style leaves the reply to the corpus', () => {
    assert.equal(styledReply('plain', toolsPrompt, 1), undefined);
  });

  it('lists every style for --output-style', () => {
    assert.deepEqual([...OUTPUT_STYLES].sort(), ['plain', 'gpt-oss', ...Object.keys(PARSERS)].sort());
  });

  for (const style of Object.keys(PARSERS) as TextStyle[]) {
    it(`${style}: its own parsers read a call of the first declared tool with schema-shaped arguments`, () => {
      const r = parse(style, styledReply(style, toolsPrompt, 7)!);
      assert.deepEqual(r.calls.map((c) => [c.name, JSON.parse(c.arguments)]), [['get_weather', { city: 'Paris', unit: 'c' }]]);
      assert.equal(r.normal.trim(), '');
      assert.equal(r.reasoning.trim() !== '', PARSERS[style][0] !== undefined);
    });

    it(`${style}: answers in prose without tools and after a tool result`, () => {
      const after = `${toolsPrompt}<tool_call>...</tool_call>\nuser\n<tool_response>\n18C\n</tool_response>\nassistant\n`;
      for (const prompt of ['user\nhi\nassistant\n', after]) {
        const r = parse(style, styledReply(style, prompt, 3)!);
        assert.deepEqual(r.calls, []);
        assert.ok(r.normal.trim().length > 10, r.normal);
      }
    });
  }

  it('finds pretty-printed declarations after non-JSON braces', () => {
    const r = styledReply('llama3-json', llamaPrompt, 1)!;
    assert.deepEqual(JSON.parse(r), { name: 'get_weather', parameters: { city: 'Paris', unit: 'c' } });
    const answered = `${llamaPrompt}${r}<|eom_id|><|start_header_id|>ipython<|end_header_id|>\n\n18C<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n`;
    assert.doesNotMatch(styledReply('llama3-json', answered, 1)!, /get_weather/);
  });

  it('skips the think block when the prompt closed it, and its opening tag when the prompt opened it', () => {
    const noThink = styledReply('qwen3', 'user\nhi\nassistant\n<think>\n\n</think>\n\n', 3)!;
    assert.doesNotMatch(noThink, /<\/?think>/);
    const opened = styledReply('deepseek-r1', '<｜User｜>hi<｜Assistant｜><think>\n', 3)!;
    assert.match(opened, /^\n.+\n<\/think>\n\n\S/);
    assert.equal(styledReply('glm45', 'user\nhi\nassistant\n<think></think>', 3)!.includes('think>'), false);
  });

  it('writes DeepSeek markers, which are added tokens of its real vocabulary, as single tokens', async () => {
    const tok = await bundledTokenizer('deepseek_v3');
    const ids = await tok.encode(styledReply('deepseek-v3', toolsPrompt, 1)!, false);
    for (const marker of ['<｜tool▁calls▁begin｜>', '<｜tool▁call▁begin｜>', '<｜tool▁sep｜>', '<｜tool▁call▁end｜>', '<｜tool▁calls▁end｜>']) {
      const markerIds = await tok.encode(marker, false);
      assert.equal(markerIds.length, 1, marker);
      assert.ok(ids.includes(markerIds[0]!), marker);
    }
  });
});
