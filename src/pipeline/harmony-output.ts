import type { Tokenizer } from '../../native/tokenizer.js';
import { HARMONY_TOKEN_IDS, HarmonyStreamParser, parseAllWith, type HarmonyDelta, type HarmonyTokenText } from '../parsers/harmony/parser.js';
import { createDetokenizer } from '../tokenizer/detokenizer.js';
import type { ChoiceOutputParser, ParsedDelta, ParsedMessage } from './choice-parsing.js';

/** The engine's `stop_tokens_for_assistant_actions`: a Harmony turn ends at `<|return|>` or `<|call|>`. */
export const HARMONY_STOP_IDS: readonly number[] = [HARMONY_TOKEN_IDS.return, HARMONY_TOKEN_IDS.call];

const SPECIALS: readonly [string, number][] = [
  ['<|return|>', HARMONY_TOKEN_IDS.return],
  ['<|constrain|>', HARMONY_TOKEN_IDS.constrain],
  ['<|channel|>', HARMONY_TOKEN_IDS.channel],
  ['<|start|>', HARMONY_TOKEN_IDS.start],
  ['<|end|>', HARMONY_TOKEN_IDS.end],
  ['<|message|>', HARMONY_TOKEN_IDS.message],
  ['<|call|>', HARMONY_TOKEN_IDS.call],
];

/** Why a tokenizer cannot serve Harmony (its markers are not the o200k_harmony ids), or null. */
export function harmonyTokenizerMismatch(tok: Tokenizer): string | null {
  for (const [token, id] of SPECIALS) {
    const actual = tok.tokenToId(token);
    if (actual !== id) return `${token} is ${actual === undefined ? 'missing' : `id ${actual}`}, Harmony needs id ${id}`;
  }
  return null;
}

/** Message text of Harmony output: the router's exact incremental detokenizer, special tokens skipped. */
export function harmonyTokenText(tok: Tokenizer): HarmonyTokenText {
  return { createDecoder: () => createDetokenizer(tok, { skipSpecialTokens: true }) };
}

/** One choice's Harmony output, streamed from token ids; `maxCalls` drops calls past the limit. */
export class HarmonyChoiceParsing implements ChoiceOutputParser {
  private readonly parser: HarmonyStreamParser;

  constructor(
    text: HarmonyTokenText,
    private readonly maxCalls: number | undefined,
  ) {
    this.parser = new HarmonyStreamParser(text);
  }

  get sawToolCalls(): boolean {
    return this.parser.hasToolCalls;
  }

  get reasoningTokens(): number {
    return this.parser.reasoningTokens;
  }

  push(_text: string, ids: readonly number[] | undefined): ParsedDelta {
    return this.limit(ids === undefined ? this.parser.push([]) : this.parser.push(ids));
  }

  finish(): ParsedDelta {
    return this.limit(this.parser.finish());
  }

  private limit(d: HarmonyDelta): ParsedDelta {
    const max = this.maxCalls;
    if (max !== undefined && d.calls.some((c) => c.index >= max)) d.calls = d.calls.filter((c) => c.index < max);
    return d;
  }
}

/** Complete-mode parse of one choice's ids: the streaming machine fed everything at once. */
export function parseHarmonyChoice(text: HarmonyTokenText, ids: readonly number[], maxCalls: number | undefined): ParsedMessage & { reasoningTokens: number } {
  const parser = new HarmonyStreamParser(text);
  const r = parseAllWith(parser, ids);
  const calls = maxCalls === undefined ? r.calls : r.calls.slice(0, maxCalls);
  return { content: r.content, reasoning: r.reasoning, calls, reasoningTokens: parser.reasoningTokens };
}
