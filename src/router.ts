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
import { applyWorkerInfo, loadServedModel, type ServedModel } from './pipeline/served-model.js';
import { buildApp } from './server/app.js';
import { WorkerFleet, type BreakerChange, type StateChange, type WorkerRejection } from './workers/fleet.js';

export interface RunningRouter {
  app: FastifyInstance;
  url: string;
  model: ServedModel;
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

/** Connects to the workers, loads the model's tokenizer and template, and starts the HTTP server. */
export async function startRouter(config: RouterConfig): Promise<RunningRouter> {
  const fleet = fleetFromConfig(config);
  // With --dp-aware the entries appear once a probe has read dp_size; nothing waits for that here.
  for (const url of config.workerUrls) fleet.add(url).catch(() => undefined);
  for (const w of config.prefillWorkers) fleet.add(w.url, { role: 'prefill', ...(w.bootstrapPort === undefined ? {} : { bootstrapPort: w.bootstrapPort }) }).catch(() => undefined);
  for (const url of config.decodeUrls) fleet.add(url, { role: 'decode' }).catch(() => undefined);
  let model: ServedModel | undefined;
  let metricsServer: MetricsServer | undefined;
  try {
    model = await loadServedModel(config, fleet);
    const metrics = new RouterMetrics(config.prometheusDurationBuckets);
    watchFleet(metrics.registry, fleet);
    const ctx: PipelineContext = {
      model,
      fleet,
      requestTimeoutMs: config.requestTimeoutSecs * 1000,
      metrics,
      dispatcher: new Dispatcher(fleet, {
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
      }),
    };
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
    const served = model;
    fleet.on('state', (c: StateChange) => {
      if (c.to === 'ready') {
        app.log.info({ worker: c.id, from: c.from }, 'worker is ready');
        fleet
          .get(c.id)
          ?.client.getModelInfo()
          .then((info) => applyWorkerInfo(served, info))
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
      model: served,
      fleet,
      metrics,
      metricsUrl: metricsServer?.url,
      close: async () => {
        await app.close();
        await metricsServer?.close();
        fleet.close();
        await served.prep.close();
      },
    };
  } catch (err) {
    await metricsServer?.close();
    fleet.close();
    await model?.prep.close();
    throw err;
  }
}
