import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/config/args.js';
import { normalizeWorkerUrl, parseRouterConfig, routerHelp, ROUTER_FLAGS } from '../../src/config/router-config.js';

const parse = (argv: string[]) => parseRouterConfig(argv, { requireWorkers: true });

describe('router flags', () => {
  it('applies the documented defaults', () => {
    const c = parse(['--worker-urls', 'grpc://127.0.0.1:20000']);
    assert.ok(c !== 'help');
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 30000);
    assert.equal(c.tokenizerBackend, 'native');
    assert.equal(c.requestTimeoutSecs, 1800);
    assert.equal(c.maxPayloadSize, 536870912);
    assert.deepEqual(c.requestIdHeaders, ['x-request-id', 'x-correlation-id', 'x-trace-id', 'request-id']);
  });

  it('keeps the prefix tokenizer cache on and the whole-string one off unless told otherwise', () => {
    const d = parse(['--worker-urls', 'a:1']);
    assert.ok(d !== 'help');
    assert.equal(d.tokenizerCacheL0MaxEntries, 0);
    assert.equal(d.tokenizerCacheL1MaxMemory, 52428800);
    const c = parse(['--worker-urls', 'a:1', '--tokenizer-cache-enable-l0', '--tokenizer-cache-l0-max-entries', '50', '--tokenizer-cache-enable-l1=false']);
    assert.ok(c !== 'help');
    assert.equal(c.tokenizerCacheL0MaxEntries, 50);
    assert.equal(c.tokenizerCacheL1MaxMemory, 0);
    for (const bad of [['--tokenizer-cache-l0-max-entries', '0'], ['--tokenizer-cache-l1-max-memory', '1.5'], ['--tokenizer-cache-enable-l1=maybe']]) {
      assert.throws(() => parse(['--worker-urls', 'a:1', ...bad]), UsageError, bad.join(' '));
    }
  });

  it('takes several worker URLs after one flag and normalises them', () => {
    const c = parse(['--worker-urls', 'grpc://a:1', 'http://b:2', 'c:3', '--port=8080']);
    assert.ok(c !== 'help');
    assert.deepEqual(c.workerUrls, ['grpc://a:1', 'grpc://b:2', 'grpc://c:3']);
    assert.equal(c.port, 8080);
  });

  it('maps every kebab-case path flag and the --model alias', () => {
    const c = parse(['--worker-urls', 'a:1', '--model', 'Qwen/Qwen3-8B', '--tokenizer-path', '/t', '--chat-template', '/c.jinja', '--served-model-name', 'm']);
    assert.ok(c !== 'help');
    assert.equal(c.modelPath, 'Qwen/Qwen3-8B');
    assert.equal(c.tokenizerPath, '/t');
    assert.equal(c.chatTemplate, '/c.jinja');
    assert.equal(c.servedModelName, 'm');
  });

  it('rejects unknown flags, bad values and missing workers with a UsageError', () => {
    const bad: string[][] = [
      ['--worker-urls', 'a:1', '--nope'],
      ['--worker-urls', 'a:1', '--port', 'eighty'],
      ['--worker-urls', 'a:1', '--port', '70000'],
      ['--worker-urls', 'a:1', '--prep-threads', '1.5'],
      ['--worker-urls', 'a:1', '--tokenizer-backend', 'rust'],
      ['--worker-urls', 'a:1', '--log-level'],
      ['--worker-urls'],
      [],
      ['--worker-urls', 'https://a:1'],
      ['--worker-urls', 'grpc://nohostport'],
      ['--worker-urls', 'a:1', 'a:1'],
      ['stray'],
    ];
    for (const argv of bad) assert.throws(() => parse(argv), UsageError, argv.join(' '));
  });

  it('answers --help and documents every flag', () => {
    assert.equal(parse(['--help']), 'help');
    const help = routerHelp();
    for (const f of ROUTER_FLAGS) assert.ok(help.includes(`--${f.name}`), f.name);
  });

  it('normalises worker URLs', () => {
    assert.equal(normalizeWorkerUrl('localhost:9000'), 'grpc://localhost:9000');
    assert.equal(normalizeWorkerUrl('grpc://[::1]:9000'), 'grpc://[::1]:9000');
  });
});

describe('routing policy flags', () => {
  it("take the reference gateway's consistent_hashing for consistent_hash, and nothing unknown", () => {
    const c = parse(['--worker-urls', 'a:1', '--policy', 'consistent_hashing']);
    assert.ok(c !== 'help');
    assert.equal(c.policy, 'consistent_hash');
    assert.throws(() => parse(['--worker-urls', 'a:1', '--policy', 'least_load']), UsageError);
  });
});
