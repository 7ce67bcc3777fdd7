/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the text
 * exposition format 0.0.4. Recording never allocates once a series exists: callers resolve a
 * labelled child once (per request, or once at startup) and then only touch its numbers.
 */

/** One labelled series of a counter. */
export interface CounterChild {
  inc(by?: number): void;
}

/** One labelled series of a gauge. */
export interface GaugeChild {
  set(v: number): void;
  inc(by?: number): void;
  dec(by?: number): void;
}

/** One labelled series of a histogram. */
export interface HistogramChild {
  observe(v: number): void;
}

interface Family {
  render(out: string[]): void;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Separates label values in a series key; cannot appear in a label value that matters. */
const KEY_SEP = '\u0000';

export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  return String(v);
}

/** Series keyed by their label values; each remembers its rendered `{a="x",b="y"}` selector. */
abstract class LabelledFamily<C> implements Family {
  private readonly series = new Map<string, { labels: string; child: C }>();

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly type: 'counter' | 'gauge' | 'histogram',
    protected readonly labelNames: readonly string[],
  ) {
    if (!NAME.test(name)) throw new Error(`invalid metric name '${name}'`);
    for (const l of labelNames) if (!LABEL.test(l) || l === 'le') throw new Error(`invalid label name '${l}' on ${name}`);
  }

  protected abstract create(): C;
  protected abstract renderSeries(out: string[], labels: string, child: C): void;

  /** The series for these label values (in `labelNames` order), created on first use. */
  labels(...values: string[]): C {
    if (values.length !== this.labelNames.length) {
      throw new Error(`${this.name} takes ${this.labelNames.length} label values, got ${values.length}`);
    }
    const key = values.length === 1 ? values[0]! : values.join(KEY_SEP);
    let s = this.series.get(key);
    if (!s) {
      const labels = values.length === 0 ? '' : values.map((v, i) => `${this.labelNames[i]}="${escapeLabelValue(v)}"`).join(',');
      s = { labels, child: this.create() };
      this.series.set(key, s);
    }
    return s.child;
  }

  /** Drops the series for these label values (a worker that left); true if it existed. */
  remove(...values: string[]): boolean {
    return this.series.delete(values.length === 1 ? values[0]! : values.join(KEY_SEP));
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`);
    for (const s of this.series.values()) this.renderSeries(out, s.labels, s.child);
  }
}

class CounterValue implements CounterChild {
  value = 0;
  inc(by = 1): void {
    if (by < 0) throw new Error('a counter only goes up');
    this.value += by;
  }
}

export class Counter extends LabelledFamily<CounterValue> {
  protected create(): CounterValue {
    return new CounterValue();
  }
  protected renderSeries(out: string[], labels: string, c: CounterValue): void {
    out.push(`${this.name}${labels ? `{${labels}}` : ''} ${formatValue(c.value)}`);
  }
}

class GaugeValue implements GaugeChild {
  value = 0;
  set(v: number): void {
    this.value = v;
  }
  inc(by = 1): void {
    this.value += by;
  }
  dec(by = 1): void {
    this.value -= by;
  }
}

export class Gauge extends LabelledFamily<GaugeValue> {
  /** Runs before each scrape, so values owned elsewhere (queue depth) are read, not mirrored. */
  collect: (() => void) | undefined;

  protected create(): GaugeValue {
    return new GaugeValue();
  }
  protected renderSeries(out: string[], labels: string, g: GaugeValue): void {
    out.push(`${this.name}${labels ? `{${labels}}` : ''} ${formatValue(g.value)}`);
  }
  override render(out: string[]): void {
    this.collect?.();
    super.render(out);
  }
}

class HistogramValue implements HistogramChild {
  /** Per-bucket (not cumulative) counts; the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: Float64Array) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

export class Histogram extends LabelledFamily<HistogramValue> {
  private readonly bounds: Float64Array;
  private readonly le: string[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, 'histogram', labelNames);
    validateBuckets(buckets);
    this.bounds = Float64Array.from(buckets);
    this.le = [...buckets.map(formatValue), '+Inf'];
  }

  protected create(): HistogramValue {
    return new HistogramValue(this.bounds);
  }

  protected renderSeries(out: string[], labels: string, h: HistogramValue): void {
    const sep = labels ? `${labels},` : '';
    let cumulative = 0;
    for (let i = 0; i < this.le.length; i++) {
      cumulative += h.counts[i]!;
      out.push(`${this.name}_bucket{${sep}le="${this.le[i]}"} ${formatValue(cumulative)}`);
    }
    const sel = labels ? `{${labels}}` : '';
    out.push(`${this.name}_sum${sel} ${formatValue(h.sum)}`, `${this.name}_count${sel} ${formatValue(h.count)}`);
  }
}

/** Bucket upper bounds must be finite and strictly increasing (+Inf is implied). */
export function validateBuckets(buckets: readonly number[]): void {
  if (buckets.length === 0) throw new Error('a histogram needs at least one bucket');
  for (let i = 0; i < buckets.length; i++) {
    if (!Number.isFinite(buckets[i]!)) throw new Error(`bucket bound ${buckets[i]} is not finite`);
    if (i > 0 && buckets[i]! <= buckets[i - 1]!) throw new Error('bucket bounds must be strictly increasing');
  }
}

export class Registry {
  private readonly families = new Map<string, Family>();

  private add<F extends Family & { name: string }>(f: F): F {
    if (this.families.has(f.name)) throw new Error(`metric ${f.name} is registered twice`);
    this.families.set(f.name, f);
    return f;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, 'counter', labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, 'gauge', labelNames));
  }

  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, labelNames, buckets));
  }

  /** The whole registry in the Prometheus text format 0.0.4. */
  expose(): string {
    const out: string[] = [];
    for (const f of this.families.values()) f.render(out);
    return out.length ? `${out.join('\n')}\n` : '';
  }
}

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
