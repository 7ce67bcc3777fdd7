export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  /** Consecutive failures that open a closed breaker. */
  failureThreshold: number;
  /** Consecutive half-open successes that close it again. */
  successThreshold: number;
  /** How long an open breaker rejects traffic before it lets trial requests through. */
  openMs: number;
  /** A disabled breaker never opens. */
  disabled: boolean;
}

/**
 * One worker's circuit breaker. Closed counts consecutive failures (any success resets the count);
 * open rejects everything until `openMs` has passed; half-open then admits one trial request at a
 * time — unlike the reference, which lets all traffic through a half-open breaker — and closes after
 * `successThreshold` trial successes in a row or re-opens on the first trial failure. While half-open
 * only the trial's outcome counts: a long request sent before the breaker opened and ending now says
 * nothing about the recovery being tested, and must not free the slot of a trial still running.
 */
export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private failures = 0;
  private successes = 0;
  private openedAt = 0;
  private trialInFlight = false;

  constructor(
    private readonly opts: BreakerOptions,
    private readonly onChange: (from: BreakerState, to: BreakerState) => void = () => undefined,
  ) {}

  /** The state as of `now`: an open breaker whose timeout has passed reads as half-open. */
  state(now: number): BreakerState {
    if (this.current === 'open' && now - this.openedAt >= this.opts.openMs) this.move('half_open');
    return this.current;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Whether a new request may go to the worker now. */
  allows(now: number): boolean {
    const s = this.state(now);
    return s === 'closed' || (s === 'half_open' && !this.trialInFlight);
  }

  /**
   * A request was sent; in half-open it takes the single trial slot. Returns whether it did: the
   * request's outcome is then reported with `trial` true.
   */
  dispatched(now: number): boolean {
    if (this.state(now) !== 'half_open') return false;
    this.trialInFlight = true;
    return true;
  }

  /** `trial`: the request held the half-open trial slot (what `dispatched` returned for it). */
  success(trial = true): void {
    if (this.current === 'half_open') {
      if (!trial) return;
      this.trialInFlight = false;
      if (++this.successes >= this.opts.successThreshold) this.move('closed');
      return;
    }
    this.failures = 0;
  }

  failure(now: number, trial = true): void {
    if (this.current === 'half_open') {
      if (!trial) return;
      this.trialInFlight = false;
      if (!this.opts.disabled) this.open(now);
      return;
    }
    if (this.current === 'closed' && !this.opts.disabled && ++this.failures >= this.opts.failureThreshold) this.open(now);
  }

  /** Neither success nor failure (overload, client cancel): a trial only frees its slot. */
  neutral(trial = true): void {
    if (trial && this.current === 'half_open') this.trialInFlight = false;
  }

  private open(now: number): void {
    this.openedAt = now;
    this.move('open');
  }

  private move(to: BreakerState): void {
    const from = this.current;
    if (from === to) return;
    this.current = to;
    this.failures = 0;
    this.successes = 0;
    this.trialInFlight = false;
    this.onChange(from, to);
  }
}
