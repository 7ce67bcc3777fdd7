import { Piscina } from 'piscina';
import { loadTokenizer } from '../../native/tokenizer.js';
import { ApiError } from '../errors.js';
import { renderHarmonyPrompt, type HarmonyFunctionTool } from '../parsers/harmony/encoder.js';
import { loadModelAssets } from './assets.js';
import { ChatTemplate } from './chat-template.js';
import { CachingEncoder } from './encode-cache.js';
import { normalizeMessages } from './messages.js';
import type { ChatPrepResult, EncodePrepResult, ModelRef, PrepFailure, PrepTask } from './prep-types.js';

interface LoadedModel {
  encoder: CachingEncoder;
  template?: ChatTemplate;
}

// Each prep thread keeps its own tokenizer and compiled template per model: they are not shareable across threads.
const models = new Map<string, Promise<LoadedModel>>();

function load(ref: ModelRef): Promise<LoadedModel> {
  const key = `${ref.dir}\0${ref.chatTemplatePath ?? ''}\0${ref.backend}\0${ref.cache?.l0MaxEntries ?? 0}\0${ref.cache?.l1MaxMemory ?? 0}`;
  let m = models.get(key);
  if (!m) {
    m = (async () => {
      const assets = await loadModelAssets(ref.dir, ref.chatTemplatePath ? { chatTemplatePath: ref.chatTemplatePath } : undefined);
      const tokenizer = await loadTokenizer(assets.tokenizerJsonPath, ref.backend);
      // A Harmony model's prompt is never templated: its (optional) template is not even compiled.
      const template = ref.harmony || assets.chatTemplate === undefined ? undefined : new ChatTemplate(assets.chatTemplate, assets.specialTokens);
      const encoder = await CachingEncoder.create(tokenizer, ref.cache ?? { l0MaxEntries: 0, l1MaxMemory: 0 });
      return { encoder, template };
    })();
    models.set(key, m);
    m.catch(() => models.delete(key));
  }
  return m;
}

function failure(err: unknown): PrepFailure {
  if (err instanceof ApiError) return { ok: false, error: { status: err.status, message: err.message, code: err.code, param: err.param } };
  return { ok: false, error: { status: 500, message: `request preparation failed: ${(err as Error)?.message ?? String(err)}`, code: 'prep_failed', param: null } };
}

/** Transfers the id buffer instead of copying it: large prompts cross back to the event loop for free. */
function transferIds(value: ChatPrepResult, ids: Uint32Array): ChatPrepResult {
  const transferable = {
    get [Piscina.transferableSymbol]() {
      return [ids.buffer];
    },
    get [Piscina.valueSymbol]() {
      return value;
    },
  };
  return Piscina.move(transferable as unknown as Parameters<typeof Piscina.move>[0]) as unknown as ChatPrepResult;
}

/** A rendered prompt's markers are literal special tokens: the tokenizer maps each to its single id. */
async function encodePrompt(model: LoadedModel, text: string): Promise<ChatPrepResult> {
  const { ids, hit, cachedTokens } = await model.encoder.encode(text, false);
  return transferIds({ ok: true, text, ids, ...(hit ? { cacheHit: hit, cachedTokens } : {}) }, ids);
}

export default async function prepare(task: PrepTask): Promise<ChatPrepResult | EncodePrepResult> {
  try {
    const model = await load(task.model);
    if (task.op === 'encode') {
      const ids = await Promise.all(task.texts.map(async (t) => (await model.encoder.encode(t, task.addSpecialTokens)).ids));
      return { ok: true, ids };
    }
    if (task.model.harmony) {
      const reasoningEffort = task.kwargs?.['reasoning_effort'];
      const text = renderHarmonyPrompt({
        messages: task.messages,
        ...(task.tools ? { tools: task.tools as HarmonyFunctionTool[] } : {}),
        ...(typeof reasoningEffort === 'string' ? { reasoningEffort } : {}),
      });
      return encodePrompt(model, text);
    }
    if (!model.template) {
      throw new ApiError(400, 'this model has no chat template; pass --chat-template or use /v1/completions', { code: 'chat_template_missing' });
    }
    const messages = normalizeMessages(task.messages, model.template.contentFormat);
    const text = model.template.render({
      messages,
      tools: task.tools,
      addGenerationPrompt: task.addGenerationPrompt,
      continueFinalMessage: task.continueFinalMessage,
      kwargs: task.kwargs,
    });
    return encodePrompt(model, text);
  } catch (err) {
    return failure(err);
  }
}
