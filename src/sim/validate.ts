import { SamplingParams, type GenerateRequest } from '../gen/sglang/grpc/scheduler/sglang_scheduler.js';

const ZERO_PARAMS = SamplingParams.fromPartial({});

/**
 * The checks an SGLang gRPC worker makes before scheduling, with its messages. Proto3 zero
 * defaults are judged as SGLang would judge them (an unset `sampling_params` is all zeros, so
 * top_p = 0 fails): a router that forgets a field finds out here rather than in production.
 * Returns the INVALID_ARGUMENT message, or null when the request is acceptable.
 */
export function validateGenerate(req: GenerateRequest, maxContextLength: number): string | null {
  const ids = req.tokenized?.inputIds;
  if (!req.tokenized) return 'tokenized input is required (the router must send input_ids)';
  if (!ids || ids.length === 0) return 'tokenized.input_ids is empty';
  if (ids.length >= maxContextLength) {
    return `The input (${ids.length} tokens) is longer than the model's context length (${maxContextLength} tokens).`;
  }
  const p = req.samplingParams ?? ZERO_PARAMS;
  if (p.stop.length > 0) {
    return `stop=${JSON.stringify(p.stop)} is unavailable when skip_tokenizer_init=True (requires tokenizer to decode tokens to text for matching); send single-token stops as stop_token_ids`;
  }
  if (!Number.isFinite(p.temperature) || p.temperature < 0) return `temperature must be a non-negative finite number, got ${p.temperature}.`;
  if (!(p.topP > 0 && p.topP <= 1)) return `top_p must be in (0, 1], got ${p.topP}.`;
  if (!(p.minP >= 0 && p.minP <= 1)) return `min_p must be in [0, 1], got ${p.minP}.`;
  if (p.topK < 1 && p.topK !== -1) return `top_k must be -1 (disable) or at least 1, got ${p.topK}.`;
  if (!(p.frequencyPenalty >= -2 && p.frequencyPenalty <= 2)) return `frequency_penalty must be in [-2, 2], got ${p.frequencyPenalty}.`;
  if (!(p.presencePenalty >= -2 && p.presencePenalty <= 2)) return `presence_penalty must be in [-2, 2], got ${p.presencePenalty}.`;
  if (!(p.repetitionPenalty > 0 && p.repetitionPenalty <= 2)) {
    return `repetition_penalty must be in (0, 2] (1.0 = no penalty), got ${p.repetitionPenalty}.`;
  }
  if (p.n < 1) return `n must be at least 1, got ${p.n}.`;
  if (p.maxNewTokens !== undefined) {
    if (p.minNewTokens > p.maxNewTokens) return `min_new_tokens must be in [0, max_new_tokens(${p.maxNewTokens})], got ${p.minNewTokens}.`;
    if (p.maxNewTokens + ids.length >= maxContextLength) {
      return (
        `Requested token count exceeds the model's maximum context length of ${maxContextLength} tokens. ` +
        `You requested a total of ${p.maxNewTokens + ids.length} tokens: ${ids.length} tokens from the input messages and ` +
        `${p.maxNewTokens} tokens for the completion. Please reduce the number of tokens in the input messages or the completion to fit within the limit.`
      );
    }
  }
  return null;
}

/**
 * A disaggregated worker (prefill or decode role) cannot run a request without the KV bootstrap
 * rendezvous: where the prefill side serves the KV, and the room both legs meet in.
 */
export function validateDisaggregation(req: GenerateRequest, mode: 'prefill' | 'decode'): string | null {
  const d = req.disaggregatedParams;
  if (!d || d.bootstrapHost === '') return `disaggregated_params (bootstrap_host, bootstrap_port, bootstrap_room) are required by a ${mode} worker`;
  if (d.bootstrapPort < 1 || d.bootstrapPort > 65535) return `disaggregated_params.bootstrap_port ${d.bootstrapPort} is outside 1..65535`;
  if (d.bootstrapRoom < 0) return `disaggregated_params.bootstrap_room must not be negative, got ${d.bootstrapRoom}`;
  return null;
}
