import { readFile } from 'node:fs/promises';
import type { Clock } from '../../core/clock.ts';
import type { Endpoint } from '../../core/endpoint.ts';
import { ConfigError, DiscoveryError, errnoCode } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { SentinelBackendsSpec } from '../../config/backends-uri.ts';
import type { DiscoverySink, DiscoverySource, DiscoveryStatus } from '../discovery-source.ts';
import { addressOf, chooseMaster, type MasterAnswer } from './choose-master.ts';
import { RespErrorReply, type RespValue } from './resp.ts';
import { RespConnection, RespConnectionError } from './resp-connection.ts';

/**
 * Events after which the sentinels are asked again at once.
 * `+failover-state-send-slaveof-noone` / `+failover-state-wait-promotion`: the
 * leader is promoting a replica (see `promotionInProgress`); `+promoted-slave`
 * is the moment the leader's `get-master-addr-by-name` starts naming the new
 * master; `+switch-master` is when the others follow; `-failover-abort-*`
 * cancels a promotion; the rest change which replicas are healthy.
 */
export const SENTINEL_EVENTS = [
  '+failover-state-send-slaveof-noone',
  '+failover-state-wait-promotion',
  '-failover-abort-slave-timeout',
  '-failover-abort-no-good-slave',
  '+promoted-slave',
  '+switch-master',
  '+failover-end',
  '+failover-state-reconf-slaves',
  '+sdown',
  '-sdown',
  '+odown',
  '-odown',
  '+slave',
  '+slave-reconf-done',
  '+convert-to-slave',
] as const;

/**
 * Sentinels connected to at most (two connections each). A deployment has 3
 * or 5; a DNS name that suddenly lists thousands of addresses must not turn
 * into thousands of connections.
 */
export const MAX_SENTINELS = 16;

/** Environment variable holding the sentinels' password (when no file is given). */
export const SENTINEL_PASSWORD_ENV = 'HEADWAY_SENTINEL_PASSWORD';

export interface SentinelTiming {
  /** The sentinels are asked this often even without events. */
  readonly refreshMs: number;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
  /** Reconnect backoff: first delay and cap (jittered). */
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
  /** At most one error line per sentinel in this window (the rest are counted). */
  readonly logEveryMs: number;
}

export const DEFAULT_SENTINEL_TIMING: SentinelTiming = {
  refreshMs: 1000,
  connectTimeoutMs: 2000,
  commandTimeoutMs: 2000,
  backoffMinMs: 100,
  backoffMaxMs: 5000,
  logEveryMs: 30_000,
};

export interface SentinelSourceOptions {
  readonly spec: SentinelBackendsSpec;
  /** Finds the sentinels themselves (a static list or DNS): each endpoint is one sentinel. */
  readonly finder: DiscoverySource;
  /** `--sentinel-password-file`, read at init. */
  readonly passwordFile: string | null;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly clock: Clock;
  readonly random: () => number;
  readonly logger: Logger;
  readonly timing?: Partial<SentinelTiming>;
}

/**
 * `sentinel://` discovery: the backend is the Redis master the sentinels name
 * (or, with `?role=replica`, its healthy replicas). Every sentinel gets two
 * supervised connections: one for queries, one subscribed to its events. Any
 * event, and a timer, re-asks every sentinel; answers are combined by
 * `chooseMaster`. While no sentinel answers, the last set stays.
 */
export class SentinelSource implements DiscoverySource {
  readonly kind = 'sentinel';
  readonly uri: string;
  readonly #opts: SentinelSourceOptions;
  readonly #timing: SentinelTiming;
  readonly #peers = new Map<string, Peer>();
  #password: string | undefined;
  #sink: DiscoverySink | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #signature: string | undefined;
  #master: string | undefined;
  #masterEpoch: number | undefined;
  #lastChangeMs: number | undefined;
  #allDown = false;
  #warnedTooMany = false;

  constructor(opts: SentinelSourceOptions) {
    this.uri = opts.spec.uri;
    this.#opts = opts;
    this.#timing = { ...DEFAULT_SENTINEL_TIMING, ...opts.timing };
  }

  async init(): Promise<void> {
    await this.#opts.finder.init?.();
    const file = this.#opts.passwordFile;
    if (file !== null) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        throw new ConfigError(
          '--sentinel-password-file',
          `cannot read ${file}: ${errnoCode(err) ?? 'error'}`,
        );
      }
      // A trailing newline (echo > file) is not part of the password.
      const pw = text.replace(/\r?\n$/, '');
      if (pw === '') throw new ConfigError('--sentinel-password-file', `${file} is empty`);
      this.#password = pw;
    } else {
      const pw = this.#opts.env[SENTINEL_PASSWORD_ENV];
      this.#password = pw === undefined || pw === '' ? undefined : pw;
    }
  }

  start(sink: DiscoverySink): void {
    this.#sink = sink;
    this.#opts.finder.start({
      onSnapshot: (snapshot) => this.#setSentinels(snapshot.endpoints),
      onError: (reason, err) => sink.onError(`sentinel-lookup-${reason}`, err),
      onFatal: (err) => sink.onFatal?.(err),
    });
    this.#timer = setInterval(() => {
      this.#queryAll();
      for (const p of this.#peers.values()) p.pingSubscriber();
    }, this.#timing.refreshMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    this.#opts.finder.stop();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const p of this.#peers.values()) p.stop();
    this.#peers.clear();
  }

  status(): DiscoveryStatus {
    const peers = [...this.#peers.values()];
    return {
      master: this.#opts.spec.master,
      role: this.#opts.spec.role,
      currentMaster: this.#master ?? null,
      configEpoch: this.#masterEpoch ?? null,
      lastChangeAt:
        this.#lastChangeMs === undefined ? null : new Date(this.#lastChangeMs).toISOString(),
      sentinels: peers.map((p) => `${p.id} ${p.describe()}`).join(', '),
      sentinelsAnswering: peers.filter((p) => p.answer !== undefined).length,
      sentinelErrors: peers.reduce((n, p) => n + p.errors, 0),
    };
  }

  #setSentinels(endpoints: readonly Endpoint[]): void {
    if (this.#stopped) return;
    const wanted = new Map<string, Endpoint>();
    const sorted = [...endpoints].sort((a, b) =>
      addressOf({ host: a.address, port: a.port }).localeCompare(
        addressOf({ host: b.address, port: b.port }),
      ),
    );
    for (const e of sorted) {
      if (wanted.size >= MAX_SENTINELS) {
        if (!this.#warnedTooMany) {
          this.#warnedTooMany = true;
          this.#opts.logger.warn('too many sentinels; using the first ones', {
            found: endpoints.length,
            using: MAX_SENTINELS,
          });
        }
        break;
      }
      wanted.set(addressOf({ host: e.address, port: e.port }), e);
    }
    for (const [id, peer] of this.#peers) {
      if (!wanted.has(id)) {
        peer.stop();
        this.#peers.delete(id);
      }
    }
    for (const [id, e] of wanted) {
      if (this.#peers.has(id)) continue;
      const peer = new Peer(id, e.address, e.port, this);
      this.#peers.set(id, peer);
      peer.start();
    }
    this.#decide();
  }

  // ---- used by Peer ----

  get timing(): SentinelTiming {
    return this.#timing;
  }

  get password(): string | undefined {
    return this.#password;
  }

  get spec(): SentinelBackendsSpec {
    return this.#opts.spec;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  nowMs(): number {
    return this.#opts.clock.nowMs();
  }

  random(): number {
    return this.#opts.random();
  }

  get logger(): Logger {
    return this.#opts.logger;
  }

  /** A sentinel published an event: ask every sentinel now. */
  onEvent(peer: Peer, channel: string, payload: string): void {
    this.#opts.logger.debug('sentinel event', { sentinel: peer.id, event: channel, payload });
    this.#queryAll();
  }

  peerFailed(peer: Peer, reason: string): void {
    this.#sink?.onPeerError?.(peer.id, reason);
  }

  #queryAll(): void {
    if (this.#stopped) return;
    for (const p of this.#peers.values()) p.query();
  }

  /** An answer arrived or went away: recompute and emit when the set changed. */
  decide(): void {
    this.#decide();
  }

  #decide(): void {
    if (this.#stopped || this.#sink === undefined) return;
    const answers: MasterAnswer[] = [];
    for (const p of this.#peers.values()) if (p.answer !== undefined) answers.push(p.answer);
    const chosen = chooseMaster(answers, this.#master);
    if (chosen === undefined) {
      if (
        !this.#allDown &&
        this.#peers.size > 0 &&
        [...this.#peers.values()].every((p) => p.down)
      ) {
        this.#allDown = true;
        this.#sink.onError(
          'sentinels-unreachable',
          new DiscoveryError('no sentinel answers; keeping the last known master'),
        );
      }
      return;
    }
    this.#allDown = false;
    const master = addressOf(chosen);
    let endpoints: Endpoint[];
    if (this.#opts.spec.role === 'master') {
      endpoints = [endpointOf(chosen.host, chosen.port)];
    } else {
      // The replicas as the chosen sentinel sees them (it has the newest configuration).
      const replicas = this.#peers.get(chosen.sentinel)?.replicas;
      if (replicas === undefined) return;
      endpoints = replicas
        .filter((r) => addressOf(r) !== master)
        .map((r) => endpointOf(r.host, r.port));
    }
    const signature = endpoints
      .map((e) => e.id)
      .sort()
      .join(',');
    if (master !== this.#master) {
      this.#opts.logger.info(
        this.#master === undefined ? 'sentinel master found' : 'sentinel master changed',
        {
          previous: this.#master ?? null,
          current: master,
          configEpoch: chosen.epoch,
          by: chosen.sentinel,
        },
      );
    }
    this.#master = master;
    this.#masterEpoch = chosen.epoch;
    if (signature === this.#signature) return;
    this.#signature = signature;
    this.#lastChangeMs = this.#opts.clock.wallMs();
    this.#sink.onSnapshot({ endpoints, updatedAtMs: this.#opts.clock.wallMs() });
  }
}

function endpointOf(host: string, port: number): Endpoint {
  return { id: addressOf({ host, port }), address: host, port, weight: 1, state: 'ready' };
}

interface ReplicaAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * One sentinel: a query connection and a subscriber connection, each
 * reconnected with jittered exponential backoff. Its answer counts only while
 * its query connection is up.
 */
class Peer {
  readonly id: string;
  readonly #host: string;
  readonly #port: number;
  readonly #owner: SentinelSource;
  #cmd: RespConnection | undefined;
  #sub: RespConnection | undefined;
  #cmdAttempts = 0;
  #subAttempts = 0;
  #cmdTimer: NodeJS.Timeout | undefined;
  #subTimer: NodeJS.Timeout | undefined;
  #querying = false;
  #again = false;
  #pinging = false;
  #stopped = false;
  answer: MasterAnswer | undefined;
  replicas: ReplicaAddress[] | undefined;
  errors = 0;
  #lastLogMs = -Infinity;
  #suppressed = 0;

  constructor(id: string, host: string, port: number, owner: SentinelSource) {
    this.id = id;
    this.#host = host;
    this.#port = port;
    this.#owner = owner;
  }

  #halted(): boolean {
    return this.#stopped;
  }

  /** Its query connection failed and is not back (not merely still connecting at start). */
  get down(): boolean {
    return this.#cmd === undefined && this.#cmdAttempts > 0;
  }

  describe(): string {
    return `${this.#cmd !== undefined ? 'up' : 'down'}${this.#sub !== undefined ? '+subscribed' : ''}`;
  }

  start(): void {
    void this.#openCmd();
    void this.#openSub();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#cmdTimer);
    clearTimeout(this.#subTimer);
    this.#cmd?.close();
    this.#sub?.close();
    this.#cmd = undefined;
    this.#sub = undefined;
    this.answer = undefined;
  }

  #connection(): RespConnection {
    const t = this.#owner.timing;
    return new RespConnection({
      host: this.#host,
      port: this.#port,
      password: this.#owner.password,
      connectTimeoutMs: t.connectTimeoutMs,
      commandTimeoutMs: t.commandTimeoutMs,
    });
  }

  async #openCmd(): Promise<void> {
    this.#cmdTimer = undefined;
    if (this.#stopped) return;
    const c = this.#connection();
    try {
      await c.open((err) => {
        if (this.#cmd !== c) return;
        this.#cmd = undefined;
        this.#cmdTimer = this.#retry(++this.#cmdAttempts, () => void this.#openCmd());
        this.#lost(err);
      });
    } catch (err) {
      this.#failed(err);
      this.#cmdTimer = this.#retry(++this.#cmdAttempts, () => void this.#openCmd());
      // Unreachable from the start: the source may now have no sentinel at all.
      this.#owner.decide();
      return;
    }
    // stop() may have run while connecting.
    if (this.#halted()) {
      c.close();
      return;
    }
    this.#cmdAttempts = 0;
    this.#cmd = c;
    this.#owner.logger.debug('sentinel connected', { sentinel: this.id });
    this.query();
  }

  async #openSub(): Promise<void> {
    this.#subTimer = undefined;
    if (this.#stopped) return;
    const c = this.#connection();
    try {
      await c.open((err) => {
        if (this.#sub !== c) return;
        this.#sub = undefined;
        this.#failed(err);
        this.#subTimer = this.#retry(++this.#subAttempts, () => void this.#openSub());
      });
      await c.subscribe(SENTINEL_EVENTS, (channel, payload) => {
        if (!this.#stopped) this.#owner.onEvent(this, channel, payload);
      });
    } catch (err) {
      c.close();
      this.#failed(err);
      this.#subTimer = this.#retry(++this.#subAttempts, () => void this.#openSub());
      return;
    }
    // stop() may have run while connecting.
    if (this.#halted()) {
      c.close();
      return;
    }
    this.#subAttempts = 0;
    this.#sub = c;
    // Events may have been missed while it was away.
    this.query();
  }

  #retry(attempt: number, fn: () => void): NodeJS.Timeout | undefined {
    if (this.#stopped || this.#owner.stopped) return undefined;
    const t = this.#owner.timing;
    const base = Math.min(t.backoffMaxMs, t.backoffMinMs * 2 ** Math.min(attempt - 1, 20));
    const timer = setTimeout(fn, base * (0.5 + this.#owner.random() / 2));
    timer.unref();
    return timer;
  }

  /** The query connection went away: this sentinel's answer no longer counts. */
  #lost(err: unknown): void {
    this.answer = undefined;
    this.replicas = undefined;
    this.#failed(err);
    this.#owner.decide();
  }

  /** Count the error; log it with the sentinel's address, at most once per window. */
  #failed(err: unknown, why?: 'unknown-master' | 'bad-reply'): void {
    if (this.#stopped) return;
    const reason: string = why ?? (err instanceof RespConnectionError ? err.reason : 'other');
    this.errors++;
    this.#owner.peerFailed(this, reason);
    const now = this.#owner.nowMs();
    if (now - this.#lastLogMs < this.#owner.timing.logEveryMs) {
      this.#suppressed++;
      return;
    }
    this.#lastLogMs = now;
    this.#owner.logger.warn('sentinel error', {
      sentinel: this.id,
      reason,
      error: err instanceof Error ? err.message : String(err),
      suppressed: this.#suppressed,
    });
    this.#suppressed = 0;
  }

  /**
   * A subscriber connection only receives: PING it (allowed in subscribe mode)
   * so that a sentinel that vanished without a FIN is noticed by the command
   * timeout, and the connection rebuilt, instead of silently missing events.
   */
  pingSubscriber(): void {
    const sub = this.#sub;
    if (sub === undefined || this.#pinging) return;
    this.#pinging = true;
    sub
      .command(['PING'])
      .catch(() => undefined)
      .finally(() => {
        this.#pinging = false;
      });
  }

  /** Ask this sentinel for the master (and replicas); coalesces while one query runs. */
  query(): void {
    if (this.#cmd === undefined || this.#stopped) return;
    if (this.#querying) {
      this.#again = true;
      return;
    }
    this.#querying = true;
    void this.#ask(this.#cmd).finally(() => {
      this.#querying = false;
      if (this.#again) {
        this.#again = false;
        this.query();
      }
    });
  }

  async #ask(c: RespConnection): Promise<void> {
    const spec = this.#owner.spec;
    const wantReplicas = spec.role === 'replica';
    let addr: RespValue;
    let info: RespValue;
    let replicas: RespValue;
    try {
      // Pipelined: one round trip.
      [addr, info, replicas] = await Promise.all([
        c.command(['SENTINEL', 'get-master-addr-by-name', spec.master]),
        c.command(['SENTINEL', 'master', spec.master]),
        c.command(['SENTINEL', 'replicas', spec.master]),
      ]);
    } catch {
      // The connection's close handler counts and reconnects.
      return;
    }
    if (this.#stopped || this.#cmd !== c) return;
    const fields = pairs(info);
    const promoting = promotionInProgress(fields, replicas);
    const master = promoting ?? parseMasterAddr(addr);
    if (master === undefined) {
      const unknown = addr === null || info instanceof RespErrorReply;
      this.#failed(
        new DiscoveryError(
          unknown
            ? `sentinel does not monitor a master named "${spec.master}"`
            : `unexpected reply to get-master-addr-by-name`,
        ),
        unknown ? 'unknown-master' : 'bad-reply',
      );
      this.answer = undefined;
      this.#owner.decide();
      return;
    }
    const configEpoch = Number(fields.get('config-epoch') ?? 0);
    // A promotion under way is newer than the configuration it replaces, older than any later one.
    const epoch = (Number.isFinite(configEpoch) ? configEpoch : 0) + (promoting ? 0.5 : 0);
    const prev = this.answer;
    const same = prev !== undefined && prev.host === master.host && prev.port === master.port;
    this.answer = {
      sentinel: this.id,
      host: master.host,
      port: master.port,
      epoch,
      changedAtMs: same ? prev.changedAtMs : this.#owner.nowMs(),
    };
    if (wantReplicas) this.replicas = healthyReplicas(replicas);
    this.#owner.decide();
  }
}

function parseMasterAddr(v: RespValue): ReplicaAddress | undefined {
  if (!Array.isArray(v) || v.length !== 2) return undefined;
  const [host, portText] = v as readonly RespValue[];
  const port = Number(portText);
  if (
    typeof host !== 'string' ||
    host === '' ||
    !Number.isInteger(port) ||
    port < 1 ||
    port > 65535
  )
    return undefined;
  return { host, port };
}

/** Failover states in which the leader has sent (or is sending now) `REPLICAOF NO ONE`. */
const PROMOTING_STATES = new Set(['send_slaveof_noone', 'wait_promotion']);

/**
 * The replica this sentinel is promoting right now, if any. Between
 * `REPLICAOF NO ONE` and the next INFO the leader reads from it (up to a
 * second), `get-master-addr-by-name` still names the old master, which keeps
 * acknowledging writes that the new master will never have. Following the
 * promotion from its first step instead turns those lost writes into a few
 * retryable READONLY errors (the replica may get writes a moment before it
 * executes the command); an aborted failover reverts to the old master.
 */
export function promotionInProgress(
  masterFields: ReadonlyMap<string, string>,
  replicas: RespValue,
): ReplicaAddress | undefined {
  if (!(masterFields.get('flags') ?? '').split(',').includes('failover_in_progress'))
    return undefined;
  if (!PROMOTING_STATES.has(masterFields.get('failover-state') ?? '')) return undefined;
  if (!Array.isArray(replicas)) return undefined;
  for (const item of replicas as readonly RespValue[]) {
    const f = pairs(item);
    if (!(f.get('flags') ?? '').split(',').includes('promoted')) continue;
    const host = f.get('ip');
    const port = Number(f.get('port'));
    if (host === undefined || host === '' || !Number.isInteger(port) || port < 1 || port > 65535)
      return undefined;
    return { host, port };
  }
  return undefined;
}

/** A flat `[key, value, key, value...]` reply as a map. */
function pairs(v: RespValue): Map<string, string> {
  const out = new Map<string, string>();
  if (!Array.isArray(v)) return out;
  const list = v as readonly RespValue[];
  for (let i = 0; i + 1 < list.length; i += 2) {
    const k = list[i];
    const val = list[i + 1];
    if (typeof k === 'string' && (typeof val === 'string' || typeof val === 'number')) {
      out.set(k, String(val));
    }
  }
  return out;
}

/** Flags that take a replica out of a read listener. */
const BAD_FLAGS = ['s_down', 'o_down', 'disconnected', 'promoted'];

/** `SENTINEL replicas`: those up, connected and with a working link to the master. */
export function healthyReplicas(v: RespValue): ReplicaAddress[] {
  if (!Array.isArray(v)) return [];
  const out: ReplicaAddress[] = [];
  for (const item of v as readonly RespValue[]) {
    const f = pairs(item);
    const flags = (f.get('flags') ?? '').split(',');
    if (flags.some((x) => BAD_FLAGS.includes(x))) continue;
    if (f.get('master-link-status') === 'err') continue;
    const host = f.get('ip');
    const port = Number(f.get('port'));
    if (host === undefined || host === '' || !Number.isInteger(port) || port < 1 || port > 65535)
      continue;
    out.push({ host, port });
  }
  return out.sort((a, b) => addressOf(a).localeCompare(addressOf(b)));
}
