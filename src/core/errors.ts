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
  | 'HW_RELOAD_REFUSED';

export class HeadwayError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HeadwayError';
    this.code = code;
  }
}

/** Bad user input: a flag, environment variable or config-file field. */
export class ConfigError extends HeadwayError {
  /** Where the bad value came from, e.g. `--listen`, `HEADWAY_LISTEN`, `listeners[1].backends`. */
  readonly field: string;

  constructor(field: string, problem: string, options?: { cause?: unknown }) {
    super('HW_CONFIG_INVALID', `${field}: ${problem}`, options);
    this.name = 'ConfigError';
    this.field = field;
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
