import { afterEach, describe, expect, it } from 'vitest';
import {
  spawnHeadway,
  startProxy,
  type CommandWrapper,
  type RunningProxy,
} from '../helpers/headway-process.ts';
import { type Backend, connectTo, patternBytes, readAll, startEcho } from '../helpers/sockets.ts';

/**
 * `--socket-impl` and the start-up self-test of the raw data path, end to
 * end. A Node.js whose internals moved is simulated without any test hook
 * in Headway: a preload module (`node --import`) wraps `process.binding`
 * the way a changed Node.js would answer, so the CLI meets it exactly as it
 * would meet a real change.
 */

/** Preload source: `process.binding(name)` answers with `change` applied to the real binding. */
function changedBinding(name: string, change: string): CommandWrapper {
  const source =
    `const real = process.binding.bind(process);` +
    `process.binding = (n) => { const b = real(n); if (n !== ${JSON.stringify(name)}) return b;` +
    ` const c = { ...b }; ${change}; return c; };`;
  const preload = `data:text/javascript,${encodeURIComponent(source)}`;
  return (argv) => [argv[0] ?? process.execPath, '--import', preload, ...argv.slice(1)];
}

const WITHOUT_WRITE_BUFFER = changedBinding(
  'tcp_wrap',
  `c.TCP = class extends b.TCP {}; Object.defineProperty(c.TCP.prototype, 'writeBuffer', { value: undefined })`,
);
/** Reads leave their byte count somewhere else: the array Headway reads is never written. */
const STALE_STREAM_STATE = changedBinding(
  'stream_wrap',
  `c.streamBaseState = new Int32Array(b.streamBaseState.length)`,
);

let proxy: RunningProxy | undefined;
let echo: Backend | undefined;
afterEach(async () => {
  await proxy?.stop();
  proxy = undefined;
  await echo?.close();
  echo = undefined;
});

async function exitOf(args: readonly string[], wrap: CommandWrapper) {
  const p = spawnHeadway(args, {}, wrap);
  const timer = setTimeout(() => p.proc.kill('SIGKILL'), 30_000);
  const { code } = await p.exited;
  clearTimeout(timer);
  return { code, stderr: p.stderr(), logs: p.logs };
}

const RUN = ['--listen', '127.0.0.1:0', '--admin', 'off', '--backends', 'static://127.0.0.1:9'];

describe('the raw data path’s start-up self-test', () => {
  it('exits 2 with one clear line when a binding method is gone, before anything binds', async () => {
    const r = await exitOf(RUN, WITHOUT_WRITE_BUFFER);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'headway: this Node.js version changed an internal Headway relies on (tcp_wrap.TCP.prototype.writeBuffer is undefined, not a function); run with --socket-impl net\n',
    );
    expect(r.logs.some((l) => l.msg === 'listener started')).toBe(false);
  });

  it('exits 2 naming the read path when streamBaseState no longer tells the reads', async () => {
    const r = await exitOf(RUN, STALE_STREAM_STATE);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^headway: this Node\.js version changed an internal Headway relies on \(loopback self-test: no progress within \d+ ms at read back; .*streamBaseState\[kReadBytesOrError\]\)\); run with --socket-impl net\n$/,
    );
  });

  it('is not run with --socket-impl net, which relays on the same Node.js without internals', async () => {
    echo = await startEcho();
    proxy = await startProxy(
      ['--socket-impl', 'net', '--backends', `static://${echo.address}`],
      {},
      STALE_STREAM_STATE,
    );
    expect(proxy.logs.find((l) => l.msg === 'headway starting')?.socketImpl).toBe('net');
    const sent = patternBytes(512 * 1024);
    const client = await connectTo(proxy.port);
    const got = readAll(client);
    client.end(sent);
    expect((await got).equals(sent)).toBe(true);
  });
});

describe('--socket-impl', () => {
  it('defaults to raw (or what HEADWAY_TEST_SOCKET_IMPL asks of this run) and says so at start', async () => {
    echo = await startEcho();
    proxy = await startProxy(['--backends', `static://${echo.address}`]);
    const expected = process.env.HEADWAY_TEST_SOCKET_IMPL ?? 'raw';
    expect(proxy.logs.find((l) => l.msg === 'headway starting')?.socketImpl).toBe(expected);
    const client = await connectTo(proxy.port);
    const got = readAll(client);
    client.end('hello');
    expect((await got).toString()).toBe('hello');
  });

  it('refuses an unknown implementation as bad input', async () => {
    const r = await exitOf([...RUN, '--socket-impl', 'uring'], (argv) => argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--socket-impl');
  });
});
