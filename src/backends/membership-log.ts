import { formatHostPort } from '../core/address.ts';
import type { Endpoint } from '../core/endpoint.ts';
import type { Logger } from '../core/logger.ts';

/** Up to this many backends are logged one line each; beyond, one summary line per direction. */
export const MEMBERSHIP_LINES_MAX = 10;

export interface MembershipChange {
  readonly listener: string;
  readonly added: readonly Endpoint[];
  /** Backends no longer listed, with the connections they still have. */
  readonly removed: readonly { readonly endpoint: Endpoint; readonly open: number }[];
  readonly listedBefore: number;
  readonly listedAfter: number;
}

/**
 * The discovery log an operator reads: which backends came and went (HAProxy's
 * "Server x is UP/DOWN" lines), summarised when a change is large (a 300-pod
 * rollout must not write 600 lines), and a warning when the last one left.
 */
export function logMembership(logger: Logger, change: MembershipChange): void {
  const { listener, added, removed } = change;
  if (added.length > MEMBERSHIP_LINES_MAX) {
    logger.info('backends added', {
      listener,
      count: added.length,
      backends: added.slice(0, MEMBERSHIP_LINES_MAX).map((e) => e.id),
      total: change.listedAfter,
    });
  } else {
    for (const e of added) {
      logger.info('backend added', { listener, backend: e.id, address: addressOf(e) });
    }
  }
  if (removed.length > MEMBERSHIP_LINES_MAX) {
    logger.info('backends removed', {
      listener,
      count: removed.length,
      backends: removed.slice(0, MEMBERSHIP_LINES_MAX).map((r) => r.endpoint.id),
      total: change.listedAfter,
    });
  } else {
    for (const r of removed) {
      logger.info('backend removed', {
        listener,
        backend: r.endpoint.id,
        address: addressOf(r.endpoint),
        openConnections: r.open,
      });
    }
  }
  if (change.listedBefore > 0 && change.listedAfter === 0) {
    logger.warn('every backend is gone: discovery lists none; new connections get no backend', {
      listener,
      removed: removed.length,
    });
  }
}

function addressOf(e: Endpoint): string {
  return formatHostPort(e.address, e.port);
}
