/**
 * A small declarative argv parser. Node's util.parseArgs cannot take several values after one
 * flag (`--worker-urls a b c`), which the reference gateway's CLI uses, so flags are declared here
 * once and parsed, validated and documented from the same table.
 */
export type FlagKind = 'string' | 'int' | 'number' | 'boolean' | 'list';

export interface FlagSpec {
  name: string;
  kind: FlagKind;
  help: string;
  aliases?: string[];
  choices?: readonly string[];
  /** Other spellings of choices (e.g. the reference gateway's names), mapped to the choice they mean. */
  choiceAliases?: Readonly<Record<string, string>>;
  min?: number;
  max?: number;
  default?: string | number | boolean | string[];
  metavar?: string;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export type ParsedFlags = Record<string, string | number | boolean | string[] | undefined>;

/** How a flag name is written: one-letter aliases take one dash (`-h`), every other name two. */
export function flagSyntax(name: string): string {
  return name.length === 1 ? `-${name}` : `--${name}`;
}

const SHORT_FLAG = /^-[A-Za-z]$/;

export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[]): ParsedFlags {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) {
    for (const n of [s.name, ...(s.aliases ?? [])]) byName.set(flagSyntax(n), s);
  }
  const out: ParsedFlags = {};
  for (const s of specs) out[s.name] = s.default;
  const isFlag = (a: string) => a.startsWith('--') || SHORT_FLAG.test(a);

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!isFlag(arg)) throw new UsageError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    const written = eq === -1 ? arg : arg.slice(0, eq);
    const flag = written.replace(/^--?/, '');
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    const spec = byName.get(written);
    if (!spec) throw new UsageError(`unknown flag '${written}'`);

    if (spec.kind === 'boolean') {
      out[spec.name] = inline === undefined ? true : parseBool(flag, inline);
      continue;
    }
    if (spec.kind === 'list') {
      const values = inline !== undefined ? [inline] : [];
      while (inline === undefined && i + 1 < argv.length && !isFlag(argv[i + 1]!)) values.push(argv[++i]!);
      if (values.length === 0) throw new UsageError(`--${flag} needs at least one value`);
      const prev = out[spec.name];
      out[spec.name] = Array.isArray(prev) && prev !== spec.default ? [...prev, ...values] : values;
      continue;
    }
    let raw = inline;
    if (raw === undefined) {
      if (i + 1 >= argv.length || argv[i + 1]!.startsWith('--')) throw new UsageError(`--${flag} needs a value`);
      raw = argv[++i]!;
    }
    out[spec.name] = convert(spec, flag, raw);
  }
  return out;
}

function parseBool(flag: string, raw: string): boolean {
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new UsageError(`--${flag} takes true or false, got '${raw}'`);
}

function convert(spec: FlagSpec, flag: string, raw: string): string | number {
  if (spec.kind === 'string') {
    const value = spec.choiceAliases?.[raw] ?? raw;
    if (spec.choices && !spec.choices.includes(value)) {
      throw new UsageError(`--${flag} must be one of ${spec.choices.join(', ')}; got '${raw}'`);
    }
    return value;
  }
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${flag} takes a number, got '${raw}'`);
  if (spec.kind === 'int' && !Number.isInteger(n)) throw new UsageError(`--${flag} takes a whole number, got '${raw}'`);
  if (spec.min !== undefined && n < spec.min) throw new UsageError(`--${flag} must be at least ${spec.min}, got ${raw}`);
  if (spec.max !== undefined && n > spec.max) throw new UsageError(`--${flag} must be at most ${spec.max}, got ${raw}`);
  return n;
}

export function formatHelp(usage: string, specs: readonly FlagSpec[]): string {
  const rows = specs.map((s) => {
    const names = [s.name, ...(s.aliases ?? [])].map(flagSyntax).join(', ');
    const meta = s.kind === 'boolean' ? '' : ` ${s.metavar ?? (s.kind === 'list' ? 'VALUE...' : s.kind === 'string' ? 'STR' : 'N')}`;
    const extra: string[] = [];
    if (s.choices) extra.push(`one of: ${s.choices.join(', ')}`);
    if (s.default !== undefined && !(Array.isArray(s.default) && s.default.length === 0)) {
      extra.push(`default: ${Array.isArray(s.default) ? s.default.join(' ') : String(s.default)}`);
    }
    return { left: `  ${names}${meta}`, right: s.help + (extra.length ? ` (${extra.join('; ')})` : '') };
  });
  const width = Math.min(44, Math.max(...rows.map((r) => r.left.length)) + 2);
  const lines = rows.map((r) => (r.left.length >= width ? `${r.left}\n${' '.repeat(width)}${r.right}` : r.left.padEnd(width) + r.right));
  return `${usage}\n\nOptions:\n${lines.join('\n')}\n`;
}
