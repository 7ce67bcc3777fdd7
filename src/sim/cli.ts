import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadTokenizer, type Tokenizer } from '../../native/tokenizer.js';
import { loadModelAssets } from '../tokenizer/assets.js';
import { DISAGGREGATION_MODES, type DisaggregationMode } from './directives.js';
import { startSimWorker } from './server.js';
import { OUTPUT_STYLES, type OutputStyle } from './styles.js';

const USAGE = `Usage: switchyard sim --tokenizer-path DIR [OPTIONS]

One simulated SGLang SRT worker: a gRPC server speaking sglang.grpc.scheduler.SglangScheduler
that answers with deterministic prose through the real tokenizer, on a continuous-batching
latency model with a prefix KV cache. Prompts may carry test directives such as
<<sim reply="...">>, <<sim tokens=N>>, <<sim error=UNAVAILABLE>>, <<sim fail-after=N>>,
<<sim legacy-error=...>> and <<sim delay-ms=N>>.

Options:
  --tokenizer-path DIR      directory holding tokenizer.json; EOS ids come from its config.json /
                            generation_config.json, else tokenizer_config.json's eos_token (required)
  --port P                  gRPC port, 0 = any free one (default 30000)
  --host H                  address to bind (default 127.0.0.1)
  --served-model-name N     model name reported to the router (default sim-model)
  --context-length N        longest prompt + completion (default 32768)
  --prefill-tps X           prefill throughput in tokens/s, 0 = instant (default 8000)
  --decode-base-ms X        fixed time of a decode step (default 6)
  --decode-per-req-ms X     added step time per decoding request (default 0.35)
  --prefill-chunk N         prefill tokens per step, 0 = unlimited (default 2048)
  --kv-tokens N             KV cache capacity in tokens, per DP rank (default 524288)
  --block-size N            prefix-cache block size in tokens (default 16)
  --max-running N           batch width per DP rank; the rest wait FIFO (default 256)
  --dp-size N               data-parallel ranks reported and simulated; a request's
                            data_parallel_rank > 0 pins it to that rank (default 1)
  --api-key KEY             require \`authorization: Bearer KEY\` metadata on every call
  --output-style S          reply format without a reply directive: plain (prose), or a model
                            family's markup (reasoning where the family has it, then a call of the
                            first tool the prompt declares, else prose): qwen3, deepseek-r1,
                            deepseek-v3, llama3-json, llama3-python-tag, mistral, kimi-k2, glm45,
                            qwen3-coder, gpt-oss (Harmony)
                            (default plain)
  --disaggregation-mode M   null (an ordinary worker), prefill or decode, as SGLang's flag: prefill
                            and decode workers require disaggregated_params; a prefill worker
                            answers with the first token only, finish reason "length"; the
                            directives <<sim prefill-error=STATUS>> and <<sim prefill-delay-ms=N>>
                            act on prefill workers only, <<sim decode-delay-ms=N>> on
                            decode workers only (default null)
  -h, --help                show this help
`;

const OPTIONS = {
  'tokenizer-path': { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  'served-model-name': { type: 'string' },
  'context-length': { type: 'string' },
  'prefill-tps': { type: 'string' },
  'decode-base-ms': { type: 'string' },
  'decode-per-req-ms': { type: 'string' },
  'prefill-chunk': { type: 'string' },
  'kv-tokens': { type: 'string' },
  'block-size': { type: 'string' },
  'max-running': { type: 'string' },
  'dp-size': { type: 'string' },
  'api-key': { type: 'string' },
  'output-style': { type: 'string' },
  'disaggregation-mode': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

class SimUsageError extends Error {}

/** `switchyard sim …`: runs one simulated worker until SIGINT/SIGTERM; returns the exit code. */
export async function runSimCommand(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS; strict: true }>>['values'];
  try {
    values = parseArgs({ args: argv, options: OPTIONS, strict: true }).values;
  } catch (err) {
    return usageError((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  let flags: ReturnType<typeof readNumbers>;
  try {
    flags = readNumbers(values);
  } catch (err) {
    if (err instanceof SimUsageError) return usageError(err.message);
    throw err;
  }
  const style = values['output-style'] ?? 'plain';
  if (!OUTPUT_STYLES.includes(style as OutputStyle)) return usageError(`--output-style must be one of ${OUTPUT_STYLES.join(', ')}`);
  const mode = values['disaggregation-mode'] ?? 'null';
  if (!DISAGGREGATION_MODES.includes(mode as DisaggregationMode)) return usageError(`--disaggregation-mode must be one of ${DISAGGREGATION_MODES.join(', ')}`);
  const path = values['tokenizer-path'];
  if (!path) return usageError('--tokenizer-path is required');
  const dir = resolve(path.endsWith('.json') ? dirname(path) : path);

  let tokenizer: Tokenizer;
  let eosTokenIds: number[];
  try {
    tokenizer = await loadTokenizer(join(dir, 'tokenizer.json'));
    eosTokenIds = (await loadModelAssets(dir)).eosTokenIds;
  } catch (err) {
    process.stderr.write(`switchyard sim: cannot load the tokenizer from ${dir}: ${(err as Error).message}\n`);
    return 1;
  }
  if (eosTokenIds.length === 0) process.stderr.write(`switchyard sim: no EOS token found in ${dir}; replies end without one\n`);

  const worker = await startSimWorker({
    host: values.host,
    port: flags.port,
    tokenizer,
    tokenizerPath: dir,
    modelPath: dir,
    servedModelName: values['served-model-name'],
    eosTokenIds,
    maxContextLength: flags.contextLength,
    latency: {
      prefillTokensPerSec: flags.prefillTps,
      decodeBaseMs: flags.decodeBaseMs,
      decodePerReqMs: flags.decodePerReqMs,
      prefillChunk: flags.prefillChunk,
    },
    kvCapacityTokens: flags.kvTokens,
    blockSize: flags.blockSize,
    maxRunning: flags.maxRunning,
    dpSize: flags.dpSize,
    ...(values['api-key'] === undefined ? {} : { apiKey: values['api-key'] }),
    outputStyle: style as OutputStyle,
    disaggregationMode: mode as DisaggregationMode,
  });
  process.stdout.write(`sim worker listening on ${worker.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await worker.close();
  return 0;
}

function usageError(message: string): number {
  process.stderr.write(`switchyard sim: ${message}\nRun 'switchyard sim --help' for the list of flags.\n`);
  return 2;
}

function readNumbers(v: Partial<Record<keyof typeof OPTIONS, string | boolean>>) {
  return {
    port: num(v, 'port', 30000, { int: true, min: 0, max: 65535 }),
    contextLength: num(v, 'context-length', undefined, { int: true, min: 2 }),
    prefillTps: num(v, 'prefill-tps', undefined, { min: 0 }),
    decodeBaseMs: num(v, 'decode-base-ms', undefined, { min: 0 }),
    decodePerReqMs: num(v, 'decode-per-req-ms', undefined, { min: 0 }),
    prefillChunk: num(v, 'prefill-chunk', undefined, { int: true, min: 0 }),
    kvTokens: num(v, 'kv-tokens', undefined, { int: true, min: 1 }),
    blockSize: num(v, 'block-size', undefined, { int: true, min: 1 }),
    maxRunning: num(v, 'max-running', undefined, { int: true, min: 1 }),
    dpSize: num(v, 'dp-size', undefined, { int: true, min: 1, max: 64 }),
  };
}

function num<D extends number | undefined>(
  v: Partial<Record<string, string | boolean>>,
  flag: string,
  fallback: D,
  rule: { int?: boolean; min: number; max?: number },
): number | D {
  const raw = v[flag];
  if (typeof raw !== 'string') return fallback;
  const n = Number(raw);
  const ok = raw.trim() !== '' && Number.isFinite(n) && (!rule.int || Number.isInteger(n)) && n >= rule.min && n <= (rule.max ?? Infinity);
  if (!ok) {
    const kind = rule.int ? 'an integer' : 'a number';
    throw new SimUsageError(`--${flag} must be ${kind} in [${rule.min}, ${rule.max ?? '∞'}], got '${raw}'`);
  }
  return n;
}
