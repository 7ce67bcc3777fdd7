/**
 * What the markup tool-call families (qwen_xml, glm, kimik2, kimi_k3, minimax_m2, step3, inkling,
 * sarashina) share: the request's tool declarations, value coercion against their schemas
 * (see schema-coerce.ts), incremental argument objects, and one streaming skeleton.
 *
 * Every family is ONE streaming state machine; complete mode is that machine fed the whole text
 * (`completeByStreaming`). Streaming and complete parsing therefore agree by construction, and the
 * machines only ever decide on text they have seen in full (a marker cut by a chunk boundary is held
 * back until the next chunk, or until `finish()` says no more text comes), so the result does not
 * depend on the chunking either.
 *
 * Common rules of the families built on `MarkupParser`:
 * - Names: with no declared tools every name is allowed; otherwise a call whose name is not declared
 *   keeps its markup as normal text.
 * - Text before, between and after calls is normal text. Inside a section wrapper (kimik2's
 *   `<|tool_calls_section_begin|>`, step3's `<｜tool_calls_begin｜>`, minimax's `<minimax:tool_call>`,
 *   kimi_k3's tools channel) a whitespace-only gap between calls is layout and dropped; a gap with
 *   other text is kept verbatim.
 * - Arguments are compact JSON with keys in document order. Built from markup parameters
 *   (`ArgsWriter`), a repeated key keeps its first value, as a streamed key cannot be taken back;
 *   JSON and Python payloads (inkling, sarashina) keep the last value at the first position, as
 *   partial-json does.
 */
import type { ParsedToolCall, ToolCallDelta, ToolParseResult, ToolParser, ToolSpec, ToolStreamResult } from '../types.js';
import { partialTokenLength } from './partial-json.js';
import { ToolCatalog } from './schema-coerce.js';

/** Builds a compact arguments object one parameter at a time: `{"a":1`, `,"b":2`, then `}`. */
export class ArgsWriter {
  private readonly keys = new Set<string>();

  /** The fragment adding `key`, or `''` when the key was already written. */
  add(key: string, valueJson: string): string {
    if (this.keys.has(key)) return '';
    const fragment = (this.keys.size === 0 ? '{' : ',') + JSON.stringify(key) + ':' + valueJson;
    this.keys.add(key);
    return fragment;
  }

  /** The fragment that ends the object (`{}` when nothing was added). */
  close(): string {
    return this.keys.size === 0 ? '{}' : '}';
  }
}

const FIRST_CHARACTERS = new WeakMap<readonly string[], string>();

/** The distinct first characters of a marker list (the lists are module constants: computed once each). */
function firstCharacters(markers: readonly string[]): string {
  let chars = FIRST_CHARACTERS.get(markers);
  if (chars === undefined) {
    chars = [...new Set(markers.map((m) => m.charAt(0)))].join('');
    FIRST_CHARACTERS.set(markers, chars);
  }
  return chars;
}

/**
 * The streaming skeleton. A family implements `step()` (consume what can be decided from `buf`, return
 * whether to call it again) and `end()` (release what is left once `finish()` drained the steps);
 * `done` tells `step()` that no more text will come, so a partial marker is just text.
 */
export abstract class MarkupParser implements ToolParser {
  abstract readonly name: string;
  protected readonly catalog: ToolCatalog;
  /** Text received and not yet consumed. States that wait for a terminator move the text before it
   *  out of `buf` as they go, so each search only looks at new text. */
  protected buf = '';
  protected done = false;
  /** The marker the last `seek` found, `''` when it found none. */
  protected hit = '';
  private normal = '';
  private calls: ToolCallDelta[] = [];
  private callIndex = 0;
  private gapPending = '';
  private gapKept = false;

  constructor(tools: readonly ToolSpec[]) {
    this.catalog = new ToolCatalog(tools);
  }

  push(chunk: string): ToolStreamResult {
    this.buf += chunk;
    while (this.step());
    return this.take();
  }

  finish(): ToolStreamResult {
    this.done = true;
    while (this.step());
    this.end();
    return this.take();
  }

  protected abstract step(): boolean;
  protected abstract end(): void;

  /**
   * Index of the earliest of `markers` in `buf` (longest on a tie), recorded in `hit`. When there is
   * none, `hit` is `''` and the result is the length of the text that cannot be the start of a marker.
   */
  protected seek(markers: readonly string[]): number {
    let at = -1;
    this.hit = '';
    // No marker can start before the first of their first characters (most chunks hold none):
    // one search per distinct first character instead of one per marker over the whole buffer.
    let from = -1;
    for (const c of firstCharacters(markers)) {
      const i = this.buf.indexOf(c);
      if (i >= 0 && (from < 0 || i < from)) from = i;
    }
    for (const m of from < 0 ? [] : markers) {
      const i = this.buf.indexOf(m, from);
      if (i >= 0 && (at < 0 || i < at || (i === at && m.length > this.hit.length))) {
        at = i;
        this.hit = m;
      }
    }
    if (at >= 0) return at;
    return this.done ? this.buf.length : this.buf.length - partialTokenLength(this.buf, markers);
  }

  /** Removes and returns the first `n` characters of `buf`. */
  protected cut(n: number): string {
    const head = this.buf.slice(0, n);
    this.buf = this.buf.slice(n);
    return head;
  }

  protected text(s: string): void {
    this.normal += s;
  }

  /** Text between the elements of a section: dropped while it is only whitespace. */
  protected gapText(s: string): void {
    if (this.gapKept) {
      this.normal += s;
    } else if (/\S/.test(s)) {
      this.normal += this.gapPending + s;
      this.gapPending = '';
      this.gapKept = true;
    } else {
      this.gapPending += s;
    }
  }

  /** A section element starts or ends: the next gap is judged on its own. */
  protected gapBreak(): void {
    this.gapPending = '';
    this.gapKept = false;
  }

  protected openCall(name: string): void {
    this.calls.push({ index: this.callIndex, name, arguments: '' });
  }

  protected callArgs(fragment: string): void {
    if (fragment === '') return;
    const last = this.calls[this.calls.length - 1];
    if (last !== undefined && last.index === this.callIndex) last.arguments += fragment;
    else this.calls.push({ index: this.callIndex, arguments: fragment });
  }

  protected closeCall(): void {
    this.callIndex++;
  }

  protected wholeCall(name: string, args: string): void {
    this.openCall(name);
    this.callArgs(args);
    this.closeCall();
  }

  private take(): ToolStreamResult {
    const out = { normal: this.normal, calls: this.calls };
    this.normal = '';
    this.calls = [];
    return out;
  }
}

/** Complete-mode parsing with a family's streaming parser: the whole text as one chunk. */
export function completeByStreaming(parser: ToolParser, text: string): ToolParseResult {
  const first = parser.push(text);
  const last = parser.finish();
  const calls: ParsedToolCall[] = [];
  for (const d of [...first.calls, ...last.calls]) {
    const call = calls[d.index];
    if (call === undefined) calls[d.index] = { name: d.name ?? '', arguments: d.arguments };
    else call.arguments += d.arguments;
  }
  return { normal: first.normal + last.normal, calls };
}
