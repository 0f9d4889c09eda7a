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

/** Raw option values as they came in: yargs argv (kebab keys) and the environment. */
export interface RawOptionSources {
  readonly argv: Readonly<Record<string, unknown>>;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface ProxyConfig {
  readonly process: ProcessSettings;
  readonly listeners: readonly ListenerSettings[];
}

/**
 * Build the proxy configuration from flags and environment (flags win).
 * Throws `ConfigError` naming the flag or variable at fault.
 */
export function resolveProxyConfig(sources: RawOptionSources): ProxyConfig {
  const processSettings = resolveGroup(processOptions, sources) as ProcessSettings;
  const listener = resolveGroup(listenerOptions, sources) as ListenerSettings;
  if (listener.backends === null) {
    throw new ConfigError('--backends', 'is required (e.g. --backends static://127.0.0.1:6379)');
  }
  return { process: processSettings, listeners: [listener] };
}

function resolveGroup(
  specs: Readonly<Record<string, AnyOptionSpec>>,
  sources: RawOptionSources,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    out[key] = resolveOne(spec, sources);
  }
  return out;
}

function resolveOne(spec: AnyOptionSpec, sources: RawOptionSources): unknown {
  const fromArgv = sources.argv[spec.flag];
  if (fromArgv !== undefined) return parseAll(spec, `--${spec.flag}`, toRawList(fromArgv));
  const env = envName(spec.flag);
  const fromEnv = sources.env[env];
  if (fromEnv !== undefined && fromEnv !== '') {
    const items = spec.repeatable ? fromEnv.split(',').filter((s) => s.trim() !== '') : [fromEnv];
    return parseAll(spec, env, items);
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
