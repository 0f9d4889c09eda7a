import { access, constants, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { ConfigError } from '../core/errors.ts';
import {
  DEFAULT_DURATION_MS,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_WARMUP_MS,
  parseBenchOptions,
  type BenchOptions,
  type RawBenchArgs,
} from '../bench/bench-options.ts';
import type { BenchReport } from '../bench/bench-report.ts';
import { progressHooks } from '../bench/progress.ts';
import { renderHtml } from '../bench/render-html.ts';
import { renderJson } from '../bench/render-json.ts';
import { renderTable } from '../bench/render-table.ts';
import { runBench } from '../bench/run-bench.ts';
import { formatDurationMs } from '../core/duration.ts';
import { BENCH_ERROR } from '../bench/error-tally.ts';

const GROUP = 'Bench:';

/** Flags as declared: every value a string, parsed later by `parseBenchOptions`. */
export interface BenchFlags {
  readonly mode: string | undefined;
  readonly target: string | string[] | undefined;
  readonly connections: string | undefined;
  readonly duration: string | undefined;
  readonly warmup: string | undefined;
  readonly size: string | undefined;
  readonly rate: string | undefined;
  readonly rounds: string | undefined;
  readonly timeout: string | undefined;
  readonly json: string | undefined;
  readonly html: string | undefined;
  readonly progress: boolean | undefined;
}

/**
 * `headway bench <mode>` as a yargs command module. Flags are declared as
 * strings and parsed by `parseBenchOptions`, so a bad value is a
 * `ConfigError` naming the flag (exit code 2), like every other command.
 */
export const benchCommand: CommandModule<object, BenchFlags> = {
  command: 'bench <mode>',
  describe: 'Load-test TCP echo targets (rr, stream, connect) and compare them side by side',
  builder: (y) => declareBenchFlags(y),
  handler: async (args) => {
    await runBenchCommand({
      mode: args.mode,
      target: stringOrList(args.target, '--target'),
      connections: single(args.connections, '--connections'),
      duration: single(args.duration, '--duration'),
      warmup: single(args.warmup, '--warmup'),
      size: single(args.size, '--size'),
      rate: single(args.rate, '--rate'),
      rounds: single(args.rounds, '--rounds'),
      timeout: single(args.timeout, '--timeout'),
      json: single(args.json, '--json'),
      html: single(args.html, '--html'),
      progress: args.progress,
    });
  },
};

function declareBenchFlags<T>(y: Argv<T>): Argv<T & BenchFlags> {
  return y
    .positional('mode', {
      type: 'string',
      describe:
        'rr: request/response latency; stream: bulk bytes/s; connect: a new connection per exchange',
    })
    .option('target', {
      type: 'string',
      requiresArg: true,
      group: GROUP,
      describe:
        'Echo server to load, [NAME=]HOST:PORT; repeatable: targets run in interleaved rounds and are compared to the first [required]',
    })
    .option('connections', {
      type: 'string',
      requiresArg: true,
      group: GROUP,
      describe:
        'Connections (connect mode: connections in flight) [default: rr 10, stream 1, connect 10]',
    })
    .option('duration', {
      type: 'string',
      requiresArg: true,
      group: GROUP,
      describe: `Measured time per target [default: ${formatDurationMs(DEFAULT_DURATION_MS)}]`,
    })
    .option('warmup', {
      type: 'string',
      requiresArg: true,
      group: GROUP,
      describe: `Unmeasured run per target first (0 = none) [default: ${formatDurationMs(DEFAULT_WARMUP_MS)}]`,
    })
    .option('size', {
      type: 'string',
      requiresArg: true,
      group: GROUP,
      describe:
        'Bytes per exchange (stream: per write), e.g. 64, 16k [default: rr 64, stream 64k, connect 64]',
    })
    .option('rate', {
      type: 'string',
      requiresArg: true,
      group: GROUP,
      describe:
        'Open loop: exchanges (connect: connections) per second in total, latency corrected for coordinated omission [default: closed loop]',
    })
    .option('rounds', {
      type: 'string',
      requiresArg: true,
      group: GROUP,
      describe:
        'Interleaved rounds the duration is split into [default: 1, or 5 with several targets]',
    })
    .option('timeout', {
      type: 'string',
      requiresArg: true,
      group: GROUP,
      describe: `A connect or echo slower than this is a timeout error [default: ${formatDurationMs(DEFAULT_TIMEOUT_MS)}]`,
    })
    .option('json', {
      type: 'string',
      requiresArg: true,
      group: GROUP,
      describe: 'Also write the report as JSON (schema headway-bench/v1) to this file',
    })
    .option('html', {
      type: 'string',
      requiresArg: true,
      group: GROUP,
      describe: 'Also write a self-contained HTML page of latency percentile curves',
    })
    .option('progress', {
      type: 'boolean',
      group: GROUP,
      describe: 'Progress bar on stderr [default: when stderr is a terminal]',
    });
}

export interface BenchIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown; readonly columns?: number };
}

/**
 * The command body: parse, check that report files can be written (before
 * minutes of load, not after), run, print the table, write the files.
 * Exit code 1 when a target completed nothing at all, so scripts notice.
 */
export async function runBenchCommand(
  raw: RawBenchArgs,
  io: BenchIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<BenchReport> {
  const opts = parseBenchOptions(raw);
  await checkWritable(opts.jsonFile, '--json');
  await checkWritable(opts.htmlFile, '--html');
  // A bench can run for minutes: say how long before starting, not after.
  io.stderr.write(`headway: ${describePlan(opts)}\n`);
  const hooks = opts.progress
    ? progressHooks(
        io.stderr,
        opts.targets.map((t) => t.name),
        unitOf(opts),
      )
    : {};
  const report = await runBench(opts, hooks);
  io.stdout.write(renderTable(report));
  if (opts.jsonFile !== undefined) {
    await writeFile(opts.jsonFile, renderJson(report));
    io.stderr.write(`headway: bench: wrote the JSON report to ${resolve(opts.jsonFile)}\n`);
  }
  if (opts.htmlFile !== undefined) {
    await writeFile(opts.htmlFile, renderHtml(report));
    io.stderr.write(`headway: bench: wrote the HTML report to ${resolve(opts.htmlFile)}\n`);
  }
  const idle = report.targets.filter((t) =>
    report.mode === 'stream' ? t.bytesReceived === 0 : t.operations === 0,
  );
  for (const t of idle) {
    io.stderr.write(
      `headway: bench target ${t.name} (${t.address}) completed nothing: ${t.errors.total} errors${noEchoHint(t.errors.byKind)}\n`,
    );
  }
  if (idle.length > 0) process.exitCode = 1;
  return report;
}

/** `bench rr: 2 targets × (10s + 2s warm-up) = 24s`: the wall time of the whole run. */
export function describePlan(opts: BenchOptions): string {
  const n = opts.targets.length;
  const per =
    opts.warmupMs > 0
      ? `(${formatDurationMs(opts.durationMs)} + ${formatDurationMs(opts.warmupMs)} warm-up)`
      : formatDurationMs(opts.durationMs);
  const total = formatDurationMs(n * (opts.durationMs + opts.warmupMs));
  return `bench ${opts.mode}: ${n} target${n === 1 ? '' : 's'} × ${per} = ${total}`;
}

/**
 * Why a target that completed nothing did: connected, but no byte came back (timeouts, or a
 * close before the echo) or other bytes than were sent. Refused or unreachable targets have
 * their own error codes and need no hint.
 */
function noEchoHint(byKind: Readonly<Record<string, number>>): string {
  const kinds = Object.keys(byKind);
  const silent: string[] = [BENCH_ERROR.timeout, BENCH_ERROR.shortReply, BENCH_ERROR.excessReply];
  return kinds.length > 0 && kinds.every((k) => silent.includes(k))
    ? ' (no echo: is this an echo server?)'
    : '';
}

function unitOf(opts: BenchOptions): string {
  return opts.mode === 'rr' ? 'exchanges' : opts.mode === 'connect' ? 'connections' : 'writes';
}

async function checkWritable(file: string | undefined, flag: string): Promise<void> {
  if (file === undefined) return;
  const dir = dirname(resolve(file));
  try {
    await access(dir, constants.W_OK);
  } catch (err) {
    throw new ConfigError(flag, `cannot write to directory ${dir}`, { cause: err });
  }
}

/** yargs gives an array when a flag is repeated; only `--target` may be. */
function single(value: unknown, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) throw new ConfigError(flag, 'given more than once');
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new ConfigError(flag, 'needs a value');
}

function stringOrList(value: unknown, flag: string): string | string[] | undefined {
  if (Array.isArray(value)) return value.map((v) => single(v, flag) ?? '');
  return single(value, flag);
}
