import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_SETTINGS,
  FakeSessionHost,
  type FakeHostOptions,
} from '../../test/kit/fake-session-host.ts';
import type { FakeStream } from '../../test/kit/fake-stream.ts';
import { clientHello } from '../../test/kit/client-hello.ts';
import type { Outcome } from '../core/outcome.ts';
import { LARGE_READ, scratch } from './read-buffers.ts';
import {
  CLOSE_GRACE_MS,
  PROXY_HEADER_TIMEOUT_MS,
  SNI_TIMEOUT_MS,
  type Session,
} from './session.ts';

/**
 * A session driven step by step over fake streams, fake timers and a fake
 * host with a real BackendPool: what each step of a connection's life does to
 * the sockets, the bytes, the metrics, the access log and the backends.
 */

const A = '10.0.0.1:80';
const B = '10.0.0.2:80';

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});

afterEach(() => {
  vi.useRealTimers();
});

/** One proxied connection under test. */
interface Conn {
  readonly host: FakeSessionHost;
  readonly session: Session;
  readonly client: FakeStream;
}

function open(opts: FakeHostOptions = {}, address?: string): Conn {
  const host = new FakeSessionHost(opts);
  const { session, client } = host.accept(address);
  return { host, session, client };
}

/** Let time pass: fake timers fire, then the events they caused land. */
function pass(host: FakeSessionHost, ms: number): void {
  vi.advanceTimersByTime(ms);
  host.net.flush();
}

/** Open a connection and connect it to its first backend after `connectMs`. */
function connected(opts: FakeHostOptions = {}, connectMs = 3): Conn & { up: FakeStream } {
  const c = open(opts);
  const up = c.host.net.lastDial;
  pass(c.host, connectMs);
  up.accept();
  return { ...c, up };
}

/** Both peers send FIN; the sockets close. */
function finishCleanly(c: Conn & { up: FakeStream }): void {
  c.client.peerEnd();
  c.up.peerEnd();
  c.host.net.flush();
}

function backendFigures(host: FakeSessionHost, id: string) {
  const b = host.backend(id);
  return {
    open: b.open,
    total: b.total,
    failures: b.failures,
    bytesFromClient: b.bytesFromClient,
    bytesFromBackend: b.bytesFromBackend,
    sessions: b.sessions.size,
  };
}

describe('Session: a whole connection', () => {
  it('connects, relays both ways, closes on FIN both ways and accounts for it', () => {
    const c = connected({}, 7);
    expect(c.host.net.dials.map((d) => `${d.host}:${d.port}`)).toEqual([A]);
    expect(c.client.paused).toBe(false);
    c.client.receive('ping');
    expect(c.up.text).toBe('ping');
    pass(c.host, 5);
    c.up.receive('pong!');
    expect(c.client.text).toBe('pong!');
    pass(c.host, 10);
    finishCleanly(c);

    expect(c.client.closed && c.up.closed).toBe(true);
    expect(c.host.sessions.size).toBe(0);
    expect(c.host.record).toMatchObject({
      listener: 'test',
      peerAddress: '192.0.2.10',
      peerPort: 40000,
      clientAddress: undefined,
      backendId: A,
      backendAddress: A,
      bytesFromClient: 4,
      bytesFromBackend: 5,
      durationMs: 22,
      connectMs: 7,
      firstByteMs: 5,
      attempts: 1,
      retries: 0,
      outcome: 'ok',
      closedFirst: 'client',
    });
    expect(c.host.metrics.closed).toEqual([
      { backend: A, outcome: 'ok', bytesFromClient: 4, bytesFromBackend: 5 },
    ]);
    expect(c.host.metrics.active.get(A)).toBe(0);
    expect(c.host.metrics.connectSeconds).toEqual([0.007]);
    expect(c.host.metrics.firstByteSeconds).toEqual([0.005]);
    expect(c.host.metrics.sessionSeconds).toEqual([0.022]);
    expect(backendFigures(c.host, A)).toEqual({
      open: 0,
      total: 1,
      failures: 0,
      bytesFromClient: 4,
      bytesFromBackend: 5,
      sessions: 0,
    });
    expect(c.host.gate.active).toBe(0);
  });

  it('keeps client bytes sent while it dials and delivers them first', () => {
    const c = open();
    c.client.receive('early ');
    c.client.receive('bird');
    const up = c.host.net.lastDial;
    expect(up.written).toEqual([]);
    up.accept();
    expect(up.text).toBe('early bird');
    c.client.receive('!');
    expect(up.text).toBe('early bird!');
  });

  it('opens the backend connection with the TCP keepalive setting', () => {
    const c = open({ settings: { keepAliveMs: 30_000 } });
    expect(c.host.net.dials[0]?.keepAliveMs).toBe(30_000);
    expect(c.host.net.lastDial.owner).toBe(c.session);
  });
});

describe('Session: admission', () => {
  it.each<{ name: string; opts: FakeHostOptions; outcome: Outcome }>([
    { name: 'a denied address', opts: { denied: ['192.0.2.10'] }, outcome: 'denied' },
    { name: 'no backend at all', opts: { backends: [] }, outcome: 'no_backend' },
  ])('refuses $name without a backend connection', ({ opts, outcome }) => {
    const c = open(opts);
    c.host.net.flush();
    expect(c.client.calls).toContain('destroy');
    expect(c.host.net.dials).toHaveLength(0);
    expect(c.host.record).toMatchObject({ outcome, closedFirst: 'proxy', attempts: 0 });
    expect(c.host.metrics.closed).toEqual([
      { backend: null, outcome, bytesFromClient: 0, bytesFromBackend: 0 },
    ]);
  });

  it('limits connections per client address and frees the place when one ends', () => {
    const host = new FakeSessionHost({ maxPerClient: 1 });
    const first = host.accept('192.0.2.10', 1);
    const second = host.accept('192.0.2.10', 2);
    const other = host.accept('192.0.2.11', 3);
    host.net.flush();
    expect(second.client.did('destroy')).toBe(true);
    expect(host.accessLog.map((r) => r.outcome)).toEqual(['rejected']);
    expect(host.net.dials).toHaveLength(2);
    expect(other.client.did('destroy')).toBe(false);
    first.client.peerReset();
    host.net.flush();
    const third = host.accept('192.0.2.10', 4);
    expect(third.client.did('destroy')).toBe(false);
    expect(host.net.dials).toHaveLength(3);
  });

  it('waits for a slot under --max-connections and connects once one frees up', () => {
    const host = new FakeSessionHost({ maxConnections: 1 });
    const first = host.accept('192.0.2.10', 1);
    const waiting = host.accept('192.0.2.10', 2);
    expect(host.net.dials).toHaveLength(1);
    expect(host.gate.waiting).toBe(1);
    // The waiting client is read (its bytes kept), so its FIN or RST is seen.
    waiting.client.receive('hello');
    first.client.peerReset();
    host.net.flush();
    expect(host.net.dials).toHaveLength(2);
    host.net.lastDial.accept();
    expect(host.net.lastDial.text).toBe('hello');
    expect(waiting.client.did('destroy')).toBe(false);
  });

  it('gives up waiting for a slot after --queue-timeout', () => {
    const host = new FakeSessionHost({ maxConnections: 1, settings: { queueTimeoutMs: 500 } });
    host.accept('192.0.2.10', 1);
    const waiting = host.accept('192.0.2.10', 2);
    pass(host, 499);
    expect(waiting.client.did('destroy')).toBe(false);
    pass(host, 1);
    expect(waiting.client.did('destroy')).toBe(true);
    expect(host.record).toMatchObject({ outcome: 'rejected', closedFirst: 'proxy', attempts: 0 });
    expect(host.gate.waiting).toBe(0);
  });

  it('frees its place in the slot queue when the waiting client leaves', () => {
    const host = new FakeSessionHost({ maxConnections: 1 });
    host.accept('192.0.2.10', 1);
    const waiting = host.accept('192.0.2.10', 2);
    waiting.client.peerEnd();
    host.net.flush();
    expect(host.record).toMatchObject({ outcome: 'client_left', closedFirst: 'client' });
    expect(host.gate.waiting).toBe(0);
  });
});

describe('Session: PROXY protocol header from the peer', () => {
  const peer = '192.0.2.10';
  const header = 'PROXY TCP4 203.0.113.7 198.51.100.1 5555 443\r\n';

  it('takes the client address from the header and passes the bytes after it on', () => {
    const c = open({ proxyHeaderFrom: [peer] });
    expect(c.host.net.dials).toHaveLength(0);
    expect(c.client.paused).toBe(false);
    c.client.receive(header.slice(0, 10));
    c.client.receive(header.slice(10) + 'hello');
    const up = c.host.net.lastDial;
    up.accept();
    expect(up.text).toBe('hello');
    up.peerEnd();
    c.client.peerEnd();
    c.host.net.flush();
    expect(c.host.record).toMatchObject({
      peerAddress: peer,
      peerPort: 40000,
      clientAddress: '203.0.113.7',
      clientPort: 5555,
      outcome: 'ok',
    });
  });

  it('passes the header’s client and destination on in its own header (--proxy-protocol v1)', () => {
    const c = open({ proxyHeaderFrom: [peer], settings: { sendProxyVersion: 1 } });
    c.client.receive(header + 'x');
    c.host.net.lastDial.accept();
    expect(c.host.net.lastDial.text).toBe('PROXY TCP4 203.0.113.7 198.51.100.1 5555 443\r\nx');
  });

  it('sends a header naming the peer when none was received (--proxy-protocol v1)', () => {
    const c = open({ settings: { sendProxyVersion: 1 } });
    c.host.net.lastDial.accept();
    expect(c.host.net.lastDial.text).toBe('PROXY TCP4 192.0.2.10 127.0.0.1 40000 7000\r\n');
  });

  it('admits by the header’s client address', () => {
    const c = open({ proxyHeaderFrom: [peer], denied: ['203.0.113.7'] });
    c.client.receive(header);
    c.host.net.flush();
    expect(c.host.record).toMatchObject({ outcome: 'denied', clientAddress: '203.0.113.7' });
  });

  it.each<{ name: string; act: (c: Conn) => void }>([
    { name: 'a malformed header', act: (c) => c.client.receive('GET / HTTP/1.1\r\n\r\n') },
    { name: 'a FIN before the header', act: (c) => c.client.peerEnd() },
    { name: 'no header in time', act: (c) => pass(c.host, PROXY_HEADER_TIMEOUT_MS) },
  ])('closes with proxy_protocol_error on $name', ({ act }) => {
    const c = open({ proxyHeaderFrom: [peer] });
    act(c);
    c.host.net.flush();
    expect(c.client.did('destroy')).toBe(true);
    expect(c.host.net.dials).toHaveLength(0);
    expect(c.host.record).toMatchObject({ outcome: 'proxy_protocol_error', closedFirst: 'proxy' });
  });
});

describe('Session: routing by TLS server name (--route-by sni)', () => {
  const sni = (strict = false): FakeHostOptions => ({
    sniPattern: '{hostname}.db.example.com',
    sniStrict: strict,
    backends: [A, B],
  });

  function withPods(c: Conn): void {
    c.host.pool.applySnapshot({
      endpoints: [
        { id: A, address: '10.0.0.1', port: 80, weight: 1, state: 'ready', pod: 'db-0' },
        { id: B, address: '10.0.0.2', port: 80, weight: 1, state: 'ready', pod: 'db-1' },
      ],
      updatedAtMs: 0,
    });
  }

  it('connects to the backend the server name names and forwards the whole hello', () => {
    const c = open(sni());
    withPods(c);
    const hello = clientHello('db-1.db.example.com');
    c.client.receive(hello.subarray(0, 20));
    expect(c.host.net.dials).toHaveLength(0);
    c.client.receive(hello.subarray(20));
    expect(c.host.net.dials.map((d) => `${d.host}:${d.port}`)).toEqual([B]);
    c.host.net.lastDial.accept();
    expect(c.host.net.lastDial.written).toEqual([hello]);
  });

  const unknownPod = clientHello('db-9.db.example.com');
  const otherDomain = clientHello('www.example.org');
  it.each<{
    name: string;
    strict: boolean;
    bytes: Buffer;
    dials: string[];
    outcome: Outcome | null;
  }>([
    {
      name: 'an unknown pod: to the strategy',
      strict: false,
      bytes: unknownPod,
      dials: [A],
      outcome: null,
    },
    {
      name: 'an unknown pod (strict): refused',
      strict: true,
      bytes: unknownPod,
      dials: [],
      outcome: 'no_backend',
    },
    {
      name: 'another domain: to the strategy',
      strict: false,
      bytes: otherDomain,
      dials: [A],
      outcome: null,
    },
    {
      name: 'another domain (strict): refused',
      strict: true,
      bytes: otherDomain,
      dials: [],
      outcome: 'no_backend',
    },
    {
      name: 'bytes that are not TLS: rejected',
      strict: false,
      bytes: Buffer.from('SSH-2.0-x\r\n'),
      dials: [],
      outcome: 'rejected',
    },
  ])('with $name', ({ strict, bytes, dials, outcome }) => {
    const c = open(sni(strict));
    withPods(c);
    c.client.receive(bytes);
    c.host.net.flush();
    expect(c.host.net.dials.map((d) => `${d.host}:${d.port}`)).toEqual(dials);
    if (outcome === null) {
      expect(c.host.accessLog).toEqual([]);
      c.host.net.lastDial.accept();
      expect(c.host.net.lastDial.written).toEqual([bytes]);
    } else {
      expect(c.host.record).toMatchObject({ outcome, closedFirst: 'proxy' });
    }
  });

  it('rejects a client whose hello does not arrive in time', () => {
    const c = open(sni());
    pass(c.host, SNI_TIMEOUT_MS);
    expect(c.host.record).toMatchObject({ outcome: 'rejected', closedFirst: 'proxy' });
  });
});

describe('Session: connect failures and retries', () => {
  it('retries a refused connection on a backend not tried yet', () => {
    const c = open({ settings: { connectRetries: 1 } });
    const first = c.host.net.lastDial;
    first.refuse();
    c.host.net.flush();
    const second = c.host.net.lastDial;
    expect(c.host.net.dials.map((d) => `${d.host}:${d.port}`)).toEqual([A, B]);
    second.accept();
    finishCleanly({ ...c, up: second });
    expect(c.host.record).toMatchObject({ backendId: B, attempts: 2, retries: 1, outcome: 'ok' });
    expect(backendFigures(c.host, A)).toMatchObject({ failures: 1, total: 1, open: 0 });
    expect(backendFigures(c.host, B)).toMatchObject({ failures: 0, total: 1, open: 0 });
    expect(c.host.metrics.active.get(A)).toBe(0);
    expect(c.host.metrics.closed).toEqual([
      { backend: B, outcome: 'ok', bytesFromClient: 0, bytesFromBackend: 0 },
    ]);
  });

  it.each<{ name: string; fail: (c: Conn, up: FakeStream) => void; outcome: Outcome }>([
    { name: 'refused', fail: (_c, up) => up.refuse(), outcome: 'connect_error' },
    { name: 'timing out', fail: (c) => pass(c.host, 1000), outcome: 'connect_timeout' },
  ])('closes the client once every attempt failed ($name)', ({ fail, outcome }) => {
    const c = open({ settings: { connectRetries: 1, connectTimeoutMs: 1000 } });
    const first = c.host.net.lastDial;
    fail(c, first);
    c.host.net.flush();
    expect(first.destroyed).toBe(true);
    const second = c.host.net.lastDial;
    expect(second).not.toBe(first);
    fail(c, second);
    c.host.net.flush();
    expect(c.host.net.dials).toHaveLength(2);
    expect(c.client.did('destroy')).toBe(true);
    expect(c.host.record).toMatchObject({
      outcome,
      closedFirst: 'proxy',
      attempts: 2,
      retries: 1,
      backendId: B,
    });
    expect(c.host.metrics.closed).toEqual([
      { backend: null, outcome, bytesFromClient: 0, bytesFromBackend: 0 },
    ]);
    expect(backendFigures(c.host, A)).toMatchObject({ failures: 1, open: 0, sessions: 0 });
    expect(backendFigures(c.host, B)).toMatchObject({ failures: 1, open: 0, sessions: 0 });
  });

  it('ejects a backend after consecutive connect failures (passive health)', () => {
    const c = open({ ejectAfter: 1, settings: { connectRetries: 0 } });
    c.host.net.lastDial.refuse();
    c.host.net.flush();
    expect(c.host.backend(A).state).toBe('ejected');
    expect(c.host.backend(A).ejections).toBe(1);
  });

  it('blames no backend for a local resource error and does not retry', () => {
    const c = open({ settings: { connectRetries: 3 } });
    c.host.net.lastDial.refuse('EMFILE');
    c.host.net.flush();
    expect(c.host.net.dials).toHaveLength(1);
    expect(c.host.localErrors).toEqual(['emfile']);
    expect(c.host.record).toMatchObject({ outcome: 'local_error', closedFirst: 'proxy' });
    expect(backendFigures(c.host, A)).toMatchObject({ failures: 0, open: 0 });
  });

  it.each<{ name: string; leave: (client: FakeStream) => void; outcome: Outcome; first: string }>([
    {
      name: 'FIN with nothing sent',
      leave: (cl) => cl.peerEnd(),
      outcome: 'client_left',
      first: 'client',
    },
    { name: 'reset', leave: (cl) => cl.peerReset(), outcome: 'reset', first: 'client' },
  ])(
    'abandons the attempt when the client leaves while it dials ($name)',
    ({ leave, outcome, first }) => {
      const c = open();
      const up = c.host.net.lastDial;
      leave(c.client);
      c.host.net.flush();
      expect(up.did('destroy')).toBe(true);
      expect(c.host.record).toMatchObject({ outcome, closedFirst: first, attempts: 1 });
      expect(backendFigures(c.host, A)).toMatchObject({ failures: 0, open: 0, sessions: 0 });
    },
  );

  it('goes on after a client half-closes a request while it dials, and passes the FIN on', () => {
    const c = open();
    const up = c.host.net.lastDial;
    c.client.receive('QUIT\r\n');
    c.client.peerEnd();
    c.host.net.flush();
    up.accept();
    expect(up.text).toBe('QUIT\r\n');
    expect(up.finSent).toBe(true);
    up.receive('+OK\r\n');
    up.peerEnd();
    c.host.net.flush();
    expect(c.client.text).toBe('+OK\r\n');
    expect(c.host.record).toMatchObject({ outcome: 'ok', closedFirst: 'client' });
  });
});

describe('Session: waiting for a backend with room (--max-connections-per-backend)', () => {
  const opts: FakeHostOptions = {
    backends: [A],
    maxPerBackend: 1,
    settings: { queueTimeoutMs: 500 },
  };

  it('queues while every backend is full and connects once one has room', () => {
    const host = new FakeSessionHost(opts);
    const first = host.accept('192.0.2.10', 1);
    const up = host.net.lastDial;
    up.accept();
    const second = host.accept('192.0.2.10', 2);
    expect(host.net.dials).toHaveLength(1);
    expect(host.queue).toEqual([second.session]);
    pass(host, 200);
    first.client.peerEnd();
    up.peerEnd();
    host.net.flush();
    expect(host.net.dials).toHaveLength(2);
    expect(host.queue).toEqual([]);
    // The queue deadline no longer applies once a backend is picked.
    pass(host, 1000);
    expect(second.client.did('destroy')).toBe(false);
  });

  it('rejects a client that waited --queue-timeout', () => {
    const host = new FakeSessionHost(opts);
    host.accept('192.0.2.10', 1);
    host.net.lastDial.accept();
    const second = host.accept('192.0.2.10', 2);
    pass(host, 500);
    expect(second.client.did('destroy')).toBe(true);
    expect(host.queue).toEqual([]);
    expect(host.record).toMatchObject({ outcome: 'rejected', closedFirst: 'proxy', attempts: 0 });
  });
});

describe('Session: relay with backpressure', () => {
  it.each<{ dir: string; from: 'client' | 'up'; to: 'client' | 'up' }>([
    { dir: 'client → backend', from: 'client', to: 'up' },
    { dir: 'backend → client', from: 'up', to: 'client' },
  ])('$dir: pauses the reader while the writer is backed up, resumes on drain', ({ from, to }) => {
    const c = connected();
    const src = c[from];
    const dst = c[to];
    dst.blocked = true;
    src.receive('one');
    expect(src.paused).toBe(true);
    expect(dst.text).toBe('one');
    dst.drain();
    expect(src.paused).toBe(false);
    src.receive('two');
    expect(dst.text).toBe('onetwo');
    expect(src.paused).toBe(false);
  });

  it('moves a bulk transfer to a buffer of its own and back to the scratch after a short read', () => {
    const c = connected();
    const big = Buffer.alloc(LARGE_READ, 0x61);
    c.client.receive(big);
    expect(c.up.written[0]?.equals(big)).toBe(true);
    // The next read lands in a large buffer of the connection's own, not the shared scratch.
    expect(c.client.readBufferLength).toBe(LARGE_READ);
    c.client.receive(Buffer.alloc(LARGE_READ, 0x62));
    c.client.receive('tail');
    expect(Buffer.concat(c.up.written).length).toBe(2 * LARGE_READ + 4);
    expect(c.up.text.endsWith('btail')).toBe(true);
    c.client.receive('x');
    expect(c.up.text.endsWith('tailx')).toBe(true);
    expect(scratch.length).toBe(LARGE_READ);
  });

  it('copies bytes read into the shared scratch before writing them', () => {
    const c = connected();
    c.client.receive('first');
    c.client.receive('other');
    // What the first write was given must not change with the next read into the scratch.
    expect(c.up.handed.map((b) => b.toString())).toEqual(['first', 'other']);
    expect(c.up.handed[0]?.buffer).not.toBe(scratch.buffer);
  });
});

describe('Session: half-close and reset', () => {
  it.each<{ first: 'client' | 'up'; closedFirst: string }>([
    { first: 'client', closedFirst: 'client' },
    { first: 'up', closedFirst: 'backend' },
  ])('a FIN from $first is passed on; the other way keeps flowing', ({ first, closedFirst }) => {
    const c = connected();
    const [quiet, other] = first === 'client' ? [c.client, c.up] : [c.up, c.client];
    quiet.peerEnd();
    expect(other.finSent).toBe(true);
    expect(quiet.finSent).toBe(false);
    other.receive('still flowing');
    expect(quiet.text).toBe('still flowing');
    other.peerEnd();
    c.host.net.flush();
    expect(c.host.record).toMatchObject({ outcome: 'ok', closedFirst });
  });

  it.each<{ first: 'client' | 'up'; closedFirst: string }>([
    { first: 'client', closedFirst: 'client' },
    { first: 'up', closedFirst: 'backend' },
  ])('a reset from $first resets the other side', ({ first, closedFirst }) => {
    const c = connected();
    const [resetter, other] = first === 'client' ? [c.client, c.up] : [c.up, c.client];
    resetter.peerReset();
    c.host.net.flush();
    expect(other.calls).toContain('reset');
    expect(c.host.record).toMatchObject({ outcome: 'reset', closedFirst });
    expect(c.host.metrics.closed[0]).toMatchObject({ backend: A, outcome: 'reset' });
    expect(backendFigures(c.host, A)).toMatchObject({ failures: 0, open: 0, sessions: 0 });
  });

  it('counts a local resource error on the backend socket as local_error', () => {
    const c = connected();
    c.up.refuse('ENOBUFS');
    c.host.net.flush();
    expect(c.host.localErrors).toEqual(['enobufs']);
    expect(c.host.record.outcome).toBe('local_error');
  });
});

describe('Session: timeouts', () => {
  it('closes an idle connection with FIN both ways after --idle-timeout', () => {
    const c = connected({ settings: { idleTimeoutMs: 1000 } });
    pass(c.host, 600);
    c.client.receive('activity');
    pass(c.host, 600);
    c.host.sweepQuiet();
    expect(c.client.finSent).toBe(false);
    pass(c.host, 400);
    c.host.sweepQuiet();
    expect(c.client.finSent && c.up.finSent).toBe(true);
    finishCleanly(c);
    expect(c.host.record).toMatchObject({ outcome: 'idle_timeout', closedFirst: 'proxy' });
  });

  it('resets both sides of an idle connection with bytes still unsent', () => {
    const c = connected({ settings: { idleTimeoutMs: 1000 } });
    c.client.blocked = true;
    c.up.receive('stuck');
    pass(c.host, 1000);
    c.host.sweepQuiet();
    c.host.net.flush();
    expect(c.client.did('reset') && c.up.did('reset')).toBe(true);
    expect(c.host.record.outcome).toBe('idle_timeout');
  });

  it('bounds a half-closed connection by --half-close-timeout', () => {
    const c = connected({ settings: { idleTimeoutMs: 10_000, halfCloseTimeoutMs: 500 } });
    c.client.peerEnd();
    pass(c.host, 500);
    c.host.sweepQuiet();
    expect(c.client.finSent).toBe(true);
    c.up.peerEnd();
    c.host.net.flush();
    expect(c.host.record).toMatchObject({ outcome: 'idle_timeout', closedFirst: 'client' });
  });

  it('closes gracefully at the end of its lifetime (--max-connection-lifetime, jittered)', () => {
    // random() is 0.5: the jitter factor is exactly 1.
    const c = connected({ settings: { maxLifetimeMs: 10_000 } });
    pass(c.host, 9_999);
    expect(c.up.finSent).toBe(false);
    pass(c.host, 1);
    expect(c.up.finSent).toBe(true);
    c.up.peerEnd();
    c.client.peerEnd();
    c.host.net.flush();
    expect(c.host.record).toMatchObject({ outcome: 'lifetime', closedFirst: 'proxy' });
  });
});

describe('Session: closing on the proxy’s initiative', () => {
  it('drains gracefully: FIN to the backend, its reply still reaches the client', () => {
    const c = connected();
    c.session.closeGracefully('drained');
    expect(c.up.finSent).toBe(true);
    expect(c.client.finSent).toBe(false);
    c.up.receive('last reply');
    expect(c.client.text).toBe('last reply');
    c.up.peerEnd();
    expect(c.client.finSent).toBe(true);
    c.client.peerEnd();
    c.host.net.flush();
    expect(c.host.record).toMatchObject({ outcome: 'drained', closedFirst: 'proxy' });
  });

  it('resets what is still open when the close grace runs out', () => {
    const c = connected();
    c.session.closeGracefully('drained');
    pass(c.host, CLOSE_GRACE_MS);
    expect(c.client.did('reset') && c.up.did('reset')).toBe(true);
    expect(c.host.record.outcome).toBe('drained');
  });

  it('resets both sides at once on abort (the forced exit)', () => {
    const c = connected();
    c.session.abort('drained');
    c.host.net.flush();
    expect(c.client.did('reset') && c.up.did('reset')).toBe(true);
    expect(c.host.record.outcome).toBe('drained');
  });

  it('closes the connections of a backend that went down (--close-on-down)', () => {
    const host = new FakeSessionHost({ backends: [A, B] });
    const onA = host.accept('192.0.2.10', 1);
    host.net.dials[0]?.stream.accept();
    const onB = host.accept('192.0.2.10', 2);
    host.net.dials[1]?.stream.accept();
    host.pool.closeConnections(A);
    expect(host.net.dials[0]?.stream.finSent).toBe(true);
    expect(host.net.dials[1]?.stream.finSent).toBe(false);
    pass(host, CLOSE_GRACE_MS);
    expect(host.accessLog.map((r) => r.outcome)).toEqual(['drained']);
    expect(onA.session.outcome).toBe('drained');
    expect(onB.session.outcome).toBeNull();
  });

  it('closes a session still dialling at once', () => {
    const c = open();
    const up = c.host.net.lastDial;
    c.session.closeGracefully('drained');
    c.host.net.flush();
    expect(up.did('destroy') && c.client.did('destroy')).toBe(true);
    expect(c.host.record).toMatchObject({ outcome: 'drained', attempts: 1 });
  });
});

/** The connect timeout of the fake host's default settings. */
const DEFAULT_CONNECT_TIMEOUT_MS = DEFAULT_SETTINGS.connectTimeoutMs;

/** One way a connection can end, and what every record of it must then say. */
interface EndCase {
  readonly name: string;
  readonly opts?: FakeHostOptions;
  /** Drive the connection (opened with `opts`) to its end. */
  readonly run: (c: Conn) => void;
  readonly outcome: Outcome;
  readonly closedFirst: 'client' | 'backend' | 'proxy';
  readonly attempts: number;
  /** The backend the metrics count the connection on (null: without a backend). */
  readonly countedOn: string | null;
  readonly bytes?: readonly [fromClient: number, fromBackend: number];
  readonly failures?: Readonly<Record<string, number>>;
}

/** Connect the current attempt, exchange a request and a reply. */
function exchange(c: Conn): FakeStream {
  const up = c.host.net.lastDial;
  up.accept();
  c.client.receive('req');
  up.receive('reply');
  return up;
}

const ENDINGS: readonly EndCase[] = [
  {
    name: 'both sides send FIN',
    run: (c) => {
      const up = exchange(c);
      c.client.peerEnd();
      up.peerEnd();
    },
    outcome: 'ok',
    closedFirst: 'client',
    attempts: 1,
    countedOn: A,
    bytes: [3, 5],
  },
  {
    name: 'the backend resets',
    run: (c) => exchange(c).peerReset(),
    outcome: 'reset',
    closedFirst: 'backend',
    attempts: 1,
    countedOn: A,
    bytes: [3, 5],
  },
  {
    name: 'the client resets',
    run: (c) => {
      exchange(c);
      c.client.peerReset();
    },
    outcome: 'reset',
    closedFirst: 'client',
    attempts: 1,
    countedOn: A,
    bytes: [3, 5],
  },
  {
    name: 'an access rule denies the client',
    opts: { denied: ['192.0.2.10'] },
    run: () => undefined,
    outcome: 'denied',
    closedFirst: 'proxy',
    attempts: 0,
    countedOn: null,
  },
  {
    name: 'no backend is known',
    opts: { backends: [] },
    run: () => undefined,
    outcome: 'no_backend',
    closedFirst: 'proxy',
    attempts: 0,
    countedOn: null,
  },
  {
    name: 'the PROXY header never comes',
    opts: { proxyHeaderFrom: ['192.0.2.10'] },
    run: (c) => pass(c.host, PROXY_HEADER_TIMEOUT_MS),
    outcome: 'proxy_protocol_error',
    closedFirst: 'proxy',
    attempts: 0,
    countedOn: null,
  },
  {
    name: 'the client sends no ClientHello (--route-by sni)',
    opts: { sniPattern: '{hostname}.example.com' },
    run: (c) => c.client.receive('plain text\r\n'),
    outcome: 'rejected',
    closedFirst: 'proxy',
    attempts: 0,
    countedOn: null,
    bytes: [12, 0],
  },
  {
    name: 'every backend refuses',
    run: (c) => {
      c.host.net.lastDial.refuse();
      c.host.net.flush();
      c.host.net.lastDial.refuse();
    },
    outcome: 'connect_error',
    closedFirst: 'proxy',
    attempts: 2,
    countedOn: null,
    failures: { [A]: 1, [B]: 1 },
  },
  {
    name: 'every backend is silent',
    run: (c) => pass(c.host, 2 * DEFAULT_CONNECT_TIMEOUT_MS),
    outcome: 'connect_timeout',
    closedFirst: 'proxy',
    attempts: 2,
    countedOn: null,
    failures: { [A]: 1, [B]: 1 },
  },
  {
    name: 'the proxy runs out of file descriptors',
    run: (c) => c.host.net.lastDial.refuse('EMFILE'),
    outcome: 'local_error',
    closedFirst: 'proxy',
    attempts: 1,
    countedOn: null,
    failures: { [A]: 0 },
  },
  {
    name: 'the client leaves while the proxy dials',
    run: (c) => c.client.peerEnd(),
    outcome: 'client_left',
    closedFirst: 'client',
    attempts: 1,
    countedOn: A,
  },
  {
    name: 'the connection stays idle',
    opts: { settings: { idleTimeoutMs: 1000 } },
    run: (c) => {
      const up = exchange(c);
      pass(c.host, 1000);
      c.host.sweepQuiet();
      c.client.peerEnd();
      up.peerEnd();
    },
    outcome: 'idle_timeout',
    closedFirst: 'proxy',
    attempts: 1,
    countedOn: A,
    bytes: [3, 5],
  },
  {
    name: 'the connection outlives --max-connection-lifetime',
    opts: { settings: { maxLifetimeMs: 5000 } },
    run: (c) => {
      exchange(c);
      pass(c.host, 5000 + CLOSE_GRACE_MS);
    },
    outcome: 'lifetime',
    closedFirst: 'proxy',
    attempts: 1,
    countedOn: A,
    bytes: [3, 5],
  },
  {
    name: 'the proxy drains it',
    run: (c) => {
      const up = exchange(c);
      c.session.closeGracefully('drained');
      up.peerEnd();
      c.client.peerEnd();
    },
    outcome: 'drained',
    closedFirst: 'proxy',
    attempts: 1,
    countedOn: A,
    bytes: [3, 5],
  },
  {
    name: 'the proxy aborts it (forced exit)',
    run: (c) => {
      exchange(c);
      c.session.abort('drained');
    },
    outcome: 'drained',
    closedFirst: 'proxy',
    attempts: 1,
    countedOn: A,
    bytes: [3, 5],
  },
];

describe('Session: how a connection ends, and what is left behind', () => {
  it.each(ENDINGS)(
    '$name → $outcome',
    ({ opts, run, outcome, closedFirst, attempts, countedOn, bytes, failures }) => {
      const c = open(opts);
      run(c);
      c.host.net.flush();
      const [fromClient, fromBackend] = bytes ?? [0, 0];
      // The access log and the metrics agree on how it ended.
      expect(c.host.record).toMatchObject({
        outcome,
        closedFirst,
        attempts,
        retries: Math.max(0, attempts - 1),
        bytesFromClient: fromClient,
        bytesFromBackend: fromBackend,
      });
      expect(c.host.metrics.closed).toEqual([
        { backend: countedOn, outcome, bytesFromClient: fromClient, bytesFromBackend: fromBackend },
      ]);
      if (countedOn !== null) {
        const b = c.host.backend(countedOn);
        expect([b.bytesFromClient, b.bytesFromBackend]).toEqual([fromClient, fromBackend]);
      }
      for (const [id, n] of Object.entries(failures ?? {}))
        expect(c.host.backend(id).failures).toBe(n);
      // Nothing is left behind: sockets, attachments, slots, queue places, timers.
      expect(c.client.closed).toBe(true);
      for (const d of c.host.net.dials) expect(d.stream.closed).toBe(true);
      // Every backend socket, a failed attempt's too, is handed back to the host once.
      expect(c.host.released).toEqual(c.host.net.dials.map((d) => d.stream));
      for (const b of c.host.pool.backends())
        expect([b.id, b.open, b.sessions.size]).toEqual([b.id, 0, 0]);
      for (const [id, n] of c.host.metrics.active) expect([id, n]).toEqual([id, 0]);
      expect(c.host.sessions.size).toBe(0);
      expect(c.host.queue).toEqual([]);
      expect(c.host.gate.active).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    },
  );
});
