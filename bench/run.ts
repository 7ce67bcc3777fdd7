/**
 * `npm run bench`: router-added latency, relay throughput, prep-pool throughput and parser cost on this
 * machine, the routing decision cost, and the cache-hit simulation of the routing policies (virtual time).
 * Progress goes to stderr, the markdown results to stdout; a full run refreshes the results block of
 * BENCHMARKS.md, and any non-quick run of the simulation refreshes its own block.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadTokenizer } from '../native/tokenizer.js';
import { loadModelAssets } from '../src/tokenizer/assets.js';
import { bundledTokenizerDir } from '../src/tokenizer/bundled.js';
import { cacheSimSection } from './cachesim/report.js';
import { runCacheSim } from './cachesim/run.js';
import { cacheSimSettings } from './cachesim/settings.js';
import type { BenchContext } from './context.js';
import { runHarmony, type HarmonySettings } from './harmony.js';
import { runLatency, type LatencySettings } from './latency.js';
import { routerTokenCost, runParsers, type ParserSettings } from './parsers.js';
import { runPrep, runPrepMultiTurn, type MultiTurnSettings, type PrepSettings } from './prep.js';
import { summarizeProfile } from './profile.js';
import { PromptFactory } from './prompts.js';
import { measureRoutedRelay, runRelay, type RelaySettings } from './relay.js';
import { machineLine, renderResults, type BenchResults } from './report.js';
import { runRouting, type RoutingSettings } from './routing.js';

const USAGE = `Usage: npm run bench [-- OPTIONS]

Options:
  --quick               ~40 s smoke run (short windows and traces; BENCHMARKS.md is left alone)
  --only LIST           scenarios to run, comma-separated: latency,relay,prep,routing,cachesim,harmony,parsers (default: all)
  --concurrency LIST    latency scenario stream counts (default 1,64,256)
  --prep-threads N      prep pool threads (default: the router's, min(4, cores))
  --profile DIR         also profile the router thread (extra runs, not in the results) into DIR/*.cpuprofile
  --no-write            do not update BENCHMARKS.md after a full run
  -h, --help            show this help
`;

const SCENARIOS = ['latency', 'relay', 'prep', 'routing', 'cachesim', 'harmony', 'parsers'] as const;
type Scenario = (typeof SCENARIOS)[number];
/** The scenarios that drive a live router and sim, and so need the checked prompts. */
const LIVE: readonly string[] = ['latency', 'relay', 'prep', 'parsers'];
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BENCHMARKS_MD = join(ROOT, 'BENCHMARKS.md');
const RESULTS_BLOCK = 'results';
const CACHESIM_BLOCK = 'cachesim';
const FORCED_EXIT_MS = 5_000;

function log(message: string): void {
  process.stderr.write(`[bench ${(performance.now() / 1000).toFixed(1)}s] ${message}\n`);
}

function intList(raw: string, flag: string): number[] {
  const list = raw.split(',').map((x) => Number(x.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`${flag} takes positive integers, got '${raw}'`);
  return list;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      only: { type: 'string' },
      concurrency: { type: 'string' },
      'prep-threads': { type: 'string' },
      profile: { type: 'string' },
      'no-write': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const only = values.only ? values.only.split(',').map((s) => s.trim()) : [...SCENARIOS];
  for (const s of only) if (!SCENARIOS.includes(s as Scenario)) throw new Error(`unknown scenario '${s}' (known: ${SCENARIOS.join(', ')})`);
  const quick = values.quick === true;
  const latency: LatencySettings = {
    concurrencies: values.concurrency ? intList(values.concurrency, '--concurrency') : [1, 64, 256],
    warmupMs: quick ? 300 : 2_000,
    measureMs: quick ? 1_000 : 12_000,
    promptTokens: 1000,
    maxTokens: 32,
    decodeStepMs: 15,
  };
  const relay: RelaySettings = {
    streams: 128,
    tokensPerRequest: quick ? 500 : 2000,
    promptTokens: 1000,
    pacedStepMs: 1,
    warmupMs: quick ? 300 : 2_000,
    measureMs: quick ? 1_000 : 8_000,
  };
  const prep: PrepSettings = {
    threads: values['prep-threads'] ? intList(values['prep-threads'], '--prep-threads')[0]! : Math.max(1, Math.min(4, availableParallelism())),
    sizes: [1000, 8000],
    concurrency: 16,
    measureMs: quick ? 700 : 5_000,
    floorMs: quick ? 300 : 1_500,
  };
  const multiTurn: MultiTurnSettings = {
    threads: prep.threads,
    concurrency: prep.concurrency,
    measureMs: quick ? 1_500 : 6_000,
    conversations: 32,
    turns: 8,
    systemTokens: 600,
    userTokens: 80,
    answerTokens: 150,
  };
  const routing: RoutingSettings = {
    promptTokens: quick ? [1024, 4096, 16384] : [1024, 4096, 16384, 131072],
    workers: [10, 100, 500],
    decisions: quick ? 2_000 : 20_000,
    poolTokens: quick ? 2_000_000 : 16_000_000,
    traceRepeats: quick ? 1 : 3,
  };
  const harmony: HarmonySettings = { rounds: quick ? 50 : 400 };
  const parsers: ParserSettings = {
    warmupMs: quick ? 20 : 100,
    sampleMs: quick ? 15 : 60,
    repeats: quick ? 3 : 5,
  };
  // Without the relay scenario, the router's per-token cost comes from one shorter paced routed run.
  const routerCostRun: RelaySettings = { ...relay, warmupMs: quick ? 300 : 1_000, measureMs: quick ? 1_000 : 4_000 };

  const started = performance.now();
  const results: BenchResults = {
    command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
    machine: machineLine(),
    durationSec: 0,
    profiles: [],
  };
  log(results.machine);
  let failed = false;
  const attempt = async (name: Scenario, fn: () => Promise<void>) => {
    if (!only.includes(name)) return;
    try {
      await fn();
    } catch (err) {
      failed = true;
      log(`${name} failed: ${(err as Error).stack ?? err}`);
    }
  };
  // Only the live scenarios need prompts (and the tokenizer that checks them); the others run on synthetic ids.
  if (only.some((s) => LIVE.includes(s))) {
    const ctx: BenchContext = { ...(await benchModel()), log };
    const profileDir = values.profile;
    if (profileDir) {
      await mkdir(profileDir, { recursive: true });
      ctx.profile = {
        concurrency: 64,
        durationMs: quick ? 2_000 : 5_000,
        save: async (name, profile) => {
          const file = join(profileDir, `router-${name}.cpuprofile`);
          await writeFile(file, JSON.stringify(profile));
          const rel = relative(ROOT, file);
          results.profiles.push({ name, file: rel.startsWith('..') ? file : rel, summary: summarizeProfile(profile) });
          log(`wrote ${file}`);
        },
      };
    }
    await attempt('latency', async () => {
      results.latency = { settings: latency, rows: await runLatency(ctx, latency) };
    });
    await attempt('relay', async () => {
      results.relay = { settings: relay, result: await runRelay(ctx, relay) };
    });
    await attempt('prep', async () => {
      const rows = await runPrep(ctx, prep);
      results.prep = { settings: prep, rows, multiTurn: { settings: multiTurn, rows: await runPrepMultiTurn(ctx, multiTurn) } };
    });
    await attempt('parsers', async () => {
      const result = await runParsers(ctx, parsers);
      const router = results.relay
        ? routerTokenCost(results.relay.result.routed, 'the paced routed relay run above')
        : routerTokenCost(await measureRoutedRelay(ctx, routerCostRun), `a paced routed relay run (${routerCostRun.streams} streams, ${routerCostRun.measureMs / 1000} s) after the parser runs`);
      results.parsers = { settings: parsers, result, router };
    });
  }
  await attempt('routing', async () => {
    results.routing = { settings: routing, result: runRouting(routing, log) };
  });
  await attempt('cachesim', async () => {
    results.cachesim = runCacheSim(cacheSimSettings(quick), log);
  });
  await attempt('harmony', async () => {
    const gptoss = await loadTokenizer(join(bundledTokenizerDir('gptoss'), 'tokenizer.json'), 'native');
    results.harmony = { settings: harmony, result: await runHarmony(gptoss, harmony, log) };
  });
  results.durationSec = (performance.now() - started) / 1000;

  process.stdout.write(`${renderResults(results)}\n`);
  const write = !quick && !failed && values['no-write'] !== true;
  if (write && only.length === SCENARIOS.length) {
    await writeBlock(RESULTS_BLOCK, renderResults({ ...results, cachesim: undefined }));
    log(`updated the ${RESULTS_BLOCK} block of ${BENCHMARKS_MD}`);
  }
  if (write && results.cachesim) {
    const header = `Command: \`${results.command}\`, ${results.machine}`;
    await writeBlock(CACHESIM_BLOCK, [header, '', ...cacheSimSection(results.cachesim)].join('\n'));
    log(`updated the ${CACHESIM_BLOCK} block of ${BENCHMARKS_MD}`);
  }
  return failed ? 1 : 0;
}

/** The Qwen3 model the live scenarios run on: verified prompts, its tokenizer and EOS ids. */
async function benchModel(): Promise<Omit<BenchContext, 'log'>> {
  const dir = bundledTokenizerDir('qwen3');
  const tokenizer = await loadTokenizer(join(dir, 'tokenizer.json'), 'native');
  const prompts = await PromptFactory.create(tokenizer, dir);
  const { eosTokenIds } = await loadModelAssets(dir);
  for (const [i, n] of [[0, 1000], [1, 1000], [2, 8000]] as const) await prompts.verify(prompts.make(i, n));
  return { prompts, tokenizer, eosTokenIds };
}

/** Replaces the generated block `name` of BENCHMARKS.md, keeping the hand-written text around it. */
async function writeBlock(name: string, markdown: string): Promise<void> {
  const BEGIN = `<!-- bench:${name}:begin -->`;
  const END = `<!-- bench:${name}:end -->`;
  const block = `${BEGIN}\n${markdown}\n${END}`;
  let doc: string;
  try {
    doc = await readFile(BENCHMARKS_MD, 'utf8');
  } catch {
    doc = `# Benchmarks\n\n${BEGIN}\n${END}\n`;
  }
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  doc = a >= 0 && b > a ? doc.slice(0, a) + block + doc.slice(b + END.length) : `${doc.trimEnd()}\n\n${block}\n`;
  await writeFile(BENCHMARKS_MD, doc);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    setTimeout(() => {
      log('handles still open after the run; exiting');
      process.exit(code);
    }, FORCED_EXIT_MS).unref();
  },
  (err: unknown) => {
    log(err instanceof Error ? err.message : String(err));
    process.exit(2);
  },
);
