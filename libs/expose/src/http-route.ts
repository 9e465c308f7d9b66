// The Gateway API HTTPRoute ekspose makes instead of an Ingress when a
// Deployment asks for one (EKSPOSE_ROUTE_KIND / ekspose.io/route-kind): a
// structural type (client-node has none for CRDs), the desired object and its
// drift. Every field the API server would default is written out, so a
// resync of a correct route compares equal and writes nothing.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { CustomResource } from '@ekspose/k8s';
import type { ExposeSpec } from '@ekspose/labels';
import { type MergePatch, canonical, metadataPatch, withMetadata } from './drift';
import { routeMetadata } from './desired-objects';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
export const HTTP_ROUTES: CustomResource = { group: GATEWAY_API_GROUP, version: 'v1', plural: 'httproutes' };

export interface ParentRef {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

export interface HttpRouteRule {
  matches?: Array<{ path?: { type?: string; value?: string } }>;
  backendRefs?: Array<{ group?: string; kind?: string; name: string; port?: number; weight?: number }>;
  [other: string]: unknown;
}

export interface RouteCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}

export interface HttpRoute {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ObjectMeta;
  spec?: { parentRefs?: ParentRef[]; hostnames?: string[]; rules?: HttpRouteRule[]; [other: string]: unknown };
  status?: { parents?: Array<{ parentRef: ParentRef; controllerName: string; conditions?: RouteCondition[] }> };
}

/** null when the Deployment does not want an HTTPRoute (no ingReq, or an Ingress instead). */
export function desiredHttpRoute(spec: ExposeSpec): HttpRoute | null {
  const route = spec.ingress;
  if (!route || route.routeKind !== 'httproute' || !route.gateway) return null;
  const { gateway } = route;
  return {
    apiVersion: `${GATEWAY_API_GROUP}/v1`,
    kind: 'HTTPRoute',
    metadata: routeMetadata(spec),
    spec: {
      parentRefs: [
        {
          group: GATEWAY_API_GROUP,
          kind: 'Gateway',
          namespace: gateway.namespace,
          name: gateway.name,
          ...(gateway.sectionName ? { sectionName: gateway.sectionName } : {}),
        },
      ],
      hostnames: [route.host],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: route.path } }],
          backendRefs: [{ group: '', kind: 'Service', name: spec.name, port: spec.port, weight: 1 }],
        },
      ],
    },
  };
}

/** Corrects parentRefs, hostnames and rules (the fields ekspose owns); everything else is left alone. */
export function httpRouteDrift(live: HttpRoute, desired: HttpRoute): MergePatch | null {
  const spec: MergePatch = {};
  const want = desired.spec!;
  for (const field of ['parentRefs', 'hostnames', 'rules'] as const) {
    if (canonical(live.spec?.[field] ?? []) !== canonical(want[field] ?? [])) spec[field] = want[field];
  }
  return withMetadata(live.metadata, metadataPatch(live.metadata, desired.metadata), spec);
}
