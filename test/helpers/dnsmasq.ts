import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireProgram } from './required-programs.ts';

export interface DnsmasqOptions {
  /** `local-ttl`: the TTL of every answer, seconds. */
  readonly ttl: number;
  /** Lines of the hosts file: `IP NAME [NAME...]`. */
  readonly hosts: readonly string[];
  /** `srv-host=` values: `_svc._tcp.NAME,TARGET,PORT,PRIORITY,WEIGHT`. */
  readonly srv?: readonly string[];
  /** Address to listen on (default 127.0.0.1). */
  readonly listen?: string;
  /** Run through this command prefix (e.g. `ip netns exec NS`). */
  readonly prefix?: readonly string[];
  /**
   * Domains answered locally (`local=`), default `['cluster.local']`: an
   * unknown name there gets NXDOMAIN and a missing record type NODATA. `'#'`
   * makes every name local. Outside them dnsmasq would forward, and having no
   * upstream it answers REFUSED: so a hosts-file name outside these domains
   * with only an IPv4 address gets its A answered and its AAAA refused.
   */
  readonly localDomains?: readonly string[];
}

/**
 * A real DNS server for discovery tests: Debian's dnsmasq on a loopback port,
 * answering from a hosts file (reloaded by SIGHUP) and `srv-host` lines (which
 * only a restart reloads). Names under cluster.local that it does not know get
 * NXDOMAIN, like CoreDNS for a Service without ready pods; see `localDomains`
 * for names outside it (REFUSED, as from a dnsmasq without upstream).
 */
export class Dnsmasq {
  readonly dir: string;
  port = 0;
  #opts: DnsmasqOptions;
  #proc: ChildProcess | undefined;

  constructor(opts: DnsmasqOptions) {
    this.#opts = opts;
    // dnsmasq may drop privileges: its files must be world-readable.
    this.dir = mkdtempSync(join(tmpdir(), 'headway-dns-'));
    chmodSync(this.dir, 0o755);
  }

  get server(): string {
    return `${this.#opts.listen ?? '127.0.0.1'}:${this.port}`;
  }

  /**
   * Start on a free port. The port is free for UDP when picked, but dnsmasq
   * also binds TCP on it, which an ephemeral client socket may hold: retry.
   */
  async start(): Promise<void> {
    requireProgram('dnsmasq');
    const fixed = this.port !== 0;
    for (let attempt = 1; ; attempt++) {
      if (!fixed) this.port = await freeUdpPort();
      try {
        await this.#startOnce();
        return;
      } catch (err) {
        // Many tries: after connection-churn tests most ephemeral ports can sit in TIME_WAIT.
        if (fixed || attempt >= 20) throw err;
      }
    }
  }

  async #startOnce(): Promise<void> {
    this.#writeHosts(this.#opts.hosts);
    const conf = [
      `port=${this.port}`,
      `listen-address=${this.#opts.listen ?? '127.0.0.1'}`,
      'bind-interfaces',
      'no-resolv',
      'no-hosts',
      'no-poll',
      `addn-hosts=${join(this.dir, 'hosts')}`,
      ...(this.#opts.localDomains ?? ['cluster.local']).map((d) => `local=/${d}/`),
      `local-ttl=${this.#opts.ttl}`,
      'log-queries',
      `log-facility=${join(this.dir, 'queries.log')}`,
      'user=root',
      'pid-file=',
      ...(this.#opts.srv ?? []).map((s) => `srv-host=${s}`),
    ].join('\n');
    const confPath = join(this.dir, 'dnsmasq.conf');
    writeFileSync(confPath, conf + '\n', { mode: 0o644 });
    const cmd = [
      ...(this.#opts.prefix ?? []),
      'dnsmasq',
      '--keep-in-foreground',
      `--conf-file=${confPath}`,
    ];
    const proc = spawn(cmd[0] as string, cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    this.#proc = proc;
    // Ready once it logs its start line.
    const deadline = Date.now() + 10_000;
    while (!this.#log().includes('started, version')) {
      if (proc.exitCode !== null) throw new Error(`dnsmasq exited: ${stderr} ${this.#log()}`);
      if (Date.now() > deadline) throw new Error(`dnsmasq did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Replace the hosts file and make dnsmasq reread it (SIGHUP). */
  async setHosts(lines: readonly string[]): Promise<void> {
    this.#writeHosts(lines);
    const before = this.#log().split('read ').length;
    this.#proc?.kill('SIGHUP');
    const deadline = Date.now() + 5000;
    while (this.#log().split('read ').length <= before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Restart with new SRV records (dnsmasq rereads srv-host only at start). */
  async restartWith(changes: Partial<DnsmasqOptions>): Promise<void> {
    await this.stop();
    this.#opts = { ...this.#opts, ...changes };
    await this.start();
  }

  async stop(): Promise<void> {
    const proc = this.#proc;
    this.#proc = undefined;
    if (proc === undefined || proc.exitCode !== null) return;
    proc.kill('SIGTERM');
    await once(proc, 'exit');
  }

  /** Number of queries logged for `name` of `type` (A, AAAA, SRV), or all types. */
  queries(name: string, type?: string): number {
    const n = name.replace(/\.$/, '');
    return this.#log()
      .split('\n')
      .filter(
        (l) =>
          l.includes(` ${n} from `) &&
          (type === undefined ? /query\[/.test(l) : l.includes(`query[${type}]`)),
      ).length;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  #writeHosts(lines: readonly string[]): void {
    writeFileSync(join(this.dir, 'hosts'), lines.join('\n') + '\n', { mode: 0o644 });
  }

  #log(): string {
    const path = join(this.dir, 'queries.log');
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  }
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  const port = s.address().port;
  s.close();
  return port;
}
