// The three informers the controllers use. Services and Ingresses are
// label-selected to the managed ones: the cache stays small however many
// other Services a cluster has; a foreign object of our name is found by the
// 409 on create instead.
import type { V1Deployment, V1Ingress, V1Service } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { MANAGED_SELECTOR } from '@ekspose/labels';
import { slimDeployment, slimOwned } from './cache-transforms';
import { Informer } from './informer';
import { type KubeClients, type ResourceSource, deploymentSource, ingressSource, serviceSource } from './kube-client';
import type { ControllerMetrics } from './metrics';

function informerFor<T>(
  source: ResourceSource<T>,
  log: Logger,
  metrics: ControllerMetrics,
  transform: (obj: T) => T,
  labelSelector?: string,
): Informer<T & { metadata?: { name?: string } }> {
  return new Informer({
    resource: source.resource,
    list: source.list as never,
    watch: source.watch,
    labelSelector,
    transform: transform as never,
    log: log.child({ informer: source.resource }),
    onRestart: () => metrics.informerRestarted(source.resource),
  });
}

export function deploymentInformer(clients: KubeClients, log: Logger, metrics: ControllerMetrics): Informer<V1Deployment> {
  return informerFor(deploymentSource(clients), log, metrics, slimDeployment);
}

export function managedServiceInformer(clients: KubeClients, log: Logger, metrics: ControllerMetrics): Informer<V1Service> {
  return informerFor(serviceSource(clients), log, metrics, slimOwned, MANAGED_SELECTOR);
}

export function managedIngressInformer(clients: KubeClients, log: Logger, metrics: ControllerMetrics): Informer<V1Ingress> {
  return informerFor(ingressSource(clients), log, metrics, slimOwned, MANAGED_SELECTOR);
}

/** The live Deployment, or undefined on 404. */
export function deploymentReader(clients: KubeClients) {
  return async (namespace: string, name: string): Promise<V1Deployment | undefined> => {
    try {
      return await clients.apps.readNamespacedDeployment({ namespace, name });
    } catch (err) {
      if ((err as { code?: number })?.code === 404) return undefined;
      throw err;
    }
  };
}
