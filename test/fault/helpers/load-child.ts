/**
 * A load client that runs in its own process, so its sockets do not count
 * against the test worker's open-file limit (20,000 per process here).
 *
 *   node load-child.ts churn HOST PORT COUNT CONCURRENCY
 *     open, exchange 16 bytes, close (FIN), COUNT times with CONCURRENCY in
 *     flight; prints one JSON line and exits.
 *
 *   node load-child.ts hold HOST PORT COUNT CONCURRENCY
 *     open COUNT connections, each proven with a 16-byte echo, and hold
 *     them; prints {"phase":"opened",...}. Then reads commands on stdin, one
 *     per line: "roundtrip" (every held connection sends 16 more bytes at
 *     once and waits for their echo: {"phase":"roundtrip",...}) and "close"
 *     (FIN on every connection, wait for them to close:
 *     {"phase":"closed",...}, then exit).
 *
 * Every wait is bounded: OP_TIMEOUT_MS per operation, PHASE_DEADLINE_MS per
 * phase, HOLD_LIMIT_MS for the whole process. Only node: modules, so it
 * runs the same from any working directory.
 */
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

const OP_TIMEOUT_MS = 15_000;
const PHASE_DEADLINE_MS = 150_000;
const HOLD_LIMIT_MS = 300_000;

const [mode = '', host = '127.0.0.1', portText = '', countText = '', concText = ''] =
  process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
const concurrency = Number(concText);
if (
  (mode !== 'churn' && mode !== 'hold') ||
  !Number.isInteger(port) ||
  !Number.isInteger(count) ||
  !Number.isInteger(concurrency) ||
  count < 1 ||
  concurrency < 1
) {
  process.stderr.write('usage: node load-child.ts churn|hold HOST PORT COUNT CONCURRENCY\n');
  process.exit(2);
}

// A forgotten child must not linger.
setTimeout(() => process.exit(3), HOLD_LIMIT_MS).unref();

const errors: Record<string, number> = {};
function countError(kind: string): void {
  errors[kind] = (errors[kind] ?? 0) + 1;
}
/** A failure whose `message` is its kind (`timeout`, `closed`, ...). */
class Failure extends Error {}

function kindOf(err: unknown): string {
  if (err instanceof Failure) return err.message;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : 'error';
}

/** A 16-byte payload unique to (connection, exchange). */
function payload(conn: number, exchange: number): Buffer {
  return Buffer.from(`${String(conn).padStart(10, '0')}:${String(exchange).padStart(5, '0')}`);
}

/** Send `data` and resolve once exactly that came back (rejects with a kind string). */
function exchange(s: Socket, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const done = (err?: string): void => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('error', onError);
      s.off('close', onClose);
      if (err === undefined) resolve();
      else reject(new Failure(err));
    };
    const onData = (c: Buffer): void => {
      chunks.push(c);
      got += c.length;
      if (got < data.length) return;
      done(
        got > data.length
          ? 'excess_reply'
          : Buffer.concat(chunks).equals(data)
            ? undefined
            : 'corrupt_reply',
      );
    };
    const onError = (e: Error): void => done(kindOf(e));
    const onClose = (): void => done('closed');
    const timer = setTimeout(() => done('timeout'), OP_TIMEOUT_MS);
    s.on('data', onData);
    s.on('error', onError);
    s.on('close', onClose);
    s.write(data);
  });
}

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, noDelay: true, allowHalfOpen: true });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Failure('connect_timeout'));
    }, OP_TIMEOUT_MS);
    s.once('connect', () => {
      clearTimeout(timer);
      s.off('error', onError);
      resolve(s);
    });
    const onError = (e: Error): void => {
      clearTimeout(timer);
      reject(new Failure(kindOf(e)));
    };
    s.once('error', onError);
  });
}

/** FIN, read the peer's FIN, wait for 'close'; resolves with an error kind or undefined. */
function closeGracefully(s: Socket): Promise<string | undefined> {
  return new Promise((resolve) => {
    let kind: string | undefined;
    const timer = setTimeout(() => {
      kind ??= 'close_timeout';
      s.destroy();
    }, OP_TIMEOUT_MS);
    s.on('error', (e) => (kind ??= kindOf(e)));
    s.on('data', () => (kind ??= 'excess_reply'));
    s.once('close', () => {
      clearTimeout(timer);
      resolve(kind);
    });
    s.end();
  });
}

const t0 = performance.now();
const elapsed = (): number => Math.round(performance.now() - t0) / 1000;
const deadline = (): boolean => performance.now() - t0 > PHASE_DEADLINE_MS;

function print(obj: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ...obj, errors: { ...errors } })}\n`);
}

if (mode === 'churn') {
  let started = 0;
  let ok = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (started < count && !deadline()) {
      const id = started++;
      let s: Socket | undefined;
      try {
        s = await open();
        await exchange(s, payload(id, 0));
        const err = await closeGracefully(s);
        if (err === undefined) ok++;
        else {
          failed++;
          countError(err);
        }
      } catch (e) {
        failed++;
        countError(kindOf(e));
        s?.destroy();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, () => worker()));
  print({ phase: 'churned', attempted: started, ok, failed, seconds: elapsed() });
  process.exit(0);
} else {
  const held: Socket[] = [];
  let started = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (started < count && !deadline()) {
      const id = started++;
      let s: Socket | undefined;
      try {
        s = await open();
        await exchange(s, payload(id, 0));
        held.push(s);
      } catch (e) {
        failed++;
        countError(kindOf(e));
        s?.destroy();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, () => worker()));
  // Sockets that close while held are a failure the next phase reports.
  for (const s of held) s.on('error', () => undefined);
  print({ phase: 'opened', opened: held.length, failed, seconds: elapsed() });

  let round = 0;
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const cmd = line.trim();
    const t = performance.now();
    if (cmd === 'roundtrip') {
      round++;
      const results = await Promise.allSettled(held.map((s, i) => exchange(s, payload(i, round))));
      let ok = 0;
      for (const r of results) {
        if (r.status === 'fulfilled') ok++;
        else countError(kindOf(r.reason));
      }
      print({
        phase: 'roundtrip',
        ok,
        failed: results.length - ok,
        seconds: Math.round(performance.now() - t) / 1000,
      });
    } else if (cmd === 'close') {
      const results = await Promise.all(held.map((s) => closeGracefully(s)));
      let ok = 0;
      for (const r of results) {
        if (r === undefined) ok++;
        else countError(r);
      }
      print({
        phase: 'closed',
        ok,
        failed: results.length - ok,
        seconds: Math.round(performance.now() - t) / 1000,
      });
      process.exit(0);
    }
  }
  process.exit(0);
}
