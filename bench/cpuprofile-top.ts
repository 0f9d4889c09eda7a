/**
 * `node bench/cpuprofile-top.ts FILE.cpuprofile [N]`: the N functions (20 by
 * default) with the most self time in a V8 CPU profile, as written by
 * `node --cpu-prof`. Self time is the time a sample landed in the function
 * itself, not in what it called; "(program)" is V8 and libuv outside
 * JavaScript, "(garbage collector)" is GC, "(idle)" is waiting in epoll.
 *
 * For example, the proxy's CPU while iperf3 pushes through it:
 *
 *   taskset -c 1 node --cpu-prof --cpu-prof-dir /tmp/prof dist/cli/main.js \
 *     --listen 127.0.0.1:21201 --backends static://127.0.0.1:15201 --admin off &
 *   taskset -c 0 iperf3 -c 127.0.0.1 -p 21201 -t 10
 *   kill -TERM %1; node bench/cpuprofile-top.ts /tmp/prof/*.cpuprofile
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  /** Microseconds between a sample and the one before it. */
  readonly timeDeltas: readonly number[];
}

export interface SelfTime {
  readonly name: string;
  readonly where: string;
  readonly us: number;
}

/** Self time per function (name and location), most first. */
export function selfTimes(p: Profile): SelfTime[] {
  const byNode = new Map<number, CallFrame>();
  for (const n of p.nodes) byNode.set(n.id, n.callFrame);
  const totals = new Map<string, SelfTime>();
  for (let i = 0; i < p.samples.length; i++) {
    const frame = byNode.get(p.samples[i] ?? -1);
    if (frame === undefined) continue;
    // A sample's delta is the time since the previous sample: charge it to this one.
    const us = Math.max(0, p.timeDeltas[i + 1] ?? 0);
    const where =
      frame.url === ''
        ? ''
        : `${frame.url.replace(/^file:\/\/.*?\/(dist|src|node_modules)\//, '$1/')}:${frame.lineNumber + 1}`;
    const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
    const key = `${name} ${where}`;
    const prev = totals.get(key);
    totals.set(key, { name, where, us: (prev?.us ?? 0) + us });
  }
  return [...totals.values()].sort((a, b) => b.us - a.us);
}

if (import.meta.main) {
  const [file, countText = '20'] = process.argv.slice(2);
  if (file === undefined) {
    process.stderr.write('usage: node bench/cpuprofile-top.ts FILE.cpuprofile [N]\n');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const all = selfTimes(profile);
  const total = all.reduce((sum, s) => sum + s.us, 0);
  const busy = all.filter((s) => s.name !== '(idle)').reduce((sum, s) => sum + s.us, 0);
  process.stdout.write(
    `${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s not idle; ` +
      'self time, % of the non-idle time:\n',
  );
  for (const s of all.slice(0, Number(countText))) {
    const pct = s.name === '(idle)' ? '   -  ' : `${((100 * s.us) / busy).toFixed(1).padStart(5)}%`;
    process.stdout.write(
      `${pct} ${(s.us / 1000).toFixed(0).padStart(7)} ms  ${s.name}  ${s.where}\n`,
    );
  }
}
