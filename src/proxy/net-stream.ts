import { Socket, connect } from 'node:net';
import type {
  StreamEvent,
  StreamHandler,
  StreamOptions,
  StreamReadCallback,
  TcpStream,
} from './tcp-stream.ts';

/**
 * `TcpStream` over a plain `net.Socket`: the data path of `--socket-impl
 * net`, for a Node.js whose internals the raw path (libuv/) cannot use. It
 * touches nothing private, and keeps the contract of tcp-stream.ts:
 * - half-open (`allowHalfOpen`): the peer's FIN is `end`, the socket stays
 *   writable until `end()`, and net closes it once both ways are done;
 * - `write()` returns false while any byte waits (not only past net's high
 *   water mark: the session reuses a buffer only once it is written), and
 *   `drain` follows once nothing waits;
 * - `error` then `close` (net's order); `destroy()` closes without `error`;
 *   `resetAndDestroy()` sends RST (a plain close while still connecting);
 * - reads are copied into the buffer the read callback returned last, in
 *   pieces of at most its size; a pause from the callback holds the rest of
 *   net's chunk until `resume()`.
 * It costs a net.Socket per connection and a copy per read: correctness
 * first, this is the fallback.
 */
export class NetStream implements TcpStream {
  owner: unknown = undefined;
  bytesRead = 0;
  readonly #socket: Socket;
  readonly #onRead: StreamReadCallback;
  #buffer: Buffer;
  #paused: boolean;
  /** The part of net's last chunk not yet delivered (a pause came in the middle). */
  #held: Buffer | null = null;
  /** net's `end` came while paused or while bytes were held: delivered at resume, after them. */
  #endHeld = false;
  #writeEnded = false;
  #needDrain = false;
  #counted = true;
  #onConnect: StreamHandler | undefined;
  #onEnd: StreamHandler | undefined;
  #onDrain: StreamHandler | undefined;
  #onError: StreamHandler | undefined;
  #onClose: StreamHandler | undefined;

  private constructor(socket: Socket, opts: StreamOptions, paused: boolean) {
    this.#socket = socket;
    this.#onRead = opts.onRead;
    this.#buffer = opts.buffer;
    this.#paused = paused;
    openStreams++;
    socket.on('data', (chunk: Buffer) => this.#received(chunk));
    socket.on('end', () => this.#ended());
    socket.on('connect', () => this.#onConnect?.call(this));
    socket.on('error', (err: Error) => this.#onError?.call(this, err));
    socket.on('close', () => {
      this.#uncount();
      this.#onClose?.call(this);
    });
  }

  /** Wrap a socket net.Server accepted with `pauseOnConnect`; nothing is read until `resume()`. */
  static adopt(socket: Socket, opts: StreamOptions): NetStream {
    const stream = new NetStream(socket, opts, true);
    socket.setNoDelay(true);
    if (opts.keepAliveMs > 0) socket.setKeepAlive(true, opts.keepAliveMs);
    return stream;
  }

  /** Start connecting to HOST:PORT (an address or a name); `connect` or `error` follows. */
  static connect(host: string, port: number, opts: StreamOptions): NetStream {
    const socket = connect({
      host,
      port,
      allowHalfOpen: true,
      noDelay: true,
      keepAlive: opts.keepAliveMs > 0,
      keepAliveInitialDelay: opts.keepAliveMs,
    });
    return new NetStream(socket, opts, false);
  }

  get connecting(): boolean {
    return this.#socket.connecting;
  }

  setKeepAlive(idleMs: number): void {
    if (!this.#socket.destroyed) this.#socket.setKeepAlive(true, idleMs);
  }

  get destroyed(): boolean {
    return this.#socket.destroyed;
  }

  get writableLength(): number {
    return this.#socket.writableLength;
  }

  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.#socket.remotePort;
  }

  get localAddress(): string | undefined {
    return this.#socket.localAddress;
  }

  get localPort(): number | undefined {
    return this.#socket.localPort;
  }

  setHandler(event: StreamEvent, handler: StreamHandler): void {
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

  clearHandler(event: StreamEvent, handler: StreamHandler): void {
    if (event === 'end' && this.#onEnd === handler) this.#onEnd = undefined;
  }

  pause(): void {
    this.#paused = true;
    this.#socket.pause();
  }

  resume(): void {
    this.#paused = false;
    const held = this.#held;
    if (held !== null) {
      this.#held = null;
      // Paused again by the read callback (or closed by it): the rest waits for the next resume().
      if (!this.#deliver(held)) return;
    }
    if (this.#endHeld) {
      this.#endHeld = false;
      this.#onEnd?.call(this);
      return;
    }
    this.#socket.resume();
  }

  write(data: Buffer): boolean {
    const socket = this.#socket;
    if (socket.destroyed || this.#writeEnded || socket.connecting) return false;
    socket.write(data, this.#written);
    if (socket.writableLength === 0) return true;
    this.#needDrain = true;
    return false;
  }

  end(): void {
    if (this.#writeEnded || this.destroyed) return;
    this.#writeEnded = true;
    this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  resetAndDestroy(): void {
    // net would wait for the connection to complete before resetting it; there is nothing to cut yet.
    if (this.#socket.connecting) this.#socket.destroy();
    else this.#socket.resetAndDestroy();
  }

  /** A write finished: once nothing waits, `drain` (as RawSocket: after any false return). */
  readonly #written = (err?: Error | null): void => {
    if (err != null || !this.#needDrain || this.#socket.writableLength > 0) return;
    if (this.#socket.destroyed) return;
    this.#needDrain = false;
    this.#onDrain?.call(this);
  };

  #received(chunk: Buffer): void {
    // Bytes net had on its way before our pause: behind those already held.
    if (this.#held !== null) this.#held = Buffer.concat([this.#held, chunk]);
    else void this.#deliver(chunk);
  }

  /** Hand `chunk` to the read callback; false when a pause or close stopped it short. */
  #deliver(chunk: Buffer): boolean {
    let offset = 0;
    for (;;) {
      if (this.destroyed) return false;
      if (this.#paused) {
        if (offset < chunk.length) this.#held = chunk.subarray(offset);
        return false;
      }
      if (offset === chunk.length) return true;
      const buf = this.#buffer;
      const n = Math.min(buf.length, chunk.length - offset);
      chunk.copy(buf, 0, offset, offset + n);
      offset += n;
      this.bytesRead += n;
      this.#buffer = this.#onRead(this, n, buf);
    }
  }

  #ended(): void {
    // As on a raw socket, a paused stream learns of the FIN only once resumed (and after held bytes).
    if (this.#held !== null || this.#paused) {
      this.#endHeld = true;
      return;
    }
    this.#onEnd?.call(this);
  }

  #uncount(): void {
    if (!this.#counted) return;
    this.#counted = false;
    openStreams--;
  }
}

/** NetStreams of this thread not yet closed (each holds, or is about to hold, a file descriptor). */
let openStreams = 0;

export function openNetStreams(): number {
  return openStreams;
}

/** Open a connection on a plain net.Socket (the connector of `--socket-impl net`). */
export function connectNetStream(host: string, port: number, opts: StreamOptions): NetStream {
  return NetStream.connect(host, port, opts);
}
