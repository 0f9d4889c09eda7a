import type { TcpStream } from '../tcp-stream.ts';

/**
 * The socket event trampolines and timer callbacks of sessions. They are
 * module-level functions, not closures: a stream finds its session through
 * `stream.owner`, a timer gets it as its argument, so a connection allocates
 * no function of its own. Upstream events of a stale socket (an attempt that
 * failed and was replaced) are ignored by comparing with `session.upstream`.
 */

/** What the trampolines call on the session that owns a stream or a timer. */
export interface SessionEvents {
  /** The current backend connection (null while none is open). */
  readonly upstream: TcpStream | null;
  clientRead(nread: number, buf: Buffer): Buffer;
  upstreamRead(nread: number, buf: Buffer): Buffer;
  /** The client sent FIN before its preamble was complete. */
  preambleFailed(): void;
  preambleTimedOut(): void;
  clientEndedWhileConnecting(): void;
  clientEnded(): void;
  upstreamEnded(): void;
  drainClient(): void;
  drainUpstream(): void;
  connected(): void;
  connectTimedOut(): void;
  clientErrored(): void;
  upstreamErrored(err: Error | undefined): void;
  clientClosed(): void;
  /** A backend socket closed: the current one, or an earlier attempt's. */
  upstreamClosed(stream: TcpStream): void;
  queueExpired(): void;
  lifetimeEnded(): void;
  graceExpired(): void;
}

function sessionOf(stream: TcpStream): SessionEvents | undefined {
  return stream.owner as SessionEvents | undefined;
}

// Read callbacks: return the buffer for the next read.

/** The read callback of accepted client sockets (see listener.ts). */
export function onClientRead(stream: TcpStream, nread: number, buf: Buffer): Buffer {
  const s = sessionOf(stream);
  return s === undefined ? buf : s.clientRead(nread, buf);
}

export function onUpstreamRead(stream: TcpStream, nread: number, buf: Buffer): Buffer {
  const s = sessionOf(stream);
  return s === undefined || s.upstream !== stream ? buf : s.upstreamRead(nread, buf);
}

// Stream handlers: `this` is the stream.

export function onClientEndDuringPreamble(this: TcpStream): void {
  sessionOf(this)?.preambleFailed();
}

export function onClientEndWhileConnecting(this: TcpStream): void {
  sessionOf(this)?.clientEndedWhileConnecting();
}

export function onClientEnd(this: TcpStream): void {
  sessionOf(this)?.clientEnded();
}

export function onUpstreamEnd(this: TcpStream): void {
  const s = sessionOf(this);
  if (s?.upstream === this) s.upstreamEnded();
}

export function onClientDrain(this: TcpStream): void {
  sessionOf(this)?.drainClient();
}

export function onUpstreamDrain(this: TcpStream): void {
  const s = sessionOf(this);
  if (s?.upstream === this) s.drainUpstream();
}

export function onUpstreamConnect(this: TcpStream): void {
  const s = sessionOf(this);
  if (s?.upstream === this) s.connected();
}

export function onClientError(this: TcpStream): void {
  sessionOf(this)?.clientErrored();
}

export function onUpstreamError(this: TcpStream, err?: Error): void {
  const s = sessionOf(this);
  if (s?.upstream === this) s.upstreamErrored(err);
}

export function onClientClose(this: TcpStream): void {
  sessionOf(this)?.clientClosed();
}

export function onUpstreamClose(this: TcpStream): void {
  sessionOf(this)?.upstreamClosed(this);
}

// Timer callbacks: the session is the timer's argument.

export function preambleTimedOut(s: SessionEvents): void {
  s.preambleTimedOut();
}

export function connectTimedOut(s: SessionEvents): void {
  s.connectTimedOut();
}

export function queueExpired(s: SessionEvents): void {
  s.queueExpired();
}

export function lifetimeEnded(s: SessionEvents): void {
  s.lifetimeEnded();
}

export function graceExpired(s: SessionEvents): void {
  s.graceExpired();
}
