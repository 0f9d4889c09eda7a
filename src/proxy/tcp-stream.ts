/**
 * The surface of a TCP connection that a session uses: what `RawSocket`
 * (bare libuv handles) offers, and what any other implementation (plain
 * `net.Socket`, a fake in unit tests) must offer with the same semantics:
 * - half-open: EOF from the peer is `end`; the stream stays writable until
 *   `end()`, and closes by itself once both directions are finished;
 * - `write()` returns false while bytes wait to be written, then `drain`;
 *   `end()` sends FIN after every queued write;
 * - `error` is followed by `close`, both after the current call stack;
 *   `destroy()` closes without `error`; `resetAndDestroy()` closes with RST;
 * - reads land in the buffer the read callback returned last.
 */

/** Called with the bytes of each read; returns the buffer for the next read. */
export type StreamReadCallback = (stream: TcpStream, nread: number, buf: Buffer) => Buffer;

export type StreamEvent = 'connect' | 'end' | 'drain' | 'error' | 'close';
export type StreamHandler = (this: TcpStream, err?: Error) => void;

export interface TcpStream {
  /** Whatever the user of the stream ties to it (the session). */
  owner: unknown;
  readonly connecting: boolean;
  readonly destroyed: boolean;
  readonly bytesRead: number;
  /** Bytes handed to `write()` that are not written yet. */
  readonly writableLength: number;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  /** The one handler of EVENT: a second call replaces the first (no listener list, no closures). */
  setHandler(event: StreamEvent, handler: StreamHandler): void;
  /** Remove EVENT's handler if it is `handler`. */
  clearHandler(event: StreamEvent, handler: StreamHandler): void;
  pause(): void;
  resume(): void;
  /** Queue `data`; false while bytes wait (`drain` follows once they are written). */
  write(data: Buffer): boolean;
  /** Send FIN once every queued write is out. */
  end(): void;
  /** Close now, without `error`; `close` follows. */
  destroy(): void;
  /** Close with RST (SO_LINGER 0); `close` follows. */
  resetAndDestroy(): void;
  /** Arm TCP keepalive with this idle time (a no-op once closed). */
  setKeepAlive(idleMs: number): void;
}

export interface StreamOptions {
  readonly onRead: StreamReadCallback;
  /** The buffer of the first read. */
  readonly buffer: Buffer;
  /** TCP keepalive idle time (0 = off). */
  readonly keepAliveMs: number;
}

/** Opens upstream connections: `connect` or `error` follows on the stream. */
export type StreamConnector = (host: string, port: number, opts: StreamOptions) => TcpStream;
