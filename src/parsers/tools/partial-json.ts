/**
 * The one shared JSON toolkit of the tool-call parsers.
 *
 * Value model (`JsonValue`): objects are `Map`s (insertion order, so integer-like keys stay where the
 * model wrote them; a duplicate key keeps its first position and takes the last value), arrays are
 * arrays, numbers parsed from text are `JsonNumber`s that keep their source spelling (no precision
 * loss, `1.0` stays `1.0`); plain JS numbers are accepted when building values.
 *
 * Grammar: strict JSON (no comments, single quotes, trailing commas, leading zeros or unknown
 * escapes), except that raw control characters inside strings are accepted (models write raw
 * newlines in code arguments) and re-escaped on output. Nesting is limited to 32 containers.
 *
 * API (names are stable; other parser families import them):
 * - `parsePartialJson(text, opts)`: parse a possibly truncated JSON prefix into
 *   `{ value, consumed, complete }`, or `undefined` when the text is not a JSON prefix.
 * - `parseJson(text)`: strict parse of a whole text (surrounding whitespace allowed), else `undefined`.
 * - `isCompleteJson(text)`.
 * - `compactJson(value)`: compact serialisation (`{"a":1}`); strings escaped exactly as
 *   `JSON.stringify` escapes them.
 * - `JsonStreamer`: incremental compact re-serialiser of one JSON value. Feeding any chunking of a
 *   text yields, concatenated, the same output as `compactJson(parseJson(text))` (duplicate keys are
 *   passed through rather than merged). Output only ever contains final text: a number or literal
 *   is written once it is complete, a string character once it is decoded.
 * - `jsonStringBody(s)`: the escaped content of `s` as a JSON string, without quotes.
 * - `commonPrefixLength(a, b)`: never splits a surrogate pair.
 * - `endsWithPartialToken(buf, token)`, `partialTokenLength(buf, tokens, from)`, `tokenAt(buf, at, token)`:
 *   marker helpers for holding back text that may be the start of a marker.
 */

export class JsonNumber {
  constructor(readonly raw: string) {}
  get value(): number {
    return Number(this.raw);
  }
}

export type JsonObject = Map<string, JsonValue>;
export type JsonValue = null | boolean | number | string | JsonNumber | JsonValue[] | JsonObject;

export interface PartialJsonOptions {
  /** Keep the content of a string cut off by the end of the text (default false: drop it). */
  allowPartialStrings?: boolean;
  /** Maximum container nesting (default 32). */
  maxDepth?: number;
  /** Where parsing starts (default 0). */
  start?: number;
  /** The text is all there is: a number running to its end is complete (default false). */
  final?: boolean;
}

export interface PartialJsonResult {
  /**
   * What the text says so far. In a truncated text, values that may still change (a number or
   * literal at the cut, a key without its value, a cut string unless `allowPartialStrings`) are
   * left out; `undefined` when nothing is usable yet.
   */
  value: JsonValue | undefined;
  /** Index just after the value when complete, else the text length. */
  consumed: number;
  complete: boolean;
}

export const DEFAULT_MAX_DEPTH = 32;

const NUMBER_RE = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const NUMBER_PREFIX_RE = /^-?(?:0|[1-9]\d*)?(?:\.\d*)?(?:[eE][+-]?\d*)?$/;

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function isNumberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

const SIMPLE_ESCAPES: Record<string, number> = { '"': 0x22, '\\': 0x5c, '/': 0x2f, b: 8, f: 12, n: 10, r: 13, t: 9 };

/** `JSON.stringify`'s spelling of a code unit that must be escaped. */
function escapeUnit(u: number): string {
  switch (u) {
    case 0x22:
      return '\\"';
    case 0x5c:
      return '\\\\';
    case 8:
      return '\\b';
    case 9:
      return '\\t';
    case 10:
      return '\\n';
    case 12:
      return '\\f';
    case 13:
      return '\\r';
    default:
      return '\\u' + u.toString(16).padStart(4, '0');
  }
}

export function jsonStringBody(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

export function compactJson(value: JsonValue): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'string':
      return JSON.stringify(value);
  }
  if (value instanceof JsonNumber) return value.raw;
  if (Array.isArray(value)) return '[' + value.map(compactJson).join(',') + ']';
  let out = '{';
  for (const [k, v] of value) {
    if (out.length > 1) out += ',';
    out += JSON.stringify(k) + ':' + compactJson(v);
  }
  return out + '}';
}

// ---------------------------------------------------------------------------------------------
// Recursive-descent parser over a (possibly truncated) text.

/** Raised internally when the text cannot be a JSON prefix. */
class Invalid {}
const INVALID = new Invalid();
/** Marks a value cut off by the end of the text. */
const CUT = Symbol('cut');
type Parsed = JsonValue | typeof CUT;

class PartialParser {
  i: number;
  constructor(
    readonly s: string,
    start: number,
    readonly partialStrings: boolean,
    readonly maxDepth: number,
    readonly final: boolean,
  ) {
    this.i = start;
  }

  ws(): void {
    const s = this.s;
    while (this.i < s.length && isWs(s.charCodeAt(this.i))) this.i++;
  }

  get atEnd(): boolean {
    return this.i >= this.s.length;
  }

  value(depth: number): Parsed {
    this.ws();
    if (this.atEnd) return CUT;
    const c = this.s[this.i];
    if (c === '{') return this.object(depth + 1);
    if (c === '[') return this.array(depth + 1);
    if (c === '"') {
      const str = this.string();
      if (str.done) return str.text;
      if (!this.partialStrings) return CUT;
      this.cutInside = true;
      return str.text;
    }
    if (c === 't') return this.literal('true', true);
    if (c === 'f') return this.literal('false', false);
    if (c === 'n') return this.literal('null', null);
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    throw INVALID;
  }

  literal(word: string, value: boolean | null): Parsed {
    const s = this.s;
    for (let k = 0; k < word.length; k++, this.i++) {
      if (this.atEnd) return CUT;
      if (s[this.i] !== word[k]) throw INVALID;
    }
    return value;
  }

  number(): Parsed {
    const s = this.s;
    const start = this.i;
    while (this.i < s.length && isNumberChar(s.charCodeAt(this.i))) this.i++;
    const lexeme = s.slice(start, this.i);
    if (this.atEnd && !this.final) {
      if (!NUMBER_PREFIX_RE.test(lexeme)) throw INVALID;
      return CUT;
    }
    if (!NUMBER_RE.test(lexeme)) throw INVALID;
    return new JsonNumber(lexeme);
  }

  /** Decodes a string starting at the opening quote. */
  string(): { text: string; done: boolean } {
    const s = this.s;
    let text = '';
    let i = this.i + 1;
    let runStart = i;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        text += s.slice(runStart, i);
        this.i = i + 1;
        return { text, done: true };
      }
      if (c !== 0x5c) {
        i++;
        continue;
      }
      text += s.slice(runStart, i);
      if (i + 1 >= s.length) break;
      const e = s[i + 1];
      if (e === 'u') {
        if (i + 6 > s.length) {
          for (let k = i + 2; k < s.length; k++) if (hexValue(s.charCodeAt(k)) < 0) throw INVALID;
          break;
        }
        let code = 0;
        for (let k = i + 2; k < i + 6; k++) {
          const h = hexValue(s.charCodeAt(k));
          if (h < 0) throw INVALID;
          code = code * 16 + h;
        }
        text += String.fromCharCode(code);
        i += 6;
      } else {
        const code = SIMPLE_ESCAPES[e];
        if (code === undefined) throw INVALID;
        text += String.fromCharCode(code);
        i += 2;
      }
      runStart = i;
    }
    if (i >= s.length) text += s.slice(runStart);
    this.i = s.length;
    return { text, done: false };
  }

  object(depth: number): Parsed {
    if (depth > this.maxDepth) throw INVALID;
    const s = this.s;
    const obj: JsonObject = new Map();
    this.i++;
    this.ws();
    if (this.atEnd) return this.cut(obj);
    if (s[this.i] === '}') {
      this.i++;
      return obj;
    }
    for (;;) {
      this.ws();
      if (this.atEnd) return this.cut(obj);
      if (s[this.i] !== '"') throw INVALID;
      const key = this.string();
      if (!key.done) return this.cut(obj);
      this.ws();
      if (this.atEnd) return this.cut(obj);
      if (s[this.i] !== ':') throw INVALID;
      this.i++;
      const v = this.value(depth);
      if (v === CUT) return this.cut(obj);
      obj.set(key.text, v);
      if (this.cutInside) return this.cut(obj);
      this.ws();
      if (this.atEnd) return this.cut(obj);
      const c = s[this.i++];
      if (c === '}') return obj;
      if (c !== ',') throw INVALID;
    }
  }

  array(depth: number): Parsed {
    if (depth > this.maxDepth) throw INVALID;
    const s = this.s;
    const arr: JsonValue[] = [];
    this.i++;
    this.ws();
    if (this.atEnd) return this.cut(arr);
    if (s[this.i] === ']') {
      this.i++;
      return arr;
    }
    for (;;) {
      const v = this.value(depth);
      if (v === CUT) return this.cut(arr);
      arr.push(v);
      if (this.cutInside) return this.cut(arr);
      this.ws();
      if (this.atEnd) return this.cut(arr);
      const c = s[this.i++];
      if (c === ']') return arr;
      if (c !== ',') throw INVALID;
    }
  }

  /** Set once a container was cut: every enclosing container is cut too. */
  cutInside = false;

  cut<T extends JsonValue>(container: T): T {
    this.cutInside = true;
    return container;
  }
}

export function parsePartialJson(text: string, opts: PartialJsonOptions = {}): PartialJsonResult | undefined {
  const p = new PartialParser(
    text,
    opts.start ?? 0,
    opts.allowPartialStrings ?? false,
    opts.maxDepth ?? DEFAULT_MAX_DEPTH,
    opts.final ?? false,
  );
  try {
    const v = p.value(0);
    if (v === CUT) return { value: undefined, consumed: text.length, complete: false };
    const complete = !p.cutInside;
    return { value: v, consumed: complete ? p.i : text.length, complete };
  } catch (e) {
    if (e === INVALID) return undefined;
    throw e;
  }
}

export function parseJson(text: string): JsonValue | undefined {
  const r = parsePartialJson(text, { final: true });
  if (!r?.complete) return undefined;
  for (let i = r.consumed; i < text.length; i++) if (!isWs(text.charCodeAt(i))) return undefined;
  return r.value;
}

export function isCompleteJson(text: string): boolean {
  return parseJson(text) !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Incremental compact re-serialiser.

const ST_VALUE = 0;
const ST_ARRAY_FIRST = 1;
const ST_OBJECT_FIRST = 2;
const ST_KEY = 3;
const ST_COLON = 4;
const ST_AFTER = 5;
const ST_STRING = 6;
const ST_ESCAPE = 7;
const ST_UNICODE = 8;
const ST_NUMBER = 9;
const ST_LITERAL = 10;
const ST_DONE = 11;
const ST_ERROR = 12;

const OBJECT = 1;
const ARRAY = 2;

export class JsonStreamer {
  private state = ST_VALUE;
  private readonly stack: number[] = [];
  private out = '';
  private inKey = false;
  private pendingHigh = -1;
  private lexeme = '';
  private literal = '';
  private unicode = 0;
  private unicodeDigits = 0;
  private begun = false;

  constructor(private readonly maxDepth: number = DEFAULT_MAX_DEPTH) {}

  /** The value is complete. */
  get done(): boolean {
    return this.state === ST_DONE;
  }

  /** The text is not JSON; the character at the index `feed` returned is the culprit. */
  get failed(): boolean {
    return this.state === ST_ERROR;
  }

  /** A non-whitespace character of the value has been accepted. */
  get started(): boolean {
    return this.begun;
  }

  /** Compact text produced since the last call. */
  take(): string {
    const o = this.out;
    this.out = '';
    return o;
  }

  /**
   * Consumes `text[start..end)` until the value completes or fails. Returns the index of the first
   * character not consumed (the character after the value, or the offending one).
   */
  feed(text: string, start = 0, end = text.length): number {
    let i = start;
    while (i < end) {
      const st = this.state;
      if (st === ST_STRING) {
        i = this.stringRun(text, i, end);
        continue;
      }
      if (st === ST_DONE || st === ST_ERROR) return i;
      const c = text.charCodeAt(i);
      switch (st) {
        case ST_VALUE:
        case ST_ARRAY_FIRST:
          if (isWs(c)) break;
          if (st === ST_ARRAY_FIRST && c === 0x5d) {
            this.close(']');
            break;
          }
          if (!this.startValue(c, text, i)) return i;
          if (this.state === ST_NUMBER) {
            i = this.numberRun(text, i, end);
            continue;
          }
          break;
        case ST_OBJECT_FIRST:
        case ST_KEY:
          if (isWs(c)) break;
          if (st === ST_OBJECT_FIRST && c === 0x7d) {
            this.close('}');
            break;
          }
          if (c !== 0x22) return this.fail(i);
          this.out += '"';
          this.inKey = true;
          this.state = ST_STRING;
          break;
        case ST_COLON:
          if (isWs(c)) break;
          if (c !== 0x3a) return this.fail(i);
          this.out += ':';
          this.state = ST_VALUE;
          break;
        case ST_AFTER:
          if (isWs(c)) break;
          if (c === 0x2c) {
            this.out += ',';
            this.state = this.stack[this.stack.length - 1] === OBJECT ? ST_KEY : ST_VALUE;
          } else if (c === 0x7d && this.stack[this.stack.length - 1] === OBJECT) {
            this.close('}');
          } else if (c === 0x5d && this.stack[this.stack.length - 1] === ARRAY) {
            this.close(']');
          } else {
            return this.fail(i);
          }
          break;
        case ST_ESCAPE:
          if (c === 0x75) {
            this.unicode = 0;
            this.unicodeDigits = 0;
            this.state = ST_UNICODE;
          } else {
            const code = SIMPLE_ESCAPES[text[i]];
            if (code === undefined) return this.fail(i);
            this.unit(code);
            this.state = ST_STRING;
          }
          break;
        case ST_UNICODE: {
          const h = hexValue(c);
          if (h < 0) return this.fail(i);
          this.unicode = this.unicode * 16 + h;
          if (++this.unicodeDigits === 4) {
            this.unit(this.unicode);
            this.state = ST_STRING;
          }
          break;
        }
        case ST_NUMBER: {
          i = this.numberRun(text, i, end);
          continue;
        }
        case ST_LITERAL: {
          if (c !== this.literal.charCodeAt(this.lexeme.length)) return this.fail(i);
          this.lexeme += text[i];
          if (this.lexeme.length === this.literal.length) {
            this.out += this.literal;
            this.valueDone();
          }
          break;
        }
      }
      i++;
    }
    return i;
  }

  /** End of input: a top-level number still being read is complete. Returns `done`. */
  end(): boolean {
    if (this.state === ST_NUMBER && this.stack.length === 0) this.finishNumber();
    return this.done;
  }

  private fail(i: number): number {
    this.state = ST_ERROR;
    return i;
  }

  private startValue(c: number, text: string, i: number): boolean {
    this.begun = true;
    if (c === 0x7b || c === 0x5b) {
      if (this.stack.length >= this.maxDepth) {
        this.state = ST_ERROR;
        return false;
      }
      const isObject = c === 0x7b;
      this.stack.push(isObject ? OBJECT : ARRAY);
      this.out += isObject ? '{' : '[';
      this.state = isObject ? ST_OBJECT_FIRST : ST_ARRAY_FIRST;
    } else if (c === 0x22) {
      this.out += '"';
      this.state = ST_STRING;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      this.lexeme = '';
      this.state = ST_NUMBER;
    } else if (c === 0x74 || c === 0x66 || c === 0x6e) {
      this.literal = c === 0x74 ? 'true' : c === 0x66 ? 'false' : 'null';
      this.lexeme = text[i];
      this.state = ST_LITERAL;
    } else {
      this.state = ST_ERROR;
      return false;
    }
    return true;
  }

  private close(ch: string): void {
    this.stack.pop();
    this.out += ch;
    this.valueDone();
  }

  private valueDone(): void {
    this.state = this.stack.length === 0 ? ST_DONE : ST_AFTER;
  }

  private numberRun(text: string, i: number, end: number): number {
    let j = i;
    while (j < end && isNumberChar(text.charCodeAt(j))) j++;
    this.lexeme += text.slice(i, j);
    if (j < end) this.finishNumber();
    return j;
  }

  private finishNumber(): void {
    if (!NUMBER_RE.test(this.lexeme)) {
      this.state = ST_ERROR;
      return;
    }
    this.out += this.lexeme;
    this.valueDone();
  }

  /** Copies a run of plain string characters, then handles one special character. */
  private stringRun(text: string, i: number, end: number): number {
    let j = i;
    if (this.pendingHigh < 0) {
      while (j < end) {
        const c = text.charCodeAt(j);
        if (c === 0x22 || c === 0x5c || c < 0x20 || (c >= 0xd800 && c <= 0xdfff)) break;
        j++;
      }
      if (j > i) this.out += text.slice(i, j);
      if (j >= end) return j;
    }
    const c = text.charCodeAt(j);
    if (c === 0x22) {
      this.flushHigh();
      this.out += '"';
      if (this.inKey) {
        this.inKey = false;
        this.state = ST_COLON;
      } else {
        this.valueDone();
      }
    } else if (c === 0x5c) {
      this.state = ST_ESCAPE;
    } else {
      this.unit(c);
    }
    return j + 1;
  }

  private flushHigh(): void {
    if (this.pendingHigh >= 0) {
      this.out += escapeUnit(this.pendingHigh);
      this.pendingHigh = -1;
    }
  }

  /** Writes one decoded code unit of a string the way `JSON.stringify` would. */
  private unit(u: number): void {
    if (this.pendingHigh >= 0) {
      if (u >= 0xdc00 && u <= 0xdfff) {
        this.out += String.fromCharCode(this.pendingHigh, u);
        this.pendingHigh = -1;
        return;
      }
      this.flushHigh();
    }
    if (u >= 0xd800 && u <= 0xdbff) this.pendingHigh = u;
    else if (u < 0x20 || u === 0x22 || u === 0x5c || (u >= 0xdc00 && u <= 0xdfff)) this.out += escapeUnit(u);
    else this.out += String.fromCharCode(u);
  }
}

// ---------------------------------------------------------------------------------------------
// Text helpers.

export function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i > 0 && i < n) {
    const last = a.charCodeAt(i - 1);
    if (last >= 0xd800 && last <= 0xdbff) i--;
  }
  return i;
}

/**
 * Length of the longest proper prefix of `token` that `buf` ends with (0 if none): that many
 * trailing characters must be held back because they may become the token.
 */
export function endsWithPartialToken(buf: string, token: string, from = 0): number {
  const max = Math.min(token.length - 1, buf.length - from);
  const first = token.charCodeAt(0);
  // Runs on every chunk for every marker: compare in place, no prefix strings.
  for (let len = max; len > 0; len--) {
    const at = buf.length - len;
    if (buf.charCodeAt(at) !== first) continue;
    let k = 1;
    while (k < len && buf.charCodeAt(at + k) === token.charCodeAt(k)) k++;
    if (k === len) return len;
  }
  return 0;
}

/** The longest `endsWithPartialToken` over several tokens, looking only at `buf[from..]`. */
export function partialTokenLength(buf: string, tokens: readonly string[], from = 0): number {
  let best = 0;
  for (const t of tokens) best = Math.max(best, endsWithPartialToken(buf, t, from));
  return best;
}

/** Whether `token` is at `buf[at]`: fully, cut off by the end of `buf`, or not at all. */
export function tokenAt(buf: string, at: number, token: string): 'full' | 'partial' | 'none' {
  const avail = buf.length - at;
  if (avail >= token.length) return buf.startsWith(token, at) ? 'full' : 'none';
  return token.startsWith(buf.slice(at)) ? 'partial' : 'none';
}
