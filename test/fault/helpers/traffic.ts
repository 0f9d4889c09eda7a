/**
 * In-process traffic for the fault tests: verified bulk transfers and
 * short exchanges that record when they started, ended and how.
 */
import { connect, type Socket } from 'node:net';
import { patternBytes } from '../../helpers/sockets.ts';

const BLOCK = 1 << 20;

export interface TransferResult {
  readonly sent: number;
  readonly received: number;
  /** Every byte received matched what was sent at that offset. */
  readonly intact: boolean;
  /** The error code the socket ended with, if any. */
  readonly error: string | undefined;
  /** The peer's FIN arrived. */
  readonly ended: boolean;
  readonly ms: number;
}

export interface Transfer {
  readonly socket: Socket;
  /** Echoed bytes received so far. */
  received(): number;
  readonly done: Promise<TransferResult>;
}

/**
 * Stream `total` bytes of a seeded pattern through an open socket (with
 * backpressure), then FIN, while checking the echo byte for byte. Bounded by
 * `timeoutMs` (the socket is destroyed after it).
 */
export function startTransfer(
  socket: Socket,
  total: number,
  seed: number,
  timeoutMs = 120_000,
): Transfer {
  const block = patternBytes(BLOCK, seed);
  const t0 = performance.now();
  let sent = 0;
  let received = 0;
  let intact = true;
  let error: string | undefined;
  let ended = false;
  let stopped = false;

  const pump = (): void => {
    while (!stopped && sent < total) {
      const off = sent % BLOCK;
      const n = Math.min(BLOCK - off, total - sent, 256 * 1024);
      sent += n;
      if (!socket.write(block.subarray(off, off + n))) return;
    }
    if (!stopped && sent >= total) socket.end();
  };

  socket.on('data', (chunk: Buffer) => {
    let pos = 0;
    while (pos < chunk.length) {
      const off = received % BLOCK;
      const n = Math.min(BLOCK - off, chunk.length - pos);
      if (intact && !chunk.subarray(pos, pos + n).equals(block.subarray(off, off + n)))
        intact = false;
      received += n;
      pos += n;
    }
  });
  socket.on('drain', pump);
  socket.on('end', () => (ended = true));
  const done = new Promise<TransferResult>((resolve) => {
    const timer = setTimeout(() => {
      error ??= 'test_timeout';
      socket.destroy();
    }, timeoutMs);
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error ??= e.code ?? e.message;
    });
    socket.on('close', () => {
      stopped = true;
      clearTimeout(timer);
      resolve({ sent, received, intact, error, ended, ms: Math.round(performance.now() - t0) });
    });
  });
  pump();
  return { socket, received: () => received, done };
}

export interface Exchange {
  readonly start: number;
  readonly end: number;
  readonly ok: boolean;
  /** Why it failed: an errno code, `short_reply`, `corrupt_reply`, `timeout`, ... */
  readonly kind: string;
}

/**
 * One exchange on a new connection: connect, send `data`, read exactly it
 * back, FIN, wait for the close. Times are `performance.now()`.
 */
export function exchangeOnce(port: number, data: Buffer, timeoutMs = 10_000): Promise<Exchange> {
  const start = performance.now();
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, noDelay: true, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let got = 0;
    let kind: string | undefined;
    let replied = false;
    const timer = setTimeout(() => {
      kind ??= 'timeout';
      s.destroy();
    }, timeoutMs);
    s.on('connect', () => s.write(data));
    s.on('data', (c: Buffer) => {
      if (replied) {
        kind ??= 'excess_reply';
        return;
      }
      chunks.push(c);
      got += c.length;
      if (got >= data.length) {
        replied = true;
        if (got > data.length || !Buffer.concat(chunks).equals(data)) kind ??= 'corrupt_reply';
        s.end();
      }
    });
    s.on('end', () => {
      if (!replied) {
        kind ??= 'short_reply';
        s.end();
      }
    });
    s.on('error', (e: NodeJS.ErrnoException) => (kind ??= e.code ?? 'error'));
    s.on('close', () => {
      clearTimeout(timer);
      if (!replied) kind ??= 'closed';
      resolve({ start, end: performance.now(), ok: kind === undefined, kind: kind ?? 'ok' });
    });
  });
}

/** A payload unique to (worker, sequence number), `size` bytes long. */
export function labelled(worker: number, seq: number, size: number): Buffer {
  const head = Buffer.from(`w${worker}:s${seq}:`);
  const buf = Buffer.alloc(size, 0x2e);
  head.copy(buf, 0, 0, Math.min(head.length, size));
  return buf;
}

/**
 * `workers` loops of `exchangeOnce` until `stop()` returns true (and at
 * most `maxPerWorker` each); resolves with every exchange.
 */
export async function runExchangeLoad(opts: {
  port: number;
  workers: number;
  size: number;
  stop: () => boolean;
  maxPerWorker?: number;
}): Promise<Exchange[]> {
  const all: Exchange[] = [];
  const max = opts.maxPerWorker ?? 100_000;
  await Promise.all(
    Array.from({ length: opts.workers }, async (_, w) => {
      for (let seq = 0; seq < max && !opts.stop(); seq++) {
        all.push(await exchangeOnce(opts.port, labelled(w, seq, opts.size)));
      }
    }),
  );
  return all;
}

/** Failures by kind. */
export function tally(exchanges: readonly Exchange[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of exchanges) if (!e.ok) out[e.kind] = (out[e.kind] ?? 0) + 1;
  return out;
}
