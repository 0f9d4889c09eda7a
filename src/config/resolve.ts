import { ConfigError } from '../core/errors.ts';
import {
  envName,
  listenerOptions,
  processOptions,
  type AnyOptionSpec,
  type ListenerSettings,
  type ProcessSettings,
} from './schema.ts';
import { ValueError, type RawValue } from './values.ts';
import { checkListenOverlaps } from './listen-addresses.ts';
import type { ConfigFile } from './config-file.ts';

/** Raw option values as they came in: yargs argv (kebab keys), the environment, a config file. */
export interface RawOptionSources {
  readonly argv: Readonly<Record<string, unknown>>;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly file?: ConfigFile | undefined;
}

/** Values from one place in the config file, and how to name them in errors. */
interface FileLayer {
  readonly values: Readonly<Record<string, unknown>>;
  readonly prefix: string;
}

/** Options that identify one listener: from flags only when the file has at most one listener. */
const PER_LISTENER_IDENTITY = new Set(['name', 'listen', 'backends']);

export interface ProxyConfig {
  readonly process: ProcessSettings;
  readonly listeners: readonly ListenerSettings[];
}

/**
 * Build the proxy configuration: defaults < config file < environment <
 * flags. With several listeners in the file, flags and environment still
 * override every listener's options, except the ones that identify a
 * listener (name, listen, backends), which must then come from the file.
 * Throws `ConfigError` naming the flag, variable or file path at fault.
 */
export function resolveProxyConfig(sources: RawOptionSources): ProxyConfig {
  const file = sources.file;
  const processSettings = resolveGroup(
    processOptions,
    sources,
    file === undefined ? undefined : { values: file.process, prefix: '' },
  ) as ProcessSettings;
  const fileListeners = file?.listeners ?? [];
  if (fileListeners.length <= 1) {
    const layer =
      fileListeners[0] === undefined
        ? undefined
        : { values: fileListeners[0], prefix: 'listeners[0].' };
    const listener = resolveGroup(listenerOptions, sources, layer) as ListenerSettings;
    checkListener(listener, layer === undefined ? '--' : 'listeners[0].');
    if (listener.backends === null) {
      throw new ConfigError(
        layer === undefined ? '--backends' : 'listeners[0].backends',
        'is required (e.g. --backends static://127.0.0.1:6379)',
      );
    }
    checkListenOverlaps([listener], processSettings.admin, () =>
      layer === undefined ? '--listen' : 'listeners[0].listen',
    );
    return checkWorkers({ process: processSettings, listeners: [listener] });
  }
  for (const flag of PER_LISTENER_IDENTITY) {
    if (sources.argv[flag] !== undefined) {
      throw new ConfigError(
        `--${flag}`,
        `cannot be given for ${fileListeners.length} listeners of the config file; set it in the file`,
      );
    }
    const env = sources.env[envName(flag)];
    if (env !== undefined && env !== '') {
      throw new ConfigError(
        envName(flag),
        `cannot be given for ${fileListeners.length} listeners of the config file; set it in the file`,
      );
    }
  }
  const names = new Set<string>();
  const listeners = fileListeners.map((values, i) => {
    const prefix = `listeners[${i}].`;
    const l = resolveGroup(listenerOptions, sources, {
      values: { name: `listener-${i}`, ...values },
      prefix,
    }) as ListenerSettings;
    if (l.backends === null) throw new ConfigError(`${prefix}backends`, 'is required');
    checkListener(l, prefix);
    if (names.has(l.name))
      throw new ConfigError(`${prefix}name`, `"${l.name}" is used by another listener`);
    names.add(l.name);
    return l;
  });
  checkListenOverlaps(listeners, processSettings.admin, (i) => `listeners[${i}].listen`);
  return checkWorkers({ process: processSettings, listeners });
}

/** Rules between `--workers` and listener options. */
function checkWorkers(config: ProxyConfig): ProxyConfig {
  if (config.process.workers === 0) return config;
  const perPod = config.listeners.find((l) => l.perPodPorts > 0);
  if (perPod !== undefined) {
    throw new ConfigError(
      '--workers',
      `cannot be combined with per-pod-ports (listener "${perPod.name}") yet; use --workers 0`,
    );
  }
  return config;
}

/** Rules between options of one listener. */
function checkListener(l: ListenerSettings, prefix: string): void {
  if (l.routeBy === 'sni' && l.sniPattern === null) {
    throw new ConfigError(
      `${prefix}sni-pattern`,
      'is required with route-by sni (e.g. "{hostname}.db.example.com")',
    );
  }
}

function resolveGroup(
  specs: Readonly<Record<string, AnyOptionSpec>>,
  sources: RawOptionSources,
  file: FileLayer | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    out[key] = resolveOne(spec, sources, file);
  }
  return out;
}

function resolveOne(
  spec: AnyOptionSpec,
  sources: RawOptionSources,
  file: FileLayer | undefined,
): unknown {
  const fromArgv = sources.argv[spec.flag];
  if (fromArgv !== undefined) return parseAll(spec, `--${spec.flag}`, toRawList(fromArgv));
  const env = envName(spec.flag);
  const fromEnv = sources.env[env];
  if (fromEnv !== undefined && fromEnv !== '') {
    const items = spec.repeatable ? fromEnv.split(',').filter((s) => s.trim() !== '') : [fromEnv];
    return parseAll(spec, env, items);
  }
  const fromFile = file?.values[spec.flag];
  if (fromFile !== undefined && fromFile !== null) {
    return parseAll(spec, `${file?.prefix ?? ''}${spec.flag}`, toRawList(fromFile));
  }
  return spec.default;
}

function toRawList(value: unknown): RawValue[] {
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  return list.map((item) => {
    if (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean')
      return item;
    return String(item);
  });
}

/** Parse one or more raw values; repeatable options concatenate, others take the last given. */
export function parseAll(spec: AnyOptionSpec, field: string, items: readonly RawValue[]): unknown {
  const parseItem = (raw: RawValue): unknown => {
    try {
      return spec.parse(raw);
    } catch (err) {
      if (err instanceof ValueError) throw new ConfigError(field, err.message);
      throw err;
    }
  };
  if (spec.repeatable) return items.flatMap((raw) => parseItem(raw) as unknown[]);
  const last = items[items.length - 1];
  if (last === undefined) throw new ConfigError(field, 'needs a value');
  return parseItem(last);
}
