import { readFileSync } from 'node:fs';
import {
  isMap,
  isPair,
  isScalar,
  LineCounter,
  parseDocument,
  type Document,
  type Node,
} from 'yaml';
import { ConfigError, ConfigErrors, errorMessage, type FileLocation } from '../core/errors.ts';
import { listenerOptions, processOptions } from './schema.ts';

/** A config file's content, checked for shape (not yet for values). */
export interface ConfigFile {
  readonly path: string;
  /** Process options by flag name (`admin`, `log-format`, ...). */
  readonly process: Readonly<Record<string, unknown>>;
  /** One record of listener options (by flag name) per listener. */
  readonly listeners: readonly Readonly<Record<string, unknown>>[];
  /**
   * Keys that are wrong where they are (unknown, or in the wrong section): left out of
   * `process`/`listeners` so the values can still be checked, and reported with them.
   */
  readonly problems: readonly ConfigError[];
  /** Where a field (`listeners[1].backends`, `log-format`) is in the file, if it is there. */
  locate(field: string): FileLocation | undefined;
}

const PROCESS_FLAGS = new Set(Object.values(processOptions).map((s) => s.flag));
const LISTENER_FLAGS = new Set(Object.values(listenerOptions).map((s) => s.flag));

type Segment = string | number;

/**
 * Read a YAML config file: top-level process options under their flag names
 * (plus `log: {format, level}`), and `listeners:`, each with any per-listener
 * option under its flag name. Every YAML syntax error, and a document of the
 * wrong shape, throws at once (ConfigErrors, one per problem, each with
 * FILE:LINE:COLUMN); wrong keys are collected in `problems`.
 */
export function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, `cannot read: ${errorMessage(err)}`, { cause: err });
  }
  return parseConfigText(path, text);
}

/** Parse a config file's text; exported for tests. */
export function parseConfigText(path: string, text: string): ConfigFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number): FileLocation => {
    const pos = lines.linePos(offset);
    return { file: path, line: pos.line, column: pos.col };
  };
  const [first, ...rest] = doc.errors.map(
    (e) =>
      new ConfigError('(yaml)', `not valid YAML: ${e.message.split('\n')[0] ?? ''}`, {
        cause: e,
        location: at(e.pos[0]),
      }),
  );
  if (first !== undefined) throw ConfigErrors.of([first, ...rest]);
  const locate = (field: string): FileLocation | undefined => {
    for (const segments of candidatePaths(field)) {
      const offset = valueOffset(doc, segments);
      if (offset !== undefined) return at(offset);
    }
    return undefined;
  };
  const keyAt = (segments: Segment[]): FileLocation | undefined => {
    const offset = keyOffset(doc, segments);
    return offset === undefined ? undefined : at(offset);
  };
  return checkShape(path, doc.toJS() ?? {}, locate, keyAt);
}

/**
 * Check the document's shape. Wrong keys go to `problems`; a document that is not a mapping, or
 * `listeners` that is not a list of mappings, throws. Exported for tests.
 */
export function checkShape(
  path: string,
  doc: unknown,
  locate: (field: string) => FileLocation | undefined = () => undefined,
  keyAt: (segments: Segment[]) => FileLocation | undefined = () => undefined,
): ConfigFile {
  if (!isRecord(doc))
    throw new ConfigError(path, 'must be a mapping of options (and `listeners:`)');
  const problems: ConfigError[] = [];
  const bad = (field: string, problem: string, key: Segment[]): void => {
    problems.push(new ConfigError(field, problem, { location: keyAt(key) ?? locate(field) }));
  };
  const badValue = (field: string, value: unknown): boolean => {
    if (isValue(value)) return false;
    problems.push(
      new ConfigError(field, 'must be a value or a list of values', { location: locate(field) }),
    );
    return true;
  };
  const proc: Record<string, unknown> = {};
  let listeners: Record<string, unknown>[] = [];
  for (const [key, value] of Object.entries(doc)) {
    if (key === 'listeners') {
      if (!Array.isArray(value))
        throw new ConfigError('listeners', 'must be a list of listeners', {
          location: locate('listeners'),
        });
      listeners = value.map((l: unknown, i) => {
        if (!isRecord(l))
          throw new ConfigError(`listeners[${i}]`, 'must be a mapping of listener options', {
            location: locate(`listeners[${i}]`),
          });
        const kept: Record<string, unknown> = {};
        for (const [given, v] of Object.entries(l)) {
          // `v6only` is the config-file spelling of listen-v6only (as NGINX's `listen … ipv6only`).
          const k = LISTENER_ALIASES[given] ?? given;
          const field = `listeners[${i}].${given}`;
          if (Object.hasOwn(kept, k)) {
            bad(field, `is the same option as ${k}: give only one`, ['listeners', i, given]);
          } else if (!LISTENER_FLAGS.has(k)) {
            bad(
              field,
              PROCESS_FLAGS.has(k)
                ? 'is a process option: put it at the top level'
                : 'unknown option',
              ['listeners', i, given],
            );
          } else if (!badValue(field, v)) {
            kept[k] = v;
          }
        }
        return kept;
      });
    } else if (key === 'log' && isRecord(value)) {
      for (const [k, v] of Object.entries(value)) {
        if (k !== 'format' && k !== 'level')
          bad(`log.${k}`, 'unknown option (format or level)', ['log', k]);
        else if (!badValue(`log.${k}`, v)) proc[`log-${k}`] = v;
      }
    } else if (PROCESS_FLAGS.has(key)) {
      if (!badValue(key, value)) proc[key] = value;
    } else {
      bad(
        key,
        LISTENER_FLAGS.has(key)
          ? 'is a listener option: put it under `listeners:`'
          : 'unknown option',
        [key],
      );
    }
  }
  return { path, process: proc, listeners, problems, locate };
}

/** `listeners[1].backends` → ['listeners', 1, 'backends']; `log-format` may be `log: {format}`. */
function candidatePaths(field: string): Segment[][] {
  const segments: Segment[] = [];
  for (const part of field.split('.')) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (m === null) return [];
    if (m[1] !== '') segments.push(m[1] ?? '');
    for (const idx of (m[2] ?? '').matchAll(/\[(\d+)\]/g)) segments.push(Number(idx[1]));
  }
  const log = /^log-(format|level)$/.exec(field);
  return log === null ? [segments] : [segments, ['log', log[1] ?? '']];
}

function valueOffset(doc: Document, segments: Segment[]): number | undefined {
  const node = doc.getIn(segments, true) as Node | undefined;
  return node?.range?.[0] ?? undefined;
}

function keyOffset(doc: Document, segments: Segment[]): number | undefined {
  const parent =
    doc.getIn(segments.slice(0, -1), true) ?? (segments.length === 1 ? doc.contents : undefined);
  const last = segments[segments.length - 1];
  if (!isMap(parent)) return undefined;
  for (const pair of parent.items) {
    if (isPair(pair) && isScalar(pair.key) && pair.key.value === last)
      return pair.key.range?.[0] ?? undefined;
  }
  return undefined;
}

function isValue(value: unknown): boolean {
  const scalar = (v: unknown): boolean =>
    typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  // null (`key:` or `key: ~`) leaves the option unset, as if the key were absent.
  return value === null || scalar(value) || (Array.isArray(value) && value.every(scalar));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Short file keys for listener options (`v6only`, as NGINX and HAProxy spell it). */
const LISTENER_ALIASES: Readonly<Record<string, string>> = { v6only: 'listen-v6only' };
