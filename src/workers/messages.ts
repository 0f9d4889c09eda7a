import type { ProxyConfig } from '../config/resolve.ts';
import type { EndpointSnapshot } from '../core/endpoint.ts';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { WorkerFigures } from './worker-figures.ts';

/** One listener's discovery state as the main thread knows it: given to a worker at start. */
export interface ListenerFeedState {
  readonly counts: SharedArrayBuffer;
  readonly cells: [string, number][];
  readonly snapshot: EndpointSnapshot | null;
  /** Backends failing their active checks. */
  readonly unhealthy: string[];
  /** Backends put in maintenance through the admin API. */
  readonly drained: string[];
}

/** `workerData` of a worker thread. */
export interface WorkerStart {
  readonly index: number;
  readonly config: ProxyConfig;
  readonly feed: Record<string, ListenerFeedState>;
}

/** Main thread → worker. */
export type ToWorker =
  | {
      readonly type: 'snapshot';
      readonly listener: string;
      readonly snapshot: EndpointSnapshot;
      /** A listener the worker has not seen yet brings its shared counts. */
      readonly counts: SharedArrayBuffer;
      /** Cells assigned since the last snapshot of this listener (all of them is fine too). */
      readonly cells: [string, number][];
    }
  | {
      readonly type: 'health';
      readonly listener: string;
      readonly id: string;
      readonly healthy: boolean;
    }
  | {
      readonly type: 'drain';
      readonly listener: string | undefined;
      readonly id: string;
      readonly drained: boolean;
    }
  /** The main thread's outlier detection took a backend out (every worker follows). */
  | {
      readonly type: 'eject';
      readonly listener: string;
      readonly id: string;
      readonly forMs: number;
    }
  | { readonly type: 'reload'; readonly config: ProxyConfig }
  | { readonly type: 'reopen' }
  | { readonly type: 'metrics'; readonly request: number }
  /** Per-backend figures for `/backends` (see worker-figures.ts). */
  | { readonly type: 'figures'; readonly request: number }
  | { readonly type: 'shutdown' }
  /** The forced exit: reset every open connection now, then say `aborted`. */
  | { readonly type: 'abort' };

/** Worker → main thread. */
export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'failed'; readonly error: FailureReport }
  | { readonly type: 'fatal'; readonly message: string }
  /**
   * A connect to a backend failed, or succeeded after failures somewhere in
   * the process: input of the main thread's outlier detection.
   */
  | {
      readonly type: 'connect-outcome';
      readonly listener: string;
      readonly id: string;
      readonly ok: boolean;
    }
  | {
      readonly type: 'metrics';
      readonly request: number;
      readonly metrics: MetricObjectWithValues<MetricValue<string>>[];
    }
  | { readonly type: 'figures'; readonly request: number; readonly figures: WorkerFigures }
  | { readonly type: 'stopped' }
  | { readonly type: 'aborted' };

/** A start failure, carried across the thread boundary so the CLI exits as it would without workers. */
export type FailureReport =
  | { readonly kind: 'config'; readonly field: string; readonly message: string }
  | { readonly kind: 'listen'; readonly address: string; readonly message: string }
  | { readonly kind: 'other'; readonly message: string };
