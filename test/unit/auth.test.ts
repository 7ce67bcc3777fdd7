import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bearerToken, KeyChecker } from '../../src/server/auth.js';
import { classifyRoute } from '../../src/server/route-class.js';

describe('route classes', () => {
  it('leaves only the probes public', () => {
    for (const p of ['/health', '/liveness', '/readiness', '/health_generate']) assert.equal(classifyRoute(p), 'public', p);
    assert.equal(classifyRoute('/healthz'), 'api');
    assert.equal(classifyRoute('/health/extra'), 'public');
  });

  it('puts model work under admission and the rest of the client API behind the key only', () => {
    for (const p of ['/v1/chat/completions', '/v1/completions', '/generate', '/v1/tokenize', '/v1/detokenize', '/v1/responses/:response_id']) {
      assert.equal(classifyRoute(p), 'inference', p);
    }
    for (const p of ['/v1/models', '/v1/models/:id', '/', '/generated', '/v1/chat/completionsx']) assert.equal(classifyRoute(p), 'api', p);
  });

  it('treats the control plane, present and future, as admin by prefix', () => {
    for (const p of ['/workers', '/workers/:worker_id', '/flush_cache', '/get_loads', '/parse/reasoning', '/parse/function_call', '/v1/tokenizers/:id/status']) {
      assert.equal(classifyRoute(p), 'admin', p);
    }
    assert.equal(classifyRoute('/workersx'), 'api');
  });
});

describe('API key checks', () => {
  it('reads only Bearer tokens, with a case-insensitive scheme', () => {
    assert.equal(bearerToken('Bearer abc'), 'abc');
    assert.equal(bearerToken('bearer  abc '), 'abc');
    assert.equal(bearerToken('Basic abc'), undefined);
    assert.equal(bearerToken('abc'), undefined);
    assert.equal(bearerToken('Bearer '), undefined);
    assert.equal(bearerToken(undefined), undefined);
  });

  it('opens every route when no key is configured', () => {
    const c = new KeyChecker({});
    assert.equal(c.enabled, false);
    for (const cls of ['public', 'inference', 'api', 'admin'] as const) assert.equal(c.check(cls, undefined), 'ok');
  });

  it('lets the API key guard the admin routes when there is no admin key', () => {
    const c = new KeyChecker({ apiKey: 'k1' });
    assert.equal(c.check('public', undefined), 'ok');
    assert.equal(c.check('inference', undefined), 'missing');
    assert.equal(c.check('api', 'Bearer nope'), 'invalid');
    assert.equal(c.check('api', 'Bearer k1x'), 'invalid');
    assert.equal(c.check('inference', 'Bearer k1'), 'ok');
    assert.equal(c.check('admin', 'Bearer k1'), 'ok');
    assert.equal(c.check('admin', undefined), 'missing');
  });

  it('keeps the admin key to admin routes and the client key out of them', () => {
    const c = new KeyChecker({ apiKey: 'client', adminApiKey: 'admin' });
    assert.equal(c.check('admin', 'Bearer admin'), 'ok');
    assert.equal(c.check('admin', 'Bearer client'), 'not_admin');
    assert.equal(c.check('admin', 'Bearer other'), 'invalid');
    assert.equal(c.check('inference', 'Bearer admin'), 'invalid');
    assert.equal(c.check('api', 'Bearer client'), 'ok');
  });

  it('guards only the admin routes when only an admin key is set', () => {
    const c = new KeyChecker({ adminApiKey: 'admin' });
    assert.equal(c.enabled, true);
    assert.equal(c.check('inference', undefined), 'ok');
    assert.equal(c.check('admin', undefined), 'missing');
    assert.equal(c.check('admin', 'Bearer admin'), 'ok');
  });
});
