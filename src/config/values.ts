import { isIP } from 'node:net';
import { parseHostPort, type HostPort } from '../core/address.ts';
import { parseCidr, type Cidr } from '../core/cidr.ts';
import { parseSelector, type Selector } from './selector.ts';
import { parseDurationMs } from '../core/duration.ts';
import { ValueError } from '../core/errors.ts';

/**
 * Value parsers shared by flags, environment variables and the config file.
 * Each throws `ValueError` with a message that completes "FIELD: ..." so the
 * caller can name where the bad value came from.
 */

export type RawValue = string | number | boolean;

export function asText(raw: RawValue): string {
  return typeof raw === 'string' ? raw.trim() : String(raw);
}

/** The value as given, untrimmed: for options whose value is bytes (`--health-send`). */
export function asBytesText(raw: RawValue): string {
  return typeof raw === 'string' ? raw : String(raw);
}

export function duration(raw: RawValue): number {
  const text = asText(raw);
  const ms = parseDurationMs(text);
  if (ms === undefined)
    throw new ValueError(`"${text}" is not a duration (e.g. 500ms, 5s, 1m, 1h)`);
  return ms;
}

/** A duration no shorter than `minMs` (e.g. refresh floors that protect a DNS server). */
export function durationAtLeast(minMs: number): (raw: RawValue) => number {
  return (raw) => {
    const ms = duration(raw);
    if (ms < minMs) throw new ValueError(`${asText(raw)} is below the minimum of ${minMs}ms`);
    return ms;
  };
}

/** A duration where `0`, `off` or `none` turn the feature off (returned as 0). */
export function durationOrOff(raw: RawValue): number {
  const text = asText(raw);
  if (text === 'off' || text === 'none' || text === 'false') return 0;
  return duration(text);
}

export function integer(min: number, max: number): (raw: RawValue) => number {
  return (raw) => {
    const text = asText(raw);
    if (!/^-?\d+$/.test(text)) throw new ValueError(`"${text}" is not a whole number`);
    const n = Number(text);
    if (n < min || n > max) throw new ValueError(`${n} is out of range (${min}-${max})`);
    return n;
  };
}

/** A whole number where `0`, `off` or `unlimited` mean no limit (returned as 0). */
export function limit(raw: RawValue): number {
  const text = asText(raw);
  if (text === 'off' || text === 'unlimited' || text === 'none') return 0;
  return integer(0, 10_000_000)(text);
}

/** `--select KEY=VALUE`. */
export function selector(raw: RawValue): Selector {
  return parseSelector(asText(raw));
}

/** A number from 0 to 1. */
export function fraction(raw: RawValue): number {
  const text = asText(raw);
  if (!/^(0|1|0?\.\d+|1\.0*)$/.test(text))
    throw new ValueError(`"${text}" is not a number from 0 to 1`);
  return Number(text);
}

export function boolean(raw: RawValue): boolean {
  if (typeof raw === 'boolean') return raw;
  const text = asText(raw).toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(text)) return true;
  if (['false', '0', 'no', 'off'].includes(text)) return false;
  throw new ValueError(`"${text}" is not a boolean (true or false)`);
}

/** A parser that takes one of a fixed list of words, which it carries for `--help`. */
export type ChoiceParser<T extends string> = ((raw: RawValue) => T) & {
  readonly choices: readonly T[];
};

export function oneOf<const T extends string>(choices: readonly T[]): ChoiceParser<T> {
  const parse = (raw: RawValue): T => {
    const text = asText(raw);
    const found = choices.find((c) => c === text);
    if (found === undefined) {
      throw new ValueError(`unknown value "${text}" (expected one of: ${choices.join(', ')})`);
    }
    return found;
  };
  return Object.assign(parse, { choices });
}

/** The words a parser takes, when it is a `oneOf` (or `boolean`: on|off). */
export function choicesOf(parse: (raw: RawValue) => unknown): readonly string[] | undefined {
  if (parse === boolean) return ['on', 'off'];
  const choices = (parse as { choices?: unknown }).choices;
  return Array.isArray(choices) ? (choices as string[]) : undefined;
}

export function hostPort(raw: RawValue): HostPort {
  const text = asText(raw);
  // `--listen 6379`: the port alone, as NGINX's `listen 6379` takes it.
  if (/^\d+$/.test(text))
    throw new ValueError(`"${text}" has no host: did you mean :${text} (every address)?`);
  const parsed = parseHostPort(text);
  if (typeof parsed === 'string') throw new ValueError(parsed);
  return parsed;
}

/** `HOST[:PORT]` with a default port (DNS servers: 53). */
export function hostWithDefaultPort(defaultPort: number): (raw: RawValue) => HostPort {
  return (raw) => {
    const t = asText(raw);
    if (isIP(t) !== 0) return { host: t, port: defaultPort };
    if (!t.includes(':')) return hostPort(`${t}:${defaultPort}`);
    return hostPort(t);
  };
}

export function hostPortOrOff(raw: RawValue): HostPort | null {
  const text = asText(raw);
  return text === 'off' ? null : hostPort(text);
}

export function text(raw: RawValue): string {
  const t = asText(raw);
  if (t === '') throw new ValueError('must not be empty');
  return t;
}

/** A CIDR block (`10.0.0.0/8`, `2001:db8::/32`, or a bare address). */
export function cidr(raw: RawValue): Cidr {
  try {
    return parseCidr(asText(raw));
  } catch (err) {
    throw new ValueError(err instanceof Error ? err.message : String(err));
  }
}

/** A Kubernetes label value, e.g. a zone name (`eu-west-1a`). */
export function labelValue(raw: RawValue): string {
  const t = asText(raw);
  if (!/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(t)) {
    throw new ValueError(`"${t}" is not a valid zone name (a Kubernetes label value)`);
  }
  return t;
}

export function listenerName(raw: RawValue): string {
  const t = asText(raw);
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/.test(t)) {
    throw new ValueError(`"${t}" is not a valid name (letters, digits, "_", "-", "."; up to 63)`);
  }
  return t;
}

/** A Kubernetes object reference `NAMESPACE/NAME` (both DNS labels). */
export interface ObjectRef {
  readonly namespace: string;
  readonly name: string;
}

const K8S_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const K8S_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function objectRef(raw: RawValue): ObjectRef {
  const text = asText(raw).trim();
  const slash = text.indexOf('/');
  const namespace = text.slice(0, slash);
  const name = text.slice(slash + 1);
  if (slash < 0 || !K8S_LABEL.test(namespace) || !K8S_NAME.test(name)) {
    throw new ValueError(`"${text}" is not NAMESPACE/NAME (e.g. infra/headway)`);
  }
  return { namespace, name };
}

/** A Kubernetes object name (DNS subdomain). */
export function k8sName(raw: RawValue): string {
  const text = asText(raw).trim();
  if (!K8S_NAME.test(text)) throw new ValueError(`"${text}" is not a Kubernetes object name`);
  return text;
}
