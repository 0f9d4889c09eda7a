import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allOptions, envName } from '../src/config/schema.ts';
import { runHeadway, startProxy } from './helpers/headway-process.ts';
import { connectTo, readAll, startEcho, type Backend } from './helpers/sockets.ts';

/** A backend address that is never contacted: these runs fail before connecting anywhere. */
const BACKENDS = 'static://127.0.0.1:9';
/** Flags that keep a run that gets past parsing from binding anything well known. */
const SAFE = ['--listen', '127.0.0.1:0', '--admin', 'off'];

interface BadInput {
  readonly what: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** The whole stderr line, after "headway: ". */
  readonly line: RegExp;
}

const badInputs: readonly BadInput[] = [
  {
    what: 'bad address',
    args: ['--listen', 'nope', '--backends', BACKENDS],
    line: /^--listen: "nope" has no port \(expected HOST:PORT\)$/,
  },
  {
    what: 'bad port',
    args: ['--listen', '127.0.0.1:70000', '--backends', BACKENDS],
    line: /^--listen: port 70000 is out of range \(0-65535\)$/,
  },
  {
    what: 'unbracketed IPv6 address',
    args: ['--listen', '::1:8080', '--backends', BACKENDS],
    line: /^--listen: "::1:8080": put IPv6 addresses in brackets, e\.g\. \[::1\]:8080$/,
  },
  {
    what: 'bare number as a duration',
    args: [...SAFE, '--connect-timeout', '5', '--backends', BACKENDS],
    line: /^--connect-timeout: "5" is not a duration \(e\.g\. 500ms, 5s, 1m, 1h\)$/,
  },
  {
    what: 'unknown duration unit',
    args: [...SAFE, '--idle-timeout', '5x', '--backends', BACKENDS],
    line: /^--idle-timeout: "5x" is not a duration/,
  },
  {
    what: 'negative integer',
    args: [...SAFE, '--connect-retries', '-1', '--backends', BACKENDS],
    line: /^--connect-retries: -1 is out of range \(0-100\)$/,
  },
  {
    what: 'unknown strategy',
    args: [...SAFE, '--strategy', 'fastest', '--backends', BACKENDS],
    line: /^--strategy: unknown value "fastest" \(expected one of: least-conn, round-robin, random, sticky, latency, primary\)$/,
  },
  {
    what: 'missing --backends',
    args: SAFE,
    line: /^--backends: is required \(e\.g\. --backends static:\/\/127\.0\.0\.1:6379\)$/,
  },
  {
    what: 'unknown --backends scheme',
    args: [...SAFE, '--backends', 'dsn://x:1'],
    line: /^--backends: unknown scheme "dsn" \(expected one of: static:\/\/, dns:\/\/, srv:\/\/, k8s:\/\/, sentinel:\/\/, k8s-routes:\/\/\)$/,
  },
  {
    what: 'bad --backends weight',
    args: [...SAFE, '--backends', 'static://127.0.0.1:1=5000'],
    line: /^--backends: weight "5000" of "127\.0\.0\.1:1" is not a whole number from 0 to 1000$/,
  },
  {
    what: 'bad environment value',
    args: [...SAFE, '--backends', BACKENDS],
    env: { HEADWAY_CONNECT_TIMEOUT: 'abc' },
    line: /^HEADWAY_CONNECT_TIMEOUT: "abc" is not a duration/,
  },
  {
    what: 'bad repeatable environment value',
    args: ['--admin', 'off', '--backends', BACKENDS],
    env: { HEADWAY_LISTEN: '127.0.0.1:0,nope' },
    line: /^HEADWAY_LISTEN: "nope" has no port/,
  },
  {
    what: 'missing --backends in the environment too',
    args: SAFE,
    env: { HEADWAY_STRATEGY: 'round-robin' },
    line: /^--backends: is required/,
  },
  {
    what: 'bad echo --delay',
    args: ['echo', '--listen', '127.0.0.1:0', '--delay', 'nope'],
    line: /^--delay: "nope" is not a duration/,
  },
  {
    what: 'bad echo --listen',
    args: ['echo', '--listen', '127.0.0.1:99999'],
    line: /^--listen: port 99999 is out of range \(0-65535\)$/,
  },
];

/**
 * Bad input that yargs rejects before the schema sees it. `src/cli/main.ts`
 * currently exits 1 for these: its `.fail()` handler treats the `err`
 * argument as set when it is `undefined` (unknown flags print
 * "headway: undefined") and prints the YError stack for a missing value.
 */
const badInputsYargsRejects: readonly BadInput[] = [
  {
    what: 'unknown flag',
    args: ['--bogus', '--backends', BACKENDS],
    line: /^unknown flag --bogus \(see headway --help\)$/,
  },
  {
    what: 'missing value at the end',
    args: ['--backends', BACKENDS, '--listen'],
    line: /^--listen: needs a value \(see headway --help\)$/,
  },
  {
    what: 'missing echo --delay value',
    args: ['echo', '--listen', '127.0.0.1:0', '--delay'],
    line: /^--delay: needs a value \(see headway --help\)$/,
  },
];

async function expectUsageError(input: BadInput): Promise<void> {
  const result = await runHeadway(input.args, input.env);
  const lines = result.stderr.split('\n').filter((l) => l !== '');
  expect(lines, `stderr: ${result.stderr}`).toHaveLength(1);
  expect(lines[0]).toMatch(/^headway: /);
  expect(lines[0]?.slice('headway: '.length)).toMatch(input.line);
  expect(result.code).toBe(2);
  expect(result.stdout).toBe('');
}

describe('headway CLI: bad input exits 2 with one line naming the flag', () => {
  it.concurrent.each(badInputs.map((c) => [c.what, c] as const))('%s', async (_what, input) => {
    await expectUsageError(input);
  });

  // Errors yargs itself rejects (unknown flag, missing value).
  it.each(badInputsYargsRejects.map((c) => [c.what, c] as const))('%s', async (_what, input) => {
    await expectUsageError(input);
  });
});

/** Exactly one stderr line, starting "headway: " + `start` (details may follow). */
function expectOneLine(stderr: string, start: string): void {
  const lines = stderr.split('\n').filter((l) => l !== '');
  expect(lines, `stderr: ${stderr}`).toHaveLength(1);
  expect(lines[0]?.startsWith(`headway: ${start}`), `stderr: ${stderr}`).toBe(true);
}

describe('headway CLI: runtime failures', () => {
  let occupied: Server;
  let port: number;

  beforeAll(async () => {
    occupied = createServer();
    occupied.listen({ host: '127.0.0.1', port: 0 });
    await once(occupied, 'listening');
    port = (occupied.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => occupied.close(() => resolve()));
  });

  it('exits 1 with a clear message when the listen port is in use', async () => {
    const result = await runHeadway([
      '--listen',
      `127.0.0.1:${port}`,
      '--admin',
      'off',
      '--backends',
      BACKENDS,
    ]);
    expectOneLine(result.stderr, `cannot listen on 127.0.0.1:${port}: address already in use`);
    expect(result.code).toBe(1);
  });

  it('exits 1 with a clear message when the admin port is in use', async () => {
    const result = await runHeadway([
      '--listen',
      '127.0.0.1:0',
      '--admin',
      `127.0.0.1:${port}`,
      '--backends',
      BACKENDS,
    ]);
    expectOneLine(
      result.stderr,
      `cannot listen on admin 127.0.0.1:${port}: address already in use`,
    );
    expect(result.code).toBe(1);
  });
});

describe('headway CLI: start-up', () => {
  let echo: Backend;

  beforeAll(async () => {
    echo = await startEcho();
  });

  afterAll(async () => {
    await echo.close();
  });

  it('starts and proxies with Kubernetes service-link variables for a Service named "headway"', async () => {
    const serviceLinks = {
      HEADWAY_PORT: 'tcp://10.96.0.5:8080',
      HEADWAY_SERVICE_HOST: '10.96.0.5',
      HEADWAY_SERVICE_PORT: '8080',
      HEADWAY_SERVICE_PORT_ADMIN: '9901',
      HEADWAY_PORT_8080_TCP: 'tcp://10.96.0.5:8080',
      HEADWAY_PORT_8080_TCP_ADDR: '10.96.0.5',
      HEADWAY_PORT_8080_TCP_PORT: '8080',
      HEADWAY_PORT_8080_TCP_PROTO: 'tcp',
    };
    const proxy = await startProxy(['--backends', `static://${echo.address}`], serviceLinks);
    try {
      const client = await connectTo(proxy.port, proxy.host);
      const reply = readAll(client);
      client.end('hello through headway');
      expect((await reply).toString()).toBe('hello through headway');
    } finally {
      const exit = await proxy.stop();
      expect(exit.code).toBe(0);
      expect(proxy.stderr()).toBe('');
    }
  });

  it('--help exits 0 and lists every flag with its environment variable', async () => {
    const result = await runHeadway(['--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    for (const [, spec] of allOptions()) {
      expect(result.stdout).toContain(`--${spec.flag}`);
      // yargs may wrap a line inside "[env: ...]", never inside the variable name.
      expect(result.stdout).toContain(envName(spec.flag));
    }
    for (const command of ['proxy', 'echo', 'demo']) {
      expect(result.stdout).toContain(`headway ${command}`);
    }
  });
});
