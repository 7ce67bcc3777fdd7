/**
 * GPT-OSS output parsing on token ids (o200k_harmony). The prompt ends with `<|start|>assistant`,
 * so the output opens inside an assistant header:
 *
 *   <|channel|>analysis<|message|>…<|end|><|start|>assistant<|channel|>commentary to=functions.f <|constrain|>json<|message|>{…}<|call|>
 *
 * Each message is classified once, when its header ends at `<|message|>`; its text then streams to
 * that destination. Complete parsing is the same machine fed all ids at once, so any chunking of
 * the ids yields the same concatenated result. Classification (the reference's, recipient first):
 * - recipient `functions.NAME` → tool call NAME with the raw message text as arguments, any channel;
 * - recipient starting with `python`, `browser` or `container` (built-in tools) → reasoning;
 * - channel `analysis`, or `commentary` without such a recipient → reasoning;
 * - `final`, unknown or no channel → content;
 * - messages of other authors (a hallucinated tool result) are dropped.
 * Reasoning messages are joined with "\n". Where the reference lets a later analysis message
 * REPLACE the earlier one, both modes here APPEND it: a stream cannot take back text it has sent.
 *
 * Leniency where the reference raises or leaks markup (malformed output never throws):
 * - a message cut off by the end of output counts as complete (truncated tool arguments included);
 * - `<|start|>` or `<|channel|>` inside a message text ends that message and opens the next one;
 *   `<|start|>assistant` may be left out after `<|end|>`; a header may omit its role;
 * - a header that ends without `<|message|>` (at a stop token, `<|start|>` or the end of output)
 *   is malformed: if it carries header markup, its words other than role, channel, `to=…` and
 *   `<|constrain|>…` become the text of a message of its channel; without markup (plain text with
 *   no Harmony structure at all) it is content verbatim. Such text is held until the header ends;
 * - other special tokens inside a message text are dropped; extra header words are ignored.
 */

/** The o200k_harmony special ids the format uses (checked against tokenizer.json by the tests). */
export const HARMONY_TOKEN_IDS = {
  endOfText: 199999,
  return: 200002,
  constrain: 200003,
  channel: 200005,
  start: 200006,
  end: 200007,
  message: 200008,
  call: 200012,
} as const;

/** Every id from here up is an added special token in o200k_harmony; below it, ordinary text. */
const FIRST_SPECIAL_ID = 199998;

const T = HARMONY_TOKEN_IDS;

/** Incremental text of ordinary token ids: `push` returns the text made final, `flush` the rest. */
export interface HarmonyTextDecoder {
  push(ids: ArrayLike<number>): string;
  /** End of a message: held bytes of an incomplete character become U+FFFD. */
  flush(): string;
}

/**
 * Where the parser gets text from ids. The router wraps its exact incremental detokenizer:
 * `{ createDecoder: () => createDetokenizer(tok, { skipSpecialTokens: true }) }`.
 */
export interface HarmonyTokenText {
  createDecoder(): HarmonyTextDecoder;
}

export interface HarmonyDelta {
  reasoning: string;
  content: string;
  /** The first piece of call `index` carries `name`; argument pieces concatenate to the raw arguments. */
  calls: { index: number; name?: string; arguments: string }[];
}

export interface HarmonyParseResult {
  reasoning: string;
  content: string;
  calls: { name: string; arguments: string }[];
}

const enum Dest {
  Drop,
  Reasoning,
  Content,
  Call,
}

const enum State {
  /** Between messages: `<|start|>` (or, leniently, anything that opens a header) comes next. */
  Idle,
  Header,
  Body,
  Done,
}

const BUILTIN_RECIPIENTS = ['python', 'browser', 'container'];

export class HarmonyStreamParser {
  private state = State.Header;
  /** Whether the header being read got its role from context (output start, implicit start). */
  private roleImplied = true;
  private header: number[] = [];
  private dest = Dest.Drop;
  private decoder: HarmonyTextDecoder | null = null;
  private calls = 0;
  private reasoningSoFar = false;
  private separatorDue = false;
  private reasoningIds = 0;
  private out: HarmonyDelta = emptyDelta();

  constructor(private readonly text: HarmonyTokenText) {}

  get hasToolCalls(): boolean {
    return this.calls > 0;
  }

  /** Ids of reasoning text seen so far (for usage `reasoning_tokens`). */
  get reasoningTokens(): number {
    return this.reasoningIds;
  }

  push(ids: ArrayLike<number>): HarmonyDelta {
    let i = 0;
    const n = ids.length;
    while (i < n && this.state !== State.Done) {
      if (this.state === State.Body) {
        // A run of ordinary ids goes to the decoder in one call.
        let j = i;
        while (j < n && ids[j]! < FIRST_SPECIAL_ID) j++;
        if (j > i) {
          this.bodyText(slice(ids, i, j), j - i);
          i = j;
          continue;
        }
      }
      this.step(ids[i]!);
      i++;
    }
    return this.take();
  }

  finish(): HarmonyDelta {
    if (this.state === State.Header) this.malformedHeader();
    else if (this.state === State.Body) this.endMessage();
    this.state = State.Done;
    return this.take();
  }

  private step(id: number): void {
    switch (this.state) {
      case State.Idle:
        if (id === T.start) this.openHeader(false);
        else if (!isStop(id)) {
          this.openHeader(true);
          this.step(id);
        }
        return;
      case State.Header:
        if (id === T.message) this.beginBody();
        else if (isStop(id)) {
          this.malformedHeader();
          this.state = State.Idle;
        } else if (id === T.start) {
          this.malformedHeader();
          this.openHeader(false);
        } else this.header.push(id);
        return;
      case State.Body:
        if (isStop(id)) {
          this.endMessage();
          this.state = State.Idle;
        } else if (id === T.start) {
          this.endMessage();
          this.openHeader(false);
        } else if (id === T.channel) {
          this.endMessage();
          this.openHeader(true);
          this.header.push(id);
        }
        // Any other special id inside a message text is dropped.
        return;
      default:
        return;
    }
  }

  private openHeader(roleImplied: boolean): void {
    this.state = State.Header;
    this.roleImplied = roleImplied;
    this.header.length = 0;
  }

  private beginBody(): void {
    const h = parseHeader(this.headerText(), this.roleImplied);
    this.startMessage(classify(h));
    if (this.dest === Dest.Call) this.out.calls.push({ index: this.calls - 1, name: h.recipient!.slice('functions.'.length), arguments: '' });
    this.decoder = this.text.createDecoder();
    this.state = State.Body;
  }

  private startMessage(dest: Dest): void {
    this.dest = dest;
    if (dest === Dest.Reasoning) this.separatorDue = this.reasoningSoFar;
    else if (dest === Dest.Call) this.calls++;
  }

  private bodyText(ids: ArrayLike<number>, count: number): void {
    if (this.dest === Dest.Drop) return;
    if (this.dest === Dest.Reasoning) this.reasoningIds += count;
    this.emit(this.decoder!.push(ids));
  }

  private endMessage(): void {
    this.emit(this.decoder!.flush());
    this.decoder = null;
    this.dest = Dest.Drop;
  }

  private malformedHeader(): void {
    const text = this.headerText();
    this.header.length = 0;
    const m = salvageHeader(text, this.roleImplied);
    if (!m.assistant || m.text === '') return;
    this.startMessage(m.channel === 'analysis' || m.channel === 'commentary' ? Dest.Reasoning : Dest.Content);
    this.emit(m.text);
    this.dest = Dest.Drop;
  }

  private emit(text: string): void {
    if (text === '') return;
    switch (this.dest) {
      case Dest.Reasoning:
        if (this.separatorDue) {
          this.out.reasoning += '\n';
          this.separatorDue = false;
        }
        this.out.reasoning += text;
        this.reasoningSoFar = true;
        return;
      case Dest.Content:
        this.out.content += text;
        return;
      case Dest.Call: {
        const calls = this.out.calls;
        const last = calls[calls.length - 1];
        if (last && last.index === this.calls - 1) last.arguments += text;
        else calls.push({ index: this.calls - 1, arguments: text });
        return;
      }
      default:
        return;
    }
  }

  /** Header ids as text, with the markup specials written out as the header grammar expects. */
  private headerText(): string {
    let out = '';
    let runStart = -1;
    const h = this.header;
    for (let k = 0; k <= h.length; k++) {
      const id = k < h.length ? h[k]! : -1;
      if (id >= 0 && id < FIRST_SPECIAL_ID) {
        if (runStart < 0) runStart = k;
        continue;
      }
      if (runStart >= 0) {
        const d = this.text.createDecoder();
        out += d.push(h.slice(runStart, k)) + d.flush();
        runStart = -1;
      }
      if (id === T.channel) out += CHANNEL;
      else if (id === T.constrain) out += CONSTRAIN;
    }
    return out;
  }

  private take(): HarmonyDelta {
    const d = this.out;
    this.out = emptyDelta();
    return d;
  }
}

/** One-shot parse of a whole output; equal to the concatenation of any streamed parse. */
export function parseHarmonyComplete(ids: ArrayLike<number>, text: HarmonyTokenText): HarmonyParseResult {
  return parseAllWith(new HarmonyStreamParser(text), ids);
}

/** Feeds a fresh parser every id and finishes it; the parser stays readable (reasoningTokens). */
export function parseAllWith(parser: HarmonyStreamParser, ids: ArrayLike<number>): HarmonyParseResult {
  const result: HarmonyParseResult = { reasoning: '', content: '', calls: [] };
  for (const d of [parser.push(ids), parser.finish()]) {
    result.reasoning += d.reasoning;
    result.content += d.content;
    for (const c of d.calls) {
      if (c.name !== undefined) result.calls[c.index] = { name: c.name, arguments: '' };
      result.calls[c.index]!.arguments += c.arguments;
    }
  }
  return result;
}

function emptyDelta(): HarmonyDelta {
  return { reasoning: '', content: '', calls: [] };
}

function isStop(id: number): boolean {
  return id === T.end || id === T.return || id === T.call || id === T.endOfText;
}

function slice(ids: ArrayLike<number>, from: number, to: number): ArrayLike<number> {
  if (from === 0 && to === ids.length) return ids;
  if (ArrayBuffer.isView(ids)) return (ids as unknown as Uint32Array).subarray(from, to);
  return Array.prototype.slice.call(ids, from, to) as number[];
}

// ---------------------------------------------------------------------------------------------
// Header grammar: `ROLE[ to=RECIPIENT]<|channel|>CHANNEL[ to=RECIPIENT][ <|constrain|>TYPE]`

const CHANNEL = '<|channel|>';
const CONSTRAIN = '<|constrain|>';

interface Header {
  assistant: boolean;
  channel: string | null;
  recipient: string | null;
}

/** Cuts `<|channel|>NAME` (NAME ends at whitespace or `<`) out of the header. */
function takeChannel(header: string): { channel: string | null; rest: string } {
  const at = header.indexOf(CHANNEL);
  if (at < 0) return { channel: null, rest: header };
  const from = at + CHANNEL.length;
  let end = from;
  while (end < header.length && header[end] !== '<' && !/\s/.test(header[end]!)) end++;
  return { channel: header.slice(from, end), rest: header.slice(0, at) + header.slice(end) };
}

function words(text: string): string[] {
  return text.replaceAll(CONSTRAIN, ` ${CONSTRAIN}`).split(/\s+/).filter((w) => w !== '');
}

/** Role word handling: `assistant` is dropped; another author's name makes the message foreign. */
function takeRole(parts: string[], roleImplied: boolean): boolean {
  const first = parts[0];
  if (first === 'assistant') {
    parts.shift();
    return true;
  }
  if (roleImplied || first === undefined || first.startsWith('to=') || first.startsWith(CONSTRAIN)) return true;
  parts.shift();
  return false;
}

function parseHeader(text: string, roleImplied: boolean): Header {
  const { channel, rest } = takeChannel(text);
  const parts = words(rest);
  const assistant = takeRole(parts, roleImplied);
  // The reference's rule: the last word is `to=R`, a lone bare recipient, or a content type
  // with the recipient (with or without `to=`) just before it.
  let recipient: string | null = null;
  const single = parts.length === 1;
  const last = parts.pop();
  if (last !== undefined) {
    if (last.startsWith('to=')) recipient = last.slice(3);
    else if (single && !last.startsWith(CONSTRAIN)) recipient = last;
    else {
      const before = parts.pop();
      if (before !== undefined) recipient = before.startsWith('to=') ? before.slice(3) : before;
    }
  }
  return { assistant, channel, recipient };
}

function classify(h: Header): Dest {
  if (!h.assistant) return Dest.Drop;
  const r = h.recipient;
  if (r !== null) {
    if (r.startsWith('functions.') && r.length > 'functions.'.length) return Dest.Call;
    if (BUILTIN_RECIPIENTS.some((b) => r.startsWith(b))) return Dest.Reasoning;
  }
  return h.channel === 'analysis' || h.channel === 'commentary' ? Dest.Reasoning : Dest.Content;
}

/** The text of a header that never reached `<|message|>` (see the module comment). */
function salvageHeader(text: string, roleImplied: boolean): { assistant: boolean; channel: string | null; text: string } {
  if (!text.includes(CHANNEL) && !text.includes(CONSTRAIN)) {
    if (roleImplied) return { assistant: true, channel: null, text };
    // After `<|start|>` the first word names the author.
    const m = /^\s*(\S+)/.exec(text);
    const assistant = !m || m[1] === 'assistant';
    return { assistant, channel: null, text: m ? text.slice(m[0].length).trim() : '' };
  }
  const { channel, rest } = takeChannel(text);
  const parts = words(rest);
  const assistant = takeRole(parts, roleImplied);
  const kept = parts.filter((w) => !w.startsWith('to=') && !w.startsWith(CONSTRAIN));
  return { assistant, channel, text: kept.join(' ') };
}
