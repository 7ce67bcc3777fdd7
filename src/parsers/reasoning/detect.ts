/**
 * `auto` reasoning-parser selection from what the model directory says about itself.
 *
 * Evidence is weighed strongest first:
 * 1. config.json `model_type` / `architectures` name the family:
 *
 *    | model_type / architectures                         | family → parser                                   |
 *    |----------------------------------------------------|---------------------------------------------------|
 *    | kimi_k2 (architectures say DeepseekV3)             | kimi_thinking (not for K2-Instruct names)         |
 *    | kimi_k25, KimiK25*                                 | kimi_k25                                          |
 *    | kimi_k3, KimiK3*                                   | kimi_k3                                           |
 *    | kimi_vl, KimiVL*                                   | kimi (`◁think▷`)                                  |
 *    | qwen3*, Qwen3* (Moe, Next, VL…)                    | qwen3; qwen3_thinking when the prompt opens       |
 *    |                                                    | `<think>` without a toggle (Thinking-2507)        |
 *    | deepseek_v3/v32, DeepseekV3*, DeepseekV32*         | deepseek_v31 with a thinking toggle (V3.1, V3.2), |
 *    |                                                    | else deepseek_r1 (R1, R1-0528)                    |
 *    | glm4_moe, glm4v*, Glm4Moe*, Glm4v*, GlmMoe*         | glm45                                             |
 *    | minimax_m1/m2, MiniMaxM1*, MiniMaxM2*              | minimax                                           |
 *    | step3*, Step3*                                     | step3                                             |
 *    | nemotron_h, NemotronH*                             | nano_v3                                           |
 *    | cohere/cohere2, CohereForCausalLM, Cohere2*        | cohere_cmd                                        |
 *
 *    Without a template, the name rules below pick within the family (DeepSeek-V3 chat vs R1 vs V3.1).
 * 2. Otherwise the chat template's markers: `◁think▷` → kimi, `<|START_THINKING|>` → cohere_cmd,
 *    `<|content_thinking|>` → inkling, `<|open|>…think` → kimi_k3, `<think>` → deepseek_r1 when the
 *    generation prompt opens it without a toggle (R1 distills, QwQ), else qwen3.
 * 3. Otherwise the served names / paths, where the LONGEST matching pattern wins (so
 *    `Qwen3-235B-A22B-Thinking-2507` is qwen3_thinking, not qwen3, and `DeepSeek-V3.2` beats
 *    `DeepSeek-V3`). Some patterns mean "this model does not reason" (DeepSeek-V3, Qwen3-Coder,
 *    Instruct-2507, Kimi-K2-Instruct, gpt-oss which goes through Harmony).
 * Whatever was chosen, a template that shows none of that parser's markers and no thinking toggle means
 * the model does not reason: no parser, so an answer is never filed as reasoning.
 */
import { analyzeTemplateThinking } from './thinking.js';

export interface ModelIdentity {
  architectures?: string[];
  modelType?: string;
  chatTemplate?: string;
  names: string[];
}

/** Name patterns on lower-cased ids; `null` means "known not to reason". */
export const NAME_RULES: readonly [RegExp, string | null][] = [
  [/deepseek[-_]r1/, 'deepseek_r1'],
  [/deepseek[-_]v3[-_.][12]/, 'deepseek_v31'],
  [/deepseek[-_]v4/, 'deepseek_v31'],
  [/deepseek[-_]v3/, null],
  [/qwq[^/]*/, 'qwen3_thinking'],
  [/qwen[^/]*thinking/, 'qwen3_thinking'],
  [/qwen3[^/]*instruct-2507/, null],
  [/qwen3[-_]coder/, null],
  [/qwen3/, 'qwen3'],
  [/qwen/, 'qwen3'],
  [/glm[-_]?4\.?[5-7]/, 'glm45'],
  [/glm[-_]?5/, 'glm45'],
  [/glm[^/]*thinking/, 'glm45'],
  [/kimi[-_]k2[-_]thinking/, 'kimi_thinking'],
  [/kimi[-_]k2\.?5/, 'kimi_k25'],
  [/kimi[-_]k2/, null],
  [/kimi[-_]k3/, 'kimi_k3'],
  [/kimi/, 'kimi'],
  [/step[-_]?3/, 'step3'],
  [/minimax[-_]text/, null],
  [/minimax/, 'minimax'],
  [/mm[-_]m2/, 'minimax'],
  [/command[-_][ra]/, 'cohere_cmd'],
  [/c4ai[-_]command/, 'cohere_cmd'],
  [/cohere/, 'cohere_cmd'],
  [/nemotron[-_](nano|super)/, 'nano_v3'],
  [/nano[-_]v3/, 'nano_v3'],
  [/inkling/, 'inkling'],
  [/gpt[-_]oss/, null],
];

/** The longest pattern match over all names: undefined = nothing matched, null = matched "no reasoning". */
function byNames(names: readonly string[]): string | null | undefined {
  let best: { length: number; parser: string | null } | undefined;
  for (const raw of names) {
    const name = raw.toLowerCase();
    for (const [pattern, parser] of NAME_RULES) {
      const m = pattern.exec(name);
      if (m !== null && (best === undefined || m[0].length > best.length)) best = { length: m[0].length, parser };
    }
  }
  return best?.parser;
}

type Family =
  | 'kimi_k2'
  | 'kimi_k25'
  | 'kimi_k3'
  | 'kimi_vl'
  | 'qwen3'
  | 'deepseek'
  | 'glm'
  | 'minimax'
  | 'step3'
  | 'nemotron'
  | 'cohere';

const FAMILY_RULES: readonly [modelType: RegExp, architecture: RegExp | null, family: Family][] = [
  // Kimi-K2 declares the DeepseekV3 architecture: only its model_type tells it apart.
  [/^kimi_k2$/, null, 'kimi_k2'],
  [/^kimi_k25/, /^KimiK25/, 'kimi_k25'],
  [/^kimi_k3/, /^KimiK3/, 'kimi_k3'],
  [/^kimi_vl/, /^KimiVL/, 'kimi_vl'],
  [/^qwen3/, /^Qwen3/, 'qwen3'],
  [/^deepseek_v3/, /^DeepseekV3/, 'deepseek'],
  [/^glm4_?moe|^glm4v/, /^Glm4Moe|^Glm4v|^GlmMoe/, 'glm'],
  [/^minimax_m[12]/, /^MiniMaxM[12]/, 'minimax'],
  [/^step3/, /^Step3/, 'step3'],
  [/^nemotron_h/, /^NemotronH/, 'nemotron'],
  [/^cohere2?$/, /^Cohere2?(ForCausalLM|Vision)/, 'cohere'],
];

function familyOf(model: ModelIdentity): Family | undefined {
  const type = model.modelType?.toLowerCase();
  if (type !== undefined) {
    for (const [pattern, , family] of FAMILY_RULES) if (pattern.test(type)) return family;
  }
  for (const arch of model.architectures ?? []) {
    for (const [, pattern, family] of FAMILY_RULES) if (pattern?.test(arch)) return family;
  }
  return undefined;
}

/** What the chat template shows. */
interface TemplateEvidence {
  /** Markers of each reasoning format, or a thinking toggle (which implies `<think>`-style output). */
  think: boolean;
  kimiUnicode: boolean;
  cohere: boolean;
  inkling: boolean;
  kimiK3: boolean;
  toggle: boolean;
  /** The generation prompt opens `<think>` and there is no toggle: the output is always reasoning first. */
  alwaysThink: boolean;
}

function evidenceOf(template: string): TemplateEvidence {
  const thinking = analyzeTemplateThinking(template);
  const toggle = thinking.toggle.kind !== 'none';
  return {
    think: /<\/?think>/.test(template) || toggle,
    kimiUnicode: /◁\/?think▷/.test(template),
    cohere: /<\|(START|END)_THINKING\|>/.test(template),
    inkling: template.includes('<|content_thinking|>'),
    kimiK3: template.includes('<|open|>') && /\bthink\b/.test(template),
    toggle,
    alwaysThink: !toggle && thinking.openStart === '<think>',
  };
}

/** Does the template show the markers this parser separates? */
function shows(parser: string, ev: TemplateEvidence): boolean {
  switch (parser) {
    case 'kimi':
      return ev.kimiUnicode;
    case 'cohere_cmd':
      return ev.cohere;
    case 'inkling':
      return ev.inkling;
    case 'kimi_k3':
      return ev.kimiK3 || ev.toggle;
    default:
      return ev.think;
  }
}

/**
 * A name rule may only choose among `allowed`. Without a template, a "does not reason" name is believed
 * (`honourNone`); with a template the template's markers outrank it.
 */
function nameWithin(names: readonly string[], allowed: readonly string[], fallback: string | undefined, honourNone: boolean): string | undefined {
  const hit = byNames(names);
  if (hit === null && honourNone) return undefined;
  return typeof hit === 'string' && allowed.includes(hit) ? hit : fallback;
}

function byFamily(family: Family, model: ModelIdentity, ev: TemplateEvidence | undefined): string | undefined {
  switch (family) {
    case 'kimi_k2':
      // K2-Instruct shares model_type and architecture with K2-Thinking; an Instruct name is believed even
      // with a template, since guessing wrong would file every answer as reasoning.
      return nameWithin(model.names, ['kimi_thinking', 'kimi_k25'], ev === undefined ? undefined : 'kimi_thinking', true);
    case 'kimi_k25':
      return 'kimi_k25';
    case 'kimi_k3':
      return 'kimi_k3';
    case 'kimi_vl':
      return 'kimi';
    case 'qwen3':
      if (ev === undefined) return nameWithin(model.names, ['qwen3', 'qwen3_thinking'], 'qwen3', true);
      return ev.alwaysThink ? 'qwen3_thinking' : 'qwen3';
    case 'deepseek':
      if (ev === undefined) return nameWithin(model.names, ['deepseek_r1', 'deepseek_v31'], undefined, true);
      return ev.toggle ? 'deepseek_v31' : 'deepseek_r1';
    case 'glm':
      return 'glm45';
    case 'minimax':
      return 'minimax';
    case 'step3':
      return 'step3';
    case 'nemotron':
      return 'nano_v3';
    case 'cohere':
      return 'cohere_cmd';
  }
}

/** `<think>` parsers that start inside reasoning, and those that wait for the tag. */
const ALWAYS_THINK = ['deepseek_r1', 'qwen3_thinking', 'step3', 'minimax', 'kimi_thinking'];
const TAGGED_THINK = ['qwen3', 'glm45', 'nano_v3', 'deepseek_v31', 'kimi_k25'];

function byTemplate(ev: TemplateEvidence, names: readonly string[]): string | undefined {
  if (ev.kimiUnicode) return 'kimi';
  if (ev.cohere) return 'cohere_cmd';
  if (ev.inkling) return 'inkling';
  if (ev.kimiK3) return 'kimi_k3';
  if (!ev.think) return undefined;
  // The template decides whether output starts in reasoning; a name may only pick the family's label.
  return ev.alwaysThink ? nameWithin(names, ALWAYS_THINK, 'deepseek_r1', false) : nameWithin(names, TAGGED_THINK, 'qwen3', false);
}

/**
 * 'auto' detection: a canonical reasoning parser name, or undefined (no separation). See the table above.
 */
export function detectReasoningParser(model: ModelIdentity): string | undefined {
  const ev = model.chatTemplate ? evidenceOf(model.chatTemplate) : undefined;
  const family = familyOf(model);
  let parser: string | undefined;
  if (family !== undefined) parser = byFamily(family, model, ev);
  else if (ev !== undefined) parser = byTemplate(ev, model.names);
  else parser = byNames(model.names) ?? undefined;
  if (parser !== undefined && ev !== undefined && !shows(parser, ev)) return undefined;
  return parser;
}
