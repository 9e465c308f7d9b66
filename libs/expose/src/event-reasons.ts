// The reasons of the Kubernetes Events ekspose records on Deployments, as
// constants so that code, tests and docs name the same ones.
export const ExposeReason = {
  InvalidSpec: 'InvalidSpec',
  ServiceConflict: 'ServiceConflict',
  IngressConflict: 'IngressConflict',
  HostConflict: 'HostConflict',
  IngressDeleted: 'IngressDeleted',
  /** The API server refused a write the user has to act on (quota, IP range, webhook, invalid object). */
  ServiceRefused: 'ServiceRefused',
  IngressRefused: 'IngressRefused',
  /** A recreate controller made an object that was missing and had never been seen deleted. */
  ServiceCreated: 'ServiceCreated',
  IngressCreated: 'IngressCreated',
  /** A recreate controller put back an object it has evidence was deleted. */
  ServiceRecreated: 'ServiceRecreated',
  IngressRecreated: 'IngressRecreated',
  HTTPRouteConflict: 'HTTPRouteConflict',
  HTTPRouteDeleted: 'HTTPRouteDeleted',
  HTTPRouteRefused: 'HTTPRouteRefused',
  HTTPRouteCreated: 'HTTPRouteCreated',
  HTTPRouteRecreated: 'HTTPRouteRecreated',
  /** The Deployment asks for an HTTPRoute and the cluster does not serve the Gateway API (yet). */
  GatewayAPIUnavailable: 'GatewayAPIUnavailable',
  /** The Gateway's controller does not accept the HTTPRoute (status.parents: Accepted or ResolvedRefs false). */
  RouteNotAccepted: 'RouteNotAccepted',
  /** Normal: the URL a Deployment is reachable at, once per change. */
  Exposed: 'Exposed',
} as const;
export type ExposeReason = (typeof ExposeReason)[keyof typeof ExposeReason];

/**
 * The events.k8s.io/v1 `action` of each reason: what ekspose did, or tried to
 * do, regarding the Deployment (the reason says why or how it went).
 */
export const ExposeAction: Record<ExposeReason, string> = {
  InvalidSpec: 'Validate',
  ServiceConflict: 'Claim',
  IngressConflict: 'Claim',
  HTTPRouteConflict: 'Claim',
  HostConflict: 'Claim',
  IngressDeleted: 'Delete',
  HTTPRouteDeleted: 'Delete',
  ServiceRefused: 'Apply',
  IngressRefused: 'Apply',
  HTTPRouteRefused: 'Apply',
  ServiceCreated: 'Create',
  IngressCreated: 'Create',
  HTTPRouteCreated: 'Create',
  ServiceRecreated: 'Recreate',
  IngressRecreated: 'Recreate',
  HTTPRouteRecreated: 'Recreate',
  GatewayAPIUnavailable: 'Expose',
  RouteNotAccepted: 'Expose',
  Exposed: 'Expose',
};

/**
 * The Exposed Event's message: the URL and the route that serves it. The same
 * words whoever made the route (the deployment-controller, or a recreate
 * controller that found it missing first).
 */
export function exposedMessage(url: string, routeKind: string, name: string): string {
  return `reachable at ${url} through ${routeKind} ${name}`;
}

/** The action of a reason; a reason outside the list (none should be) acts as itself. */
export function exposeActionOf(reason: string): string {
  return (ExposeAction as Record<string, string>)[reason] ?? reason;
}
