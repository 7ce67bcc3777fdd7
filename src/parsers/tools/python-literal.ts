/**
 * A small, safe parser of Python literals and keyword-argument calls (no eval), producing compact
 * JSON text. Supported: str and bytes (all quote styles, `r`/`b`/`u` prefixes, escapes, adjacent
 * literals concatenated), int (decimal, hex, octal, binary, underscores; any size), float, unary
 * `-`/`+` on numbers, True/False/None, lists, tuples (as arrays), dicts (keys stringified as Python's
 * `str()` would, last duplicate wins at its first position). A bare name becomes a string.
 * Anything else (f-strings, sets, expressions, positional or `**` arguments) is rejected.
 */

class Reject {}
const REJECT = new Reject();
const MAX_DEPTH = 64;
const BACKSLASH = 0x5c;

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;
const FLOAT =
  /(?:\d(?:_?\d)*)?\.\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?|\d(?:_?\d)*\.(?:[eE][+-]?\d(?:_?\d)*)?|\d(?:_?\d)*[eE][+-]?\d(?:_?\d)*/y;
const INT = /0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|[1-9](?:_?\d)*|0(?:_?0)*/y;
const STRING_START = /([rRbBuU]{0,2})('''|"""|'|")/y;

const ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\n': '',
};

interface Scalar {
  json: string;
  /** Python's `str()` of the value when it can be a dict key. */
  key?: string;
}

export interface PythonCall {
  name: string;
  /** Compact JSON object of the keyword arguments. */
  arguments: string;
  /** Source span of the call expression. */
  start: number;
  end: number;
}

class PyParser {
  i = 0;
  constructor(readonly s: string) {}

  ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') this.i++;
      else if (c === '\\' && (s[this.i + 1] === '\n' || s[this.i + 1] === '\r')) this.i += 2;
      else break;
    }
  }

  eat(ch: string): boolean {
    this.ws();
    if (this.s[this.i] !== ch) return false;
    this.i++;
    return true;
  }

  expect(ch: string): void {
    if (!this.eat(ch)) throw REJECT;
  }

  match(re: RegExp): string | undefined {
    re.lastIndex = this.i;
    const m = re.exec(this.s);
    if (!m) return undefined;
    this.i += m[0].length;
    return m[0];
  }

  ident(): string | undefined {
    this.ws();
    return this.match(IDENT);
  }

  /** A word must not run straight into letters or digits (`1j`, `01`, `Truex`). */
  wordEnd(): void {
    if (/[A-Za-z0-9_.]/.test(this.s[this.i] ?? '')) throw REJECT;
  }

  value(depth: number): Scalar {
    if (depth > MAX_DEPTH) throw REJECT;
    this.ws();
    const s = this.s;
    const c = s[this.i];
    if (c === undefined) throw REJECT;
    if (c === '-' || c === '+') return this.signed();
    if ((c >= '0' && c <= '9') || (c === '.' && /\d/.test(s[this.i + 1] ?? ''))) return this.number(false);
    STRING_START.lastIndex = this.i;
    if (STRING_START.test(s)) return this.strings();
    if (c === '[') return { json: this.sequence(']', depth) };
    if (c === '(') return this.parenthesised(depth);
    if (c === '{') return { json: this.dict(depth) };
    const word = this.match(IDENT);
    if (word === undefined) throw REJECT;
    this.ws();
    if (s[this.i] === '(' || s[this.i] === '.' || s[this.i] === '[') throw REJECT;
    if (word === 'True') return { json: 'true', key: 'True' };
    if (word === 'False') return { json: 'false', key: 'False' };
    if (word === 'None') return { json: 'null', key: 'None' };
    return { json: JSON.stringify(word), key: word };
  }

  signed(): Scalar {
    let negative = false;
    for (;;) {
      this.ws();
      const c = this.s[this.i];
      if (c === '-') negative = !negative;
      else if (c !== '+') break;
      this.i++;
    }
    return this.number(negative);
  }

  number(negative: boolean): Scalar {
    this.ws();
    const float = this.match(FLOAT);
    if (float !== undefined) {
      this.wordEnd();
      const v = Number(float.replace(/_/g, ''));
      if (!Number.isFinite(v)) throw REJECT;
      const json = JSON.stringify(negative ? -v : v);
      return { json, key: json };
    }
    const int = this.match(INT);
    if (int === undefined) throw REJECT;
    this.wordEnd();
    const digits = BigInt(int.replace(/_/g, ''));
    const json = (negative && digits !== 0n ? '-' : '') + digits.toString();
    return { json, key: json };
  }

  strings(): Scalar {
    let text = '';
    for (;;) {
      this.ws();
      STRING_START.lastIndex = this.i;
      const m = STRING_START.exec(this.s);
      if (!m) break;
      const prefix = m[1].toLowerCase();
      if (/(.).*\1/.test(prefix) || (prefix.length === 2 && !prefix.includes('r'))) throw REJECT;
      this.i += m[0].length;
      text += this.stringBody(m[2], prefix.includes('r'));
    }
    return { json: JSON.stringify(text), key: text };
  }

  stringBody(quote: string, raw: boolean): string {
    const s = this.s;
    const q = quote.charCodeAt(0);
    let out = '';
    for (;;) {
      // Plain characters go over in runs (one slice up to the next backslash or quote character), not one by one.
      let j = this.i;
      while (j < s.length) {
        const c = s.charCodeAt(j);
        if (c === BACKSLASH || c === q) break;
        j++;
      }
      if (j > this.i) {
        out += s.slice(this.i, j);
        this.i = j;
      }
      if (this.i >= s.length) throw REJECT;
      if (s.startsWith(quote, this.i)) {
        this.i += quote.length;
        return out;
      }
      const c = s[this.i];
      if (c !== '\\') {
        out += c;
        this.i++;
        continue;
      }
      const e = s[this.i + 1];
      if (e === undefined) throw REJECT;
      if (raw) {
        out += c + e;
        this.i += 2;
        continue;
      }
      this.i += 2;
      if (e in ESCAPES) out += ESCAPES[e];
      else if (e >= '0' && e <= '7') {
        let digits = e;
        while (digits.length < 3 && /[0-7]/.test(s[this.i] ?? '')) digits += s[this.i++];
        out += String.fromCharCode(parseInt(digits, 8));
      } else if (e === 'x' || e === 'u' || e === 'U') {
        const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
        const hex = s.slice(this.i, this.i + n);
        if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) throw REJECT;
        const code = parseInt(hex, 16);
        if (code > 0x10ffff) throw REJECT;
        out += String.fromCodePoint(code);
        this.i += n;
      } else if (e === 'N') {
        throw REJECT;
      } else {
        out += c + e;
      }
    }
  }

  /** Items up to `close`, after the opening bracket; a trailing comma is allowed. */
  items(close: string, item: () => void): void {
    this.i++;
    for (;;) {
      if (this.eat(close)) return;
      item();
      if (this.eat(close)) return;
      this.expect(',');
    }
  }

  sequence(close: string, depth: number): string {
    const parts: string[] = [];
    this.items(close, () => parts.push(this.value(depth + 1).json));
    return '[' + parts.join(',') + ']';
  }

  parenthesised(depth: number): Scalar {
    const start = this.i;
    this.i++;
    this.ws();
    if (this.s[this.i] === ')') {
      this.i++;
      return { json: '[]' };
    }
    const first = this.value(depth + 1);
    if (this.eat(')')) return first;
    this.i = start;
    return { json: this.sequence(')', depth) };
  }

  dict(depth: number): string {
    const entries = new Map<string, string>();
    this.items('}', () => {
      const k = this.value(depth + 1);
      if (k.key === undefined) throw REJECT;
      this.expect(':');
      entries.set(k.key, this.value(depth + 1).json);
    });
    let out = '{';
    for (const [k, v] of entries) out += (out.length > 1 ? ',' : '') + JSON.stringify(k) + ':' + v;
    return out + '}';
  }

  call(): PythonCall {
    this.ws();
    const start = this.i;
    const name = this.match(IDENT);
    if (name === undefined) throw REJECT;
    this.ws();
    if (this.s[this.i] !== '(') throw REJECT;
    const args = new Map<string, string>();
    this.items(')', () => {
      const key = this.ident();
      if (key === undefined || args.has(key)) throw REJECT;
      this.ws();
      if (this.s[this.i] !== '=' || this.s[this.i + 1] === '=') throw REJECT;
      this.i++;
      args.set(key, this.value(1).json);
    });
    let json = '{';
    for (const [k, v] of args) json += (json.length > 1 ? ',' : '') + JSON.stringify(k) + ':' + v;
    return { name, arguments: json + '}', start, end: this.i };
  }
}

function run<T>(src: string, body: (p: PyParser) => T): T | undefined {
  const p = new PyParser(src);
  try {
    const result = body(p);
    p.ws();
    return p.i === src.length ? result : undefined;
  } catch (e) {
    if (e === REJECT) return undefined;
    throw e;
  }
}

/** Compact JSON of one Python literal expression, or undefined when it is not one. */
export function pythonLiteralToJson(src: string): string | undefined {
  return run(src, (p) => p.value(0).json);
}

/** The calls of a `[f(a=1), g(b="x")]` block, or undefined when the block is not exactly that. */
export function parsePythonCallList(src: string): PythonCall[] | undefined {
  return run(src, (p) => {
    const calls: PythonCall[] = [];
    p.ws();
    if (p.s[p.i] !== '[') throw REJECT;
    p.items(']', () => calls.push(p.call()));
    if (calls.length === 0) throw REJECT;
    return calls;
  });
}
