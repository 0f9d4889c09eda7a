/**
 * `node bench/hold-connections.ts HOST PORT COUNT`: open COUNT connections
 * to an echo service (directly or through a proxy), prove each one works
 * end to end with a one-byte echo, print one JSON line, then hold them idle
 * until SIGTERM/SIGINT. bench/compare uses it to measure a proxy's memory
 * per idle connection. Everything is bounded: each connection gets
 * CONNECT_TIMEOUT_MS, the whole opening phase OPEN_DEADLINE_MS.
 */
import { connect, type Socket } from 'node:net';
import { errnoCode } from '../src/core/errors.ts';

/** Connections being opened at once: enough to be quick, few enough not to overflow accept queues. */
const CONCURRENCY = 200;
const CONNECT_TIMEOUT_MS = 10_000;
const OPEN_DEADLINE_MS = 120_000;
/** Longest a held set may stay open if nobody stops it (a forgotten helper must not linger). */
const HOLD_LIMIT_MS = 600_000;

const [host = '127.0.0.1', portText = '', countText = ''] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
if (!Number.isInteger(port) || port < 1 || port > 65535 || !Number.isInteger(count) || count < 1) {
  process.stderr.write('usage: node bench/hold-connections.ts HOST PORT COUNT\n');
  process.exit(2);
}

const held: Socket[] = [];
const errors: Record<string, number> = {};
let started = 0;
let finished = 0;
const t0 = performance.now();

function openOne(): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ host, port, noDelay: true });
    let settled = false;
    const settle = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      s.setTimeout(0);
      if (err === undefined) {
        held.push(s);
      } else {
        const kind = err === 'timeout' ? 'timeout' : (errnoCode(err) ?? 'error');
        errors[kind] = (errors[kind] ?? 0) + 1;
        s.destroy();
      }
      resolve();
    };
    s.setTimeout(CONNECT_TIMEOUT_MS, () => settle('timeout'));
    s.once('connect', () => s.write('x'));
    s.once('data', () => settle());
    s.on('error', (err) => settle(err));
    s.once('close', () => settle(new Error('closed')));
  });
}

async function worker(): Promise<void> {
  while (started < count && performance.now() - t0 < OPEN_DEADLINE_MS) {
    started++;
    await openOne();
    finished++;
  }
}

await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, () => worker()));
process.stdout.write(
  `${JSON.stringify({
    opened: held.length,
    failed: finished - held.length,
    errors,
    seconds: Math.round(performance.now() - t0) / 1000,
  })}\n`,
);

const release = (): void => {
  // Reset rather than FIN: thousands of TIME_WAIT sockets would outlive the run.
  for (const s of held) s.resetAndDestroy();
  process.exit(0);
};
process.on('SIGTERM', release);
process.on('SIGINT', release);
setTimeout(release, HOLD_LIMIT_MS);
