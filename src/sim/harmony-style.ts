/**
 * The `gpt-oss` output style: replies in OpenAI's Harmony format, written with the literal
 * special tokens (the sim's tokenizer encodes each to its single o200k_harmony id). An analysis
 * message, then either a call of the first tool the prompt declares (ending in `<|call|>`) or a
 * final answer (ending in `<|return|>`). The sim sees the prompt decoded without special tokens,
 * so it reads the tool declarations and the tool-result headers as plain text.
 */

const THOUGHTS = [
  'The user wants a short, concrete answer. No tool is needed for this.',
  'Let me think about which track the freight leaves from before answering.',
  'I should check what I know, then answer in one friendly sentence.',
];

const ANSWERS = [
  'Freight for the north line leaves on track seven at a quarter past four.',
  'Yes: the switchyard sorts every wagon by its next stop, much like a router.',
  'The signal turns green once the last wagon clears the junction.',
];

const NAMESPACE = 'namespace functions {';

interface DeclaredTool {
  name: string;
  /** Top-level parameters: name, whether optional, and the declared TypeScript type. */
  params: { name: string; optional: boolean; type: string }[];
}

/** The first `type NAME = (_: {…}) => any;` of the prompt's `functions` namespace. */
function firstTool(prompt: string): DeclaredTool | undefined {
  const at = prompt.indexOf(NAMESPACE);
  if (at < 0) return undefined;
  const decl = /^type (\S+) = (\(\) => any;|\(_: \{\n)/m.exec(prompt.slice(at));
  if (!decl) return undefined;
  const tool: DeclaredTool = { name: decl[1]!, params: [] };
  if (decl[2]!.startsWith('()')) return tool;
  // Top-level properties are not indented; nested ones are, and the declaration ends at `}) => any;`.
  const body = prompt.slice(at + decl.index + decl[0].length);
  for (const line of body.split('\n')) {
    if (line.startsWith('}')) break;
    const m = /^([A-Za-z_$][\w$]*)(\??): (.+?),(?: \/\/.*)?$/.exec(line);
    if (m) tool.params.push({ name: m[1]!, optional: m[2] === '?', type: m[3]! });
  }
  return tool;
}

function sampleValue(type: string): unknown {
  const literal = /^("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false)(?: \||$)/.exec(type);
  if (literal) return JSON.parse(literal[1]!);
  if (type.startsWith('number')) return 1;
  if (type.startsWith('boolean')) return true;
  if (type.endsWith('[]')) return [];
  if (type.startsWith('{')) return {};
  return 'Paris';
}

function argumentsFor(tool: DeclaredTool): Record<string, unknown> {
  const required = tool.params.filter((p) => !p.optional);
  const chosen = required.length ? required : tool.params.slice(0, 1);
  return Object.fromEntries(chosen.map((p) => [p.name, sampleValue(p.type)]));
}

export function harmonyReply(prompt: string, seed: number): string {
  const analysis = `<|channel|>analysis<|message|>${THOUGHTS[seed % THOUGHTS.length]}<|end|>`;
  const tool = firstTool(prompt);
  // A tool result (`functions.NAME to=assistant`) after the declarations: answer instead of calling again.
  const answeredTool = tool !== undefined && prompt.lastIndexOf(' to=assistant') > prompt.indexOf(NAMESPACE);
  if (tool && !answeredTool) {
    const args = JSON.stringify(argumentsFor(tool));
    return `${analysis}<|start|>assistant<|channel|>commentary to=functions.${tool.name} <|constrain|>json<|message|>${args}<|call|>`;
  }
  return `${analysis}<|start|>assistant<|channel|>final<|message|>${ANSWERS[(seed >>> 4) % ANSWERS.length]}<|return|>`;
}
