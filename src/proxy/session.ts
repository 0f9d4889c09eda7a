import type { Backend, Closable } from '../backends/backend.ts';
import { ALL_FULL, type BackendPool } from '../backends/backend-pool.ts';
import type { PickContext } from '../balancing/balancer.ts';
import { unmapIPv4 } from '../core/address.ts';
import type { Clock } from '../core/clock.ts';
import { localErrorKind } from '../core/local-errors.ts';
import type { Outcome } from '../core/outcome.ts';
import type { ClosedFirst } from '../access-log/access-record.ts';
import type { ListenerMetrics } from '../metrics/proxy-metrics.ts';
import { ProxyHeaderReader, encodeProxyHeader, proxyAddressInfo } from '../proxy-protocol/index.ts';
import { ClientHelloReader, matchSniPattern } from '../sni/index.ts';
import type { StreamConnector, TcpStream } from './tcp-stream.ts';
import { LARGE_READ, acquireLarge, copyOfScratch, releaseLarge, scratch } from './read-buffers.ts';

/** Per-connection settings a listener hands to its sessions. */
export interface SessionSettings {
  readonly connectTimeoutMs: number;
  readonly connectRetries: number;
  /** 0 = no idle timeout. */
  readonly idleTimeoutMs: number;
  /** 0 = the idle timeout also covers half-closed connections. */
  readonly halfCloseTimeoutMs: number;
  /** 0 = TCP keepalive off. */
  readonly keepAliveMs: number;
  /** 0 = connections live as long as they like. */
  readonly maxLifetimeMs: number;
  /** How long a client may wait for a backend with room (`--queue-timeout`). */
  readonly queueTimeoutMs: number;
  /** Send a PROXY protocol header to backends (`--proxy-protocol`), or 0. */
  readonly sendProxyVersion: 0 | 1 | 2;
}

/** A PROXY protocol header must be complete within this long (the spec asks for at least 3 s). */
export const PROXY_HEADER_TIMEOUT_MS = 3000;

/** A TLS ClientHello must be complete within this long (`--route-by sni`). */
export const SNI_TIMEOUT_MS = 5000;

/** What a session needs from the listener that accepted it. */
export interface SessionHost {
  readonly name: string;
  readonly settings: SessionSettings;
  readonly pool: BackendPool;
  readonly metrics: ListenerMetrics;
  readonly clock: Clock;
  /** Opens the connection to a backend (bare libuv handles, or a fake in unit tests). */
  readonly connectUpstream: StreamConnector;
  /** Randomness for lifetime jitter. */
  readonly random: () => number;
  /** Whether this peer must first send a PROXY protocol header. */
  expectsProxyHeader(peerAddress: string): boolean;
  /** `--route-by sni`: the pattern the TLS server name must fit (`{hostname}.db.example.com`), or null. */
  readonly sniPattern: string | null;
  /** `--sni-strict`: close a connection whose server name names no backend. */
  readonly sniStrict: boolean;
  /** Several routes chosen by TLS server name (Gateway TLSRoutes): read the ClientHello. */
  readonly readsServerName?: boolean;
  /**
   * A listener serving several routes: the route (balancer group) that takes
   * a connection with this server name; null: refuse it (no route takes the
   * name, or it falls in the route's refused share); undefined: no routes.
   */
  pickGroup?(serverName: string | undefined): number | null | undefined;
  /**
   * Admission checks that need the client address (access control,
   * per-client limits): the outcome to close with, or null to go on.
   */
  admit(session: Session): Outcome | null;
  /**
   * Ask for a slot under `--max-connections`: granted now, waiting (the
   * host calls `granted()` later), or full (the bounded wait queue is full,
   * or `--reject-over-limit`).
   */
  acquireSlot(session: Session): 'granted' | 'waiting' | 'full';
  /** A local resource error (EMFILE...) on this session's upstream socket: count and warn. */
  localError(kind: string): void;
  /** Park a session until a backend has room; false if it cannot wait. */
  enqueue(session: Session): void;
  dequeue(session: Session): void;
  sessionEnded(session: Session): void;
}

/**
 * After a graceful close (FIN both ways), how long the peers get to finish
 * before both sockets are reset. Long enough for a reply in flight on a
 * healthy network, short enough that a drain deadline still means something.
 */
export const CLOSE_GRACE_MS = 2000;

/**
 * Client bytes read before a backend is connected (while the client waits
 * for a slot or a backend, and while the proxy dials) are kept for the
 * backend; past this much the client is paused. Reading at all is what lets
 * the proxy see a client leave (FIN or RST) while it waits.
 */
export const EARLY_LIMIT = 16 * 1024;

const NO_BACKENDS: readonly Backend[] = [];

// Numeric states rather than enums: type stripping (and erasableSyntaxOnly) allows no enums.
/** Reading a PROXY protocol header. */
const HEADER = 4;
/** Reading a TLS ClientHello for its server name (`--route-by sni`). */
const SNI = 5;
const CONNECTING = 0;
const RELAYING = 1;
const CLOSING = 2;
const DONE = 3;
type Phase =
  typeof HEADER | typeof SNI | typeof CONNECTING | typeof RELAYING | typeof CLOSING | typeof DONE;

/** First-byte timing: nothing sent yet. */
const FB_WAITING = 0;
/** The client spoke first; timing the backend's first byte. */
const FB_TIMING = 1;
/** Measured, or the server spoke first (no sample). */
const FB_SETTLED = 2;
type FirstByte = typeof FB_WAITING | typeof FB_TIMING | typeof FB_SETTLED;

/**
 * One client connection: pick a backend, connect with timeout and retries,
 * relay both ways with backpressure and half-close, propagate resets, and
 * record how it ended. Socket handlers are module-level functions that find
 * their session through a symbol on the socket, so a connection allocates no
 * closures.
 */
export class Session implements PickContext, Closable {
  readonly host: SessionHost;
  readonly client: TcpStream;
  /** The client's address: the peer's, or the one its PROXY protocol header gave. */
  clientAddress: string;
  clientPort: number;
  /** The peer's own address and port when a PROXY header named another client. */
  peerAddress: string | undefined;
  peerPort: number | undefined;
  /** The address the client connected to (as the PROXY header said, when one did). */
  #destAddress: string | undefined;
  #destPort: number | undefined;
  #header: ProxyHeaderReader | undefined;
  #headerTimer: NodeJS.Timeout | undefined;
  /** Bytes read before a backend was picked (after a PROXY header, a ClientHello): sent to it first. */
  #early: Buffer | undefined;
  #hello: ClientHelloReader | undefined;
  /** The backend the TLS server name named (`--route-by sni`). */
  #target: string | undefined;
  readonly startedMs: number;
  nowMs: number;
  tried: readonly Backend[] = NO_BACKENDS;
  /** The route chosen for this connection (host.pickGroup), for the balancer. */
  group: number | undefined;
  upstream: TcpStream | null = null;
  backend: Backend | null = null;
  attempts = 0;
  #phase: Phase = CONNECTING;
  #connected = false;
  #outcome: Outcome | null = null;
  #lastFailure: Outcome = 'connect_error';
  /** Who ended the connection first, for the access log. */
  #closedFirst: ClosedFirst | null = null;
  #connectMs: number | undefined;
  #firstByteMs: number | undefined;
  #endedMs = 0;
  #sawReset = false;
  #clientEnded = false;
  #upstreamEnded = false;
  #clientClosed = false;
  #upstreamClosed = true;
  #connectStartMs = 0;
  #firstByte: FirstByte = FB_WAITING;
  #firstSentMs = 0;
  #graceTimer: NodeJS.Timeout | undefined;
  #lifetimeTimer: NodeJS.Timeout | undefined;
  #queueTimer: NodeJS.Timeout | undefined;
  /**
   * Deadline of the current connection attempt. A timer of the session's own
   * rather than the upstream socket's timeout: net keeps a socket's cleared
   * timer for reuse, which every idle connection would then carry.
   */
  #connectTimer: NodeJS.Timeout | undefined;
  /**
   * Idle and half-close timeouts: the host sweeps its sessions (checkQuiet)
   * instead of each socket carrying a timer that every read and write would
   * re-arm. `#quietLimitMs` is the timeout in force (0 = none),
   * `#lastActiveMs` when bytes last arrived from either side or it was armed.
   */
  #quietLimitMs = 0;
  #lastActiveMs = 0;
  /**
   * Read buffers still referenced by unflushed writes: [0] client bytes
   * written upstream, [1] backend bytes written to the client.
   */
  readonly #pinned: [Buffer[] | null, Buffer[] | null] = [null, null];

  constructor(host: SessionHost, client: TcpStream) {
    this.host = host;
    this.client = client;
    this.clientAddress = unmapIPv4(client.remoteAddress ?? '');
    this.clientPort = client.remotePort ?? 0;
    this.startedMs = this.nowMs = host.clock.nowMs();
    client.owner = this;
    client.setHandler('error', onClientError);
    client.setHandler('close', onClientClose);
  }

  /**
   * Begin: read a PROXY header if this peer must send one, run the admission
   * checks, then pick a backend and connect. The client socket stays paused
   * (its bytes in the kernel) except while the header is read.
   */
  start(): void {
    if (this.host.expectsProxyHeader(this.clientAddress)) {
      this.#phase = HEADER;
      this.#header = new ProxyHeaderReader();
      this.#headerTimer = setTimeout(headerTimedOut, PROXY_HEADER_TIMEOUT_MS, this);
      this.#headerTimer.unref();
      this.client.setHandler('end', onClientEndDuringHeader);
      this.client.resume();
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
      this.#queueTimer = setTimeout(expireQueue, this.host.settings.queueTimeoutMs, this);
      this.#queueTimer.unref();
      return;
    }
    this.#proceed();
  }

  /** A slot under `--max-connections` freed up for this waiting session. */
  granted(): void {
    if (this.#queueTimer !== undefined) clearTimeout(this.#queueTimer);
    this.#queueTimer = undefined;
    if (this.#phase !== CONNECTING || this.#clientClosed) return;
    this.#proceed();
  }

  #proceed(): void {
    if (this.host.sniPattern !== null || this.host.readsServerName === true) {
      this.#readHello();
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
    this.group = group;
    return true;
  }

  /** Read the client while it waits for a backend (see EARLY_LIMIT). */
  #watchClient(): void {
    this.client.setHandler('end', onClientEndWhileConnecting);
    if ((this.#early?.length ?? 0) < EARLY_LIMIT) this.client.resume();
    else this.client.pause();
  }

  /** Client bytes before a backend is connected: kept for it. */
  #earlyRead(chunk: Buffer): void {
    const early = this.#early;
    this.#early = early === undefined ? Buffer.from(chunk) : Buffer.concat([early, chunk]);
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
    if (this.#phase !== CONNECTING) return;
    this.#clientEnded = true;
    this.#closedFirst ??= 'client';
    if ((this.#early?.length ?? 0) > 0) return;
    this.#outcome ??= 'client_left';
    this.client.destroy();
  }

  /** Read the TLS ClientHello (without terminating TLS) to route by its server name. */
  #readHello(): void {
    this.#phase = SNI;
    this.#hello = new ClientHelloReader();
    this.#headerTimer = setTimeout(headerTimedOut, SNI_TIMEOUT_MS, this);
    this.#headerTimer.unref();
    this.client.setHandler('end', onClientEndDuringHeader);
    const early = this.#early;
    this.#early = undefined;
    if (early !== undefined && this.#helloRead(early)) return;
    this.client.resume();
  }

  /** Client bytes while the ClientHello is read; true once it is settled. */
  #helloRead(chunk: Buffer): boolean {
    const reader = this.#hello as ClientHelloReader;
    // The reader keeps what it is given; our read buffer is reused.
    const result = reader.push(Buffer.from(chunk));
    if (result.kind === 'need-more') return false;
    this.client.pause();
    this.client.clearHandler('end', onClientEndDuringHeader);
    clearTimeout(this.#headerTimer);
    this.#headerTimer = undefined;
    this.#hello = undefined;
    if (result.kind === 'error') {
      this.refuse('rejected');
      return true;
    }
    // Every byte read so far goes to the backend: TLS continues end to end.
    this.#early = reader.buffered();
    if (!this.#chooseGroup(result.serverName)) return true;
    const name =
      result.serverName === undefined || this.host.sniPattern === null
        ? undefined
        : matchSniPattern(this.host.sniPattern, result.serverName);
    if (name === undefined && this.host.sniStrict) {
      this.refuse('no_backend');
      return true;
    }
    this.#target = name;
    this.#phase = CONNECTING;
    this.#watchClient();
    this.#connectNext();
    return true;
  }

  /** Client bytes while the PROXY header is read. */
  #headerRead(chunk: Buffer): void {
    // The reader may keep what it is given until the header is complete; our read buffer is reused.
    const result = (this.#header as ProxyHeaderReader).push(Buffer.from(chunk));
    if (result.kind === 'need-more') return;
    this.client.pause();
    this.client.clearHandler('end', onClientEndDuringHeader);
    clearTimeout(this.#headerTimer);
    this.#headerTimer = undefined;
    this.#header = undefined;
    if (result.kind === 'error') {
      this.refuse('proxy_protocol_error');
      return;
    }
    const h = result.header;
    if (h.command === 'proxy') {
      this.peerAddress = this.clientAddress;
      this.peerPort = this.clientPort;
      this.clientAddress = unmapIPv4(h.sourceAddress);
      this.clientPort = h.sourcePort;
      this.#destAddress = h.destAddress;
      this.#destPort = h.destPort;
    }
    if (result.rest.length > 0) this.#early = Buffer.from(result.rest);
    this.#phase = CONNECTING;
    this.#admitted();
  }

  /** The header (or ClientHello) did not arrive in time, or the client closed before sending it. */
  headerFailed(): void {
    if (this.#phase !== HEADER && this.#phase !== SNI) return;
    this.#headerTimer = undefined;
    this.refuse(this.#phase === HEADER ? 'proxy_protocol_error' : 'rejected');
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
    this.#outcome ??= outcome;
    this.#closedFirst ??= 'proxy';
    this.client.destroy();
  }

  /**
   * A queued session: a backend may have room now. The --queue-timeout
   * deadline keeps running until a backend is picked: being woken up does
   * not restart it.
   */
  retry(): void {
    if (this.#phase === CONNECTING && !this.#clientClosed) this.#connectNext();
  }

  /** Waited `--queue-timeout` for a backend with room. */
  queueExpired(): void {
    this.#queueTimer = undefined;
    this.host.dequeue(this);
    this.refuse('rejected');
  }

  /** For the access log once the session is done. */
  get closedFirst(): ClosedFirst | null {
    return this.#closedFirst;
  }

  get connectMs(): number | undefined {
    return this.#connectMs;
  }

  get firstByteMs(): number | undefined {
    return this.#firstByteMs;
  }

  get durationMs(): number {
    return this.#endedMs - this.startedMs;
  }

  /** True until the current attempt has connected (or the session gave up). */
  get connecting(): boolean {
    return this.#phase === CONNECTING;
  }

  get outcome(): Outcome | null {
    return this.#outcome;
  }

  /**
   * The one close primitive: FIN both ways, then after a grace period reset
   * whatever is still open. Serves shutdown drain, backend drain expiry and
   * idle timeouts; the first outcome recorded wins.
   */
  closeGracefully(outcome: Outcome): void {
    if (this.#phase === CLOSING || this.#phase === DONE) return;
    this.#outcome ??= outcome;
    this.#closedFirst ??= 'proxy';
    if (this.#phase === CONNECTING) {
      this.#phase = CLOSING;
      this.upstream?.destroy();
      this.client.destroy();
      return;
    }
    this.#phase = CLOSING;
    // Close from the client's side first: the backend gets FIN, and what it
    // still sends (a reply in flight) keeps flowing to the client until the
    // backend's own FIN, which ends the client side as usual. Client bytes
    // are read and discarded from now on, so its FIN is seen too. Whatever
    // is still open when the grace runs out is reset, so a client never
    // takes a cut reply for a complete one.
    // An idle connection has nothing in flight: both sides get FIN at once.
    this.client.resume();
    this.upstream?.resume();
    if (outcome === 'idle_timeout' || this.upstream === null || this.#upstreamEnded)
      this.client.end();
    this.upstream?.end();
    this.#graceTimer = setTimeout(resetBoth, CLOSE_GRACE_MS, this);
    this.#graceTimer.unref();
  }

  /** Reset both sockets now (the last step of the close primitive). */
  reset(): void {
    resetSocket(this.client);
    if (this.upstream !== null) resetSocket(this.upstream);
  }

  #connectNext(): void {
    const host = this.host;
    this.nowMs = host.clock.nowMs();
    let backend = host.pool.pickWithRoom(this, this.#target);
    if (backend === undefined && this.#target !== undefined && !host.sniStrict) {
      // The named pod is unknown, down, ejected or already failed: as the
      // docs say, the connection goes to the strategy (--sni-strict refuses).
      this.#target = undefined;
      backend = host.pool.pickWithRoom(this);
    }
    if (backend === ALL_FULL) {
      // Every backend is at its limit: wait in the listener's queue (bounded in time).
      if (this.#queueTimer === undefined) {
        this.#queueTimer = setTimeout(expireQueue, host.settings.queueTimeoutMs, this);
        this.#queueTimer.unref();
      }
      host.enqueue(this);
      return;
    }
    if (backend === undefined) {
      this.#outcome ??= this.attempts === 0 ? 'no_backend' : this.#lastFailure;
      this.#closedFirst ??= 'proxy';
      this.client.destroy();
      return;
    }
    if (this.#queueTimer !== undefined) {
      clearTimeout(this.#queueTimer);
      this.#queueTimer = undefined;
    }
    this.attempts++;
    this.backend = backend;
    host.pool.attach(backend, this);
    const keepAliveMs = host.settings.keepAliveMs;
    const up = host.connectUpstream(backend.endpoint.address, backend.endpoint.port, {
      onRead: onUpstreamRead,
      buffer: scratch,
      keepAliveMs,
    });
    up.owner = this;
    this.upstream = up;
    this.#upstreamClosed = false;
    up.setHandler('connect', onUpstreamConnect);
    up.setHandler('error', onUpstreamError);
    up.setHandler('close', onUpstreamClose);
    this.#connectTimer = setTimeout(connectTimedOut, host.settings.connectTimeoutMs, this);
    this.#connectStartMs = this.nowMs;
  }

  #clearConnectTimer(): void {
    if (this.#connectTimer === undefined) return;
    clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
  }

  /**
   * The current attempt failed before the connection was established.
   * `local_error`: this process ran out of file descriptors or buffers — the
   * backend was never asked, so it is not blamed (no failure, no ejection)
   * and no retry is made (it would meet the same shortage).
   */
  attemptFailed(kind: 'connect_error' | 'connect_timeout' | 'local_error'): void {
    const backend = this.backend;
    const up = this.upstream;
    if (backend === null || up === null) return;
    this.#clearConnectTimer();
    this.host.pool.detach(backend, this);
    if (kind !== 'local_error') {
      backend.failures++;
      this.host.pool.connectFailed(backend);
      this.tried = this.tried === NO_BACKENDS ? [backend] : [...this.tried, backend];
    }
    this.#lastFailure = kind;
    this.backend = null;
    this.upstream = null;
    this.#upstreamClosed = true;
    up.destroy();
    if (this.#phase !== CONNECTING || this.#clientClosed) {
      this.#maybeFinish();
      return;
    }
    if (kind !== 'local_error' && this.attempts <= this.host.settings.connectRetries) {
      this.#connectNext();
    } else {
      this.#outcome ??= kind;
      this.#closedFirst ??= 'proxy';
      this.client.destroy();
    }
  }

  connected(): void {
    const host = this.host;
    const up = this.upstream as TcpStream;
    this.#phase = RELAYING;
    this.#connected = true;
    this.#clearConnectTimer();
    const backend = this.backend as Backend;
    const now = host.clock.nowMs();
    const connectMs = now - this.#connectStartMs;
    this.#connectMs = connectMs;
    backend.recordConnect(connectMs, now);
    host.pool.connectSucceeded(backend);
    host.pool.balancer.onConnect?.(backend, connectMs);
    if (host.settings.sendProxyVersion !== 0)
      up.write(this.#proxyHeader(host.settings.sendProxyVersion));
    if (this.#early !== undefined) {
      up.write(this.#early);
      this.#early = undefined;
      this.#firstByte = FB_TIMING;
      this.#firstSentMs = now;
    }
    const client = this.client;
    client.setHandler('end', onClientEnd);
    client.setHandler('drain', onClientDrain);
    up.setHandler('end', onUpstreamEnd);
    up.setHandler('drain', onUpstreamDrain);
    this.#armQuiet(host.settings.idleTimeoutMs);
    if (this.#clientEnded) {
      // The client half-closed while the proxy dialled: pass its FIN on after its bytes.
      up.end();
      this.#armHalfClose();
    }
    const lifetimeMs = host.settings.maxLifetimeMs;
    if (lifetimeMs > 0) {
      // ±10 % jitter, so connections opened together do not all reconnect together.
      this.#lifetimeTimer = setTimeout(endLifetime, lifetimeMs * (0.9 + 0.2 * host.random()), this);
      this.#lifetimeTimer.unref();
    }
    client.resume();
  }

  /**
   * `nread` client bytes landed in `buf` (the client socket reads with
   * `onread`): relay them upstream and return the buffer for the next read.
   */
  clientRead(nread: number, buf: Buffer): Buffer {
    if (this.#phase !== RELAYING) {
      if (this.#phase === HEADER) this.#headerRead(buf.subarray(0, nread));
      else if (this.#phase === SNI) this.#helloRead(buf.subarray(0, nread));
      else if (this.#phase === CONNECTING) this.#earlyRead(buf.subarray(0, nread));
      return buf;
    }
    if (this.#quietLimitMs > 0) this.#lastActiveMs = this.host.clock.nowMs();
    if (this.#firstByte === FB_WAITING) {
      this.#firstByte = FB_TIMING;
      this.#firstSentMs = this.host.clock.nowMs();
    }
    return this.#relay(this.client, this.upstream as TcpStream, nread, buf, 0);
  }

  /** `nread` backend bytes landed in `buf`: relay them to the client; returns the next read buffer. */
  upstreamRead(nread: number, buf: Buffer): Buffer {
    // While closing gracefully the backend's reply still reaches the client.
    if (this.#phase !== RELAYING && this.#phase !== CLOSING) return buf;
    if (this.#quietLimitMs > 0) this.#lastActiveMs = this.host.clock.nowMs();
    if (this.#firstByte !== FB_SETTLED) {
      if (this.#firstByte === FB_TIMING) {
        const backend = this.backend as Backend;
        const now = this.host.clock.nowMs();
        this.#firstByteMs = now - this.#firstSentMs;
        backend.recordFirstByte(this.#firstByteMs, now);
        this.host.pool.balancer.onFirstByte?.(backend, now - this.#firstSentMs);
      }
      this.#firstByte = FB_SETTLED;
    }
    return this.#relay(this.upstream as TcpStream, this.client, nread, buf, 1);
  }

  /**
   * Write what `from` read into `to`, pausing `from` when `to` is backed up,
   * and return the buffer for the next read (see read-buffers.ts). Bytes in
   * the shared scratch are written as a copy. A large buffer of this
   * connection's that the write still references (not flushed synchronously)
   * is pinned until `to` drains; otherwise it is reused or returned.
   */
  #relay(from: TcpStream, to: TcpStream, nread: number, buf: Buffer, dir: 0 | 1): Buffer {
    if (this.#pinned[dir] !== null && to.writableLength === 0) this.#releasePinned(dir);
    if (buf === scratch) {
      if (nread < LARGE_READ) {
        if (!to.write(copyOfScratch(nread))) from.pause();
        return scratch;
      }
      // A full read: a bulk transfer starts; carry on in a large buffer of our own.
      const own = acquireLarge();
      scratch.copy(own);
      return this.#writeOwn(from, to, own, nread, dir);
    }
    return this.#writeOwn(from, to, buf, nread, dir);
  }

  #writeOwn(from: TcpStream, to: TcpStream, own: Buffer, nread: number, dir: 0 | 1): Buffer {
    if (!to.write(nread === own.length ? own : own.subarray(0, nread))) from.pause();
    const flushed = to.writableLength === 0;
    if (!flushed) (this.#pinned[dir] ??= []).push(own);
    if (nread < own.length) {
      // A short read: the transfer paused; back to the shared scratch.
      if (flushed) releaseLarge(own);
      return scratch;
    }
    return flushed ? own : acquireLarge();
  }

  #releasePinned(dir: 0 | 1): void {
    const pinned = this.#pinned[dir];
    if (pinned === null) return;
    this.#pinned[dir] = null;
    for (const b of pinned) releaseLarge(b);
  }

  clientEnded(): void {
    this.#clientEnded = true;
    this.#closedFirst ??= 'client';
    this.upstream?.end();
    this.#armHalfClose();
  }

  upstreamEnded(): void {
    this.#upstreamEnded = true;
    this.#closedFirst ??= 'backend';
    this.client.end();
    this.#armHalfClose();
  }

  /** Once one side has sent FIN, the half-close timeout replaces the idle timeout. */
  #armHalfClose(): void {
    const ms = this.host.settings.halfCloseTimeoutMs;
    if (ms <= 0 || this.#clientEnded === this.#upstreamEnded) return;
    this.#armQuiet(ms);
  }

  /** The upstream socket flushed its writes: release their buffers, resume the client. */
  drainUpstream(): void {
    if ((this.upstream as TcpStream).writableLength === 0) this.#releasePinned(0);
    if (this.#phase === RELAYING) this.client.resume();
  }

  /** The client socket flushed its writes: release their buffers, resume the backend. */
  drainClient(): void {
    if (this.client.writableLength === 0) this.#releasePinned(1);
    if (this.#phase === RELAYING || this.#phase === CLOSING) this.upstream?.resume();
  }

  /**
   * The idle (or half-close) timeout fired. Nothing in flight: FIN both
   * ways, as for any idle connection. Bytes still unsent in either direction
   * (a peer stopped reading mid-reply): RST both ways, so that the peer that
   * misses them never takes the cut stream for a complete one.
   */
  timedOut(): void {
    if (this.client.writableLength > 0 || (this.upstream?.writableLength ?? 0) > 0) {
      this.abort('idle_timeout');
      return;
    }
    this.closeGracefully('idle_timeout');
  }

  /**
   * Give up now: reset (RST, SO_LINGER 0) both sockets. For every close
   * that may cut a transfer: the forced exit of a second signal, a timeout
   * with bytes still unsent.
   */
  abort(outcome: Outcome): void {
    if (this.#phase === DONE) return;
    this.#outcome ??= outcome;
    this.#closedFirst ??= 'proxy';
    if (this.#phase !== CLOSING) this.#phase = CLOSING;
    this.reset();
  }

  #armQuiet(limitMs: number): void {
    this.#quietLimitMs = limitMs;
    if (limitMs > 0) this.#lastActiveMs = this.host.clock.nowMs();
  }

  /** The host's periodic sweep: close the connection once it has been quiet past its timeout. */
  checkQuiet(nowMs: number): void {
    if (this.#quietLimitMs === 0 || nowMs - this.#lastActiveMs < this.#quietLimitMs) return;
    if (this.#phase === RELAYING || this.#phase === CLOSING) {
      this.#quietLimitMs = 0;
      this.timedOut();
    }
  }

  clientErrored(): void {
    this.#sawReset = true;
    this.#closedFirst ??= 'client';
    const up = this.upstream;
    if (up === null) return;
    if (this.#phase === CONNECTING) up.destroy();
    else resetSocket(up);
  }

  upstreamErrored(err: Error | undefined): void {
    const local = localErrorKind(err);
    if (local !== undefined) {
      this.#outcome ??= 'local_error';
      this.host.localError(local);
    }
    this.#sawReset = true;
    this.#closedFirst ??= 'backend';
    resetSocket(this.client);
  }

  clientClosed(): void {
    this.#clientClosed = true;
    const up = this.upstream;
    if (up !== null && !this.#upstreamClosed) {
      if (this.#phase === CONNECTING) {
        // The client is gone before a backend answered: abandon the attempt.
        this.#outcome ??= 'reset';
        up.destroy();
      } else if (
        this.host.settings.idleTimeoutMs > 0 ||
        this.host.settings.halfCloseTimeoutMs > 0
      ) {
        // The upstream may still be flushing what the client sent; bound how long.
        this.#armQuiet(this.host.settings.halfCloseTimeoutMs || this.host.settings.idleTimeoutMs);
      }
    }
    this.#maybeFinish();
  }

  upstreamClosed(): void {
    this.#upstreamClosed = true;
    this.#maybeFinish();
  }

  #maybeFinish(): void {
    if (!this.#clientClosed || !this.#upstreamClosed || this.#phase === DONE) return;
    this.#phase = DONE;
    this.#endedMs = this.host.clock.nowMs();
    this.#clearConnectTimer();
    if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
    if (this.#lifetimeTimer !== undefined) clearTimeout(this.#lifetimeTimer);
    if (this.#headerTimer !== undefined) clearTimeout(this.#headerTimer);
    if (this.#queueTimer !== undefined) {
      clearTimeout(this.#queueTimer);
      this.host.dequeue(this);
    }
    // Both sockets are closed: no write references the pinned buffers any more.
    this.#releasePinned(0);
    this.#releasePinned(1);
    const outcome = this.#outcome ?? (this.#sawReset ? 'reset' : 'ok');
    this.#outcome = outcome;
    const backend = this.backend;
    const bytesFromClient = this.client.bytesRead;
    if (backend !== null) {
      const bytesFromBackend = this.upstream?.bytesRead ?? 0;
      backend.bytesFromClient += bytesFromClient;
      backend.bytesFromBackend += bytesFromBackend;
      if (this.#connected) {
        const now = this.host.clock.nowMs();
        backend.recordSession(now - this.startedMs, now);
      }
      // Count before detaching: detaching the last connection of a backend that
      // left discovery removes its series, and they must not come back.
      backend.metrics.connectionClosed(outcome, bytesFromClient, bytesFromBackend);
      this.host.pool.detach(backend, this);
    } else {
      this.host.metrics.connectionClosedWithoutBackend(outcome, bytesFromClient);
    }
    this.host.sessionEnded(this);
  }
}

function resetSocket(socket: TcpStream): void {
  if (socket.destroyed) return;
  if (socket.connecting) socket.destroy();
  else socket.resetAndDestroy();
}

function resetBoth(session: Session): void {
  session.reset();
}

function connectTimedOut(session: Session): void {
  if (session.connecting) session.attemptFailed('connect_timeout');
}

function headerTimedOut(session: Session): void {
  session.headerFailed();
}

function onClientEndDuringHeader(this: TcpStream): void {
  sessionOf(this)?.headerFailed();
}

function onClientEndWhileConnecting(this: TcpStream): void {
  sessionOf(this)?.clientEndedWhileConnecting();
}

function expireQueue(session: Session): void {
  session.queueExpired();
}

function endLifetime(session: Session): void {
  session.closeGracefully('lifetime');
}

function sessionOf(socket: TcpStream): Session | undefined {
  return socket.owner as Session | undefined;
}

// Socket event handlers: `this` is the socket. Stale upstream sockets (a
// failed attempt already replaced) are ignored by comparing with session.upstream.

/** The read callback of accepted client sockets (see listener.ts): returns the next read buffer. */
export function onClientRead(socket: TcpStream, nread: number, buf: Buffer): Buffer {
  const s = sessionOf(socket);
  return s === undefined ? buf : s.clientRead(nread, buf);
}

function onUpstreamRead(socket: TcpStream, nread: number, buf: Buffer): Buffer {
  const s = sessionOf(socket);
  return s === undefined || s.upstream !== socket ? buf : s.upstreamRead(nread, buf);
}

function onClientEnd(this: TcpStream): void {
  sessionOf(this)?.clientEnded();
}

function onUpstreamEnd(this: TcpStream): void {
  const s = sessionOf(this);
  if (s?.upstream === this) s.upstreamEnded();
}

function onClientDrain(this: TcpStream): void {
  sessionOf(this)?.drainClient();
}

function onUpstreamDrain(this: TcpStream): void {
  const s = sessionOf(this);
  if (s?.upstream === this) s.drainUpstream();
}

function onUpstreamConnect(this: TcpStream): void {
  const s = sessionOf(this);
  if (s?.upstream === this) s.connected();
}

function onClientError(this: TcpStream): void {
  sessionOf(this)?.clientErrored();
}

function onUpstreamError(this: TcpStream, err?: Error): void {
  const s = sessionOf(this);
  if (s?.upstream !== this) return;
  if (!s.connecting) {
    s.upstreamErrored(err);
    return;
  }
  const local = localErrorKind(err);
  if (local === undefined) {
    s.attemptFailed('connect_error');
    return;
  }
  s.host.localError(local);
  s.attemptFailed('local_error');
}

function onClientClose(this: TcpStream): void {
  sessionOf(this)?.clientClosed();
}

function onUpstreamClose(this: TcpStream): void {
  const s = sessionOf(this);
  if (s?.upstream === this) s.upstreamClosed();
}
