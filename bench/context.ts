import type { Profiler } from 'node:inspector';
import type { Tokenizer } from '../native/tokenizer.js';
import type { PromptFactory } from './prompts.js';

/** What every scenario gets from the runner. */
export interface BenchContext {
  prompts: PromptFactory;
  /** The bench model's (Qwen3) tokenizer and EOS ids. */
  tokenizer: Tokenizer;
  eosTokenIds: readonly number[];
  log(message: string): void;
  /** Set by --profile: an extra, unreported run with the router thread under the CPU profiler. */
  profile?: {
    concurrency: number;
    durationMs: number;
    save(name: string, profile: Profiler.Profile): Promise<void>;
  };
}
