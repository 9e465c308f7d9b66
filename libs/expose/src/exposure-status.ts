// What `ekspose status` says of one Deployment: how it is exposed, at which
// URL, and in what state, from the live objects and ekspose's latest Events
// about it. Pure: the CLI reads the cluster and passes everything in. Live
// objects win over Events where they say something (a Service of another
// owner is a conflict now, whatever was reported); Events tell what only the
// controller knows (an invalid label, a host held by another Deployment),
// and count only when they are newer than the user's last change.
import type { V1Deployment, V1Ingress, V1Service } from '@kubernetes/client-node';
import { ANNOTATION_ROUTE_KIND, INGRESS_REQUIRED_VALUE, LABEL_IGNORE, LABEL_INGRESS_REQUIRED } from '@ekspose/labels';
import { ExposeReason } from './event-reasons';
import { type Gateway, attachedListeners, routeUrl as urlThrough } from './gateway-listeners';
import type { HttpRoute } from './http-route';
import { routeRefusal } from './route-parents';
import { ownershipOf } from './ownership';

export type ExposureState = 'exposed' | 'invalid' | 'conflict' | 'waiting for host' | 'not accepted' | 'refused' | 'waiting for Gateway API' | 'pending' | 'ignored';
export type ExposedAs = 'Service only' | 'Ingress' | 'HTTPRoute' | '-';

export interface ExposureStatus {
  namespace: string;
  name: string;
  exposedAs: ExposedAs;
  url: string;
  state: ExposureState;
  /** Why, when the state is not `exposed` (the Event's note or what the live objects show). */
  reason: string;
}

/** An ekspose Event about the Deployment, as read back (core/v1 or events.k8s.io/v1). */
export interface StatusEvent {
  type: string;
  reason: string;
  note: string;
  /** When it last happened. */
  at: Date;
}

export interface ExposureInput {
  deployment: V1Deployment;
  service?: V1Service;
  ingress?: V1Ingress;
  httpRoute?: HttpRoute;
  /** The Gateway the HTTPRoute attaches to, when readable: its listeners say http or https, and the port. */
  gateway?: Gateway;
  events: readonly StatusEvent[];
}

/** Warnings only the controller can know of, by the state they put a Deployment in. */
const EVENT_STATES: Partial<Record<string, ExposureState>> = {
  [ExposeReason.InvalidSpec]: 'invalid',
  [ExposeReason.HostConflict]: 'waiting for host',
  [ExposeReason.RouteNotAccepted]: 'not accepted',
  [ExposeReason.GatewayAPIUnavailable]: 'waiting for Gateway API',
  [ExposeReason.ServiceRefused]: 'refused',
  [ExposeReason.IngressRefused]: 'refused',
  [ExposeReason.HTTPRouteRefused]: 'refused',
};

/** Clocks of the API server and of the controller may differ a little. */
const SKEW_MS = 1000;

/** The user's last change of the Deployment: the newest managedFields entry that is not a status write. */
export function lastUserChange(dep: V1Deployment): Date {
  let latest = new Date(dep.metadata?.creationTimestamp ?? 0).getTime();
  for (const entry of dep.metadata?.managedFields ?? []) {
    if (entry.subresource === 'status' || !entry.time) continue;
    latest = Math.max(latest, new Date(entry.time).getTime());
  }
  return new Date(latest);
}

/**
 * When ekspose last wrote an object: its creation or the newest write in its
 * managedFields (the API server keeps whole seconds), 0 when it has neither.
 */
function lastWrite(obj: { metadata?: V1Service['metadata'] } | undefined): number {
  let latest = new Date(obj?.metadata?.creationTimestamp ?? 0).getTime();
  for (const entry of obj?.metadata?.managedFields ?? []) {
    if (entry.subresource === 'status' || !entry.time) continue;
    latest = Math.max(latest, new Date(entry.time).getTime());
  }
  return latest;
}

function ingressUrl(ing: V1Ingress): string {
  const rule = ing.spec?.rules?.[0];
  if (!rule?.host) return '';
  const tls = ing.spec?.tls?.some((t) => t.hosts?.includes(rule.host!)) ?? false;
  return `${tls ? 'https' : 'http'}://${rule.host}${rule.http?.paths?.[0]?.path ?? '/'}`;
}

function routeUrl(route: HttpRoute, gateway: Gateway | undefined): string {
  const host = route.spec?.hostnames?.[0];
  if (!host) return '';
  const parentRef = route.spec?.parentRefs?.[0];
  const listeners = gateway && parentRef ? attachedListeners(gateway, parentRef, host) : [];
  return urlThrough(host, route.spec?.rules?.[0]?.matches?.[0]?.path?.value ?? '/', listeners);
}

function serviceUrl(svc: V1Service): string {
  const port = svc.spec?.ports?.[0]?.port;
  return `http://${svc.metadata?.name}.${svc.metadata?.namespace}.svc${port && port !== 80 ? `:${port}` : ''}/`;
}

export function exposureStatus({ deployment: dep, service, ingress, httpRoute, gateway, events }: ExposureInput): ExposureStatus {
  const namespace = dep.metadata?.namespace ?? '';
  const name = dep.metadata?.name ?? '';
  const uid = dep.metadata?.uid ?? '';
  const row = (exposedAs: ExposedAs, url: string, state: ExposureState, reason = ''): ExposureStatus => ({ namespace, name, exposedAs, url, state, reason });
  if (dep.metadata?.labels?.[LABEL_IGNORE] === 'true') return row('-', '', 'ignored', `label ${LABEL_IGNORE}=true`);

  const wantsRoute = dep.metadata?.labels?.[LABEL_INGRESS_REQUIRED] === INGRESS_REQUIRED_VALUE;
  const owns = (meta: { metadata?: V1Service['metadata'] } | undefined) => meta !== undefined && ownershipOf(meta.metadata, uid).kind === 'owned';
  const asked = dep.metadata?.annotations?.[ANNOTATION_ROUTE_KIND];
  // The kind it is exposed as: what it asks for, else what ekspose made for it, else the usual default.
  const routeKind: 'Ingress' | 'HTTPRoute' =
    asked === 'httproute' || (asked === undefined && owns(httpRoute) && !owns(ingress)) ? 'HTTPRoute' : 'Ingress';
  const exposedAs: ExposedAs = wantsRoute ? routeKind : 'Service only';
  const route = routeKind === 'HTTPRoute' ? httpRoute : ingress;
  const url = wantsRoute
    ? owns(route)
      ? routeKind === 'HTTPRoute'
        ? routeUrl(route as HttpRoute, gateway)
        : ingressUrl(route as V1Ingress)
      : ''
    : owns(service)
      ? serviceUrl(service!)
      : '';

  // The live objects first: an object of its name that ekspose does not own.
  for (const [kind, obj] of [['Service', service], [routeKind, wantsRoute ? route : undefined]] as const) {
    if (!obj) continue;
    const ownership = ownershipOf(obj.metadata, uid);
    if (ownership.kind === 'foreign') return row(exposedAs, url, 'conflict', `${kind} ${obj.metadata?.name} is not ekspose's: ${ownership.reason}`);
  }
  // What the controller reported since the user's last change: the latest Event decides.
  const since = lastUserChange(dep).getTime() - SKEW_MS;
  const latest = [...events].filter((e) => e.at.getTime() >= since).sort((a, b) => b.at.getTime() - a.at.getTime())[0];
  const reported = latest?.type === 'Warning' ? EVENT_STATES[latest.reason] : undefined;
  // An invalid spec writes nothing: objects ekspose wrote in a later second than the Warning were
  // made from a spec it found valid since (a held Normal Event may not have been written yet).
  const superseded =
    latest !== undefined && owns(service) && lastWrite(service) >= Math.floor(latest.at.getTime() / 1000) * 1000 + 1000;
  if (reported === 'invalid' && !superseded) return row(exposedAs, url, 'invalid', latest!.note);
  if (wantsRoute && routeKind === 'HTTPRoute' && owns(route)) {
    const refusal = routeRefusal(route as HttpRoute);
    if (refusal) return row(exposedAs, url, 'not accepted', refusal);
  }
  if (reported && reported !== 'not accepted' && !(owns(service) && (!wantsRoute || owns(route)))) return row(exposedAs, url, reported, latest!.note);
  if (owns(service) && (!wantsRoute || owns(route))) return row(exposedAs, url, 'exposed');
  const missing = !owns(service) ? 'Service' : routeKind;
  return row(exposedAs, url, 'pending', `no ${missing} made by ekspose yet (are the controllers running, and is the namespace watched?)`);
}
