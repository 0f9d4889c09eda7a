import { lookup } from 'node:dns';
import { isIP } from 'node:net';
import { getSystemErrorName } from 'node:util';
import type { StreamEvent, StreamHandler, StreamReadCallback, TcpStream } from '../tcp-stream.ts';
import { InternalError, SystemCallError } from '../../core/errors.ts';
import { libuvBindings, type LibuvBindings, type ReqWrap, type TcpHandle } from './bindings.ts';

/**
 * A TCP connection on a bare libuv handle: the part of net.Socket the relay
 * uses, without streams, EventEmitter or per-socket timers. Issue #11: two
 * net.Sockets made up most of an idle proxied connection's memory (~1.5 of
 * 3.7 KiB of live heap, and RSS beyond) and about 30 µs of the CPU of each
 * connection's setup and teardown; bench/yardstick.ts measures the gap.
 *
 * It is built on the same bindings as net (bindings.ts: `tcp_wrap` and
 * `stream_wrap`, checked at start-up by self-test.ts) and keeps net's
 * semantics where the session relies on them:
 * - half-open: EOF from the peer is `end`; the socket stays writable until
 *   `end()`, and closes by itself once both directions are finished;
 * - `write()` returns false while bytes wait in libuv, then `drain` follows;
 *   `end()` sends FIN after every queued write;
 * - `error` (read, write or connect failure) is followed by `close`, both
 *   after the current call stack; `destroy()` closes without `error`;
 *   `resetAndDestroy()` closes with RST;
 * - reads land in the buffer the read callback returned last (`onread`).
 */

/** Called with the bytes of each read; returns the buffer for the next read. */
export type ReadCallback = StreamReadCallback;
type EventName = StreamEvent;
type Handler = StreamHandler;

interface Req extends ReqWrap {
  socket: RawSocket;
  buffer: Buffer | null;
  bytes: number;
}
/** Where a handle points back at its RawSocket (net's handles have an `owner` of their own). */
const kSocket = Symbol('headway.rawSocket');

interface OwnedHandle extends TcpHandle {
  [kSocket]?: RawSocket | undefined;
}

// RawSocket state bits.
/** TCP_NODELAY and keepalive came from the listening socket. */
const BIT_INHERITED = 1;
/** Reading is stopped until resume(). */
const BIT_PAUSED = 2;
/** The peer's FIN was read. */
const BIT_READ_ENDED = 4;
/** end() was called: no more writes. */
const BIT_WRITE_ENDED = 8;
/** Our FIN went out (shutdown completed). */
const BIT_WRITE_FINISHED = 16;
/** A shutdown request was made. */
const BIT_SHUTDOWN_SENT = 32;
/** A write went asynchronous: `drain` is owed once the writes are out. */
const BIT_NEED_DRAIN = 64;

/** Sockets of this thread with an open handle (each holds a file descriptor): for the fd budget. */
let openHandles = 0;

export function openRawSockets(): number {
  return openHandles;
}

export interface RawSocketOptions {
  readonly onRead: ReadCallback;
  /** The buffer of the first read. */
  readonly buffer: Buffer;
  /** TCP keepalive idle time (0 = off). */
  readonly keepAliveMs: number;
  /** An accepted socket that already has TCP_NODELAY and keepalive from its listening socket (Linux). */
  readonly optionsInherited?: boolean;
  /** The binding surface to run on (the start-up self-test passes the one it checks). */
  readonly bindings?: LibuvBindings;
}

export class RawSocket implements TcpStream {
  /** Whatever the user of the socket ties to it (the session). */
  owner: unknown = undefined;
  connecting = false;
  destroyed = false;
  bytesRead = 0;
  /** Bytes handed to `write()` that libuv has not written yet. */
  writableLength = 0;
  #handle: OwnedHandle | null;
  readonly #uv: LibuvBindings;
  readonly #onRead: ReadCallback;
  #buffer: Buffer;
  readonly #keepAliveMs: number;
  /** State bits (BIT_*): one small integer rather than seven boolean fields, 48 bytes less a socket. */
  #bits: number;
  #pendingWrites = 0;
  /** The peer's address and port, read once (getpeername) and kept as two fields, not libuv's object. */
  #peerAddress: string | undefined;
  #peerPort: number | undefined;
  #onConnect: Handler | undefined;
  #onEnd: Handler | undefined;
  #onDrain: Handler | undefined;
  #onError: Handler | undefined;
  #onClose: Handler | undefined;

  private constructor(handle: OwnedHandle | null, opts: RawSocketOptions, paused: boolean) {
    this.#handle = handle;
    this.#uv = opts.bindings ?? libuvBindings();
    this.#onRead = opts.onRead;
    this.#buffer = opts.buffer;
    this.#keepAliveMs = opts.keepAliveMs;
    this.#bits = (opts.optionsInherited === true ? BIT_INHERITED : 0) | (paused ? BIT_PAUSED : 0);
  }

  /** Adopt a handle net.Server's listening handle accepted; nothing is read until `resume()`. */
  static adopt(handle: TcpHandle, opts: RawSocketOptions): RawSocket {
    const h: OwnedHandle = handle;
    const socket = new RawSocket(h, opts, true);
    openHandles++;
    socket.#attach(h);
    return socket;
  }

  /** Start connecting to HOST:PORT (an address, or a name resolved first); `connect` or `error` follows. */
  static connect(host: string, port: number, opts: RawSocketOptions): RawSocket {
    const socket = new RawSocket(null, opts, false);
    socket.connecting = true;
    const family = isIP(host);
    if (family !== 0) {
      socket.#connect(host, port, family);
    } else {
      lookup(host, (err, address, fam) => {
        if (socket.destroyed) return;
        if (err !== null) socket.#fail(err);
        else socket.#connect(address, port, fam);
      });
    }
    return socket;
  }

  setHandler(event: EventName, handler: Handler): void {
    switch (event) {
      case 'connect':
        this.#onConnect = handler;
        break;
      case 'end':
        this.#onEnd = handler;
        break;
      case 'drain':
        this.#onDrain = handler;
        break;
      case 'error':
        this.#onError = handler;
        break;
      case 'close':
        this.#onClose = handler;
        break;
    }
  }

  /** Remove the `end` handler if it is `handler` (the only event the session stops listening to). */
  clearHandler(event: EventName, handler: Handler): void {
    if (event === 'end' && this.#onEnd === handler) this.#onEnd = undefined;
  }

  get remoteAddress(): string | undefined {
    if (this.#peerAddress === undefined) this.#readPeer();
    return this.#peerAddress;
  }

  get remotePort(): number | undefined {
    if (this.#peerAddress === undefined) this.#readPeer();
    return this.#peerPort;
  }

  get localAddress(): string | undefined {
    return this.#sockInfo().address as string | undefined;
  }

  get localPort(): number | undefined {
    return this.#sockInfo().port as number | undefined;
  }

  pause(): void {
    this.#bits |= BIT_PAUSED;
    const h = this.#handle;
    if (h !== null && h.reading) {
      h.reading = false;
      h.readStop();
    }
  }

  resume(): void {
    this.#bits &= ~BIT_PAUSED;
    this.#startReading();
  }

  /** Queue `data`; false while bytes wait in libuv (`drain` follows once they are written). */
  write(data: Buffer): boolean {
    const h = this.#handle;
    if (h === null || this.destroyed || (this.#bits & BIT_WRITE_ENDED) !== 0 || this.connecting)
      return false;
    const req = new this.#uv.WriteWrap() as Req;
    req.handle = h;
    req.oncomplete = afterWrite;
    req.socket = this;
    req.buffer = null;
    req.bytes = 0;
    const err = h.writeBuffer(req, data);
    if (err !== 0) {
      this.#fail(errnoError(err, 'write'));
      return false;
    }
    if (this.#uv.streamBaseState[this.#uv.kLastWriteWasAsync] === 0) return true;
    req.buffer = data;
    req.bytes = data.length;
    this.#pendingWrites++;
    this.writableLength += data.length;
    this.#bits |= BIT_NEED_DRAIN;
    return false;
  }

  /**
   * Send FIN once every queued write is out. The shutdown is asked of libuv
   * only once the writes are done, not queued behind them: libuv refuses to
   * reset a socket with a shutdown pending (and Node then never closes its
   * handle), so a reset that must cut a reply still in the queue — a
   * forced exit, a close grace running out — could not happen.
   */
  end(): void {
    if ((this.#bits & BIT_WRITE_ENDED) !== 0 || this.destroyed) return;
    this.#bits |= BIT_WRITE_ENDED;
    const h = this.#handle;
    if (h === null || this.connecting || this.#pendingWrites > 0) return;
    this.#finish(h);
  }

  /** Close now, without `error`; `close` follows. */
  destroy(): void {
    this.#close(undefined, false);
  }

  /** Close with RST (SO_LINGER 0); `close` follows. */
  resetAndDestroy(): void {
    this.#close(undefined, !this.connecting);
  }

  setKeepAlive(idleMs: number): void {
    const h = this.#handle;
    if (h === null || this.destroyed || this.connecting) return;
    h.setKeepAlive(true, Math.max(1, Math.floor(idleMs / 1000)));
  }

  #attach(h: OwnedHandle): void {
    h[kSocket] = this;
    h.onread = onHandleRead;
    h.reading = false;
    h.useUserBuffer(this.#buffer);
    if ((this.#bits & BIT_INHERITED) !== 0) return;
    h.setNoDelay(true);
    if (this.#keepAliveMs > 0) this.setKeepAlive(this.#keepAliveMs);
  }

  #connect(address: string, port: number, family: number): void {
    const h: OwnedHandle = new this.#uv.TCP(this.#uv.socketType);
    this.#handle = h;
    openHandles++;
    const req = new this.#uv.TCPConnectWrap() as Req;
    req.oncomplete = afterConnect;
    req.socket = this;
    const err = family === 6 ? h.connect6(req, address, port) : h.connect(req, address, port);
    if (err !== 0) this.#fail(errnoError(err, 'connect'));
  }

  connected(status: number): void {
    if (this.destroyed) return;
    if (status !== 0) {
      this.#fail(errnoError(status, 'connect'));
      return;
    }
    this.connecting = false;
    const h = this.#handle as OwnedHandle;
    this.#attach(h);
    this.#onConnect?.call(this);
    // The handler may have closed it.
    if (this.#handle === null) return;
    // end() while connecting: its FIN goes now (unless the handler already sent it).
    if (
      (this.#bits & (BIT_WRITE_ENDED | BIT_SHUTDOWN_SENT)) === BIT_WRITE_ENDED &&
      this.#pendingWrites === 0
    )
      this.#shutdown(h);
    this.#startReading();
  }

  #startReading(): void {
    const h = this.#handle;
    if (
      h === null ||
      (this.#bits & (BIT_PAUSED | BIT_READ_ENDED)) !== 0 ||
      this.connecting ||
      this.destroyed
    )
      return;
    if (h.reading) return;
    h.reading = true;
    const err = h.readStart();
    if (err !== 0) this.#fail(errnoError(err, 'read'));
  }

  /** libuv delivered a read (or EOF, or an error); returns the next read buffer when it changes. */
  read(): Buffer | undefined {
    const nread = this.#uv.streamBaseState[this.#uv.kReadBytesOrError] as number;
    if (nread > 0) {
      if (nread > this.#buffer.length) {
        // More than the buffer holds: the count is not libuv's (a changed binding). Never relay it.
        this.#fail(
          new InternalError(`read of ${nread} bytes into a buffer of ${this.#buffer.length}`),
        );
        return undefined;
      }
      this.bytesRead += nread;
      const next = this.#onRead(this, nread, this.#buffer);
      if (next === this.#buffer) return undefined;
      this.#buffer = next;
      return next;
    }
    if (nread === 0) return undefined;
    if (nread === this.#uv.UV_EOF) {
      this.#bits |= BIT_READ_ENDED;
      const h = this.#handle;
      if (h !== null && h.reading) {
        h.reading = false;
        h.readStop();
      }
      this.#onEnd?.call(this);
      if ((this.#bits & BIT_WRITE_FINISHED) !== 0) this.destroy();
      return undefined;
    }
    this.#fail(errnoError(nread, 'read'));
    return undefined;
  }

  writeDone(req: Req, status: number): void {
    this.#pendingWrites--;
    this.writableLength -= req.bytes;
    req.buffer = null;
    if (this.destroyed || status === this.#uv.UV_ECANCELED) return;
    if (status < 0) {
      this.#fail(errnoError(status, 'write'));
      return;
    }
    if (this.#pendingWrites === 0 && (this.#bits & BIT_NEED_DRAIN) !== 0) {
      this.#bits &= ~BIT_NEED_DRAIN;
      this.#onDrain?.call(this);
    }
    // end() came while writes were queued: its FIN goes now that they are out.
    const h = this.#handle;
    if (
      this.#pendingWrites === 0 &&
      (this.#bits & (BIT_WRITE_ENDED | BIT_SHUTDOWN_SENT)) === BIT_WRITE_ENDED &&
      h !== null
    )
      this.#finish(h);
  }

  shutdownDone(status: number): void {
    if (this.destroyed) return;
    if (status < 0 && status !== this.#uv.UV_ECANCELED) {
      this.#fail(errnoError(status, 'shutdown'));
      return;
    }
    this.#bits |= BIT_WRITE_FINISHED;
    if ((this.#bits & BIT_READ_ENDED) !== 0) this.destroy();
  }

  /**
   * Send FIN, every write being out. A socket that has also read its peer's
   * FIN has nothing left to do, and close(2) sends the FIN itself (its
   * receive queue is empty, so no RST): one system call and no shutdown
   * request, the way HAProxy ends a connection both sides have finished.
   */
  #finish(h: TcpHandle): void {
    if ((this.#bits & BIT_READ_ENDED) !== 0) this.destroy();
    else this.#shutdown(h);
  }

  #shutdown(h: TcpHandle): void {
    this.#bits |= BIT_SHUTDOWN_SENT;
    const req = new this.#uv.ShutdownWrap() as Req;
    req.handle = h;
    req.oncomplete = afterShutdown;
    req.socket = this;
    const err = h.shutdown(req);
    if (err !== 0) this.#fail(errnoError(err, 'shutdown'));
  }

  /** An error: `error`, then `close`, after the current call stack (as net does). */
  #fail(err: Error): void {
    this.#close(err, false);
  }

  #close(err: Error | undefined, reset: boolean): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.connecting = false;
    const h = this.#handle;
    this.#handle = null;
    if (h !== null) {
      openHandles--;
      h.onread = ignoreRead;
      h[kSocket] = undefined;
      // A shutdown in flight (every write already out, FIN being sent): libuv
      // cannot reset now, and Node would then never close the handle. Nothing
      // of ours is cut at that point, so a plain close is right.
      const shutdownInFlight =
        (this.#bits & (BIT_SHUTDOWN_SENT | BIT_WRITE_FINISHED)) === BIT_SHUTDOWN_SENT;
      // No close callback: libuv closes the descriptor within this call, and
      // its callback (a loop iteration later) would only free the handle's
      // memory; entering JavaScript for it cost more per connection than the
      // tick below that tells the owner (issue #19).
      if (reset && !shutdownInFlight) h.reset();
      else h.close();
    }
    process.nextTick(emitClosed, this, err);
  }

  /** After `#close`: `error` (if it failed), then `close`. */
  closed(err: Error | undefined): void {
    if (err !== undefined) this.#onError?.call(this, err);
    this.#onClose?.call(this);
  }

  #readPeer(): void {
    const out: { address?: unknown; port?: unknown } = {};
    if (this.#handle?.getpeername(out) !== 0) return;
    if (typeof out.address === 'string') this.#peerAddress = out.address;
    if (typeof out.port === 'number') this.#peerPort = out.port;
  }

  #sockInfo(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.#handle?.getsockname(out);
    return out;
  }
}

function onHandleRead(this: OwnedHandle): Buffer | undefined {
  return this[kSocket]?.read();
}

/** A closed socket's handle may still deliver a read that was under way. */
function ignoreRead(): undefined {
  return undefined;
}

function emitClosed(socket: RawSocket, err: Error | undefined): void {
  socket.closed(err);
}

function afterConnect(this: Req, status: number): void {
  this.socket.connected(status);
}

function afterWrite(this: Req, status: number): void {
  this.socket.writeDone(this, status);
}

function afterShutdown(this: Req, status: number): void {
  this.socket.shutdownDone(status);
}

/** The error net raises for a failed system call: message, code, errno, syscall. */
function errnoError(status: number, syscall: string): NodeJS.ErrnoException {
  return new SystemCallError(syscall, getSystemErrorName(status), status);
}

/** Open a connection on a bare libuv handle (the default `StreamConnector`). */
export function connectRawSocket(host: string, port: number, opts: RawSocketOptions): RawSocket {
  return RawSocket.connect(host, port, opts);
}
