/**
 * `npm run bench`: router-added latency, relay throughput, prep-pool throughput and parser cost on this machine.
 * Progress goes to stderr, the markdown results to stdout; a full run also refreshes the results
 * block of BENCHMARKS.md.
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
import type { BenchContext } from './context.js';
import { runLatency, type LatencySettings } from './latency.js';
import { routerTokenCost, runParsers, type ParserSettings } from './parsers.js';
import { runPrep, type PrepSettings } from './prep.js';
import { summarizeProfile } from './profile.js';
import { PromptFactory } from './prompts.js';
import { measureRoutedRelay, runRelay, type RelaySettings } from './relay.js';
import { machineLine, renderResults, type BenchResults } from './report.js';

const USAGE = `Usage: npm run bench [-- OPTIONS]

Options:
  --quick               ~40 s smoke run (short windows; BENCHMARKS.md is left alone)
  --only LIST           scenarios to run, comma-separated: latency,relay,prep,parsers (default: all)
  --concurrency LIST    latency scenario stream counts (default 1,64,256)
  --prep-threads N      prep pool threads (default: the router's, min(4, cores))
  --profile DIR         also profile the router thread (extra runs, not in the results) into DIR/*.cpuprofile
  --no-write            do not update BENCHMARKS.md after a full run
  -h, --help            show this help
`;

const SCENARIOS = ['latency', 'relay', 'prep', 'parsers'] as const;
type Scenario = (typeof SCENARIOS)[number];
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BENCHMARKS_MD = join(ROOT, 'BENCHMARKS.md');
const BEGIN = '<!-- bench:results:begin -->';
const END = '<!-- bench:results:end -->';
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
  const dir = bundledTokenizerDir('qwen3');
  const tokenizer = await loadTokenizer(join(dir, 'tokenizer.json'), 'native');
  const prompts = await PromptFactory.create(tokenizer, dir);
  const { eosTokenIds } = await loadModelAssets(dir);
  for (const [i, n] of [[0, 1000], [1, 1000], [2, 8000]] as const) await prompts.verify(prompts.make(i, n));

  const ctx: BenchContext = { prompts, tokenizer, eosTokenIds, log };
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
  await attempt('latency', async () => {
    results.latency = { settings: latency, rows: await runLatency(ctx, latency) };
  });
  await attempt('relay', async () => {
    results.relay = { settings: relay, result: await runRelay(ctx, relay) };
  });
  await attempt('prep', async () => {
    results.prep = { settings: prep, rows: await runPrep(ctx, prep) };
  });
  await attempt('parsers', async () => {
    const result = await runParsers(ctx, parsers);
    const router = results.relay
      ? routerTokenCost(results.relay.result.routed, 'the paced routed relay run above')
      : routerTokenCost(await measureRoutedRelay(ctx, routerCostRun), `a paced routed relay run (${routerCostRun.streams} streams, ${routerCostRun.measureMs / 1000} s) after the parser runs`);
    results.parsers = { settings: parsers, result, router };
  });
  results.durationSec = (performance.now() - started) / 1000;

  const markdown = renderResults(results);
  process.stdout.write(`${markdown}\n`);
  const full = !quick && only.length === SCENARIOS.length;
  if (full && !failed && values['no-write'] !== true) {
    await writeResults(markdown);
    log(`updated ${BENCHMARKS_MD}`);
  }
  return failed ? 1 : 0;
}

/** Replaces the generated block of BENCHMARKS.md, keeping the hand-written text around it. */
async function writeResults(markdown: string): Promise<void> {
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
