import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/config/args.js';
import { parseRouterConfig, routerHelp } from '../../src/config/router-config.js';

const parse = (argv: string[]) => {
  const c = parseRouterConfig(['--worker-urls', 'a:1', ...argv], { requireWorkers: true });
  assert.ok(c !== 'help');
  return c;
};

describe('security, admission, retry and Prometheus flags', () => {
  it('defaults: no keys, unlimited admission, the reference retry schedule, metrics on 127.0.0.1:29000', () => {
    const c = parse([]);
    assert.equal(c.apiKey, undefined);
    assert.equal(c.adminApiKey, undefined);
    assert.equal(c.maxConcurrentRequests, -1);
    assert.equal(c.queueSize, 100);
    assert.equal(c.queueTimeoutSecs, 60);
    assert.equal(c.rateLimitTokensPerSecond, 0);
    assert.deepEqual(
      [c.retryMaxRetries, c.retryInitialBackoffMs, c.retryMaxBackoffMs, c.retryBackoffMultiplier, c.retryJitterFactor, c.disableRetries],
      [5, 50, 30000, 1.5, 0.2, false],
    );
    assert.equal(c.prometheusHost, '127.0.0.1');
    assert.equal(c.prometheusPort, 29000);
    assert.equal(c.disablePrometheus, false);
    assert.ok(c.prometheusDurationBuckets.length > 3);
  });

  it('takes every flag', () => {
    const c = parse([
      '--api-key', 'k', '--admin-api-key', 'a',
      '--max-concurrent-requests', '8', '--queue-size', '0', '--queue-timeout-secs', '2.5', '--rate-limit-tokens-per-second', '4',
      '--retry-max-retries', '3', '--retry-initial-backoff-ms', '10', '--retry-max-backoff-ms', '100', '--retry-backoff-multiplier', '2',
      '--retry-jitter-factor', '0', '--disable-retries',
      '--prometheus-host', '0.0.0.0', '--prometheus-port', '0', '--prometheus-duration-buckets', '0.1', '1', '10', '--disable-prometheus',
    ]);
    assert.equal(c.apiKey, 'k');
    assert.equal(c.adminApiKey, 'a');
    assert.deepEqual([c.maxConcurrentRequests, c.queueSize, c.queueTimeoutSecs, c.rateLimitTokensPerSecond], [8, 0, 2.5, 4]);
    assert.deepEqual([c.retryMaxRetries, c.retryInitialBackoffMs, c.retryMaxBackoffMs, c.retryBackoffMultiplier, c.retryJitterFactor], [3, 10, 100, 2, 0]);
    assert.equal(c.disableRetries, true);
    assert.deepEqual([c.prometheusHost, c.prometheusPort, c.disablePrometheus], ['0.0.0.0', 0, true]);
    assert.deepEqual(c.prometheusDurationBuckets, [0.1, 1, 10]);
  });

  it('rejects bad values with a UsageError', () => {
    for (const bad of [
      ['--api-key', ' '],
      ['--admin-api-key', ''],
      ['--max-concurrent-requests', '0'],
      ['--max-concurrent-requests', '-2'],
      ['--queue-size', '-1'],
      ['--queue-timeout-secs', '0'],
      ['--rate-limit-tokens-per-second', '-1'],
      ['--retry-max-retries', '0'],
      ['--retry-backoff-multiplier', '0.5'],
      ['--retry-jitter-factor', '1.5'],
      ['--retry-initial-backoff-ms', '500', '--retry-max-backoff-ms', '100'],
      ['--prometheus-port', '70000'],
      ['--prometheus-duration-buckets', '1', '0.5'],
      ['--prometheus-duration-buckets', '0', '1'],
      ['--prometheus-duration-buckets', 'x'],
    ]) {
      assert.throws(() => parse(bad), UsageError, bad.join(' '));
    }
  });

  it('lists the new flags in --help', () => {
    const help = routerHelp();
    for (const f of ['--api-key', '--admin-api-key', '--max-concurrent-requests', '--queue-size', '--queue-timeout-secs', '--rate-limit-tokens-per-second', '--retry-max-retries', '--disable-retries', '--prometheus-port', '--prometheus-host', '--prometheus-duration-buckets', '--disable-prometheus']) {
      assert.ok(help.includes(f), f);
    }
  });
});
