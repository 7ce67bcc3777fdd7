/**
 * Worker-thread entry: the router on its own event loop, so the loop delay measured here is the
 * router's alone (the load generator runs on the bench's main thread). Answers the commands of
 * `router-host.ts`.
 */
import { Session } from 'node:inspector';
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { parseRouterConfig } from '../src/config/router-config.js';
import { startRouter } from '../src/router.js';
import type { RouterCommand, RouterReply } from './router-host.js';
import { loopStats, Samples } from './stats.js';

const ELD_RESOLUTION_MS = 1;
const port = parentPort!;

function post(msg: RouterReply): void {
  port.postMessage(msg);
}

try {
  const parsed = parseRouterConfig(workerData.argv as string[], { requireWorkers: true });
  if (parsed === 'help') throw new Error('unexpected --help');
  const router = await startRouter(parsed);
  const deadline = Date.now() + 10_000;
  while (router.fleet.routable().length < parsed.workerUrls.length) {
    if (Date.now() > deadline) throw new Error('the router never saw its workers healthy');
    await new Promise((r) => setTimeout(r, 20));
  }
  // Times every prep-pool call (template + tokenizer) so the router-added TTFT can be split into prep and the rest.
  const prep = (await router.models.start()).prep;
  const renderChat = prep.renderChat.bind(prep);
  let prepTimes = new Samples();
  prep.renderChat = async (input) => {
    const t0 = performance.now();
    try {
      return await renderChat(input);
    } finally {
      prepTimes.add(performance.now() - t0);
    }
  };
  const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  eld.enable();
  let eluStart: EventLoopUtilization = performance.eventLoopUtilization();
  let session: Session | undefined;

  port.on('message', (cmd: RouterCommand) => {
    switch (cmd.op) {
      case 'loop-reset':
        eld.reset();
        prepTimes = new Samples();
        eluStart = performance.eventLoopUtilization();
        post({ id: cmd.id });
        break;
      case 'loop-read': {
        const elu = performance.eventLoopUtilization(eluStart).utilization;
        post({ id: cmd.id, loop: loopStats(eld, ELD_RESOLUTION_MS, elu), prep: prepTimes.summary() });
        break;
      }
      case 'profile-start':
        session = new Session();
        session.connect();
        session.post('Profiler.enable', () => session!.post('Profiler.start', () => post({ id: cmd.id })));
        break;
      case 'profile-stop':
        if (!session) {
          post({ id: cmd.id, error: 'no profile running' });
          break;
        }
        session.post('Profiler.stop', (err, res) => {
          session!.disconnect();
          session = undefined;
          post(err ? { id: cmd.id, error: err.message } : { id: cmd.id, profile: res.profile });
        });
        break;
      case 'close':
        eld.disable();
        void router.close().finally(() => {
          post({ id: cmd.id });
          port.close();
        });
        break;
    }
  });
  post({ id: 0, url: router.url });
} catch (err) {
  post({ id: 0, error: (err as Error).stack ?? String(err) });
}
