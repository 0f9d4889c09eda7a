import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { NodeInternalsChangedError } from '../../core/errors.ts';
import { setAcceptCallback } from './accept-hook.ts';
import { bindingProblems, libuvBindings, libuvCode, type LibuvBindings } from './bindings.ts';
import { openRawSockets } from './raw-socket.ts';
import { assertBindings } from './self-test.ts';

/** The real surface with `change` applied: a Node.js that moved something. */
function changed(change: Partial<LibuvBindings>): () => LibuvBindings {
  return () => ({ ...libuvBindings(), ...change });
}

async function failure(load: () => LibuvBindings): Promise<NodeInternalsChangedError> {
  try {
    await assertBindings(load, 1000);
  } catch (err) {
    expect(err).toBeInstanceOf(NodeInternalsChangedError);
    return err as NodeInternalsChangedError;
  }
  throw new Error('the self-test passed a broken binding surface');
}

describe('assertBindings (start-up self-test of the raw data path)', () => {
  it('passes on this Node.js and leaves no socket open', async () => {
    expect(bindingProblems(libuvBindings())).toEqual([]);
    const before = openRawSockets();
    await assertBindings();
    expect(openRawSockets()).toBe(before);
  });

  it('names a handle method that is gone (writeBuffer)', async () => {
    const real = libuvBindings();
    class TcpWithoutWriteBuffer extends real.TCP {}
    Object.defineProperty(TcpWithoutWriteBuffer.prototype, 'writeBuffer', { value: undefined });
    const err = await failure(changed({ TCP: TcpWithoutWriteBuffer }));
    expect(err.detail).toBe('tcp_wrap.TCP.prototype.writeBuffer is undefined, not a function');
    expect(err.message).toBe(
      'this Node.js version changed an internal Headway relies on (tcp_wrap.TCP.prototype.writeBuffer is undefined, not a function); run with --socket-impl net',
    );
  });

  it('names a request wrap and a constant that are gone', async () => {
    const err = await failure(changed({ WriteWrap: undefined, socketType: NaN }));
    expect(err.detail).toContain('stream_wrap.WriteWrap is undefined, not a class');
    expect(err.detail).toContain('tcp_wrap.constants.SOCKET is a number, not an integer');
  });

  it('names a streamBaseState slot past the end of the array', async () => {
    const err = await failure(changed({ kLastWriteWasAsync: 99 }));
    expect(err.detail).toBe(
      "stream_wrap.kLastWriteWasAsync (99) is past streamBaseState's 4 slots",
    );
  });

  it('catches a streamBaseState that lies about reads (never updated), naming the read path', async () => {
    const real = libuvBindings();
    const stale = new Int32Array(real.streamBaseState.length);
    const err = await failure(changed({ streamBaseState: stale }));
    expect(err.detail).toMatch(/^loopback self-test: no progress within \d+ ms at read back/);
    expect(err.detail).toContain('streamBaseState[kReadBytesOrError]');
  });

  it('catches a read count taken from the wrong slot of streamBaseState', async () => {
    const real = libuvBindings();
    // kBytesWritten-like slot: a number, but not the byte count of the read.
    const wrong = [0, 1, 2, 3].find(
      (i) => i !== real.kReadBytesOrError && i !== real.kLastWriteWasAsync,
    );
    const err = await failure(changed({ kReadBytesOrError: wrong }));
    expect(err.detail).toContain('streamBaseState[kReadBytesOrError]');
  });

  it('refuses when libuv’s EOF code cannot be had from Node', async () => {
    const err = await failure(changed({ UV_EOF: libuvCode('NO_SUCH_CODE') }));
    expect(err.detail).toBe("libuv's EOF is not in util.getSystemErrorMap()");
  });

  it('names a net.Server without a listening handle to hook', () => {
    const server = createServer();
    expect(() => setAcceptCallback(server, () => undefined)).toThrow(
      /changed an internal Headway relies on \(a listening net.Server has no _handle.onconnection to accept on\)/,
    );
  });

  it('takes libuv codes from Node by name, not from literals', () => {
    expect(libuvCode('EOF')).toBeLessThan(0);
    expect(libuvCode('ECANCELED')).toBeLessThan(0);
    expect(libuvCode('ECONNRESET')).toBeLessThan(0);
    expect(libuvCode('NO_SUCH_CODE')).toBeUndefined();
  });
});
