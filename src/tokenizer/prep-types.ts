import type { CacheHit, TokenizerCacheSettings } from './encode-cache.js';

/** Messages between the event loop and the prep pool (structured-clone safe plain data). */
export interface ModelRef {
  dir: string;
  chatTemplatePath?: string;
  backend: 'native' | 'js';
  /** GPT-OSS: chat prompts are rendered in the Harmony format, not by a chat template. */
  harmony?: boolean;
  /** Tokenizer caches of each prep thread; absent = both off. */
  cache?: TokenizerCacheSettings;
}

export interface ChatPrepTask {
  op: 'chat';
  model: ModelRef;
  messages: unknown[];
  tools?: unknown[];
  addGenerationPrompt: boolean;
  continueFinalMessage: boolean;
  kwargs?: Record<string, unknown>;
}

export interface EncodePrepTask {
  op: 'encode';
  model: ModelRef;
  texts: string[];
  addSpecialTokens: boolean;
}

export type PrepTask = ChatPrepTask | EncodePrepTask;

export interface PrepFailure {
  ok: false;
  error: { status: number; message: string; code: string | null; param: string | null };
}

/** `cacheHit` says which tokenizer cache level answered, when one did, and `cachedTokens` how many leading ids it gave. */
export type ChatPrepResult = { ok: true; text: string; ids: Uint32Array; cacheHit?: CacheHit; cachedTokens?: number } | PrepFailure;
export type EncodePrepResult = { ok: true; ids: Uint32Array[] } | PrepFailure;
