import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadTokenizer, type Tokenizer } from '../../native/tokenizer.js';
import { renderHarmonyPrompt } from '../../src/parsers/harmony/encoder.js';
import { loadModelAssets } from '../../src/tokenizer/assets.js';
import { bundledTokenizerDir, type BundledModel } from '../../src/tokenizer/bundled.js';
import { ChatTemplate } from '../../src/tokenizer/chat-template.js';
import { CachingEncoder, type CacheHit } from '../../src/tokenizer/encode-cache.js';
import { normalizeMessages } from '../../src/tokenizer/messages.js';
import { mulberry32 } from '../../bench/rng.js';

const MODELS: BundledModel[] = ['qwen3', 'deepseek_v3', 'llama3_1', 'gptoss', 'gemma3'];

const WORDS = ['hello', ' world', 'Ünïcödé', '日本語のテキスト', ' 😀🚀', '  ', '\n\n', '\t', '   \n  ', 'x=1;', '<', '<|', '|>', '<｜', 'don\'t', '1234567', ' ', '\r\n'];

function phrase(r: () => number, specials: readonly string[], n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const x = r();
    if (x < 0.12 && specials.length > 0) s += specials[Math.floor(r() * specials.length)]!;
    else if (x < 0.16 && specials.length > 0) s += specials[Math.floor(r() * specials.length)]!.slice(0, -1); // a token cut short
    else s += WORDS[Math.floor(r() * WORDS.length)]!;
  }
  return s;
}

interface Fixture {
  tokenizer: Tokenizer;
  specials: string[];
  render(messages: { role: string; content: string }[]): string;
}

async function fixture(name: BundledModel): Promise<Fixture> {
  const assets = await loadModelAssets(bundledTokenizerDir(name));
  const tokenizer = await loadTokenizer(assets.tokenizerJsonPath, 'native');
  const specials = tokenizer.tokenizerJson.addedTokens.filter((t) => t.special).map((t) => t.content).slice(0, 40);
  if (name === 'gptoss') return { tokenizer, specials, render: (messages) => renderHarmonyPrompt({ messages }) };
  const template = new ChatTemplate(assets.chatTemplate!, assets.specialTokens);
  const render = (messages: { role: string; content: string }[]) =>
    template.render({ messages: normalizeMessages(messages, template.contentFormat), addGenerationPrompt: true, continueFinalMessage: false });
  return { tokenizer, specials, render };
}

/** Encodes through the cache and checks the ids against the bare tokenizer; returns which level answered. */
async function same(enc: CachingEncoder, tok: Tokenizer, text: string, add: boolean): Promise<CacheHit | undefined> {
  const got = await enc.encode(text, add);
  assert.deepEqual(Array.from(got.ids), Array.from(await tok.encode(text, add)), `ids differ for ${JSON.stringify(text.slice(-200))}`);
  return got.hit;
}

for (const name of MODELS) {
  describe(`tokenizer cache on ${name}`, () => {
    it('gives the bare tokenizer\'s ids for growing multi-turn chats, cold and warm, and reuses earlier turns', async () => {
      const f = await fixture(name);
      const enc = await CachingEncoder.create(f.tokenizer, { l0MaxEntries: 50, l1MaxMemory: 1 << 20 });
      assert.ok(enc.l1Enabled, 'the prefix cache splits this tokenizer cleanly');
      const r = mulberry32(7);
      const hits: (CacheHit | undefined)[] = [];
      for (let conv = 0; conv < 4; conv++) {
        const messages = [{ role: 'system', content: `You are helper ${conv % 2}. ${phrase(r, [], 12)}` }];
        for (let turn = 0; turn < 5; turn++) {
          messages.push({ role: 'user', content: phrase(r, f.specials, 10) });
          const text = f.render(messages);
          hits.push(await same(enc, f.tokenizer, text, false));
          assert.equal(await same(enc, f.tokenizer, text, false), 'l0', 'the same prompt again is a whole-string hit');
          messages.push({ role: 'assistant', content: phrase(r, [], 15) });
        }
      }
      assert.ok(hits.filter((h) => h === 'l1').length >= 8, `later turns hit the prefix cache (${hits.join(',')})`);
    });

    it('gives the bare tokenizer\'s ids for texts with special tokens in odd places, under eviction', async () => {
      const f = await fixture(name);
      // A small budget evicts constantly; L0 off so every warm encode goes through the prefix cache.
      const enc = await CachingEncoder.create(f.tokenizer, { l0MaxEntries: 0, l1MaxMemory: 4096 });
      const r = mulberry32(11);
      const bases = Array.from({ length: 6 }, () => phrase(r, f.specials, 20));
      let l1 = 0;
      for (let i = 0; i < 60; i++) {
        const text = bases[i % bases.length]! + phrase(r, f.specials, 1 + Math.floor(r() * 12));
        for (const add of [false, true]) if ((await same(enc, f.tokenizer, text, add)) === 'l1') l1++;
        if ((await same(enc, f.tokenizer, text, false)) === 'l1') l1++;
      }
      for (const edge of ['', ...f.specials.slice(0, 5), f.specials.join(''), `${f.specials[0]}${f.specials[0]}  \n`]) {
        await same(enc, f.tokenizer, edge, false);
        await same(enc, f.tokenizer, edge, false);
      }
      assert.ok(l1 > 0, 'shared heads hit the prefix cache');
    });
  });
}

describe('tokenizer cache levels', () => {
  it('a level set to 0 is off: nothing is ever a hit', async () => {
    const f = await fixture('qwen3');
    const enc = await CachingEncoder.create(f.tokenizer, { l0MaxEntries: 0, l1MaxMemory: 0 });
    const text = f.render([{ role: 'user', content: 'hi' }]);
    assert.equal(await same(enc, f.tokenizer, text, false), undefined);
    assert.equal(await same(enc, f.tokenizer, text, false), undefined);
    assert.equal(enc.l1Enabled, false);
  });

  it('hands out a fresh id array on every hit, so a transferred result cannot empty the cache', async () => {
    const f = await fixture('qwen3');
    const enc = await CachingEncoder.create(f.tokenizer, { l0MaxEntries: 10, l1MaxMemory: 1 << 20 });
    const text = f.render([{ role: 'user', content: 'hi there' }]);
    const first = await enc.encode(text, false);
    structuredClone(first.ids, { transfer: [first.ids.buffer as ArrayBuffer] });
    const again = await enc.encode(text, false);
    assert.equal(again.hit, 'l0');
    assert.deepEqual(Array.from(again.ids), Array.from(await f.tokenizer.encode(text, false)));
  });
});
