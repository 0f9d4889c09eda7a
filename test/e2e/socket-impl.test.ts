import { afterEach, describe, expect, it } from 'vitest';
import {
  spawnHeadway,
  startProxy,
  type CommandWrapper,
  type RunningProxy,
} from '../helpers/headway-process.ts';
import { type Backend, connectTo, patternBytes, readAll, startEcho } from '../helpers/sockets.ts';
import { STALE_STREAM_STATE } from '../helpers/changed-binding.ts';

/**
 * `--socket-impl`, end to end. The self-test's refusal of a changed Node.js
 * is test/regressions/changed-node-internals-run-unchecked.test.ts; here,
 * that `net` runs where `raw` is refused.
 */

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

describe('--socket-impl net on a Node.js the raw path refuses', () => {
  it('relays intact: the self-test is not run and no internal is used', async () => {
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
