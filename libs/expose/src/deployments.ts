// The Deployments ekspose reads: a cache of metadata and selector (all that
// parseExposeSpec and the reconcilers need), and the live GET that decides
// recreations.
import type { V1Deployment } from '@kubernetes/client-node';
import { type ReshardableCache, type KubeClients, deploymentSource, informerFor, readOrUndefined, slimDeployment } from '@ekspose/k8s';
import type { InformerContext } from './kind-descriptors';

export function deploymentInformer(
  { clients, log, metrics, namespaces }: InformerContext,
  shard?: { selector: string; accept: (obj: V1Deployment) => boolean },
): ReshardableCache<V1Deployment> {
  return informerFor(deploymentSource(clients), { log, metrics, namespaces, transform: slimDeployment, ...(shard ? { shard } : {}) });
}

/** The live Deployment, or undefined on 404. */
export function deploymentReader(clients: KubeClients) {
  return (namespace: string, name: string): Promise<V1Deployment | undefined> =>
    readOrUndefined(clients.apps.readNamespacedDeployment({ namespace, name }));
}
