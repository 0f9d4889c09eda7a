import type { ClosedFirst } from '../../access-log/access-record.ts';
import type { Backend, Closable } from '../../backends/backend.ts';
import { unmapIPv4 } from '../../core/address.ts';
import { localErrorKind } from '../../core/local-errors.ts';
import type { Outcome } from '../../core/outcome.ts';
import { encodeProxyHeader, proxyAddressInfo } from '../../proxy-protocol/index.ts';
import type { TcpStream } from '../tcp-stream.ts';
import { Connector, type AttemptFailure } from './connect.ts';
import { Ending, resetStream } from './ending.ts';
import {
  onClientClose,
  onClientDrain,
  onClientEnd,
  onClientEndDuringPreamble,
  onClientEndWhileConnecting,
  onClientError,
  onUpstreamDrain,
  onUpstreamEnd,
  preambleTimedOut,
  type SessionEvents,
} from './events.ts';
import type { HostedSession, SessionHost } from './host.ts';
import { ProxyHeaderPreamble, ServerNamePreamble, type AnyPreamble } from './preamble.ts';
import {
  BACKEND_TO_CLIENT,
  CLIENT_TO_BACKEND,
  relay,
  releasePinned,
  type PinnedBuffers,
} from './relay.ts';

/**
 * Client bytes read before a backend is connected (while the client waits
 * for a slot or a backend, and while the proxy dials) are kept for the
 * backend; past this much the client is paused. Reading at all is what lets
 * the proxy see a client leave (FIN or RST) while it waits.
 */
export const EARLY_LIMIT = 16 * 1024;

/**
 * Where a connection is in its life. (String literals rather than an enum:
 * type stripping allows no enums; comparing constant strings is as cheap.)
 */
export type SessionState =
  /** Reading what the client must send first: a PROXY protocol header or a TLS ClientHello. */
  | 'preamble'
  /** Waiting for a slot or a backend with room, or dialling one. */
  | 'connecting'
  /** Connected: bytes flow both ways (each way until its FIN). */
  | 'relaying'
  /** Closing on the proxy's initiative: FIN sent, the grace timer runs (or reset). */
  | 'closing'
  /** Both sockets closed, the connection accounted for. */
  | 'done';

/** Timing of the backend's first byte after the client's first bytes. */
type FirstByte =
  /** Nothing sent to the backend yet. */
  | 'waiting'
  /** The client spoke first: the backend's first byte is timed. */
  | 'timing'
  /** Measured, or the backend spoke first (no sample). */
  | 'settled';

/**
 * One client connection: read its preamble if it owes one, admit it, get it
 * a backend connection (connect.ts), relay both ways with backpressure
 * (relay.ts), pass half-closes and resets on, close it on the proxy's
 * initiative (timeouts, drain, lifetime) and account for how it ended.
 * Socket and timer events reach it through the trampolines of events.ts, so
 * a connection allocates no closures.
 *
 * This file is the state machine: every transition of `#state` is here, so
 * that one read shows what a connection may do next; the work of each step
 * is done by the sibling modules. (That is why it is longer than the others.)
 */
export class Session implements HostedSession, SessionEvents, Closable {
  readonly host: SessionHost;
  readonly client: TcpStream;
  clientAddress: string;
  clientPort: number;
  peerAddress: string | undefined;
  peerPort: number | undefined;
  /** The address the client connected to (as the PROXY header said, when one did). */
  #destAddress: string | undefined;
  #destPort: number | undefined;
  readonly startedMs: number;
  readonly #dial: Connector;
  #state: SessionState = 'connecting';
  #preamble: AnyPreamble | undefined;
  #preambleTimer: NodeJS.Timeout | undefined;
  /** Client bytes read before a backend was connected: sent to it first. */
  #early: Buffer | undefined;
  readonly #end: Ending;
  #firstByte: FirstByte = 'waiting';
  #firstSentMs = 0;
  #firstByteMs: number | undefined;
  #endedMs = 0;
  readonly #pinned: PinnedBuffers = [null, null];

  constructor(host: SessionHost, client: TcpStream) {
    this.host = host;
    this.client = client;
    this.clientAddress = unmapIPv4(client.remoteAddress ?? '');
    this.clientPort = client.remotePort ?? 0;
    this.startedMs = host.clock.nowMs();
    this.#dial = new Connector(this);
    this.#end = new Ending(this);
    client.owner = this;
    client.setHandler('error', onClientError);
    client.setHandler('close', onClientClose);
  }

  // What the host and the access log read.

  get backend(): Backend | null {
    return this.#dial.backend;
  }

  get upstream(): TcpStream | null {
    return this.#dial.upstream;
  }

  get tried(): readonly Backend[] {
    return this.#dial.tried;
  }

  get attempts(): number {
    return this.#dial.attempts;
  }

  get state(): SessionState {
    return this.#state;
  }

  /** True until the current attempt has connected (or the session gave up). */
  get connecting(): boolean {
    return this.#state === 'connecting';
  }

  get outcome(): Outcome | null {
    return this.#end.outcome;
  }

  get closedFirst(): ClosedFirst | null {
    return this.#end.closedFirst;
  }

  get connectMs(): number | undefined {
    return this.#dial.connectMs;
  }

  get firstByteMs(): number | undefined {
    return this.#firstByteMs;
  }

  get durationMs(): number {
    return this.#endedMs - this.startedMs;
  }

  // Preamble and admission.

  /**
   * Begin: read a PROXY header if this peer must send one, run the admission
   * checks, then pick a backend and connect. The client socket stays paused
   * (its bytes in the kernel) except while the header is read.
   */
  start(): void {
    if (this.host.expectsProxyHeader(this.clientAddress)) {
      this.#readPreamble(new ProxyHeaderPreamble());
      return;
    }
    this.#admitted();
  }

  #admitted(): void {
    const refused = this.host.admit(this);
    if (refused !== null) {
      this.refuse(refused);
      return;
    }
    // From here until a backend answers, the client's bytes are kept for the
    // backend and its FIN or RST is seen at once (a client that leaves while
    // it waits or while the proxy dials frees its slot and fds right away).
    this.#watchClient();
    const slot = this.host.acquireSlot(this);
    if (slot === 'full') {
      this.refuse('rejected');
      return;
    }
    if (slot === 'waiting') {
      // Over --max-connections: wait, but no longer than --queue-timeout.
      this.#dial.startWaiting();
      return;
    }
    this.#proceed();
  }

  /** A slot under `--max-connections` freed up for this waiting session. */
  granted(): void {
    this.#dial.stopWaiting();
    if (this.#state !== 'connecting' || this.#end.clientClosed) return;
    this.#proceed();
  }

  #proceed(): void {
    const pattern = this.host.sniPattern;
    if (pattern !== null || this.host.readsServerName === true) {
      this.#readPreamble(new ServerNamePreamble(pattern, this.host.sniStrict));
      return;
    }
    if (this.#chooseGroup(undefined)) this.#connectNext();
  }

  /** The route for this connection when the listener serves several; false: refused. */
  #chooseGroup(serverName: string | undefined): boolean {
    const group = this.host.pickGroup?.(serverName);
    if (group === null) {
      this.refuse('no_backend');
      return false;
    }
    this.#dial.group = group;
    return true;
  }

  #readPreamble(preamble: AnyPreamble): void {
    this.#state = 'preamble';
    this.#preamble = preamble;
    this.#preambleTimer = setTimeout(preambleTimedOut, preamble.timeoutMs, this);
    this.#preambleTimer.unref();
    this.client.setHandler('end', onClientEndDuringPreamble);
    // Bytes read while the client waited for a slot belong to the preamble.
    const early = this.#early;
    this.#early = undefined;
    if (early !== undefined && this.#preambleRead(early)) return;
    this.client.resume();
  }

  /** Client bytes while the preamble is read; true once it is settled. */
  #preambleRead(chunk: Buffer): boolean {
    const preamble = this.#preamble as AnyPreamble;
    if (!preamble.push(chunk)) return false;
    this.client.pause();
    this.client.clearHandler('end', onClientEndDuringPreamble);
    clearTimeout(this.#preambleTimer);
    this.#preambleTimer = undefined;
    this.#preamble = undefined;
    if (preamble.refusal !== null) {
      this.refuse(preamble.refusal);
      return true;
    }
    this.#early = preamble.early;
    this.#state = 'connecting';
    if (preamble.kind === 'proxy-header') {
      const p = preamble.proxied;
      if (p !== undefined) {
        this.peerAddress = this.clientAddress;
        this.peerPort = this.clientPort;
        this.clientAddress = p.clientAddress;
        this.clientPort = p.clientPort;
        this.#destAddress = p.destAddress;
        this.#destPort = p.destPort;
      }
      this.#admitted();
    } else {
      if (!this.#chooseGroup(preamble.serverName)) return true;
      this.#dial.target = preamble.target;
      this.#watchClient();
      this.#connectNext();
    }
    return true;
  }

  /** The client sent FIN before its preamble was complete. */
  preambleFailed(): void {
    if (this.#state !== 'preamble') return;
    clearTimeout(this.#preambleTimer);
    this.#preambleTimer = undefined;
    this.refuse((this.#preamble as AnyPreamble).missing);
  }

  preambleTimedOut(): void {
    this.#preambleTimer = undefined;
    this.preambleFailed();
  }

  /** The PROXY header for the backend: the client as we know it, and where it connected. */
  #proxyHeader(version: 1 | 2): Buffer {
    const info = proxyAddressInfo({
      remoteAddress: this.clientAddress,
      remotePort: this.clientPort,
      localAddress: this.#destAddress ?? this.client.localAddress,
      localPort: this.#destPort ?? this.client.localPort,
    });
    return encodeProxyHeader(version, info);
  }

  /** Close at once without touching a backend (rejected, denied, ...). */
  refuse(outcome: Outcome): void {
    this.#end.note(outcome, 'proxy');
    this.client.destroy();
  }

  // Waiting and connecting (connect.ts does the picking and dialling).

  /** Read the client while it waits for a backend (see EARLY_LIMIT). */
  #watchClient(): void {
    this.client.setHandler('end', onClientEndWhileConnecting);
    if ((this.#early?.length ?? 0) < EARLY_LIMIT) this.client.resume();
    else this.client.pause();
  }

  /** Client bytes before a backend is connected (`nread` of them in `buf`): kept for it. */
  #earlyRead(buf: Buffer, nread: number): void {
    const early = this.#early;
    if (early === undefined) {
      // One copy, no intermediate view: most connections send their first bytes here.
      const copy = Buffer.allocUnsafe(nread);
      buf.copy(copy, 0, 0, nread);
      this.#early = copy;
    } else {
      this.#early = Buffer.concat([early, buf.subarray(0, nread)]);
    }
    if (this.#early.length >= EARLY_LIMIT) this.client.pause();
  }

  /**
   * The client sent FIN before a backend answered. With nothing to deliver
   * the client has left: abandon the wait or the attempt now instead of
   * dialling on for up to (retries + 1) × connect timeout. With bytes to
   * deliver it is a half-close after a request (`printf … | nc -N`): the
   * connection goes on, and the FIN is passed on once connected.
   */
  clientEndedWhileConnecting(): void {
    if (this.#state !== 'connecting') return;
    this.#end.clientEnded = true;
    const leaving = (this.#early?.length ?? 0) === 0;
    this.#end.note(leaving ? 'client_left' : null, 'client');
    if (leaving) this.client.destroy();
  }

  /** A queued session: a backend may have room now. */
  retry(): void {
    if (this.#state === 'connecting' && !this.#end.clientClosed) this.#connectNext();
  }

  /** Waited `--queue-timeout` for a slot or a backend with room. */
  queueExpired(): void {
    this.#dial.waitExpired();
    this.refuse('rejected');
  }

  #connectNext(): void {
    const result = this.#dial.next();
    if (result === 'queued') return;
    if (result === 'dialling') this.#end.upstreamClosed = false;
    else this.refuse(result);
  }

  connectTimedOut(): void {
    if (this.#state === 'connecting') this.#attemptFailed('connect_timeout');
  }

  #attemptFailed(kind: AttemptFailure): void {
    const hadAttempt = this.#dial.upstream !== null;
    const mayRetry = this.#dial.failed(kind);
    if (!hadAttempt) return;
    this.#end.upstreamClosed = true;
    if (this.#state !== 'connecting' || this.#end.clientClosed) {
      this.#maybeFinish();
      return;
    }
    if (mayRetry) this.#connectNext();
    else this.refuse(kind);
  }

  connected(): void {
    const host = this.host;
    const up = this.upstream as TcpStream;
    this.#state = 'relaying';
    const now = host.clock.nowMs();
    this.#dial.established(now);
    if (host.settings.sendProxyVersion !== 0)
      up.write(this.#proxyHeader(host.settings.sendProxyVersion));
    if (this.#early !== undefined) {
      up.write(this.#early);
      this.#early = undefined;
      this.#firstByte = 'timing';
      this.#firstSentMs = now;
    }
    const client = this.client;
    client.setHandler('end', onClientEnd);
    client.setHandler('drain', onClientDrain);
    up.setHandler('end', onUpstreamEnd);
    up.setHandler('drain', onUpstreamDrain);
    const end = this.#end;
    end.armQuiet(host.settings.idleTimeoutMs);
    if (end.clientEnded) {
      // The client half-closed while the proxy dialled: pass its FIN on after its bytes.
      up.end();
      end.armHalfClose();
    }
    end.startLifetime();
    client.resume();
  }

  // Relaying (relay.ts moves the bytes).

  /**
   * `nread` client bytes landed in `buf` (the client socket reads with
   * `onread`): relay them upstream and return the buffer for the next read.
   */
  clientRead(nread: number, buf: Buffer): Buffer {
    if (this.#state !== 'relaying') {
      if (this.#state === 'preamble') this.#preambleRead(buf.subarray(0, nread));
      else if (this.#state === 'connecting') this.#earlyRead(buf, nread);
      return buf;
    }
    const end = this.#end;
    if (end.quietLimitMs > 0) end.lastActiveMs = this.host.clock.nowMs();
    if (this.#firstByte === 'waiting') {
      this.#firstByte = 'timing';
      this.#firstSentMs = this.host.clock.nowMs();
    }
    return relay(
      this.client,
      this.upstream as TcpStream,
      nread,
      buf,
      this.#pinned,
      CLIENT_TO_BACKEND,
    );
  }

  /** `nread` backend bytes landed in `buf`: relay them to the client; returns the next read buffer. */
  upstreamRead(nread: number, buf: Buffer): Buffer {
    // While closing gracefully the backend's reply still reaches the client.
    if (this.#state !== 'relaying' && this.#state !== 'closing') return buf;
    const end = this.#end;
    if (end.quietLimitMs > 0) end.lastActiveMs = this.host.clock.nowMs();
    if (this.#firstByte !== 'settled') {
      if (this.#firstByte === 'timing') {
        const now = this.host.clock.nowMs();
        this.#firstByteMs = now - this.#firstSentMs;
        this.host.pool.firstByte(this.backend as Backend, this.#firstByteMs, now);
      }
      this.#firstByte = 'settled';
    }
    return relay(
      this.upstream as TcpStream,
      this.client,
      nread,
      buf,
      this.#pinned,
      BACKEND_TO_CLIENT,
    );
  }

  /** The upstream socket flushed its writes: release their buffers, resume the client. */
  drainUpstream(): void {
    if ((this.upstream as TcpStream).writableLength === 0)
      releasePinned(this.#pinned, CLIENT_TO_BACKEND);
    if (this.#state === 'relaying') this.client.resume();
  }

  /** The client socket flushed its writes: release their buffers, resume the backend. */
  drainClient(): void {
    if (this.client.writableLength === 0) releasePinned(this.#pinned, BACKEND_TO_CLIENT);
    if (this.#state === 'relaying' || this.#state === 'closing') this.upstream?.resume();
  }

  // Half-close, resets, timeouts and the close primitive (ending.ts carries them out).

  clientEnded(): void {
    this.#end.clientFin();
  }

  upstreamEnded(): void {
    this.#end.backendFin();
  }

  /** The host's periodic sweep: close the connection once it has been quiet past its timeout. */
  checkQuiet(nowMs: number): void {
    const end = this.#end;
    if (!end.quietExpired(nowMs)) return;
    if (this.#state !== 'relaying' && this.#state !== 'closing') return;
    end.quietLimitMs = 0;
    // Nothing in flight: FIN both ways, as for any idle connection. Bytes
    // still unsent in either direction (a peer stopped reading mid-reply):
    // RST both ways, so that the peer that misses them never takes the cut
    // stream for a complete one.
    if (end.unsent()) this.abort('idle_timeout');
    else this.closeGracefully('idle_timeout');
  }

  lifetimeEnded(): void {
    this.closeGracefully('lifetime');
  }

  clientErrored(): void {
    this.#end.sawReset = true;
    this.#end.note(null, 'client');
    const up = this.upstream;
    if (up === null) return;
    if (this.#state === 'connecting') up.destroy();
    else resetStream(up);
  }

  /** The backend stream failed: a failed attempt while connecting, a reset after. */
  upstreamErrored(err: Error | undefined): void {
    const local = localErrorKind(err);
    if (local !== undefined) this.host.localError(local);
    if (this.#state === 'connecting') {
      this.#attemptFailed(local === undefined ? 'connect_error' : 'local_error');
      return;
    }
    this.#end.sawReset = true;
    this.#end.note(local === undefined ? null : 'local_error', 'backend');
    resetStream(this.client);
  }

  /**
   * The one close primitive: FIN both ways, then after a grace period reset
   * whatever is still open (see Ending.closeGracefully). Serves shutdown
   * drain, backend drain expiry, lifetime and idle timeouts; the first
   * outcome recorded wins. A session still waiting or dialling closes at once.
   */
  closeGracefully(outcome: Outcome): void {
    if (this.#state === 'closing' || this.#state === 'done') return;
    this.#end.note(outcome, 'proxy');
    const connecting = this.#state === 'connecting';
    this.#state = 'closing';
    if (connecting) {
      this.upstream?.destroy();
      this.client.destroy();
      return;
    }
    this.#end.closeGracefully(outcome === 'idle_timeout');
  }

  graceExpired(): void {
    this.#end.resetBoth();
  }

  /**
   * Give up now: reset (RST, SO_LINGER 0) both sockets. For every close
   * that may cut a transfer: the forced exit of a second signal, a timeout
   * with bytes still unsent.
   */
  abort(outcome: Outcome): void {
    if (this.#state === 'done') return;
    this.#end.note(outcome, 'proxy');
    this.#state = 'closing';
    this.#end.resetBoth();
  }

  clientClosed(): void {
    const end = this.#end;
    end.clientClosed = true;
    const up = this.upstream;
    if (up !== null && !end.upstreamClosed) {
      const settings = this.host.settings;
      if (this.#state === 'connecting') {
        // The client is gone before a backend answered: abandon the attempt.
        end.outcome ??= 'reset';
        up.destroy();
      } else if (settings.idleTimeoutMs > 0 || settings.halfCloseTimeoutMs > 0) {
        // The upstream may still be flushing what the client sent; bound how long.
        end.armQuiet(settings.halfCloseTimeoutMs || settings.idleTimeoutMs);
      }
    }
    this.#maybeFinish();
  }

  upstreamClosed(stream: TcpStream): void {
    this.host.upstreamReleased(stream);
    if (stream !== this.upstream) return;
    this.#end.upstreamClosed = true;
    this.#maybeFinish();
  }

  /** Once both sockets are closed: stop every timer, account for the connection, tell the host. */
  #maybeFinish(): void {
    const end = this.#end;
    if (!end.clientClosed || !end.upstreamClosed || this.#state === 'done') return;
    this.#state = 'done';
    const now = this.host.clock.nowMs();
    this.#endedMs = now;
    this.#dial.finish();
    if (this.#preambleTimer !== undefined) clearTimeout(this.#preambleTimer);
    // Both sockets are closed: no write references the pinned buffers any more.
    releasePinned(this.#pinned, CLIENT_TO_BACKEND);
    releasePinned(this.#pinned, BACKEND_TO_CLIENT);
    end.finish(now, this.startedMs);
    this.host.sessionEnded(this);
  }
}
