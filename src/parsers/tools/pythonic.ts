/**
 * `pythonic` (Llama 4, DeepSeek-R1 fallback): `[get_weather(city="Paris"), other(n=1)]`, optionally
 * wrapped in `<|python_start|>…<|python_end|>` (the wrapper tokens are removed from normal text).
 *
 * A block opens at `[` followed by `name(`; it is collected up to its matching `]` (brackets inside
 * string literals do not count) and parsed with the safe literal parser. Each call is then emitted
 * whole: name and complete compact arguments together, in both modes. A block that does not parse,
 * or is cut off by the end of the text, is normal text; so is an undeclared call inside a block.
 */
import { parsePythonCallList } from './python-literal.js';
import { CallEngineBase, defineFamily, skipSpace, type CallSink, type NamePolicy } from './stream-core.js';
import type { ToolParserFamily } from '../types.js';

/** Longest `[ name (` head worth waiting for. */
const MAX_HEAD = 512;
const CLOSERS: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

const S_HEAD = 0;
const S_BLOCK = 1;

class PythonicEngine extends CallEngineBase {
  private state = S_HEAD;
  /** Closing brackets still expected, innermost last. */
  private expected: string[] = [];
  private quote = '';
  private escaped = false;
  /**
   * While a block is collected, the text from `pos` on as its own small string, starting at absolute
   * offset `tailAt` (-1: not tracked). The held block stays in the engine's buffer, and reading that
   * growing buffer after every push would make V8 flatten (copy) it each time: quadratic in the block.
   */
  private tail = '';
  private tailAt = -1;

  constructor(allowed: NamePolicy) {
    super({ strip: ['<|python_start|>', '<|python_end|>'], bareOpeners: '[', bareAt: 'anywhere' }, allowed);
  }

  override push(chunk: string, sink: CallSink): void {
    if (this.tailAt >= 0) this.tail += chunk;
    super.push(chunk, sink);
  }

  protected enterRegion(): void {
    this.state = S_HEAD;
    this.tailAt = -1;
  }

  protected step(): boolean {
    return this.state === S_HEAD ? this.head() : this.block();
  }

  protected eof(): void {
    if (this.state === S_HEAD) this.reject();
    else this.fail();
  }

  /** Confirms `[ name (` before collecting a block; nothing is consumed until then. */
  private head(): boolean {
    const buf = this.buf;
    const start = skipSpace(buf, this.pos + 1);
    let i = start;
    while (i < buf.length && /[A-Za-z0-9_]/.test(buf[i]) && !(i === start && /[0-9]/.test(buf[i]))) i++;
    const paren = skipSpace(buf, i);
    if (paren - this.pos > MAX_HEAD || (i < buf.length && i === start)) return this.reject();
    if (paren >= buf.length) return false;
    if (buf[paren] !== '(') return this.reject();
    this.pos++;
    this.expected = [']'];
    this.quote = '';
    this.escaped = false;
    this.state = S_BLOCK;
    return true;
  }

  /** Not a block: the `[` (still at `pos`) is text, and scanning resumes after it. */
  private reject(): boolean {
    this.pos++;
    this.fail();
    return true;
  }

  private block(): boolean {
    const at = this.offsetOf(this.pos);
    if (this.tailAt !== at) {
      this.tail = this.buf.slice(this.pos);
      this.tailAt = at;
    }
    const s = this.tail;
    let i = 0;
    while (i < s.length) {
      const c = s[i];
      if (this.quote !== '') {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (s.startsWith(this.quote, i)) {
          i += this.quote.length;
          this.quote = '';
          continue;
        } else if (c === this.quote[0] && s.length - i < this.quote.length) return this.scanned(i);
        i++;
        continue;
      }
      if (c === '"' || c === "'") {
        if (s.length - i < 3) return this.scanned(i);
        this.quote = s.startsWith(c.repeat(3), i) ? c.repeat(3) : c;
        i += this.quote.length;
        continue;
      }
      if (c in CLOSERS) {
        this.expected.push(CLOSERS[c]);
      } else if (c === ')' || c === ']' || c === '}') {
        if (this.expected.pop() !== c) {
          this.pos += i;
          this.tailAt = -1;
          this.fail();
          return true;
        }
        if (this.expected.length === 0) {
          this.pos += i + 1;
          this.tailAt = -1;
          this.emitBlock();
          return true;
        }
      }
      i++;
    }
    return this.scanned(i);
  }

  /** The block continues: `n` characters of the tail were scanned; waits for more text. */
  private scanned(n: number): false {
    this.pos += n;
    this.tail = this.tail.slice(n);
    this.tailAt += n;
    return false;
  }

  private emitBlock(): void {
    const text = this.heldText();
    const calls = parsePythonCallList(text);
    if (calls !== undefined && calls.some((c) => this.allowed(c.name))) {
      for (const call of calls) {
        if (this.allowed(call.name)) {
          this.commit(call.name);
          this.emitArgs(call.arguments);
          this.endCall();
        } else {
          this.emitText(text.slice(call.start, call.end));
        }
      }
    }
    this.endRegion();
  }
}

export const pythonicFamily: ToolParserFamily = defineFamily('pythonic', (allowed) => new PythonicEngine(allowed));
