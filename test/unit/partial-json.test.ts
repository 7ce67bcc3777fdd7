import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../../bench/rng.js';
import {
  commonPrefixLength,
  compactJson,
  endsWithPartialToken,
  isCompleteJson,
  JsonNumber,
  JsonStreamer,
  jsonStringBody,
  parseJson,
  parsePartialJson,
  partialTokenLength,
  tokenAt,
  type JsonValue,
} from '../../src/parsers/tools/partial-json.js';

/** Plain JS view of a parsed value, for deep comparisons. */
function plain(v: JsonValue | undefined): unknown {
  if (v instanceof JsonNumber) return v.value;
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, plain(x)]));
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

/** Streams `text` through a JsonStreamer in random chunks; returns output and where it stopped. */
function streamInChunks(text: string, rnd: () => number): { out: string; stop: number; done: boolean; failed: boolean } {
  const s = new JsonStreamer();
  let out = '';
  let i = 0;
  let stop = text.length;
  while (i < text.length) {
    const end = Math.min(text.length, i + 1 + Math.floor(rnd() * 8));
    const next = s.feed(text, i, end);
    out += s.take();
    if (s.done || s.failed) {
      stop = next;
      break;
    }
    i = next;
  }
  if (!s.done && !s.failed) s.end();
  out += s.take();
  return { out, stop, done: s.done, failed: s.failed };
}

const WS = ['', ' ', '\n', '  \t', '\r\n '];
const STRINGS = [
  'plain',
  'Köln 世界 🌍',
  'quote " and backslash \\ and slash /',
  'controls \n\t\r\b\f \u0001 \u001f',
  'lone \ud800 high and \udc00 low',
  'pair 😀 split',
  '',
  '</tool_call> <|END_ACTION|>',
];

/** A random JSON text with random whitespace and escape spellings. */
function randomJson(rnd: () => number, depth = 0): string {
  const ws = (): string => WS[Math.floor(rnd() * WS.length)];
  const str = (): string => {
    const raw = STRINGS[Math.floor(rnd() * STRINGS.length)];
    let out = '"';
    for (const ch of raw) {
      const code = ch.codePointAt(0) ?? 0;
      const r = rnd();
      if (ch === '"' || ch === '\\') out += '\\' + ch;
      else if (code < 0x20) out += r < 0.5 ? '\\u' + code.toString(16).padStart(4, '0') : JSON.stringify(ch).slice(1, -1);
      else if (code > 0xffff && r < 0.3) out += '\\u' + ch.charCodeAt(0).toString(16) + '\\u' + ch.charCodeAt(1).toString(16);
      else if (ch === '/' && r < 0.5) out += '\\/';
      else if (code >= 0xd800 && code <= 0xdfff && r < 0.5) out += '\\u' + code.toString(16);
      else if (r < 0.1 && code < 0x10000) out += '\\u' + code.toString(16).padStart(4, '0');
      else out += ch;
    }
    return out + '"';
  };
  const r = rnd();
  if (depth > 4 || r < 0.35) {
    const k = Math.floor(rnd() * 7);
    return [str(), '0', '-12.5e+3', '123456789012345678901234567890', 'true', 'false', 'null'][k];
  }
  if (r < 0.65) {
    const n = Math.floor(rnd() * 4);
    const keys = ['a', '10', 'name', 'b c', '2', 'ü'];
    const used = new Set<string>();
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      const key = keys[Math.floor(rnd() * keys.length)];
      if (used.has(key)) continue;
      used.add(key);
      parts.push(ws() + JSON.stringify(key) + ws() + ':' + ws() + randomJson(rnd, depth + 1) + ws());
    }
    return '{' + ws() + parts.join(',') + '}';
  }
  const n = Math.floor(rnd() * 4);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(ws() + randomJson(rnd, depth + 1) + ws());
  return '[' + ws() + parts.join(',') + ']';
}

describe('parsePartialJson', () => {
  it('returns the keys parsed so far from a truncated object', () => {
    const r = parsePartialJson('{"a": 1, "b": [true, "x"], "c": {"d": nu');
    assert.ok(r);
    assert.equal(r.complete, false);
    assert.deepEqual(plain(r.value), { a: 1, b: [true, 'x'], c: {} });
  });

  it('keeps a cut string only when allowPartialStrings is set', () => {
    assert.deepEqual(plain(parsePartialJson('{"name": "get_wea')?.value), {});
    assert.deepEqual(plain(parsePartialJson('{"name": "get_wea', { allowPartialStrings: true })?.value), {
      name: 'get_wea',
    });
    assert.deepEqual(parsePartialJson('{"name": "', { allowPartialStrings: false }), {
      value: new Map(),
      consumed: 10,
      complete: false,
    });
  });

  it('leaves out a number or literal that may still change', () => {
    assert.deepEqual(plain(parsePartialJson('[1, 23')?.value), [1]);
    assert.deepEqual(plain(parsePartialJson('{"t": tr')?.value), {});
    assert.equal(parsePartialJson('12')?.value, undefined);
    assert.deepEqual(plain(parsePartialJson('12', { final: true })?.value), 12);
  });

  it('drops an incomplete escape from a partial string', () => {
    assert.deepEqual(plain(parsePartialJson('"ab\\u00', { allowPartialStrings: true })?.value), 'ab');
  });

  it('reports the index after a complete value', () => {
    const r = parsePartialJson('  {"a": [1]} tail', { start: 0 });
    assert.deepEqual(r && { consumed: r.consumed, complete: r.complete }, { consumed: 12, complete: true });
    assert.equal(parsePartialJson('xx{"a":1}', { start: 2 })?.consumed, 9);
  });

  it('returns undefined for text that is not a JSON prefix', () => {
    for (const bad of ['{"a" 1}', '{a: 1}', '[1,]', '01', '"\\x"', '{"a": 1,}', "{'a': 1}", 'nul1']) {
      assert.equal(parsePartialJson(bad, { final: true }), undefined, bad);
    }
  });

  it('enforces the depth limit of 32 containers', () => {
    assert.ok(parsePartialJson('['.repeat(32) + ']'.repeat(32))?.complete);
    assert.equal(parsePartialJson('['.repeat(33) + ']'.repeat(33)), undefined);
  });

  it('keeps key order, integer-like keys included, and the last duplicate at its first position', () => {
    const v = parseJson('{"b": 1, "10": 2, "a": 3, "b": 4}');
    assert.ok(v instanceof Map);
    assert.deepEqual([...v.keys()], ['b', '10', 'a']);
    assert.equal(compactJson(v), '{"b":4,"10":2,"a":3}');
  });
});

describe('parseJson / isCompleteJson', () => {
  it('accepts whole JSON texts with surrounding whitespace only', () => {
    assert.equal(isCompleteJson(' {"a": [1, 2.5e3, -0]} \n'), true);
    assert.equal(isCompleteJson('{"a": 1} x'), false);
    assert.equal(isCompleteJson('{"a": 1'), false);
    assert.equal(isCompleteJson(''), false);
  });

  it('accepts raw control characters inside strings and re-escapes them', () => {
    assert.equal(compactJson(parseJson('{"code": "line1\nline2\ttab"}') ?? null), '{"code":"line1\\nline2\\ttab"}');
  });

  it('keeps number spellings, so no precision is lost', () => {
    assert.equal(compactJson(parseJson('[1.0, 12345678901234567890, 1E+2]') ?? null), '[1.0,12345678901234567890,1E+2]');
  });
});

describe('compactJson', () => {
  it('serialises plain numbers like JSON.stringify and non-finite ones as null', () => {
    assert.equal(compactJson([1.5, -0, Infinity, NaN, new JsonNumber('7.0')]), '[1.5,0,null,null,7.0]');
  });

  it('escapes strings exactly as JSON.stringify does', () => {
    for (const s of STRINGS) assert.equal(compactJson(s), JSON.stringify(s));
    assert.equal(jsonStringBody('a"b\n'), 'a\\"b\\n');
  });
});

describe('JsonStreamer', () => {
  it('produces, for any chunking, exactly the compact serialisation of the parsed value', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const rnd = mulberry32(seed);
      const text = randomJson(rnd);
      const expected = compactJson(parseJson(text) ?? null);
      for (let k = 0; k < 4; k++) {
        const r = streamInChunks(text, rnd);
        assert.equal(r.failed, false, text);
        assert.equal(r.out, expected, `seed ${seed}: ${text}`);
      }
    }
  });

  it('matches JSON.stringify(JSON.parse(text)) when numbers and keys are canonical', () => {
    const text = '{ "s": "Köln \\ud83d\\ude00 \\u00e9 \\/ \\"", "n": [0, -1, 2.5], "o": {"x": null, "y": false} }';
    assert.equal(streamInChunks(text, mulberry32(7)).out, JSON.stringify(JSON.parse(text)));
  });

  it('writes only final text: a number waits for its delimiter, a string for its decoded characters', () => {
    const s = new JsonStreamer();
    s.feed('{"a": 12');
    assert.equal(s.take(), '{"a":');
    s.feed('3, "b": "x\\u00');
    assert.equal(s.take(), '123,"b":"x');
    s.feed('e9\\ud83d');
    assert.equal(s.take(), 'é');
    s.feed('\\ude00"}');
    assert.equal(s.take(), '😀"}');
    assert.equal(s.done, true);
  });

  it('keeps a raw surrogate pair split across chunks intact', () => {
    const s = new JsonStreamer();
    const text = '"a😀b"';
    s.feed(text, 0, 2);
    s.feed(text, 2, text.length);
    assert.equal(s.take(), '"a😀b"');
  });

  it('stops right after the value and reports the index', () => {
    const s = new JsonStreamer();
    const text = '{"a": [1, {"b": "}"}]}\n</tool_call>';
    assert.equal(s.feed(text), text.indexOf('\n'));
    assert.equal(s.done, true);
    const n = new JsonStreamer();
    assert.equal(n.feed('42}'), 2);
    assert.equal(n.take(), '42');
  });

  it('completes a top-level number only at end of input', () => {
    const s = new JsonStreamer();
    s.feed('-1.5');
    assert.equal(s.done, false);
    assert.equal(s.end(), true);
    assert.equal(s.take(), '-1.5');
  });

  it('fails at the offending character and says when the value started', () => {
    const s = new JsonStreamer();
    assert.equal(s.started, false);
    assert.equal(s.feed('  {"a": tru'), 11);
    assert.equal(s.started, true);
    assert.equal(s.feed('X'), 0);
    assert.equal(s.failed, true);
    for (const bad of ['[1,]', '{"a":1,}', '01', '"\\q"', '{"a" 1}', '[1 2]', '+1', "'a'"]) {
      const t = new JsonStreamer();
      t.feed(bad);
      t.end();
      assert.equal(t.failed, true, bad);
    }
  });

  it('enforces the depth limit', () => {
    const s = new JsonStreamer();
    s.feed('['.repeat(33));
    assert.equal(s.failed, true);
  });
});

describe('text helpers', () => {
  it('commonPrefixLength never splits a surrogate pair', () => {
    assert.equal(commonPrefixLength('abc', 'abd'), 2);
    assert.equal(commonPrefixLength('x😀', 'x😁'), 1);
    assert.equal(commonPrefixLength('same', 'same'), 4);
  });

  it('endsWithPartialToken finds the longest proper prefix of the token at the end', () => {
    assert.equal(endsWithPartialToken('text <tool_', '<tool_call>'), 6);
    assert.equal(endsWithPartialToken('text <tool_call>', '<tool_call>'), 0);
    assert.equal(endsWithPartialToken('a <', '<tool_call>'), 1);
    assert.equal(endsWithPartialToken('<<', '<<x'), 2);
    assert.equal(endsWithPartialToken('ab<', '<x', 3), 0);
  });

  it('partialTokenLength takes the longest over several tokens', () => {
    assert.equal(partialTokenLength('x [TOOL', ['<tool_call>', '[TOOL_CALLS]']), 5);
  });

  it('tokenAt tells a full, a cut-off and a missing token apart', () => {
    assert.equal(tokenAt('a</end>', 1, '</end>'), 'full');
    assert.equal(tokenAt('a</en', 1, '</end>'), 'partial');
    assert.equal(tokenAt('a</x', 1, '</end>'), 'none');
  });
});
