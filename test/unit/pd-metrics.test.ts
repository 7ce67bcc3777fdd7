import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PdMetrics } from '../../src/metrics/pd-metrics.js';
import { Registry } from '../../src/metrics/registry.js';

const series = (r: Registry) => r.expose().split('\n').filter((l) => l.startsWith('switchyard_pd_') && !l.includes('_bucket'));

describe('PD metrics', () => {
  it('counts pairs and prefill failures per label set, and times the first decode chunk per model', () => {
    const r = new Registry();
    const m = new PdMetrics(r, [0.1, 1]);
    m.pairChosen('p1', 'd1');
    m.pairChosen('p1', 'd1');
    m.pairChosen('p2', 'd1');
    m.prefillFailed('p1', 'worker_unavailable', 'failed_pair');
    m.firstDecodeToken('qwen', 0.05);
    assert.deepEqual(series(r), [
      'switchyard_pd_pair_decisions_total{prefill="p1",decode="d1"} 2',
      'switchyard_pd_pair_decisions_total{prefill="p2",decode="d1"} 1',
      'switchyard_pd_prefill_failures_total{worker="p1",kind="worker_unavailable",effect="failed_pair"} 1',
      'switchyard_pd_ttft_seconds_sum{model="qwen"} 0.05',
      'switchyard_pd_ttft_seconds_count{model="qwen"} 1',
    ]);
  });

  it('drops every series naming a worker that left, on either side of a pair', () => {
    const r = new Registry();
    const m = new PdMetrics(r, [1]);
    m.pairChosen('p1', 'd1');
    m.pairChosen('p2', 'd1');
    m.pairChosen('p2', 'd2');
    m.prefillFailed('p1', 'upstream_error', 'reported');
    m.forgetWorker('d1');
    m.forgetWorker('p1');
    assert.deepEqual(series(r), ['switchyard_pd_pair_decisions_total{prefill="p2",decode="d2"} 1']);
    m.pairChosen('p1', 'd1');
    assert.equal(series(r).length, 2, 'a worker that comes back is counted afresh');
  });
});
