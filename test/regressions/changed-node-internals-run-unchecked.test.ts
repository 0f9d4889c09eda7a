/**
 * Defect (issue 18): the raw data path reaches into Node.js internals
 * (libuv bindings, the stream state slots, net.Server's handle) and nothing
 * checked them. On a Node.js that changed them, Headway started as usual
 * and relayed on them: a stale read count relays nothing (connections
 * hang), a wrong one relays garbage. Now a start-up self-test refuses such
 * a Node.js with exit 2 and one line naming the change, before binding.
 */
import { describe, expect, it } from 'vitest';
import { STALE_STREAM_STATE, WITHOUT_WRITE_BUFFER } from '../helpers/changed-binding.ts';
import { spawnHeadway, type CommandWrapper } from '../helpers/headway-process.ts';

async function exitOf(args: readonly string[], wrap: CommandWrapper) {
  const p = spawnHeadway(args, {}, wrap);
  const timer = setTimeout(() => p.proc.kill('SIGKILL'), 45_000);
  const { code } = await p.exited;
  clearTimeout(timer);
  return { code, stderr: p.stderr(), logs: p.logs };
}

const RUN = ['--listen', '127.0.0.1:0', '--admin', 'off', '--backends', 'static://127.0.0.1:9'];

describe('a Node.js whose internals changed', () => {
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
    expect(r.logs.some((l) => l.msg === 'listener started')).toBe(false);
  });
});
