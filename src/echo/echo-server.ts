import { createServer, type Server, type Socket } from 'node:net';

export interface EchoServerOptions {
  /** Hold each chunk this long before echoing it (0 = echo at once). */
  readonly delayMs: number;
}

/** Bytes queued for delayed echo before the echo server stops reading a client. */
const DELAYED_HIGH_WATER = 1 << 20;

interface EchoState {
  delayMs: number;
  pendingBytes: number;
  pendingChunks: number;
  ended: boolean;
}

const kEcho = Symbol('headway.echo');
type EchoSocket = Socket & { [kEcho]: EchoState };

/**
 * A fast TCP echo server for tests, demos and benchmarks. With a delay, each
 * chunk is echoed `delayMs` after it arrived (order kept, reading paused
 * past 1 MiB pending); a client's FIN is echoed after its last byte.
 */
export function createEchoServer(opts: EchoServerOptions): Server {
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    const s = socket as EchoSocket;
    s[kEcho] = { delayMs: opts.delayMs, pendingBytes: 0, pendingChunks: 0, ended: false };
    s.on('data', onData);
    s.on('drain', onDrain);
    s.on('end', onEnd);
    s.on('error', onError);
  });
  return server;
}

function onData(this: EchoSocket, chunk: Buffer): void {
  const st = this[kEcho];
  if (st.delayMs === 0) {
    if (!this.write(chunk)) this.pause();
    return;
  }
  st.pendingBytes += chunk.length;
  st.pendingChunks++;
  setTimeout(echoLater, st.delayMs, this, chunk);
  if (st.pendingBytes > DELAYED_HIGH_WATER) this.pause();
}

function echoLater(socket: EchoSocket, chunk: Buffer): void {
  const st = socket[kEcho];
  st.pendingBytes -= chunk.length;
  st.pendingChunks--;
  if (socket.destroyed) return;
  const flowing = socket.write(chunk);
  if (st.pendingChunks === 0 && st.ended) socket.end();
  else if (flowing && st.pendingBytes <= DELAYED_HIGH_WATER) socket.resume();
}

function onDrain(this: EchoSocket): void {
  if (this[kEcho].pendingBytes <= DELAYED_HIGH_WATER) this.resume();
}

function onEnd(this: EchoSocket): void {
  const st = this[kEcho];
  st.ended = true;
  if (st.pendingChunks === 0) this.end();
}

function onError(this: EchoSocket): void {
  // A client reset is routine for an echo server; 'close' follows.
}
