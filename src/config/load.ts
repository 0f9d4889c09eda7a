import { readConfigFile } from './config-file.ts';
import { resolveProxyConfig, type ProxyConfig } from './resolve.ts';
import { envName } from './schema.ts';

/**
 * The whole configuration from flags, environment and (when `--config` or
 * `HEADWAY_CONFIG` names one) the config file. Throws ConfigError.
 */
export function loadProxyConfig(
  argv: Readonly<Record<string, unknown>>,
  env: Readonly<Record<string, string | undefined>>,
): ProxyConfig {
  const fromArgv = argv.config;
  const path = typeof fromArgv === 'string' ? fromArgv : env[envName('config')];
  const file = path !== undefined && path !== '' ? readConfigFile(path) : undefined;
  return resolveProxyConfig({ argv, env, file });
}
