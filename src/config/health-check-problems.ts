import { ANY_2XX } from './health-check-values.ts';
import type { ListenerSettings } from './schema.ts';

/** The listener options whose combinations a health check can refuse. */
export type HealthCheckOptions = Pick<
  ListenerSettings,
  | 'healthCheck'
  | 'healthSend'
  | 'healthExpect'
  | 'healthReject'
  | 'healthPath'
  | 'healthHost'
  | 'healthExpectStatus'
>;

/**
 * Options that contradict each other, as the field to name and the problem
 * (the config loader turns it into exit 2); null when consistent. An option
 * that would silently do nothing is refused rather than ignored.
 */
export function checkSettingsProblem(
  s: HealthCheckOptions,
): { readonly field: string; readonly problem: string } | null {
  if (s.healthCheck === 'http') {
    if (s.healthSend !== null) return notForHttp('health-send');
    if (s.healthExpect !== null) return notForHttp('health-expect');
    if (s.healthReject.length > 0) return notForHttp('health-reject');
  } else {
    const needsHttp = 'only applies to --health-check http';
    if (s.healthPath !== '/') return { field: 'health-path', problem: needsHttp };
    if (s.healthHost !== null) return { field: 'health-host', problem: needsHttp };
    if (s.healthExpectStatus !== ANY_2XX) {
      return { field: 'health-expect-status', problem: needsHttp };
    }
  }
  if (s.healthReject.length > 0 && s.healthExpect === null) {
    return {
      field: 'health-reject',
      problem:
        'needs --health-expect: a check passes on what it expects and fails early on what it rejects',
    };
  }
  return null;
}

function notForHttp(field: string): { readonly field: string; readonly problem: string } {
  return {
    field,
    problem:
      'does not apply to --health-check http (the status code decides; see --health-expect-status)',
  };
}
