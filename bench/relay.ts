import type { BenchContext } from './context.js';
import { measurePath, withEndpoints, type Endpoints, type Path, type PathLoad, type PathStats } from './paths.js';

export interface RelaySettings {
  streams: number;
  tokensPerRequest: number;
  promptTokens: number;
  /** The paced sim's decode step: it offers at most streams × 1000 / stepMs one-token chunks per second. */
  pacedStepMs: number;
  warmupMs: number;
  measureMs: number;
}

export interface RelayResult {
  /** Sim + gRPC + client alone: the 1-token chunk rate this machine can offer. */
  direct: PathStats;
  /** The same paced load through the router. */
  routed: PathStats;
  /** Through the router with the sim unpaced: it batches the tokens of steps the router was too slow to take. */
  routedUnpaced: PathStats;
}

/**
 * Relay throughput in 1-token chunks. The sim decodes one token per stream per step and sends each
 * as its own chunk, but batches them when its gRPC stream is blocked; so the main runs pace it
 * (a fixed decode step), and tokens per event shows whether chunks stayed single tokens.
 */
export async function runRelay(ctx: BenchContext, s: RelaySettings): Promise<RelayResult> {
  const load = (base: number, measureMs: number) => relayLoad(s, base, measureMs);
  const run = async (e: Endpoints, path: Path, label: string, base: number) => {
    const r = await measurePath(ctx, e, path, load(base, s.measureMs));
    ctx.log(`relay ${label}: ${Math.round(r.tokensPerSec)} tokens/s in ${Math.round(r.eventsPerSec)} events/s, router loop delay p99 ${r.loop?.p99.toFixed(2) ?? '–'} ms`);
    return r;
  };
  const { direct, routed } = await withEndpoints(pacedSim(s), async (e) => {
    const direct = await run(e, 'direct', 'direct, paced', 700_000_000);
    const routed = await run(e, 'routed', 'routed, paced', 700_000_000);
    if (ctx.profile) {
      ctx.log('relay: profiling the router thread (not part of the results)');
      await e.router.startProfile();
      await measurePath(ctx, e, 'routed', load(600_000_000, ctx.profile.durationMs));
      await ctx.profile.save('relay', await e.router.stopProfile());
    }
    return { direct, routed };
  });
  const unpaced = { latency: { prefillTokensPerSec: 0, decodeBaseMs: 0, decodePerReqMs: 0 } };
  const routedUnpaced = await withEndpoints(unpaced, (e) => run(e, 'routed', 'routed, unpaced', 710_000_000));
  return { direct, routed, routedUnpaced };
}

function relayLoad(s: RelaySettings, base: number, measureMs: number): PathLoad {
  return {
    concurrency: s.streams,
    staggerMs: 500,
    warmupMs: s.warmupMs,
    measureMs,
    promptTokens: s.promptTokens,
    maxTokens: s.tokensPerRequest,
    base,
  };
}

function pacedSim(s: RelaySettings) {
  return { latency: { prefillTokensPerSec: 0, decodeBaseMs: s.pacedStepMs, decodePerReqMs: 0 } };
}

/** The paced routed relay row alone (for scenarios that need the router's cost per streamed token). */
export async function measureRoutedRelay(ctx: BenchContext, s: RelaySettings): Promise<PathStats> {
  return withEndpoints(pacedSim(s), (e) => measurePath(ctx, e, 'routed', relayLoad(s, 720_000_000, s.measureMs)));
}
