export type HealthState = 'pending' | 'ready' | 'not_ready' | 'failed';

export interface HealthThresholds {
  /** Consecutive probe failures that take a ready worker out of rotation. */
  failureThreshold: number;
  /** Consecutive probe successes that bring a not_ready or failed worker back. */
  successThreshold: number;
}

/**
 * A worker's health from probes and passive signals.
 *  - pending → ready on its first successful probe (a new worker has no bad history to damp);
 *  - ready → not_ready after `failureThreshold` failed probes, or at once on a passive signal
 *    (connect error, refused stream) seen on a request;
 *  - not_ready / failed → ready after `successThreshold` successful probes in a row;
 *  - not_ready → failed after 3 × `failureThreshold` failures; pending → failed after
 *    10 × `failureThreshold` probes that never succeeded.
 * Failed is not terminal here: failed workers keep being probed, so a restarted worker comes back
 * without an operator (the reference needs one to remove and re-add it).
 */
export class HealthTracker {
  private current: HealthState = 'pending';
  private failures = 0;
  private successes = 0;
  private pendingProbes = 0;

  constructor(
    private readonly thresholds: HealthThresholds,
    private readonly onChange: (from: HealthState, to: HealthState, reason: string) => void,
  ) {}

  get state(): HealthState {
    return this.current;
  }

  probeSucceeded(): void {
    this.failures = 0;
    this.successes++;
    if (this.current === 'pending' || this.successes >= this.thresholds.successThreshold) this.move('ready', 'health check passed');
  }

  probeFailed(reason: string): void {
    this.successes = 0;
    this.failures++;
    const t = this.thresholds.failureThreshold;
    if (this.current === 'pending') {
      if (++this.pendingProbes >= 10 * t) this.move('failed', reason);
    } else if (this.current === 'ready') {
      if (this.failures >= t) this.move('not_ready', reason);
    } else if (this.current === 'not_ready' && this.failures >= 3 * t) {
      this.move('failed', reason);
    }
  }

  /** A request saw the worker unreachable: out of rotation now, probes decide when it returns. */
  unreachable(reason: string): void {
    this.successes = 0;
    if (this.current === 'ready') this.move('not_ready', reason);
  }

  /** Starts over as if newly added (an operator cleared a quarantine). */
  reset(): void {
    this.failures = 0;
    this.successes = 0;
    this.pendingProbes = 0;
    this.move('pending', 'reset');
  }

  private move(to: HealthState, reason: string): void {
    const from = this.current;
    if (from === to) return;
    this.current = to;
    this.successes = 0;
    this.onChange(from, to, reason);
  }
}
