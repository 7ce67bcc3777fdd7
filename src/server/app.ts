import { randomBytes } from 'node:crypto';
import secureJson from 'secure-json-parse';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import { chatStream, collectChat, startChat } from '../pipeline/chat.js';
import { collectCompletion, completionGroup, completionStream, startCompletion } from '../pipeline/completions.js';
import type { PipelineContext, RequestMeta } from '../pipeline/context.js';
import { ROUTING_KEY_HEADER, SESSION_HEADER } from '../pipeline/dispatch.js';
import type { RouteTrace } from '../pipeline/generation.js';
import { collectGenerate, generateGroup, generateStream, startGenerate } from '../pipeline/generate-native.js';
import { parseFunctionCallOffline, parseReasoningOffline } from '../pipeline/offline-parse.js';
import type { ServedModel } from '../pipeline/served-model.js';
import type { StreamSource, TokenClock } from '../pipeline/stream-source.js';
import {
  validateChatRequest,
  validateCompletionRequest,
  validateDetokenizeRequest,
  validateGenerateRequest,
  validateTokenizeRequest,
} from '../protocol/validate.js';
import { parseJsonKeepingFloats } from '../tokenizer/jinja-compat.js';
import { registerAdminRoutes, type AdminRouteOptions } from './admin-routes.js';
import { toApiError } from './errors.js';
import { installGuards, type GuardOptions } from './guards.js';
import { SseStreams, SseWriter } from './sse.js';

export interface AppOptions extends GuardOptions, AdminRouteOptions {
  logLevel: string;
  maxPayloadSize: number;
  requestIdHeaders: readonly string[];
}

/** Trace context is forwarded to workers so engine-side spans join the client's trace. */
const FORWARDED_HEADERS = ['traceparent', 'tracestate'] as const;

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function generatedId(): string {
  const bytes = randomBytes(24);
  let s = 'req-';
  for (const b of bytes) s += ID_ALPHABET[b % ID_ALPHABET.length];
  return s;
}

/** The client's id from the first configured header that carries a usable one, else a fresh one. */
function requestIdOf(headers: Record<string, string | string[] | undefined>, names: readonly string[]): string {
  for (const h of names) {
    const v = headers[h];
    if (typeof v === 'string' && v.length > 0 && v.length <= 256) return v;
  }
  return generatedId();
}

export function buildApp(ctx: PipelineContext, opts: AppOptions): FastifyInstance {
  const app = Fastify({
    logger: { level: opts.logLevel },
    // Per-request info lines cost more than relaying a short completion; errors are logged by the handler.
    // Every log line of a request carries its id, the one echoed as x-request-id.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    bodyLimit: opts.maxPayloadSize,
    forceCloseConnections: true,
    return503OnClosing: true,
    genReqId: (req) => requestIdOf(req.headers, opts.requestIdHeaders),
    // Route schemas are strict: a wrong type or an unknown field is a 400, never coerced or dropped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  });
  const metrics = ctx.metrics;
  const sseStreams = new SseStreams();
  metrics.watchSse(sseStreams);

  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseBody(body as string));
    } catch (err) {
      done(new ApiError(400, `The request body is not valid JSON: ${(err as Error).message}`, { code: 'json_parse_error' }), undefined);
    }
  });

  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  // Before any route is added, so every route (the admin API too) is classified and guarded.
  installGuards(app, metrics, opts);

  app.setErrorHandler((err, request, reply) => {
    const apiErr = toApiError(err);
    if (apiErr.status >= 500) request.log.error({ err }, apiErr.message);
    else request.log.debug({ status: apiErr.status }, apiErr.message);
    if (apiErr.retryAfterMs !== undefined && apiErr.retryAfterMs > 0) reply.header('retry-after', String(Math.ceil(apiErr.retryAfterMs / 1000)));
    void reply.status(apiErr.status).send(apiErr.toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    const e = new ApiError(404, `Unknown route ${request.method} ${request.url}`, { code: 'route_not_found' });
    void reply.status(404).send(e.toBody());
  });

  const meta = (request: FastifyRequest): RequestMeta => {
    const forward: Record<string, string> = { 'x-request-id': request.id };
    for (const h of FORWARDED_HEADERS) {
      const v = request.headers[h];
      if (typeof v === 'string') forward[h] = v;
    }
    const explicit = opts.requestIdHeaders.some((h) => typeof request.headers[h] === 'string');
    const m: RequestMeta = { forward, startedAt: Date.now(), route: request.routeOptions.url ?? 'other', log: request.log };
    if (explicit) m.headerRequestId = request.id;
    const key = request.headers[ROUTING_KEY_HEADER];
    if (typeof key === 'string' && key !== '') m.routingKey = key;
    const session = request.headers[SESSION_HEADER];
    if (typeof session === 'string' && session !== '') m.sessionId = session;
    return m;
  };

  /** The model a request names (404 for an unknown one); an accepted name becomes its metrics label (served names are few). */
  const modelOf = (request: FastifyRequest, name: string | undefined): ServedModel => {
    const model = ctx.models.resolve(name);
    request.switchyardModel = name || model.id;
    return model;
  };
  const tokenClock = (request: FastifyRequest): TokenClock =>
    metrics.tokenTimer(request.routeOptions.url ?? 'other', request.switchyardModel, request.switchyardStart);

  app.post('/v1/chat/completions', async (request, reply) => {
    const req = validateChatRequest(request.body);
    const run = await startChat(ctx, modelOf(request, req.model), req, meta(request));
    if (req.stream) return streamResponse(sseStreams, request, reply, chatStream(run, tokenClock(request)));
    return collectUnlessGone(reply, run.generation, () => collectChat(run, req.logprobs));
  });

  app.post('/v1/completions', async (request, reply) => {
    const req = validateCompletionRequest(request.body);
    const run = await startCompletion(ctx, modelOf(request, req.model), req, meta(request));
    if (req.stream) return streamResponse(sseStreams, request, reply, completionStream(run, tokenClock(request)));
    return collectUnlessGone(reply, completionGroup(run), () => collectCompletion(run));
  });

  app.post('/generate', async (request, reply) => {
    const req = validateGenerateRequest(request.body);
    const run = await startGenerate(ctx, modelOf(request, req.model), req, meta(request));
    if (req.stream) return streamResponse(sseStreams, request, reply, generateStream(run, tokenClock(request)));
    return collectUnlessGone(reply, generateGroup(run), () => collectGenerate(run));
  });

  app.get('/v1/models', async () => ({
    object: 'list',
    data: ctx.models.list().map((m) => ({
      id: m.id,
      object: 'model',
      created: m.created,
      owned_by: 'switchyard',
      root: m.assets.dir,
      ...(m.maxContextLength ? { max_model_len: m.maxContextLength } : {}),
    })),
  }));

  app.post('/v1/tokenize', async (request) => {
    const req = validateTokenizeRequest(request.body);
    const model = modelOf(request, req.model);
    const prompts = typeof req.prompt === 'string' ? [req.prompt] : req.prompt;
    const ids = await model.prep.encode(prompts, req.add_special_tokens);
    const max = model.maxContextLength ? { max_model_len: model.maxContextLength } : {};
    if (typeof req.prompt === 'string') {
      return { tokens: Array.from(ids[0]!), count: ids[0]!.length, char_count: req.prompt.length, ...max };
    }
    return { tokens: ids.map((a) => Array.from(a)), count: ids.map((a) => a.length), char_count: prompts.map((p) => p.length), ...max };
  });

  app.post('/v1/detokenize', async (request) => {
    const req = validateDetokenizeRequest(request.body);
    const model = modelOf(request, req.model);
    const vocab = model.tokenizer.vocabSize;
    const bad = req.tokens.findIndex((t) => t >= vocab);
    if (bad !== -1) throw new ApiError(400, `token id ${req.tokens[bad]} is outside the vocabulary (size ${vocab})`, { param: `tokens[${bad}]`, code: 'invalid_value' });
    return { text: model.tokenizer.decode(req.tokens, req.skip_special_tokens) };
  });

  registerAdminRoutes(app, ctx, opts);

  app.post('/parse/reasoning', async (request) => parseReasoningOffline(request.body));
  app.post('/parse/function_call', async (request) => parseFunctionCallOffline(request.body));

  const ok = async (_: FastifyRequest, reply: FastifyReply) => reply.type('text/plain').send('OK');
  app.get('/health', ok);
  app.get('/liveness', ok);
  app.get('/readiness', async (_, reply) => {
    const routable = ctx.fleet.routable().length;
    const total = ctx.fleet.list().length;
    if (ctx.fleet.canServe()) return { status: 'ready', healthy_workers: routable, total_workers: total };
    const reason = 'no worker (with PD: no prefill and decode pair) is routable (healthy, enabled, circuit breaker closed)';
    return reply.status(503).send({ status: 'not ready', reason, healthy_workers: routable, total_workers: total });
  });

  return app;
}

/** Integral floats (`1.0`, `2e3`): JSON.parse makes them ints, but chat templates print tool schemas as Python would. */
const INTEGRAL_FLOAT = /\d\.0+(?![0-9])|\d[eE]/;

function parseBody(text: string): unknown {
  // Like fastify's default parser: __proto__ / constructor.prototype keys are refused, not merged later.
  const body = secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }) as unknown;
  if (body !== null && typeof body === 'object' && Array.isArray((body as { tools?: unknown }).tools) && INTEGRAL_FLOAT.test(text)) {
    (body as { tools: unknown }).tools = (parseJsonKeepingFloats(text) as { tools: unknown }).tools;
  }
  return body;
}

/** Names the worker that served the request (or was tried last) and the attempt that got the answer. */
function routeHeaders(trace: RouteTrace | undefined): Record<string, string> {
  return trace ? { 'x-switchyard-worker': trace.worker, 'x-switchyard-route-attempt': String(trace.attempt) } : {};
}

/**
 * Runs `onGone` once the client has gone away before its response was sent: when the connection
 * closes, or at once when it already closed while the request was being prepared (its 'close' has
 * then been emitted before anyone listened).
 */
function whenClientGone(reply: FastifyReply, onGone: () => void): void {
  const res = reply.raw;
  const check = () => {
    if (!res.writableFinished) onGone();
  };
  if (res.closed) check();
  else res.once('close', check);
}

/**
 * Collects the answer unless the client goes away first: then the upstream work is cancelled (before
 * it starts, when the client left during preparation). The answer (or error) carries the route headers.
 */
async function collectUnlessGone<T>(
  reply: FastifyReply,
  work: { cancel(reason: string): void; trace(): RouteTrace | undefined },
  collect: () => Promise<T>,
): Promise<T> {
  whenClientGone(reply, () => work.cancel('client disconnected'));
  try {
    return await collect();
  } finally {
    reply.headers(routeHeaders(work.trace()));
  }
}

/**
 * Streams SSE. Nothing is written before the first event, so failures before the first token
 * still get a proper HTTP status; later failures end the stream with an error event and [DONE].
 * A client disconnect cancels the source (and so the gRPC call) at once; a full socket pauses it.
 */
function streamResponse(streams: SseStreams, request: FastifyRequest, reply: FastifyReply, source: StreamSource): Promise<void> {
  return new Promise((resolve, reject) => {
    let sse: SseWriter | undefined;
    let done = false;
    const open = (): SseWriter => {
      reply.hijack();
      const w = new SseWriter(reply.raw, { 'x-request-id': request.id, ...routeHeaders(source.trace()) }, streams);
      w.onDrained(() => source.resume());
      return w;
    };
    whenClientGone(reply, () => {
      if (done) return;
      done = true;
      source.cancel('client disconnected');
      resolve();
    });
    // Gone while the request was prepared: nothing is sent to a worker.
    if (done) return;
    try {
      source.start({
        data: (obj) => {
          if (done) return;
          sse ??= open();
          if (!sse.send(obj)) source.pause();
        },
        end: (err) => {
          if (done) return;
          done = true;
          if (!sse) {
            if (err) {
              reply.headers(routeHeaders(source.trace()));
              return reject(err);
            }
            sse = open();
          } else if (err) {
            request.log.warn({ err: err.message }, 'stream ended with an error');
            sse.send({ error: { ...err.toBody().error, message: `Stream error: ${err.message}` } });
          }
          sse.end();
          resolve();
        },
      });
    } catch (err) {
      done = true;
      source.cancel('request failed');
      reject(err);
    }
  });
}
