import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * One tokenizer behind a small interface, with two interchangeable backends:
 * `native` is the HF Rust tokenizer through napi (`tokenizers`), `js` is the pure-JS port
 * (`@huggingface/tokenizers`). Both produce identical ids; `decode` is the HF full decode.
 */
export type TokenizerBackendName = 'native' | 'js';

/** A tokenizer.json `decoder` object, as written by HF (`{"type":"Sequence","decoders":[...]}` etc.). */
export interface DecoderSpec {
  readonly type: string;
  readonly [key: string]: unknown;
}

export interface AddedTokenSpec {
  readonly id: number;
  readonly content: string;
  readonly special: boolean;
  /** How HF matches the token in text; only what is set in tokenizer.json (absent = false). */
  readonly normalized?: boolean;
  readonly rstrip?: boolean;
  readonly singleWord?: boolean;
}

/** The small parts of tokenizer.json that streaming decode needs; never the vocab or merges. */
export interface TokenizerJsonSummary {
  readonly modelType: string;
  readonly byteFallback: boolean;
  readonly decoder: DecoderSpec | null;
  readonly addedTokens: readonly AddedTokenSpec[];
}

export interface Tokenizer {
  readonly backend: TokenizerBackendName;
  /** Number of ids including added tokens (one past the highest id). */
  readonly vocabSize: number;
  encode(text: string, addSpecialTokens: boolean): Promise<Uint32Array>;
  /** Synchronous full decode, equal to HF `Tokenizer::decode` (no clean-up of tokenization spaces). */
  decode(ids: ArrayLike<number>, skipSpecialTokens: boolean): string;
  idToToken(id: number): string | undefined;
  tokenToId(token: string): number | undefined;
  /** True for added tokens marked `special` (the ones `skipSpecialTokens` drops). */
  isSpecialId(id: number): boolean;
  readonly tokenizerJson: TokenizerJsonSummary;
}

export async function loadTokenizer(tokenizerJsonPath: string, backend: TokenizerBackendName = 'native'): Promise<Tokenizer> {
  const text = await readFile(tokenizerJsonPath, 'utf8');
  if (backend === 'native') return NativeTokenizer.fromText(text);
  const config = await readTokenizerConfig(join(dirname(tokenizerJsonPath), 'tokenizer_config.json'));
  return JsTokenizer.create(JSON.parse(stripBom(text)) as TokenizerJsonObject, config);
}

async function readTokenizerConfig(path: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
}

type NativeModule = typeof import('tokenizers');
type NativeHandle = InstanceType<NativeModule['Tokenizer']>;
type NativeDecoder = NonNullable<ReturnType<NativeHandle['getDecoder']>>;

class NativeTokenizer implements Tokenizer {
  readonly backend = 'native';
  readonly vocabSize: number;
  private readonly specialIds: ReadonlySet<number>;
  // id → token string; napi calls cost ~0.3 µs each, a decode touches every id.
  private readonly tokens: (string | null | undefined)[];

  private constructor(
    private readonly handle: NativeHandle,
    private readonly decoder: NativeDecoder | null,
    readonly tokenizerJson: TokenizerJsonSummary,
  ) {
    this.specialIds = specialIdSet(tokenizerJson);
    this.vocabSize = Math.max(handle.getVocabSize(true), maxAddedId(tokenizerJson) + 1);
    this.tokens = new Array<string | null | undefined>(this.vocabSize).fill(undefined);
  }

  static async fromText(text: string): Promise<NativeTokenizer> {
    const { Tokenizer: Native } = await import('tokenizers');
    // fromString rather than fromFile: the file is read once, here, and also feeds the summary.
    const handle = Native.fromString(text);
    return new NativeTokenizer(handle, handle.getDecoder(), summarizeTokenizerJson(text));
  }

  async encode(text: string, addSpecialTokens: boolean): Promise<Uint32Array> {
    const enc = await this.handle.encode(text, null, { addSpecialTokens });
    return Uint32Array.from(enc.getIds());
  }

  decode(ids: ArrayLike<number>, skipSpecialTokens: boolean): string {
    const pieces: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (skipSpecialTokens && this.specialIds.has(id)) continue;
      const t = this.idToToken(id);
      if (t !== undefined) pieces.push(t);
    }
    // Same as HF Tokenizer::decode: the decoder chain, or tokens joined by spaces without one.
    return this.decoder ? this.decoder.decode(pieces) : pieces.join(' ');
  }

  idToToken(id: number): string | undefined {
    if (!(id >= 0 && id < this.vocabSize && Number.isInteger(id))) return undefined;
    let t = this.tokens[id];
    if (t === undefined) t = this.tokens[id] = this.handle.idToToken(id);
    return t ?? undefined;
  }

  tokenToId(token: string): number | undefined {
    return this.handle.tokenToId(token) ?? undefined;
  }

  isSpecialId(id: number): boolean {
    return this.specialIds.has(id);
  }
}

type JsModule = typeof import('@huggingface/tokenizers');
type JsHandle = InstanceType<JsModule['Tokenizer']>;

interface TokenizerJsonObject {
  added_tokens?: { id: number; content: string; special?: boolean; normalized?: boolean; rstrip?: boolean; single_word?: boolean }[];
  decoder?: DecoderSpec | null;
  model?: { type?: string; byte_fallback?: boolean };
}

class JsTokenizer implements Tokenizer {
  readonly backend = 'js';
  readonly vocabSize: number;
  private readonly specialIds: ReadonlySet<number>;

  private constructor(
    private readonly handle: JsHandle,
    readonly tokenizerJson: TokenizerJsonSummary,
  ) {
    this.specialIds = specialIdSet(tokenizerJson);
    this.vocabSize = Math.max(handle.get_vocab(true).size, maxAddedId(tokenizerJson) + 1);
  }

  static async create(json: TokenizerJsonObject, config: Record<string, unknown>): Promise<JsTokenizer> {
    const { Tokenizer: Js } = await import('@huggingface/tokenizers');
    const summary = summaryFromObject(json);
    return new JsTokenizer(new Js(json, config), summary);
  }

  // The JS port is synchronous; the promise keeps the interface of the native AsyncTask.
  async encode(text: string, addSpecialTokens: boolean): Promise<Uint32Array> {
    return Uint32Array.from(this.handle.encode(text, { add_special_tokens: addSpecialTokens }).ids);
  }

  decode(ids: ArrayLike<number>, skipSpecialTokens: boolean): string {
    if (ids.length === 0) return ''; // the JS port throws on an empty list
    // clean_up_tokenization_spaces is a transformers (Python) post-step that HF decode does not do.
    return this.handle.decode(Array.from(ids), { skip_special_tokens: skipSpecialTokens, clean_up_tokenization_spaces: false });
  }

  idToToken(id: number): string | undefined {
    return this.handle.id_to_token(id) ?? undefined;
  }

  tokenToId(token: string): number | undefined {
    return this.handle.token_to_id(token) ?? undefined;
  }

  isSpecialId(id: number): boolean {
    return this.specialIds.has(id);
  }
}

function specialIdSet(s: TokenizerJsonSummary): Set<number> {
  const ids = new Set<number>();
  for (const t of s.addedTokens) if (t.special) ids.add(t.id);
  return ids;
}

function maxAddedId(s: TokenizerJsonSummary): number {
  let max = -1;
  for (const t of s.addedTokens) if (t.id > max) max = t.id;
  return max;
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function summaryFromObject(json: TokenizerJsonObject): TokenizerJsonSummary {
  return {
    modelType: json.model?.type ?? 'unknown',
    byteFallback: json.model?.byte_fallback === true,
    decoder: json.decoder ?? null,
    addedTokens: (json.added_tokens ?? []).map((t) => ({
      id: t.id,
      content: t.content,
      special: t.special === true,
      ...(t.normalized === true ? { normalized: true } : {}),
      ...(t.rstrip === true ? { rstrip: true } : {}),
      ...(t.single_word === true ? { singleWord: true } : {}),
    })),
  };
}

/**
 * Reads `added_tokens`, `decoder` and the model's leading scalar fields without parsing the vocab
 * and merges (~170 MiB of JS objects and ~0.5 s for Gemma 3). HF writes `model` last and its
 * `vocab`/`merges` after the scalars, so the scan stops early; any other layout gets a full parse.
 */
export function summarizeTokenizerJson(text: string): TokenizerJsonSummary {
  const s = new JsonScanner(text);
  s.pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  s.expect(0x7b);
  const top: Record<string, unknown> = {};
  for (let key = s.firstKey(); key !== undefined; key = s.nextKey()) {
    if (key !== 'model') {
      const start = s.pos;
      s.skipValue();
      if (key === 'added_tokens' || key === 'decoder') top[key] = JSON.parse(text.slice(start, s.pos));
      continue;
    }
    if (!('added_tokens' in top && 'decoder' in top)) break;
    const model: Record<string, unknown> = {};
    s.expect(0x7b);
    for (let mk = s.firstKey(); mk !== undefined && mk !== 'vocab' && mk !== 'merges'; mk = s.nextKey()) {
      const start = s.pos;
      s.skipValue();
      model[mk] = JSON.parse(text.slice(start, s.pos));
    }
    return summaryFromObject({ ...(top as Omit<TokenizerJsonObject, 'model'>), model: model as TokenizerJsonObject['model'] });
  }
  return summaryFromObject(JSON.parse(stripBom(text)) as TokenizerJsonObject);
}

/** Just enough of a JSON tokenizer to walk object keys and skip values; input validity is the caller's concern. */
class JsonScanner {
  pos = 0;
  constructor(private readonly text: string) {}

  expect(ch: number): void {
    this.ws();
    if (this.text.charCodeAt(this.pos) !== ch) throw new SyntaxError(`tokenizer.json: expected '${String.fromCharCode(ch)}' at ${this.pos}`);
    this.pos++;
  }

  /** After '{': the first key (positioned at its value), or undefined for '{}'. */
  firstKey(): string | undefined {
    this.ws();
    if (this.text.charCodeAt(this.pos) === 0x7d) return undefined;
    return this.key();
  }

  /** After a value: the next key, or undefined at '}'. */
  nextKey(): string | undefined {
    this.ws();
    if (this.text.charCodeAt(this.pos) !== 0x2c) return undefined;
    this.pos++;
    this.ws();
    return this.key();
  }

  skipValue(): void {
    this.ws();
    const t = this.text;
    const c = t.charCodeAt(this.pos);
    if (c === 0x22) {
      this.skipString();
      return;
    }
    if (c !== 0x7b && c !== 0x5b) {
      while (this.pos < t.length && !isValueEnd(t.charCodeAt(this.pos))) this.pos++;
      return;
    }
    let depth = 0;
    while (this.pos < t.length) {
      const ch = t.charCodeAt(this.pos);
      if (ch === 0x22) {
        this.skipString();
        continue;
      }
      this.pos++;
      if (ch === 0x7b || ch === 0x5b) depth++;
      else if ((ch === 0x7d || ch === 0x5d) && --depth === 0) return;
    }
  }

  private key(): string {
    const start = this.pos;
    this.skipString();
    const key = JSON.parse(this.text.slice(start, this.pos)) as string;
    this.expect(0x3a);
    this.ws();
    return key;
  }

  private skipString(): void {
    const t = this.text;
    let i = this.pos + 1;
    for (;;) {
      const q = t.indexOf('"', i);
      if (q < 0) throw new SyntaxError('tokenizer.json: unterminated string');
      let backslashes = 0;
      while (t.charCodeAt(q - 1 - backslashes) === 0x5c) backslashes++;
      i = q + 1;
      if (backslashes % 2 === 0) break;
    }
    this.pos = i;
  }

  private ws(): void {
    const t = this.text;
    let c = t.charCodeAt(this.pos);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = t.charCodeAt(++this.pos);
  }
}

function isValueEnd(c: number): boolean {
  return c === 0x2c || c === 0x7d || c === 0x5d || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}
