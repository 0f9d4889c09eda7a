/**
 * Validation of `headway …` command lines as the docs write them, with the CLI's own option
 * definitions: the proxy's schema (`resolveProxyConfig`), the echo and bench flag builders, the
 * demo flags of cli.ts, and `parseBenchOptions` for bench values.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yargs, { type Argv } from 'yargs';
import { parseBenchOptions, type RawBenchArgs } from '../../src/bench/bench-options.ts';
import { benchCommand } from '../../src/cli/bench-command.ts';
import { importCommand } from '../../src/cli/import-command.ts';
import { echoOptions } from '../../src/cli/run-echo.ts';
import { resolveProxyConfig } from '../../src/config/resolve.ts';
import { allOptions, type AnyOptionSpec } from '../../src/config/schema.ts';
import * as v from '../../src/config/values.ts';
import { REPO } from './pages.ts';

export const SUBCOMMANDS = ['proxy', 'echo', 'demo', 'check-config', 'bench', 'import'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

/** Flags every command takes (yargs adds them). */
const GLOBAL_FLAGS = new Set(['help', 'version']);

function yargsKeys(y: Argv): string[] {
  const opts = (y as unknown as { getOptions(): { key: Record<string, unknown> } }).getOptions();
  return Object.keys(opts.key);
}

/** The demo command's flags, read from its declaration in cli.ts (they live only there). */
function demoFlags(): string[] {
  const cli = readFileSync(join(REPO, 'src/cli/cli.ts'), 'utf8');
  // The `.command('demo', …)` declaration, not another mention of 'demo' (a list of commands).
  const start = cli.search(/\.command\(\s*'demo',/);
  const end = cli.indexOf('.command(', start + 1);
  if (start < 0 || end < 0) throw new Error('src/cli/cli.ts: no demo command found');
  return [...cli.slice(start, end).matchAll(/\.option\('([a-z-]+)'/g)].map((m) => m[1] ?? '');
}

export const PROXY_SPECS: ReadonlyMap<string, AnyOptionSpec> = new Map(
  allOptions().map(([, o]) => [o.flag, o]),
);

/** The flags of each command, without `--`. */
export const COMMAND_FLAGS: Readonly<Record<Subcommand, ReadonlySet<string>>> = {
  proxy: new Set(PROXY_SPECS.keys()),
  // `--print` is check-config's own flag (src/cli/cli.ts).
  'check-config': new Set([...PROXY_SPECS.keys(), 'print']),
  echo: new Set(yargsKeys(echoOptions(yargs([])))),
  demo: new Set(demoFlags()),
  bench: new Set(
    yargsKeys((benchCommand.builder as (y: Argv) => Argv)(yargs([]))).filter((k) => k !== 'mode'),
  ),
  import: new Set(
    yargsKeys((importCommand.builder as (y: Argv) => Argv)(yargs([]))).filter(
      (k) => k !== 'format' && k !== 'source',
    ),
  ),
};

/** The formats `headway import` reads (its `format` positional). */
const IMPORT_FORMATS = new Set(['nginx', 'haproxy', 'ingress-nginx-tcp']);

/** Every flag name of every command. */
export function allHeadwayFlags(): ReadonlySet<string> {
  const all = new Set(GLOBAL_FLAGS);
  for (const flags of Object.values(COMMAND_FLAGS)) for (const f of flags) all.add(f);
  // yargs takes `--no-FLAG` for every boolean flag (`--no-sni-strict`).
  for (const spec of PROXY_SPECS.values()) if (spec.boolean === true) all.add(`no-${spec.flag}`);
  return all;
}

/** Shell words of one command line, quotes removed; stops at a pipe, `&`, `;` or redirection. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) {
    const bare = m[3];
    if (bare !== undefined && (bare.startsWith('#') || /^(\||\|\||&|&&|;|\d?>>?.*)$/.test(bare))) {
      break;
    }
    words.push(m[1] ?? m[2] ?? bare ?? '');
  }
  return words;
}

/**
 * The `headway` invocations of a shell block: continuation lines joined, a leading `taskset -c N`
 * or `VAR=value` dropped. Each result starts after the program name.
 */
export function headwayInvocations(body: string): string[][] {
  const out: string[][] = [];
  for (const line of body.replace(/\\\n\s*/g, ' ').split('\n')) {
    let words = shellWords(line.trim().replace(/^\$\s+/, ''));
    while (words.length > 0) {
      if (words[0] === 'taskset') words = words.slice(3);
      else if (/^[A-Z_][A-Z0-9_]*=/.test(words[0] ?? '')) words = words.slice(1);
      else break;
    }
    if (words[0] === 'headway' || words[0] === 'bin/headway') out.push(words.slice(1));
  }
  return out;
}

interface ParsedArgs {
  readonly command: Subcommand;
  readonly positionals: string[];
  /** Flag → values as given (a boolean flag without value is `true`). */
  readonly flags: Map<string, (string | true)[]>;
}

const BOOLEAN_FLAGS = new Set([
  ...[...PROXY_SPECS.values()].filter((s) => s.boolean === true).map((s) => s.flag),
  'progress',
  'print',
  'help',
  'version',
]);

function parseArgs(words: readonly string[]): ParsedArgs {
  const first = words[0];
  const command = SUBCOMMANDS.find((c) => c === first) ?? 'proxy';
  const rest = first === command ? words.slice(1) : words;
  const positionals: string[] = [];
  const flags = new Map<string, (string | true)[]>();
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i] ?? '';
    if (!word.startsWith('-')) {
      positionals.push(word);
      continue;
    }
    const eq = word.indexOf('=');
    const name = (eq < 0 ? word : word.slice(0, eq)).replace(/^--?/, '');
    const flag = name === 'h' ? 'help' : name;
    let value: string | true;
    if (eq >= 0) value = word.slice(eq + 1);
    else if (BOOLEAN_FLAGS.has(flag) && !/^(true|false|on|off)$/.test(rest[i + 1] ?? ''))
      value = true;
    else value = rest[++i] ?? '';
    flags.set(flag, [...(flags.get(flag) ?? []), value]);
  }
  return { command, positionals, flags };
}

/** A placeholder the reader fills in (`$HEADWAY_ZONE`, `$(…)`): not checked. */
function isPlaceholder(value: string | true): boolean {
  return typeof value === 'string' && value.startsWith('$');
}

/** Why a `headway` command line (words after the program name) is wrong, or undefined. */
export function commandProblem(words: readonly string[]): string | undefined {
  try {
    check(parseArgs(words));
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

function check({ command, positionals, flags }: ParsedArgs): void {
  const known = COMMAND_FLAGS[command];
  for (const flag of flags.keys()) {
    if (!known.has(flag) && !GLOBAL_FLAGS.has(flag))
      throw new Error(`${command}: unknown --${flag}`);
  }
  if (flags.has('help') || flags.has('version')) return;
  const single = (flag: string): string | undefined => {
    const values = flags.get(flag);
    if (values === undefined || values.some(isPlaceholder)) return undefined;
    if (values.length > 1) throw new Error(`--${flag} given more than once`);
    return String(values[0]);
  };
  switch (command) {
    case 'proxy': {
      if (positionals.length > 0) throw new Error(`unexpected argument ${positionals[0] ?? ''}`);
      // With a config file the listeners come from the file, which the page shows apart.
      if (flags.has('config')) return;
      const argv: Record<string, unknown> = {};
      for (const [flag, values] of flags) {
        const given = values.filter((x) => !isPlaceholder(x));
        if (given.length === 0) continue;
        argv[flag] = PROXY_SPECS.get(flag)?.repeatable === true ? given : given.at(-1);
      }
      resolveProxyConfig({ argv, env: {} });
      return;
    }
    case 'check-config':
      if (positionals.length !== 1) throw new Error('check-config takes one FILE');
      return;
    case 'echo':
      if (positionals.length > 0) throw new Error(`unexpected argument ${positionals[0] ?? ''}`);
      for (const value of flags.get('listen') ?? [])
        if (!isPlaceholder(value)) v.hostPort(String(value));
      if (single('delay') !== undefined) v.duration(single('delay') ?? '');
      return;
    case 'demo':
      if (positionals.length > 0) throw new Error(`unexpected argument ${positionals[0] ?? ''}`);
      for (const flag of ['listen', 'admin']) {
        const value = single(flag);
        if (value !== undefined) v.hostPort(value);
      }
      return;
    case 'bench': {
      if (positionals.length !== 1) throw new Error('bench takes one MODE');
      const raw: RawBenchArgs = {
        mode: positionals[0],
        target: (flags.get('target') ?? []).map(String),
        connections: single('connections'),
        duration: single('duration'),
        warmup: single('warmup'),
        size: single('size'),
        rate: single('rate'),
        rounds: single('rounds'),
        timeout: single('timeout'),
        json: single('json'),
        html: single('html'),
        progress: flags.has('progress'),
      };
      parseBenchOptions(raw);
      return;
    }
    case 'import':
      if (positionals.length !== 2) throw new Error('import takes FORMAT and SOURCE');
      if (!IMPORT_FORMATS.has(positionals[0] ?? ''))
        throw new Error(`import: unknown format ${positionals[0] ?? ''}`);
      return;
  }
}
