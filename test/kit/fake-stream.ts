import type {
  StreamConnector,
  StreamEvent,
  StreamHandler,
  StreamReadCallback,
  TcpStream,
} from '../../src/proxy/tcp-stream.ts';

/**
 * A TcpStream without a socket, for driving a session in unit tests. It keeps
 * the semantics tcp-stream.ts promises (half-open, `error` then `close` after
 * the current call stack, close by itself once both directions are finished)
 * and records what the session did to it. The test plays the peer: it
 * delivers reads through the read callback the session gave, and fires
 * `connect`, `end`, `drain` and resets.
 *
 * Deferred events (what a real socket reports on a later turn of the event
 * loop) wait in the FakeNet until the test calls `net.flush()`, so each step
 * of a test decides exactly when they land.
 */
export class FakeStream implements TcpStream {
  owner: unknown = undefined;
  connecting: boolean;
  destroyed = false;
  bytesRead = 0;
  writableLength = 0;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly localAddress: string | undefined = '127.0.0.1';
  readonly localPort: number | undefined = 7000;
  /** What the session did, in order: pause, resume, write, end, destroy, reset. */
  readonly calls: string[] = [];
  /** Every write, copied (the session may reuse the buffer it wrote). */
  readonly written: Buffer[] = [];
  /** The very buffers handed to `write()`: a real socket may still read them later. */
  readonly handed: Buffer[] = [];
  /** Accepted streams start paused (nothing read until `resume()`), dialled ones reading. */
  paused: boolean;
  /** The session sent FIN (`end()`). */
  finSent = false;
  /** The peer sent FIN. */
  finReceived = false;
  /** While true, writes queue up (`write()` returns false) until `drain()`. */
  blocked = false;
  closed = false;
  readonly #net: FakeNet;
  readonly #handlers = new Map<StreamEvent, StreamHandler>();
  #onRead: StreamReadCallback;
  #buffer: Buffer;

  constructor(
    net: FakeNet,
    opts: {
      remoteAddress: string;
      remotePort: number;
      connecting: boolean;
      onRead: StreamReadCallback;
      buffer: Buffer;
    },
  ) {
    this.#net = net;
    this.remoteAddress = opts.remoteAddress;
    this.remotePort = opts.remotePort;
    this.connecting = opts.connecting;
    this.paused = !opts.connecting;
    this.#onRead = opts.onRead;
    this.#buffer = opts.buffer;
  }

  // The TcpStream surface the session uses.

  setHandler(event: StreamEvent, handler: StreamHandler): void {
    this.#handlers.set(event, handler);
  }

  clearHandler(event: StreamEvent, handler: StreamHandler): void {
    if (this.#handlers.get(event) === handler) this.#handlers.delete(event);
  }

  pause(): void {
    this.paused = true;
    this.calls.push('pause');
  }

  resume(): void {
    this.paused = false;
    this.calls.push('resume');
  }

  write(data: Buffer): boolean {
    // A real socket drops these; recorded so a test can tell.
    this.calls.push(
      this.destroyed ? 'write-after-destroy' : this.finSent ? 'write-after-end' : 'write',
    );
    this.written.push(Buffer.from(data));
    this.handed.push(data);
    if (!this.blocked) return true;
    this.writableLength += data.length;
    return false;
  }

  end(): void {
    if (this.destroyed || this.finSent) return;
    this.finSent = true;
    this.calls.push('end');
    this.#closeIfFinished();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.calls.push('destroy');
    this.#closeLater();
  }

  resetAndDestroy(): void {
    if (this.destroyed) return;
    this.calls.push('reset');
    this.#closeLater();
  }

  setKeepAlive(idleMs: number): void {
    if (!this.destroyed) this.calls.push(`keepalive ${idleMs}`);
  }

  // The peer's side, driven by the test.

  /** The bytes the session wrote, as one string. */
  get text(): string {
    return Buffer.concat(this.written).toString();
  }

  /** Whether the session ever called `what` (pause, resume, end, destroy, reset). */
  did(what: string): boolean {
    return this.calls.includes(what);
  }

  /** The peer sent `data`: one read, into the buffer the session returned last. */
  receive(data: string | Buffer): void {
    if (this.paused || this.connecting) throw new Error('read on a paused stream');
    if (this.destroyed) throw new Error('read on a destroyed stream');
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    if (bytes.length > this.#buffer.length) throw new Error('read larger than the read buffer');
    bytes.copy(this.#buffer);
    this.bytesRead += bytes.length;
    this.#buffer = this.#onRead(this, bytes.length, this.#buffer);
  }

  /** The length of the buffer the next read lands in (the session's choice). */
  get readBufferLength(): number {
    return this.#buffer.length;
  }

  /** The connection attempt succeeded. */
  accept(): void {
    if (!this.connecting) throw new Error('not connecting');
    this.connecting = false;
    this.#fire('connect');
  }

  /** The connection attempt failed (`ECONNREFUSED`, `EMFILE`, ...): `error`, then `close`. */
  refuse(code = 'ECONNREFUSED'): void {
    this.#failLater(code);
  }

  /** The peer sent FIN. */
  peerEnd(): void {
    if (this.destroyed) return;
    this.finReceived = true;
    this.#fire('end');
    this.#closeIfFinished();
  }

  /** The peer reset the connection: `error`, then `close`. */
  peerReset(): void {
    this.#failLater('ECONNRESET');
  }

  /** The queued writes went out: `drain`. */
  drain(): void {
    this.blocked = false;
    this.writableLength = 0;
    this.#fire('drain');
    this.#closeIfFinished();
  }

  #fire(event: StreamEvent, err?: Error): void {
    this.#handlers.get(event)?.call(this, err);
  }

  #failLater(code: string): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const err = Object.assign(new Error(code), { code });
    this.#net.later(() => {
      this.#fire('error', err);
      this.#close();
    });
  }

  #closeLater(): void {
    this.destroyed = true;
    this.#net.later(() => this.#close());
  }

  /** Both directions finished and nothing left to write: the socket closes by itself. */
  #closeIfFinished(): void {
    if (this.finSent && this.finReceived && this.writableLength === 0 && !this.destroyed)
      this.#closeLater();
  }

  #close(): void {
    if (this.closed) return;
    this.closed = true;
    this.connecting = false;
    this.#fire('close');
  }
}

/** A backend connection the session opened. */
export interface Dial {
  readonly host: string;
  readonly port: number;
  readonly keepAliveMs: number;
  readonly stream: FakeStream;
}

/** The network of a test: creates fake streams and holds their deferred events. */
export class FakeNet {
  readonly dials: Dial[] = [];
  readonly #pending: (() => void)[] = [];

  /** The host's `connectUpstream`: a stream that is connecting until the test accepts or refuses it. */
  readonly connect: StreamConnector = (host, port, opts) => {
    const stream = new FakeStream(this, {
      remoteAddress: host,
      remotePort: port,
      connecting: true,
      onRead: opts.onRead,
      buffer: opts.buffer,
    });
    this.dials.push({ host, port, keepAliveMs: opts.keepAliveMs, stream });
    return stream;
  };

  /** An accepted client connection, reading through `onRead` like the listener's sockets. */
  client(address: string, port: number, onRead: StreamReadCallback, buffer: Buffer): FakeStream {
    return new FakeStream(this, {
      remoteAddress: address,
      remotePort: port,
      connecting: false,
      onRead,
      buffer,
    });
  }

  /** The stream of the last backend connection opened. */
  get lastDial(): FakeStream {
    const dial = this.dials[this.dials.length - 1];
    if (dial === undefined) throw new Error('no backend connection was opened');
    return dial.stream;
  }

  later(fn: () => void): void {
    this.#pending.push(fn);
  }

  /** Deliver every deferred event (and those they cause). */
  flush(): void {
    for (let n = 0; this.#pending.length > 0; n++) {
      if (n > 10_000) throw new Error('deferred events do not settle');
      (this.#pending.shift() as () => void)();
    }
  }
}
