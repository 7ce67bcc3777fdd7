import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { bundledTokenizerDir } from '../src/tokenizer/bundled.js';
import { PrepPool } from '../src/tokenizer/prep-pool.js';
import type { BenchContext } from './context.js';
import type { Prompt } from './prompts.js';
import { loopStats, Samples, type LoopStats, type Summary } from './stats.js';

export interface PrepSettings {
  threads: number;
  sizes: number[];
  concurrency: number;
  measureMs: number;
  /** Short sequential run per size for the latency floor. */
  floorMs: number;
}

export interface PrepRow {
  tokens: number;
  /** One request at a time. */
  floor: Summary;
  reqPerSec: number;
  latency: Summary;
  /** This (the calling) thread's loop while the pool was busy. */
  loop: LoopStats;
}

const DISTINCT_PROMPTS = 64;
const ELD_RESOLUTION_MS = 1;

/** The router's prep pool (chat template + tokenizer in worker threads) driven from this thread, as the router drives it. */
export async function runPrep(ctx: BenchContext, s: PrepSettings): Promise<PrepRow[]> {
  const pool = new PrepPool({ dir: bundledTokenizerDir('qwen3'), backend: 'native' }, s.threads);
  try {
    await pool.warmUp();
    const rows: PrepRow[] = [];
    for (const tokens of s.sizes) {
      const prompts = Array.from({ length: DISTINCT_PROMPTS }, (_, i) => ctx.prompts.make(500_000_000 + tokens * 1000 + i, tokens));
      const first = await render(pool, prompts[0]!);
      if (first.ids.length !== tokens) throw new Error(`prep pool made ${first.ids.length} ids of a ${tokens}-token prompt`);
      await closedLoop(pool, prompts, s.concurrency, 500);
      const floor = (await closedLoop(pool, prompts, 1, s.floorMs)).latency;
      const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
      eld.enable();
      const elu0 = performance.eventLoopUtilization();
      const run = await closedLoop(pool, prompts, s.concurrency, s.measureMs);
      const loop = loopStats(eld, ELD_RESOLUTION_MS, performance.eventLoopUtilization(elu0).utilization);
      eld.disable();
      rows.push({ tokens, floor, reqPerSec: run.reqPerSec, latency: run.latency, loop });
      ctx.log(
        `prep ${tokens} tokens: ${run.reqPerSec.toFixed(0)} req/s at ${s.concurrency} in flight (p50 ${run.latency.p50.toFixed(2)} ms), ` +
          `alone p50 ${floor.p50.toFixed(2)} ms; main loop delay p99 ${loop.p99.toFixed(2)} ms`,
      );
    }
    return rows;
  } finally {
    await pool.close();
  }
}

function render(pool: PrepPool, p: Prompt) {
  return pool.renderChat({ messages: p.messages, addGenerationPrompt: true, continueFinalMessage: false });
}

async function closedLoop(pool: PrepPool, prompts: Prompt[], concurrency: number, ms: number): Promise<{ reqPerSec: number; latency: Summary }> {
  const latency = new Samples();
  let stop = false;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (!stop) {
      const p = prompts[next++ % prompts.length]!;
      const start = performance.now();
      await render(pool, p);
      latency.add(performance.now() - start);
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  await sleep(ms);
  stop = true;
  await Promise.all(workers);
  return { reqPerSec: (latency.count * 1000) / (performance.now() - t0), latency: latency.summary() };
}

export interface MultiTurnSettings {
  threads: number;
  concurrency: number;
  measureMs: number;
  /** Conversations alive at once; each grows by a user turn and an answer per request. */
  conversations: number;
  /** Turns before a conversation is replaced by a new one. */
  turns: number;
  systemTokens: number;
  userTokens: number;
  answerTokens: number;
}

export interface MultiTurnRow {
  cache: 'off' | 'on';
  reqPerSec: number;
  latency: Summary;
  /** Fractions of requests answered by each cache level. */
  l0: number;
  l1: number;
  /** Fraction of all prompt tokens that came from the cache. */
  reused: number;
}

/** The reference's default sizes, both levels on. */
const CACHE_ON = { l0MaxEntries: 10_000, l1MaxMemory: 52_428_800 };

/**
 * Chats over a shared system prompt that grow turn by turn, as clients resend the whole history:
 * the same seeded workload through a pool with the tokenizer caches off, then on.
 */
export async function runPrepMultiTurn(ctx: BenchContext, s: MultiTurnSettings): Promise<MultiTurnRow[]> {
  const rows: MultiTurnRow[] = [];
  for (const cache of ['off', 'on'] as const) {
    const dir = bundledTokenizerDir('qwen3');
    const pool = new PrepPool({ dir, backend: 'native', ...(cache === 'on' ? { cache: CACHE_ON } : {}) }, s.threads);
    try {
      await pool.warmUp();
      const chats = new Chats(ctx, s);
      await chats.drive(pool, s.concurrency, 500);
      const run = await chats.drive(pool, s.concurrency, s.measureMs);
      rows.push({ cache, ...run });
      ctx.log(
        `prep multi-turn, cache ${cache}: ${run.reqPerSec.toFixed(0)} req/s, p50 ${run.latency.p50.toFixed(2)} ms, p99 ${run.latency.p99.toFixed(2)} ms, ` +
          `hits L0 ${(run.l0 * 100).toFixed(0)}% L1 ${(run.l1 * 100).toFixed(0)}%, tokens from the cache ${(run.reused * 100).toFixed(0)}%`,
      );
    } finally {
      await pool.close();
    }
  }
  return rows;
}

type Turn = { role: string; content: string };

/** Seeded conversations; one request per conversation in flight, as a client waits for its answer. */
class Chats {
  private readonly idle: Turn[][] = [];
  /** Seeds every new text, across the warm-up and the measured drive. */
  private seq = 0;
  private readonly system: string;

  constructor(
    private readonly ctx: BenchContext,
    private readonly s: MultiTurnSettings,
  ) {
    this.system = this.text(0, s.systemTokens);
    for (let i = 0; i < s.conversations; i++) this.idle.push(this.fresh());
  }

  private text(index: number, tokens: number): string {
    return this.ctx.prompts.make(700_000_000 + index, tokens).messages[0]!.content;
  }

  private fresh(): Turn[] {
    return [{ role: 'system', content: this.system }];
  }

  async drive(pool: PrepPool, concurrency: number, ms: number): Promise<Omit<MultiTurnRow, 'cache'>> {
    const latency = new Samples();
    let l0 = 0;
    let l1 = 0;
    let tokens = 0;
    let reused = 0;
    let stop = false;
    const t0 = performance.now();
    const worker = async () => {
      while (!stop) {
        const chat = this.idle.shift()!;
        chat.push({ role: 'user', content: this.text(++this.seq, this.s.userTokens) });
        const start = performance.now();
        const res = await pool.renderChat({ messages: chat, addGenerationPrompt: true, continueFinalMessage: false });
        latency.add(performance.now() - start);
        if (res.cacheHit === 'l0') l0++;
        else if (res.cacheHit === 'l1') l1++;
        tokens += res.ids.length;
        reused += res.cachedTokens ?? 0;
        chat.push({ role: 'assistant', content: this.text(++this.seq, this.s.answerTokens) });
        this.idle.push(chat.length > 2 * this.s.turns ? this.fresh() : chat);
      }
    };
    await Promise.all([...Array.from({ length: concurrency }, worker), sleep(ms).then(() => (stop = true))]);
    return { reqPerSec: (latency.count * 1000) / (performance.now() - t0), latency: latency.summary(), l0: l0 / latency.count, l1: l1 / latency.count, reused: reused / tokens };
  }
}
