import type { Backend } from '../backends/backend.ts';

/**
 * The backends a pick must avoid: those already tried for this connection,
 * unless every candidate was tried (then any may be tried again). Undefined
 * when there is nothing to avoid, the common case, so picks test it first.
 */
export function avoidedBackends(
  candidates: readonly Backend[],
  tried: readonly Backend[],
): readonly Backend[] | undefined {
  if (tried.length === 0) return undefined;
  for (const b of candidates) if (!tried.includes(b)) return tried;
  return undefined;
}
