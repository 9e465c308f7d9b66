// Who an existing Service or Ingress belongs to. Pure: the callers decide
// what to do (patch, take over, or report a conflict and never touch it).
import type { V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import { LABEL_MANAGED_BY, MANAGED_BY_VALUE } from '@ekspose/labels';

export type Ownership =
  /** Managed by ekspose and controlled by this Deployment uid. */
  | { kind: 'owned' }
  /**
   * Managed by ekspose, controlled by a Deployment of the same name that no
   * longer exists (names are unique, so another uid means it was replaced),
   * or by nobody: safe to take over for the current uid.
   */
  | { kind: 'stale'; previousUid: string | undefined }
  /** Not ours: never changed, never deleted. */
  | { kind: 'foreign'; reason: string };

export function controllerReference(meta: V1ObjectMeta | undefined): V1OwnerReference | undefined {
  return meta?.ownerReferences?.find((ref) => ref.controller === true);
}

export function isManaged(meta: V1ObjectMeta | undefined): boolean {
  return meta?.labels?.[LABEL_MANAGED_BY] === MANAGED_BY_VALUE;
}

export function ownershipOf(meta: V1ObjectMeta | undefined, deploymentUid: string): Ownership {
  if (!isManaged(meta)) {
    return { kind: 'foreign', reason: `it has no ${LABEL_MANAGED_BY}=${MANAGED_BY_VALUE} label` };
  }
  const ref = controllerReference(meta);
  if (!ref) return { kind: 'stale', previousUid: undefined };
  if (ref.kind !== 'Deployment' || !ref.apiVersion?.startsWith('apps/')) {
    return { kind: 'foreign', reason: `it is controlled by ${ref.kind} ${ref.name}` };
  }
  if (ref.uid === deploymentUid) return { kind: 'owned' };
  return { kind: 'stale', previousUid: ref.uid };
}
