import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { loadTokenizer, type Tokenizer } from '../../native/tokenizer.js';
import type { RouterConfig } from '../config/router-config.js';
import type { GetModelInfoResponse } from '../gen/sglang/grpc/scheduler/sglang_scheduler.js';
import { HARMONY_PARSER, isHarmonyModel, type HarmonyModelIdentity } from '../parsers/harmony/detect.js';
import { detectReasoningParser } from '../parsers/reasoning/registry.js';
import { detectThinkingToggle, type ThinkingToggle } from '../parsers/reasoning/thinking.js';
import { detectToolParser } from '../parsers/tools/registry.js';
import { loadModelAssets, resolveModelDir, type ModelAssets } from '../tokenizer/assets.js';
import { PrepPool } from '../tokenizer/prep-pool.js';
import { harmonyTokenizerMismatch } from './harmony-output.js';
import { parseDefaultSamplingParams, type ModelSamplingDefaults } from './request-builder.js';

/** One model the router serves: its tokenizer (for decoding on the event loop), assets, prep pool and parsers. */
export interface ServedModel {
  id: string;
  /** Other names clients may send for it (model path, worker's served name). */
  aliases: Set<string>;
  created: number;
  assets: ModelAssets;
  tokenizer: Tokenizer;
  eosTokenIds: number[];
  defaults: ModelSamplingDefaults;
  maxContextLength?: number;
  weightVersion?: string;
  prep: PrepPool;
  /**
   * GPT-OSS: prompts are rendered in the Harmony format and output is parsed on token ids; the
   * text reasoning and tool-call parsers are not used.
   */
  harmony: boolean;
  /** Canonical reasoning parser, when the model's output has reasoning to separate. */
  reasoningParser?: string;
  /** Canonical tool-call parser, when the model's tool calls can be read. */
  toolParser?: string;
  /** The tool parser was named on the command line (only then may it shape structural-tag constraints). */
  toolParserConfigured: boolean;
  thinking: ThinkingToggle;
}

export class StartupError extends Error {
  override name = 'StartupError';
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The flags that shape one model. The startup model takes the command line's (its RouterConfig);
 * a model that appears later takes only its workers' GetModelInfo (see otherModelSettings).
 */
export type ModelSettings = Pick<
  RouterConfig,
  'modelPath' | 'tokenizerPath' | 'chatTemplate' | 'servedModelName' | 'reasoningParser' | 'toolCallParser' | 'tokenizerBackend' | 'prepThreads' | 'tokenizerCacheL0MaxEntries' | 'tokenizerCacheL1MaxMemory'
>;

/** A model other than the startup one: tokenizer and template from its worker, parsers detected, the shared tokenizer knobs. */
export function otherModelSettings(config: RouterConfig): ModelSettings {
  return {
    reasoningParser: 'auto',
    toolCallParser: 'auto',
    tokenizerBackend: config.tokenizerBackend,
    prepThreads: config.prepThreads,
    tokenizerCacheL0MaxEntries: config.tokenizerCacheL0MaxEntries,
    tokenizerCacheL1MaxMemory: config.tokenizerCacheL1MaxMemory,
  };
}

function resolveTokenizerDir(config: ModelSettings, info: GetModelInfoResponse | undefined): string {
  const explicit = config.tokenizerPath ?? config.modelPath;
  if (explicit !== undefined) {
    const dir = resolveModelDir(explicit);
    if (!dir) {
      const flag = config.tokenizerPath !== undefined ? '--tokenizer-path' : '--model-path';
      throw new StartupError(`${flag} '${explicit}' is neither a local directory nor a model in the local Hugging Face cache`);
    }
    return dir;
  }
  for (const candidate of [info?.tokenizerPath, info?.modelPath]) {
    if (!candidate) continue;
    if (isDir(candidate)) return candidate;
    const cached = resolveModelDir(candidate);
    if (cached) return cached;
  }
  throw new StartupError(
    `the worker reports tokenizer_path '${info?.tokenizerPath ?? ''}', which is not a local directory or a cached Hugging Face model; pass --tokenizer-path DIR`,
  );
}

/** Loads a model's tokenizer, template and prep pool from `settings` and its worker's GetModelInfo (when one answered). */
export async function loadServedModel(config: ModelSettings, info: GetModelInfoResponse | undefined): Promise<ServedModel> {
  const dir = resolveTokenizerDir(config, info);
  const assets = await loadModelAssets(dir, config.chatTemplate ? { chatTemplatePath: config.chatTemplate } : undefined);
  const tokenizer = await loadTokenizer(assets.tokenizerJsonPath, config.tokenizerBackend);

  const id = config.servedModelName ?? (info?.servedModelName || undefined) ?? basename(config.modelPath ?? dir);
  const aliases = new Set<string>([id]);
  for (const a of [config.modelPath, info?.servedModelName, info?.modelPath]) if (a) aliases.add(a);
  const identity = {
    architectures: Array.isArray(assets.config?.['architectures']) ? (assets.config['architectures'] as string[]) : undefined,
    modelType: typeof assets.config?.['model_type'] === 'string' ? (assets.config['model_type'] as string) : undefined,
    chatTemplate: assets.chatTemplate,
    names: [...aliases, dir],
  };
  const harmony = wantsHarmony(config, identity, tokenizer);
  const cache = { l0MaxEntries: config.tokenizerCacheL0MaxEntries, l1MaxMemory: config.tokenizerCacheL1MaxMemory };
  const prepRef = {
    dir,
    backend: config.tokenizerBackend,
    ...(config.chatTemplate ? { chatTemplatePath: config.chatTemplate } : {}),
    ...(harmony ? { harmony } : {}),
    ...(cache.l0MaxEntries > 0 || cache.l1MaxMemory > 0 ? { cache } : {}),
  };
  const prep = new PrepPool(prepRef, config.prepThreads);
  try {
    await prep.warmUp();
  } catch (err) {
    await prep.close();
    throw err;
  }

  const pick = (flag: string, detect: () => string | undefined) => (harmony || flag === 'none' ? undefined : flag === 'auto' ? detect() : flag);
  const reasoningParser = pick(config.reasoningParser, () => detectReasoningParser(identity));
  const toolParser = pick(config.toolCallParser, () => detectToolParser(identity));
  const model: ServedModel = {
    id,
    aliases,
    created: Math.floor(Date.now() / 1000),
    assets,
    tokenizer,
    eosTokenIds: [...new Set(assets.eosTokenIds)],
    defaults: assets.defaultSamplingParams,
    ...(assets.maxContextLength ? { maxContextLength: assets.maxContextLength } : {}),
    prep,
    harmony,
    ...(reasoningParser ? { reasoningParser } : {}),
    ...(toolParser ? { toolParser } : {}),
    toolParserConfigured: toolParser !== undefined && config.toolCallParser !== 'auto',
    thinking: detectThinkingToggle(assets.chatTemplate),
  };
  if (info) applyWorkerInfo(model, info);
  return model;
}

/**
 * Harmony when a parser flag names it (the tokenizer must then have the o200k_harmony markers), or
 * when the model looks like GPT-OSS and its tokenizer agrees (a look-alike name alone is not enough).
 */
function wantsHarmony(config: ModelSettings, identity: HarmonyModelIdentity, tokenizer: Tokenizer): boolean {
  const forced = config.reasoningParser === HARMONY_PARSER || config.toolCallParser === HARMONY_PARSER;
  if (!forced && !isHarmonyModel(identity)) return false;
  const mismatch = harmonyTokenizerMismatch(tokenizer);
  if (mismatch !== null && forced) throw new StartupError(`the Harmony parser needs the o200k_harmony tokenizer: ${mismatch}`);
  return mismatch === null;
}

/** The worker's view of the model wins where it has one: it is what actually serves. */
export function applyWorkerInfo(model: ServedModel, info: GetModelInfoResponse): void {
  model.eosTokenIds = [...new Set([...model.eosTokenIds, ...info.eosTokenIds])];
  const workerDefaults = parseDefaultSamplingParams(info.defaultSamplingParamsJson);
  if (Object.keys(workerDefaults).length) model.defaults = workerDefaults;
  if (info.maxContextLength > 0) model.maxContextLength = info.maxContextLength;
  if (info.weightVersion) model.weightVersion = info.weightVersion;
}
