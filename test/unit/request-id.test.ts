import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attemptRequestId, newMiddlewareId, resolveRequestId, uuidv7 } from '../../src/pipeline/request-id.js';

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const UUID_TAIL = /-[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const timestampOf = (id: string): number => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describe('uuidv7', () => {
  it('has the RFC 9562 layout: version 7, variant 10', () => {
    for (let i = 0; i < 200; i++) assert.match(uuidv7(), UUIDV7);
  });

  it('carries the current unix time in milliseconds', () => {
    const before = Date.now();
    const id = uuidv7();
    const after = Date.now();
    const ts = timestampOf(id);
    // A counter overflow in an earlier burst may borrow a millisecond or two ahead.
    assert.ok(ts >= before && ts <= after + 2, `${ts} not in [${before}, ${after}]`);
  });

  it('is strictly increasing within the process, so ids sort by creation', () => {
    let prev = uuidv7();
    for (let i = 0; i < 20000; i++) {
      const id = uuidv7();
      assert.ok(id > prev, `${id} <= ${prev}`);
      prev = id;
    }
  });

  it('stays increasing when the clock stands still or steps back', (t) => {
    let clock = Date.now() + 60_000;
    t.mock.method(Date, 'now', () => clock);
    const ids: string[] = [];
    for (let i = 0; i < 5000; i++) ids.push(uuidv7());
    clock -= 10_000;
    for (let i = 0; i < 10; i++) ids.push(uuidv7());
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!, `${ids[i]} <= ${ids[i - 1]}`);
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(timestampOf(ids[ids.length - 1]!) > timestampOf(ids[0]!), 'a full 12-bit counter moves on to the next millisecond');
  });
});

describe('attemptRequestId', () => {
  it('keeps the request id for the first attempt and tags every later one with its number', () => {
    assert.equal(attemptRequestId('chatcmpl-x', 1), 'chatcmpl-x');
    assert.equal(attemptRequestId('chatcmpl-x', 2), 'chatcmpl-x-a2');
    assert.equal(attemptRequestId('chatcmpl-x', 5), 'chatcmpl-x-a5');
  });

  it('never looks like a servicer sub-request id ({rid}-{n} or {rid}-prefix)', () => {
    for (let n = 2; n < 12; n++) assert.doesNotMatch(attemptRequestId('r', n), /^r-(\d+|prefix)$/);
  });
});

describe('resolveRequestId', () => {
  it('uses rid verbatim', () => {
    assert.equal(resolveRequestId({ rid: 'my-rid', headerId: 'hdr', prefix: 'chatcmpl-' }), 'my-rid');
  });

  it('otherwise extends the header id with a fresh uuid', () => {
    const a = resolveRequestId({ headerId: 'trace-42', prefix: 'cmpl-' });
    const b = resolveRequestId({ headerId: 'trace-42', prefix: 'cmpl-' });
    assert.ok(a.startsWith('trace-42-'));
    assert.match(a, UUID_TAIL);
    assert.notEqual(a, b);
  });

  it('otherwise uses the endpoint prefix', () => {
    for (const prefix of ['chatcmpl-', 'cmpl-', 'gnt-', 'req-'] as const) {
      const id = resolveRequestId({ prefix });
      assert.ok(id.startsWith(prefix));
      assert.match(id.slice(prefix.length), UUIDV7);
    }
    assert.ok(resolveRequestId({ rid: '', headerId: '', prefix: 'gnt-' }).startsWith('gnt-'), 'empty strings count as absent');
  });
});

describe('newMiddlewareId', () => {
  it('is the prefix and 24 alphanumerics', () => {
    assert.match(newMiddlewareId('chatcmpl-'), /^chatcmpl-[A-Za-z0-9]{24}$/);
    assert.match(newMiddlewareId('msg_'), /^msg_[A-Za-z0-9]{24}$/);
  });

  it('is random and draws on the whole alphabet', () => {
    const ids = Array.from({ length: 1000 }, () => newMiddlewareId(''));
    assert.equal(new Set(ids).size, ids.length);
    const seen = new Set(ids.join(''));
    assert.equal(seen.size, 62);
  });

  it('does not favour the start of the alphabet (no modulo bias)', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 2000; i++) for (const c of newMiddlewareId('')) counts.set(c, (counts.get(c) ?? 0) + 1);
    const mean = (chars: string) => [...chars].reduce((s, c) => s + (counts.get(c) ?? 0), 0) / chars.length;
    // Plain `byte % 62` would make the first 8 characters 25% more frequent than the rest.
    const ratio = mean('ABCDEFGH') / mean('IJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789');
    assert.ok(ratio < 1.12 && ratio > 0.89, `ratio ${ratio}`);
  });
});
