// The shapes shared by every ekspose project. Kept structural (no client
// library types) so that this lib stays free of I/O dependencies.

/** The historic labels, read exactly as before. */
export const LABEL_PORT = 'port';
export const LABEL_INGRESS_REQUIRED = 'ingReq';
export const INGRESS_REQUIRED_VALUE = 'needed';

/** Newer knobs. */
export const LABEL_IGNORE = 'ekspose.io/ignore';
export const ANNOTATION_TARGET_PORT = 'ekspose.io/target-port';
export const ANNOTATION_PATH = 'ekspose.io/path';
export const ANNOTATION_HOST = 'ekspose.io/host';
export const ANNOTATION_INGRESS_CLASS = 'ekspose.io/ingress-class';
export const ANNOTATION_TLS_SECRET = 'ekspose.io/tls-secret';
/** `ingress` or `httproute`: which object makes the Deployment reachable from outside. */
export const ANNOTATION_ROUTE_KIND = 'ekspose.io/route-kind';
/** `<namespace>/<name>[/<sectionName>]`: the Gateway an HTTPRoute attaches to. */
export const ANNOTATION_GATEWAY = 'ekspose.io/gateway';

/** A JSON object of string values: annotations set on the Ingress or HTTPRoute. */
export const ANNOTATION_ROUTE_ANNOTATIONS = 'ekspose.io/route-annotations';
/** On an Ingress or HTTPRoute: the annotation keys ekspose set there (comma-separated), so it can remove the ones no longer asked for. */
export const ANNOTATION_OWNED_ANNOTATIONS = 'ekspose.io/owned-annotations';

export const ROUTE_KINDS = ['ingress', 'httproute'] as const;
export type RouteKind = (typeof ROUTE_KINDS)[number];

/** A Gateway (and optionally one of its listeners) an HTTPRoute names as its parent. */
export interface GatewayRef {
  namespace: string;
  name: string;
  sectionName?: string;
}

/** What every owned object carries. */
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'ekspose';
export const LABEL_DEPLOYMENT = 'ekspose.io/deployment';
export const FIELD_MANAGER = 'ekspose';
/** Label selector for the informers of owned objects. */
export const MANAGED_SELECTOR = `${LABEL_MANAGED_BY}=${MANAGED_BY_VALUE}`;
/** Its complement: every object without the label or with another value (the names ekspose does not manage). */
export const UNMANAGED_SELECTOR = `${LABEL_MANAGED_BY}!=${MANAGED_BY_VALUE}`;

export const DEFAULT_PORT = 80;
export const DEFAULT_PATH = '/';
export const SERVICE_PORT_NAME = 'http';

/** The parts of a Deployment ekspose reads. Structural so any client's type fits. */
export interface DeploymentLike {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: Date | string;
    creationTimestamp?: Date | string;
  };
  spec?: {
    selector?: {
      matchLabels?: Record<string, string>;
      matchExpressions?: unknown[];
    };
  };
}

/** A problem with one key on a Deployment: which key, which value, and why. */
export interface Problem {
  key: string;
  value: string;
  reason: string;
}

export interface IngressExposure {
  /** What makes it reachable: an Ingress (default) or a Gateway API HTTPRoute. */
  routeKind: RouteKind;
  /** The Gateway of an HTTPRoute; set whenever routeKind is httproute. */
  gateway?: GatewayRef;
  host: string;
  /** Absolute URL path, used with pathType Prefix. */
  path: string;
  ingressClassName?: string;
  tlsSecret?: string;
  /** Annotations to set on the Ingress or HTTPRoute (EKSPOSE_ROUTE_ANNOTATIONS, then ekspose.io/route-annotations). */
  annotations?: Record<string, string>;
}

/** The desired exposure of one Deployment. */
export interface ExposeSpec {
  namespace: string;
  name: string;
  uid: string;
  port: number;
  targetPort: number | string;
  selector: Record<string, string>;
  /** null when the Deployment does not ask to be reachable from outside (no Ingress, no HTTPRoute). */
  ingress: IngressExposure | null;
}

export type ParseResult =
  | { kind: 'expose'; spec: ExposeSpec }
  | { kind: 'ignored'; reason: string }
  | { kind: 'invalid'; problems: Problem[] };

/** The Deployment-side settings, read once from the environment at start-up (settings.ts). */
export interface ExposeSettings {
  domain: string;
  hostTemplate: string;
  ingressClass?: string;
  tlsSecret?: string;
  /** The kind of external route by default (EKSPOSE_ROUTE_KIND). */
  routeKind: RouteKind;
  /** The default Gateway of HTTPRoutes (EKSPOSE_GATEWAY). */
  gateway?: GatewayRef;
  /** Annotations for every Ingress and HTTPRoute (EKSPOSE_ROUTE_ANNOTATIONS); a Deployment's own win. */
  routeAnnotations?: Record<string, string>;
  /** Empty = every namespace. */
  watchNamespaces: string[];
  skipNamespaces: string[];
}
