import { stringify } from 'yaml';
import { formatHostPort } from '../core/address.ts';
import { formatCidr, type Cidr } from '../core/cidr.ts';
import { formatDurationMs } from '../core/duration.ts';
import { formatCheckBytes, formatCheckExpect, type CheckExpect } from './check-string.ts';
import type { ProxyConfig } from './resolve.ts';
import { listenerOptions, processOptions, type AnyOptionSpec } from './schema.ts';

/** What a secret prints as: set or not is useful to know, its value never is. */
export const MASKED = '********';

/**
 * Options whose value is a secret. Marked in the schema (`secret`); the name rule is a safety net
 * for an option added without the mark.
 */
export function isSecret(spec: AnyOptionSpec): boolean {
  return spec.secret === true || /token|password|secret/.test(spec.flag);
}

/**
 * The effective configuration as a YAML config file (`check-config --print`, like `nginx -T`):
 * every option of the process and of each listener under its flag name, with the value it takes
 * after defaults, file, environment and flags, written the way a user would write it. Secrets are
 * masked. Feeding the output back as a config file gives the same configuration (secrets aside).
 */
export function printConfig(config: ProxyConfig): string {
  const doc: Record<string, unknown> = {
    ...renderGroup(processOptions, config.process),
    listeners: config.listeners.map((l) =>
      renderGroup(listenerOptions, l as unknown as Record<string, unknown>),
    ),
  };
  // The file is the config: a nested `config:` key naming itself says nothing.
  delete doc.config;
  return stringify(doc, { lineWidth: 0 });
}

function renderGroup(
  specs: Readonly<Record<string, AnyOptionSpec>>,
  values: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const value = values[key];
    if (isSecret(spec)) out[spec.flag] = value === null || value === undefined ? null : MASKED;
    else out[spec.flag] = render(spec, value);
  }
  return out;
}

function render(spec: AnyOptionSpec, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v: unknown) => render(spec, v));
  if (value === null || value === undefined) return null;
  if (typeof value === 'number')
    return isDuration(spec) ? (value === 0 ? '0s' : formatDurationMs(value)) : value;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (Buffer.isBuffer(value)) return formatCheckBytes(value);
  // Schema values are never functions, symbols or bigints.
  if (typeof value !== 'object') return null;
  if ('uri' in value && typeof value.uri === 'string') return value.uri;
  if ('host' in value && 'port' in value)
    return formatHostPort(String(value.host), Number(value.port));
  if ('prefixLength' in value) return formatCidr(value as Cidr);
  if ('kind' in value) return formatCheckExpect(value as CheckExpect);
  if ('key' in value && 'value' in value) return `${String(value.key)}=${String(value.value)}`;
  return JSON.stringify(value);
}

const durationCache = new WeakMap<AnyOptionSpec, boolean>();

/** A duration option is one whose parser reads `1s` as 1000 (ms). */
function isDuration(spec: AnyOptionSpec): boolean {
  let known = durationCache.get(spec);
  if (known === undefined) {
    try {
      known = spec.parse('1s') === 1000;
    } catch {
      known = false;
    }
    durationCache.set(spec, known);
  }
  return known;
}
