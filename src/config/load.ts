import { ConfigError, ConfigErrors, InternalError } from '../core/errors.ts';
import { readConfigFile, type ConfigFile } from './config-file.ts';
import { resolveProxyConfig, type ProxyConfig } from './resolve.ts';
import { envName } from './schema.ts';

/**
 * The whole configuration from flags, environment and (when `--config` or
 * `HEADWAY_CONFIG` names one) the config file. Throws ConfigError; with
 * several problems a ConfigErrors holding every one, those in the file with
 * their FILE:LINE:COLUMN, in file order after the flags' and environment's.
 */
export function loadProxyConfig(
  argv: Readonly<Record<string, unknown>>,
  env: Readonly<Record<string, string | undefined>>,
): ProxyConfig {
  const fromArgv = argv.config;
  const path = typeof fromArgv === 'string' ? fromArgv : env[envName('config')];
  const file = path !== undefined && path !== '' ? readConfigFile(path) : undefined;
  const errors: ConfigError[] = [...(file?.problems ?? [])];
  try {
    const config = resolveProxyConfig({ argv, env, file });
    if (errors.length === 0) return config;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    errors.push(...ConfigErrors.flatten(err).map((e) => located(e, file)));
  }
  const [first, ...rest] = errors.sort(byPlace);
  if (first === undefined) throw new InternalError('unreachable: no config errors');
  throw ConfigErrors.of([first, ...rest]);
}

/** The error with its place in the file, when its field came from there. */
function located(err: ConfigError, file: ConfigFile | undefined): ConfigError {
  if (err.location !== undefined || file === undefined) return err;
  if (err.field.startsWith('--') || err.field.startsWith('HEADWAY_')) return err;
  // A missing option has no place of its own: point at what should hold it (`listeners[0]`).
  let field = err.field;
  let location = file.locate(field);
  while (location === undefined && /[.[]/.test(field)) {
    field = field.replace(/(\.[^.[\]]*|\[\d+\])$/, '');
    location = file.locate(field);
  }
  return location === undefined
    ? err
    : new ConfigError(err.field, err.problem, { cause: err.cause, location });
}

/** Flags and environment first (no location), then by line and column. */
function byPlace(a: ConfigError, b: ConfigError): number {
  const la = a.location;
  const lb = b.location;
  if (la === undefined || lb === undefined)
    return (la === undefined ? 0 : 1) - (lb === undefined ? 0 : 1);
  return la.line - lb.line || la.column - lb.column;
}
