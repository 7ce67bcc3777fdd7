/*
 * Backend request ids. The request's id is also the OpenAI response `id`; what reaches the engine
 * (and what an Abort names) is one id per attempt, derived from it. UUIDv7 sorts by creation time,
 * which keeps worker logs readable.
 */

export type RequestIdPrefix = 'chatcmpl-' | 'cmpl-' | 'gnt-' | 'req-';

/**
 * `rid` from the body is used verbatim, in prefill/decode mode too (both legs of an attempt share its
 * id, and retries get their own through attemptRequestId); else the middleware/header id plus a uuid;
 * else prefix plus a uuid.
 */
export function resolveRequestId(opts: { rid?: string | undefined; headerId?: string | undefined; prefix: RequestIdPrefix }): string {
  if (opts.rid) return opts.rid;
  if (opts.headerId) return `${opts.headerId}-${uuidv7()}`;
  return `${opts.prefix}${uuidv7()}`;
}

/**
 * The engine-side id of one attempt: the request's own id for the first, `{id}-a{n}` after. An
 * attempt that failed on our side may still be known to the engine under its id (SGLang refuses a
 * duplicate rid), and a retry can land on the same worker. The `-a` tag keeps these apart from the
 * servicer's `{rid}-{n}` / `{rid}-prefix` sub-requests.
 */
export function attemptRequestId(requestId: string, attempt: number): string {
  return attempt <= 1 ? requestId : `${requestId}-a${attempt}`;
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** Bytes at or above this would favour the first characters of the alphabet (256 is not a multiple of 62). */
const UNBIASED_LIMIT = 256 - (256 % ALPHANUMERIC.length);

/** The gateway's own request id when no header supplied one: prefix + 24 random alphanumerics. */
export function newMiddlewareId(prefix: string): string {
  let out = prefix;
  let need = 24;
  const bytes = new Uint8Array(32);
  while (need > 0) {
    crypto.getRandomValues(bytes);
    for (let i = 0; i < bytes.length && need > 0; i++) {
      const b = bytes[i]!;
      if (b >= UNBIASED_LIMIT) continue;
      out += ALPHANUMERIC[b % ALPHANUMERIC.length];
      need--;
    }
  }
  return out;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const uuidBytes = new Uint8Array(16);
let lastMs = 0;
let sequence = 0;

/**
 * RFC 9562 UUIDv7: 48-bit unix milliseconds, then random bits. The 12-bit `rand_a` field is a counter
 * within one millisecond (seeded randomly, RFC 9562 §6.2 method 1), so ids from this process are
 * strictly increasing; a counter overflow borrows the next millisecond.
 */
export function uuidv7(): string {
  const b = uuidBytes;
  crypto.getRandomValues(b);
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    // Seed in the lower half of the 12-bit space so there is room to count up.
    sequence = ((b[6]! << 8) | b[7]!) & 0x7ff;
  } else if (++sequence > 0xfff) {
    lastMs++;
    sequence = 0;
  }
  const high = Math.floor(lastMs / 0x100000000);
  const low = lastMs >>> 0;
  b[0] = (high >>> 8) & 0xff;
  b[1] = high & 0xff;
  b[2] = low >>> 24;
  b[3] = (low >>> 16) & 0xff;
  b[4] = (low >>> 8) & 0xff;
  b[5] = low & 0xff;
  b[6] = 0x70 | (sequence >>> 8);
  b[7] = sequence & 0xff;
  b[8] = 0x80 | (b[8]! & 0x3f);
  return (
    HEX[b[0]]! + HEX[b[1]]! + HEX[b[2]]! + HEX[b[3]]! + '-' +
    HEX[b[4]]! + HEX[b[5]]! + '-' +
    HEX[b[6]]! + HEX[b[7]]! + '-' +
    HEX[b[8]]! + HEX[b[9]]! + '-' +
    HEX[b[10]]! + HEX[b[11]]! + HEX[b[12]]! + HEX[b[13]]! + HEX[b[14]]! + HEX[b[15]]!
  );
}
