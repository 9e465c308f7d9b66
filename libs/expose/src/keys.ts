// Which Deployment key an owned object belongs to, and whether a key is in a
// namespace this controller watches.
import { type ExposeSettings, LABEL_DEPLOYMENT, shouldWatchNamespace } from '@ekspose/labels';
import { splitKey } from '@ekspose/k8s';

/** The Deployment key an owned object belongs to. */
export function ownerKeyOf(obj: { metadata?: { namespace?: string; name?: string; labels?: Record<string, string> } }): string {
  return `${obj.metadata?.namespace}/${obj.metadata?.labels?.[LABEL_DEPLOYMENT] ?? obj.metadata?.name}`;
}

/** Whether a key's namespace is one this controller watches (EKSPOSE_WATCH/SKIP_NAMESPACES). */
export function isKeyWatched(key: string, settings: ExposeSettings): boolean {
  return shouldWatchNamespace(splitKey(key)[0], settings);
}
