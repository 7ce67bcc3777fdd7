import { EventEmitter } from 'node:events';
import type { RouterConfig } from '../config/router-config.js';
import { ApiError } from '../errors.js';
import type { GetModelInfoResponse } from '../gen/sglang/grpc/scheduler/sglang_scheduler.js';
import type { Admission, WorkerFleet } from '../workers/fleet.js';
import type { WorkerClient } from '../workers/worker-client.js';
import { applyWorkerInfo, loadServedModel, otherModelSettings, StartupError, type ServedModel } from './served-model.js';

/**
 * The models the router serves, by every name a client may send for them. Each worker's
 * GetModelInfo names its model (served_model_name, else model_path); the first worker of a model
 * not seen yet loads it (tokenizer, template, prep pool, parsers) and its last worker leaving
 * releases it. The startup model is the one the command line's model flags describe (see
 * README "Several models"); every other model is described by its workers alone.
 *
 * Emits 'loaded' (ServedModel) when a model becomes servable and 'released' (ServedModel) when its
 * last worker left and its prep pool was closed.
 */
export class ModelRegistry extends EventEmitter {
  /** Every accepted name (id and aliases) → its model: the request path's one lookup. */
  private readonly byName = new Map<string, ServedModel>();
  /** Each model's admitted worker URLs. */
  private readonly workers = new Map<ServedModel, Set<string>>();
  /** Loads in progress, by the worker-reported name that started them (concurrent first workers share one). */
  private readonly loading = new Map<string, Promise<ServedModel>>();
  /** The names that identify the startup model, so it takes the flags again if it left and comes back. */
  private startupNames: ReadonlySet<string> = new Set();
  /** A startup model loaded from the flags before any worker answered: it takes the first worker model admitted. */
  private adoptable: ServedModel | undefined;
  /** The model, while exactly one is served: requests without a `model` go to it. */
  private sole: ServedModel | undefined;
  private startup: Promise<ServedModel> | undefined;

  constructor(
    private readonly config: RouterConfig,
    private readonly fleet: WorkerFleet,
  ) {
    super();
    fleet.on('removed', () => this.sweep());
  }

  /**
   * Loads the startup model: from the first worker that answers GetModelInfo (waiting up to
   * --worker-startup-timeout-secs), or from --tokenizer-path / --model-path when no worker answers
   * within a second. The same promise on every call.
   */
  start(): Promise<ServedModel> {
    this.startup ??= this.loadStartup();
    return this.startup;
  }

  /**
   * The model a request names. An unknown name is a 404 `model_not_found`; a request without one
   * goes to the only model, and is a 400 when several are served.
   */
  resolve(name: string | undefined): ServedModel {
    if (name) {
      const model = this.byName.get(name);
      if (model) return model;
      throw new ApiError(404, `The model '${name}' does not exist or is not served by this router`, {
        type: 'invalid_request_error',
        code: 'model_not_found',
        param: 'model',
      });
    }
    if (this.sole) return this.sole;
    if (this.workers.size === 0) throw new ApiError(503, 'No model is served: no worker is registered', { code: 'no_available_workers' });
    throw new ApiError(400, 'This router serves several models: name one in `model`', { code: 'model_required', param: 'model' });
  }

  /** Whether `name` is one of a served model's names. */
  has(name: string): boolean {
    return this.byName.has(name);
  }

  list(): ServedModel[] {
    return [...this.workers.keys()];
  }

  /**
   * The admission check of one worker: reads its GetModelInfo, finds or loads its model, applies
   * the worker's view of it (EOS ids, sampling defaults, context length). A model that cannot be
   * loaded (no local tokenizer, a name another model holds) refuses the worker.
   */
  async admit(url: string, client: WorkerClient, timeoutMs: number): Promise<Admission> {
    await this.start();
    const info = await client.getModelInfo(timeoutMs);
    let model: ServedModel;
    try {
      model = await this.modelFor(info);
    } catch (err) {
      return { rejected: `its model '${workerModelName(info)}' cannot be served: ${(err as Error).message}` };
    }
    this.workers.get(model)?.add(url);
    applyWorkerInfo(model, info);
    // Removed while its model loaded: the sweep undoes the attachment (and releases a model left without workers).
    if (!this.fleet.has(url)) this.sweep();
    return { model: model.id };
  }

  /** A worker came back: its model info may have changed with its restart. */
  refresh(url: string, info: GetModelInfoResponse): void {
    for (const [model, urls] of this.workers) if (urls.has(url)) applyWorkerInfo(model, info);
  }

  /** Closes every model's prep pool. */
  async close(): Promise<void> {
    const models = this.list();
    this.workers.clear();
    this.byName.clear();
    this.sole = undefined;
    await Promise.all(models.map((m) => m.prep.close()));
  }

  private async loadStartup(): Promise<ServedModel> {
    const c = this.config;
    const needInfo = c.tokenizerPath === undefined && c.modelPath === undefined;
    const info = needInfo
      ? await firstModelInfo(this.fleet, c.workerStartupTimeoutSecs * 1000)
      : await firstModelInfo(this.fleet, 1_000).catch(() => undefined);
    const model = await loadServedModel(c, info);
    this.startupNames = new Set(model.aliases);
    if (!info) this.adoptable = model;
    this.register(model);
    return model;
  }

  private modelFor(info: GetModelInfoResponse): Promise<ServedModel> {
    const name = workerModelName(info);
    const known = this.byName.get(name);
    if (known) return Promise.resolve(known);
    const adopter = this.adoptable ?? (name === '' ? this.startupModelIfServed() : undefined);
    if (adopter) {
      this.adoptable = undefined;
      this.addNames(adopter, [info.servedModelName, info.modelPath]);
      return Promise.resolve(adopter);
    }
    if (name === '') return Promise.reject(new Error('the worker reports neither served_model_name nor model_path'));
    let pending = this.loading.get(name);
    if (!pending) {
      const settings = this.startupNames.has(name) ? this.config : otherModelSettings(this.config);
      pending = loadServedModel(settings, info)
        .then((model) => {
          this.register(model);
          return model;
        })
        .finally(() => this.loading.delete(name));
      this.loading.set(name, pending);
    }
    return pending;
  }

  private startupModelIfServed(): ServedModel | undefined {
    for (const model of this.workers.keys()) if (this.startupNames.has(model.id)) return model;
    return undefined;
  }

  /** Makes a loaded model servable; its id must be free (an alias another model holds stays that model's). */
  private register(model: ServedModel): void {
    if (this.byName.has(model.id)) {
      void model.prep.close();
      throw new Error(`the name '${model.id}' belongs to another served model`);
    }
    this.workers.set(model, new Set());
    this.addNames(model, model.aliases);
    this.sole = this.workers.size === 1 ? model : undefined;
    this.emit('loaded', model);
  }

  private addNames(model: ServedModel, names: Iterable<string>): void {
    for (const n of names) {
      if (n === '' || this.byName.has(n)) continue;
      model.aliases.add(n);
      this.byName.set(n, model);
    }
  }

  /** Forgets removed workers; a model whose last worker left is released. */
  private sweep(): void {
    for (const [model, urls] of this.workers) {
      if (urls.size === 0) continue;
      for (const url of urls) if (!this.fleet.has(url)) urls.delete(url);
      if (urls.size === 0) this.release(model);
    }
  }

  private release(model: ServedModel): void {
    this.workers.delete(model);
    for (const n of model.aliases) if (this.byName.get(n) === model) this.byName.delete(n);
    this.sole = this.workers.size === 1 ? this.workers.keys().next().value : undefined;
    void model.prep.close();
    this.emit('released', model);
  }
}

/** The name a worker serves its model under: SGLang's served_model_name defaults to the model path. */
function workerModelName(info: GetModelInfoResponse): string {
  return info.servedModelName || info.modelPath;
}

async function firstModelInfo(fleet: WorkerFleet, timeoutMs: number): Promise<GetModelInfoResponse> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no worker answered';
  for (;;) {
    for (const client of fleet.clients()) {
      try {
        return await client.getModelInfo(Math.min(5_000, Math.max(100, deadline - Date.now())));
      } catch (err) {
        lastError = `${client.url}: ${(err as Error).message}`;
      }
    }
    if (Date.now() >= deadline) throw new StartupError(`could not read GetModelInfo from any worker (${lastError})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
