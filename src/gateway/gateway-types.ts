/**
 * The parts of Gateway API and core objects the Gateway translation reads,
 * typed loosely on purpose (optional and nullable like the JSON a server
 * sends): list results and watch events have the same shape.
 */
export interface ObjectMetaJson {
  readonly name?: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly generation?: number;
  readonly resourceVersion?: string;
  readonly creationTimestamp?: string | Date;
  readonly labels?: Readonly<Record<string, string>> | null;
}

export interface KubeObjectJson {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: ObjectMetaJson | null;
}

export interface LabelSelectorJson {
  readonly matchLabels?: Readonly<Record<string, string>> | null;
  readonly matchExpressions?:
    | readonly {
        readonly key: string;
        readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
        readonly values?: readonly string[] | null;
      }[]
    | null;
}

export interface GatewayListenerJson {
  readonly name: string;
  readonly port: number;
  readonly protocol: string;
  readonly hostname?: string | null;
  readonly tls?: { readonly mode?: string | null } | null;
  readonly allowedRoutes?: {
    readonly namespaces?: {
      readonly from?: 'Same' | 'All' | 'Selector' | null;
      readonly selector?: LabelSelectorJson | null;
    } | null;
    readonly kinds?: readonly { readonly group?: string | null; readonly kind: string }[] | null;
  } | null;
}

export interface ConditionJson {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration?: number;
  readonly lastTransitionTime?: string;
}

export interface GatewayJson extends KubeObjectJson {
  readonly spec?: {
    readonly gatewayClassName?: string;
    readonly listeners?: readonly GatewayListenerJson[] | null;
  } | null;
  readonly status?: {
    readonly conditions?: readonly ConditionJson[] | null;
    readonly listeners?:
      | readonly { readonly name: string; readonly conditions?: readonly ConditionJson[] | null }[]
      | null;
  } | null;
}

export interface ParentRefJson {
  readonly group?: string | null;
  readonly kind?: string | null;
  readonly namespace?: string | null;
  readonly name: string;
  readonly sectionName?: string | null;
  readonly port?: number | null;
}

export interface BackendRefJson {
  readonly group?: string | null;
  readonly kind?: string | null;
  readonly name: string;
  readonly namespace?: string | null;
  readonly port?: number | null;
  readonly weight?: number | null;
}

export interface RouteParentStatusJson {
  readonly parentRef: ParentRefJson;
  readonly controllerName: string;
  readonly conditions: readonly ConditionJson[];
}

/** TCPRoute and TLSRoute (v1 and v1alpha2 share these fields). */
export interface RouteJson extends KubeObjectJson {
  readonly spec?: {
    readonly parentRefs?: readonly ParentRefJson[] | null;
    readonly hostnames?: readonly string[] | null;
    readonly rules?: readonly { readonly backendRefs?: readonly BackendRefJson[] | null }[] | null;
  } | null;
  readonly status?: { readonly parents?: readonly RouteParentStatusJson[] | null } | null;
}

export interface ServiceJson extends KubeObjectJson {
  readonly spec?: {
    readonly ports?:
      | readonly {
          readonly name?: string | null;
          readonly port: number;
          readonly protocol?: string | null;
        }[]
      | null;
  } | null;
}

export interface ReferenceGrantJson extends KubeObjectJson {
  readonly spec?: {
    readonly from?:
      | readonly { readonly group: string; readonly kind: string; readonly namespace: string }[]
      | null;
    readonly to?:
      | readonly { readonly group: string; readonly kind: string; readonly name?: string | null }[]
      | null;
  } | null;
}

export type RouteKind = 'TCPRoute' | 'TLSRoute';

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';

/** What Headway writes as `controllerName` and expects in its GatewayClass. */
export const CONTROLLER_NAME = 'headway-proxy.io/gateway-controller';
