import {
  build,
  decodeFromCompressedBase64,
  encodeIntoCompressedBase64,
  type Histogram,
} from 'hdr-histogram-js';

/** Percentiles of one latency, in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export interface LatencyReport {
  /** The last one to two slots (see `slotMs`). */
  readonly window: LatencySummary;
  readonly sinceStart: LatencySummary;
}

/** How long one window slot lasts: the window covers the last 30–60 s. */
export const DEFAULT_SLOT_MS = 30_000;

function histogram(): Histogram {
  // 2 significant digits; arrays grow with the largest value seen, so a
  // backend with sub-second latencies costs a few KiB (see test/latency-memory).
  return build({
    bitBucketSize: 32,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 2,
    numberOfSignificantValueDigits: 2,
    useWebAssembly: false,
  });
}

/**
 * One latency of one backend: a rotating window of two slots plus a
 * since-start histogram (hdr-histogram-js). Values are whole units (µs or
 * ms, fixed per instance) clamped to `maxValue`, so memory stays bounded.
 * Recording is O(1) and allocation-free; rotation happens lazily when a
 * sample or a read finds the current slot over.
 */
export class LatencyWindow {
  readonly #unitsPerMs: number;
  readonly #maxValue: number;
  readonly #slotMs: number;
  #current = histogram();
  #previous = histogram();
  readonly #total = histogram();
  #slotEndMs: number;

  constructor(opts: { unit: 'us' | 'ms'; maxValue: number; slotMs: number; nowMs: number }) {
    this.#unitsPerMs = opts.unit === 'us' ? 1000 : 1;
    this.#maxValue = opts.maxValue;
    this.#slotMs = opts.slotMs;
    this.#slotEndMs = opts.nowMs + opts.slotMs;
  }

  /** Record `ms` milliseconds observed at monotonic time `nowMs`. */
  record(ms: number, nowMs: number): void {
    if (nowMs >= this.#slotEndMs) this.#rotate(nowMs);
    let v = Math.round(ms * this.#unitsPerMs);
    if (v > this.#maxValue) v = this.#maxValue;
    else if (v < 0) v = 0;
    this.#current.recordValue(v);
    this.#total.recordValue(v);
  }

  /** Bytes held by the three histograms (hdr-histogram-js's own estimate). */
  footprintBytes(): number {
    return (
      this.#current.estimatedFootprintInBytes +
      this.#previous.estimatedFootprintInBytes +
      this.#total.estimatedFootprintInBytes
    );
  }

  report(nowMs: number): LatencyReport {
    if (nowMs >= this.#slotEndMs) this.#rotate(nowMs);
    const window = histogram();
    window.add(this.#previous);
    window.add(this.#current);
    return { window: this.#summarize(window), sinceStart: this.#summarize(this.#total) };
  }

  /**
   * The window and since-start histograms, compressed, for another thread to
   * merge with its own (`mergeLatency`): percentiles cannot be added up.
   */
  export(nowMs: number): EncodedLatency {
    if (nowMs >= this.#slotEndMs) this.#rotate(nowMs);
    const window = histogram();
    window.add(this.#previous);
    window.add(this.#current);
    return {
      unitsPerMs: this.#unitsPerMs,
      window: encodeIntoCompressedBase64(window),
      sinceStart: encodeIntoCompressedBase64(this.#total),
    };
  }

  #rotate(nowMs: number): void {
    const elapsedSlots = Math.floor((nowMs - this.#slotEndMs) / this.#slotMs) + 1;
    if (elapsedSlots >= 2) {
      // Idle for more than a whole window: both slots are stale.
      this.#previous.reset();
      this.#current.reset();
    } else {
      const old = this.#previous;
      old.reset();
      this.#previous = this.#current;
      this.#current = old;
    }
    this.#slotEndMs += elapsedSlots * this.#slotMs;
  }

  #summarize(h: Histogram): LatencySummary {
    return summarize(h, this.#unitsPerMs);
  }
}

function summarize(h: Histogram, unitsPerMs: number): LatencySummary {
  const toMs = (v: number): number => Math.round((v / unitsPerMs) * 1000) / 1000;
  if (h.totalCount === 0) return { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  // Percentiles report the top of their bucket; never above the exact maximum.
  const max = h.maxValue;
  const at = (p: number): number => toMs(Math.min(h.getValueAtPercentile(p), max));
  return {
    count: h.totalCount,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    max: toMs(max),
  };
}

/** One latency's histograms, compressed (hdr-histogram-js's base64 format). */
export interface EncodedLatency {
  readonly unitsPerMs: number;
  readonly window: string;
  readonly sinceStart: string;
}

/** The percentiles of several threads' histograms of one latency, added up. */
export function mergeLatency(parts: readonly EncodedLatency[]): LatencyReport {
  const window = histogram();
  const total = histogram();
  for (const p of parts) {
    window.add(decodeFromCompressedBase64(p.window, 32, false));
    total.add(decodeFromCompressedBase64(p.sinceStart, 32, false));
  }
  const units = parts[0]?.unitsPerMs ?? 1;
  return { window: summarize(window, units), sinceStart: summarize(total, units) };
}

/** The three latencies of one backend, compressed (see `BackendLatency.export`). */
export interface EncodedBackendLatency {
  readonly connect: EncodedLatency;
  readonly firstByte: EncodedLatency;
  readonly session: EncodedLatency;
}

/** Merge the three latencies of one backend as several threads measured them. */
export function mergeBackendLatency(parts: readonly EncodedBackendLatency[]): {
  connect: LatencyReport;
  firstByte: LatencyReport;
  session: LatencyReport;
} {
  return {
    connect: mergeLatency(parts.map((p) => p.connect)),
    firstByte: mergeLatency(parts.map((p) => p.firstByte)),
    session: mergeLatency(parts.map((p) => p.session)),
  };
}

/** Largest connect / first-byte latency kept apart: 60 s (in µs). */
const MAX_SHORT_US = 60_000_000;
/** Largest session duration kept apart: 24 h (in ms). */
const MAX_SESSION_MS = 86_400_000;

/**
 * The three latencies tracked per backend: TCP connect, first byte (first
 * client byte sent upstream → first backend byte back; only where the client
 * speaks first) and session duration (accept → close).
 */
export class BackendLatency {
  readonly connect: LatencyWindow;
  readonly firstByte: LatencyWindow;
  readonly session: LatencyWindow;

  constructor(nowMs: number, slotMs = DEFAULT_SLOT_MS) {
    this.connect = new LatencyWindow({ unit: 'us', maxValue: MAX_SHORT_US, slotMs, nowMs });
    this.firstByte = new LatencyWindow({ unit: 'us', maxValue: MAX_SHORT_US, slotMs, nowMs });
    this.session = new LatencyWindow({ unit: 'ms', maxValue: MAX_SESSION_MS, slotMs, nowMs });
  }

  /** Bytes held by its nine histograms. */
  footprintBytes(): number {
    return (
      this.connect.footprintBytes() +
      this.firstByte.footprintBytes() +
      this.session.footprintBytes()
    );
  }

  export(nowMs: number): EncodedBackendLatency {
    return {
      connect: this.connect.export(nowMs),
      firstByte: this.firstByte.export(nowMs),
      session: this.session.export(nowMs),
    };
  }

  report(nowMs: number): {
    connect: LatencyReport;
    firstByte: LatencyReport;
    session: LatencyReport;
  } {
    return {
      connect: this.connect.report(nowMs),
      firstByte: this.firstByte.report(nowMs),
      session: this.session.report(nowMs),
    };
  }
}
