import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ActiveHealthChecker, type ActiveHealthCheckerOptions } from './active-checker.ts';
import { parseCheckExpect, parseCheckSend } from '../config/check-string.ts';
import type { ProbeOptions, ProbeResult, ProbeTarget } from './tcp-probe.ts';

const T0 = Date.UTC(2024, 6, 1, 12, 0, 0);

interface Call {
  readonly where: string;
  readonly atMs: number;
  readonly opts: ProbeOptions;
  settled: boolean;
  resolve(r: ProbeResult): void;
}

/**
 * A scripted probe. Each address has a queue of outcomes (`true`/`false`, or
 * `'hang'` to keep the probe in flight until `release()` or an abort);
 * an empty queue means success.
 */
class FakeProbe {
  readonly calls: Call[] = [];
  readonly #scripts = new Map<string, (boolean | 'hang')[]>();

  script(where: string, ...outcomes: (boolean | 'hang')[]): void {
    this.#scripts.set(where, [...(this.#scripts.get(where) ?? []), ...outcomes]);
  }

  readonly fn = (target: ProbeTarget, opts: ProbeOptions): Promise<ProbeResult> => {
    const where = `${target.address}:${target.port}`;
    const outcome = this.#scripts.get(where)?.shift() ?? true;
    return new Promise<ProbeResult>((resolve) => {
      const call: Call = {
        where,
        atMs: Date.now() - T0,
        opts,
        settled: false,
        resolve: (r) => {
          call.settled = true;
          resolve(r);
        },
      };
      this.calls.push(call);
      opts.signal?.addEventListener('abort', () =>
        call.resolve({ ok: false, reason: 'aborted', ms: 1 }),
      );
      if (outcome === 'hang') return;
      call.resolve(
        outcome
          ? { ok: true, reason: 'connected', ms: 3 }
          : { ok: false, reason: 'connection refused', ms: 2 },
      );
    });
  };

  /** Call times (ms since T0) at one address. */
  times(where: string): number[] {
    return this.calls.filter((c) => c.where === where).map((c) => c.atMs);
  }

  release(where: string, ok: boolean): void {
    const call = this.calls.find((c) => c.where === where && !c.settled);
    if (call === undefined) throw new Error(`no probe in flight at ${where}`);
    call.resolve(
      ok ? { ok: true, reason: 'late ok', ms: 900 } : { ok: false, reason: 'late fail', ms: 900 },
    );
  }
}

interface Change {
  readonly id: string;
  readonly healthy: boolean;
  readonly reason: string;
  readonly atMs: number;
}

function setup(over: Partial<ActiveHealthCheckerOptions> = {}, randoms: number[] = []) {
  const probe = new FakeProbe();
  const changes: Change[] = [];
  const checker = new ActiveHealthChecker(
    {
      intervalMs: 1000,
      timeoutMs: 500,
      rise: 2,
      fall: 3,
      random: () => randoms.shift() ?? 0,
      probe: probe.fn,
      ...over,
    },
    (id, healthy, detail) =>
      changes.push({ id, healthy, reason: detail.reason, atMs: Date.now() - T0 }),
  );
  return { probe, changes, checker };
}

const target = (id: string, address = '10.0.0.1', port = 6379) => ({ id, address, port });

/** Let probe results (microtasks) settle without moving the clock. */
const settle = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers({
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
  });
  vi.setSystemTime(T0);
});

afterEach(() => {
  vi.useRealTimers();
});

describe('ActiveHealthChecker', () => {
  it('starts a new target healthy and checks it at once', async () => {
    const { probe, checker, changes } = setup();
    checker.setTargets([target('a')]);
    expect(probe.calls).toHaveLength(1);
    expect(checker.status('a')).toMatchObject({
      healthy: true,
      checks: 0,
      lastCheckAtMs: undefined,
    });
    await settle();
    expect(checker.status('a')).toEqual({
      healthy: true,
      consecutiveSuccesses: 1,
      consecutiveFailures: 0,
      checks: 1,
      lastCheckAtMs: T0,
      lastReason: 'connected',
      lastMs: 3,
      address: '10.0.0.1',
      port: 6379,
    });
    expect(changes).toEqual([]);
    checker.stop();
  });

  it('passes timeout, send, expect and the close mode to the probe', () => {
    const send = parseCheckSend('INFO replication\\r\\n');
    const expectRole = parseCheckExpect('role:master');
    const { probe, checker } = setup({ timeoutMs: 250, send, expect: expectRole, close: 'reset' });
    checker.setTargets([target('a')]);
    expect(probe.calls[0]?.opts).toMatchObject({
      timeoutMs: 250,
      send,
      expect: expectRole,
      close: 'reset',
    });
    expect(probe.calls[0]?.opts.signal).toBeInstanceOf(AbortSignal);
    checker.stop();
  });

  it('goes down after `fall` consecutive failures and up after `rise` consecutive successes', async () => {
    const { probe, checker, changes } = setup({}, [0.5]);
    const at = '10.0.0.1:6379';
    // first (immediate) ok, then F F S F F F S S
    probe.script(at, true, false, false, true, false, false, false, true, true);
    checker.setTargets([target('a')]);
    await settle();
    // Phase 0.5 → periodic checks at 1000, 2000, ...
    await vi.advanceTimersByTimeAsync(3000); // F F S
    expect(changes).toEqual([]);
    expect(checker.status('a')).toMatchObject({ healthy: true, consecutiveSuccesses: 1 });
    await vi.advanceTimersByTimeAsync(2000); // F F
    expect(checker.status('a')).toMatchObject({ healthy: true, consecutiveFailures: 2 });
    await vi.advanceTimersByTimeAsync(1000); // F: third in a row
    expect(changes).toEqual([
      { id: 'a', healthy: false, reason: 'connection refused', atMs: 6000 },
    ]);
    await vi.advanceTimersByTimeAsync(1000); // S
    expect(checker.status('a')).toMatchObject({ healthy: false, consecutiveSuccesses: 1 });
    await vi.advanceTimersByTimeAsync(1000); // S: second in a row
    expect(changes.slice(1)).toEqual([{ id: 'a', healthy: true, reason: 'connected', atMs: 8000 }]);
    expect(probe.times(at)).toEqual([0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000]);
    checker.stop();
  });

  it('takes a new target out on its first failed check, as HAProxy init-state up', async () => {
    const { probe, checker, changes } = setup({}, [0.5]);
    probe.script('10.0.0.1:6379', false, true, true);
    checker.setTargets([target('a')]);
    await settle();
    expect(changes).toEqual([{ id: 'a', healthy: false, reason: 'connection refused', atMs: 0 }]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(changes[1]).toEqual({ id: 'a', healthy: true, reason: 'connected', atMs: 2000 });
    checker.stop();
  });

  it('with rise 1 and fall 1 follows every result (primary-only routing)', async () => {
    const { probe, checker, changes } = setup({ rise: 1, fall: 1 }, [0.5]);
    probe.script('10.0.0.1:6379', true, false, false, true, false);
    checker.setTargets([target('a')]);
    await vi.advanceTimersByTimeAsync(4000);
    expect(changes.map((c) => `${c.atMs}:${c.healthy}`)).toEqual([
      '1000:false',
      '3000:true',
      '4000:false',
    ]);
    checker.stop();
  });

  it('spreads the periodic checks of targets added together over an interval', async () => {
    const { probe, checker } = setup({ intervalMs: 1000 }, [0, 0.25, 0.5, 0.75]);
    checker.setTargets([1, 2, 3, 4].map((i) => target(`t${i}`, `10.0.0.${i}`)));
    await vi.advanceTimersByTimeAsync(2600);
    expect(probe.times('10.0.0.1:6379')).toEqual([0, 500, 1500, 2500]);
    expect(probe.times('10.0.0.2:6379')).toEqual([0, 750, 1750]);
    expect(probe.times('10.0.0.3:6379')).toEqual([0, 1000, 2000]);
    expect(probe.times('10.0.0.4:6379')).toEqual([0, 1250, 2250]);
    checker.stop();
  });

  it('keeps one probe in flight per target: ticks that find one running are skipped', async () => {
    const { probe, checker, changes } = setup({ intervalMs: 1000, timeoutMs: 5000 }, [0.5]);
    const at = '10.0.0.1:6379';
    probe.script(at, true, 'hang');
    checker.setTargets([target('a')]);
    await vi.advanceTimersByTimeAsync(3500);
    expect(probe.times(at)).toEqual([0, 1000]);
    probe.release(at, false);
    await settle();
    expect(checker.status('a')).toMatchObject({
      consecutiveFailures: 1,
      lastReason: 'late fail',
      lastMs: 900,
    });
    await vi.advanceTimersByTimeAsync(1000);
    expect(probe.times(at)).toEqual([0, 1000, 4000]);
    expect(changes).toEqual([]);
    checker.stop();
  });

  it('checks a target whose address changed at once at the new address, keeping its state', async () => {
    const { probe, checker, changes } = setup({ fall: 1 }, [0.5]);
    probe.script('10.0.0.1:6379', true, false);
    checker.setTargets([target('a', '10.0.0.1')]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(changes).toEqual([
      { id: 'a', healthy: false, reason: 'connection refused', atMs: 1000 },
    ]);
    probe.script('10.0.0.9:6379', true, true);
    await vi.advanceTimersByTimeAsync(300);
    checker.setTargets([target('a', '10.0.0.9')]);
    expect(probe.calls.at(-1)).toMatchObject({ where: '10.0.0.9:6379', atMs: 1300 });
    await settle();
    // Still down (rise 2), one success counted, now at the new address.
    expect(checker.status('a')).toMatchObject({
      healthy: false,
      consecutiveSuccesses: 1,
      checks: 3,
      address: '10.0.0.9',
    });
    // The schedule (phase) is unchanged.
    await vi.advanceTimersByTimeAsync(700);
    expect(probe.times('10.0.0.9:6379')).toEqual([1300, 2000]);
    expect(changes[1]).toEqual({ id: 'a', healthy: true, reason: 'connected', atMs: 2000 });
    checker.stop();
  });

  it('aborts a probe to the old address and ignores its result', async () => {
    const { probe, checker, changes } = setup({ fall: 1 }, [0.5]);
    probe.script('10.0.0.1:6379', 'hang');
    checker.setTargets([target('a', '10.0.0.1')]);
    const old = probe.calls[0];
    checker.setTargets([target('a', '10.0.0.1', 6380)]);
    expect(old?.opts.signal?.aborted).toBe(true);
    await settle();
    expect(changes).toEqual([]);
    expect(checker.status('a')).toMatchObject({
      healthy: true,
      checks: 1,
      lastReason: 'connected',
      port: 6380,
    });
    checker.stop();
  });

  it('stops checking removed targets, aborting their probe and dropping its result', async () => {
    const { probe, checker, changes } = setup({ fall: 1 }, [0.5, 0.5]);
    probe.script('10.0.0.2:6379', true, 'hang');
    checker.setTargets([target('a'), target('b', '10.0.0.2')]);
    await vi.advanceTimersByTimeAsync(1000);
    const inflight = probe.calls.at(-1);
    expect(inflight).toMatchObject({ where: '10.0.0.2:6379', settled: false });
    checker.setTargets([target('a')]);
    expect(inflight?.opts.signal?.aborted).toBe(true);
    expect(checker.status('b')).toBeUndefined();
    expect([...checker.ids()]).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(3000);
    expect(probe.times('10.0.0.2:6379')).toEqual([0, 1000]);
    expect(probe.times('10.0.0.1:6379')).toEqual([0, 1000, 2000, 3000, 4000]);
    expect(changes).toEqual([]);
    checker.stop();
  });

  it('treats a re-added id as new: healthy, checked at once', async () => {
    const { probe, checker } = setup({}, [0.5, 0.5]);
    probe.script('10.0.0.1:6379', false);
    checker.setTargets([target('a')]);
    await settle();
    expect(checker.isHealthy('a')).toBe(false);
    checker.setTargets([]);
    checker.setTargets([target('a')]);
    expect(checker.isHealthy('a')).toBe(true);
    expect(checker.status('a')?.checks).toBe(0);
    expect(probe.calls).toHaveLength(2);
    checker.stop();
  });

  it('keeps the first of duplicate ids', () => {
    const { probe, checker } = setup();
    checker.setTargets([target('a', '10.0.0.1'), target('a', '10.0.0.2')]);
    expect(probe.calls.map((c) => c.where)).toEqual(['10.0.0.1:6379']);
    checker.stop();
  });

  it('counts a probe that throws or rejects as a failed check', async () => {
    const changes: string[] = [];
    let n = 0;
    const checker = new ActiveHealthChecker(
      {
        intervalMs: 1000,
        timeoutMs: 500,
        rise: 1,
        fall: 1,
        random: () => 0.5,
        probe: () => {
          n++;
          if (n === 1) throw new Error('boom');
          return Promise.reject(new Error('nope'));
        },
      },
      (id, healthy, { reason }) => changes.push(`${id} ${healthy} ${reason}`),
    );
    checker.setTargets([target('a')]);
    await settle();
    expect(changes).toEqual(['a false probe error: boom']);
    await vi.advanceTimersByTimeAsync(1000);
    expect(checker.status('a')).toMatchObject({
      consecutiveFailures: 2,
      lastReason: 'probe error: nope',
    });
    checker.stop();
  });

  it('stop() clears every timer, aborts probes and ignores later targets', async () => {
    const { probe, checker, changes } = setup({}, [0.5, 0.5]);
    probe.script('10.0.0.2:6379', 'hang');
    checker.setTargets([target('a'), target('b', '10.0.0.2')]);
    expect(vi.getTimerCount()).toBe(2);
    checker.stop();
    expect(vi.getTimerCount()).toBe(0);
    expect(probe.calls[1]?.opts.signal?.aborted).toBe(true);
    checker.setTargets([target('c')]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(probe.calls).toHaveLength(2);
    expect(changes).toEqual([]);
    expect(checker.status('a')).toBeUndefined();
  });

  it.each([
    [{ intervalMs: 0 }, /intervalMs must be a positive number/],
    [{ timeoutMs: -1 }, /timeoutMs must be a positive number/],
    [{ intervalMs: Number.NaN }, /intervalMs/],
    [{ rise: 0 }, /rise must be an integer of at least 1/],
    [{ fall: 1.5 }, /fall must be an integer of at least 1/],
  ])('refuses bad options %j', (over, message) => {
    expect(() => setup(over)).toThrow(message);
  });
});

describe('ActiveHealthChecker timers', () => {
  it('never keeps the process alive', () => {
    vi.useRealTimers();
    const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timeouts();
    const checker = new ActiveHealthChecker(
      {
        intervalMs: 1000,
        timeoutMs: 500,
        rise: 2,
        fall: 3,
        random: () => 0.5,
        probe: () => new Promise(() => undefined),
      },
      () => undefined,
    );
    checker.setTargets([target('a'), target('b')]);
    expect(timeouts()).toBe(before);
    checker.stop();
  });
});
