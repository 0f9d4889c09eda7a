import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createEchoServer } from '../../src/echo/echo-server.ts';

export interface Backend {
  readonly server: Server;
  readonly port: number;
  readonly address: string;
  close(): Promise<void>;
}

async function listenLoopback(server: Server, host = '127.0.0.1'): Promise<Backend> {
  server.listen({ host, port: 0 });
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return {
    server,
    port,
    address: `${host}:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An in-process echo backend on an ephemeral loopback port. */
export function startEcho(delayMs = 0, host = '127.0.0.1'): Promise<Backend> {
  return listenLoopback(createEchoServer({ delayMs }), host);
}

/** A backend whose connection handler the test supplies. */
export function startServer(
  onConnection: (s: Socket) => void,
  host = '127.0.0.1',
): Promise<Backend> {
  return listenLoopback(createServer({ allowHalfOpen: true }, onConnection), host);
}

/** A loopback port nobody listens on (connections are refused). */
export async function refusedPort(): Promise<number> {
  const server = createServer();
  server.listen({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function connectTo(port: number, host = '127.0.0.1'): Promise<Socket> {
  const s = connect({ port, host, allowHalfOpen: true });
  await once(s, 'connect');
  return s;
}

/** Everything the socket sends until it ends (rejects on error). */
export function readAll(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

/**
 * Wait for the socket to close, reading (and discarding) what arrives and
 * answering the peer's FIN with ours; reports whether it ended with an error.
 */
export function closed(socket: Socket): Promise<{ error: NodeJS.ErrnoException | undefined }> {
  return new Promise((resolve) => {
    let error: NodeJS.ErrnoException | undefined;
    socket.once('error', (e: NodeJS.ErrnoException) => (error = e));
    socket.once('end', () => socket.end());
    socket.once('close', () => resolve({ error }));
    socket.resume();
  });
}

/** Deterministic pseudo-random bytes (xorshift), so payloads are reproducible. */
export function patternBytes(length: number, seed = 1): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  return buf;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Fetch JSON from the admin endpoint. */
export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** Poll `check` until it returns a value other than undefined (bounded). */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Sum a metric's samples from Prometheus text whose labels include all of `labels`. */
export function metricValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_:]+)(\{(.*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const labelText = m[3] ?? '';
    const ok = Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`));
    if (ok) sum += Number(m[4]);
  }
  return sum;
}

/**
 * A backend that first sends its own address and a newline, then echoes.
 * Several can share one port on distinct loopback addresses (127.0.0.11,
 * 127.0.0.12, ...), like pods behind a headless Service.
 */
export async function startWhoami(host: string, port = 0): Promise<Backend> {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => undefined);
    s.write(`${host}\n`);
    s.pipe(s);
  });
  server.listen({ host, port });
  await once(server, 'listening');
  const bound = (server.address() as AddressInfo).port;
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return {
    server,
    port: bound,
    address: `${host}:${bound}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Connect through `port` and return the first line the backend sends (its identity), keeping the socket open. */
export async function whoAnswers(
  port: number,
  host = '127.0.0.1',
): Promise<{ who: string; socket: Socket }> {
  const socket = await connectTo(port, host);
  const who = await new Promise<string>((resolve, reject) => {
    let text = '';
    const onData = (c: Buffer): void => {
      text += c.toString();
      const nl = text.indexOf('\n');
      if (nl >= 0) {
        socket.off('data', onData);
        resolve(text.slice(0, nl));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before identifying')));
  });
  return { who, socket };
}

/** A base port with `count` consecutive free loopback ports after it (checked by binding them). */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const servers: Server[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const s = createServer();
        s.listen({ host: '127.0.0.1', port: base + i });
        await once(s, 'listening');
        servers.push(s);
      }
      return base;
    } catch {
      // Taken: try another base.
    } finally {
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    }
  }
  throw new Error('no free port range');
}

/**
 * The identity line a startWhoami backend sends through `port`, or `closed` when the connection
 * ends (or stays silent for `timeoutMs`) before one arrives. Never hangs.
 */
export function identify(
  port: number,
  opts: { localAddress?: string; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, localAddress: opts.localAddress });
    let text = '';
    s.setTimeout(opts.timeoutMs ?? 5000, () => s.destroy());
    s.on('error', () => undefined);
    s.on('data', (c: Buffer) => {
      text += c.toString();
      if (text.includes('\n')) {
        s.destroy();
        resolve(text.slice(0, text.indexOf('\n')));
      }
    });
    s.on('close', () => resolve('closed'));
  });
}
