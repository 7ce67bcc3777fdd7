import type { ServerResponse } from 'node:http';

/**
 * The SSE responses in progress, so their cost shows on /metrics: how many wait for a slow client
 * and how many bytes they hold. Read at scrape time only; the relay path just joins and leaves the set.
 */
export class SseStreams {
  private readonly open = new Set<SseWriter>();

  add(w: SseWriter): void {
    this.open.add(w);
  }

  delete(w: SseWriter): void {
    this.open.delete(w);
  }

  /** Streams whose client socket is full: their producers are paused until it drains. */
  get blocked(): number {
    let n = 0;
    for (const w of this.open) if (w.isBlocked) n++;
    return n;
  }

  /** Bytes queued in the router for the open streams (not yet taken by the kernel). */
  get bufferedBytes(): number {
    let n = 0;
    for (const w of this.open) n += w.bufferedBytes;
    return n;
  }
}

/**
 * Writes OpenAI-style server-sent events on a raw response. Events queued in one turn of the
 * event loop go out in a single write (one syscall instead of one per token under load), and a
 * full socket buffer is reported so the producer can pause its gRPC stream until 'drain'.
 */
export class SseWriter {
  private pending = '';
  private scheduled = false;
  private blocked = false;
  private drained: (() => void) | undefined;
  private readonly flushNow = () => this.flush();

  constructor(
    private readonly res: ServerResponse,
    headers: Record<string, string>,
    streams: SseStreams,
  ) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      ...headers,
    });
    res.flushHeaders();
    res.on('drain', () => {
      this.blocked = false;
      this.drained?.();
    });
    streams.add(this);
    res.once('close', () => streams.delete(this));
  }

  get isClosed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  get isBlocked(): boolean {
    return this.blocked;
  }

  /** Queued events (JSON is mostly ASCII: characters stand for bytes) and what the socket has not taken yet. */
  get bufferedBytes(): number {
    return this.pending.length + this.res.writableLength;
  }

  /** Called whenever a blocked socket can take more data. */
  onDrained(cb: () => void): void {
    this.drained = cb;
  }

  /** Queues one event; returns false while the socket is backed up (the producer should pause). */
  send(data: unknown): boolean {
    if (this.isClosed) return false;
    this.pending += `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushNow);
    }
    return !this.blocked;
  }

  private flush(): void {
    this.scheduled = false;
    if (this.pending === '' || this.isClosed) return;
    const chunk = this.pending;
    this.pending = '';
    if (!this.res.write(chunk)) this.blocked = true;
  }

  /** Writes whatever is queued, the closing `[DONE]`, and ends the response. */
  end(): void {
    if (this.isClosed) return;
    const chunk = this.pending + 'data: [DONE]\n\n';
    this.pending = '';
    this.res.end(chunk);
  }
}
