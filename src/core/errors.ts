/**
 * Typed errors with stable codes. Every error Headway throws is a
 * `HeadwayError` with a code from `ErrorCode` (test/architecture/errors.test.ts
 * keeps it so); the CLI maps `ConfigError` to exit code 2 and `ListenError`
 * to exit code 1. The one plain `Error` subclass here, `SystemCallError`, is
 * shaped like Node's own socket errors on purpose (see there).
 */
export type ErrorCode =
  /** Bad user input, naming the flag, variable or file field: `ConfigError`. */
  | 'HW_CONFIG_INVALID'
  /** A value parser rejected its text; the config layer names the field: `ValueError`. */
  | 'HW_VALUE_INVALID'
  /** A bind failed: `ListenError`. */
  | 'HW_LISTEN_FAILED'
  /** A reload was not attempted or not switched to: `ReloadRefusedError`. */
  | 'HW_RELOAD_REFUSED'
  /** A discovery source could not refresh its set (the last good one is kept): `DiscoveryError`. */
  | 'HW_DISCOVERY_FAILED'
  /** A Sentinel broke RESP or its limits (the connection is dropped). */
  | 'HW_SENTINEL_PROTOCOL'
  /** A Sentinel connection failed (connect, timeout, close, auth). */
  | 'HW_SENTINEL_CONNECTION'
  /** A worker thread failed to start or died: `WorkerError`. */
  | 'HW_WORKER_FAILED'
  /** Addresses that cannot be written into a PROXY protocol header: `ProxyHeaderError`. */
  | 'HW_PROXY_HEADER_UNENCODABLE'
  /** A component was built with an option outside its range (callers check user input first): `OptionRangeError`. */
  | 'HW_OPTION_OUT_OF_RANGE'
  /** The start-up self-test found a changed binding (`--socket-impl raw`): `NodeInternalsChangedError`. */
  | 'HW_NODE_INTERNALS_CHANGED'
  /** Something threw a value that is not an Error (see `asError`). */
  | 'HW_NOT_AN_ERROR'
  /** A "cannot happen" invariant broke: a bug in Headway: `InternalError`. */
  | 'HW_INTERNAL';

export class HeadwayError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HeadwayError';
    this.code = code;
  }
}

/** A broken invariant: reaching it means a bug in Headway, not bad input or a bad peer. */
export class InternalError extends HeadwayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('HW_INTERNAL', message, options);
    this.name = 'InternalError';
  }
}

/**
 * A value parser (flags, environment, config file, URIs, check strings) rejected its text. The
 * message completes "FIELD: ...", so the config layer turns it into a `ConfigError` naming where
 * the value came from.
 */
export class ValueError extends HeadwayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('HW_VALUE_INVALID', message, options);
    this.name = 'ValueError';
  }
}

/** A component's constructor option outside its range: the caller's bug, since user input is checked earlier. */
export class OptionRangeError extends HeadwayError {
  constructor(message: string) {
    super('HW_OPTION_OUT_OF_RANGE', message);
    this.name = 'OptionRangeError';
  }
}

/** A discovery source failed to refresh; it keeps the last good set and retries. */
export class DiscoveryError extends HeadwayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('HW_DISCOVERY_FAILED', message, options);
    this.name = 'DiscoveryError';
  }
}

/** A worker thread failed to start, or died; the message is the worker's own when it sent one. */
export class WorkerError extends HeadwayError {
  constructor(message: string) {
    super('HW_WORKER_FAILED', message);
    this.name = 'WorkerError';
  }
}

/** Connection addresses that a PROXY protocol header cannot carry. */
export class ProxyHeaderError extends HeadwayError {
  constructor(message: string) {
    super('HW_PROXY_HEADER_UNENCODABLE', message);
    this.name = 'ProxyHeaderError';
  }
}

/**
 * A failed system call on a socket, shaped like the errors Node's `net` raises (`code` is the
 * errno name such as `ECONNREFUSED`, message `connect ECONNREFUSED`): code that reads `err.code`
 * (`errnoCode`, `localErrorKind`, passive health) then treats every socket implementation alike.
 * That shape is why it is not a `HeadwayError`, whose `code` is an `ErrorCode`.
 */
export class SystemCallError extends Error implements NodeJS.ErrnoException {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;

  constructor(syscall: string, code: string, errno: number) {
    super(`${syscall} ${code}`);
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
  }
}

/** A caught value as an Error: itself, or (a library threw a string or the like) wrapped. */
export function asError(value: unknown): Error {
  return value instanceof Error
    ? value
    : new HeadwayError('HW_NOT_AN_ERROR', String(value), { cause: value });
}

/** A position in a config file, for `FILE:LINE:COLUMN` (both 1-based). */
export interface FileLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** Bad user input: a flag, environment variable or config-file field. */
export class ConfigError extends HeadwayError {
  /** Where the bad value came from, e.g. `--listen`, `HEADWAY_LISTEN`, `listeners[1].backends`. */
  readonly field: string;
  /** What is wrong with it, without the field. */
  readonly problem: string;
  /** Where in the config file, when it came from one (`headway.yaml:12:5 listeners[1].backends: …`). */
  readonly location: FileLocation | undefined;

  constructor(
    field: string,
    problem: string,
    options?: { cause?: unknown; location?: FileLocation | undefined },
  ) {
    const at = options?.location;
    const where = at === undefined ? '' : `${at.file}:${at.line}:${at.column} `;
    super('HW_CONFIG_INVALID', `${where}${field}: ${problem}`, options);
    this.name = 'ConfigError';
    this.field = field;
    this.problem = problem;
    this.location = at;
  }
}

/**
 * Several bad inputs found at once (a config file is checked whole, as `haproxy -c` and
 * `nginx -t` do): the message has one line per error.
 */
export class ConfigErrors extends ConfigError {
  readonly errors: readonly ConfigError[];

  constructor(errors: readonly [ConfigError, ...ConfigError[]]) {
    const first = errors[0];
    super(first.field, first.problem, { location: first.location });
    this.name = 'ConfigErrors';
    this.errors = errors;
    this.message = errors.map((e) => e.message).join('\n');
  }

  /** The errors inside any ConfigError (one, or several). */
  static flatten(err: ConfigError): readonly ConfigError[] {
    return err instanceof ConfigErrors ? err.errors : [err];
  }

  /** One error as itself, several as a ConfigErrors. */
  static of(errors: readonly [ConfigError, ...ConfigError[]]): ConfigError {
    return errors.length === 1 ? errors[0] : new ConfigErrors(errors);
  }
}

/** A bind failed (port in use, address not available, permission). */
export class ListenError extends HeadwayError {
  readonly address: string;

  constructor(address: string, problem: string, options?: { cause?: unknown }) {
    super('HW_LISTEN_FAILED', `cannot listen on ${address}: ${problem}`, options);
    this.name = 'ListenError';
    this.address = address;
  }
}

/**
 * The Node.js internals the raw data path is built on (libuv handle bindings,
 * net.Server's listening handle) are not what Headway expects: the start-up
 * self-test found it, before any client byte went through them. Exit 2, like
 * bad input: the cure is a flag (`--socket-impl net`) or another Node.js.
 */
export class NodeInternalsChangedError extends HeadwayError {
  /** What is missing or misbehaving, for the message and logs. */
  readonly detail: string;

  constructor(detail: string, options?: { cause?: unknown }) {
    super(
      'HW_NODE_INTERNALS_CHANGED',
      `this Node.js version changed an internal Headway relies on (${detail}); run with --socket-impl net`,
      options,
    );
    this.name = 'NodeInternalsChangedError';
    this.detail = detail;
  }
}

/** Narrow an unknown thrown value to a Node system error with a code. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = err.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A reload that was not attempted or not switched to (shutdown has started). */
export class ReloadRefusedError extends HeadwayError {
  constructor(reason: string) {
    super('HW_RELOAD_REFUSED', `reload refused: ${reason}`);
    this.name = 'ReloadRefusedError';
  }
}
