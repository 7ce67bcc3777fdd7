import { availableParallelism } from 'node:os';
import { HARMONY_PARSER, isHarmonyParserName } from '../parsers/harmony/detect.js';
import { REASONING_PARSER_NAMES, resolveReasoningParserName } from '../parsers/reasoning/registry.js';
import { resolveToolParserName, TOOL_PARSER_NAMES } from '../parsers/tools/registry.js';
import { DEFAULT_DURATION_BUCKETS } from '../metrics/router-metrics.js';
import { DEFAULT_POLICY_OPTIONS, POLICY_NAMES, type PolicyName } from '../routing/types.js';

/** The reference gateway's spelling of a policy we implement under another name (its least_load is a different algorithm). */
const POLICY_ALIASES: Readonly<Record<string, PolicyName>> = { consistent_hashing: 'consistent_hash' };
import { formatHelp, parseFlags, UsageError, type FlagSpec, type ParsedFlags } from './args.js';

export type TokenizerBackendName = 'native' | 'js';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Everything the router needs to start, validated once. */
export interface RouterConfig {
  host: string;
  port: number;
  workerUrls: string[];
  modelPath?: string;
  tokenizerPath?: string;
  chatTemplate?: string;
  servedModelName?: string;
  tokenizerBackend: TokenizerBackendName;
  prepThreads: number;
  logLevel: LogLevel;
  requestTimeoutSecs: number;
  maxPayloadSize: number;
  healthCheckIntervalSecs: number;
  healthCheckTimeoutSecs: number;
  healthFailureThreshold: number;
  healthSuccessThreshold: number;
  cbFailureThreshold: number;
  cbSuccessThreshold: number;
  cbTimeoutDurationSecs: number;
  disableCircuitBreaker: boolean;
  loadMonitorIntervalSecs: number;
  dpAware: boolean;
  /** Sent as `authorization: Bearer KEY` to every worker listed on the command line. */
  workerApiKey?: string;
  workerStartupTimeoutSecs: number;
  policy: PolicyName;
  blockSize: number;
  cacheThreshold: number;
  balanceAbsThreshold: number;
  balanceRelThreshold: number;
  evictionIntervalSecs: number;
  maxTreeSize: number;
  requestIdHeaders: string[];
  /** 'auto', 'none', 'harmony' (GPT-OSS) or a canonical reasoning parser name. */
  reasoningParser: string;
  /** 'auto', 'none', 'harmony' (GPT-OSS) or a canonical tool-call parser name. */
  toolCallParser: string;
  apiKey?: string;
  adminApiKey?: string;
  /** -1 = admission control off. */
  maxConcurrentRequests: number;
  queueSize: number;
  queueTimeoutSecs: number;
  rateLimitTokensPerSecond: number;
  retryMaxRetries: number;
  retryInitialBackoffMs: number;
  retryMaxBackoffMs: number;
  retryBackoffMultiplier: number;
  retryJitterFactor: number;
  disableRetries: boolean;
  prometheusHost: string;
  prometheusPort: number;
  prometheusDurationBuckets: number[];
  disablePrometheus: boolean;
  /** Prefill/decode disaggregation: requests go to a prefill worker and a decode worker at once. */
  pdDisaggregation: boolean;
  prefillWorkers: PrefillWorker[];
  decodeUrls: string[];
  prefillPolicy: PolicyName;
  decodePolicy: PolicyName;
  /** Whole-string tokenizer cache per prep thread, in entries; 0 = off. */
  tokenizerCacheL0MaxEntries: number;
  /** Special-token-boundary prefix cache per prep thread, in bytes; 0 = off. */
  tokenizerCacheL1MaxMemory: number;
}

export interface PrefillWorker {
  url: string;
  /** The KV bootstrap port decode workers fetch from; undefined = SGLang's default (8998). */
  bootstrapPort?: number;
}

const defaultPrepThreads = Math.max(1, Math.min(4, availableParallelism()));

export const ROUTER_FLAGS: readonly FlagSpec[] = [
  { name: 'host', kind: 'string', default: '127.0.0.1', help: 'Address the HTTP server listens on' },
  { name: 'port', kind: 'int', default: 30000, min: 0, max: 65535, help: 'HTTP port (0 = any free port)' },
  {
    name: 'worker-urls',
    kind: 'list',
    default: [],
    metavar: 'URL...',
    help: 'SGLang SRT workers in gRPC mode, e.g. grpc://10.0.0.5:20000 (grpc://, http:// and host:port are accepted)',
  },
  {
    name: 'model-path',
    kind: 'string',
    aliases: ['model'],
    metavar: 'DIR|HF_ID',
    help: "Model directory or Hugging Face id (resolved from the local HF cache, never downloaded); the startup model's tokenizer and template",
  },
  {
    name: 'tokenizer-path',
    kind: 'string',
    metavar: 'DIR',
    help: "The startup model's directory with tokenizer.json + tokenizer_config.json; overrides --model-path. Default: the worker's GetModelInfo.tokenizer_path when it is a local directory",
  },
  { name: 'chat-template', kind: 'string', metavar: 'FILE', help: 'Chat template file (.jinja, or .json with a chat_template field) overriding the startup model\'s' },
  { name: 'served-model-name', kind: 'string', metavar: 'NAME', help: 'Id clients send for the startup model (other models keep their workers\' names). Default: the worker\'s served_model_name' },
  { name: 'tokenizer-backend', kind: 'string', default: 'native', choices: ['native', 'js'], help: 'HF tokenizers napi binding, or the pure-JS port' },
  { name: 'prep-threads', kind: 'int', default: defaultPrepThreads, min: 1, max: 64, help: 'Worker threads that render templates and tokenize, per served model' },
  { name: 'log-level', kind: 'string', default: 'info', choices: ['trace', 'debug', 'info', 'warn', 'error', 'silent'], help: 'Log level' },
  { name: 'request-timeout-secs', kind: 'number', default: 1800, min: 0.001, help: 'Deadline for one request, end to end (gRPC deadline included)' },
  { name: 'max-payload-size', kind: 'int', default: 536870912, min: 1024, help: 'Largest accepted request body in bytes' },
  // Probes are the slow path: connect errors and dropped connections take a worker out at once, so
  // probes only catch hung workers and bring recovered ones back. 5 s × 2 failures isolates a hung
  // worker in ~10 s, where the reference's 60 s × 3 takes three minutes.
  { name: 'health-check-interval-secs', kind: 'number', default: 5, min: 0.05, help: 'How often workers are probed with HealthCheck' },
  { name: 'health-check-timeout-secs', kind: 'number', default: 3, min: 0.05, help: 'Timeout of one HealthCheck probe; also how long POST /workers waits for a new worker\'s GetModelInfo' },
  { name: 'health-failure-threshold', kind: 'int', default: 2, min: 1, max: 1000, help: 'Consecutive failed probes that take a ready worker out of rotation' },
  { name: 'health-success-threshold', kind: 'int', default: 2, min: 1, max: 1000, help: 'Consecutive passed probes that bring an unready worker back (a new worker needs one)' },
  // Breakers see requests the worker answered with an error; 5 in a row is a pattern, not noise,
  // and 10 s open is long enough to shed a struggling worker without leaving it idle for a minute.
  { name: 'cb-failure-threshold', kind: 'int', default: 5, min: 1, max: 1000000, help: 'Consecutive failed requests (5xx, not 429) that open a worker\'s circuit breaker' },
  { name: 'cb-success-threshold', kind: 'int', default: 2, min: 1, max: 1000, help: 'Consecutive successful trial requests that close a half-open breaker' },
  { name: 'cb-timeout-duration-secs', kind: 'number', default: 10, min: 0.01, help: 'How long an open breaker rejects traffic before admitting a trial request' },
  { name: 'disable-circuit-breaker', kind: 'boolean', default: false, help: 'Never open circuit breakers' },
  {
    name: 'load-monitor-interval',
    kind: 'number',
    aliases: ['load-monitor-interval-secs'],
    default: 2,
    min: 0.05,
    metavar: 'SECS',
    help: 'Seconds between GetLoads reads from every ready worker (the reference gateway\'s name; polled always, not only for load-aware policies)',
  },
  { name: 'dp-aware', kind: 'boolean', default: false, help: "Route to each worker's data-parallel ranks as separate workers (dp_size from GetServerInfo)" },
  {
    name: 'worker-api-key',
    kind: 'string',
    metavar: 'KEY',
    help: 'Key sent as `authorization: Bearer KEY` gRPC metadata to the workers listed on the command line (POST /workers takes a key per worker); never shown by the API',
  },
  {
    name: 'worker-startup-timeout-secs',
    kind: 'number',
    default: 1800,
    min: 0.1,
    help: 'How long to wait for a worker to answer GetModelInfo when the tokenizer comes from it',
  },
  // Routing: one policy instance per served model (and PD leg), on the prompt's token ids.
  { name: 'policy', kind: 'string', default: 'cache_aware', choices: POLICY_NAMES, choiceAliases: POLICY_ALIASES, help: 'How a worker is chosen for each request' },
  {
    name: 'block-size',
    kind: 'int',
    default: DEFAULT_POLICY_OPTIONS.blockSize,
    min: 1,
    max: 65536,
    help: "Tokens per cache block in cache_aware's prefix tree; must match the engines' KV page size (SGLang --page-size)",
  },
  {
    name: 'cache-threshold',
    kind: 'number',
    default: DEFAULT_POLICY_OPTIONS.cacheThreshold,
    min: 0,
    max: 1,
    help: 'cache_aware: a prefix match of at most this fraction of the prompt earns a worker no affinity',
  },
  {
    name: 'balance-abs-threshold',
    kind: 'int',
    default: DEFAULT_POLICY_OPTIONS.balanceAbsThreshold,
    min: 0,
    help: 'cache_aware: a worker with this many more in-flight requests than the least loaded (and --balance-rel-threshold times as many) loses its affinity',
  },
  {
    name: 'balance-rel-threshold',
    kind: 'number',
    default: DEFAULT_POLICY_OPTIONS.balanceRelThreshold,
    min: 1,
    help: 'cache_aware: the relative side of that imbalance test',
  },
  {
    name: 'eviction-interval',
    kind: 'number',
    default: DEFAULT_POLICY_OPTIONS.evictionIntervalSecs,
    min: 0.001,
    help: "cache_aware: seconds between sweeps that trim every worker's share of the prefix tree to its KV capacity",
  },
  {
    name: 'max-tree-size',
    kind: 'int',
    default: DEFAULT_POLICY_OPTIONS.maxTreeSize,
    min: 1,
    help: "cache_aware: tokens of prefix tree per worker while its KV capacity is unknown (the capacity bounds it once GetServerInfo told it)",
  },
  {
    name: 'request-id-headers',
    kind: 'list',
    default: ['x-request-id', 'x-correlation-id', 'x-trace-id', 'request-id'],
    metavar: 'HEADER...',
    help: 'Headers that carry a client request id, first match wins; the id is echoed as x-request-id',
  },
  {
    name: 'reasoning-parser',
    kind: 'string',
    default: 'auto',
    metavar: 'NAME',
    help: `Splits reasoning from the startup model's answers (other models: auto): auto (from the model's architecture, template and name), none, harmony (GPT-OSS; also gpt-oss), or one of ${REASONING_PARSER_NAMES.join(', ')} (SGLang names accepted)`,
  },
  {
    name: 'tool-call-parser',
    kind: 'string',
    default: 'auto',
    metavar: 'NAME',
    help: `Reads tool calls out of the startup model's text (other models: auto): auto, none, harmony (GPT-OSS; also gpt-oss), or one of ${TOOL_PARSER_NAMES.join(', ')} (SGLang names accepted)`,
  },
  { name: 'api-key', kind: 'string', metavar: 'KEY', help: "Clients must send 'Authorization: Bearer KEY' on every route except /health, /liveness, /readiness" },
  { name: 'admin-api-key', kind: 'string', metavar: 'KEY', help: 'Key for the admin routes (/workers, /flush_cache, /get_loads, /parse/...) instead of --api-key' },
  {
    name: 'max-concurrent-requests',
    kind: 'int',
    default: -1,
    min: -1,
    help: 'Inference requests served at once (admission token bucket capacity); -1 = unlimited',
  },
  { name: 'queue-size', kind: 'int', default: 100, min: 0, help: 'Requests that may wait for a slot; beyond it they get 429' },
  { name: 'queue-timeout-secs', kind: 'number', default: 60, min: 0.001, help: 'How long a request waits for a slot before it gets 408' },
  {
    name: 'rate-limit-tokens-per-second',
    kind: 'number',
    default: 0,
    min: 0,
    help: 'Tokens added to the admission bucket per second besides those returned by finished requests (0 = a strict concurrency cap)',
  },
  { name: 'retry-max-retries', kind: 'int', default: 5, min: 1, help: 'Attempts per request in total, the first included' },
  { name: 'retry-initial-backoff-ms', kind: 'number', default: 50, min: 0, help: 'Delay before the first retry' },
  { name: 'retry-max-backoff-ms', kind: 'number', default: 30000, min: 0, help: 'Longest delay between attempts' },
  { name: 'retry-backoff-multiplier', kind: 'number', default: 1.5, min: 1, help: 'Growth of the delay per retry' },
  { name: 'retry-jitter-factor', kind: 'number', default: 0.2, min: 0, max: 1, help: 'Random spread of each delay, as a fraction (0.2 = ±20 %)' },
  { name: 'disable-retries', kind: 'boolean', help: 'Make one attempt per request' },
  { name: 'prometheus-host', kind: 'string', default: '127.0.0.1', help: 'Address of the Prometheus /metrics listener' },
  { name: 'prometheus-port', kind: 'int', default: 29000, min: 0, max: 65535, help: 'Port of the Prometheus /metrics listener (0 = any free port)' },
  {
    name: 'prometheus-duration-buckets',
    kind: 'list',
    default: DEFAULT_DURATION_BUCKETS.map(String),
    metavar: 'SECS...',
    help: 'Histogram bucket bounds for request duration and time to first token, ascending',
  },
  { name: 'disable-prometheus', kind: 'boolean', help: 'Do not open the /metrics listener' },
  { name: 'pd-disaggregation', kind: 'boolean', default: false, help: 'Prefill/decode disaggregation: every request goes to a --prefill and a --decode worker at once' },
  {
    name: 'prefill',
    kind: 'list',
    default: [],
    metavar: 'URL [BOOTSTRAP_PORT]',
    help: "A prefill worker and, optionally, its KV bootstrap port (a number, or none for SGLang's 8998); repeat the flag per worker",
  },
  { name: 'decode', kind: 'list', default: [], metavar: 'URL', help: 'A decode worker; repeat the flag per worker (or list several)' },
  // The pair rule: the prefill leg goes where the prompt's prefix is cached, the decode leg
  // where there is load and KV room to spare (selectPair filters decode workers by KV headroom first).
  { name: 'prefill-policy', kind: 'string', default: 'cache_aware', choices: POLICY_NAMES, choiceAliases: POLICY_ALIASES, help: 'Routing policy of the prefill leg' },
  { name: 'decode-policy', kind: 'string', default: 'power_of_two', choices: POLICY_NAMES, choiceAliases: POLICY_ALIASES, help: 'Routing policy of the decode leg, among decode workers with KV room for the request' },
  { name: 'tokenizer-cache-enable-l0', kind: 'boolean', default: false, help: 'Cache whole prompts\' token ids in every prep thread (exact text match)' },
  { name: 'tokenizer-cache-l0-max-entries', kind: 'int', default: 10000, min: 1, help: 'Prompts the whole-prompt cache keeps per prep thread (least recently used go first)' },
  // On by default, unlike the reference: multi-turn prep ran 2.4x faster in bench/prep.ts with no cost on
  // single-turn prompts, and the memory is bounded (L0 stays off: it is bounded by entries, not bytes).
  {
    name: 'tokenizer-cache-enable-l1',
    kind: 'boolean',
    default: true,
    help: "Cache the token ids of prompt prefixes that end at a special token in every prep thread, so a conversation's next turn tokenizes only its new text (=false turns it off)",
  },
  {
    name: 'tokenizer-cache-l1-max-memory',
    kind: 'int',
    default: 52428800,
    min: 1024,
    help: 'Bytes of prefix cache per prep thread, counted as prefix characters + 4 per token (least recently used go first)',
  },
  { name: 'help', kind: 'boolean', aliases: ['h'], help: 'Show this help' },
];

export const ROUTER_USAGE = `Usage: switchyard [OPTIONS]
       switchyard demo [OPTIONS]      router in front of two simulated workers on the Qwen3 tokenizer
       switchyard sim [OPTIONS]       one simulated SGLang SRT worker (see: switchyard sim --help)

Switchyard is a gRPC-native, tokenizing router with an OpenAI-compatible API in front of SGLang SRT workers.`;

export function routerHelp(): string {
  return formatHelp(ROUTER_USAGE, ROUTER_FLAGS);
}

/** Returns the config, or 'help' when --help was given. Throws UsageError for bad input. */
export function parseRouterConfig(argv: readonly string[], opts: { requireWorkers: boolean }): RouterConfig | 'help' {
  const f = parseFlags(argv, ROUTER_FLAGS);
  if (f['help'] === true) return 'help';
  const workerUrls = (f['worker-urls'] as string[]).map(normalizeWorkerUrl);
  const pd = pdWorkers(f);
  if (opts.requireWorkers && workerUrls.length === 0 && !pd.pdDisaggregation) {
    throw new UsageError('no workers: pass --worker-urls grpc://HOST:PORT [...] (or run `switchyard demo`)');
  }
  if (new Set(workerUrls).size !== workerUrls.length) throw new UsageError('--worker-urls lists the same worker twice');
  const config: RouterConfig = {
    host: f['host'] as string,
    port: f['port'] as number,
    workerUrls,
    tokenizerBackend: f['tokenizer-backend'] as TokenizerBackendName,
    prepThreads: f['prep-threads'] as number,
    logLevel: f['log-level'] as LogLevel,
    requestTimeoutSecs: f['request-timeout-secs'] as number,
    maxPayloadSize: f['max-payload-size'] as number,
    healthCheckIntervalSecs: f['health-check-interval-secs'] as number,
    healthCheckTimeoutSecs: f['health-check-timeout-secs'] as number,
    healthFailureThreshold: f['health-failure-threshold'] as number,
    healthSuccessThreshold: f['health-success-threshold'] as number,
    cbFailureThreshold: f['cb-failure-threshold'] as number,
    cbSuccessThreshold: f['cb-success-threshold'] as number,
    cbTimeoutDurationSecs: f['cb-timeout-duration-secs'] as number,
    disableCircuitBreaker: f['disable-circuit-breaker'] as boolean,
    loadMonitorIntervalSecs: f['load-monitor-interval'] as number,
    dpAware: f['dp-aware'] as boolean,
    workerStartupTimeoutSecs: f['worker-startup-timeout-secs'] as number,
    policy: f['policy'] as PolicyName,
    blockSize: f['block-size'] as number,
    cacheThreshold: f['cache-threshold'] as number,
    balanceAbsThreshold: f['balance-abs-threshold'] as number,
    balanceRelThreshold: f['balance-rel-threshold'] as number,
    evictionIntervalSecs: f['eviction-interval'] as number,
    maxTreeSize: f['max-tree-size'] as number,
    requestIdHeaders: (f['request-id-headers'] as string[]).map((h) => h.toLowerCase()),
    reasoningParser: parserChoice('reasoning-parser', f['reasoning-parser'] as string, resolveReasoningParserName, REASONING_PARSER_NAMES),
    toolCallParser: parserChoice('tool-call-parser', f['tool-call-parser'] as string, resolveToolParserName, TOOL_PARSER_NAMES),
    ...optionalKey('api-key', f['api-key'], 'apiKey'),
    ...optionalKey('admin-api-key', f['admin-api-key'], 'adminApiKey'),
    maxConcurrentRequests: nonZero('max-concurrent-requests', f['max-concurrent-requests'] as number),
    queueSize: f['queue-size'] as number,
    queueTimeoutSecs: f['queue-timeout-secs'] as number,
    rateLimitTokensPerSecond: f['rate-limit-tokens-per-second'] as number,
    retryMaxRetries: f['retry-max-retries'] as number,
    retryInitialBackoffMs: f['retry-initial-backoff-ms'] as number,
    retryMaxBackoffMs: atLeast('retry-max-backoff-ms', f['retry-max-backoff-ms'] as number, 'retry-initial-backoff-ms', f['retry-initial-backoff-ms'] as number),
    retryBackoffMultiplier: f['retry-backoff-multiplier'] as number,
    retryJitterFactor: f['retry-jitter-factor'] as number,
    disableRetries: f['disable-retries'] === true,
    prometheusHost: f['prometheus-host'] as string,
    prometheusPort: f['prometheus-port'] as number,
    prometheusDurationBuckets: durationBuckets(f['prometheus-duration-buckets'] as string[]),
    disablePrometheus: f['disable-prometheus'] === true,
    ...pd,
    tokenizerCacheL0MaxEntries: f['tokenizer-cache-enable-l0'] === true ? (f['tokenizer-cache-l0-max-entries'] as number) : 0,
    tokenizerCacheL1MaxMemory: f['tokenizer-cache-enable-l1'] === true ? (f['tokenizer-cache-l1-max-memory'] as number) : 0,
  };
  for (const key of ['model-path', 'tokenizer-path', 'chat-template', 'served-model-name', 'worker-api-key'] as const) {
    const v = f[key];
    if (typeof v === 'string') {
      if (v.trim() === '') throw new UsageError(`--${key} must not be empty`);
      const camel = key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as 'modelPath' | 'tokenizerPath' | 'chatTemplate' | 'servedModelName' | 'workerApiKey';
      config[camel] = v;
    }
  }
  return config;
}

type PdSettings = Pick<RouterConfig, 'pdDisaggregation' | 'prefillWorkers' | 'decodeUrls' | 'prefillPolicy' | 'decodePolicy'>;

/**
 * The PD flags, checked together. `--prefill` values are read in order: a URL starts a worker, a bare
 * port number (or `none`) right after it is that worker's bootstrap port.
 */
function pdWorkers(f: ParsedFlags): PdSettings {
  const enabled = f['pd-disaggregation'] === true;
  const prefillWorkers: PrefillWorker[] = [];
  let portMayFollow = false;
  for (const raw of f['prefill'] as string[]) {
    if (!/^\d+$/.test(raw) && raw !== 'none') {
      prefillWorkers.push({ url: normalizeWorkerUrl(raw) });
      portMayFollow = true;
      continue;
    }
    if (!portMayFollow) throw new UsageError(`--prefill: bootstrap port '${raw}' must follow a worker URL`);
    portMayFollow = false;
    if (raw === 'none') continue;
    const port = Number(raw);
    if (port < 1 || port > 65535) throw new UsageError(`--prefill: bootstrap port ${raw} is outside 1..65535`);
    prefillWorkers[prefillWorkers.length - 1]!.bootstrapPort = port;
  }
  const decodeUrls = (f['decode'] as string[]).map(normalizeWorkerUrl);
  const settings: PdSettings = {
    pdDisaggregation: enabled,
    prefillWorkers,
    decodeUrls,
    prefillPolicy: f['prefill-policy'] as PolicyName,
    decodePolicy: f['decode-policy'] as PolicyName,
  };
  if (!enabled) {
    if (prefillWorkers.length > 0 || decodeUrls.length > 0) throw new UsageError('--prefill and --decode need --pd-disaggregation');
    return settings;
  }
  if ((f['worker-urls'] as string[]).length > 0) {
    throw new UsageError('--worker-urls cannot be combined with --pd-disaggregation: every worker is a --prefill or a --decode worker');
  }
  if (prefillWorkers.length === 0 || decodeUrls.length === 0) {
    throw new UsageError('--pd-disaggregation needs at least one --prefill URL [BOOTSTRAP_PORT] and one --decode URL');
  }
  const all = [...prefillWorkers.map((w) => w.url), ...decodeUrls];
  const twice = all.find((u, i) => all.indexOf(u) !== i);
  if (twice !== undefined) throw new UsageError(`worker ${twice} is listed twice among --prefill and --decode`);
  return settings;
}

function optionalKey<K extends 'apiKey' | 'adminApiKey'>(flag: string, value: unknown, key: K): Partial<Record<K, string>> {
  if (typeof value !== 'string') return {};
  if (value.trim() === '') throw new UsageError(`--${flag} must not be empty`);
  return { [key]: value } as Partial<Record<K, string>>;
}

function nonZero(flag: string, value: number): number {
  if (value === 0) throw new UsageError(`--${flag} must be -1 (unlimited) or at least 1`);
  return value;
}

function atLeast(flag: string, value: number, otherFlag: string, other: number): number {
  if (value < other) throw new UsageError(`--${flag} (${value}) must not be below --${otherFlag} (${other})`);
  return value;
}

function durationBuckets(raw: string[]): number[] {
  const bounds = raw.map(Number);
  if (bounds.some((b, i) => !Number.isFinite(b) || b <= 0 || (i > 0 && b <= bounds[i - 1]!))) {
    throw new UsageError(`--prometheus-duration-buckets takes positive, strictly increasing seconds; got ${raw.join(' ')}`);
  }
  return bounds;
}

function parserChoice(flag: string, value: string, resolve: (n: string) => string | undefined, names: readonly string[]): string {
  if (value === 'auto' || value === 'none') return value;
  if (isHarmonyParserName(value)) return HARMONY_PARSER;
  const canonical = resolve(value);
  if (canonical === undefined) throw new UsageError(`--${flag}: unknown parser '${value}'; valid names: auto, none, harmony, ${names.join(', ')}`);
  return canonical;
}

/** Accepts grpc://host:port, http://host:port or host:port; returns grpc://host:port. */
export function normalizeWorkerUrl(raw: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `grpc://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`invalid worker URL '${raw}'`);
  }
  if (!['grpc:', 'http:'].includes(url.protocol)) {
    throw new UsageError(`worker URL '${raw}': only grpc:// (plaintext gRPC) is supported`);
  }
  if (!url.hostname || !url.port) throw new UsageError(`worker URL '${raw}' needs a host and a port`);
  if (url.pathname !== '/' && url.pathname !== '') throw new UsageError(`worker URL '${raw}' must not have a path`);
  return `grpc://${url.host}`;
}
