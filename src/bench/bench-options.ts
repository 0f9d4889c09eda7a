import { formatHostPort } from '../core/address.ts';
import { ConfigError, ValueError } from '../core/errors.ts';
import * as v from '../config/values.ts';

/**
 * `headway bench` options: what the user may give on the command line, the
 * defaults per mode, and the parsing that turns flags into `BenchOptions`.
 * Bad values throw `ConfigError` naming the flag, so the CLI exits with 2.
 */
export const BENCH_MODES = ['rr', 'stream', 'connect'] as const;
export type BenchMode = (typeof BENCH_MODES)[number];

export interface BenchTarget {
  /** Column heading in reports; defaults to the address. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** `host:port` as it will be dialled (IPv6 in brackets). */
  readonly address: string;
}

export interface BenchOptions {
  readonly mode: BenchMode;
  readonly targets: readonly BenchTarget[];
  /** rr and stream: open connections; connect: exchanges in flight at once. */
  readonly connections: number;
  /** Measured time per target, split over `rounds`. */
  readonly durationMs: number;
  /** Unrecorded run per target before its first round. */
  readonly warmupMs: number;
  /** rr/connect: bytes per exchange; stream: bytes per write. */
  readonly sizeBytes: number;
  /** Exchanges (rr) or connections (connect) started per second, all connections together; 0 = closed loop. */
  readonly ratePerSec: number;
  readonly rounds: number;
  /** Longest wait for a connect or an echo before it counts as a `timeout` error. */
  readonly timeoutMs: number;
  readonly jsonFile: string | undefined;
  readonly htmlFile: string | undefined;
  /** Draw a progress bar on stderr (defaults to "stderr is a TTY"). */
  readonly progress: boolean;
}

/** Flags as yargs hands them over: strings, untouched, so every value is parsed here alike. */
export interface RawBenchArgs {
  readonly mode?: string | undefined;
  readonly target?: string | readonly string[] | undefined;
  readonly connections?: string | undefined;
  readonly duration?: string | undefined;
  readonly warmup?: string | undefined;
  readonly size?: string | undefined;
  readonly rate?: string | undefined;
  readonly rounds?: string | undefined;
  readonly timeout?: string | undefined;
  readonly json?: string | undefined;
  readonly html?: string | undefined;
  readonly progress?: boolean | undefined;
}

interface ModeDefaults {
  readonly connections: number;
  readonly sizeBytes: number;
}

/**
 * rr uses 10 connections of 64-byte exchanges: small enough to measure the
 * proxy's per-exchange cost, enough connections to keep it busy. stream
 * writes 64 KiB at a time on one connection, the shape of a bulk copy.
 */
export const MODE_DEFAULTS: Readonly<Record<BenchMode, ModeDefaults>> = {
  rr: { connections: 10, sizeBytes: 64 },
  stream: { connections: 1, sizeBytes: 64 * 1024 },
  connect: { connections: 10, sizeBytes: 64 },
};

export const DEFAULT_DURATION_MS = 10_000;
export const DEFAULT_WARMUP_MS = 2_000;
export const DEFAULT_TIMEOUT_MS = 2_000;
/** Interleaved rounds when several targets are compared; one target runs in one round. */
export const DEFAULT_ROUNDS_MULTI = 5;
/** Shorter rounds than this measure mostly connection setup. */
export const MIN_ROUND_MS = 100;

export const MAX_CONNECTIONS = 10_000;
export const MAX_TARGETS = 16;
export const MAX_SIZE_BYTES = 16 * 1024 * 1024;
export const MAX_RATE = 10_000_000;
const MAX_DURATION_MS = 24 * 3_600_000;

/** Parse and check every flag; throws `ConfigError` naming the first bad one. */
export function parseBenchOptions(raw: RawBenchArgs): BenchOptions {
  const mode = field('mode', raw.mode ?? '', v.oneOf(BENCH_MODES));
  const defaults = MODE_DEFAULTS[mode];
  const targets = parseTargets(raw.target);
  const connections =
    raw.connections === undefined
      ? defaults.connections
      : field('--connections', raw.connections, v.integer(1, MAX_CONNECTIONS));
  const durationMs =
    raw.duration === undefined
      ? DEFAULT_DURATION_MS
      : field('--duration', raw.duration, v.duration);
  if (durationMs <= 0 || durationMs > MAX_DURATION_MS) {
    throw new ConfigError('--duration', 'must be more than 0 and at most 24h');
  }
  const warmupMs =
    raw.warmup === undefined ? DEFAULT_WARMUP_MS : field('--warmup', raw.warmup, v.duration);
  if (warmupMs > MAX_DURATION_MS) throw new ConfigError('--warmup', 'must be at most 24h');
  const sizeBytes =
    raw.size === undefined ? defaults.sizeBytes : field('--size', raw.size, parseByteSize);
  if (sizeBytes > MAX_SIZE_BYTES) throw new ConfigError('--size', 'must be at most 16MiB');
  // A connect exchange may be empty (connect and close only); rr and stream need bytes to move.
  if (sizeBytes === 0 && mode !== 'connect') {
    throw new ConfigError('--size', `must be at least 1 byte in ${mode} mode`);
  }
  const ratePerSec = raw.rate === undefined ? 0 : field('--rate', raw.rate, v.integer(1, MAX_RATE));
  if (ratePerSec > 0 && mode === 'stream') {
    throw new ConfigError('--rate', 'applies to rr and connect modes only (stream is bulk)');
  }
  const rounds =
    raw.rounds === undefined
      ? defaultRounds(targets.length, durationMs)
      : field('--rounds', raw.rounds, v.integer(1, 1000));
  if (durationMs / rounds < MIN_ROUND_MS) {
    throw new ConfigError(
      '--rounds',
      `${rounds} rounds of a ${durationMs}ms duration are shorter than ${MIN_ROUND_MS}ms each`,
    );
  }
  const timeoutMs =
    raw.timeout === undefined ? DEFAULT_TIMEOUT_MS : field('--timeout', raw.timeout, v.duration);
  if (timeoutMs <= 0) throw new ConfigError('--timeout', 'must be more than 0');
  return {
    mode,
    targets,
    connections,
    durationMs,
    warmupMs,
    sizeBytes,
    ratePerSec,
    rounds,
    timeoutMs,
    jsonFile: raw.json === undefined ? undefined : field('--json', raw.json, v.text),
    htmlFile: raw.html === undefined ? undefined : field('--html', raw.html, v.text),
    progress: raw.progress ?? process.stderr.isTTY,
  };
}

function defaultRounds(targets: number, durationMs: number): number {
  if (targets <= 1) return 1;
  return Math.max(1, Math.min(DEFAULT_ROUNDS_MULTI, Math.floor(durationMs / MIN_ROUND_MS)));
}

function parseTargets(raw: string | readonly string[] | undefined): BenchTarget[] {
  const list = raw === undefined ? [] : typeof raw === 'string' ? [raw] : raw;
  if (list.length === 0) {
    throw new ConfigError('--target', 'needs at least one target ([NAME=]HOST:PORT)');
  }
  if (list.length > MAX_TARGETS) {
    throw new ConfigError('--target', `at most ${MAX_TARGETS} targets`);
  }
  const targets = list.map((text) => field('--target', text, parseTarget));
  const seen = new Set<string>();
  for (const t of targets) {
    if (seen.has(t.name)) throw new ConfigError('--target', `name "${t.name}" is given twice`);
    seen.add(t.name);
  }
  return targets;
}

/** `[NAME=]HOST:PORT`; port 0 is refused because nothing can be dialled there. */
export function parseTarget(raw: v.RawValue): BenchTarget {
  const text = v.asText(raw);
  const eq = text.indexOf('=');
  const name = eq >= 0 ? text.slice(0, eq) : undefined;
  const hp = v.hostPort(eq >= 0 ? text.slice(eq + 1) : text);
  if (hp.port === 0) throw new ValueError(`"${text}": port 0 cannot be dialled`);
  // `:PORT` means "all addresses" to a listener; a client dials loopback instead.
  const host = hp.host === '::' || hp.host === '0.0.0.0' ? '127.0.0.1' : hp.host;
  const address = formatHostPort(host, hp.port);
  if (name !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,62}$/.test(name)) {
    throw new ValueError(
      `"${name}" is not a valid target name (letters, digits, "_", "-", ".", ":"; up to 63)`,
    );
  }
  return { name: name ?? address, host, port: hp.port, address };
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 * 1024,
  mb: 1024 * 1024,
  mib: 1024 * 1024,
};

/** Bytes with an optional binary suffix: `64`, `16k`, `64KiB`, `1m`. */
export function parseByteSize(raw: v.RawValue): number {
  const text = v.asText(raw);
  const m = /^(\d+)\s*([a-zA-Z]*)$/.exec(text);
  const unit = m === null ? undefined : SIZE_UNITS[(m[2] ?? '').toLowerCase()];
  if (m === null || unit === undefined) {
    throw new ValueError(`"${text}" is not a size (e.g. 64, 16k, 64KiB, 1m)`);
  }
  return Number(m[1]) * unit;
}

function field<T>(name: string, raw: v.RawValue, parse: (raw: v.RawValue) => T): T {
  try {
    return parse(raw);
  } catch (err) {
    if (err instanceof ValueError) throw new ConfigError(name, err.message, { cause: err });
    throw err;
  }
}
