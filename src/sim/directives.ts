import { status as GrpcStatus } from '@grpc/grpc-js';

/**
 * Test directives written into a prompt, e.g. `<<sim reply="Hi!\n">>` or
 * `<<sim error=UNAVAILABLE message="overloaded">>`. Several `<<sim …>>` blocks may appear
 * (a system prompt and the last user turn, say); they merge in order, later values winning.
 */
export interface Directives {
  /** Reply exactly this text, then EOS. */
  reply?: string;
  /** Reply with this many corpus tokens, then EOS. */
  tokens?: number;
  /** Fail the call with this status before any token (after `delayMs`). */
  error?: { code: number; message: string };
  /** Stream `chunks` chunks, then fail (INTERNAL unless the same block names an `error`). */
  failAfter?: { chunks: number; code: number; message: string };
  /** Answer with the pre-2026 in-band `GenerateError` (oneof slot 4) instead of a status. */
  legacyError?: { message: string; httpStatusCode: string };
  /** Extra delay before the request reaches the scheduler. */
  delayMs?: number;
  /** Like `error`, on a prefill-role worker only (both legs of a PD pair see the same prompt). */
  prefillError?: { code: number; message: string };
  /** Like `delayMs`, on a prefill-role worker only (added to it). */
  prefillDelayMs?: number;
  /** Like `delayMs`, on a decode-role worker only (added to it): a slow KV transfer. */
  decodeDelayMs?: number;
}

/** SGLang's --disaggregation-mode: 'null' is an ordinary worker. */
export type DisaggregationMode = 'null' | 'prefill' | 'decode';
export const DISAGGREGATION_MODES: readonly DisaggregationMode[] = ['null', 'prefill', 'decode'];

/** The directives a worker in `mode` acts on: a prefill or decode worker takes on its role's own. */
export function directivesForMode(d: Directives, mode: DisaggregationMode): Directives {
  const extraDelay = mode === 'prefill' ? d.prefillDelayMs : mode === 'decode' ? d.decodeDelayMs : undefined;
  const error = mode === 'prefill' ? d.prefillError : undefined;
  if (extraDelay === undefined && error === undefined) return d;
  const out: Directives = { ...d };
  if (error !== undefined) out.error = error;
  if (extraDelay !== undefined) out.delayMs = (d.delayMs ?? 0) + extraDelay;
  return out;
}

export class DirectiveError extends Error {}

const OPEN = '<<sim';
const CLOSE = '>>';
const KNOWN = new Set(['reply', 'tokens', 'error', 'message', 'fail-after', 'legacy-error', 'status', 'http-status', 'delay-ms', 'prefill-error', 'prefill-delay-ms', 'decode-delay-ms']);

export function parseDirectives(text: string): Directives {
  const out: Directives = {};
  let at = text.indexOf(OPEN);
  while (at !== -1) {
    const after = text[at + OPEN.length];
    let end = at + OPEN.length;
    // `<<simple>>` is prose, not a directive.
    if (after === undefined || /[\s>]/.test(after)) {
      const block = parseBlock(text, end);
      apply(out, block.attrs);
      end = block.end;
    }
    at = text.indexOf(OPEN, end);
  }
  return out;
}

function parseBlock(text: string, pos: number): { attrs: Map<string, string>; end: number } {
  const attrs = new Map<string, string>();
  for (;;) {
    while (pos < text.length && /\s/.test(text[pos]!)) pos++;
    if (text.startsWith(CLOSE, pos)) return { attrs, end: pos + CLOSE.length };
    const keyMatch = /^[a-z][a-z-]*/.exec(text.slice(pos, pos + 32));
    if (!keyMatch) throw new DirectiveError(`malformed <<sim …>> directive near ${JSON.stringify(text.slice(pos, pos + 20))}`);
    const key = keyMatch[0];
    if (!KNOWN.has(key)) throw new DirectiveError(`unknown <<sim>> attribute "${key}"`);
    pos += key.length;
    let value = '';
    if (text[pos] === '=') {
      pos++;
      if (text[pos] === '"') {
        const q = readQuoted(text, pos + 1);
        value = q.value;
        pos = q.end;
      } else {
        const start = pos;
        while (pos < text.length && !/[\s">]/.test(text[pos]!)) pos++;
        value = text.slice(start, pos);
      }
    }
    attrs.set(key, value);
  }
}

function readQuoted(text: string, pos: number): { value: string; end: number } {
  let value = '';
  while (pos < text.length) {
    const c = text[pos]!;
    if (c === '"') return { value, end: pos + 1 };
    if (c === '\\' && pos + 1 < text.length) {
      const e = text[pos + 1]!;
      value += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e;
      pos += 2;
      continue;
    }
    value += c;
    pos++;
  }
  throw new DirectiveError('unterminated string in <<sim …>> directive');
}

function apply(out: Directives, attrs: Map<string, string>): void {
  const message = attrs.get('message');
  if (attrs.has('reply')) out.reply = attrs.get('reply')!;
  if (attrs.has('tokens')) out.tokens = count(attrs, 'tokens');
  if (attrs.has('delay-ms')) out.delayMs = count(attrs, 'delay-ms');
  const code = attrs.has('error') ? statusCode(attrs.get('error')!) : undefined;
  if (attrs.has('fail-after')) {
    const chunks = count(attrs, 'fail-after');
    const failCode = code ?? GrpcStatus.INTERNAL;
    out.failAfter = { chunks, code: failCode, message: message ?? `simulated ${GrpcStatus[failCode]} after ${chunks} chunks` };
  } else if (code !== undefined) {
    out.error = { code, message: message ?? `simulated ${GrpcStatus[code]}` };
  }
  if (attrs.has('prefill-error')) {
    const prefillCode = statusCode(attrs.get('prefill-error')!);
    out.prefillError = { code: prefillCode, message: message ?? `simulated prefill ${GrpcStatus[prefillCode]}` };
  }
  if (attrs.has('prefill-delay-ms')) out.prefillDelayMs = count(attrs, 'prefill-delay-ms');
  if (attrs.has('decode-delay-ms')) out.decodeDelayMs = count(attrs, 'decode-delay-ms');
  if (attrs.has('legacy-error')) {
    // `legacy-error=503` names the HTTP status; any other value is the message.
    const raw = attrs.get('legacy-error')!;
    const statusOnly = /^\d{3}$/.test(raw);
    out.legacyError = {
      message: message ?? (statusOnly || raw === '' ? 'simulated legacy worker error' : raw),
      httpStatusCode: attrs.get('http-status') ?? attrs.get('status') ?? (statusOnly ? raw : '500'),
    };
  }
}

function statusCode(raw: string): number {
  const name = raw.toUpperCase();
  const code = /^\d+$/.test(name) ? Number(name) : (GrpcStatus as unknown as Record<string, number | undefined>)[name];
  if (code === undefined || code < 1 || code > 16) throw new DirectiveError(`unknown gRPC status "${raw}" in <<sim error=…>>`);
  return code;
}

function count(attrs: Map<string, string>, key: string): number {
  const raw = attrs.get(key)!;
  if (!/^\d+$/.test(raw)) throw new DirectiveError(`<<sim ${key}=…>> needs a non-negative integer, got "${raw}"`);
  return Number(raw);
}
