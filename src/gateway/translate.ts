import {
  formatK8sRoutes,
  type K8sRouteSpec,
  type K8sWeightedRef,
} from '../config/k8s-routes-uri.ts';
import {
  GATEWAY_GROUP,
  type BackendRefJson,
  type GatewayJson,
  type GatewayListenerJson,
  type LabelSelectorJson,
  type ParentRefJson,
  type ReferenceGrantJson,
  type RouteJson,
  type RouteKind,
  type ServiceJson,
} from './gateway-types.ts';

/** Everything the translation reads, as the watches see it now. */
export interface GatewayInputs {
  readonly className: string;
  readonly gatewayNamespace: string;
  readonly gatewayName: string;
  /** Undefined: the Gateway does not exist (yet). */
  readonly gateway: GatewayJson | undefined;
  readonly tcpRoutes: readonly RouteJson[];
  readonly tlsRoutes: readonly RouteJson[];
  /** By `namespace/name`. */
  readonly services: ReadonlyMap<string, ServiceJson>;
  readonly referenceGrants: readonly ReferenceGrantJson[];
  /** Namespace labels by name (for `allowedRoutes.namespaces.from: Selector`). */
  readonly namespaceLabels: ReadonlyMap<string, Readonly<Record<string, string>>>;
}

/** A condition without its timestamps (the status writer keeps or sets them). */
export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False';
  readonly reason: string;
  readonly message: string;
}

/** One Headway listener to serve: every Gateway listener on one port. */
export interface ServedListener {
  readonly name: string;
  readonly port: number;
  /** A `k8s-routes://` URI. */
  readonly backends: string;
  /** The Gateway listeners it serves (their Programmed condition follows its bind). */
  readonly gatewayListeners: readonly string[];
}

export interface ListenerStatus {
  readonly name: string;
  readonly supportedKinds: readonly RouteKind[];
  readonly attachedRoutes: number;
  readonly conditions: readonly Condition[];
  /** Served (bound) when the reload succeeds: Programmed follows it. */
  readonly served: boolean;
}

export interface RouteParentResult {
  readonly parentRef: {
    readonly group: string;
    readonly kind: string;
    readonly namespace: string;
    readonly name: string;
    readonly sectionName?: string;
    readonly port?: number;
  };
  readonly conditions: readonly Condition[];
}

export interface RouteStatusResult {
  readonly kind: RouteKind;
  readonly namespace: string;
  readonly name: string;
  readonly generation: number;
  readonly parents: readonly RouteParentResult[];
}

export interface GatewayTranslation {
  readonly listeners: readonly ServedListener[];
  /** Undefined when the Gateway is absent or not of our class: no status is written for it. */
  readonly gateway:
    | {
        readonly generation: number;
        readonly conditions: readonly Condition[];
        readonly listeners: readonly ListenerStatus[];
      }
    | undefined;
  readonly routes: readonly RouteStatusResult[];
}

interface ListenerState {
  readonly spec: GatewayListenerJson;
  readonly kinds: readonly RouteKind[];
  readonly conditions: Condition[];
  readonly valid: boolean;
  attached: number;
}

interface AttachedRoute {
  readonly kind: RouteKind;
  readonly route: RouteJson;
  readonly listener: ListenerState;
  /** TLS: the route's names within the listener's hostname (empty: every name). */
  readonly serverNames: readonly string[];
  readonly refs: readonly K8sWeightedRef[];
}

const cond = (type: string, ok: boolean, reason: string, message: string): Condition => ({
  type,
  status: ok ? 'True' : 'False',
  reason,
  message,
});

/**
 * Translate one Gateway and the routes that name it into the Headway
 * listeners to serve and the status to write. Pure: the same inputs give the
 * same result, so it runs on every change and the reload path decides what
 * actually changed.
 */
export function translateGateway(inputs: GatewayInputs): GatewayTranslation {
  const gw = inputs.gateway;
  if (gw === undefined || gw.spec?.gatewayClassName !== inputs.className) {
    return { listeners: [], gateway: undefined, routes: [] };
  }
  const listeners = (gw.spec.listeners ?? []).map(checkListener);
  markPortConflicts(listeners);
  const attached: AttachedRoute[] = [];
  const routes: RouteStatusResult[] = [];
  const allRoutes = [
    ...inputs.tcpRoutes.map((r) => ({ kind: 'TCPRoute' as const, route: r })),
    ...inputs.tlsRoutes.map((r) => ({ kind: 'TLSRoute' as const, route: r })),
  ].sort((a, b) => olderFirst(a.route, b.route));
  for (const { kind, route } of allRoutes) {
    const result = attachRoute(inputs, kind, route, listeners, attached);
    if (result !== undefined) routes.push(result);
  }
  const served = serveListeners(inputs, listeners, attached);
  const servedNames = new Set(served.flatMap((s) => s.gatewayListeners));
  const listenerStatus: ListenerStatus[] = listeners.map((l) => ({
    name: l.spec.name,
    supportedKinds: l.kinds,
    attachedRoutes: l.attached,
    conditions: l.conditions,
    served: servedNames.has(l.spec.name),
  }));
  const anyValid = listeners.some((l) => l.valid);
  const gatewayConditions = [
    listeners.length === 0 || anyValid
      ? cond('Accepted', true, 'Accepted', `accepted by ${inputs.className}`)
      : cond('Accepted', false, 'ListenersNotValid', 'no listener is valid'),
  ];
  return {
    listeners: served,
    gateway: {
      generation: gw.metadata?.generation ?? 0,
      conditions: gatewayConditions,
      listeners: listenerStatus,
    },
    routes,
  };
}

function checkListener(spec: GatewayListenerJson): ListenerState {
  const conditions: Condition[] = [];
  let kinds: RouteKind[] = [];
  let valid = true;
  if (spec.protocol === 'TCP') kinds = ['TCPRoute'];
  else if (spec.protocol === 'TLS' && (spec.tls?.mode ?? 'Terminate') === 'Passthrough')
    kinds = ['TLSRoute'];
  else {
    valid = false;
    const what = spec.protocol === 'TLS' ? 'TLS with mode Terminate' : `protocol ${spec.protocol}`;
    conditions.push(
      cond(
        'Accepted',
        false,
        'UnsupportedProtocol',
        `${what} is not supported (TCP, or TLS with mode Passthrough)`,
      ),
    );
  }
  let refsOk = true;
  const asked = spec.allowedRoutes?.kinds;
  if (valid && asked !== undefined && asked !== null && asked.length > 0) {
    const wanted = asked
      .filter((k) => (k.group ?? GATEWAY_GROUP) === GATEWAY_GROUP)
      .map((k) => k.kind);
    const unknown = asked.filter(
      (k) => !kinds.includes(k.kind as RouteKind) || (k.group ?? GATEWAY_GROUP) !== GATEWAY_GROUP,
    );
    kinds = kinds.filter((k) => wanted.includes(k));
    if (unknown.length > 0) {
      refsOk = false;
      conditions.push(
        cond(
          'ResolvedRefs',
          false,
          'InvalidRouteKinds',
          `unsupported route kinds: ${unknown.map((k) => k.kind).join(', ')}`,
        ),
      );
    }
  }
  if (valid) conditions.push(cond('Accepted', true, 'Accepted', 'listener accepted'));
  if (refsOk) conditions.push(cond('ResolvedRefs', true, 'ResolvedRefs', 'references resolved'));
  conditions.push(cond('Conflicted', false, 'NoConflicts', 'no conflicts'));
  return { spec, kinds, conditions, valid, attached: 0 };
}

/**
 * Listeners on one port must be compatible: several TLS passthrough
 * listeners share a port when their hostnames differ; anything else on a
 * port taken by an earlier listener is conflicted and not served.
 */
function markPortConflicts(listeners: ListenerState[]): void {
  const byPort = new Map<number, ListenerState[]>();
  for (const l of listeners) {
    if (!l.valid) continue;
    const earlier = byPort.get(l.spec.port) ?? [];
    const clash = earlier.find(
      (e) =>
        e.spec.protocol !== l.spec.protocol ||
        l.spec.protocol === 'TCP' ||
        (e.spec.hostname ?? '') === (l.spec.hostname ?? ''),
    );
    if (clash !== undefined) {
      const protocol = clash.spec.protocol !== l.spec.protocol || l.spec.protocol === 'TCP';
      setCondition(
        l.conditions,
        cond(
          'Conflicted',
          true,
          protocol ? 'ProtocolConflict' : 'HostnameConflict',
          `port ${l.spec.port} is taken by listener "${clash.spec.name}"`,
        ),
      );
      setCondition(
        l.conditions,
        cond(
          'Accepted',
          false,
          protocol ? 'ProtocolConflict' : 'HostnameConflict',
          `port ${l.spec.port} is taken by listener "${clash.spec.name}"`,
        ),
      );
      (l as { valid: boolean }).valid = false;
      continue;
    }
    earlier.push(l);
    byPort.set(l.spec.port, earlier);
  }
}

function setCondition(list: Condition[], c: Condition): void {
  const i = list.findIndex((x) => x.type === c.type);
  if (i >= 0) list[i] = c;
  else list.push(c);
}

/** Older first (creation time, then namespace/name): the Gateway API's tie-break for conflicts. */
function olderFirst(a: RouteJson, b: RouteJson): number {
  const ta = timeOf(a.metadata?.creationTimestamp);
  const tb = timeOf(b.metadata?.creationTimestamp);
  if (ta !== tb) return ta - tb;
  const ka = `${a.metadata?.namespace ?? ''}/${a.metadata?.name ?? ''}`;
  const kb = `${b.metadata?.namespace ?? ''}/${b.metadata?.name ?? ''}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function timeOf(t: string | Date | undefined): number {
  if (t === undefined) return 0;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isNaN(ms) ? 0 : ms;
}

function attachRoute(
  inputs: GatewayInputs,
  kind: RouteKind,
  route: RouteJson,
  listeners: readonly ListenerState[],
  attached: AttachedRoute[],
): RouteStatusResult | undefined {
  const namespace = route.metadata?.namespace ?? 'default';
  const parents: RouteParentResult[] = [];
  const resolved = resolveBackends(inputs, kind, namespace, route);
  for (const ref of route.spec?.parentRefs ?? []) {
    if (!namesOurGateway(inputs, ref, namespace)) continue;
    const parentRef = {
      group: ref.group ?? GATEWAY_GROUP,
      kind: ref.kind ?? 'Gateway',
      namespace: ref.namespace ?? namespace,
      name: ref.name,
      ...(ref.sectionName == null ? {} : { sectionName: ref.sectionName }),
      ...(ref.port == null ? {} : { port: ref.port }),
    };
    const accepted = acceptOn(
      inputs,
      kind,
      route,
      namespace,
      ref,
      listeners,
      attached,
      resolved.refs,
    );
    parents.push({
      parentRef,
      conditions: [
        accepted,
        resolved.problem === undefined
          ? cond('ResolvedRefs', true, 'ResolvedRefs', 'all backend references resolved')
          : cond('ResolvedRefs', false, resolved.problem.reason, resolved.problem.message),
      ],
    });
  }
  if (parents.length === 0) return undefined;
  return {
    kind,
    namespace,
    name: route.metadata?.name ?? '',
    generation: route.metadata?.generation ?? 0,
    parents,
  };
}

function namesOurGateway(
  inputs: GatewayInputs,
  ref: ParentRefJson,
  routeNamespace: string,
): boolean {
  return (
    (ref.group ?? GATEWAY_GROUP) === GATEWAY_GROUP &&
    (ref.kind ?? 'Gateway') === 'Gateway' &&
    (ref.namespace ?? routeNamespace) === inputs.gatewayNamespace &&
    ref.name === inputs.gatewayName
  );
}

/** Attach the route to the listeners one parentRef selects; the Accepted condition. */
function acceptOn(
  inputs: GatewayInputs,
  kind: RouteKind,
  route: RouteJson,
  namespace: string,
  ref: ParentRefJson,
  listeners: readonly ListenerState[],
  attached: AttachedRoute[],
  refs: readonly K8sWeightedRef[],
): Condition {
  const selected = listeners.filter(
    (l) =>
      (ref.sectionName == null || ref.sectionName === l.spec.name) &&
      (ref.port == null || ref.port === l.spec.port),
  );
  if (selected.length === 0) {
    return cond(
      'Accepted',
      false,
      'NoMatchingParent',
      'no listener of the Gateway has this sectionName/port',
    );
  }
  let reason: { reason: string; message: string } | undefined;
  let count = 0;
  for (const l of selected) {
    if (!l.valid) {
      reason ??= { reason: 'NoMatchingParent', message: `listener "${l.spec.name}" is not valid` };
      continue;
    }
    if (!l.kinds.includes(kind) || !namespaceAllowed(inputs, l.spec, namespace)) {
      reason = {
        reason: 'NotAllowedByListeners',
        message: `listener "${l.spec.name}" does not allow this route (kind or namespace)`,
      };
      continue;
    }
    let serverNames: readonly string[] = [];
    if (kind === 'TLSRoute') {
      const names = intersectHostnames(l.spec.hostname ?? undefined, route.spec?.hostnames ?? []);
      if (names === undefined) {
        reason ??= {
          reason: 'NoMatchingListenerHostname',
          message: `no hostname of the route fits listener "${l.spec.name}"`,
        };
        continue;
      }
      serverNames = names;
    }
    const taken = conflictWith(attached, l, kind, serverNames);
    if (taken !== undefined) {
      reason ??= {
        reason: 'NotAllowedByListeners',
        message: `listener "${l.spec.name}" already serves ${taken.kind} ${taken.route.metadata?.namespace ?? ''}/${taken.route.metadata?.name ?? ''} for the same connections (older routes win)`,
      };
      continue;
    }
    l.attached++;
    count++;
    attached.push({ kind, route, listener: l, serverNames, refs });
  }
  if (count > 0) return cond('Accepted', true, 'Accepted', `attached to ${count} listener(s)`);
  return cond(
    'Accepted',
    false,
    reason?.reason ?? 'NotAllowedByListeners',
    reason?.message ?? 'not allowed',
  );
}

/**
 * Routes on one listener must be told apart: a TCP listener serves one
 * TCPRoute; on a TLS listener, no two routes may take the same server name
 * (or both take every name). The older route keeps the listener.
 */
function conflictWith(
  attached: readonly AttachedRoute[],
  l: ListenerState,
  kind: RouteKind,
  serverNames: readonly string[],
): AttachedRoute | undefined {
  return attached.find((a) => {
    if (a.listener.spec.port !== l.spec.port) return false;
    if (kind === 'TCPRoute' || a.kind === 'TCPRoute') return true;
    if (a.serverNames.length === 0 || serverNames.length === 0)
      return a.serverNames.length === serverNames.length;
    return a.serverNames.some((n) => serverNames.includes(n));
  });
}

function namespaceAllowed(
  inputs: GatewayInputs,
  l: GatewayListenerJson,
  routeNamespace: string,
): boolean {
  const from = l.allowedRoutes?.namespaces?.from ?? 'Same';
  if (from === 'All') return true;
  if (from === 'Same') return routeNamespace === inputs.gatewayNamespace;
  const labels = inputs.namespaceLabels.get(routeNamespace) ?? {};
  return selectorMatches(l.allowedRoutes?.namespaces?.selector ?? {}, labels);
}

export function selectorMatches(
  sel: LabelSelectorJson,
  labels: Readonly<Record<string, string>>,
): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    const values = e.values ?? [];
    if (e.operator === 'In' && (!has || !values.includes(value ?? ''))) return false;
    if (e.operator === 'NotIn' && has && values.includes(value ?? '')) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/**
 * The server names a TLSRoute takes on a listener: its hostnames within the
 * listener's (exact names, `*.` wildcards either side; the narrower wins).
 * Empty: every name. Undefined: none fit, the route does not attach.
 */
export function intersectHostnames(
  listener: string | undefined,
  route: readonly string[],
): readonly string[] | undefined {
  const names = route.map((h) => h.toLowerCase());
  if (listener === undefined || listener === '') return names;
  const l = listener.toLowerCase();
  if (names.length === 0) return [l];
  const out = new Set<string>();
  for (const r of names) {
    if (r === l) out.add(r);
    else if (l.startsWith('*.') && r.endsWith(l.slice(1))) out.add(r);
    else if (r.startsWith('*.') && l.endsWith(r.slice(1))) out.add(l);
  }
  return out.size === 0 ? undefined : [...out];
}

interface ResolvedBackends {
  readonly refs: readonly K8sWeightedRef[];
  readonly problem: { readonly reason: string; readonly message: string } | undefined;
}

/** The route's backendRefs (all rules together) as weighted refs; bad ones refused. */
function resolveBackends(
  inputs: GatewayInputs,
  kind: RouteKind,
  namespace: string,
  route: RouteJson,
): ResolvedBackends {
  const refs: K8sWeightedRef[] = [];
  const problems: { reason: string; message: string }[] = [];
  for (const rule of route.spec?.rules ?? []) {
    for (const ref of rule.backendRefs ?? []) {
      const weight = ref.weight ?? 1;
      const result = resolveRef(inputs, kind, namespace, ref);
      if (typeof result === 'object' && 'reason' in result) {
        problems.push(result);
        refs.push({ kind: 'reject', reason: result.reason, weight });
      } else refs.push({ ...result, weight });
    }
  }
  // The most telling problem first: a policy refusal, then a wrong kind, then a missing backend.
  const rank = ['RefNotPermitted', 'InvalidKind', 'BackendNotFound'];
  problems.sort((a, b) => rank.indexOf(a.reason) - rank.indexOf(b.reason));
  return { refs, problem: problems[0] };
}

function resolveRef(
  inputs: GatewayInputs,
  kind: RouteKind,
  routeNamespace: string,
  ref: BackendRefJson,
):
  | Omit<Extract<K8sWeightedRef, { kind: 'service' }>, 'weight'>
  | { reason: string; message: string } {
  const group = ref.group ?? '';
  const refKind = ref.kind ?? 'Service';
  const namespace = ref.namespace ?? routeNamespace;
  const where = `${namespace}/${ref.name}`;
  if (group !== '' || refKind !== 'Service') {
    return {
      reason: 'InvalidKind',
      message: `backendRef ${where}: only Services are supported, not ${refKind}`,
    };
  }
  if (
    namespace !== routeNamespace &&
    !granted(inputs.referenceGrants, kind, routeNamespace, namespace, ref.name)
  ) {
    return {
      reason: 'RefNotPermitted',
      message: `backendRef ${where}: no ReferenceGrant in namespace ${namespace} allows ${kind}s from ${routeNamespace}`,
    };
  }
  const service = inputs.services.get(where);
  if (service === undefined)
    return { reason: 'BackendNotFound', message: `backendRef ${where}: Service not found` };
  if (ref.port == null)
    return { reason: 'BackendNotFound', message: `backendRef ${where}: port is required` };
  const ports = (service.spec?.ports ?? []).filter((p) => (p.protocol ?? 'TCP') === 'TCP');
  const port = ports.find((p) => p.port === ref.port);
  if (port === undefined) {
    return {
      reason: 'BackendNotFound',
      message: `backendRef ${where}: the Service has no TCP port ${ref.port}`,
    };
  }
  // EndpointSlices name their ports after the Service's; a Service's only port may be unnamed.
  const slicePort =
    port.name !== undefined && port.name !== null && port.name !== '' ? port.name : undefined;
  return { kind: 'service', namespace, service: ref.name, port: slicePort };
}

/** A ReferenceGrant in the target namespace lets routes of `fromNamespace` name this Service. */
function granted(
  grants: readonly ReferenceGrantJson[],
  kind: RouteKind,
  fromNamespace: string,
  toNamespace: string,
  service: string,
): boolean {
  return grants.some(
    (g) =>
      g.metadata?.namespace === toNamespace &&
      (g.spec?.from ?? []).some(
        (f) => f.group === GATEWAY_GROUP && f.kind === kind && f.namespace === fromNamespace,
      ) &&
      (g.spec?.to ?? []).some(
        (t) =>
          t.group === '' &&
          t.kind === 'Service' &&
          (t.name == null || t.name === '' || t.name === service),
      ),
  );
}

/** One Headway listener per port, with a route (group) per attached route. */
function serveListeners(
  inputs: GatewayInputs,
  listeners: readonly ListenerState[],
  attached: readonly AttachedRoute[],
): ServedListener[] {
  const byPort = new Map<number, ListenerState[]>();
  for (const l of listeners) {
    if (!l.valid) continue;
    byPort.set(l.spec.port, [...(byPort.get(l.spec.port) ?? []), l]);
  }
  const out: ServedListener[] = [];
  for (const [port, group] of [...byPort].sort(([a], [b]) => a - b)) {
    const routes: K8sRouteSpec[] = attached
      .filter((a) => a.listener.spec.port === port)
      .map((a) => ({
        serverNames: a.serverNames,
        refs: a.refs.length > 0 ? a.refs : [{ kind: 'reject', reason: 'NoBackends', weight: 1 }],
      }));
    // A listener with no route yet still listens (Programmed), refusing every connection.
    if (routes.length === 0)
      routes.push({ serverNames: [], refs: [{ kind: 'reject', reason: 'NoRoutes', weight: 1 }] });
    out.push({
      name: `gateway-${port}`,
      port,
      backends: formatK8sRoutes(routes),
      gatewayListeners: group.map((l) => l.spec.name),
    });
  }
  return out;
}
