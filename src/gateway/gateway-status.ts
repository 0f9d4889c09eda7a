import {
  CONTROLLER_NAME,
  GATEWAY_GROUP,
  type ConditionJson,
  type GatewayJson,
  type RouteJson,
  type RouteParentStatusJson,
} from './gateway-types.ts';
import type { Condition, GatewayTranslation, RouteStatusResult } from './translate.ts';

/** How the last apply of the translated listeners went. */
export type ApplyResult = { readonly ok: true } | { readonly ok: false; readonly error: string };

/**
 * Conditions as written: the observed generation, and the transition time
 * kept from the current object when the status did not change (the spec's
 * rule), else now.
 */
function stamp(
  conditions: readonly Condition[],
  generation: number,
  current: readonly ConditionJson[] | null | undefined,
  nowIso: string,
): ConditionJson[] {
  return conditions.map((c) => {
    const before = current?.find((x) => x.type === c.type);
    const time =
      before !== undefined && before.status === c.status ? before.lastTransitionTime : undefined;
    return { ...c, observedGeneration: generation, lastTransitionTime: time ?? nowIso };
  });
}

/** The Gateway's `status` (conditions, listeners) after a translation and its apply. */
export function gatewayStatus(
  gateway: GatewayJson,
  t: NonNullable<GatewayTranslation['gateway']>,
  applied: ApplyResult,
  nowIso: string,
): Record<string, unknown> {
  const programmed = applied.ok
    ? {
        type: 'Programmed',
        status: 'True' as const,
        reason: 'Programmed',
        message: 'listeners are bound',
      }
    : { type: 'Programmed', status: 'False' as const, reason: 'Invalid', message: applied.error };
  const listeners = t.listeners.map((l) => {
    const listenerProgrammed: Condition = !l.served
      ? {
          type: 'Programmed',
          status: 'False',
          reason: 'Invalid',
          message: 'listener is not served',
        }
      : applied.ok
        ? { type: 'Programmed', status: 'True', reason: 'Programmed', message: 'bound' }
        : { type: 'Programmed', status: 'False', reason: 'Pending', message: applied.error };
    const current = gateway.status?.listeners?.find((x) => x.name === l.name)?.conditions;
    return {
      name: l.name,
      supportedKinds: l.supportedKinds.map((kind) => ({ group: GATEWAY_GROUP, kind })),
      attachedRoutes: l.attachedRoutes,
      conditions: stamp([...l.conditions, listenerProgrammed], t.generation, current, nowIso),
    };
  });
  return {
    conditions: stamp(
      [...t.conditions, programmed],
      t.generation,
      gateway.status?.conditions,
      nowIso,
    ),
    listeners,
  };
}

/**
 * A route's `status.parents` after a translation: the entries of other
 * controllers kept as they are, ours replaced (or dropped when the route no
 * longer names our Gateway).
 */
export function routeParents(
  route: RouteJson,
  result: RouteStatusResult | undefined,
  nowIso: string,
): RouteParentStatusJson[] {
  const current = route.status?.parents ?? [];
  const others = current.filter((p) => p.controllerName !== CONTROLLER_NAME);
  const ours = (result?.parents ?? []).map((p) => {
    const before = current.find(
      (c) => c.controllerName === CONTROLLER_NAME && sameRef(c.parentRef, p.parentRef),
    );
    return {
      parentRef: p.parentRef,
      controllerName: CONTROLLER_NAME,
      conditions: stamp(p.conditions, result?.generation ?? 0, before?.conditions, nowIso),
    };
  });
  return [...others, ...ours];
}

function sameRef(
  a: RouteParentStatusJson['parentRef'],
  b: RouteParentStatusJson['parentRef'],
): boolean {
  return (
    a.name === b.name &&
    (a.namespace ?? '') === (b.namespace ?? '') &&
    (a.sectionName ?? '') === (b.sectionName ?? '') &&
    (a.port ?? 0) === (b.port ?? 0)
  );
}

/** Status equality that ignores transition times (a rewrite would change only them). */
export function sameStatus(a: unknown, b: unknown): boolean {
  return JSON.stringify(withoutTimes(a)) === JSON.stringify(withoutTimes(b));
}

function withoutTimes(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutTimes);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) {
    if (k === 'lastTransitionTime') continue;
    out[k] = withoutTimes((v as Record<string, unknown>)[k]);
  }
  return out;
}
