import type { Server, Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';
import type { ProcessSettings } from '../config/schema.ts';
import { OPTIONS_INHERITED, setAcceptCallback, setInheritedOptions } from './libuv/accept-hook.ts';
import { RawSocket, connectRawSocket, openRawSockets } from './libuv/raw-socket.ts';
import { NetStream, connectNetStream, openNetStreams } from './net-stream.ts';
import type { StreamConnector, StreamOptions, TcpStream } from './tcp-stream.ts';

/**
 * `--socket-impl`: which TcpStream the data path runs on. `raw` (the
 * default): RawSocket on bare libuv handles (libuv/), lean in memory and
 * CPU, checked at start-up; `net`: NetStream on plain net.Sockets, no
 * internals, for a Node.js the raw path refuses. Both keep the same
 * contract (tcp-stream.ts) and pass the same tests.
 */
export type SocketImpl = ProcessSettings['socketImpl'];

/** How a listener's sockets are opened to backends. */
export function connectorFor(impl: SocketImpl): StreamConnector {
  return impl === 'net' ? connectNetStream : connectRawSocket;
}

/** The data path's open sockets of this thread, both kinds: for the fd budget. */
export function openDataSockets(): number {
  return openRawSockets() + openNetStreams();
}

/** How an accepted client reads; `optionsInherited` as `acceptStreams` says (raw only). */
export interface AcceptOptions extends StreamOptions {
  /** TCP_NODELAY and keepalive came from the listening socket (setListenOptions): not set again. */
  readonly optionsInherited: boolean;
}

/** What a listening socket does with its accepts. */
export interface AcceptHandlers {
  /** An accepted client, paused: nothing is read until `resume()`. */
  readonly onStream: (stream: TcpStream) => void;
  /** accept(2) failed (EMFILE, ENFILE, ...): the error's code. */
  readonly onFailure: (code: string) => void;
}

const kConnection = Symbol('headway.connectionListener');
type HookedServer = Server & { [kConnection]?: (socket: Socket) => void };

/**
 * Send the clients `server` accepts (created with `pauseOnConnect`) to
 * `handlers`, as TcpStreams of `impl` reading with `opts(…)`; replaces what
 * a previous call set (a staged listener, a socket handed over by a reload).
 */
export function acceptStreams(
  server: Server,
  impl: SocketImpl,
  opts: (optionsInherited: boolean) => AcceptOptions,
  handlers: AcceptHandlers,
): void {
  const hooked = server as HookedServer;
  if (impl === 'net') {
    const previous = hooked[kConnection];
    if (previous !== undefined) server.off('connection', previous);
    const listener = (socket: Socket): void =>
      handlers.onStream(NetStream.adopt(socket, opts(false)));
    hooked[kConnection] = listener;
    server.on('connection', listener);
    return;
  }
  setAcceptCallback(server, (status, client) => {
    if (status !== 0 || client === undefined) {
      handlers.onFailure(status === 0 ? 'unknown' : getSystemErrorName(status));
      return;
    }
    handlers.onStream(RawSocket.adopt(client, opts(OPTIONS_INHERITED)));
  });
}

/** Set what accepted sockets inherit from their listening socket (raw only: net sets each socket). */
export function setListenOptions(server: Server, impl: SocketImpl, keepAliveMs: number): void {
  if (impl === 'raw') setInheritedOptions(server, keepAliveMs);
}
