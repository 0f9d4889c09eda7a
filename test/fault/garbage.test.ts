import { connect } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ProxyHeaderReader,
  V2_SIGNATURE,
  encodeProxyHeader,
  encodeV1Unknown,
  encodeV2Local,
} from '../../src/proxy-protocol/index.ts';
import {
  FAULT_TESTS,
  metricsOf,
  outcomes,
  report,
  settleFds,
  sleep,
  stableFds,
  startEchoChild,
  startFaultProxy,
  type FaultProxy,
} from './helpers/fault-kit.ts';
import { patternBytes } from '../helpers/sockets.ts';

const SEED = 20_251_127;

/** What one client sends, and how it leaves. */
interface Garbage {
  readonly bytes: Buffer;
  /** Offsets where the bytes are split into separate writes. */
  readonly cuts: readonly number[];
  /** Wait a little between writes, so the proxy sees them as separate reads. */
  readonly pauses: boolean;
  readonly ending: 'end' | 'reset';
}

const port = fc.integer({ min: 0, max: 65535 });

/** Well-formed headers, v1 and v2, IPv4, IPv6, UNKNOWN and LOCAL. */
const validHeader: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .record({
      v: fc.constantFrom(1 as const, 2 as const),
      s: fc.ipV4(),
      d: fc.ipV4(),
      sp: port,
      dp: port,
    })
    .map((r) =>
      encodeProxyHeader(r.v, {
        family: 'tcp4',
        sourceAddress: r.s,
        sourcePort: r.sp,
        destAddress: r.d,
        destPort: r.dp,
      }),
    ),
  fc
    .record({
      v: fc.constantFrom(1 as const, 2 as const),
      s: fc.ipV6(),
      d: fc.ipV6(),
      sp: port,
      dp: port,
    })
    .map((r) => {
      try {
        return encodeProxyHeader(r.v, {
          family: 'tcp6',
          sourceAddress: r.s,
          sourcePort: r.sp,
          destAddress: r.d,
          destPort: r.dp,
        });
      } catch {
        return encodeV1Unknown();
      }
    }),
  fc.constant(encodeV1Unknown()),
  fc.constant(encodeV2Local()),
);

const flips = fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), {
  minLength: 1,
  maxLength: 3,
});

/** The start of what a client sends: headers valid, damaged, cut short, or no header at all. */
const prefix: fc.Arbitrary<Buffer> = fc.oneof(
  validHeader,
  fc.tuple(validHeader, flips).map(([h, fl]) => {
    const b = Buffer.from(h);
    for (const f of fl) b[f.at % b.length] = f.byte;
    return b;
  }),
  fc.tuple(validHeader, fc.nat()).map(([h, n]) => h.subarray(0, n % h.length)),
  fc
    .tuple(
      fc.constantFrom(
        'PROXY',
        'PROXY ',
        'PROXY TCP4 ',
        'PROXY TCP6 ',
        'PROXY UNKNOWN',
        'proxy tcp4 ',
      ),
      fc.string({ unit: 'binary-ascii', maxLength: 120 }),
      fc.constantFrom('\r\n', '\n', '\r', ''),
    )
    .map(([a, b, c]) => Buffer.from(a + b + c, 'latin1')),
  fc
    .tuple(
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 65535 }),
      fc.uint8Array({ maxLength: 120 }),
    )
    .map(([verCmd, fam, len, body]) => {
      const fixed = Buffer.alloc(16);
      fixed.set(V2_SIGNATURE, 0);
      fixed[12] = verCmd;
      fixed[13] = fam;
      fixed.writeUInt16BE(len, 14);
      return Buffer.concat([fixed, body]);
    }),
  fc.uint8Array({ minLength: 1, maxLength: 512 }).map((u) => Buffer.from(u)),
  fc.constant(Buffer.alloc(0)),
);

const garbage: fc.Arbitrary<Garbage> = fc
  .record({
    prefix,
    payload: fc.oneof(
      { weight: 9, arbitrary: fc.uint8Array({ maxLength: 2048 }).map((u) => Buffer.from(u)) },
      // Now and then a bulk payload, so reads fill the large buffers too.
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.integer({ min: 65_536, max: 300_000 }), fc.nat())
          .map(([n, seed]) => patternBytes(n, seed)),
      },
    ),
    cuts: fc.array(fc.nat(), { maxLength: 6 }),
    pauses: fc.boolean(),
    ending: fc.constantFrom<'end' | 'reset'>('end', 'end', 'end', 'reset'),
  })
  .map((r) => {
    const bytes = Buffer.concat([r.prefix, r.payload]);
    const cuts = [...new Set(r.cuts.map((c) => (bytes.length === 0 ? 0 : c % bytes.length)))].sort(
      (x, y) => x - y,
    );
    return { bytes, cuts, pauses: r.pauses, ending: r.ending };
  });

interface Sent {
  readonly reply: Buffer;
  readonly error: string | undefined;
  readonly gotFin: boolean;
  readonly timedOut: boolean;
}

/** Send the garbage in its chunks, leave as it says, and collect what comes back until the close. */
function send(p: number, g: Garbage): Promise<Sent> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port: p, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let error: string | undefined;
    let gotFin = false;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      s.destroy();
    }, 8000);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => (gotFin = true));
    s.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code ?? 'error'));
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ reply: Buffer.concat(chunks), error, gotFin, timedOut });
    });
    s.on('connect', () => {
      void (async () => {
        let from = 0;
        for (const cut of [...g.cuts, g.bytes.length]) {
          if (cut <= from) continue;
          if (s.destroyed) return;
          s.write(g.bytes.subarray(from, cut));
          from = cut;
          if (g.pauses) await sleep(2);
        }
        if (s.destroyed) return;
        if (g.ending === 'reset') s.resetAndDestroy();
        else s.end();
      })();
    });
  });
}

/**
 * What the proxy must do with these bytes: with PROXY acceptance, the
 * header read in one go decides (the proxy reads it in chunks, which must
 * not matter); without, everything is echoed.
 */
function expected(
  g: Garbage,
  acceptProxy: boolean,
): { kind: 'echo'; reply: Buffer } | { kind: 'refused' } {
  if (!acceptProxy) return { kind: 'echo', reply: g.bytes };
  const r = new ProxyHeaderReader().push(Buffer.from(g.bytes));
  return r.kind === 'done' ? { kind: 'echo', reply: Buffer.from(r.rest) } : { kind: 'refused' };
}

interface Counts {
  connections: number;
  ended: number;
  reset: number;
  echoed: number;
  /** Echo cases with nothing to deliver: a FIN before the backend answers abandons the connect. */
  empty: number;
  refused: number;
  mismatches: number;
}

async function runMode(
  acceptProxy: boolean,
  proxy: FaultProxy,
): Promise<{ counts: Counts; seconds: string }> {
  const counts: Counts = {
    connections: 0,
    ended: 0,
    reset: 0,
    echoed: 0,
    empty: 0,
    refused: 0,
    mismatches: 0,
  };
  const check = (g: Garbage, got: Sent): void => {
    counts.connections++;
    expect(got.timedOut).toBe(false);
    expect(proxy.proc.exitCode).toBeNull();
    if (g.ending === 'reset') {
      counts.reset++;
      return;
    }
    counts.ended++;
    const want = expected(g, acceptProxy);
    if (want.kind === 'echo') {
      counts.echoed++;
      if (want.reply.length === 0) counts.empty++;
      // Nothing lost, nothing added: exactly the bytes after the header (all of them without
      // PROXY acceptance), then a clean FIN.
      if (!got.reply.equals(want.reply) || got.error !== undefined || !got.gotFin)
        counts.mismatches++;
      expect(got.reply.equals(want.reply)).toBe(true);
      expect(got.error).toBeUndefined();
      expect(got.gotFin).toBe(true);
    } else {
      counts.refused++;
      if (got.reply.length !== 0) counts.mismatches++;
      expect(got.reply.length).toBe(0);
    }
  };

  const t0 = performance.now();
  // One client at a time, shrinking to a minimal case on failure ...
  await fc.assert(
    fc.asyncProperty(garbage, async (g) => {
      check(g, await send(proxy.port, g));
    }),
    {
      seed: SEED,
      numRuns: 1000,
      plugins: [fc.interruptAfterTimeLimit(90_000, { failOnInterrupt: true })],
    },
  );
  // ... then bursts of 50 at once.
  const burst = fc.sample(garbage, { seed: SEED + 1, numRuns: 1000 });
  for (let i = 0; i < burst.length; i += 50) {
    const batch = burst.slice(i, i + 50);
    const results = await Promise.all(batch.map((g) => send(proxy.port, g)));
    batch.forEach((g, j) => check(g, results[j] as Sent));
  }
  return { counts, seconds: ((performance.now() - t0) / 1000).toFixed(1) };
}

/** A well-formed exchange after the garbage: the proxy still serves. */
async function stillServes(p: number, acceptProxy: boolean): Promise<boolean> {
  const body = Buffer.from('still serving');
  const header = acceptProxy
    ? encodeProxyHeader(1, {
        family: 'tcp4',
        sourceAddress: '192.0.2.1',
        sourcePort: 1234,
        destAddress: '192.0.2.2',
        destPort: 80,
      })
    : Buffer.alloc(0);
  const got = await send(p, {
    bytes: Buffer.concat([header, body]),
    cuts: [],
    pauses: false,
    ending: 'end',
  });
  return got.reply.equals(body) && got.error === undefined;
}

describe.skipIf(!FAULT_TESTS)('seeded garbage from clients', () => {
  it.each([
    { acceptProxy: true, name: 'PROXY acceptance on' },
    { acceptProxy: false, name: 'PROXY acceptance off' },
  ])('$name: never crashes, loses nothing, still serves', async ({ acceptProxy, name }) => {
    const echo = await startEchoChild();
    const proxy = await startFaultProxy([
      ...(acceptProxy ? ['--accept-proxy-protocol'] : []),
      '--backends',
      `static://${echo.address}`,
    ]);
    try {
      expect(await stillServes(proxy.port, acceptProxy)).toBe(true);
      const baseline = await stableFds(proxy.pid);
      const { counts, seconds } = await runMode(acceptProxy, proxy);
      const serves = await stillServes(proxy.port, acceptProxy);
      const fdsAfter = await settleFds(proxy.pid, baseline, 10_000);
      let metrics = await metricsOf(proxy.adminUrl);
      const total = (m: string): number => Object.values(outcomes(m)).reduce((n, v) => n + v, 0);
      const connections = counts.connections + 2;
      for (let i = 0; i < 50 && total(metrics) < connections; i++) {
        await sleep(100);
        metrics = await metricsOf(proxy.adminUrl);
      }
      report(`garbage, ${name}`, {
        seed: SEED,
        ...counts,
        seconds,
        alive: proxy.proc.exitCode === null,
        stillServes: serves,
        fdsBefore: baseline,
        fdsAfter,
        outcomes: outcomes(metrics),
      });
      expect(proxy.proc.exitCode).toBeNull();
      expect(serves).toBe(true);
      expect(fdsAfter).toBe(baseline);
      // Every connection was counted once.
      expect(total(metrics)).toBe(connections);
      const o = outcomes(metrics);
      if (acceptProxy) expect(o.proxy_protocol_error ?? 0).toBeGreaterThanOrEqual(counts.refused);
      // An empty exchange ends as ok when the backend answered first, else as client_left.
      expect(o.client_left ?? 0).toBeLessThanOrEqual(counts.empty);
      expect((o.ok ?? 0) + (o.client_left ?? 0)).toBeGreaterThanOrEqual(counts.echoed + 2);
    } finally {
      await proxy.stop('SIGKILL');
      await echo.stop();
    }
  });
});
