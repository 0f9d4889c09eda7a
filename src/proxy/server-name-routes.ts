import type { EndpointGroup } from '../core/endpoint.ts';

/**
 * The route a server name goes to, as Gateway listeners match TLSRoute
 * hostnames: an exact name first, then the longest matching wildcard
 * (`*.example.com` takes `a.example.com` and `a.b.example.com`), then a route
 * that takes every name. No server name (plain TCP, or a ClientHello without
 * SNI) goes only to a route that takes every name.
 */
export function groupForServerName(
  groups: readonly EndpointGroup[],
  serverName: string | undefined,
): number | undefined {
  const name = serverName?.toLowerCase();
  let best: number | undefined;
  let bestLength = -1;
  let catchAll: number | undefined;
  groups.forEach((g, i) => {
    if (g.serverNames.length === 0) {
      catchAll ??= i;
      return;
    }
    if (name === undefined) return;
    for (const pattern of g.serverNames) {
      if (pattern === name) {
        if (bestLength < Infinity) {
          best = i;
          bestLength = Infinity;
        }
      } else if (
        pattern.startsWith('*.') &&
        name.endsWith(pattern.slice(1)) &&
        pattern.length > bestLength
      ) {
        best = i;
        bestLength = pattern.length;
      }
    }
  });
  return best ?? catchAll;
}
