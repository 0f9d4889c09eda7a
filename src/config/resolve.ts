import { ConfigError, ConfigErrors, ValueError } from '../core/errors.ts';
import { checkSettingsProblem } from './health-check-problems.ts';
import {
  envName,
  listenerOptions,
  processOptions,
  type AnyOptionSpec,
  type ListenerSettings,
  type ProcessSettings,
} from './schema.ts';
import type { RawValue } from './values.ts';
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
  /**
   * With a Kubernetes source of listeners (--gateway, --ingress-nginx-tcp-services): the
   * listener options given without backends, which every listener it makes starts from.
   */
  readonly template?: ListenerSettings;
}

/** Whether listeners come from Kubernetes objects, so the flags need not name backends. */
export function hasListenerSource(p: ProcessSettings): boolean {
  return p.gateway !== null || p.ingressNginxTcpServices !== null;
}

/**
 * Build the proxy configuration: defaults < config file < environment <
 * flags. With several listeners in the file, flags and environment still
 * override every listener's options, except the ones that identify a
 * listener (name, listen, backends), which must then come from the file.
 * Throws `ConfigError` naming the flag, variable or file path at fault.
 */
export function resolveProxyConfig(sources: RawOptionSources): ProxyConfig {
  // Every error is collected, not just the first: a config file is checked whole (as `haproxy -c`
  // and `nginx -t` do). A rule between options runs only on a group whose values all parsed.
  const errors = new Errors();
  const file = sources.file;
  const processSettings = resolveGroup(
    processOptions,
    sources,
    file === undefined ? undefined : { values: file.process, prefix: '' },
    errors,
  ) as ProcessSettings | undefined;
  const fileListeners = file?.listeners ?? [];
  if (fileListeners.length <= 1) {
    const layer =
      fileListeners[0] === undefined
        ? undefined
        : { values: fileListeners[0], prefix: 'listeners[0].' };
    const listener = resolveGroup(listenerOptions, sources, layer, errors) as
      ListenerSettings | undefined;
    if (listener !== undefined) {
      errors.attempt(() => checkListener(listener, layer === undefined ? '--' : 'listeners[0].'));
      const sourced = processSettings !== undefined && hasListenerSource(processSettings);
      if (listener.backends === null && !sourced) {
        errors.add(
          new ConfigError(
            layer === undefined ? '--backends' : 'listeners[0].backends',
            'is required (e.g. --backends static://127.0.0.1:6379)',
          ),
        );
      }
    }
    if (listener !== undefined && processSettings !== undefined) {
      errors.attempt(() =>
        checkListenOverlaps([listener], processSettings.admin, () =>
          layer === undefined ? '--listen' : 'listeners[0].listen',
        ),
      );
    }
    errors.throwIfAny();
    const only = listener as ListenerSettings;
    const proc = processSettings as ProcessSettings;
    if (!hasListenerSource(proc)) return { process: proc, listeners: [only] };
    // Served as a listener only when it names backends; either way the template of the sourced ones.
    return {
      process: proc,
      listeners: only.backends === null ? [] : [only],
      template: only,
    };
  }
  for (const flag of PER_LISTENER_IDENTITY) {
    if (sources.argv[flag] !== undefined) {
      errors.add(
        new ConfigError(
          `--${flag}`,
          `cannot be given for ${fileListeners.length} listeners of the config file; set it in the file`,
        ),
      );
    }
    const env = sources.env[envName(flag)];
    if (env !== undefined && env !== '') {
      errors.add(
        new ConfigError(
          envName(flag),
          `cannot be given for ${fileListeners.length} listeners of the config file; set it in the file`,
        ),
      );
    }
  }
  const names = new Set<string>();
  const listeners = fileListeners.map((values, i) => {
    const prefix = `listeners[${i}].`;
    const l = resolveGroup(
      listenerOptions,
      sources,
      { values: { name: `listener-${i}`, ...values }, prefix },
      errors,
    ) as ListenerSettings | undefined;
    if (l === undefined) return undefined;
    if (l.backends === null) errors.add(new ConfigError(`${prefix}backends`, 'is required'));
    errors.attempt(() => checkListener(l, prefix));
    if (names.has(l.name))
      errors.add(new ConfigError(`${prefix}name`, `"${l.name}" is used by another listener`));
    names.add(l.name);
    return l;
  });
  const complete = listeners.filter((l) => l !== undefined);
  if (complete.length === listeners.length && processSettings !== undefined) {
    errors.attempt(() =>
      checkListenOverlaps(complete, processSettings.admin, (i) => `listeners[${i}].listen`),
    );
  }
  errors.throwIfAny();
  return {
    process: processSettings as ProcessSettings,
    listeners: listeners as ListenerSettings[],
  };
}

/** Errors gathered while resolving; one flag's error shared by every listener is kept once. */
class Errors {
  readonly #list: ConfigError[] = [];
  readonly #seen = new Set<string>();

  add(err: ConfigError): void {
    for (const e of ConfigErrors.flatten(err)) {
      if (this.#seen.has(e.message)) continue;
      this.#seen.add(e.message);
      this.#list.push(e);
    }
  }

  /** Run `fn`, keeping a ConfigError it throws; undefined then. */
  attempt<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.add(err);
      return undefined;
    }
  }

  throwIfAny(): void {
    const [first, ...rest] = this.#list;
    if (first !== undefined) throw ConfigErrors.of([first, ...rest]);
  }
}

/** Rules between options of one listener. */
function checkListener(l: ListenerSettings, prefix: string): void {
  checkProxyTrust(l, prefix);
  if (l.routeBy === 'sni' && l.sniPattern === null) {
    throw new ConfigError(
      `${prefix}sni-pattern`,
      'is required with route-by sni (e.g. "{hostname}.db.example.com")',
    );
  }
  const checks = checkSettingsProblem(l);
  if (checks !== null) throw new ConfigError(`${prefix}${checks.field}`, checks.problem);
}

/** Every option of a group; undefined when one of them was bad (its error is in `errors`). */
function resolveGroup(
  specs: Readonly<Record<string, AnyOptionSpec>>,
  sources: RawOptionSources,
  file: FileLayer | undefined,
  errors: Errors,
): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  let ok = true;
  for (const [key, spec] of Object.entries(specs)) {
    errors.attempt(() => {
      out[key] = resolveOne(spec, sources, file);
    });
    if (!(key in out)) ok = false;
  }
  return ok ? out : undefined;
}

function resolveOne(
  spec: AnyOptionSpec,
  sources: RawOptionSources,
  file: FileLayer | undefined,
): unknown {
  const fromArgv = sources.argv[spec.flag];
  if (fromArgv !== undefined) {
    // yargs gathers a repeated flag into an array: refuse it rather than keep only the last.
    if (Array.isArray(fromArgv) && fromArgv.length > 1 && !takesSeveral(spec))
      throw new ConfigError(`--${spec.flag}`, 'given more than once (it takes one value)');
    return parseAll(spec, `--${spec.flag}`, toRawList(fromArgv));
  }
  const env = envName(spec.flag);
  const fromEnv = sources.env[env];
  if (fromEnv !== undefined && fromEnv !== '') {
    const items = spec.repeatable ? fromEnv.split(',').filter((s) => s.trim() !== '') : [fromEnv];
    return parseAll(spec, env, items);
  }
  const fromFile = file?.values[spec.flag];
  if (fromFile !== undefined && fromFile !== null) {
    const field = `${file?.prefix ?? ''}${spec.flag}`;
    if (Array.isArray(fromFile) && fromFile.length > 1 && !takesSeveral(spec))
      throw new ConfigError(field, 'takes one value, not a list');
    return parseAll(spec, field, toRawList(fromFile));
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

/** Whether an option may be given more than once (and a list in the file). */
export function takesSeveral(spec: AnyOptionSpec): boolean {
  return spec.repeatable === true || spec.combine !== undefined;
}

/**
 * Parse one or more raw values: repeatable options concatenate, combinable ones combine, and
 * others take exactly one (callers refuse several before this; never keep only the last).
 */
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
  const combine = spec.combine as ((values: readonly unknown[]) => unknown) | undefined;
  if (combine !== undefined && items.length > 1) {
    const parsed = items.map(parseItem);
    try {
      return combine(parsed);
    } catch (err) {
      if (err instanceof ValueError) throw new ConfigError(field, err.message);
      throw err;
    }
  }
  if (items.length > 1) throw new ConfigError(field, 'takes one value, not a list');
  const only = items[0];
  if (only === undefined) throw new ConfigError(field, 'needs a value');
  return parseItem(only);
}

/**
 * With `--accept-proxy-protocol` the client address comes from a header the peer writes itself.
 * Access rules and per-client limits keyed on it are only as good as the peers allowed to write
 * it: with every peer trusted, a client names any address it likes and walks past them. So those
 * rules need `--proxy-protocol-from` (HAProxy's `accept-proxy` is likewise meant for a `bind` that
 * only load balancers reach; NGINX's `set_real_ip_from` names them).
 */
function checkProxyTrust(l: ListenerSettings, prefix: string): void {
  if (!l.acceptProxyProtocol || l.proxyProtocolFrom.length > 0) return;
  const rules = [
    l.allow.length > 0 ? `${prefix}allow` : undefined,
    l.deny.length > 0 ? `${prefix}deny` : undefined,
    l.maxConnectionsPerClient > 0 ? `${prefix}max-connections-per-client` : undefined,
  ].filter((r) => r !== undefined);
  if (rules.length === 0) return;
  throw new ConfigError(
    `${prefix}accept-proxy-protocol`,
    `with ${rules.join(', ')} needs ${prefix}proxy-protocol-from: without it every peer may send a PROXY header, so any client can forge its address and bypass ${rules.length === 1 ? 'it' : 'them'}; set ${prefix}proxy-protocol-from to the load balancers' addresses (e.g. 10.0.0.0/8)`,
  );
}
