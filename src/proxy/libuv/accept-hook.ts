import type { Server } from 'node:net';
import { NodeInternalsChangedError } from '../../core/errors.ts';
import type { TcpHandle } from './bindings.ts';

/**
 * Accepting on net.Server's own listening handle: binding, listening and
 * closing stay net.Server's, only the accept callback of its handle
 * (`server._handle.onconnection`) is replaced, so that an accepted handle
 * becomes a RawSocket instead of a net.Socket (streams, events, a fresh
 * buffer per read). Like bindings.ts, it is checked by the start-up
 * self-test; `--socket-impl net` uses the 'connection' event instead.
 */

/** Called for each accept(2): status 0 and the accepted handle, or a libuv error status. */
export type AcceptCallback = (status: number, client: TcpHandle | undefined) => void;

/** The listening handle net.Server keeps. */
interface ServerHandle {
  onconnection: (status: number, client?: TcpHandle) => void;
  setNoDelay(on: boolean): number;
  setKeepAlive(on: boolean, delaySeconds: number): number;
}

/** Send every connection `server` accepts to `onAccept` (replacing any callback set before). */
export function setAcceptCallback(server: Server, onAccept: AcceptCallback): void {
  serverHandle(server).onconnection = onAccept;
}

/**
 * Linux copies a listening socket's TCP_NODELAY and keepalive settings to
 * the sockets it accepts: set them once on the listening socket instead of
 * with five setsockopt calls per accepted connection (issue #11). Elsewhere
 * each accepted socket gets them set on its own.
 */
export const OPTIONS_INHERITED = process.platform === 'linux';

/** Where options are inherited: give `server`'s listening socket those its accepted ones need. */
export function setInheritedOptions(server: Server, keepAliveMs: number): void {
  if (!OPTIONS_INHERITED) return;
  const handle = (server as unknown as { _handle: ServerHandle | null })._handle;
  if (handle === null) return;
  handle.setNoDelay(true);
  handle.setKeepAlive(keepAliveMs > 0, Math.max(1, Math.floor(keepAliveMs / 1000)));
}

function serverHandle(server: Server): ServerHandle {
  const handle = (server as unknown as { _handle?: ServerHandle | null })._handle;
  if (handle === undefined || handle === null || typeof handle.onconnection !== 'function') {
    throw new NodeInternalsChangedError(
      'a listening net.Server has no _handle.onconnection to accept on',
    );
  }
  if (typeof handle.setNoDelay !== 'function' || typeof handle.setKeepAlive !== 'function') {
    throw new NodeInternalsChangedError(
      "a listening net.Server's _handle has no setNoDelay/setKeepAlive",
    );
  }
  return handle;
}
