// Reads the Gateway an HTTPRoute attaches to, for the URL it is reachable at
// (needs `get` on gateways). Not found, not served or not allowed: undefined,
// and the URL says no more than the route does.
import type { Logger } from 'pino';
import type { IngressExposure } from '@ekspose/labels';
import { type KubeClients, describeError } from '@ekspose/k8s';
import { GATEWAYS, type Gateway, exposedUrl } from './gateway-listeners';

export type ReadGateway = (namespace: string, name: string) => Promise<Gateway | undefined>;

export function gatewayReader(clients: KubeClients, log?: Pick<Logger, 'debug'>): ReadGateway {
  return async (namespace, name) => {
    try {
      return (await clients.custom.getNamespacedCustomObject({ ...GATEWAYS, namespace, name })) as Gateway;
    } catch (err) {
      log?.debug({ gateway: `${namespace}/${name}`, err: describeError(err) }, 'Gateway not readable; its URL is told without its listeners');
      return undefined;
    }
  };
}

/**
 * The URL a Deployment's route serves (exposedUrl): an HTTPRoute's Gateway is
 * read first for its listeners, an Ingress's needs nothing read. Whoever made
 * the route tells this one.
 */
export async function readExposedUrl(route: IngressExposure, readGateway: ReadGateway | undefined): Promise<string> {
  const gateway = route.routeKind === 'httproute' ? route.gateway : undefined;
  return exposedUrl(route, gateway ? await readGateway?.(gateway.namespace, gateway.name) : undefined);
}
