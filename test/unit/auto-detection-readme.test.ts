/**
 * The README's tables of `auto` parser detection are the code's rules: every row is checked against
 * src/parsers/tools/registry.ts and src/parsers/reasoning/detect.ts, in order and in number.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { detectReasoningParser, NAME_RULES as REASONING_NAME_RULES } from '../../src/parsers/reasoning/detect.js';
import { detectToolParser, NAME_RULES as TOOL_NAME_RULES, TEMPLATE_RULES as TOOL_TEMPLATE_RULES } from '../../src/parsers/tools/registry.js';

const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

/** The code spans of each cell of the table whose header row starts with `header`. */
function table(header: string): string[][][] {
  const lines = README.split('\n').map((l) => l.trim());
  const start = lines.findIndex((l) => l.startsWith(`| ${header} |`));
  assert.ok(start >= 0, `README has a table headed '${header}'`);
  const rows: string[][][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line.slice(1, -1).split(/(?<!\\)\|/);
    rows.push(cells.map((c) => [...c.matchAll(/``\s(.+?)\s``(?!`)|`([^`]+)`/g)].map((m) => (m[1] ?? m[2]!).replaceAll('\\|', '|'))));
  }
  return rows;
}

describe('README auto-detection tables match the code', () => {
  it('tool-call parser by template marker: the same rules in the same order', () => {
    const rows = table('template contains');
    assert.equal(rows.length, TOOL_TEMPLATE_RULES.length);
    rows.forEach(([markers, [parser]], i) => {
      assert.equal(parser, TOOL_TEMPLATE_RULES[i]![1]);
      for (const marker of markers!) {
        // `…` stands for any text in between; the rows above must not already claim the sample.
        assert.equal(detectToolParser({ chatTemplate: marker.replace('…', '\n{{ x }}\n'), names: [] }), parser, marker);
      }
    });
  });

  it('tool-call parser by name: every stem and parser, in order', () => {
    const rows = table('name contains');
    assert.deepEqual(
      rows.map(([[stem], [parser]]) => [stem, parser]),
      TOOL_NAME_RULES.map(([stem, parser]) => [stem, parser]),
    );
    for (const [[stem], [parser]] of rows) assert.equal(detectToolParser({ names: [`org/${stem!.toUpperCase()}-8B`] }), parser);
  });

  it('reasoning parser by name: every pattern and parser, in order', () => {
    const rows = table('name pattern');
    assert.deepEqual(
      rows.map(([[pattern], [parser]]) => [pattern, parser ?? null]),
      REASONING_NAME_RULES.map(([re, parser]) => [re.source, parser]),
    );
  });

  it('reasoning parser by model_type, without a template', () => {
    const rows = table('`model_type`');
    const byType = (modelType: string, names: string[] = []) => detectReasoningParser({ modelType, names });
    assert.equal(rows.length, 11);
    assert.equal(byType('kimi_k25'), 'kimi_k25');
    assert.equal(byType('kimi_k2'), undefined);
    assert.equal(byType('kimi_k2', ['moonshotai/Kimi-K2-Thinking']), 'kimi_thinking');
    assert.equal(byType('qwen3_moe'), 'qwen3');
    assert.equal(byType('qwen3', ['Qwen/Qwen3-Coder-30B-A3B-Instruct']), undefined);
    assert.equal(byType('deepseek_v3'), undefined);
    assert.equal(byType('deepseek_v3', ['deepseek-ai/DeepSeek-R1-0528']), 'deepseek_r1');
    assert.equal(byType('glm4_moe'), 'glm45');
    assert.equal(detectReasoningParser({ architectures: ['Cohere2ForCausalLM'], names: [] }), 'cohere_cmd');
  });
});
