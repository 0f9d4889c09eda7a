import { describe, expect, it } from 'vitest';
import { gatewayStatus, routeParents, sameStatus } from './gateway-status.ts';
import { CONTROLLER_NAME, type RouteJson } from './gateway-types.ts';

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-02T00:00:00.000Z';

describe('status written back', () => {
  it('keeps a condition transition time while its status holds, and stamps the observed generation', () => {
    const gw = {
      status: {
        conditions: [
          {
            type: 'Accepted',
            status: 'True' as const,
            reason: 'Accepted',
            message: '',
            lastTransitionTime: T0,
          },
          {
            type: 'Programmed',
            status: 'True' as const,
            reason: 'Programmed',
            message: '',
            lastTransitionTime: T0,
          },
        ],
      },
    };
    const t = {
      generation: 4,
      conditions: [
        { type: 'Accepted', status: 'True' as const, reason: 'Accepted', message: 'ok' },
      ],
      listeners: [
        {
          name: 'tcp',
          supportedKinds: ['TCPRoute' as const],
          attachedRoutes: 2,
          conditions: [],
          served: true,
        },
      ],
    };
    const st = gatewayStatus(gw, t, { ok: false, error: 'EADDRINUSE' }, T1) as {
      conditions: {
        type: string;
        status: string;
        lastTransitionTime: string;
        observedGeneration: number;
      }[];
      listeners: { attachedRoutes: number; conditions: { type: string; reason: string }[] }[];
    };
    expect(
      st.conditions.map((c) => [c.type, c.status, c.lastTransitionTime, c.observedGeneration]),
    ).toEqual([
      ['Accepted', 'True', T0, 4],
      ['Programmed', 'False', T1, 4],
    ]);
    expect(st.listeners[0]?.attachedRoutes).toBe(2);
    expect(st.listeners[0]?.conditions.find((c) => c.type === 'Programmed')?.reason).toBe(
      'Pending',
    );
  });

  it("keeps other controllers' route parents and drops ours once the route leaves our Gateway", () => {
    const theirs = {
      parentRef: { name: 'x' },
      controllerName: 'example.com/other',
      conditions: [],
    };
    const route: RouteJson = {
      status: {
        parents: [
          theirs,
          { parentRef: { name: 'edge' }, controllerName: CONTROLLER_NAME, conditions: [] },
        ],
      },
    };
    expect(routeParents(route, undefined, T1)).toEqual([theirs]);
    const ours = routeParents(
      route,
      {
        kind: 'TCPRoute',
        namespace: 'infra',
        name: 'r',
        generation: 7,
        parents: [
          {
            parentRef: {
              group: 'gateway.networking.k8s.io',
              kind: 'Gateway',
              namespace: 'infra',
              name: 'edge',
            },
            conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: '' }],
          },
        ],
      },
      T1,
    );
    expect(ours[1]).toMatchObject({
      controllerName: CONTROLLER_NAME,
      conditions: [{ observedGeneration: 7 }],
    });
  });

  it('compares statuses without their transition times', () => {
    expect(
      sameStatus(
        { c: [{ a: 1, lastTransitionTime: T0 }] },
        { c: [{ lastTransitionTime: T1, a: 1 }] },
      ),
    ).toBe(true);
    expect(sameStatus({ c: [{ a: 1 }] }, { c: [{ a: 2 }] })).toBe(false);
  });
});
