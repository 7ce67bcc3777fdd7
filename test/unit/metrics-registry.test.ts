import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from '../../src/metrics/registry.js';
import { RouterMetrics } from '../../src/metrics/router-metrics.js';
import { watchFleet } from '../../src/metrics/worker-metrics.js';
import { WorkerFleet } from '../../src/workers/fleet.js';

describe('Prometheus registry', () => {
  it('renders counters and gauges with HELP, TYPE and labelled series', () => {
    const r = new Registry();
    const c = r.counter('demo_requests_total', 'Requests\nseen', ['path', 'status']);
    c.labels('/a', '200').inc();
    c.labels('/a', '200').inc(2);
    c.labels('/b', '500').inc();
    const g = r.gauge('demo_active', 'Active');
    g.labels().set(3);
    g.labels().dec();
    assert.equal(
      r.expose(),
      [
        '# HELP demo_requests_total Requests\\nseen',
        '# TYPE demo_requests_total counter',
        'demo_requests_total{path="/a",status="200"} 3',
        'demo_requests_total{path="/b",status="500"} 1',
        '# HELP demo_active Active',
        '# TYPE demo_active gauge',
        'demo_active 2',
        '',
      ].join('\n'),
    );
  });

  it('escapes backslashes, quotes and newlines in label values', () => {
    const r = new Registry();
    r.counter('demo_total', 'x', ['v']).labels('a"b\\c\nd').inc();
    assert.match(r.expose(), /^demo_total\{v="a\\"b\\\\c\\nd"\} 1$/m);
  });

  it('renders histograms with cumulative buckets, +Inf, sum and count', () => {
    const r = new Registry();
    const h = r.histogram('demo_seconds', 'Latency', ['path'], [0.1, 1]);
    const s = h.labels('/x');
    for (const v of [0.05, 0.1, 0.5, 3]) s.observe(v);
    assert.deepEqual(r.expose().split('\n').slice(2, -1), [
      'demo_seconds_bucket{path="/x",le="0.1"} 2',
      'demo_seconds_bucket{path="/x",le="1"} 3',
      'demo_seconds_bucket{path="/x",le="+Inf"} 4',
      'demo_seconds_sum{path="/x"} 3.65',
      'demo_seconds_count{path="/x"} 4',
    ]);
  });

  it('reads collected gauges at scrape time', () => {
    const r = new Registry();
    let depth = 0;
    const g = r.gauge('demo_depth', 'Depth');
    const child = g.labels();
    g.collect = () => child.set(depth);
    depth = 7;
    assert.match(r.expose(), /^demo_depth 7$/m);
  });

  it('drops a removed series from the exposition', () => {
    const r = new Registry();
    const g = r.gauge('demo_load', 'Load', ['worker']);
    g.labels('a').set(1);
    g.labels('b').set(2);
    assert.equal(g.remove('a'), true);
    assert.equal(g.remove('a'), false);
    const text = r.expose();
    assert.doesNotMatch(text, /worker="a"/);
    assert.match(text, /^demo_load\{worker="b"\} 2$/m);
  });

  it('rejects bad names, duplicate families, wrong label counts and unordered buckets', () => {
    const r = new Registry();
    assert.throws(() => r.counter('bad-name', 'x'));
    assert.throws(() => r.counter('ok_total', 'x', ['le']));
    r.counter('dup_total', 'x');
    assert.throws(() => r.counter('dup_total', 'x'));
    assert.throws(() => r.counter('two_total', 'x', ['a', 'b']).labels('only-one'));
    assert.throws(() => r.histogram('h_seconds', 'x', [], [1, 1]));
    assert.throws(() => r.counter('neg_total', 'x').labels().inc(-1));
  });
});

describe('router metrics', () => {
  it('records a finished request, its latency and its token timings under route and model', () => {
    const m = new RouterMetrics([1, 10]);
    m.requestStarted();
    const timer = m.tokenTimer('/v1/chat/completions', 'm1', performance.now());
    timer.token();
    timer.token();
    timer.token();
    m.requestFinished('/v1/chat/completions', 'm1', 200, performance.now());
    m.admission('queue_full');
    const text = m.registry.expose();
    const sel = 'path="/v1/chat/completions",model="m1"';
    assert.match(text, new RegExp(`^switchyard_http_requests_total\\{${sel},status_code="200"\\} 1$`, 'm'));
    assert.match(text, new RegExp(`^switchyard_http_request_duration_seconds_count\\{${sel}\\} 1$`, 'm'));
    assert.match(text, new RegExp(`^switchyard_router_ttft_seconds_count\\{${sel}\\} 1$`, 'm'));
    assert.match(text, new RegExp(`^switchyard_router_inter_token_latency_seconds_count\\{${sel}\\} 2$`, 'm'));
    assert.match(text, /^switchyard_http_requests_active 0$/m);
    assert.match(text, /^switchyard_http_rate_limit_total\{result="queue_full"\} 1$/m);
    assert.doesNotMatch(text, /switchyard_admission_queue_depth/);
  });

  it('shows the admission gauges only once admission is watched', () => {
    const m = new RouterMetrics();
    m.watchAdmission({ queued: 4, inFlight: 2 });
    const text = m.registry.expose();
    assert.match(text, /^switchyard_admission_queue_depth 4$/m);
    assert.match(text, /^switchyard_admission_inflight 2$/m);
  });
});

describe('worker metrics', () => {
  it('a removed worker takes every series naming it along, transition counters included', async () => {
    const fleet = new WorkerFleet({
      health: { intervalMs: 60_000, timeoutMs: 1_000, failureThreshold: 2, successThreshold: 2 },
      breaker: { failureThreshold: 1, successThreshold: 1, openMs: 60_000, disabled: false },
      loadIntervalMs: 60_000,
      dpAware: false,
    });
    try {
      const registry = new Registry();
      watchFleet(registry, fleet);
      const [a] = await fleet.add('grpc://127.0.0.1:1');
      const [b] = await fleet.add('grpc://127.0.0.1:2');
      for (const e of [a!, b!]) e.server.health.probeSucceeded();
      fleet.lease(a!, 1).finish('failure');
      const before = registry.expose();
      assert.match(before, /^switchyard_worker_state_transitions_total\{worker="grpc:\/\/127\.0\.0\.1:1",from="pending",to="ready"\} 1$/m);
      assert.match(before, /^switchyard_worker_cb_transitions_total\{worker="grpc:\/\/127\.0\.0\.1:1",from="closed",to="open"\} 1$/m);
      fleet.remove(a!.id);
      const after = registry.expose();
      assert.doesNotMatch(after, /127\.0\.0\.1:1"/);
      assert.match(after, /worker="grpc:\/\/127\.0\.0\.1:2"/);
    } finally {
      fleet.close();
    }
  });
});
