/**
 * `node bench/strategies.ts`: the balancing figures, written to
 * bench/STRATEGIES.md. Runs the strategies in-process (no sockets): picks
 * per second at 10, 100 and 1,000 backends, the cost of an update, sticky
 * disruption (10 → 9 and 10 → 11 backends) and spread, and how evenly
 * long-lived and idle connections land. Bounded: about half a minute.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Backend } from '../src/backends/backend.ts';
import type { Balancer, PickContext } from '../src/balancing/balancer.ts';
import { createBalancer, type BalancerSettings } from '../src/balancing/create-balancer.ts';
import { STRATEGY_NAMES, type StrategyName } from '../src/config/strategy-names.ts';
import { systemClock } from '../src/core/clock.ts';
import { noopMetrics } from '../src/metrics/proxy-metrics.ts';
import { seededRandom } from '../test/kit/random.ts';

const OUT = new URL('STRATEGIES.md', import.meta.url);
const SIZES = [10, 100, 1000] as const;
const KEYS = 100_000;
/**
 * Each throughput figure is the best of this many windows of WINDOW_MS:
 * on a shared machine, interference only ever slows a window down.
 */
const WINDOWS = 7;
const WINDOW_MS = 200;

const metrics = noopMetrics.listener('bench');

function backend(id: string, weight = 1): Backend {
  return new Backend(
    { id, address: '10.0.0.1', port: 6379, weight, state: 'ready' },
    metrics.backend(id),
  );
}

function pods(n: number, from = 0): Backend[] {
  return Array.from({ length: n }, (_, i) => backend(`redis-${from + i}`));
}

function make(settings: BalancerSettings): Balancer {
  return createBalancer(settings, { clock: systemClock, random: seededRandom(1) });
}

/** Distinct client contexts, built up front so the loop measures the balancer, not string building. */
const clients: PickContext[] = Array.from({ length: 65_536 }, (_, i) => ({
  clientAddress: `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`,
  clientPort: 1024 + i,
  nowMs: 0,
  tried: [],
}));

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/**
 * Picks per second in steady state, with the bookkeeping the pool does
 * around each pick: the connection opens (active + 1) and, once 2 × n are
 * open, the oldest closes (active − 1, onClose). The latency strategy also
 * gets a first-byte sample per connection (each backend has its own latency).
 */
function picksPerSecond(strategy: StrategyName, n: number): number {
  const list = pods(n);
  const balancer = make({ strategy });
  balancer.update(list);
  const latencyOf = list.map((_, i) => 0.2 + (i % 7) * 0.05);
  const indexOf = new Map(list.map((b, i) => [b, i]));
  const open: Backend[] = [];
  let head = 0;
  let k = 0;
  const cycle = (count: number): void => {
    for (let i = 0; i < count; i++) {
      const b = balancer.pick(clients[k++ & 0xffff] as PickContext) as Backend;
      b.active++;
      balancer.onFirstByte?.(b, latencyOf[indexOf.get(b) as number] as number);
      open.push(b);
      if (open.length - head > 2 * n) {
        const closing = open[head++] as Backend;
        closing.active--;
        balancer.onClose?.(closing);
        if (head > 1 << 16) {
          open.splice(0, head);
          head = 0;
        }
      }
    }
  };
  cycle(50_000);
  const rates: number[] = [];
  for (let w = 0; w < WINDOWS; w++) {
    let picks = 0;
    const start = performance.now();
    let now = start;
    while (now - start < WINDOW_MS) {
      cycle(1000);
      picks += 1000;
      now = performance.now();
    }
    rates.push((picks * 1000) / (now - start));
  }
  return Math.max(...rates);
}

/** Milliseconds per update() when one backend leaves and then returns (median of 11). */
function updateMs(strategy: StrategyName, n: number): number {
  const list = pods(n);
  const without = list.slice(1);
  const balancer = make({ strategy });
  balancer.update(list);
  // Warm up (the JIT), then time.
  for (let i = 0; i < 6; i++) balancer.update(i % 2 === 0 ? without : list);
  const times: number[] = [];
  for (let i = 0; i < 11; i++) {
    const start = performance.now();
    balancer.update(i % 2 === 0 ? without : list);
    times.push(performance.now() - start);
  }
  return median(times);
}

/** Milliseconds for the first update() of a fresh balancer (median of 5). */
function firstUpdateMs(strategy: StrategyName, n: number): number {
  const list = pods(n);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const balancer = make({ strategy });
    const start = performance.now();
    balancer.update(list);
    times.push(performance.now() - start);
  }
  return median(times);
}

function keyContext(i: number): PickContext {
  return {
    clientAddress: `172.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`,
    clientPort: 40_000,
    nowMs: 0,
    tried: [],
  };
}

function owners(set: readonly Backend[]): string[] {
  const balancer = make({ strategy: 'sticky' });
  balancer.update(set);
  return Array.from({ length: KEYS }, (_, i) => balancer.pick(keyContext(i))?.id ?? '-');
}

interface Disruption {
  readonly label: string;
  readonly moved: number;
  readonly minimum: number;
  readonly ideal: number;
}

function disruption(): Disruption[] {
  const ten = pods(10);
  const before = owners(ten);
  const rows: Disruption[] = [];
  for (const gone of ten) {
    const after = owners(ten.filter((b) => b !== gone));
    rows.push({
      label: `10 → 9 (${gone.id} leaves)`,
      moved: after.filter((id, k) => id !== before[k]).length,
      minimum: before.filter((id) => id === gone.id).length,
      ideal: KEYS / 10,
    });
  }
  const after = owners([...ten, backend('redis-10')]);
  rows.push({
    label: '10 → 11 (redis-10 joins)',
    moved: after.filter((id, k) => id !== before[k]).length,
    minimum: after.filter((id) => id === 'redis-10').length,
    ideal: KEYS / 11,
  });
  return rows;
}

/** max/mean of keys per backend when each key is one client placing one lasting connection. */
function spread(n: number, boundedLoad: number, hot: boolean): number {
  const set = pods(n);
  const balancer = make({ strategy: 'sticky', stickyBoundedLoad: boundedLoad });
  balancer.update(set);
  const random = seededRandom(11);
  for (let i = 0; i < KEYS; i++) {
    const key = hot && random() < 0.3 ? 7 : i;
    (balancer.pick(keyContext(key)) as Backend).active++;
  }
  return Math.max(...set.map((b) => b.active)) / (KEYS / n);
}

/** max − min of active connections over 10 backends after 10,000 opens and no close. */
function longLivedSpread(strategy: StrategyName): number {
  const set = pods(10);
  const balancer = make({ strategy });
  balancer.update(set);
  for (let i = 0; i < 10_000; i++) (balancer.pick(clients[i] as PickContext) as Backend).active++;
  const actives = set.map((b) => b.active);
  return Math.max(...actives) - Math.min(...actives);
}

/** Share of the weight-5 backend of 5:1 when connections never overlap (ideal 5/6). */
function idleShare(strategy: StrategyName): number {
  const set = [backend('heavy', 5), backend('light', 1)];
  const balancer = make({ strategy });
  balancer.update(set);
  let heavy = 0;
  for (let i = 0; i < 60_000; i++) {
    if (balancer.pick(clients[i & 0xffff] as PickContext)?.id === 'heavy') heavy++;
  }
  return heavy / 60_000;
}

function rate(perSecond: number): string {
  return perSecond >= 1e6
    ? `${(perSecond / 1e6).toFixed(2)} M`
    : `${(perSecond / 1e3).toFixed(0)} k`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

const load = loadavg()[0] ?? 0;
const started = performance.now();
const log = (msg: string): void => {
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1)}s] ${msg}\n`);
};

log('picks per second');
const throughput = STRATEGY_NAMES.map((s) => [
  `\`${s}\``,
  ...SIZES.map((n) => {
    const r = picksPerSecond(s, n);
    log(`  ${s} @ ${n}: ${rate(r)}/s`);
    return rate(r);
  }),
]);
log('update cost');
const updates = STRATEGY_NAMES.map((s) => [
  `\`${s}\``,
  ...SIZES.map((n) => `${updateMs(s, n).toFixed(3)} / ${firstUpdateMs(s, n).toFixed(3)}`),
]);
log('sticky disruption');
const moves = disruption();
const removals = moves.slice(0, 10);
const worstRemoval = Math.max(...removals.map((m) => m.moved / m.ideal));
const addition = moves[10] as Disruption;
log('sticky spread');
const spreads = [9, 10, 11].map((n) => [
  String(n),
  spread(n, 0, false).toFixed(3),
  spread(n, 1.25, false).toFixed(3),
  spread(n, 0, true).toFixed(3),
  spread(n, 1.25, true).toFixed(3),
]);
log('long-lived and idle spreads');
const evenness = STRATEGY_NAMES.map((s) => [
  `\`${s}\``,
  String(longLivedSpread(s)),
  idleShare(s).toFixed(3),
]);

const cpu = cpus();
const doc = `# Balancing strategies: measured figures

Generated by \`node bench/strategies.ts\` (about half a minute; it rewrites this file). In-process:
the balancers are driven directly, without sockets, so these are the costs of the strategies alone.

- Date: ${new Date().toISOString()}
- Machine: ${cpu[0]?.model.trim() ?? 'unknown CPU'} × ${cpu.length}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, ${platform()} ${release()}
- Node ${process.version}; load average ${load.toFixed(2)} when the run started

## Picks per second

Steady state with the pool's bookkeeping around each pick: the connection opens (active + 1) and,
once 2 × n are open, the oldest closes (\`onClose\`); \`latency\` also gets a first-byte sample per
connection; \`sticky\` hashes a different client address each time. Best of ${WINDOWS} windows of
${WINDOW_MS} ms.

${table(['strategy', ...SIZES.map((n) => `${n} backends`)], throughput)}

## Cost of an update

Milliseconds per \`update()\`: when one backend leaves or comes back (median of 11) / the first
update of a fresh balancer (median of 5). \`sticky\`
keeps 2,048 ring points per backend (at the highest weight) and merges the kept points with the new
ones, O(points); building a ring from scratch (at start, or when more than half of it changes) costs
several times more. The others rebuild heaps or cumulative weights, O(n). An unchanged set (the pool
re-announces it on every refresh) costs a comparison.

${table(['strategy', ...SIZES.map((n) => `${n} backends`)], updates)}

## Sticky: disruption over ${KEYS.toLocaleString('en')} client addresses

"Minimum" is what must move: the clients of the backend that left, or those the new backend takes.
"Ideal" is the even share, ${KEYS.toLocaleString('en')}/N. Every key that moved came from the backend
that left (or went to the one that joined): moved = minimum in every row.

${table(
  ['change', 'keys moved', 'minimum', 'moved / minimum', 'moved / ideal'],
  moves.map((m) => [
    m.label,
    m.moved.toLocaleString('en'),
    m.minimum.toLocaleString('en'),
    (m.moved / m.minimum).toFixed(3),
    (m.moved / m.ideal).toFixed(3),
  ]),
)}

Worst removal: ${worstRemoval.toFixed(3)} × ideal; addition: ${(addition.moved / addition.ideal).toFixed(3)} × ideal (the test requires ≤ 1.1).

## Sticky: spread (max / mean connections per backend)

Each of ${KEYS.toLocaleString('en')} clients opens one connection that stays open. "Hot client": 30 % of
the connections come from one address.

${table(['backends', 'no bound', 'bounded load 1.25', 'hot client, no bound', 'hot client, bounded load 1.25'], spreads)}

## Evenness

Long-lived: max − min of active connections over 10 equal backends after 10,000 connections opened
and none closed. Idle 5:1: the weight-5 backend's share of 60,000 connections that never overlap
(ideal 0.833; \`sticky\` varies with the ring's point placement).

${table(['strategy', 'long-lived max − min', 'idle 5:1 share'], evenness)}
`;

writeFileSync(OUT, doc);
log(`wrote ${OUT.pathname}`);
