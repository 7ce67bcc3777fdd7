import { UsageError } from './config/args.js';
import { parseRouterConfig, routerHelp } from './config/router-config.js';
import { startDemo, DEMO_MODEL } from './demo.js';
import { startRouter } from './router.js';
import { runSimCommand } from './sim/cli.js';
import { StartupError } from './pipeline/served-model.js';

function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => resolve(sig);
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
  });
}

/** Entry point of `switchyard`: returns the process exit code (2 for usage errors). */
export async function main(argv: string[]): Promise<number> {
  try {
    if (argv[0] === 'sim') return await runSimCommand(argv.slice(1));
    if (argv[0] === 'demo') {
      const demo = await startDemo(argv.slice(1));
      if (demo === 'help') {
        process.stdout.write(routerHelp());
        return 0;
      }
      const url = demo.router.url;
      process.stdout.write(
        `Switchyard ready on ${url} (model ${DEMO_MODEL}, 2 simulated workers: ${demo.workers.map((w) => w.url).join(' ')}). Try:\n` +
          `  curl -s ${url}/v1/chat/completions -H 'content-type: application/json' -d '{"model":"${DEMO_MODEL}","messages":[{"role":"user","content":"Hello!"}]}'\n`,
      );
      await waitForSignal();
      await demo.close();
      return 0;
    }
    const config = parseRouterConfig(argv, { requireWorkers: true });
    if (config === 'help') {
      process.stdout.write(routerHelp());
      return 0;
    }
    const router = await startRouter(config);
    process.stdout.write(`Switchyard ready on ${router.url} serving ${router.models.list().map((m) => `'${m.id}'`).join(', ')} with ${config.workerUrls.length + config.prefillWorkers.length + config.decodeUrls.length} worker(s)\n`);
    await waitForSignal();
    await router.close();
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`switchyard: ${err.message}\nRun 'switchyard --help' for the list of flags.\n`);
      return 2;
    }
    if (err instanceof StartupError) {
      process.stderr.write(`switchyard: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
