import type { BalanceTarget } from './balancer.ts';

/**
 * The backends a pick must avoid: those already tried for this connection,
 * unless every candidate was tried (then any may be tried again). Undefined
 * when there is nothing to avoid, the common case, so picks test it first.
 */
export function avoidedBackends(
  candidates: readonly BalanceTarget[],
  tried: readonly BalanceTarget[],
): readonly BalanceTarget[] | undefined {
  if (tried.length === 0) return undefined;
  for (const b of candidates) if (!tried.includes(b)) return tried;
  return undefined;
}
