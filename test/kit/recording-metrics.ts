import {
  noopBackend,
  type BackendMetrics,
  type ListenerMetrics,
} from '../../src/metrics/proxy-metrics.ts';

/**
 * Listener metrics that record what the pool reports: `events` in order
 * (backend handles' attempts, closes and removals, discovery, panic), plus
 * ejections and health verdicts on their own so a test can assert either.
 */
export class RecordingMetrics implements ListenerMetrics {
  readonly events: string[] = [];
  readonly ejections: string[] = [];
  readonly health: string[] = [];

  get panics(): number {
    return this.events.filter((e) => e === 'panic').length;
  }

  backend(id: string): BackendMetrics {
    return {
      ...noopBackend,
      attemptStarted: () => this.events.push(`start ${id}`),
      attemptEnded: () => this.events.push(`end ${id}`),
      connectionClosed: () => this.events.push(`closed ${id}`),
      remove: () => this.events.push(`remove ${id}`),
      ejected: () => this.ejections.push(id),
      setHealthy: (healthy) => this.health.push(`${id} ${healthy ? 'up' : 'down'}`),
    };
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

  connectionClosedWithoutBackend(): void {
    this.events.push('closed without backend');
  }
}
