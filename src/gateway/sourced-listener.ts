import type { ListenerSettings } from '../config/schema.ts';
import { parseBackendsUri } from '../config/backends-uri.ts';

/** A listener a Kubernetes object asks for (a Gateway listener port, a tcp-services entry). */
export interface SourcedListener {
  readonly name: string;
  readonly port: number;
  /** A `k8s-routes://` URI. */
  readonly backends: string;
  /** Read a PROXY header from clients (tcp-services `:PROXY`). */
  readonly acceptProxyProtocol?: boolean;
  /** Send a PROXY header to backends (tcp-services `::PROXY`). */
  readonly proxyProtocol?: 'v1';
}

/** Publishes the listeners it wants; resolves once they are applied, rejects when they cannot be. */
export type ApplyListeners = (listeners: readonly SourcedListener[]) => Promise<void>;

/**
 * The Headway listener for a sourced one: the template's options (flags and
 * file), on the template's --listen hosts at the object's port ([::] when
 * none is given), with the object's backends.
 */
export function toListenerSettings(
  template: ListenerSettings,
  sourced: SourcedListener,
): ListenerSettings {
  const hosts =
    template.listen.length > 0 ? [...new Set(template.listen.map((h) => h.host))] : ['::'];
  return {
    ...template,
    name: sourced.name,
    listen: hosts.map((host) => ({ host, port: sourced.port })),
    backends: parseBackendsUri(sourced.backends),
    perPodPorts: 0,
    ...(sourced.acceptProxyProtocol === true ? { acceptProxyProtocol: true } : {}),
    ...(sourced.proxyProtocol === undefined ? {} : { proxyProtocol: sourced.proxyProtocol }),
  };
}
