/**
 * Typed errors with stable codes. Every error Headway raises on purpose is a
 * `HeadwayError`; the CLI maps `ConfigError` to exit code 2 and
 * `ListenError` to exit code 1.
 */
export type ErrorCode =
  | 'HW_CONFIG_INVALID'
  | 'HW_LISTEN_FAILED'
  | 'HW_DISCOVERY_FAILED'
  | 'HW_INTERNAL'
  | 'HW_NODE_INTERNALS_CHANGED'
  | 'HW_RELOAD_REFUSED';

export class HeadwayError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HeadwayError';
    this.code = code;
  }
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
