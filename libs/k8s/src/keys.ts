// Work-queue keys are `namespace/name` of the Deployment, as in client-go.
import { type Settings, LABEL_DEPLOYMENT, shouldWatchNamespace } from '@ekspose/labels';

export function splitKey(key: string): [namespace: string, name: string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

/** The Deployment key an owned object belongs to. */
export function ownerKeyOf(obj: { metadata?: { namespace?: string; name?: string; labels?: Record<string, string> } }): string {
  return `${obj.metadata?.namespace}/${obj.metadata?.labels?.[LABEL_DEPLOYMENT] ?? obj.metadata?.name}`;
}

/** Whether a key's namespace is one this controller watches (EKSPOSE_WATCH/SKIP_NAMESPACES). */
export function isKeyWatched(key: string, settings: Settings): boolean {
  return shouldWatchNamespace(splitKey(key)[0], settings);
}
