// Which of a Gateway's listeners an HTTPRoute attaches to, and so the URL it
// is reachable at: the listener its parentRef names (sectionName, port), else
// every listener whose hostname admits the route's host. https when one of
// them terminates TLS (protocol HTTPS): that is the URL to hand out; the port
// when it is not the scheme's own.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { CustomResource } from '@ekspose/k8s';
import { GATEWAY_API_GROUP, type ParentRef } from './http-route';

export const GATEWAYS: CustomResource = { group: GATEWAY_API_GROUP, version: 'v1', plural: 'gateways' };

export interface GatewayListener {
  name: string;
  hostname?: string;
  port: number;
  protocol: string;
}

/** A Gateway, as far as ekspose reads one (client-node has no type for CRDs). */
export interface Gateway {
  metadata?: V1ObjectMeta;
  spec?: { gatewayClassName?: string; listeners?: GatewayListener[] };
}

/**
 * Whether a listener's hostname admits `host`, as the Gateway API matches
 * them: none admits every host; `*.example.com` admits any host below
 * example.com (one label or more), not example.com itself.
 */
export function listenerAdmits(listenerHostname: string | undefined, host: string): boolean {
  if (!listenerHostname) return true;
  const want = host.toLowerCase();
  const have = listenerHostname.toLowerCase();
  if (!have.startsWith('*.')) return have === want;
  return want.endsWith(have.slice(1)) && want.length > have.length - 1;
}

/** The listeners of `gateway` a route for `host` with this parentRef attaches to. */
export function attachedListeners(gateway: Gateway, parentRef: Pick<ParentRef, 'sectionName' | 'port'>, host: string): GatewayListener[] {
  return (gateway.spec?.listeners ?? []).filter(
    (l) =>
      (parentRef.sectionName === undefined || l.name === parentRef.sectionName) &&
      (parentRef.port === undefined || l.port === parentRef.port) &&
      listenerAdmits(l.hostname, host),
  );
}

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443 };

/**
 * `scheme://host[:port]path` through the listeners the route attaches to:
 * https on the first HTTPS one when there is one, else http on the first HTTP
 * one. Without the Gateway (or with no listener attached), `http://host path`:
 * nothing says more.
 */
export function routeUrl(host: string, path: string, listeners: readonly GatewayListener[]): string {
  const tls = listeners.find((l) => l.protocol === 'HTTPS');
  const plain = listeners.find((l) => l.protocol === 'HTTP');
  const listener = tls ?? plain;
  const scheme = tls ? 'https' : 'http';
  const port = listener && listener.port !== DEFAULT_PORTS[scheme] ? `:${listener.port}` : '';
  return `${scheme}://${host}${port}${path}`;
}

/** The URL a Deployment's route serves: an Ingress's by its TLS Secret, an HTTPRoute's by its Gateway's listeners (when read). */
export function exposedUrl(route: { routeKind: string; host: string; path: string; tlsSecret?: string; gateway?: Pick<ParentRef, 'sectionName'> }, gateway: Gateway | undefined): string {
  if (route.routeKind !== 'httproute') return `${route.tlsSecret ? 'https' : 'http'}://${route.host}${route.path}`;
  return routeUrl(route.host, route.path, gateway ? attachedListeners(gateway, route.gateway ?? {}, route.host) : []);
}
