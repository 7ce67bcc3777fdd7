/**
 * Types of the HTTP boundary: what clients send (the `*Body` types, as loose as the OpenAI and SGLang
 * APIs allow) and what `validate.ts` hands to the pipeline (the `*Request` types: checked, normalised,
 * plain data). Sampling fields stay optional after validation on purpose: "the user omitted it" is what
 * lets a model's default sampling parameters apply.
 */

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

export type MessageRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool' | 'function';

export interface TextPart {
  type: 'text';
  text: string;
}
export interface RefusalPart {
  type: 'refusal';
  refusal: string;
}
export interface ImageUrlPart {
  type: 'image_url';
  image_url: { url: string; detail?: 'auto' | 'low' | 'high' };
}
export interface VideoUrlPart {
  type: 'video_url';
  video_url: { url: string };
}
export interface InputAudioPart {
  type: 'input_audio';
  input_audio: { data: string; format: string };
}
export type UserContentPart = TextPart | ImageUrlPart | VideoUrlPart | InputAudioPart;

export interface FunctionCallData {
  name: string;
  /** A JSON document as a string, exactly as OpenAI sends it. */
  arguments: string;
}
export interface ToolCall {
  id: string;
  type: 'function';
  function: FunctionCallData;
}

export interface SystemMessage {
  role: 'system' | 'developer';
  content: string | TextPart[];
  name?: string;
}
export interface UserMessage {
  role: 'user';
  content: string | UserContentPart[];
  name?: string;
}
export interface AssistantMessage {
  role: 'assistant';
  content: string | Array<TextPart | RefusalPart> | null;
  name?: string;
  tool_calls?: ToolCall[];
  /** SGLang extension: earlier reasoning, for templates that replay it. */
  reasoning_content?: string;
}
export interface ToolMessage {
  role: 'tool';
  content: string | TextPart[];
  tool_call_id: string;
  name?: string;
}
/** The legacy `functions` API's answer message. */
export interface FunctionMessage {
  role: 'function';
  content: string | null;
  name: string;
}
export type ChatMessage = SystemMessage | UserMessage | AssistantMessage | ToolMessage | FunctionMessage;

// ---------------------------------------------------------------------------------------------
// Tools and structured output
// ---------------------------------------------------------------------------------------------

export type JsonObject = { [key: string]: unknown };

export interface FunctionDefinition {
  name: string;
  description?: string;
  /** JSON Schema of the arguments object. */
  parameters?: JsonObject;
  strict?: boolean;
}
export interface Tool {
  type: 'function';
  function: FunctionDefinition;
}
export interface NamedToolChoice {
  type: 'function';
  function: { name: string };
}
export interface AllowedToolsChoice {
  type: 'allowed_tools';
  allowed_tools: { mode: 'auto' | 'required'; tools: NamedToolChoice[] };
}
export type ToolChoice = 'none' | 'auto' | 'required' | NamedToolChoice | AllowedToolsChoice;

export interface JsonSchemaFormat {
  name: string;
  description?: string;
  schema: JsonObject;
  strict?: boolean;
}
export type ResponseFormat = { type: 'text' } | { type: 'json_object' } | { type: 'json_schema'; json_schema: JsonSchemaFormat };

export interface StreamOptions {
  include_usage?: boolean;
  continuous_usage_stats?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Validated requests
// ---------------------------------------------------------------------------------------------

/** Sampling knobs shared by chat and completions; `undefined` means the client did not send it. */
export interface SamplingFields {
  temperature?: number;
  top_p?: number;
  top_k?: number;
  min_p?: number;
  repetition_penalty?: number;
  frequency_penalty?: number;
  presence_penalty?: number;
}

/** A validated, normalised `/v1/chat/completions` request. */
export interface ChatRequest extends SamplingFields {
  /** Absent when the client left it out: a single-model router serves it anyway. */
  model?: string;
  messages: ChatMessage[];
  /** `max_tokens` is folded into this field; `max_completion_tokens` wins when both are sent. */
  max_completion_tokens?: number;
  min_tokens?: number;
  n: number;
  /** A single stop string becomes a one-element list; `[]` when absent. */
  stop: string[];
  stop_token_ids: number[];
  stream: boolean;
  stream_options?: StreamOptions;
  logprobs: boolean;
  top_logprobs?: number;
  /** Legacy `functions` become `tools`; `tool_choice` defaults to auto (none for an empty list) when tools are present. */
  tools?: Tool[];
  tool_choice?: ToolChoice;
  parallel_tool_calls?: boolean;
  response_format?: ResponseFormat;
  regex?: string;
  ebnf?: string;
  ignore_eos: boolean;
  no_stop_trim: boolean;
  skip_special_tokens: boolean;
  separate_reasoning: boolean;
  stream_reasoning: boolean;
  continue_final_message: boolean;
  chat_template_kwargs?: JsonObject;
  reasoning_effort?: string;
  /** Client-chosen backend request id, used verbatim. */
  rid?: string;
  user?: string;
}

/** The four prompt shapes of the legacy completions API. */
export type CompletionPrompt = string | string[] | number[] | number[][];

/** A validated `/v1/completions` request. */
export interface CompletionRequest extends SamplingFields {
  model?: string;
  prompt: CompletionPrompt;
  suffix?: string;
  echo: boolean;
  max_tokens?: number;
  min_tokens?: number;
  n: number;
  stop: string[];
  stop_token_ids: number[];
  stream: boolean;
  stream_options?: StreamOptions;
  /** Number of top alternatives per token; presence alone asks for logprobs. */
  logprobs?: number;
  /** Serialised JSON schema (SGLang extension). */
  json_schema?: string;
  regex?: string;
  ebnf?: string;
  ignore_eos: boolean;
  no_stop_trim: boolean;
  skip_special_tokens: boolean;
  rid?: string;
  user?: string;
}

/** SGLang `sampling_params` of `/generate`, validated; `stop` is always a list. */
export interface NativeSamplingParams extends SamplingFields {
  max_new_tokens?: number;
  min_new_tokens?: number;
  n?: number;
  stop: string[];
  stop_token_ids: number[];
  ignore_eos?: boolean;
  no_stop_trim?: boolean;
  skip_special_tokens?: boolean;
  spaces_between_special_tokens?: boolean;
  json_schema?: string;
  regex?: string;
  ebnf?: string;
  structural_tag?: string;
}

/** A validated SGLang native `/generate` request: exactly one of `text` / `input_ids`, single or batch. */
export interface GenerateNativeRequest {
  model?: string;
  text?: string | string[];
  input_ids?: number[] | number[][];
  sampling_params: NativeSamplingParams;
  stream: boolean;
  return_logprob: boolean;
  /** -1 (the default) asks for no prompt logprobs. */
  logprob_start_len: number;
  top_logprobs_num: number;
  token_ids_logprob: number[];
  /** One id, or one per prompt of a batch. */
  rid?: string | string[];
  /** Ask the worker to count reasoning tokens (SMG proto field 18). */
  require_reasoning: boolean;
}

export interface TokenizeRequest {
  model?: string;
  prompt: string | string[];
  add_special_tokens: boolean;
}

export interface DetokenizeRequest {
  model?: string;
  tokens: number[];
  skip_special_tokens: boolean;
}

// ---------------------------------------------------------------------------------------------
// Request bodies as clients send them (before validation)
// ---------------------------------------------------------------------------------------------

type Loose<T> = { [K in keyof T]?: T[K] | null };

export type ChatCompletionBody = Loose<Omit<ChatRequest, 'messages' | 'stop'>> & {
  messages: ChatMessage[];
  stop?: string | string[] | null;
  max_tokens?: number | null;
  functions?: FunctionDefinition[] | null;
  function_call?: 'none' | 'auto' | { name: string } | null;
  modalities?: string[] | null;
  [extra: string]: unknown;
};

export type CompletionBody = Loose<Omit<CompletionRequest, 'prompt' | 'stop'>> & {
  prompt: CompletionPrompt;
  stop?: string | string[] | null;
  best_of?: number | null;
  [extra: string]: unknown;
};

export type GenerateNativeBody = Loose<Omit<GenerateNativeRequest, 'sampling_params'>> & {
  sampling_params?: Loose<Omit<NativeSamplingParams, 'stop'>> & { stop?: string | string[] | null };
  [extra: string]: unknown;
};

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'abort';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number } | null;
  completion_tokens_details?: { reasoning_tokens: number } | null;
}

export interface TopLogprob {
  token: string;
  logprob: number;
  bytes: number[] | null;
}
export interface ChatTokenLogprob extends TopLogprob {
  top_logprobs: TopLogprob[];
}
export interface ChatLogprobs {
  content: ChatTokenLogprob[] | null;
}

export interface ChatResponseMessage {
  role: 'assistant';
  content: string | null;
  reasoning_content?: string | null;
  tool_calls?: ToolCall[];
}
export interface ChatChoice {
  index: number;
  message: ChatResponseMessage;
  logprobs: ChatLogprobs | null;
  finish_reason: FinishReason | null;
  /** SGLang extension: the stop string, or the stop token id, that ended the choice. */
  matched_stop?: string | number | null;
}
export interface ChatCompletionResponse {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  system_fingerprint?: string;
  choices: ChatChoice[];
  usage?: Usage;
}

export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string | null };
}
export interface ChatDelta {
  role?: 'assistant';
  content?: string | null;
  reasoning_content?: string | null;
  tool_calls?: ToolCallDelta[];
}
export interface ChatChunkChoice {
  index: number;
  delta: ChatDelta;
  logprobs?: ChatLogprobs | null;
  finish_reason: FinishReason | null;
  matched_stop?: string | number | null;
}
export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  system_fingerprint?: string;
  choices: ChatChunkChoice[];
  /** Only on the final chunk, and only with `stream_options.include_usage`. */
  usage?: Usage | null;
}

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: Array<number | null>;
  top_logprobs: Array<Record<string, number> | null>;
  text_offset: number[];
}
export interface CompletionChoice {
  index: number;
  text: string;
  logprobs: CompletionLogprobs | null;
  finish_reason: FinishReason | null;
  matched_stop?: string | number | null;
}
/** Both the JSON answer and each SSE chunk of `/v1/completions` (OpenAI uses one object type for both). */
export interface CompletionResponse {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  system_fingerprint?: string;
  choices: CompletionChoice[];
  usage?: Usage | null;
}

export interface GenerateNativeMetaInfo {
  id: string;
  finish_reason: { type: 'stop' | 'length' | 'abort'; matched?: string | number } | null;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  e2e_latency?: number;
  /** `[logprob, token_id, token_text | null]` per prompt token from logprob_start_len; the first prompt token's logprob is null. */
  input_token_logprobs?: Array<[number | null, number, string | null]>;
  /** `[logprob, token_id, token_text | null]` per output token. */
  output_token_logprobs?: Array<[number, number, string | null]>;
}
/** One `/generate` result; a batch (or n > 1) answers with an array of these, each with `index`. */
export interface GenerateNativeResponse {
  text: string;
  meta_info: GenerateNativeMetaInfo;
  index?: number;
}

export interface TokenizeResponse {
  tokens: number[] | number[][];
  count: number | number[];
  char_count: number | number[];
  max_model_len?: number;
}
export interface DetokenizeResponse {
  text: string;
}
