/**
 * bench/failover's writers: one connection per `SET` through the proxy, so a
 * writer whose connection the proxy closes (a backend marked down, Headway's
 * close-on-down at a Sentinel promotion) simply goes on with a new one.
 */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';

/** Cap on writes per trial, whatever the rate. */
export const MAX_WRITES = 60_000;
const WRITE_TIMEOUT_MS = 2000;

export interface Write {
  /** performance.now() when the connection was opened, and when the reply (or failure) came. */
  readonly sentAt: number;
  readonly repliedAt: number;
  readonly key: string;
  /** First reply line, or `closed` / `timeout` / `error CODE`. */
  readonly reply: string;
  /** The Redis that answered (CLIENT INFO laddr), when known. */
  readonly server: string | undefined;
}

/** One SET on its own connection through the proxy, with CLIENT INFO to learn which Redis it reached. */
export function writeOnce(port: number, key: string): Promise<Write> {
  const sentAt = performance.now();
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, noDelay: true });
    let text = '';
    let done = false;
    const finish = (reply: string, server?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ sentAt, repliedAt: performance.now(), key, reply, server });
    };
    const timer = setTimeout(() => finish('timeout'), WRITE_TIMEOUT_MS);
    s.on('error', (err: NodeJS.ErrnoException) => finish(`error ${err.code ?? err.message}`));
    s.on('close', () => finish(text === '' ? 'closed' : (text.split('\r\n')[0] ?? 'closed')));
    s.on('connect', () => s.write(`SET ${key} v\r\nCLIENT INFO\r\n`));
    s.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      const nl = text.indexOf('\r\n');
      if (nl < 0) return;
      const first = text.slice(0, nl);
      const laddr = /laddr=([\d.]+):/.exec(text.slice(nl + 2));
      if (laddr !== null) finish(first, laddr[1]);
    });
  });
}

/**
 * `count` writers, each writing in a loop until `stopAt()` (read on every
 * write, so it can move once T0 is known) or MAX_WRITES in all.
 */
export function startWriters(
  port: number,
  count: number,
  prefix: string,
  stopAt: () => number,
): { writes: Write[]; done: Promise<void> } {
  const writes: Write[] = [];
  let n = 0;
  const writer = async (): Promise<void> => {
    while (performance.now() < stopAt() && n < MAX_WRITES) {
      writes.push(await writeOnce(port, `${prefix}-${n++}`));
    }
  };
  return { writes, done: Promise.all(Array.from({ length: count }, writer)).then(() => undefined) };
}
