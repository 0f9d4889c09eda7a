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
 * which Redis answered); BEFORE ms after they start, at a known instant T0,
 * .102 is promoted (`REPLICAOF NO ONE`) and .101 demoted (`REPLICAOF .102`)
 * in the same tick, then .103 follows .102; writers go on for AFTER ms.
 * Checks run every INTERVAL ms with a TIMEOUT ms deadline, fall 1 and rise 1
 * in every setup; Headway balances with --strategy S (default primary, as the
 * README's recipe), HAProxy with roundrobin (one server passes at a time):
 *
 *   headway-readme    --health-send 'INFO replication\r\n' --health-expect role:master
 *   headway-failfast  the same plus --health-reject role:slave
 *   headway-http      --health-check http --health-port HTTP --health-path /primary
 *   haproxy-redis     HAProxy's documented Redis check: tcp-check send INFO replication,
 *                     expect string role:master, send QUIT, expect string +OK
 *   haproxy-http      HAProxy as Patroni documents it: option httpchk GET /primary,
 *                     http-check expect status 200, check port HTTP
 *
 * Figures per trial: READONLY errors; the window (T0 to the send of the last
 * write that reached the demoted primary); writes the old primary
 * acknowledged after T0; writes lost (acknowledged by the old primary but
 * absent from the new one at the end); time from T0 to the first write the
 * new primary acknowledged; other errors (closed, refused, timed out).
 * Setups are interleaved per run; the report gives the median and min–max.
 * Each trial is also written to stderr as one JSON line; `--render FILE`
 * prints the report of such lines again (with the same other flags).
 * Loopback only; every trial is bounded in time (BEFORE + AFTER, 20 s of
 * warm-up at most) and in writes (MAX_WRITES).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { flagValue, fmt, median } from './lib/measure.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');
const ROLE_SERVER = join(ROOT, 'bench/failover-role-server.ts');
const HAPROXY = '/usr/sbin/haproxy';
const NODES = ['127.0.0.101', '127.0.0.102', '127.0.0.103'] as const;
const OLD = NODES[0];
const NEW = NODES[1];
/** Cap on writes per trial, whatever the rate. */
const MAX_WRITES = 60_000;
const WRITE_TIMEOUT_MS = 2000;
const WARMUP_LIMIT_MS = 20_000;

const SETUPS = [
  'headway-readme',
  'headway-failfast',
  'headway-http',
  'haproxy-redis',
  'haproxy-http',
] as const;
type SetupName = (typeof SETUPS)[number];

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
const INTERVAL = num('--interval', 500);
const TIMEOUT = num('--timeout', 1000);
const WRITERS = num('--writers', 4);
const BEFORE = num('--before', 1000);
const AFTER = num('--after', 3000);
const STRATEGY = flagValue(args, '--strategy') ?? 'primary';
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

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A port free on 127.0.0.1 and every node address, below the kernel's
 * ephemeral range: the writers' thousands of short connections take their
 * local ports from that range, and could take a chosen port before the
 * server that is to listen on it binds.
 */
async function commonPort(): Promise<number> {
  const ephemeralLow = Number(
    readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0] ?? 32768,
  );
  const low = 20_000;
  const high = Math.max(low + 1000, Math.min(ephemeralLow, 32_768));
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    const free = await Promise.all(
      ['127.0.0.1', ...NODES].map(
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
  throw new Error('no port free on every node address');
}

function open(host: string, port: number, timeoutMs = 2000): Promise<Socket> {
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
function command(s: Socket, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (c: Buffer): void => {
      text += c.toString('latin1');
      const nl = text.indexOf('\r\n');
      if (nl < 0) return;
      s.off('data', onData);
      resolve(text.slice(0, nl));
    };
    s.on('data', onData);
    s.once('error', reject);
    s.write(`${line}\r\n`);
  });
}

/** A bulk-string reply (INFO) read whole. */
function bulk(s: Socket, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (c: Buffer): void => {
      text += c.toString('latin1');
      const nl = text.indexOf('\r\n');
      if (nl < 0) return;
      const len = Number(text.slice(1, nl));
      if (text.length < nl + 2 + len) return;
      s.off('data', onData);
      resolve(text.slice(nl + 2, nl + 2 + len));
    };
    s.on('data', onData);
    s.once('error', reject);
    s.write(`${line}\r\n`);
  });
}

/** Every Processes with children alive, for a clean stop on SIGINT/SIGTERM. */
const live = new Set<Processes>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void Promise.all([...live].map((p) => p.stopAll())).then(() => process.exit(130));
  });
}

class Processes {
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

async function waitOpen(host: string, port: number, limitMs = 10_000): Promise<void> {
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

async function startRedis(procs: Processes, port: number, dir: string): Promise<void> {
  for (const host of NODES) {
    // Its own directory: a replica's full sync writes an RDB file there.
    const nodeDir = join(dir, host);
    mkdirSync(nodeDir);
    const argv = [
      'redis-server',
      '--dir',
      nodeDir,
      '--port',
      String(port),
      '--bind',
      host,
      '--save',
      '',
      '--appendonly',
      'no',
    ];
    if (host !== OLD) argv.push('--replicaof', OLD, String(port));
    procs.start(argv, `redis ${host}`);
  }
  for (const host of NODES) await waitOpen(host, port);
  // Replicas in sync with the primary, so that what it acknowledged reaches them.
  const deadline = performance.now() + 15_000;
  for (const host of NODES.slice(1)) {
    for (;;) {
      const s = await open(host, port);
      const info = await bulk(s, 'INFO replication');
      s.destroy();
      if (info.includes('master_link_status:up')) break;
      if (performance.now() > deadline) throw new Error(`${host} never synced`);
      await sleep(50);
    }
  }
}

function headwayArgs(
  setup: SetupName,
  listen: number,
  httpPort: number,
  redisPort: number,
): string[] {
  const common = [
    MAIN,
    '--listen',
    `127.0.0.1:${listen}`,
    '--admin',
    'off',
    '--log-level',
    'warn',
    '--backends',
    `static://${NODES.map((h) => `${h}:${redisPort}`).join(',')}`,
    '--strategy',
    STRATEGY,
    '--health-interval',
    `${INTERVAL}ms`,
    '--health-timeout',
    `${TIMEOUT}ms`,
    '--health-rise',
    '1',
    '--health-fall',
    '1',
  ];
  const role = [
    '--health-check',
    'tcp',
    '--health-send',
    'INFO replication\\r\\n',
    '--health-expect',
    'role:master',
  ];
  if (setup === 'headway-readme') return [...common, ...role];
  if (setup === 'headway-failfast') return [...common, ...role, '--health-reject', 'role:slave'];
  return [
    ...common,
    '--health-check',
    'http',
    '--health-port',
    String(httpPort),
    '--health-path',
    '/primary',
  ];
}

function haproxyConfig(
  setup: SetupName,
  listen: number,
  httpPort: number,
  redisPort: number,
): string {
  const check =
    setup === 'haproxy-redis'
      ? [
          '  option tcp-check',
          '  tcp-check send INFO\\ replication\\r\\n',
          '  tcp-check expect string role:master',
          '  tcp-check send QUIT\\r\\n',
          '  tcp-check expect string +OK',
        ]
      : ['  option httpchk GET /primary', '  http-check expect status 200'];
  const port = setup === 'haproxy-http' ? ` port ${httpPort}` : '';
  return [
    'global',
    '  maxconn 4000',
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    `  timeout check ${TIMEOUT}ms`,
    'listen redis',
    `  bind 127.0.0.1:${listen}`,
    '  balance roundrobin',
    ...check,
    `  default-server inter ${INTERVAL} fall 1 rise 1 on-marked-down shutdown-sessions`,
    ...NODES.map((h, i) => `  server r${i + 1} ${h}:${redisPort} check${port}`),
    '',
  ].join('\n');
}

interface Write {
  /** ms relative to T0. */
  readonly sent: number;
  readonly replied: number;
  readonly key: string;
  /** First reply line, or `closed` / `timeout` / `connect ERR`. */
  readonly reply: string;
  /** The Redis that answered (CLIENT INFO laddr), when known. */
  readonly server: string | undefined;
}

/** One SET on its own connection through the proxy, with CLIENT INFO to learn which Redis it reached. */
function writeOnce(port: number, key: string, t0: () => number): Promise<Write> {
  const sent = performance.now() - t0();
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, noDelay: true });
    let text = '';
    let done = false;
    const finish = (reply: string, server?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ sent, replied: performance.now() - t0(), key, reply, server });
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

interface Trial {
  readonly setup: SetupName;
  readonly run: number;
  readonly writes: number;
  /** READONLY replies after T0 from the demoted primary, and from the replica that stayed one. */
  readonly readonly: number;
  readonly readonlyOther: number;
  readonly readonlyBefore: number;
  readonly windowMs: number;
  readonly ackedByOldAfter: number;
  readonly lost: number;
  readonly firstNewMs: number | null;
  readonly otherErrors: number;
}

async function trial(setup: SetupName, run: number): Promise<Trial> {
  const procs = new Processes();
  const dir = mkdtempSync(join(tmpdir(), 'headway-failover-'));
  const admin: Socket[] = [];
  try {
    const redisPort = await commonPort();
    const httpPort = await commonPort();
    const listen = await commonPort();
    await startRedis(procs, redisPort, dir);
    procs.start(
      [process.execPath, ROLE_SERVER, String(httpPort), String(redisPort), ...NODES],
      'role server',
    );
    for (const h of NODES) await waitOpen(h, httpPort);
    if (setup.startsWith('headway')) {
      procs.start([process.execPath, ...headwayArgs(setup, listen, httpPort, redisPort)], setup);
    } else {
      const cfg = join(dir, 'haproxy.cfg');
      writeFileSync(cfg, haproxyConfig(setup, listen, httpPort, redisPort));
      procs.start([HAPROXY, '-db', '-f', cfg], setup);
    }
    await waitOpen('127.0.0.1', listen, 30_000);

    // Warm-up: the proxy routes every write to the primary (the replicas failed their checks).
    const warm = performance.now();
    let streak = 0;
    while (streak < 20) {
      const w = await writeOnce(listen, `warm-${streak}`, () => 0);
      streak = w.reply === '+OK' && w.server === OLD ? streak + 1 : 0;
      if (performance.now() - warm > WARMUP_LIMIT_MS)
        throw new Error(`${setup}: never settled on the primary`);
      if (streak === 0) await sleep(20);
    }
    await sleep(2 * INTERVAL);

    for (const h of NODES) admin.push(await open(h, redisPort));
    const start = performance.now();
    let t0 = start + BEFORE;
    const writes: Write[] = [];
    let n = 0;
    const stopAt = start + BEFORE + AFTER;
    const writer = async (): Promise<void> => {
      while (performance.now() < stopAt && n < MAX_WRITES) {
        writes.push(await writeOnce(listen, `k${run}-${n++}`, () => t0));
      }
    };
    const writers = Array.from({ length: WRITERS }, writer);
    await sleep(BEFORE);
    // The role change: promote .102 and demote .101 in the same tick.
    t0 = performance.now();
    const changed = Promise.all([
      command(admin[1] as Socket, 'REPLICAOF NO ONE'),
      command(admin[0] as Socket, `REPLICAOF ${NEW} ${redisPort}`),
    ]);
    await changed;
    await command(admin[2] as Socket, `REPLICAOF ${NEW} ${redisPort}`);
    await Promise.all(writers);

    // Lost: acknowledged by the old primary, absent from the new one.
    await sleep(200);
    const ackedByOld = writes
      .filter((w) => w.reply === '+OK' && w.server === OLD)
      .map((w) => w.key);
    let lost = 0;
    const check = await open(NEW, redisPort);
    for (let i = 0; i < ackedByOld.length; i += 500) {
      const batch = ackedByOld.slice(i, i + 500);
      lost += await missingOn(check, batch);
    }
    check.destroy();

    const after = writes.filter((w) => w.replied >= 0);
    const toOld = after.filter((w) => w.server === OLD);
    const okNew = writes.filter((w) => w.reply === '+OK' && w.server === NEW && w.replied >= 0);
    return {
      setup,
      run,
      writes: writes.length,
      readonly: toOld.filter((w) => w.reply.startsWith('-READONLY')).length,
      readonlyOther: after.filter((w) => w.server !== OLD && w.reply.startsWith('-READONLY'))
        .length,
      readonlyBefore: writes.filter((w) => w.replied < 0 && w.reply.startsWith('-READONLY')).length,
      windowMs: toOld.length === 0 ? 0 : Math.max(0, ...toOld.map((w) => w.sent)),
      ackedByOldAfter: toOld.filter((w) => w.reply === '+OK').length,
      lost,
      firstNewMs: okNew.length === 0 ? null : Math.min(...okNew.map((w) => w.replied)),
      otherErrors: writes.filter((w) => w.reply !== '+OK' && !w.reply.startsWith('-READONLY'))
        .length,
    };
  } finally {
    for (const a of admin) a.destroy();
    await procs.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** How many of `keys` are missing on the server (one MGET). */
function missingOn(s: Socket, keys: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (c: Buffer): void => {
      text += c.toString('latin1');
      // *N\r\n then N items: $1\r\nv\r\n or $-1\r\n.
      const lines = text.split('\r\n');
      const count = Number(lines[0]?.slice(1));
      let i = 1;
      let missing = 0;
      let items = 0;
      while (items < count && i < lines.length - 1) {
        const head = lines[i] ?? '';
        if (head === '$-1') {
          missing++;
          i += 1;
        } else {
          if (i + 1 >= lines.length - 1) return;
          i += 2;
        }
        items++;
      }
      if (items < count) return;
      s.off('data', onData);
      resolve(missing);
    };
    s.on('data', onData);
    s.once('error', reject);
    s.write(`MGET ${keys.join(' ')}\r\n`);
  });
}

function cell(values: readonly (number | null)[], digits = 0): string {
  const xs = values.filter((v): v is number => v !== null);
  if (xs.length === 0) return '–';
  const med = median(xs);
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  const missing = values.length - xs.length;
  const range = lo === hi ? '' : ` (${fmt(lo, digits)}–${fmt(hi, digits)})`;
  return `${fmt(med, digits)}${range}${missing > 0 ? ` [none in ${missing}]` : ''}`;
}

const LABELS: Record<SetupName, string> = {
  'headway-readme':
    "Headway, the README's role check (send `INFO replication`, expect `role:master`)",
  'headway-failfast': 'Headway, fail-fast role check (the same plus `--health-reject role:slave`)',
  'headway-http':
    'Headway, HTTP check on another port (`--health-check http --health-port P --health-path /primary`)',
  'haproxy-redis':
    'HAProxy, its documented Redis check (`tcp-check send INFO replication`, `expect string role:master`, `send QUIT`, `expect string +OK`)',
  'haproxy-http':
    'HAProxy, Patroni-style HTTP check (`option httpchk GET /primary`, `http-check expect status 200`, `check port P`)',
};

function report(trials: readonly Trial[], startedAt: Date, seconds: number): string {
  const rows = setups.map((s) => {
    const t = trials.filter((x) => x.setup === s);
    return `| ${LABELS[s]} | ${cell(t.map((x) => x.readonly))} | ${cell(t.map((x) => x.readonlyOther))} | ${cell(t.map((x) => x.windowMs))} | ${cell(t.map((x) => x.ackedByOldAfter))} | ${cell(t.map((x) => x.lost))} | ${cell(t.map((x) => x.firstNewMs))} | ${cell(t.map((x) => x.otherErrors))} | ${cell(t.map((x) => x.writes))} |`;
  });
  const perRun = [...new Set(trials.map((t) => t.run))].map((run) => {
    const w = (s: SetupName): string => {
      const t = trials.find((x) => x.run === run && x.setup === s);
      return t === undefined ? '–' : fmt(t.windowMs);
    };
    return `| ${run} | ${setups.map(w).join(' | ')} |`;
  });
  const cmd = `node bench/failover.ts --runs ${RUNS} --interval ${INTERVAL} --timeout ${TIMEOUT} --writers ${WRITERS} --before ${BEFORE} --after ${AFTER} --strategy ${STRATEGY}${only === undefined ? '' : ` --only ${only.join(',')}`}`;
  return [
    '## Failover: writes behind a Redis role change (issue #21)',
    '',
    `Generated by \`bench/failover.ts\` on ${startedAt.toISOString().replace(/\.\d+Z$/, 'Z')} (${fmt(seconds)} s). Three redis-server on 127.0.0.101–103 (one port), a Patroni-like role endpoint beside each (\`GET /primary\`: 200 on the primary, 503 elsewhere), one proxy in front. ${WRITERS} writers open one connection per \`SET\`; ${fmt(BEFORE)} ms after they start, at T0, .102 is promoted and .101 demoted in the same tick (\`REPLICAOF\`), and they write on for ${fmt(AFTER)} ms. Every setup checks every ${INTERVAL} ms with a ${TIMEOUT} ms check timeout, fall 1, rise 1, and closes the connections of a backend marked down; Headway runs \`--strategy ${STRATEGY}\`, HAProxy \`balance roundrobin\`. Setups are interleaved in each of ${RUNS} runs; cells are the median (min–max) over the runs. All traffic on loopback; Headway ${gitHead()} from source on Node.js ${process.version}; ${haproxyVersion()}.`,
    '',
    '| setup | `READONLY` errors from the demoted primary after T0 | `READONLY` errors from .103 (a replica throughout) | window: T0 → last write sent to the demoted primary (ms) | writes the old primary acknowledged after T0 | writes lost (acknowledged by the old primary, absent from the new one) | T0 → first write acknowledged by the new primary (ms) | other errors (closed, refused, timed out) | writes |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    ...targets(trials),
    '',
    'Window per run (ms):',
    '',
    `| run | ${setups.join(' | ')} |`,
    `| --- | ${setups.map(() => '---').join(' | ')} |`,
    ...perRun,
    '',
    'Reproduce:',
    '',
    '```sh',
    cmd,
    '```',
    '',
  ].join('\n');
}

/** Issue #21's targets, checked run by run. */
function targets(trials: readonly Trial[]): string[] {
  const runs = [...new Set(trials.map((t) => t.run))];
  const of = (run: number, s: SetupName): Trial | undefined =>
    trials.find((t) => t.run === run && t.setup === s);
  const lines: string[] = [];
  const bound = INTERVAL + 100;
  const within = (s: SetupName): string => {
    const ts = runs.map((r) => of(r, s)).filter((t): t is Trial => t !== undefined);
    return `${ts.filter((t) => t.windowMs <= bound).length} of ${ts.length} runs`;
  };
  if (setups.includes('headway-failfast')) {
    lines.push(
      `- Fail-fast role check: window ≤ interval + 100 ms (${bound} ms) in ${within('headway-failfast')}.`,
    );
    if (setups.includes('haproxy-redis')) {
      const pairs = runs
        .map((r) => [of(r, 'headway-failfast'), of(r, 'haproxy-redis')] as const)
        .filter((p): p is readonly [Trial, Trial] => p[0] !== undefined && p[1] !== undefined);
      const shorter = pairs.filter(([h, x]) => h.windowMs <= x.windowMs).length;
      lines.push(
        `- Fail-fast role check: window no longer than HAProxy's documented Redis check in the same run in ${shorter} of ${pairs.length} runs.`,
      );
    }
  }
  if (setups.includes('headway-http')) {
    lines.push(
      `- HTTP check on another port: window ≤ interval + 100 ms (${bound} ms) in ${within('headway-http')}.`,
    );
  }
  return lines.length === 0 ? [] : ['Issue #21 targets:', '', ...lines];
}

function gitHead(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
  } catch {
    return '(unknown commit)';
  }
}

function haproxyVersion(): string {
  try {
    return (execFileSync(HAPROXY, ['-v'], { encoding: 'utf8' }).split('\n')[0] ?? '').replace(
      / - https.*$/,
      '',
    );
  } catch {
    return 'HAProxy (version unknown)';
  }
}

const startedAt = new Date();
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
      r = await trial(setup, run);
    } catch (err) {
      // A setup that did not come up (a busy machine): one more try, then give up.
      process.stderr.write(`bench/failover: ${setup} run ${run}: ${String(err)}; retrying once\n`);
      r = await trial(setup, run);
    }
    trials.push(r);
    process.stderr.write(`${JSON.stringify(r)}\n`);
  }
}
const md = report(trials, startedAt, (performance.now() - t) / 1000);
if (OUT === undefined) process.stdout.write(md);
else writeFileSync(OUT, md);
