import type { Tokenizer } from '../native/tokenizer.js';
import { loadModelAssets } from '../src/tokenizer/assets.js';
import { ChatTemplate } from '../src/tokenizer/chat-template.js';
import { mulberry32 } from './rng.js';

export interface ChatMessage {
  role: 'user';
  content: string;
}

/** One benchmark prompt: the chat messages a client sends, and the ids the router's template + tokenizer turn them into. */
export interface Prompt {
  messages: ChatMessage[];
  /** The rendered chat template. */
  text: string;
  ids: number[];
}

// Short function words first, so the text has about the characters per token of English prose.
export const WORDS = `the of and to in is that it for on was with as at by from or an be this not but are have had were
which one all can there we they their will up out if about into than then them these so some her his him would more when
what who its now how do each she may like over our only also any new very after just most other such where through back
time year people way day man thing woman life child world school state family student group country problem
hand part place case week company system program question work government number night point home water room mother area money
story fact month lot right study book eye job word business issue side kind head house service friend father power hour game line
end member law car city community name president team minute idea kid body information back parent face others level office door
health person art war history party result change morning reason research girl guy moment air teacher force education foot boy age
policy music market sense nation plan college interest death experience effect class control care field development role effort rate
heart drug show leader light voice wife police mind price report decision son view relationship town road arm difference value building
action model season society tax director position player record paper space ground form event official matter center couple site project
activity star table need court oil situation cost industry figure street image phone data picture practice piece land product doctor wall
patient worker news test movie north love support technology step baby computer type attention film tree source organization hair window
evidence population truth song ball bank machine train signal track engine router token stream queue cache river garden summer`
  .split(/\s+/)
  .filter((w) => w !== '');

const SENTINEL = 'QQBENCHSENTINELQQ';

/**
 * Deterministic chat prompts of an exact token count, distinct per index. The user message is a
 * seeded sequence of words that are each one Qwen3 token after a space; the pre-tokenizer splits
 * " word" pieces apart, so the ids are the template's ids around the concatenated word ids and
 * no tokenizer call is needed per prompt (checked against the real encode by `verify`).
 */
export class PromptFactory {
  private constructor(
    private readonly tokenizer: Tokenizer,
    private readonly template: ChatTemplate,
    private readonly head: { text: string; ids: number[] },
    private readonly tail: { text: string; ids: number[] },
    private readonly words: readonly string[],
    private readonly spacedIds: readonly number[],
    private readonly firstIds: readonly (readonly number[])[],
    private readonly seed: number,
  ) {}

  static async create(tokenizer: Tokenizer, modelDir: string, seed = 20240611): Promise<PromptFactory> {
    const assets = await loadModelAssets(modelDir);
    if (assets.chatTemplate === undefined) throw new Error(`${modelDir} has no chat template`);
    const template = new ChatTemplate(assets.chatTemplate, assets.specialTokens);
    const rendered = template.render({ messages: [{ role: 'user', content: SENTINEL }], addGenerationPrompt: true });
    const at = rendered.indexOf(SENTINEL);
    if (at < 0) throw new Error('the chat template does not echo the user message');
    const headText = rendered.slice(0, at);
    const tailText = rendered.slice(at + SENTINEL.length);
    const words: string[] = [];
    const spacedIds: number[] = [];
    const firstIds: number[][] = [];
    for (const w of WORDS) {
      const spaced = await tokenizer.encode(` ${w}`, false);
      if (spaced.length !== 1 || words.includes(w)) continue;
      words.push(w);
      spacedIds.push(spaced[0]!);
      firstIds.push(Array.from(await tokenizer.encode(w, false)));
    }
    if (words.length < 64) throw new Error(`only ${words.length} single-token words for this tokenizer`);
    return new PromptFactory(
      tokenizer,
      template,
      { text: headText, ids: Array.from(await tokenizer.encode(headText, false)) },
      { text: tailText, ids: Array.from(await tokenizer.encode(tailText, false)) },
      words,
      spacedIds,
      firstIds,
      seed,
    );
  }

  /** The prompt of request `index`, exactly `tokens` ids long (the template's own tokens included). */
  make(index: number, tokens: number): Prompt {
    const rand = mulberry32(this.seed ^ Math.imul(index + 1, 0x9e3779b9));
    const pick = () => Math.floor(rand() * this.words.length);
    const ids: number[] = this.head.ids.slice();
    const first = pick();
    const parts: string[] = [this.words[first]!];
    for (const id of this.firstIds[first]!) ids.push(id);
    const bodyEnd = tokens - this.tail.ids.length;
    if (ids.length > bodyEnd) throw new Error(`${tokens} tokens cannot hold the chat template`);
    while (ids.length < bodyEnd) {
      const w = pick();
      parts.push(this.words[w]!);
      ids.push(this.spacedIds[w]!);
    }
    for (const id of this.tail.ids) ids.push(id);
    const content = parts.join(' ');
    return { messages: [{ role: 'user', content }], text: this.head.text + content + this.tail.text, ids };
  }

  /** Throws unless the template renders `p.text` from its messages and the tokenizer encodes it to `p.ids`. */
  async verify(p: Prompt): Promise<void> {
    const text = this.template.render({ messages: p.messages.map((m) => ({ ...m })), addGenerationPrompt: true });
    if (text !== p.text) throw new Error('prompt text differs from the chat template rendering');
    const ids = await this.tokenizer.encode(text, false);
    if (ids.length !== p.ids.length || ids.some((id, i) => id !== p.ids[i])) {
      throw new Error(`assembled prompt ids differ from the tokenizer's (${p.ids.length} vs ${ids.length} ids)`);
    }
  }
}
