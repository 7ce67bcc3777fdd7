import type { Profiler } from 'node:inspector';
import { Worker } from 'node:worker_threads';
import { bundledTokenizerDir } from '../src/tokenizer/bundled.js';
import type { LoopStats, Summary } from './stats.js';

export type RouterCommand = { id: number; op: 'loop-reset' | 'loop-read' | 'profile-start' | 'profile-stop' | 'close' };

export interface RouterReply {
  id: number;
  url?: string;
  loop?: LoopStats;
  prep?: Summary;
  profile?: Profiler.Profile;
  error?: string;
}

/** The router running in a worker thread of this process. */
export interface RouterThread {
  readonly url: string;
  /** Starts a new window of event-loop delay, utilization and prep-pool timings. */
  resetLoop(): Promise<void>;
  readLoop(): Promise<{ loop: LoopStats; prep: Summary }>;
  startProfile(): Promise<void>;
  stopProfile(): Promise<Profiler.Profile>;
  close(): Promise<void>;
}

export const BENCH_MODEL = 'qwen3-bench';
const START_TIMEOUT_MS = 60_000;
const CLOSE_TIMEOUT_MS = 5_000;

/** Starts `switchyard` (Qwen3 bundled tokenizer, silent logs) in front of one worker; `extraArgs` are router flags. */
export async function startRouterThread(workerUrl: string, extraArgs: string[] = []): Promise<RouterThread> {
  const argv = [
    '--port', '0',
    '--prometheus-port', '0',
    '--worker-urls', workerUrl,
    '--tokenizer-path', bundledTokenizerDir('qwen3'),
    '--served-model-name', BENCH_MODEL,
    '--log-level', 'silent',
    ...extraArgs,
  ];
  const worker = new Worker(new URL('./router-thread.js', import.meta.url), { workerData: { argv } });
  const pending = new Map<number, { resolve: (r: RouterReply) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let exited = false;

  const failAll = (err: Error) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('message', (r: RouterReply) => {
    const p = pending.get(r.id);
    if (!p) return;
    pending.delete(r.id);
    if (r.error) p.reject(new Error(`router thread: ${r.error}`));
    else p.resolve(r);
  });
  worker.on('error', (err) => failAll(err));
  worker.on('exit', (code) => {
    exited = true;
    failAll(new Error(`the router thread exited (code ${code})`));
  });

  const call = (op: RouterCommand['op'] | 'start', timeoutMs = 30_000): Promise<RouterReply> =>
    new Promise((resolve, reject) => {
      const id = op === 'start' ? 0 : nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`router thread: no answer to '${op}'`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      if (op !== 'start') worker.postMessage({ id, op } satisfies RouterCommand);
    });

  const terminate = async () => {
    if (!exited) await worker.terminate();
  };
  let url: string;
  try {
    url = (await call('start', START_TIMEOUT_MS)).url!;
  } catch (err) {
    await terminate();
    throw err;
  }
  return {
    url,
    resetLoop: async () => {
      await call('loop-reset');
    },
    readLoop: async () => {
      const r = await call('loop-read');
      return { loop: r.loop!, prep: r.prep! };
    },
    startProfile: async () => {
      await call('profile-start');
    },
    stopProfile: async () => (await call('profile-stop')).profile!,
    close: async () => {
      await call('close', CLOSE_TIMEOUT_MS).catch(() => undefined);
      await terminate();
    },
  };
}
