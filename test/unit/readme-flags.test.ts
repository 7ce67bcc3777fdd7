/**
 * The README's flag table is ROUTER_FLAGS: the same flags (aliases included), each with its default.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { flagSyntax, parseFlags, UsageError, type FlagSpec } from '../../src/config/args.js';
import { parseRouterConfig, routerHelp, ROUTER_FLAGS } from '../../src/config/router-config.js';

const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

/** Defaults that depend on the machine, and the words the README uses for them. */
const MACHINE_DEFAULTS: Record<string, string> = { 'prep-threads': 'cores (max 4)' };

interface FlagRow {
  names: string[];
  defaultCell: string;
}

/** Rows of the table under "## Flags": the flag names of the first cell and the default cell. */
function flagRows(): FlagRow[] {
  const section = README.slice(README.indexOf('\n## Flags\n'));
  const lines = section.split('\n');
  const start = lines.findIndex((l) => l.startsWith('| flag | default |'));
  assert.ok(start >= 0, 'README has the flag table');
  const rows: FlagRow[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const [flag, def] = line.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim());
    rows.push({ names: [...flag!.matchAll(/`(--?[A-Za-z][a-z0-9-]*)/g)].map((m) => m[1]!), defaultCell: def! });
  }
  return rows;
}

/** What the README must say for a flag's default. */
function documentedDefault(spec: FlagSpec): (cell: string) => boolean {
  const machine = MACHINE_DEFAULTS[spec.name];
  if (machine !== undefined) return (cell) => cell === machine;
  const d = spec.default;
  if (spec.kind === 'boolean') return d === true ? (cell) => cell === 'on' : (cell) => cell === '' || cell === 'off';
  if (d === undefined || (Array.isArray(d) && d.length === 0)) return (cell) => !cell.startsWith('`');
  if (Array.isArray(d)) return (cell) => cell === `\`${d.join(' ')}\`` || cell === `\`${d[0]} … ${d[d.length - 1]}\``;
  return (cell) => cell.startsWith(`\`${String(d)}\``);
}

describe('README flag table', () => {
  it('lists exactly the flags of ROUTER_FLAGS, with their aliases', () => {
    const documented = flagRows().flatMap((r) => r.names).sort();
    const declared = ROUTER_FLAGS.flatMap((f) => [f.name, ...(f.aliases ?? [])].map(flagSyntax)).sort();
    assert.deepEqual(documented, declared);
  });

  it('gives every flag its declared default', () => {
    const rows = new Map(flagRows().map((r) => [r.names[0]!, r.defaultCell]));
    for (const spec of ROUTER_FLAGS) {
      const cell = rows.get(`--${spec.name}`);
      assert.ok(cell !== undefined, `--${spec.name} has a row of its own`);
      assert.ok(documentedDefault(spec)(cell), `--${spec.name}: README says '${cell}', the default is ${JSON.stringify(spec.default)}`);
    }
  });
});

describe('--help', () => {
  it('gives every flag a line of its own words, under every name it takes', () => {
    const help = routerHelp();
    for (const spec of ROUTER_FLAGS) {
      assert.ok(spec.help.length >= 8, `--${spec.name} explains itself`);
      for (const n of [spec.name, ...(spec.aliases ?? [])]) assert.match(help, new RegExp(`(^|[ ,])${flagSyntax(n)}\\b`, 'm'), n);
    }
  });

  it('takes -h, and one-letter aliases only with one dash', () => {
    assert.equal(parseRouterConfig(['-h'], { requireWorkers: true }), 'help');
    assert.throws(() => parseRouterConfig(['--h'], { requireWorkers: true }), UsageError);
    const f = parseFlags(['--worker-urls', 'a:1', 'b:2', '-h'], ROUTER_FLAGS);
    assert.deepEqual([f['worker-urls'], f['help']], [['a:1', 'b:2'], true], 'a short flag ends a value list');
  });

  it('takes the reference name --load-monitor-interval and the older --load-monitor-interval-secs', () => {
    for (const flag of ['--load-monitor-interval', '--load-monitor-interval-secs']) {
      const c = parseRouterConfig(['--worker-urls', 'a:1', flag, '7'], { requireWorkers: true });
      assert.ok(c !== 'help');
      assert.equal(c.loadMonitorIntervalSecs, 7, flag);
    }
  });
});
