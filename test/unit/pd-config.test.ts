import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/config/args.js';
import { parseRouterConfig, routerHelp, type RouterConfig } from '../../src/config/router-config.js';

const parse = (argv: string[]): RouterConfig => {
  const c = parseRouterConfig(argv, { requireWorkers: true });
  assert.ok(c !== 'help');
  return c;
};

describe('PD disaggregation flags', () => {
  it('pairs each --prefill URL with the bootstrap port that follows it', () => {
    const c = parse(['--pd-disaggregation', '--prefill', 'grpc://p1:1', '9001', '--prefill', 'p2:2', '--prefill', 'p3:3', 'none', '--decode', 'd1:4', '--decode', 'd2:5']);
    assert.equal(c.pdDisaggregation, true);
    assert.deepEqual(c.prefillWorkers, [{ url: 'grpc://p1:1', bootstrapPort: 9001 }, { url: 'grpc://p2:2' }, { url: 'grpc://p3:3' }]);
    assert.deepEqual(c.decodeUrls, ['grpc://d1:4', 'grpc://d2:5']);
    assert.deepEqual(c.workerUrls, []);
  });

  it('takes several URLs after one flag', () => {
    const c = parse(['--pd-disaggregation', '--prefill', 'p1:1', 'p2:2', '8999', '--decode', 'd1:4', 'd2:5']);
    assert.deepEqual(c.prefillWorkers, [{ url: 'grpc://p1:1' }, { url: 'grpc://p2:2', bootstrapPort: 8999 }]);
    assert.deepEqual(c.decodeUrls, ['grpc://d1:4', 'grpc://d2:5']);
  });

  it('defaults to cache_aware for prefill and power_of_two for decode, and takes any routing policy', () => {
    const base = ['--pd-disaggregation', '--prefill', 'p:1', '--decode', 'd:2'];
    const c = parse(base);
    assert.equal(c.prefillPolicy, 'cache_aware');
    assert.equal(c.decodePolicy, 'power_of_two');
    const d = parse([...base, '--prefill-policy', 'round_robin', '--decode-policy', 'least_request']);
    assert.equal(d.prefillPolicy, 'round_robin');
    assert.equal(d.decodePolicy, 'least_request');
  });

  it('is off by default', () => {
    const c = parse(['--worker-urls', 'a:1']);
    assert.equal(c.pdDisaggregation, false);
    assert.deepEqual(c.prefillWorkers, []);
    assert.deepEqual(c.decodeUrls, []);
  });

  it('rejects incomplete, mixed or malformed PD setups with a UsageError', () => {
    const bad: string[][] = [
      ['--pd-disaggregation'],
      ['--pd-disaggregation', '--prefill', 'p:1'],
      ['--pd-disaggregation', '--decode', 'd:1'],
      ['--prefill', 'p:1', '--decode', 'd:2'],
      ['--worker-urls', 'a:1', '--decode', 'd:2'],
      ['--pd-disaggregation', '--worker-urls', 'a:1', '--prefill', 'p:1', '--decode', 'd:2'],
      ['--pd-disaggregation', '--prefill', '9000', 'p:1', '--decode', 'd:2'],
      ['--pd-disaggregation', '--prefill', 'p:1', '9000', '9001', '--decode', 'd:2'],
      ['--pd-disaggregation', '--prefill', 'p:1', '70000', '--decode', 'd:2'],
      ['--pd-disaggregation', '--prefill', 'p:1', '0', '--decode', 'd:2'],
      ['--pd-disaggregation', '--prefill', 'p:1', '--decode', 'p:1'],
      ['--pd-disaggregation', '--prefill', 'p:1', '--decode', 'd:2', 'd:2'],
      ['--pd-disaggregation', '--prefill', 'https://p:1', '--decode', 'd:2'],
      ['--pd-disaggregation', '--prefill', 'p:1', '--decode', 'd:2', '--decode-policy', 'fastest'],
    ];
    for (const argv of bad) assert.throws(() => parse(argv), UsageError, argv.join(' '));
  });

  it('documents the flags in --help', () => {
    const help = routerHelp();
    for (const flag of ['--pd-disaggregation', '--prefill URL [BOOTSTRAP_PORT]', '--decode URL', '--prefill-policy', '--decode-policy']) assert.ok(help.includes(flag), flag);
  });
});
