import { describe, expect, it } from 'vitest';
import { ConfigError } from '../core/errors.ts';
import {
  parseAll,
  resolveProxyConfig,
  type ProxyConfig,
  type RawOptionSources,
} from './resolve.ts';
import { allOptions, envName, listenerOptions, processOptions } from './schema.ts';
import { STRATEGY_NAMES } from './strategy-names.ts';

const BACKENDS = 'static://10.0.0.1:6379,10.0.0.2:6379';

function resolve(
  argv: Record<string, unknown>,
  env: Record<string, string | undefined> = {},
): ProxyConfig {
  return resolveProxyConfig({ argv, env });
}

function listener(config: ProxyConfig) {
  const l = config.listeners[0];
  if (l === undefined) throw new Error('no listener');
  return l;
}

/** The ConfigError thrown for these sources (fails the test if none is). */
function configError(sources: RawOptionSources): ConfigError {
  try {
    resolveProxyConfig(sources);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('envName', () => {
  it('is HEADWAY_ plus the flag in upper snake case', () => {
    expect(envName('connect-timeout')).toBe('HEADWAY_CONNECT_TIMEOUT');
    expect(envName('ready-requires-backends')).toBe('HEADWAY_READY_REQUIRES_BACKENDS');
    expect(envName('listen')).toBe('HEADWAY_LISTEN');
  });
});

describe('resolveProxyConfig', () => {
  it('fills every option with its default', () => {
    const config = resolve({ backends: BACKENDS });
    for (const [key, spec] of Object.entries(processOptions)) {
      expect(config.process[key as keyof typeof config.process], key).toEqual(spec.default);
    }
    expect(config.listeners).toHaveLength(1);
    const l = listener(config);
    for (const [key, spec] of Object.entries(listenerOptions)) {
      if (key === 'backends') continue;
      expect(l[key as keyof typeof l], key).toEqual(spec.default);
    }
    expect(l.backends).toEqual({
      scheme: 'static',
      uri: BACKENDS,
      backends: [
        { host: '10.0.0.1', port: 6379, weight: 1 },
        { host: '10.0.0.2', port: 6379, weight: 1 },
      ],
    });
    // Spot-check the documented defaults.
    expect(config.process).toMatchObject({
      admin: { host: '::', port: 9901 },
      drainTimeout: 30_000,
    });
    expect(l).toMatchObject({ strategy: 'least-conn', connectTimeout: 5000, connectRetries: 2 });
  });

  it('reads HEADWAY_<FLAG> environment variables', () => {
    const config = resolve(
      {},
      {
        HEADWAY_BACKENDS: BACKENDS,
        HEADWAY_CONNECT_TIMEOUT: '2s',
        HEADWAY_CONNECT_RETRIES: '0',
        HEADWAY_STRATEGY: 'round-robin',
        HEADWAY_NAME: 'redis',
        HEADWAY_ADMIN: 'off',
        HEADWAY_LOG_LEVEL: 'debug',
        HEADWAY_MAX_CONNECTIONS: 'unlimited',
        HEADWAY_READY_REQUIRES_BACKENDS: 'true',
        HEADWAY_BACKEND_DRAIN_TIMEOUT: '30s',
      },
    );
    expect(listener(config)).toMatchObject({
      name: 'redis',
      strategy: 'round-robin',
      connectTimeout: 2000,
      connectRetries: 0,
      backendDrainTimeout: 30_000,
    });
    expect(config.process).toMatchObject({
      admin: null,
      logLevel: 'debug',
      maxConnections: 0,
      readyRequiresBackends: true,
    });
  });

  it('lets flags win over the environment', () => {
    const config = resolve(
      {
        backends: 'static://10.9.9.9:1',
        'connect-timeout': '250ms',
        'ready-requires-backends': false,
      },
      {
        HEADWAY_BACKENDS: BACKENDS,
        HEADWAY_CONNECT_TIMEOUT: '2s',
        HEADWAY_READY_REQUIRES_BACKENDS: 'true',
      },
    );
    expect(listener(config).connectTimeout).toBe(250);
    expect(listener(config).backends?.uri).toBe('static://10.9.9.9:1');
    expect(config.process.readyRequiresBackends).toBe(false);
  });

  it('does not look at a bad environment value when the flag is given', () => {
    const config = resolve(
      { backends: BACKENDS, 'connect-timeout': '1s' },
      { HEADWAY_CONNECT_TIMEOUT: 'abc' },
    );
    expect(listener(config).connectTimeout).toBe(1000);
  });

  it('treats an empty environment variable as unset', () => {
    const config = resolve({ backends: BACKENDS }, { HEADWAY_CONNECT_TIMEOUT: '' });
    expect(listener(config).connectTimeout).toBe(5000);
  });

  it('concatenates a repeated --listen', () => {
    const config = resolve({ backends: BACKENDS, listen: ['127.0.0.1:8080', '[::1]:8081'] });
    expect(listener(config).listen).toEqual([
      { host: '127.0.0.1', port: 8080 },
      { host: '::1', port: 8081 },
    ]);
    expect(listener(resolve({ backends: BACKENDS, listen: ':7000' })).listen).toEqual([
      { host: '::', port: 7000 },
    ]);
  });

  it('splits HEADWAY_LISTEN on commas, skipping empty items', () => {
    const config = resolve(
      { backends: BACKENDS },
      { HEADWAY_LISTEN: '127.0.0.1:8080, [::1]:8081,,' },
    );
    expect(listener(config).listen).toEqual([
      { host: '127.0.0.1', port: 8080 },
      { host: '::1', port: 8081 },
    ]);
  });

  it('refuses a non-repeatable flag given twice instead of keeping the last', () => {
    expect(() => resolve({ backends: BACKENDS, 'connect-timeout': ['1s', '2s'] })).toThrow(
      '--connect-timeout: given more than once',
    );
  });

  it('merges --backends static lists given twice, refuses mixed sources', () => {
    const config = resolve({ backends: ['static://127.0.0.1:1', 'static://127.0.0.1:2=5'] });
    expect(listener(config).backends).toMatchObject({
      scheme: 'static',
      backends: [
        { host: '127.0.0.1', port: 1, weight: 1 },
        { host: '127.0.0.1', port: 2, weight: 5 },
      ],
    });
    expect(() => resolve({ backends: ['static://127.0.0.1:1', 'k8s://db'] })).toThrow(
      /--backends: a listener takes one discovery source/,
    );
  });

  it('accepts values yargs already turned into numbers or booleans', () => {
    const config = resolve({
      backends: BACKENDS,
      'connect-retries': 5,
      'max-connections': 100,
      'ready-requires-backends': true,
    });
    expect(listener(config).connectRetries).toBe(5);
    expect(config.process.maxConnections).toBe(100);
    expect(config.process.readyRequiresBackends).toBe(true);
  });

  it('names the flag when a flag value is bad', () => {
    const err = configError({ argv: { backends: BACKENDS, 'connect-timeout': '5' }, env: {} });
    expect(err.field).toBe('--connect-timeout');
    expect(err.code).toBe('HW_CONFIG_INVALID');
    expect(err.message).toBe('--connect-timeout: "5" is not a duration (e.g. 500ms, 5s, 1m, 1h)');
  });

  it('names the environment variable when an environment value is bad', () => {
    const err = configError({
      argv: { backends: BACKENDS },
      env: { HEADWAY_CONNECT_TIMEOUT: 'abc' },
    });
    expect(err.field).toBe('HEADWAY_CONNECT_TIMEOUT');
    expect(err.message).toBe(
      'HEADWAY_CONNECT_TIMEOUT: "abc" is not a duration (e.g. 500ms, 5s, 1m, 1h)',
    );
  });

  it('names the right source for a bad item of a repeatable option', () => {
    expect(
      configError({ argv: { backends: BACKENDS, listen: [':1', 'nope'] }, env: {} }),
    ).toMatchObject({
      field: '--listen',
      message: '--listen: "nope" has no port (expected HOST:PORT)',
    });
    expect(
      configError({ argv: { backends: BACKENDS }, env: { HEADWAY_LISTEN: ':1,:99999' } }),
    ).toMatchObject({
      field: 'HEADWAY_LISTEN',
      message: 'HEADWAY_LISTEN: port 99999 is out of range (0-65535)',
    });
  });

  // Free-text options (a path, a token, bytes to send or expect) have no bad value to try.
  const freeTextFlags = new Set(
    allOptions()
      .filter(([, o]) => o.freeText === true)
      .map(([, o]) => o.flag),
  );
  it.each(
    allOptions()
      .map(([, spec]) => spec.flag)
      .filter((f) => !freeTextFlags.has(f)),
  )('reports a bad --%s by flag and by variable name', (flag) => {
    const argv: Record<string, unknown> = { backends: BACKENDS, [flag]: '%bad%' };
    expect(configError({ argv, env: {} }).field).toBe(`--${flag}`);
    const env = { HEADWAY_BACKENDS: BACKENDS, [envName(flag)]: '%bad%' };
    expect(configError({ argv: {}, env }).field).toBe(envName(flag));
  });

  it('requires --backends', () => {
    const err = configError({ argv: { listen: ':8080' }, env: {} });
    expect(err.field).toBe('--backends');
    expect(err.message).toBe('--backends: is required (e.g. --backends static://127.0.0.1:6379)');
  });

  it('refuses an unknown strategy, listing the valid ones', () => {
    const err = configError({ argv: { backends: BACKENDS, strategy: 'fastest' }, env: {} });
    expect(err.message).toBe(
      `--strategy: unknown value "fastest" (expected one of: ${STRATEGY_NAMES.join(', ')})`,
    );
  });

  it('names the scheme of an unsupported --backends URI', () => {
    const err = configError({ argv: { backends: 'dsn://x:1' }, env: {} });
    expect(err.message).toBe(
      '--backends: unknown scheme "dsn" (expected one of: static://, dns://, srv://, k8s://, sentinel://, k8s-routes://)',
    );
  });

  it('ignores Kubernetes service-link variables of a Service named "headway"', () => {
    const serviceLinks = {
      HEADWAY_PORT: 'tcp://10.0.0.1:8080',
      HEADWAY_SERVICE_HOST: '10.0.0.1',
      HEADWAY_SERVICE_PORT: '8080',
      HEADWAY_SERVICE_PORT_ADMIN: '9901',
      HEADWAY_PORT_8080_TCP: 'tcp://10.0.0.1:8080',
      HEADWAY_PORT_8080_TCP_ADDR: '10.0.0.1',
      HEADWAY_PORT_8080_TCP_PORT: '8080',
      HEADWAY_PORT_8080_TCP_PROTO: 'tcp',
      HEADWAY_PORT_9901_TCP: 'tcp://10.0.0.1:9901',
      HEADWAY_PORT_9901_TCP_ADDR: '10.0.0.1',
      HEADWAY_PORT_9901_TCP_PORT: '9901',
      HEADWAY_PORT_9901_TCP_PROTO: 'tcp',
    };
    expect(resolve({ backends: BACKENDS }, serviceLinks)).toEqual(resolve({ backends: BACKENDS }));
  });
});

describe('parseAll', () => {
  it('asks for a value when none was given to a non-repeatable option', () => {
    expect(() => parseAll(listenerOptions.connectTimeout, '--connect-timeout', [])).toThrow(
      new ConfigError('--connect-timeout', 'needs a value'),
    );
  });

  it('returns an empty list for a repeatable option given no values', () => {
    expect(parseAll(listenerOptions.listen, '--listen', [])).toEqual([]);
  });
});
