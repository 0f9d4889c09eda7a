/**
 * `node --expose-gc bench/access-log-cost.ts [ROOT] [json|text] [fresh|reuse]`:
 * what one access-log line costs. Writes 200,000 typical records through
 * `AccessLog` (the one in ROOT/src, this checkout's by default: point ROOT at
 * another checkout to compare) to a file under /tmp, 16 a turn, and prints
 * CPU ns per line, heap bytes allocated per line and scavenges. "fresh"
 * passes a new record object per line, "reuse" one object refilled (what the
 * route does since issue #19). Pin it (`taskset -c 1`) and compare medians
 * of several runs: the machine's noise is larger than the differences.
 */
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import type { AccessRecord } from '../src/access-log/access-record.ts';

type AccessLogModule = typeof import('../src/access-log/access-log.ts');

const [rootArg, formatArg = 'json', modeArg = 'fresh'] = process.argv.slice(2);
const root = resolve(rootArg ?? resolve(import.meta.dirname, '..'));
if (
  (formatArg !== 'json' && formatArg !== 'text') ||
  (modeArg !== 'fresh' && modeArg !== 'reuse')
) {
  process.stderr.write(
    'usage: node --expose-gc bench/access-log-cost.ts [ROOT] [json|text] [fresh|reuse]\n',
  );
  process.exit(2);
}
const format: 'json' | 'text' = formatArg;
const { AccessLog } = (await import(
  pathToFileURL(`${root}/src/access-log/access-log.ts`).href
)) as AccessLogModule;

const LINES = 200_000;
const WARMUP_LINES = 20_000;
const LINES_PER_TURN = 16;
const peers = Array.from({ length: 256 }, (_, i) => `10.1.${i >> 4}.${i & 15}`);
const backends = Array.from({ length: 4 }, (_, i) => `10.0.0.${7 + i}:6379`);
const outcomes = ['ok', 'ok', 'ok', 'reset'] as const;
const base = Date.UTC(2026, 11, 7, 6, 0, 0);

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
const reused: Mutable<AccessRecord> = {
  timeMs: 0,
  listener: '',
  peerAddress: '',
  peerPort: 0,
  bytesFromClient: 0,
  bytesFromBackend: 0,
  durationMs: 0,
  retries: 0,
  attempts: 0,
  outcome: 'ok',
  closedFirst: null,
};

function record(i: number): AccessRecord {
  const r: Mutable<AccessRecord> = modeArg === 'reuse' ? reused : { ...reused };
  r.timeMs = base + i * 0.2;
  r.listener = 'redis';
  r.peerAddress = peers[i & 255] as string;
  r.peerPort = 30000 + (i % 30000);
  r.backendId = backends[i & 3];
  r.backendAddress = backends[i & 3];
  r.bytesFromClient = 14 + (i % 300);
  r.bytesFromBackend = 5 + (i % 4000);
  r.durationMs = 0.3 + (i % 997) * 0.0137;
  r.connectMs = 0.05 + (i % 113) * 0.001;
  r.firstByteMs = 0.1 + (i % 211) * 0.003;
  r.retries = 0;
  r.attempts = 1;
  r.outcome = outcomes[i & 3] as AccessRecord['outcome'];
  r.closedFirst = 'client';
  return r;
}

const path = `/tmp/headway-access-log-cost-${process.pid}.log`;
const log = new AccessLog({ destination: path, format, sampleRate: 1, random: Math.random });
await log.ready();

function run(count: number): Promise<void> {
  return new Promise((done) => {
    let i = 0;
    const turn = (): void => {
      const end = Math.min(count, i + LINES_PER_TURN);
      for (; i < end; i++) log.write(record(i));
      if (i < count) setImmediate(turn);
      else done();
    };
    turn();
  });
}

await run(WARMUP_LINES);
await log.flush();
(globalThis as { gc?: () => void }).gc?.();

const profiler = new v8.GCProfiler();
profiler.start();
const used0 = v8.getHeapStatistics().used_heap_size;
const cpu0 = process.cpuUsage();
await run(LINES);
await log.flush();
const cpu = process.cpuUsage(cpu0);
const used1 = v8.getHeapStatistics().used_heap_size;
const stats = profiler.stop().statistics;

// Allocated: growth of the used heap, plus what each collection freed on the way.
let allocated = used1 - used0;
let scavenges = 0;
for (const s of stats) {
  allocated += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
  if (s.gcType === 'Scavenge') scavenges++;
}
const dropped = log.dropped;
await log.close();
rmSync(path, { force: true });
process.stdout.write(
  JSON.stringify({
    root,
    format,
    record: modeArg,
    cpuNsPerLine: Math.round(((cpu.user + cpu.system) * 1000) / LINES),
    heapBytesPerLine: Math.round(allocated / LINES),
    scavenges,
    dropped,
  }) + '\n',
);
