/**
 * `node bench/failover.ts [--runs N] [--interval MS] [--timeout MS] [--writers N]
 *   [--before MS] [--after MS] [--strategy S] [--only a,b] [--out FILE] [--render TRIALS]`
 *
 * What a Redis role change costs the writers behind a proxy (issue #21), for
 * Headway and HAProxy in the same run. Each trial starts three fresh
 * redis-server on loopback aliases (127.0.0.101 primary, .102 and .103 its
 * replicas, all on one port, like pods of a headless Service), a Patroni-like
 * role endpoint beside each (bench/failover-role-server.ts: GET /primary is
 * 200 on the primary, 503 elsewhere) and one proxy in front of the three.
 * Writers open one connection per `SET` (and ask `CLIENT INFO` on it, to know
 * which Redis answered). BEFORE ms after they start, the role changes, in one
 * of two ways (bench/failover/setups.ts, RoleChange):
 *
 *   REPLICAOF          at T0 the bench promotes .102 (`REPLICAOF NO ONE`) and
 *                      demotes .101 (`REPLICAOF .102`) in the same tick, then
 *                      .103 follows .102: the event a role check can see.
 *   SENTINEL failover  three `redis-server --sentinel` (127.0.0.104–106, quorum
 *                      2) monitor the three; the bench sends `SENTINEL failover`
 *                      to one and T0 is the first `+failover-state-wait-promotion`
 *                      (REPLICAOF NO ONE sent to .102); Sentinel leaves .101 a
 *                      primary until it converts it, seconds later.
 *
 * Writers go on for AFTER ms after T0. Checks run every INTERVAL ms with a
 * TIMEOUT ms deadline, fall 1 and rise 1; Headway balances with --strategy S
 * (default primary, as the README's recipe), HAProxy with roundrobin:
 *
 *   headway-readme      REPLICAOF; --health-send 'INFO replication\r\n' --health-expect role:master
 *   headway-failfast    REPLICAOF; the same plus --health-reject role:slave
 *   headway-http        REPLICAOF; --health-check http --health-port HTTP --health-path /primary
 *   haproxy-redis       REPLICAOF; HAProxy's documented Redis check: tcp-check send INFO
 *                       replication, expect string role:master, send QUIT, expect string +OK
 *   haproxy-http        REPLICAOF; HAProxy as Patroni documents it: option httpchk GET
 *                       /primary, http-check expect status 200, check port HTTP
 *   headway-sentinel    SENTINEL failover; --backends sentinel://MASTER@S1,S2,S3
 *   headway-failfast-sf SENTINEL failover; headway-failfast's check
 *   haproxy-redis-sf    SENTINEL failover; haproxy-redis's check
 *
 * Figures per trial: READONLY errors; the window (T0 to the send of the last
 * write that reached the old primary); writes the old primary acknowledged
 * after T0; writes lost (acknowledged by the old primary but absent from the
 * new one at the end), how many of them were acknowledged more than 100 ms
 * after T0 and when the latest was; time from T0 to the first write the new
 * primary acknowledged; other errors (closed, refused, timed out).
 * Setups are interleaved per run; the report gives the median and min–max.
 * Each trial is also written to stderr as one JSON line; `--render FILE`
 * prints the report of such lines again (with the same other flags).
 * Loopback only; every trial is bounded in time (BEFORE + AFTER, 20 s of
 * warm-up and 20 s for a Sentinel promotion at most) and in writes (MAX_WRITES).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { report } from './failover/report.ts';
import { HAPROXY, SETUPS, type SetupName } from './failover/setups.ts';
import { trial, type Trial, type TrialOptions } from './failover/trial.ts';
import { flagValue } from './lib/measure.ts';

const args = process.argv.slice(2);
const num = (name: string, dflt: number): number => {
  const v = flagValue(args, name);
  const n = v === undefined ? dflt : Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`bench/failover: ${name} needs a positive number\n`);
    process.exit(2);
  }
  return n;
};
const RUNS = num('--runs', 3);
const options: TrialOptions = {
  interval: num('--interval', 500),
  timeout: num('--timeout', 1000),
  writers: num('--writers', 4),
  before: num('--before', 1000),
  after: num('--after', 3000),
  strategy: flagValue(args, '--strategy') ?? 'primary',
};
const only = flagValue(args, '--only')?.split(',');
const OUT = flagValue(args, '--out');
const setups: SetupName[] = SETUPS.filter((s) => only === undefined || only.includes(s));
if (only !== undefined && setups.length !== only.length) {
  process.stderr.write(`bench/failover: --only takes ${SETUPS.join(',')}\n`);
  process.exit(2);
}
for (const program of ['redis-server', HAPROXY]) {
  const found = program.startsWith('/') ? existsSync(program) : whichSync(program) !== undefined;
  if (!found) {
    process.stderr.write(
      `bench/failover: ${program} is missing (apt-get install redis-server haproxy)\n`,
    );
    process.exit(1);
  }
}

function whichSync(program: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (existsSync(join(dir, program))) return join(dir, program);
  }
  return undefined;
}

const startedAt = new Date();
const loadStart = loadavg();
const t = performance.now();
const trials: Trial[] = [];
// --render FILE: the report of trials saved earlier (the JSON lines this script writes to stderr).
const RENDER = flagValue(args, '--render');
if (RENDER !== undefined) {
  for (const line of readFileSync(RENDER, 'utf8').split('\n')) {
    if (line.startsWith('{')) trials.push(JSON.parse(line) as Trial);
  }
}
for (let run = 1; RENDER === undefined && run <= RUNS; run++) {
  for (const setup of setups) {
    let r: Trial;
    try {
      r = await trial(setup, run, options);
    } catch (err) {
      // A setup that did not come up (a busy machine): one more try, then give up.
      process.stderr.write(`bench/failover: ${setup} run ${run}: ${String(err)}; retrying once\n`);
      r = await trial(setup, run, options);
    }
    trials.push(r);
    process.stderr.write(`${JSON.stringify(r)}\n`);
  }
}
const md = report(trials, {
  ...options,
  runs: RUNS,
  setups,
  only,
  startedAt,
  seconds: (performance.now() - t) / 1000,
  loadStart,
});
if (OUT === undefined) process.stdout.write(md);
else writeFileSync(OUT, md);
