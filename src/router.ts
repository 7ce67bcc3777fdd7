import type { FastifyInstance } from 'fastify';
import type { RouterConfig } from './config/router-config.js';
import { RouterMetrics } from './metrics/router-metrics.js';
import { startMetricsServer, type MetricsServer } from './metrics/server.js';
import type { PipelineContext } from './pipeline/context.js';
import { retryConfigFromFlags, RetryPolicy } from './pipeline/retry-policy.js';
import { applyWorkerInfo, loadServedModel, type ServedModel } from './pipeline/served-model.js';
import { buildApp } from './server/app.js';
import { WorkerPool } from './workers/worker-pool.js';

export interface RunningRouter {
  app: FastifyInstance;
  url: string;
  model: ServedModel;
  pool: WorkerPool;
  metrics: RouterMetrics;
  /** Where Prometheus scrapes /metrics; undefined with --disable-prometheus. */
  metricsUrl: string | undefined;
  close(): Promise<void>;
}

/** Connects to the workers, loads the model's tokenizer and template, and starts the HTTP server. */
export async function startRouter(config: RouterConfig): Promise<RunningRouter> {
  const pool = new WorkerPool(config.workerUrls, {
    healthCheckIntervalMs: config.healthCheckIntervalSecs * 1000,
    healthCheckTimeoutMs: config.healthCheckTimeoutSecs * 1000,
  });
  let model: ServedModel | undefined;
  let metricsServer: MetricsServer | undefined;
  try {
    model = await loadServedModel(config, pool);
    const metrics = new RouterMetrics(config.prometheusDurationBuckets);
    const ctx: PipelineContext = {
      model,
      pool,
      requestTimeoutMs: config.requestTimeoutSecs * 1000,
      metrics,
      retry: new RetryPolicy(retryConfigFromFlags(config)),
    };
    const app = buildApp(ctx, {
      logLevel: config.logLevel,
      maxPayloadSize: config.maxPayloadSize,
      requestIdHeaders: config.requestIdHeaders,
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
    pool.on('health', (url: string, healthy: boolean, error?: string) => {
      if (healthy) {
        app.log.info({ worker: url }, 'worker is healthy');
        const served = model!;
        pool.workers
          .find((w) => w.client.url === url)
          ?.client.getModelInfo()
          .then((info) => applyWorkerInfo(served, info))
          .catch(() => undefined);
      } else app.log.warn({ worker: url, error }, 'worker is unhealthy');
    });
    pool.start();
    if (!config.disablePrometheus) metricsServer = await startMetricsServer(metrics.registry, config.prometheusHost, config.prometheusPort);
    await app.listen({ host: config.host, port: config.port });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const served = model;
    return {
      app,
      url: `http://${host}:${port}`,
      model: served,
      pool,
      metrics,
      metricsUrl: metricsServer?.url,
      close: async () => {
        await app.close();
        await metricsServer?.close();
        pool.close();
        await served.prep.close();
      },
    };
  } catch (err) {
    await metricsServer?.close();
    pool.close();
    await model?.prep.close();
    throw err;
  }
}
