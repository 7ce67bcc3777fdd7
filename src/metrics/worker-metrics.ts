import type { BreakerState } from '../workers/circuit-breaker.js';
import type { BreakerChange, StateChange, WorkerEntry, WorkerFleet } from '../workers/fleet.js';
import type { HealthState } from '../workers/health-state.js';
import type { Gauge, Registry } from './registry.js';

const HEALTH_STATES: readonly HealthState[] = ['pending', 'ready', 'not_ready', 'failed'];
/** The reference's encoding of smg_worker_cb_state. */
const BREAKER_CODE: Record<BreakerState, number> = { closed: 0, open: 1, half_open: 2 };
const BREAKER_STATES = Object.keys(BREAKER_CODE) as BreakerState[];

/**
 * Per-worker gauges read from the fleet when Prometheus scrapes (the request path pays nothing),
 * and counters of health and breaker transitions fed by the fleet's events. The `worker` label is
 * the entry id (the URL, or `${url}@${rank}` with --dp-aware); a removed worker's series (gauges and
 * transition counters) go away, so worker churn does not grow the label sets without bound.
 */
export function watchFleet(registry: Registry, fleet: WorkerFleet): void {
  const health = registry.gauge('switchyard_worker_health_state', 'Worker health state: 1 for the current state, 0 for the others', ['worker', 'state']);
  const gauges: Gauge[] = [];
  const perWorker = (name: string, help: string, read: (e: WorkerEntry, now: number) => number | undefined): void => {
    const g = registry.gauge(name, help, ['worker']);
    g.collect = () => {
      const now = Date.now();
      for (const e of fleet.list()) {
        const v = read(e, now);
        if (v !== undefined) g.labels(e.id).set(v);
      }
    };
    gauges.push(g);
  };

  health.collect = () => {
    for (const e of fleet.list()) for (const s of HEALTH_STATES) health.labels(e.id, s).set(e.state === s ? 1 : 0);
  };
  perWorker('switchyard_worker_routable', 'Whether new requests may go to the worker (ready, enabled, not dead, breaker admitting)', (e, now) =>
    fleet.isRoutable(e, now) ? 1 : 0,
  );
  perWorker('switchyard_worker_cb_state', 'Circuit breaker state: 0 closed, 1 open, 2 half-open', (e, now) => BREAKER_CODE[e.breaker.state(now)]);
  perWorker('switchyard_worker_requests_active', 'Requests this router has in flight on the worker', (e) => e.inFlight);
  perWorker('switchyard_worker_running_requests', 'Running requests in the worker\'s last load snapshot', (e) => e.load?.runningRequests);
  perWorker('switchyard_worker_waiting_requests', 'Queued requests in the worker\'s last load snapshot', (e) => e.load?.waitingRequests);
  perWorker('switchyard_worker_kv_usage', 'KV cache usage (used / capacity tokens) in the worker\'s last load snapshot', (e) =>
    e.load && e.load.kvCapacityTokens > 0 ? e.load.kvUsedTokens / e.load.kvCapacityTokens : undefined,
  );

  const stateTransitions = registry.counter('switchyard_worker_state_transitions_total', 'Worker health state changes', ['worker', 'from', 'to']);
  const breakerTransitions = registry.counter('switchyard_worker_cb_transitions_total', 'Circuit breaker state changes', ['worker', 'from', 'to']);
  fleet.on('state', (c: StateChange) => stateTransitions.labels(c.id, c.from, c.to).inc());
  fleet.on('breaker', (c: BreakerChange) => breakerTransitions.labels(c.id, c.from, c.to).inc());
  fleet.on('removed', (entries: readonly WorkerEntry[]) => {
    for (const e of entries) {
      for (const s of HEALTH_STATES) health.remove(e.id, s);
      for (const g of gauges) g.remove(e.id);
      for (const from of HEALTH_STATES) for (const to of HEALTH_STATES) stateTransitions.remove(e.id, from, to);
      for (const from of BREAKER_STATES) for (const to of BREAKER_STATES) breakerTransitions.remove(e.id, from, to);
    }
  });
}
