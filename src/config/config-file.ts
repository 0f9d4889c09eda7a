import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError, errorMessage } from '../core/errors.ts';
import { listenerOptions, processOptions } from './schema.ts';

/** A config file's content, checked for shape (not yet for values). */
export interface ConfigFile {
  readonly path: string;
  /** Process options by flag name (`admin`, `log-format`, ...). */
  readonly process: Readonly<Record<string, unknown>>;
  /** One record of listener options (by flag name) per listener. */
  readonly listeners: readonly Readonly<Record<string, unknown>>[];
}

const PROCESS_FLAGS = new Set(Object.values(processOptions).map((s) => s.flag));
const LISTENER_FLAGS = new Set(Object.values(listenerOptions).map((s) => s.flag));

/**
 * Read a YAML config file: top-level process options under their flag names
 * (plus `log: {format, level}`), and `listeners:`, each with any per-listener
 * option under its flag name. Unknown keys are errors naming their path, as
 * are YAML syntax errors (with line and column).
 */
export function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, `cannot read: ${errorMessage(err)}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(path, `not valid YAML: ${errorMessage(err).split('\n')[0] ?? ''}`, {
      cause: err,
    });
  }
  return checkShape(path, doc ?? {});
}

/** Check the document's shape; exported for tests. */
export function checkShape(path: string, doc: unknown): ConfigFile {
  if (!isRecord(doc))
    throw new ConfigError(path, 'must be a mapping of options (and `listeners:`)');
  const proc: Record<string, unknown> = {};
  let listeners: Record<string, unknown>[] = [];
  for (const [key, value] of Object.entries(doc)) {
    if (key === 'listeners') {
      if (!Array.isArray(value)) throw new ConfigError('listeners', 'must be a list of listeners');
      listeners = value.map((item: unknown, i) => {
        if (!isRecord(item))
          throw new ConfigError(`listeners[${i}]`, 'must be a mapping of listener options');
        const l = withAliases(item, `listeners[${i}]`);
        for (const [k, v] of Object.entries(l)) {
          if (!LISTENER_FLAGS.has(k)) {
            throw new ConfigError(
              `listeners[${i}].${k}`,
              PROCESS_FLAGS.has(k)
                ? 'is a process option: put it at the top level'
                : 'unknown option',
            );
          }
          checkValue(`listeners[${i}].${k}`, v);
        }
        return l;
      });
    } else if (key === 'log' && isRecord(value)) {
      for (const [k, v] of Object.entries(value)) {
        if (k !== 'format' && k !== 'level')
          throw new ConfigError(`log.${k}`, 'unknown option (format or level)');
        checkValue(`log.${k}`, v);
        proc[`log-${k}`] = v;
      }
    } else if (PROCESS_FLAGS.has(key)) {
      checkValue(key, value);
      proc[key] = value;
    } else {
      throw new ConfigError(
        key,
        LISTENER_FLAGS.has(key)
          ? 'is a listener option: put it under `listeners:`'
          : 'unknown option',
      );
    }
  }
  return { path, process: proc, listeners };
}

function checkValue(field: string, value: unknown): void {
  const scalar = (v: unknown): boolean =>
    typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  if (scalar(value)) return;
  if (Array.isArray(value) && value.every(scalar)) return;
  throw new ConfigError(field, 'must be a value or a list of values');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Short file keys for listener options (`v6only`, as NGINX and HAProxy spell it). */
const LISTENER_ALIASES: Readonly<Record<string, string>> = { v6only: 'listen-v6only' };

function withAliases(l: Record<string, unknown>, at: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(l)) {
    const key = LISTENER_ALIASES[k] ?? k;
    if (Object.hasOwn(out, key))
      throw new ConfigError(`${at}.${k}`, `is the same option as ${key}: give only one`);
    out[key] = v;
  }
  return out;
}
