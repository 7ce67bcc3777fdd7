import { performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RouterMetrics } from '../metrics/router-metrics.js';
import { AdmissionGate, admissionHook, type AdmissionOptions } from './admission.js';
import { authHook, KeyChecker, type AuthKeys } from './auth.js';
import { classifyRoute, type RouteClass } from './route-class.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** `performance.now()` when the request arrived. */
    switchyardStart: number;
    /** The model the request was accepted for (a metrics label); '' until a handler accepts one. */
    switchyardModel: string;
  }
  interface FastifyContextConfig {
    routeClass?: RouteClass;
  }
}

export interface GuardOptions {
  auth: AuthKeys;
  /** Admission control on inference routes; undefined = unlimited. */
  admission?: AdmissionOptions;
}

/** Unknown paths have no route config: they are guarded like the client API. */
const classOf = (request: FastifyRequest): RouteClass => request.routeOptions.config.routeClass ?? 'api';

/**
 * Request accounting, API keys and admission, in that order, for every route added after this
 * call. Routes are classified once, when they are added; only inference routes carry the
 * admission hook, so other routes pay nothing for it.
 */
export function installGuards(app: FastifyInstance, metrics: RouterMetrics, opts: GuardOptions): void {
  const gate = opts.admission && new AdmissionGate(opts.admission);
  if (gate) {
    metrics.watchAdmission(gate);
    app.addHook('onClose', (_, done) => {
      gate.close();
      done();
    });
  }
  const admit = gate && admissionHook(gate, metrics);
  app.addHook('onRoute', (route) => {
    const routeClass = classifyRoute(route.url);
    route.config = { ...route.config, routeClass };
    if (admit && routeClass === 'inference') {
      const own = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
      route.onRequest = [...own, admit];
    }
  });

  app.decorateRequest('switchyardStart', 0);
  app.decorateRequest('switchyardModel', '');
  app.addHook('onRequest', (request, reply, done) => {
    request.switchyardStart = performance.now();
    metrics.requestStarted();
    const res = reply.raw;
    res.once('close', () => {
      const status = res.writableFinished ? res.statusCode : 499;
      metrics.requestFinished(request.routeOptions.url ?? 'other', request.switchyardModel, status, request.switchyardStart);
    });
    done();
  });

  const keys = new KeyChecker(opts.auth);
  if (keys.enabled) app.addHook('onRequest', authHook(keys, classOf));
}
