// Desired Service and Ingress for a Deployment: pure functions of the parsed
// ExposeSpec, as sample-controller's newDeployment(foo) is of its Foo.
import type { V1Ingress, V1ObjectMeta, V1OwnerReference, V1Service } from '@kubernetes/client-node';
import {
  ANNOTATION_OWNED_ANNOTATIONS,
  type ExposeSpec,
  LABEL_DEPLOYMENT,
  LABEL_MANAGED_BY,
  MANAGED_BY_VALUE,
  SERVICE_PORT_NAME,
} from '@ekspose/labels';

/** The labels every owned object carries; other labels on the live object are left alone. */
export function ownedLabels(deploymentName: string): Record<string, string> {
  return { [LABEL_MANAGED_BY]: MANAGED_BY_VALUE, [LABEL_DEPLOYMENT]: deploymentName };
}

/**
 * No blockOwnerDeletion: setting it needs update on deployments/finalizers in
 * clusters with OwnerReferencesPermissionEnforcement, which our RBAC does not grant.
 */
export function deploymentOwnerReference(spec: Pick<ExposeSpec, 'name' | 'uid'>): V1OwnerReference {
  return { apiVersion: 'apps/v1', kind: 'Deployment', name: spec.name, uid: spec.uid, controller: true };
}

/** Named after the Deployment, in its namespace, labelled and controlled by it. */
export function ownedMetadata(spec: ExposeSpec): V1ObjectMeta {
  return {
    name: spec.name,
    namespace: spec.namespace,
    labels: ownedLabels(spec.name),
    ownerReferences: [deploymentOwnerReference(spec)],
  };
}

/**
 * An Ingress's or HTTPRoute's metadata: the owned metadata, the annotations the
 * Deployment passes on, and the list of those keys (ANNOTATION_OWNED_ANNOTATIONS)
 * so that a key the Deployment stops asking for can be removed, while keys
 * other tools set are never touched.
 */
export function routeMetadata(spec: ExposeSpec): V1ObjectMeta {
  const meta = ownedMetadata(spec);
  const passed = spec.ingress?.annotations ?? {};
  const keys = Object.keys(passed).sort();
  if (keys.length > 0) meta.annotations = { ...passed, [ANNOTATION_OWNED_ANNOTATIONS]: keys.join(',') };
  return meta;
}

export function desiredService(spec: ExposeSpec): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMetadata(spec),
    spec: {
      type: 'ClusterIP',
      selector: { ...spec.selector },
      ports: [{ name: SERVICE_PORT_NAME, protocol: 'TCP', port: spec.port, targetPort: spec.targetPort as never }],
    },
  };
}

/** null when the Deployment does not want an Ingress (no ingReq, or an HTTPRoute instead). */
export function desiredIngress(spec: ExposeSpec): V1Ingress | null {
  const ing = spec.ingress;
  if (!ing || ing.routeKind !== 'ingress') return null;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: routeMetadata(spec),
    spec: {
      ...(ing.ingressClassName ? { ingressClassName: ing.ingressClassName } : {}),
      rules: [
        {
          host: ing.host,
          http: {
            paths: [
              {
                path: ing.path,
                pathType: 'Prefix',
                backend: { service: { name: spec.name, port: { number: spec.port } } },
              },
            ],
          },
        },
      ],
      ...(ing.tlsSecret ? { tls: [{ hosts: [ing.host], secretName: ing.tlsSecret }] } : {}),
    },
  };
}
