import type { ApiError } from '../errors.js';
import type { OutputEvent, RouteTrace } from './generation.js';

/** Receives a response's objects (one per SSE event), then exactly one `end`. */
export interface StreamOut {
  /** An object to serialise, or a string that already is the event's JSON. */
  data(obj: unknown): void;
  end(err?: ApiError): void;
}

/** A response that can be streamed: the server starts it, applies backpressure and cancels it. */
export interface StreamSource {
  start(out: StreamOut): void;
  cancel(reason: string): void;
  pause(): void;
  resume(): void;
  /** The worker serving it and the attempt number, once chosen (x-switchyard-worker / -route-attempt). */
  trace(): RouteTrace | undefined;
}

/** What a pipeline run exposes to the server, whether it streams or collects. */
export interface Startable {
  start(sink: { event(ev: OutputEvent): void; end(err?: ApiError): void }): void;
  cancel(reason: string): void;
  pause(): void;
  resume(): void;
  trace(): RouteTrace | undefined;
}

/** Told about every text event of a stream as it arrives (time to first token, inter-token gaps). */
export interface TokenClock {
  token(): void;
}

/** A source that maps each output event to zero or more response objects, with a closing step. */
export function mapStream(
  gen: Startable,
  onEvent: (ev: OutputEvent, emit: (obj: unknown) => void) => void,
  onEnd: (emit: (obj: unknown) => void) => void,
  clock?: TokenClock,
): StreamSource {
  return {
    start(out) {
      gen.start({
        event: (ev) => {
          if (clock !== undefined && ev.kind === 'text') clock.token();
          onEvent(ev, out.data);
        },
        end: (err) => {
          if (!err) onEnd(out.data);
          out.end(err);
        },
      });
    },
    cancel: (reason) => gen.cancel(reason),
    pause: () => gen.pause(),
    resume: () => gen.resume(),
    trace: () => gen.trace(),
  };
}

/** Runs a generation to its end, feeding every event to `onEvent`. */
export function drain(gen: Startable, onEvent: (ev: OutputEvent) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    gen.start({ event: onEvent, end: (err) => (err ? reject(err) : resolve()) });
  });
}
