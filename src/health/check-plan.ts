import { formatHostPort } from '../core/address.ts';
import type { ListenerSettings } from '../config/schema.ts';
import type { ProbeFn } from './active-checker.ts';
import { HttpStatusReader, httpCheckRequest } from './http-check.ts';
import { probe } from './tcp-probe.ts';

/** The listener options that shape its active checks. */
export type CheckSettings = Pick<
  ListenerSettings,
  | 'healthCheck'
  | 'healthSend'
  | 'healthExpect'
  | 'healthReject'
  | 'healthPort'
  | 'healthPath'
  | 'healthHost'
  | 'healthExpectStatus'
  | 'healthRise'
  | 'healthFall'
  | 'closeOnDown'
>;

/**
 * Whether a listener runs active checks: `tcp` and `http` always, `auto` for
 * every source but Kubernetes (whose readiness comes from the API).
 */
export function checksEnabled(mode: CheckSettings['healthCheck'], sourceKind: string): boolean {
  // EndpointSlices carry readiness already: `auto` checks only backends without it.
  const fromSlices = sourceKind === 'k8s' || sourceKind === 'k8s-routes';
  return mode === 'tcp' || mode === 'http' || (mode === 'auto' && !fromSlices);
}

/**
 * A role check asks "is this the one to write to?" rather than "is it up?":
 * a TCP check with an expectation (Redis `role:master`), or an HTTP check
 * (Patroni `GET /primary`). One answer is enough to act on, so it defaults to
 * rise 1 and fall 1 and closes the connections of a backend that fails it.
 */
export function isRoleCheck(s: CheckSettings): boolean {
  return s.healthExpect !== null || s.healthCheck === 'http';
}

export function checkRise(s: CheckSettings): number {
  return s.healthRise ?? (isRoleCheck(s) ? 1 : 2);
}

export function checkFall(s: CheckSettings): number {
  return s.healthFall ?? (isRoleCheck(s) ? 1 : 3);
}

export function closesOnDown(s: CheckSettings): boolean {
  return s.closeOnDown === 'on' || (s.closeOnDown === 'auto' && isRoleCheck(s));
}

/**
 * The probe a listener's checker runs: to `--health-port` when set (HAProxy
 * `check port`, Envoy `health_check_config.port_value`), else the backend's
 * own port; an HTTP request and status-line reader for `http`, otherwise the
 * TCP check with its send/expect and reject patterns. The checker's own
 * options (timeout, send, expect, close, signal) pass through.
 */
export function checkProbe(s: CheckSettings, run: ProbeFn = probe): ProbeFn {
  const portOverride = s.healthPort ?? undefined;
  if (s.healthCheck === 'http') {
    const path = s.healthPath;
    const accept = s.healthExpectStatus;
    return (target, opts) => {
      const port = portOverride ?? target.port;
      const host = s.healthHost ?? formatHostPort(target.address, port);
      return run(
        { address: target.address, port },
        {
          ...opts,
          send: httpCheckRequest(path, host),
          expect: undefined,
          reject: undefined,
          reader: () => new HttpStatusReader(accept),
        },
      );
    };
  }
  const reject = s.healthReject.length > 0 ? s.healthReject : undefined;
  return (target, opts) =>
    run({ address: target.address, port: portOverride ?? target.port }, { ...opts, reject });
}
