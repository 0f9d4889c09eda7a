import { ConfigError, errorMessage, ListenError, WorkerError } from '../core/errors.ts';
import type { FailureReport } from './messages.ts';

/** Describe a start failure so that it can cross to the main thread. */
export function reportFailure(err: unknown): FailureReport {
  if (err instanceof ConfigError) return { kind: 'config', field: err.field, message: err.message };
  if (err instanceof ListenError)
    return { kind: 'listen', address: err.address, message: err.message };
  return { kind: 'other', message: errorMessage(err) };
}

/** The error a worker's start failure stands for in the main thread (same exit codes as without workers). */
export function failureError(report: FailureReport): Error {
  switch (report.kind) {
    case 'config':
      return new ConfigError(report.field, report.message.slice(report.field.length + 2));
    case 'listen': {
      const prefix = `cannot listen on ${report.address}: `;
      return new ListenError(report.address, report.message.slice(prefix.length));
    }
    case 'other':
      return new WorkerError(report.message);
  }
}
