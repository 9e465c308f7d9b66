// Which Deployment key an owned object belongs to, and whether a key is in a
// namespace this controller watches.
import type { V1Deployment, V1ObjectMeta } from '@kubernetes/client-node';
import { type ExposeSettings, LABEL_DEPLOYMENT, shouldWatchNamespace } from '@ekspose/labels';
import { type ObjectCache, splitKey } from '@ekspose/k8s';
import { controllerReference } from './ownership';

/** The Deployment key an owned object belongs to. */
export function ownerKeyOf(obj: { metadata?: { namespace?: string; name?: string; labels?: Record<string, string> } }): string {
  return `${obj.metadata?.namespace}/${obj.metadata?.labels?.[LABEL_DEPLOYMENT] ?? obj.metadata?.name}`;
}

/** Whether a key's namespace is one this controller watches (EKSPOSE_WATCH/SKIP_NAMESPACES). */
export function isKeyWatched(key: string, settings: ExposeSettings): boolean {
  return shouldWatchNamespace(splitKey(key)[0], settings);
}

/**
 * The Deployment keys of managed objects whose Deployment is not in the cache
 * (deleted while the deployment-controller was down), once each. An object
 * controlled by nobody was orphaned on purpose and is left for the next
 * Deployment of its name.
 */
export function ownersMissing(caches: Array<ObjectCache<{ metadata?: V1ObjectMeta }>>, deployments: Pick<ObjectCache<V1Deployment>, 'get'>): string[] {
  const keys = new Set<string>();
  for (const cache of caches) {
    for (const obj of cache.list()) {
      if (!controllerReference(obj.metadata)) continue;
      const key = ownerKeyOf(obj);
      if (!deployments.get(...splitKey(key))) keys.add(key);
    }
  }
  return [...keys];
}
