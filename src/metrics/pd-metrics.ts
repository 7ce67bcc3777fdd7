import type { Counter, Histogram, Registry } from './registry.js';

/** Whether the pair still served the answer after its prefill leg failed (the KV had arrived). */
export type PrefillFailureEffect = 'failed_pair' | 'reported';

const KEY_SEP = '\u0000';

/**
 * What prefill/decode disaggregation records: which (prefill, decode) pairs the policies chose, how
 * prefill legs failed, and the time from sending a pair to its first decode token. Labels are
 * bounded: worker ids in the fleet (pairs at most prefill × decode), `kind` an error code of
 * src/workers/grpc-errors.ts, `model` a served model id.
 */
export class PdMetrics {
  private readonly pairs: Counter;
  private readonly prefillFailures: Counter;
  private readonly ttft: Histogram;
  /** The label values of every pair and failure series, so a worker leaving takes all of its own. */
  private readonly pairSeries = new Map<string, readonly string[]>();
  private readonly failureSeries = new Map<string, readonly string[]>();

  constructor(registry: Registry, ttftBuckets: readonly number[]) {
    this.pairs = registry.counter('switchyard_pd_pair_decisions_total', 'Prefill and decode workers chosen together, one pair per attempt', ['prefill', 'decode']);
    this.prefillFailures = registry.counter(
      'switchyard_pd_prefill_failures_total',
      'Prefill legs that failed, by error code, and whether that failed the pair or came after its answer',
      ['worker', 'kind', 'effect'],
    );
    this.ttft = registry.histogram(
      'switchyard_pd_ttft_seconds',
      'Time from sending both legs of a pair to the first decode token (streaming worker calls)',
      ['model'],
      ttftBuckets,
    );
  }

  pairChosen(prefill: string, decode: string): void {
    track(this.pairSeries, [prefill, decode]);
    this.pairs.labels(prefill, decode).inc();
  }

  prefillFailed(worker: string, kind: string, effect: PrefillFailureEffect): void {
    track(this.failureSeries, [worker, kind, effect]);
    this.prefillFailures.labels(worker, kind, effect).inc();
  }

  firstDecodeToken(model: string, seconds: number): void {
    this.ttft.labels(model).observe(seconds);
  }

  /** A worker left the fleet: every series naming it goes too. */
  forgetWorker(worker: string): void {
    forget(this.pairSeries, this.pairs, worker);
    forget(this.failureSeries, this.prefillFailures, worker);
  }
}

function track(series: Map<string, readonly string[]>, values: readonly string[]): void {
  const key = values.join(KEY_SEP);
  if (!series.has(key)) series.set(key, values);
}

function forget(series: Map<string, readonly string[]>, family: Counter, worker: string): void {
  for (const [key, values] of series) {
    if (!values.includes(worker)) continue;
    family.remove(...values);
    series.delete(key);
  }
}
