/**
 * The process log: lifecycle events and errors, one line each, JSON or text.
 * It is not on the data path (the access log is separate), so a small
 * synchronous writer is enough and keeps start-up errors in order.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'text';
export type LogFields = Readonly<Record<string, unknown>>;

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

const RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly format: LogFormat;
  readonly write?: (line: string) => void;
  readonly now?: () => Date;
}

export function createLogger(opts: LoggerOptions, bound: LogFields = {}): Logger {
  const min = RANK[opts.level];
  const write = opts.write ?? ((line: string) => process.stdout.write(line));
  const now = opts.now ?? (() => new Date());
  const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (RANK[level] < min) return;
    const all = fields === undefined ? bound : { ...bound, ...fields };
    write(
      opts.format === 'json'
        ? JSON.stringify({ time: now().toISOString(), level, msg, ...all }) + '\n'
        : formatText(now(), level, msg, all),
    );
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => createLogger(opts, { ...bound, ...fields }),
  };
}

function formatText(time: Date, level: LogLevel, msg: string, fields: LogFields): string {
  let line = `${time.toISOString()} ${level.toUpperCase().padEnd(5)} ${msg}`;
  for (const [k, v] of Object.entries(fields)) {
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    line += ` ${k}=${/[\s"=]/.test(text) ? JSON.stringify(text) : text}`;
  }
  return line + '\n';
}

/** A logger that drops everything; for tests and embedded use. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
