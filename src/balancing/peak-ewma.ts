/**
 * A peak-EWMA latency estimate (Finagle's `PeakEwma`, as Linkerd and tower
 * use it), in milliseconds. A sample above the current value replaces it
 * (peak: a backend turning slow is noticed at once); a lower sample pulls it
 * down by 1 - e^(-Δt/τ), Δt being the time since the previous sample (a fast
 * backend is trusted again gradually). Between samples the value decays
 * towards zero with the same time constant τ, so a backend that stopped
 * getting traffic for being slow is eventually tried again, and wins its
 * traffic back if it has recovered.
 */
export class PeakEwma {
  #valueMs: number;
  #atMs: number;

  constructor(initialMs: number, nowMs: number) {
    this.#valueMs = initialMs;
    this.#atMs = nowMs;
  }

  /** The estimate at `nowMs`, decayed since the last sample. */
  valueAt(nowMs: number, decayMs: number): number {
    return this.#valueMs * Math.exp(-Math.max(0, nowMs - this.#atMs) / decayMs);
  }

  observe(sampleMs: number, nowMs: number, decayMs: number): void {
    const keep = Math.exp(-Math.max(0, nowMs - this.#atMs) / decayMs);
    const current = this.#valueMs * keep;
    this.#valueMs = sampleMs >= current ? sampleMs : current + (sampleMs - current) * (1 - keep);
    this.#atMs = Math.max(this.#atMs, nowMs);
  }
}
