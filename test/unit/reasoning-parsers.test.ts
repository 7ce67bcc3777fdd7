/**
 * Reasoning parsers: the reference vectors in both modes, the behaviour we fix, and the agreement
 * property (streamed deltas concatenated == complete parse, for every chunking).
 *
 * Deviations from shared/vectors/parsers.json (reasoning vectors), each asserted as our behaviour:
 * - r-base-prefix-before-think-becomes-reasoning: text before `<think>` stays answer text (normal
 *   "Hello x</think>y", reasoning "abc"). The reference's complete-mode rule contradicts its own
 *   streaming (r-qwen3-stream-enter, r-glm45-stream, r-kimi-stream stream that text as normal), and
 *   streamed text cannot be recalled, so agreement forces the streaming rule.
 * - r-base-stream-split-end-tag-leaks: encodes the reference's leak of a tag split after other text;
 *   we hold `</th`, so reasoning is "ab", normal "c", and reasoning has ended.
 * - r-kimi-k3-answer-closed-as-response (complete): reasoning is "The answer is 42." (not ""), the same
 *   as its streaming twin r-kimi-k3-stream-answer-closed-as-response, where the answer has already been
 *   streamed as reasoning before the `response` closer shows it was the answer. Normal text agrees.
 * - r-base-stream-buffer-loss-fix: per-chunk timing only. Before reasoning only the start tag is a
 *   marker, so "</" is released at once instead of being held; the concatenation is the same.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mulberry32 } from '../../bench/rng.js';
import { MAX_PENDING_CHARS } from '../../src/parsers/reasoning/markers.js';
import { createReasoningParser, parseReasoningComplete, REASONING_PARSER_NAMES } from '../../src/parsers/reasoning/registry.js';
import type { ReasoningDelta, ReasoningParser } from '../../src/parsers/types.js';

interface Marks {
  reasoningStarted?: boolean;
  thinkStartStripped?: boolean;
}

interface Streamed extends ReasoningDelta {
  perChunk: [string, string][];
  inReasoning: boolean;
}

function make(name: string, marks: Marks = {}): ReasoningParser {
  const p = createReasoningParser(name);
  if (marks.reasoningStarted) p.markReasoningStarted();
  if (marks.thinkStartStripped) p.markThinkStartStripped();
  return p;
}

function stream(name: string, chunks: readonly string[], marks: Marks = {}): Streamed {
  const p = make(name, marks);
  const perChunk: [string, string][] = [];
  let normal = '';
  let reasoning = '';
  for (const chunk of chunks) {
    const d = p.push(chunk);
    perChunk.push([d.normal, d.reasoning]);
    normal += d.normal;
    reasoning += d.reasoning;
  }
  const end = p.finish();
  return { normal: normal + end.normal, reasoning: reasoning + end.reasoning, perChunk, inReasoning: p.inReasoning };
}

/** Random cut points; some seeds favour tiny chunks, others larger ones. */
function randomChunks(text: string, seed: number): string[] {
  const rnd = mulberry32(seed);
  const maxLen = 1 + Math.floor(rnd() * (seed % 3 === 0 ? 3 : 12));
  const chunks: string[] = [];
  for (let i = 0; i < text.length; ) {
    const n = 1 + Math.floor(rnd() * maxLen);
    chunks.push(text.slice(i, i + n));
    i += n;
  }
  return chunks;
}

function assertAgreement(name: string, text: string, marks: Marks, seeds: number): void {
  const whole = parseReasoningComplete(name, text, marks);
  const single = stream(name, [text], marks);
  const chunkings = [[...text].map((c) => c), text.split(''), ...Array.from({ length: seeds }, (_, s) => randomChunks(text, s + 1))];
  for (const chunks of chunkings) {
    const got = stream(name, chunks, marks);
    const where = `${name} ${JSON.stringify(marks)} ${JSON.stringify(chunks)}`;
    assert.equal(got.normal, whole.normal, where);
    assert.equal(got.reasoning, whole.reasoning, where);
    assert.equal(got.inReasoning, single.inReasoning, where);
  }
}

interface Vector {
  id: string;
  parser: string;
  mode: 'complete' | 'streaming';
  chunks: string[];
  started?: boolean;
  perChunk?: [string, string][];
  normal?: string;
  reasoning?: string;
  inReasoningAfter?: boolean;
}

/** The reasoning vectors of shared/vectors/parsers.json (expected values as the reference has them). */
const VECTORS: Vector[] = [
  {"id": "r-base-stream-buffer-loss-fix", "parser": "qwen3", "mode": "streaming", "chunks": ["</", "answer"], "perChunk": [["", ""], ["</answer", ""]]},
  {"id": "r-base-stream-three-chunks", "parser": "qwen3", "mode": "streaming", "chunks": ["<think>reasoning ", "content ", "more</think> normal"], "perChunk": [["", "reasoning "], ["", "content "], [" normal", "more"]]},
  {"id": "r-base-always-in-reasoning-stream", "parser": "deepseek_r1", "mode": "streaming", "chunks": ["<think>with reasoning"], "perChunk": [["", "with reasoning"]]},
  {"id": "r-deepseek-r1-no-tags", "parser": "deepseek_r1", "mode": "complete", "chunks": ["This is reasoning content"], "normal": "", "reasoning": "This is reasoning content"},
  {"id": "r-deepseek-r1-end-only", "parser": "deepseek_r1", "mode": "complete", "chunks": ["reasoning content</think>normal content"], "normal": "normal content", "reasoning": "reasoning content"},
  {"id": "r-deepseek-r1-stream", "parser": "deepseek_r1", "mode": "streaming", "chunks": ["thinking about", " the problem</think>answer"], "perChunk": [["", "thinking about"], ["answer", " the problem"]]},
  {"id": "r-qwen3-stream-enter", "parser": "qwen3", "mode": "streaming", "chunks": ["normal text ", "<think>reasoning"], "perChunk": [["normal text ", ""], ["", "reasoning"]]},
  {"id": "r-qwen3-thinking-no-tags", "parser": "qwen3_thinking", "mode": "complete", "chunks": ["This is reasoning content"], "normal": "", "reasoning": "This is reasoning content"},
  {"id": "r-glm45-stream", "parser": "glm45", "mode": "streaming", "chunks": ["normal text ", "<think>reasoning", "</think>answer"], "perChunk": [["normal text ", ""], ["", "reasoning"], ["answer", ""]]},
  {"id": "r-kimi-unicode", "parser": "kimi", "mode": "complete", "chunks": ["◁think▷reasoning content◁/think▷answer"], "normal": "answer", "reasoning": "reasoning content"},
  {"id": "r-kimi-stream", "parser": "kimi", "mode": "streaming", "chunks": ["normal ", "◁think▷thinking", "◁/think▷answer"], "perChunk": [["normal ", ""], ["", "thinking"], ["answer", ""]]},
  {"id": "r-minimax-always-in", "parser": "minimax", "mode": "complete", "chunks": ["reasoning content</think>normal content"], "normal": "normal content", "reasoning": "reasoning content"},
  {"id": "r-cohere-complete", "parser": "cohere_cmd", "mode": "complete", "chunks": ["<|START_THINKING|>Let me analyze this step by step.<|END_THINKING|>The answer is 42."], "normal": "The answer is 42.", "reasoning": "Let me analyze this step by step."},
  {"id": "r-cohere-whitespace-only", "parser": "cohere_cmd", "mode": "complete", "chunks": ["<|START_THINKING|>   \n\t  <|END_THINKING|>answer"], "normal": "answer", "reasoning": "   \n\t  "},
  {"id": "r-cohere-response-markers-pass-through", "parser": "cohere_cmd", "mode": "complete", "chunks": ["<|START_THINKING|>\nLet me analyze this step by step.\n1. First, I'll consider the question.\n2. Then, I'll formulate a response.\n<|END_THINKING|>\n<|START_RESPONSE|>The answer is 42.<|END_RESPONSE|>"], "normal": "\n<|START_RESPONSE|>The answer is 42.<|END_RESPONSE|>", "reasoning": "\nLet me analyze this step by step.\n1. First, I'll consider the question.\n2. Then, I'll formulate a response.\n"},
  {"id": "r-cohere-stream-partial-start", "parser": "cohere_cmd", "mode": "streaming", "chunks": ["<|START_", "THINKING|>reasoning"], "perChunk": [["", ""], ["", "reasoning"]]},
  {"id": "r-nano-v3-unmarked", "parser": "nano_v3", "mode": "complete", "chunks": ["This is normal content"], "normal": "This is normal content", "reasoning": ""},
  {"id": "r-inkling-typed-blocks", "parser": "inkling", "mode": "complete", "chunks": ["<|message_model|><|content_thinking|>check sources<|end_message|><|message_model|><|content_text|>Here is the answer.<|end_message|><|message_model|>search<|content_invoke_tool_json|>{\"name\":\"search\",\"args\":{\"q\":\"rust\"}}<|end_message|><|content_model_end_sampling|>"], "normal": "Here is the answer.<|content_invoke_tool_json|>{\"name\":\"search\",\"args\":{\"q\":\"rust\"}}<|end_message|>", "reasoning": "check sources"},
  {"id": "r-kimi-k3-answer-closed-as-response", "parser": "kimi_k3", "mode": "complete", "chunks": ["The answer is 42.<|close|>response<|sep|><|close|>message<|sep|>"], "started": true, "normal": "The answer is 42.", "reasoning": ""},
  {"id": "r-kimi-k3-observed-think-stray-closer", "parser": "kimi_k3", "mode": "complete", "chunks": ["<|open|>think<|sep|>deliberating<|close|>response<|sep|>"], "normal": "", "reasoning": "deliberating<|close|>response<|sep|>", "inReasoningAfter": true},
  {"id": "r-kimi-k3-stream-thinking-disabled-tools", "parser": "kimi_k3", "mode": "streaming", "chunks": ["<|close|>response", "<|sep|>", "<|open|>tools", "<|sep|>", "<|open|>call tool=\"get_weather\" index=\"1\"", "<|sep|>", "<|close|>call", "<|sep|>", "<|close|>tools", "<|sep|>"], "normal": "<|open|>tools<|sep|><|open|>call tool=\"get_weather\" index=\"1\"<|sep|><|close|>call<|sep|><|close|>tools<|sep|>", "reasoning": ""},
  {"id": "r-kimi-k3-stream-answer-closed-as-response", "parser": "kimi_k3", "mode": "streaming", "chunks": ["The answer ", "is 42.", "<|close|>res", "ponse<|sep|>", "<|close|>message<|sep|>"], "started": true, "normal": "The answer is 42.", "reasoning": "The answer is 42.", "inReasoningAfter": false},
  {"id": "r-kimi-thinking-derived", "parser": "kimi_thinking", "mode": "complete", "chunks": ["thought</think>answer"], "normal": "answer", "reasoning": "thought"},
  {"id": "r-base-prefix-before-think-becomes-reasoning", "parser": "qwen3", "mode": "complete", "chunks": ["Hello <think>abc</think>x</think>y"], "normal": "x</think>y", "reasoning": "Hello abc"},
  {"id": "r-base-stream-split-end-tag-leaks", "parser": "qwen3", "mode": "streaming", "chunks": ["<think>a", "b</th", "ink>c"], "perChunk": [["", "a"], ["", "b</th"], ["", "ink>c"]]},
];

/** Our expectation where it deliberately differs (see the header). */
const FIXED: Record<string, { normal: string; reasoning: string; inReasoningAfter?: boolean; perChunkDiffers?: true }> = {
  'r-base-prefix-before-think-becomes-reasoning': { normal: 'Hello x</think>y', reasoning: 'abc' },
  'r-base-stream-split-end-tag-leaks': { normal: 'c', reasoning: 'ab', inReasoningAfter: false, perChunkDiffers: true },
  'r-kimi-k3-answer-closed-as-response': { normal: 'The answer is 42.', reasoning: 'The answer is 42.' },
  'r-base-stream-buffer-loss-fix': { normal: '</answer', reasoning: '', perChunkDiffers: true },
};

describe('reference vectors (both modes)', () => {
  for (const v of VECTORS) {
    it(v.id, () => {
      const marks = { reasoningStarted: v.started === true };
      const fixed = FIXED[v.id];
      const normal = fixed?.normal ?? v.normal ?? v.perChunk!.map((c) => c[0]).join('');
      const reasoning = fixed?.reasoning ?? v.reasoning ?? v.perChunk!.map((c) => c[1]).join('');
      const streamed = stream(v.parser, v.chunks, marks);
      assert.equal(streamed.normal, normal);
      assert.equal(streamed.reasoning, reasoning);
      const complete = parseReasoningComplete(v.parser, v.chunks.join(''), marks);
      assert.deepEqual(complete, { normal, reasoning });
      if (v.perChunk !== undefined && fixed?.perChunkDiffers !== true) assert.deepEqual(streamed.perChunk, v.perChunk);
      const after = fixed?.inReasoningAfter ?? v.inReasoningAfter;
      if (after !== undefined) assert.equal(streamed.inReasoning, after);
    });
  }

  it('the buffer-loss vector: nothing is lost, "</" is simply not held before reasoning', () => {
    assert.deepEqual(stream('qwen3', ['</', 'answer']).perChunk, [['</', ''], ['answer', '']]);
  });

  it('inkling vector: identical totals for every 2-way split', () => {
    const text = VECTORS.find((v) => v.id === 'r-inkling-typed-blocks')!.chunks[0];
    const whole = parseReasoningComplete('inkling', text);
    for (let i = 0; i <= text.length; i++) {
      const got = stream('inkling', [text.slice(0, i), text.slice(i)]);
      assert.deepEqual({ normal: got.normal, reasoning: got.reasoning }, whole, `split at ${i}`);
    }
  });
});

describe('tag-delimited parsers', () => {
  it('hold a partial end tag that follows other text (the reference leaks "b</th")', () => {
    const got = stream('qwen3', ['<think>a', 'b</th', 'ink>c']);
    assert.deepEqual(got.perChunk, [['', 'a'], ['', 'b'], ['c', '']]);
    assert.equal(got.inReasoning, false);
  });

  it('hold a partial start tag after answer text and release it if it never completes', () => {
    const got = stream('qwen3', ['Hi <th', 'ere']);
    assert.deepEqual(got.perChunk, [['Hi ', ''], ['<there', '']]);
    assert.deepEqual(stream('qwen3', ['Hi <thi']), { normal: 'Hi <thi', reasoning: '', perChunk: [['Hi ', '']], inReasoning: false });
  });

  it('finish() releases a held partial end tag as reasoning when the output stops mid-tag', () => {
    const got = stream('deepseek_r1', ['thought</thi']);
    assert.deepEqual([got.normal, got.reasoning, got.inReasoning], ['', 'thought</thi', true]);
  });

  it('treat a start tag after the reasoning block as literal answer text, in both modes', () => {
    const text = '<think>r</think>use <think> and </think> tags';
    const expected = { normal: 'use <think> and </think> tags', reasoning: 'r' };
    assert.deepEqual(parseReasoningComplete('qwen3', text), expected);
    const got = stream('qwen3', text.split(''));
    assert.deepEqual({ normal: got.normal, reasoning: got.reasoning }, expected);
  });

  it('keep an end tag literal when no reasoning was opened', () => {
    assert.deepEqual(parseReasoningComplete('qwen3', 'a</think>b'), { normal: 'a</think>b', reasoning: '' });
  });

  it('keep everything as reasoning when the block never closes (truncated while thinking)', () => {
    assert.deepEqual(parseReasoningComplete('glm45', '<think>still going'), { normal: '', reasoning: 'still going' });
    assert.equal(stream('glm45', ['<think>still', ' going']).inReasoning, true);
  });

  it('drop the first start tag inside assumed reasoning, keep later ones, trim nothing', () => {
    assert.deepEqual(parseReasoningComplete('deepseek_r1', ' <think>\na <think> b</think>\n ans '), {
      normal: '\n ans ',
      reasoning: ' \na <think> b',
    });
  });

  it('with markThinkStartStripped the prompt held the tag: a start tag in the output is literal', () => {
    const marks = { reasoningStarted: true, thinkStartStripped: true };
    assert.deepEqual(parseReasoningComplete('qwen3', '<think>x</think>y', marks), { normal: 'y', reasoning: '<think>x' });
    assert.deepEqual(stream('qwen3', ['<thi', 'nk>x</think>y'], marks).reasoning, '<think>x');
  });

  it('markReasoningStarted puts a non-always parser inside reasoning', () => {
    assert.deepEqual(parseReasoningComplete('qwen3', 'a</think>b', { reasoningStarted: true }), { normal: 'b', reasoning: 'a' });
    assert.equal(make('qwen3', { reasoningStarted: true }).inReasoning, true);
  });

  it('report inReasoning while the block is open so tool parsing can be gated', () => {
    const p = make('qwen3');
    assert.equal(p.inReasoning, false);
    p.push('<think>x');
    assert.equal(p.inReasoning, true);
    p.push('</think>');
    assert.equal(p.inReasoning, false);
  });

  it('cohere_cmd: START/END_RESPONSE pass through to the answer, split tags are held', () => {
    const got = stream('cohere_cmd', ['<|START_THI', 'NKING|>plan<|END_', 'THINKING|><|START_RESPONSE|>ok<|END_RESPONSE|>']);
    assert.deepEqual([got.reasoning, got.normal], ['plan', '<|START_RESPONSE|>ok<|END_RESPONSE|>']);
  });

  it('kimi: unicode tags split inside a multi-code-unit sequence', () => {
    const got = stream('kimi', ['◁thi', 'nk▷r◁', '/think', '▷a']);
    assert.deepEqual([got.reasoning, got.normal], ['r', 'a']);
  });

  it('passthrough separates nothing', () => {
    assert.deepEqual(parseReasoningComplete('passthrough', '<think>a</think>b', { reasoningStarted: true }), {
      normal: '<think>a</think>b',
      reasoning: '',
    });
  });
});

describe('inkling', () => {
  const MM = '<|message_model|>';
  const EM = '<|end_message|>';
  it('drops header metadata and suppresses text-mode tool invocations', () => {
    const text = `${MM}<|content_thinking|>think${EM}${MM}lookup<|content_invoke_tool_text|>search the web${EM}${MM}<|content_text|>Answer${EM}`;
    assert.deepEqual(parseReasoningComplete('inkling', text), { normal: 'Answer', reasoning: 'think' });
  });

  it('keeps a JSON tool block verbatim, control tokens inside included, until its end token', () => {
    const text = `${MM}f<|content_invoke_tool_json|>{"name":"f","args":{"x":"<|audio_end|>"}}<|content_model_end_sampling|>tail`;
    assert.deepEqual(parseReasoningComplete('inkling', text), {
      normal: '<|content_invoke_tool_json|>{"name":"f","args":{"x":"<|audio_end|>"}}<|content_model_end_sampling|>tail',
      reasoning: '',
    });
  });

  it('holds a partial control token and releases it at finish() (the reference never does)', () => {
    const got = stream('inkling', ['<|content_text|>a <', '|content_te']);
    assert.deepEqual(got.perChunk, [['a ', ''], ['', '']]);
    assert.equal(got.normal, 'a <|content_te');
  });

  it('markReasoningStarted opens a reasoning block; < that cannot start a token is text', () => {
    const got = stream('inkling', ['a < b <= c', `${EM}${MM}<|content_text|>x`], { reasoningStarted: true });
    assert.deepEqual([got.reasoning, got.normal, got.inReasoning], ['a < b <= c', 'x', false]);
  });
});

describe('kimi_k3', () => {
  const O = (n: string) => `<|open|>${n}<|sep|>`;
  const C = (n: string) => `<|close|>${n}<|sep|>`;
  it('a full turn: think, response wrapper removed, tools channel kept verbatim', () => {
    const text = `${O('think')}step${C('think')}${O('response')}answer${C('response')}${O('tools')}${O('call tool="f" index="1"')}x${C('call')}${C('tools')}${C('message')}`;
    assert.deepEqual(parseReasoningComplete('kimi_k3', text), {
      reasoning: 'step',
      normal: `answer${O('tools')}${O('call tool="f" index="1"')}x${C('call')}${C('tools')}`,
    });
  });

  it('a tools or response opener ends an assumed think channel', () => {
    assert.deepEqual(parseReasoningComplete('kimi_k3', `let me check${O('tools')}CALLS`, { reasoningStarted: true }), {
      reasoning: 'let me check',
      normal: `${O('tools')}CALLS`,
    });
    assert.deepEqual(parseReasoningComplete('kimi_k3', `thought${O('response')}answer${C('response')}`, { reasoningStarted: true }), {
      reasoning: 'thought',
      normal: 'answer',
    });
  });

  it('tolerates whitespace inside markers and treats other channel names as text', () => {
    const text = `<|open|> think\n<|sep|>r<|close|>\tthink <|sep|>${O('thinker')}a`;
    assert.deepEqual(parseReasoningComplete('kimi_k3', text), { reasoning: 'r', normal: `${O('thinker')}a` });
  });

  it('a marker with an absurd whitespace run is text, whatever the chunking', () => {
    const text = `<|open|>${' '.repeat(100)}think<|sep|>x`;
    assert.deepEqual(parseReasoningComplete('kimi_k3', text), { normal: text, reasoning: '' });
    assert.equal(stream('kimi_k3', text.split('')).normal, text);
  });

  it('drops a stray think closer in the answer instead of leaking it', () => {
    assert.deepEqual(parseReasoningComplete('kimi_k3', `plan${C('think')}answer`), { normal: 'plananswer', reasoning: '' });
  });

  it('releases a held partial marker at finish()', () => {
    const got = stream('kimi_k3', ['answer <|clo', 'se|>respo']);
    assert.deepEqual([got.perChunk[0], got.normal], [['answer ', ''], 'answer <|close|>respo']);
  });

  it('recovery memory is capped at 4 MiB: past it, the think channel is genuine reasoning', () => {
    const long = 'r'.repeat(MAX_PENDING_CHARS + 1);
    const got = stream('kimi_k3', [long, C('response')], { reasoningStarted: true });
    assert.equal(got.normal, '');
    assert.equal(got.reasoning.length, long.length + C('response').length);
  });
});

const TAG_SETS: Record<string, readonly [string, string]> = {
  kimi: ['◁think▷', '◁/think▷'],
  cohere_cmd: ['<|START_THINKING|>', '<|END_THINKING|>'],
};

function taggedCorpus(name: string): string[] {
  const [s, e] = TAG_SETS[name] ?? ['<think>', '</think>'];
  return [
    `${s}reasoning step 1\nstep 2${e}The answer is 42.`,
    `prefix ${s}a<b c</d ${s.slice(0, 3)}${e} after ${s}literal${e} end`,
    `${s}${s}nested${e}${e} tail`,
    `no tags at all <thin k> </thi ${e.slice(0, -1)}`,
    `${s}unterminated reasoning < </ ${e.slice(0, 2)}`,
    `${e}stray end then ${s}x${e}y`,
    `${s}思考 🤔 "quoted \\" escaped" {"a":[1,{"b":null}]}${e}答案 ✓`,
    `text ${s.slice(0, 3)}`,
    `<<${s}<<${e}>>${s}`,
    `<|START_RESPONSE|>${s}p${e}<|START_RESPONSE|>ok<|END_RESPONSE|>`,
  ];
}

const O3 = (n: string) => `<|open|>${n}<|sep|>`;
const C3 = (n: string) => `<|close|>${n}<|sep|>`;

const CORPUS: Record<string, string[]> = {
  inkling: [
    '<|message_model|><|content_thinking|>check sources<|end_message|><|message_model|><|content_text|>Here is the answer.<|end_message|><|message_model|>search<|content_invoke_tool_json|>{"name":"search","args":{"q":"rust"}}<|end_message|><|content_model_end_sampling|>',
    'plain < text <| not a token |> <|content_text|>x <|unknown|> y<|end_message|><|message_model|>h<|content_invoke_tool_text|>drop<|end_message|>z <|mess',
    '<|content_thinking|>多 🤔<|content_model_end_sampling|><|content_invoke_tool_json|>{"a":"<|end_message"}<|end_message|>after<|audio_end|>!',
  ],
  kimi_k3: [
    `${O3('think')}step ${'<'}x${C3('think')}${O3('response')}answer${C3('response')}${O3('tools')}${O3('call tool="f" index="1"')}{"a":1}${C3('call')}${C3('tools')}${C3('message')}`,
    `The answer is 42.${C3('response')}${C3('message')}`,
    `${O3('think')}deliberating${C3('response')} more <|open|> think <|sep|> x`,
    `${C3('response')}${O3('tools')}${O3('call tool="get_weather" index="1"')}${C3('call')}${C3('tools')}`,
    `thought${O3('tools')}CALLS${C3('tools')}<|open|>message role="assistant"<|sep|> <|clo`,
    `a <|open|>\n\tresponse \n<|sep|>b${C3('think')}c <|open|>${' '.repeat(70)}think<|sep|>d`,
  ],
};

describe('agreement: streamed concatenation equals the complete parse for random chunkings', () => {
  const markSets: Marks[] = [{}, { reasoningStarted: true }, { reasoningStarted: true, thinkStartStripped: true }];
  for (const name of REASONING_PARSER_NAMES) {
    it(name, () => {
      const corpus = CORPUS[name] ?? taggedCorpus(name);
      for (const text of corpus) for (const marks of markSets) assertAgreement(name, text, marks, 30);
    });
  }

  it('every reference vector input, for every parser', () => {
    for (const name of REASONING_PARSER_NAMES) for (const v of VECTORS) assertAgreement(name, v.chunks.join(''), {}, 5);
  });
});

describe('robustness and cost', () => {
  it('never throws on random marker soup, in any parser', () => {
    const alphabet = ['<', '|', '>', '/', 'think', 'open', 'close', 'sep', 'message_model', 'content_', 'end_message', '◁', '▷', 'START_THINKING', ' ', 'x', '\n'];
    const rnd = mulberry32(99);
    for (let n = 0; n < 60; n++) {
      let text = '';
      for (let k = 0; k < 40; k++) text += alphabet[Math.floor(rnd() * alphabet.length)];
      for (const name of REASONING_PARSER_NAMES) assertAgreement(name, text, { reasoningStarted: n % 2 === 0 }, 2);
    }
  });

  it('streams 200k characters one or two at a time in linear time', () => {
    const body = 'token <b>&lt; </i|> '.repeat(10_000);
    const cases: [string, string][] = [
      ['qwen3', `<think>${body}</think>${body}`],
      ['cohere_cmd', `<|START_THINKING|>${body}<|END_THINKING|>${body}`],
      ['inkling', `<|content_thinking|>${body}<|end_message|><|content_text|>${body}`],
      ['kimi_k3', `${O3('think')}${body}${C3('think')}${O3('response')}${body}`],
    ];
    for (const [name, text] of cases) {
      const chunks: string[] = [];
      for (let i = 0; i < text.length; i += 2) chunks.push(text.slice(i, i + 2));
      const started = performance.now();
      const got = stream(name, chunks);
      const ms = performance.now() - started;
      assert.equal(got.reasoning, body, name);
      assert.equal(got.normal, body, name);
      assert.ok(ms < 3000, `${name} took ${ms.toFixed(0)} ms`);
    }
  });

  it('complete mode handles a single text larger than 4 MiB without error', () => {
    const big = 'x'.repeat(MAX_PENDING_CHARS + 10);
    assert.equal(parseReasoningComplete('deepseek_r1', `${big}</think>y`).reasoning.length, big.length);
  });
});
