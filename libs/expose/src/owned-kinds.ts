// The four API calls ekspose makes on an owned kind, behind one shape so the
// reconcilers treat Services and Ingresses alike. Thin adapters, no logic.
import type { V1Ingress, V1Service } from '@kubernetes/client-node';
import type { KubeClients } from './kube-client';
import { mergePatchOptions } from './kube-client';
import type { MergePatch } from './drift';
import { ingressDrift, serviceDrift } from './drift';
import type { OwnedKind } from './owned-objects';
import { FIELD_MANAGER } from '@ekspose/labels';

export interface OwnedObjectApi<T> {
  kind: OwnedKind;
  /** Lower-case, for metrics and event payloads. */
  metricKind: 'service' | 'ingress';
  read(namespace: string, name: string): Promise<T>;
  create(namespace: string, body: T): Promise<T>;
  patch(namespace: string, name: string, patch: MergePatch): Promise<T>;
  /** Deletes only the object with this uid (a precondition), so a newer object of the name is never hit. */
  delete(namespace: string, name: string, uid: string): Promise<void>;
  drift(live: T, desired: T): MergePatch | null;
}

export function serviceApi(clients: KubeClients): OwnedObjectApi<V1Service> {
  const core = clients.core;
  return {
    kind: 'Service',
    metricKind: 'service',
    read: (namespace, name) => core.readNamespacedService({ namespace, name }),
    create: (namespace, body) => core.createNamespacedService({ namespace, body, fieldManager: FIELD_MANAGER }),
    patch: (namespace, name, body) =>
      core.patchNamespacedService({ namespace, name, body, fieldManager: FIELD_MANAGER }, mergePatchOptions()),
    delete: async (namespace, name, uid) => {
      await core.deleteNamespacedService({ namespace, name, body: { preconditions: { uid } } });
    },
    drift: serviceDrift,
  };
}

export function ingressApi(clients: KubeClients): OwnedObjectApi<V1Ingress> {
  const net = clients.networking;
  return {
    kind: 'Ingress',
    metricKind: 'ingress',
    read: (namespace, name) => net.readNamespacedIngress({ namespace, name }),
    create: (namespace, body) => net.createNamespacedIngress({ namespace, body, fieldManager: FIELD_MANAGER }),
    patch: (namespace, name, body) =>
      net.patchNamespacedIngress({ namespace, name, body, fieldManager: FIELD_MANAGER }, mergePatchOptions()),
    delete: async (namespace, name, uid) => {
      await net.deleteNamespacedIngress({ namespace, name, body: { preconditions: { uid } } });
    },
    drift: ingressDrift,
  };
}
