/**
 * The command line: every command, its flags and the exit codes. Loaded by main.ts once the Node.js
 * version is known to be one this code was built for.
 */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { loadProxyConfig } from '../config/load.ts';
import { takesSeveral } from '../config/resolve.ts';
import { findRepeatedFlag, kebab } from './duplicate-flags.ts';
import { printConfig } from '../config/print-config.ts';
import { closestName } from './did-you-mean.ts';
import { allOptions } from '../config/schema.ts';
import {
  ConfigError,
  ListenError,
  NodeInternalsChangedError,
  errorMessage,
} from '../core/errors.ts';
import { assertBindings } from '../proxy/libuv/self-test.ts';
import { declareOptions } from './yargs-options.ts';
import { runProxy } from './run-proxy.ts';
import { runEcho, echoOptions } from './run-echo.ts';
import { runDemo } from './run-demo.ts';
import { benchCommand } from './bench-command.ts';
import { importCommand } from './import-command.ts';
import { buildInfo } from '../metrics/build-info.ts';

/** `headway --version` / `-v`: `headway 0.1.0 (revision 1a2b3c4d5e6f, node v24.x)`. */
function versionText(): string {
  const b = buildInfo();
  return `headway ${b.version} (revision ${b.revision}, node ${b.node})`;
}

/** Exit codes: 2 = bad input (flag, env, config), 1 = runtime failure (e.g. port in use). */
export const EXIT_USAGE = 2;
export const EXIT_FAILURE = 1;

function fail(message: string, code: number): never {
  process.stderr.write(`headway: ${message}\n`);
  process.exit(code);
}

function handleError(err: unknown): never {
  // Several errors (a config file checked whole): one line each.
  if (err instanceof ConfigError) fail(err.message.split('\n').join('\nheadway: '), EXIT_USAGE);
  // The raw data path's self-test refused this Node.js: a flag away from running (--socket-impl net).
  if (err instanceof NodeInternalsChangedError) fail(err.message, EXIT_USAGE);
  if (err instanceof ListenError) fail(err.message, EXIT_FAILURE);
  fail(err instanceof Error ? (err.stack ?? err.message) : String(err), EXIT_FAILURE);
}

/** The schema's flags, and those of them that may be given more than once. */
const SCHEMA_FLAGS = new Set(allOptions().map(([, spec]) => spec.flag));
const REPEATABLE_FLAGS = new Set(
  allOptions()
    .filter(([, spec]) => takesSeveral(spec))
    .map(([, spec]) => spec.flag),
);

/** Flags of the other commands: [all, repeatable]. */
const COMMAND_FLAGS: Readonly<Record<string, readonly [ReadonlySet<string>, ReadonlySet<string>]>> =
  {
    // `print` is check-config's own: given twice it is refused like the others.
    'check-config': [new Set([...SCHEMA_FLAGS, 'print']), REPEATABLE_FLAGS],
    echo: [new Set(['listen', 'delay']), new Set(['listen'])],
    demo: [new Set(['listen', 'admin']), new Set()],
    bench: [
      new Set(
        'target connections duration warmup size rate rounds timeout json html progress'.split(' '),
      ),
      new Set(['target']),
    ],
  };

const COMMANDS = ['proxy', 'echo', 'demo', 'check-config', 'bench'];

async function main(argv: string[]): Promise<void> {
  const [known, repeatable] = COMMAND_FLAGS[argv[0] ?? ''] ?? [SCHEMA_FLAGS, REPEATABLE_FLAGS];
  const repeated = findRepeatedFlag(argv, known, repeatable);
  if (repeated !== undefined)
    fail(`--${repeated}: given more than once (it takes one value)`, EXIT_USAGE);
  const cli: Argv = yargs(argv)
    .scriptName('headway')
    .usage('$0 [command] [flags]')
    .command(
      ['proxy', '$0'],
      'Run the TCP proxy (the default command)',
      (y) => declareOptions(y, allOptions()),
      async (args) => {
        const config = loadProxyConfig(args, process.env);
        // Before anything binds: a Node.js whose internals moved must not relay a byte on them.
        if (config.process.socketImpl === 'raw') await assertBindings();
        await runProxy(config, () => loadProxyConfig(args, process.env));
      },
    )
    .command(
      'echo',
      'Run a TCP echo server (for tests, demos and benchmarks)',
      (y) => echoOptions(y),
      async (args) => {
        await runEcho(args);
      },
    )
    .command(
      'demo',
      'Three local echo backends, the proxy in front and its admin endpoint',
      (y) =>
        y
          .option('listen', {
            type: 'string',
            requiresArg: true,
            describe: 'Proxy address [default: 127.0.0.1:8080]',
          })
          .option('admin', {
            type: 'string',
            requiresArg: true,
            describe: 'Admin address [default: 127.0.0.1:9901]',
          }),
      async (args) => {
        await runDemo({ listen: args.listen, admin: args.admin });
      },
    )
    .command(
      'check-config <file>',
      'Validate a config file with flags and environment applied, as proxy would, without starting: every error is reported as FILE:LINE:COLUMN PATH: problem',
      (y) =>
        declareOptions(
          y
            .positional('file', {
              type: 'string',
              demandOption: true,
              describe: 'YAML config file',
            })
            .option('print', {
              type: 'boolean',
              describe:
                'Also print the effective configuration (defaults, file, environment and flags merged) as YAML, secrets masked',
            }),
          allOptions(),
        ),
      (args) => {
        checkConfig(args);
      },
    )
    .command(benchCommand)
    .command(importCommand)
    .example([
      ['$0 --listen :6379 --backends static://10.0.0.1:6379,10.0.0.2:6379', 'Two fixed backends'],
      [
        '$0 --listen :5432 --backends k8s://db/postgres:5432',
        'Ready pods of Service postgres in namespace db, from the Kubernetes API',
      ],
      [
        '$0 --listen :6379 --backends dns://redis.db.svc.cluster.local:6379',
        'Every address of a headless Service, from DNS',
      ],
      ['$0 --config headway.yaml', 'Listeners from a config file (SIGHUP reloads it)'],
      ['$0 check-config headway.yaml --print', 'Check a config file, print what it resolves to'],
    ])
    .strict()
    .help()
    .alias('h', 'help')
    .version(versionText())
    .alias('v', 'version')
    .wrap(Math.min(120, process.stdout.columns || 100))
    .fail((msg: string | null, err: Error | null | undefined) => {
      // yargs reports its own validation and parse errors as YError (or no error at all).
      if (err != null && err.name !== 'YError') handleError(err);
      fail(`${describeUsageError(msg ?? 'invalid arguments')} (see headway --help)`, EXIT_USAGE);
    });
  await cli.parseAsync();
}

/** `headway check-config FILE [--print] [flags]`: exit 0 and a summary, or exit 2 and every error. */
function checkConfig(args: Readonly<Record<string, unknown>>): void {
  const file = String(args.file);
  if (typeof args.config === 'string' && args.config !== file)
    throw new ConfigError('--config', `names ${args.config}, but check-config was given ${file}`);
  const config = loadProxyConfig({ ...args, config: file }, process.env);
  const n = config.listeners.length;
  const summary = `${file}: ok (${n} listener${n === 1 ? '' : 's'}: ${config.listeners.map((l) => l.name).join(', ')})`;
  // With --print, the summary is a YAML comment so the whole output is a valid config file.
  if (args.print === true) process.stdout.write(`# ${summary}\n${printConfig(config)}`);
  else process.stdout.write(`${summary}\n`);
}

function describeUsageError(msg: string): string {
  const unknown = /^Unknown arguments?: (.*)$/.exec(msg);
  if (unknown !== null) {
    // yargs names an unknown `--idle-timeot` twice, also as `idleTimeot`: keep the one typed.
    const all = (unknown[1] ?? '').split(', ');
    const names = all.filter((n) => !(/[A-Z]/.test(n) && all.includes(kebab(n))));
    const given = process.argv.slice(2);
    const [known] = COMMAND_FLAGS[given[0] ?? ''] ?? [SCHEMA_FLAGS];
    const described = names.map((n) => {
      const flag = n.length === 1 ? `-${n}` : `--${n}`;
      if (given.some((a) => a === flag || a.startsWith(`${flag}=`))) {
        const near = closestName(n, known);
        return `flag ${flag}${near === undefined ? '' : ` (did you mean --${near}?)`}`;
      }
      const command = given[0] === n ? closestName(n, COMMANDS) : undefined;
      return `argument "${n}"${command === undefined ? '' : ` (did you mean ${command}?)`}`;
    });
    return `unknown ${described.join(', ')}`;
  }
  const missing = /^Not enough arguments following: (.*)$/.exec(msg);
  if (missing !== null) return `--${missing[1] ?? ''}: needs a value`;
  return msg;
}

export function runCli(): void {
  main(hideBin(process.argv)).catch((err: unknown) => {
    if (
      err instanceof ConfigError ||
      err instanceof ListenError ||
      err instanceof NodeInternalsChangedError
    )
      handleError(err);
    fail(errorMessage(err), EXIT_FAILURE);
  });
}
