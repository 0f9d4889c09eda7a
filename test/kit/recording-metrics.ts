import type { Outcome } from '../../src/core/outcome.ts';
import {
  noopBackend,
  type BackendMetrics,
  type ListenerMetrics,
} from '../../src/metrics/proxy-metrics.ts';

/** A closed connection as the metrics saw it. */
export interface ClosedFigures {
  readonly backend: string | null;
  readonly outcome: Outcome;
  readonly bytesFromClient: number;
  readonly bytesFromBackend: number;
}

/**
 * Listener metrics that record what the pool and the data path report:
 * `events` in order (attempts, closes, latency samples, removals, discovery,
 * panic), and the same facts kept apart where a test asserts one kind:
 * closed connections, attempts in progress, latency samples, ejections and
 * health verdicts.
 */
export class RecordingMetrics implements ListenerMetrics {
  readonly events: string[] = [];
  readonly closed: ClosedFigures[] = [];
  /** Attempts in progress per backend (attemptStarted − attemptEnded). */
  readonly active = new Map<string, number>();
  readonly connectSeconds: number[] = [];
  readonly firstByteSeconds: number[] = [];
  readonly sessionSeconds: number[] = [];
  readonly ejections: string[] = [];
  readonly health: string[] = [];

  get panics(): number {
    return this.events.filter((e) => e === 'panic').length;
  }

  backend(id: string): BackendMetrics {
    return {
      ...noopBackend,
      attemptStarted: () => {
        this.events.push(`start ${id}`);
        this.active.set(id, (this.active.get(id) ?? 0) + 1);
      },
      attemptEnded: () => {
        this.events.push(`end ${id}`);
        this.active.set(id, (this.active.get(id) ?? 0) - 1);
      },
      connectionClosed: (outcome, bytesFromClient, bytesFromBackend) => {
        this.events.push(`closed ${id} ${outcome} ${bytesFromClient}/${bytesFromBackend}`);
        this.closed.push({ backend: id, outcome, bytesFromClient, bytesFromBackend });
      },
      observeConnect: (s) => {
        this.events.push(`connect ${id} ${s}`);
        this.connectSeconds.push(s);
      },
      observeFirstByte: (s) => {
        this.events.push(`first byte ${id} ${s}`);
        this.firstByteSeconds.push(s);
      },
      observeSession: (s) => {
        this.events.push(`session ${id} ${s}`);
        this.sessionSeconds.push(s);
      },
      remove: () => this.events.push(`remove ${id}`),
      ejected: () => this.ejections.push(id),
      setHealthy: (healthy) => this.health.push(`${id} ${healthy ? 'up' : 'down'}`),
    };
  }

  connectionClosedWithoutBackend(outcome: Outcome, bytesFromClient: number): void {
    this.events.push(`closed without backend ${outcome} ${bytesFromClient}`);
    this.closed.push({ backend: null, outcome, bytesFromClient, bytesFromBackend: 0 });
  }

  discoveryUpdated(source: string): void {
    this.events.push(`discovery ${source}`);
  }

  discoveryFailed(source: string, reason: string): void {
    this.events.push(`discovery error ${source} ${reason}`);
  }

  panicEntered(): void {
    this.events.push('panic');
  }
}
