import type { FastifyInstance } from 'fastify';
import type { RouterConfig } from './config/router-config.js';
import { RouterMetrics } from './metrics/router-metrics.js';
import { watchFleet } from './metrics/worker-metrics.js';
import { startMetricsServer, type MetricsServer } from './metrics/server.js';
import { PdMetrics } from './metrics/pd-metrics.js';
import { RoutingMetrics } from './metrics/routing-metrics.js';
import type { PipelineContext } from './pipeline/context.js';
import { Dispatcher } from './pipeline/dispatch.js';
import { retryConfigFromFlags, RetryPolicy } from './pipeline/retry-policy.js';
import { ModelRegistry } from './pipeline/models.js';
import type { ServedModel } from './pipeline/served-model.js';
import { buildApp } from './server/app.js';
import { WorkerFleet, type AddWorkerOptions, type BreakerChange, type StateChange, type WorkerRejection } from './workers/fleet.js';

export interface RunningRouter {
  app: FastifyInstance;
  url: string;
  /** The served models; the startup one is loaded before startRouter resolves. */
  models: ModelRegistry;
  fleet: WorkerFleet;
  metrics: RouterMetrics;
  /** Where Prometheus scrapes /metrics; undefined with --disable-prometheus. */
  metricsUrl: string | undefined;
  close(): Promise<void>;
}

export function fleetFromConfig(config: RouterConfig): WorkerFleet {
  return new WorkerFleet({
    health: {
      intervalMs: config.healthCheckIntervalSecs * 1000,
      timeoutMs: config.healthCheckTimeoutSecs * 1000,
      failureThreshold: config.healthFailureThreshold,
      successThreshold: config.healthSuccessThreshold,
    },
    breaker: {
      failureThreshold: config.cbFailureThreshold,
      successThreshold: config.cbSuccessThreshold,
      openMs: config.cbTimeoutDurationSecs * 1000,
      disabled: config.disableCircuitBreaker,
    },
    loadIntervalMs: config.loadMonitorIntervalSecs * 1000,
    dpAware: config.dpAware,
  });
}

/**
 * Connects to the workers, loads the startup model's tokenizer and template (other models load as
 * their first worker is admitted), and starts the HTTP server.
 */
export async function startRouter(config: RouterConfig): Promise<RunningRouter> {
  const fleet = fleetFromConfig(config);
  const models = new ModelRegistry(config, fleet);
  const admitTimeoutMs = config.healthCheckTimeoutSecs * 1000;
  const keyed: AddWorkerOptions = config.workerApiKey === undefined ? {} : { apiKey: config.workerApiKey };
  const add = (url: string, opts: AddWorkerOptions = {}) => {
    // With --dp-aware the entries appear once a probe has read dp_size; nothing waits for that here.
    fleet.add(url, { ...keyed, ...opts, admit: (client) => models.admit(url, client, admitTimeoutMs) }).catch(() => undefined);
  };
  for (const url of config.workerUrls) add(url);
  for (const w of config.prefillWorkers) add(w.url, { role: 'prefill', ...(w.bootstrapPort === undefined ? {} : { bootstrapPort: w.bootstrapPort }) });
  for (const url of config.decodeUrls) add(url, { role: 'decode' });
  let metricsServer: MetricsServer | undefined;
  try {
    await models.start();
    const metrics = new RouterMetrics(config.prometheusDurationBuckets);
    watchFleet(metrics.registry, fleet);
    const dispatcher = new Dispatcher(fleet, {
      policy: config.policy,
      ...(config.pdDisaggregation
        ? { pd: { prefillPolicy: config.prefillPolicy, decodePolicy: config.decodePolicy, metrics: new PdMetrics(metrics.registry, config.prometheusDurationBuckets) } }
        : {}),
      policyOptions: {
        blockSize: config.blockSize,
        cacheThreshold: config.cacheThreshold,
        balanceAbsThreshold: config.balanceAbsThreshold,
        balanceRelThreshold: config.balanceRelThreshold,
        evictionIntervalSecs: config.evictionIntervalSecs,
        maxTreeSize: config.maxTreeSize,
      },
      retry: new RetryPolicy(retryConfigFromFlags(config)),
      metrics: new RoutingMetrics(metrics.registry),
    });
    const ctx: PipelineContext = { models, fleet, requestTimeoutMs: config.requestTimeoutSecs * 1000, metrics, dispatcher };
    const app = buildApp(ctx, {
      logLevel: config.logLevel,
      maxPayloadSize: config.maxPayloadSize,
      requestIdHeaders: config.requestIdHeaders,
      workerAdmissionWaitMs: config.healthCheckTimeoutSecs * 1000,
      auth: { apiKey: config.apiKey, adminApiKey: config.adminApiKey },
      ...(config.maxConcurrentRequests > 0
        ? {
            admission: {
              maxConcurrent: config.maxConcurrentRequests,
              queueSize: config.queueSize,
              queueTimeoutMs: config.queueTimeoutSecs * 1000,
              refillPerSecond: config.rateLimitTokensPerSecond,
            },
          }
        : {}),
    });
    // As in the reference, a model's routing policies go with its last worker.
    models.on('released', (m: ServedModel) => {
      dispatcher.forgetModel(m.id);
      app.log.info({ model: m.id }, 'model released: its last worker left');
    });
    models.on('loaded', (m: ServedModel) => app.log.info({ model: m.id, dir: m.assets.dir }, 'model loaded'));
    fleet.on('state', (c: StateChange) => {
      if (c.to === 'ready') {
        app.log.info({ worker: c.id, from: c.from }, 'worker is ready');
        fleet
          .get(c.id)
          ?.client.getModelInfo()
          .then((info) => models.refresh(c.url, info))
          .catch(() => undefined);
      } else app.log.warn({ worker: c.id, from: c.from, to: c.to, reason: c.reason }, 'worker left rotation');
    });
    fleet.on('rejected', (r: WorkerRejection) => app.log.error({ worker: r.url, reason: r.reason }, 'worker rejected and removed'));
    fleet.on('breaker', (c: BreakerChange) => app.log.warn({ worker: c.id, from: c.from, to: c.to }, 'circuit breaker changed'));
    fleet.start();
    if (!config.disablePrometheus) metricsServer = await startMetricsServer(metrics.registry, config.prometheusHost, config.prometheusPort);
    await app.listen({ host: config.host, port: config.port });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    return {
      app,
      url: `http://${host}:${port}`,
      models,
      fleet,
      metrics,
      metricsUrl: metricsServer?.url,
      close: async () => {
        await app.close();
        await metricsServer?.close();
        fleet.close();
        await models.close();
      },
    };
  } catch (err) {
    await metricsServer?.close();
    fleet.close();
    await models.close();
    throw err;
  }
}
