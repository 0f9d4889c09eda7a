/**
 * Sockets and child processes for bench/failover: inline Redis commands on
 * raw connections, ports free on every loopback alias, and the processes of
 * one trial (stopped together, also on SIGINT/SIGTERM).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A port free on every address in `hosts`, below the kernel's ephemeral
 * range: the writers' thousands of short connections take their local ports
 * from that range, and could take a chosen port before the server that is to
 * listen on it binds.
 */
export async function commonPort(hosts: readonly string[]): Promise<number> {
  const ephemeralLow = Number(
    readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0] ?? 32768,
  );
  const low = 20_000;
  const high = Math.max(low + 1000, Math.min(ephemeralLow, 32_768));
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    const free = await Promise.all(
      hosts.map(
        (host) =>
          new Promise<boolean>((resolve) => {
            const s = createServer();
            s.once('error', () => resolve(false));
            s.listen({ host, port }, () => s.close(() => resolve(true)));
          }),
      ),
    );
    if (free.every(Boolean)) return port;
  }
  throw new Error('no port free on every address');
}

export function open(host: string, port: number, timeoutMs = 2000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, noDelay: true });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('connect timeout'));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** One inline command on an open connection; the first reply line. */
export function command(s: Socket, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (c: Buffer): void => {
      text += c.toString('latin1');
      const nl = text.indexOf('\r\n');
      if (nl < 0) return;
      s.off('data', onData);
      s.off('error', reject);
      resolve(text.slice(0, nl));
    };
    s.on('data', onData);
    s.once('error', reject);
    s.write(`${line}\r\n`);
  });
}

/** A bulk-string reply (INFO) read whole. */
export function bulk(s: Socket, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (c: Buffer): void => {
      text += c.toString('latin1');
      const nl = text.indexOf('\r\n');
      if (nl < 0) return;
      const len = Number(text.slice(1, nl));
      if (text.length < nl + 2 + len) return;
      s.off('data', onData);
      s.off('error', reject);
      resolve(text.slice(nl + 2, nl + 2 + len));
    };
    s.on('data', onData);
    s.once('error', reject);
    s.write(`${line}\r\n`);
  });
}

/** Which of `keys` are missing on the server (one MGET). */
export function missingOn(s: Socket, keys: readonly string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (c: Buffer): void => {
      text += c.toString('latin1');
      // *N\r\n then N items: $1\r\nv\r\n or $-1\r\n.
      const lines = text.split('\r\n');
      const count = Number(lines[0]?.slice(1));
      let i = 1;
      const missing: string[] = [];
      let items = 0;
      while (items < count && i < lines.length - 1) {
        const head = lines[i] ?? '';
        if (head === '$-1') {
          missing.push(keys[items] ?? '');
          i += 1;
        } else {
          if (i + 1 >= lines.length - 1) return;
          i += 2;
        }
        items++;
      }
      if (items < count) return;
      s.off('data', onData);
      s.off('error', reject);
      resolve(missing);
    };
    s.on('data', onData);
    s.once('error', reject);
    s.write(`MGET ${keys.join(' ')}\r\n`);
  });
}

export async function waitOpen(host: string, port: number, limitMs = 10_000): Promise<void> {
  const deadline = performance.now() + limitMs;
  for (;;) {
    try {
      (await open(host, port, 500)).destroy();
      return;
    } catch {
      if (performance.now() > deadline) throw new Error(`${host}:${port} never opened`);
      await sleep(50);
    }
  }
}

/** Every Processes with children alive, for a clean stop on SIGINT/SIGTERM. */
const live = new Set<Processes>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void Promise.all([...live].map((p) => p.stopAll())).then(() => process.exit(130));
  });
}

/** The child processes of one trial. */
export class Processes {
  readonly #all: ChildProcess[] = [];
  constructor() {
    live.add(this);
  }
  start(argv: readonly string[], label: string): ChildProcess {
    const p = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.setEncoding('utf8').on('data', (c: string) => {
      if (err.length < 4000) err += c;
    });
    p.stdout.resume();
    p.on('exit', (code, signal) => {
      if (code !== 0 && code !== null && signal === null) {
        process.stderr.write(`bench/failover: ${label} exited ${code}: ${err}\n`);
      }
    });
    return this.adopt(p);
  }
  /** A child started elsewhere (a test helper), stopped with the others. */
  adopt(p: ChildProcess): ChildProcess {
    this.#all.push(p);
    return p;
  }
  async stopAll(): Promise<void> {
    live.delete(this);
    const procs = this.#all.splice(0);
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    await Promise.all(
      procs.map(async (p) => {
        if (p.exitCode !== null || p.signalCode !== null) return;
        const timer = setTimeout(() => p.kill('SIGKILL'), 3000);
        await once(p, 'exit');
        clearTimeout(timer);
      }),
    );
  }
}
