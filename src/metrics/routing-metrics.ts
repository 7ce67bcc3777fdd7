import { POLICY_NAMES } from '../routing/index.js';
import type { Counter, Histogram, Registry } from './registry.js';

/** How a retry (an attempt after the first) ended. */
export type RetryOutcome = 'success' | 'failure' | 'cancelled';

const BACKOFF_BUCKETS: readonly number[] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * What the dispatch records: routing decisions per policy, retries and their backoff, and how well
 * the router's cache prediction matches what workers report. Labels are bounded: `route` is a route
 * template, `worker` an id in the fleet, `policy` a policy name.
 */
export class RoutingMetrics {
  private readonly decisions: Counter;
  private readonly retries: Counter;
  private readonly exhausted: Counter;
  private readonly backoff: Histogram;
  private readonly predicted: Counter;
  private readonly reported: Counter;

  constructor(registry: Registry) {
    this.decisions = registry.counter('switchyard_router_route_decisions_total', 'Workers chosen by the routing policy, one per attempt', ['policy', 'worker']);
    this.retries = registry.counter(
      'switchyard_router_retries_total',
      'Attempts after the first (sent before any byte reached the client), by how they ended',
      ['route', 'outcome'],
    );
    this.exhausted = registry.counter(
      'switchyard_router_retries_exhausted_total',
      'Requests that failed with a retryable error after using every attempt or their deadline',
      ['route'],
    );
    this.backoff = registry.histogram('switchyard_router_retry_backoff_seconds', 'Wait before a retry (backoff with jitter, or the worker\'s hint)', [], BACKOFF_BUCKETS);
    this.predicted = registry.counter(
      'switchyard_router_predicted_cached_tokens_total',
      'Prompt tokens the routing policy expected the serving worker to have cached, over served requests',
      ['worker'],
    );
    this.reported = registry.counter(
      'switchyard_worker_reported_cached_tokens_total',
      'Prompt tokens the serving worker reported as cached (usage cached_tokens), over the same requests',
      ['worker'],
    );
  }

  decision(policy: string, worker: string): void {
    this.decisions.labels(policy, worker).inc();
  }

  retryWaited(ms: number): void {
    this.backoff.labels().observe(ms / 1000);
  }

  retry(route: string, outcome: RetryOutcome): void {
    this.retries.labels(route, outcome).inc();
  }

  retriesExhausted(route: string): void {
    this.exhausted.labels(route).inc();
  }

  /** A served request: the policy's prediction next to the worker's report, counted together. */
  cachedTokens(worker: string, predicted: number, reported: number): void {
    this.predicted.labels(worker).inc(predicted);
    this.reported.labels(worker).inc(reported);
  }

  /** A worker left the fleet: its series go with it, so churn does not grow the label set without bound. */
  forgetWorker(worker: string): void {
    for (const policy of POLICY_NAMES) this.decisions.remove(policy, worker);
    this.predicted.remove(worker);
    this.reported.remove(worker);
  }
}
