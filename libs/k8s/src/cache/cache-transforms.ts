// What an informer keeps of each object: only what its controller reads.
// A Deployment as kubectl applies it carries managedFields, the
// last-applied-configuration annotation, a pod template and status: most of
// its bytes, none of them read by a controller that only needs its metadata
// and selector. Pure; never mutates its input.
import type { V1Deployment, V1ObjectMeta } from '@kubernetes/client-node';

export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

export function slimMetadata(meta: V1ObjectMeta | undefined): V1ObjectMeta | undefined {
  if (!meta) return meta;
  const { managedFields: _managedFields, annotations, ...rest } = meta;
  if (!annotations || !(LAST_APPLIED_ANNOTATION in annotations)) return annotations ? { ...rest, annotations } : rest;
  const { [LAST_APPLIED_ANNOTATION]: _lastApplied, ...kept } = annotations;
  return { ...rest, annotations: kept };
}

/** Metadata and the selector only, for controllers that read nothing else of a Deployment. */
export function slimDeployment(dep: V1Deployment): V1Deployment {
  return {
    apiVersion: dep.apiVersion,
    kind: dep.kind,
    metadata: slimMetadata(dep.metadata),
    spec: dep.spec ? ({ selector: dep.spec.selector } as V1Deployment['spec']) : undefined,
  };
}

/** The whole object (a drift check compares its spec), minus managedFields and last-applied. */
export function slimOwned<T extends { metadata?: V1ObjectMeta }>(obj: T): T {
  return { ...obj, metadata: slimMetadata(obj.metadata) };
}

/**
 * Who an object is and who holds it, nothing else: name, namespace, uid,
 * resourceVersion, creationTimestamp, the controller ownerReference and the
 * labels named. For a cache of every object of a kind (a metadata-only watch
 * of all Services of a cluster), where a few hundred bytes an object is what
 * makes 10,000 of them cheap.
 */
export function identityOnly(keepLabels: readonly string[]): <T extends { metadata?: V1ObjectMeta }>(obj: T) => T {
  return (obj) => {
    const m = obj.metadata;
    if (!m) return { metadata: undefined } as typeof obj;
    const labels: Record<string, string> = {};
    for (const key of keepLabels) {
      const value = m.labels?.[key];
      if (value !== undefined) labels[key] = value;
    }
    const controller = m.ownerReferences?.find((ref) => ref.controller === true);
    const meta: V1ObjectMeta = {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      ...(m.creationTimestamp ? { creationTimestamp: m.creationTimestamp } : {}),
      ...(Object.keys(labels).length > 0 ? { labels } : {}),
      ...(controller ? { ownerReferences: [{ apiVersion: controller.apiVersion, kind: controller.kind, name: controller.name, uid: controller.uid, controller: true }] } : {}),
    };
    return { metadata: meta } as typeof obj;
  };
}
