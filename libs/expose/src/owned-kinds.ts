// One descriptor per kind of object ekspose owns: how it is built from the
// ExposeSpec, compared, read and written, which Event reasons speak of it and
// which NATS event tells its recreation. The reconcilers hold no `kind ===`
// branches: a new owned kind is one more descriptor here.
import type { V1Ingress, V1ObjectMeta, V1Service } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  type ControllerMetrics,
  type Informer,
  type KubeClients,
  type ResourceSource,
  informerFor,
  ingressSource,
  mergePatchOptions,
  serviceSource,
  slimOwned,
} from '@ekspose/k8s';
import { type ExposeSpec, FIELD_MANAGER, MANAGED_SELECTOR } from '@ekspose/labels';
import type { ExposedObject } from '@ekspose/events';
import { type MergePatch, ingressDrift, serviceDrift } from './drift';
import { ExposeReason } from './event-reasons';
import { type ExposeEvents, announce } from './event-port';
import type { ObjectKind } from './expose-metrics';
import { desiredIngress, desiredService } from './owned-objects';

export interface OwnedObject {
  metadata?: V1ObjectMeta;
}

/** The four API calls ekspose makes on an owned kind. Thin adapters, no logic. */
export interface OwnedObjectApi<T> {
  read(namespace: string, name: string): Promise<T>;
  create(namespace: string, body: T): Promise<T>;
  patch(namespace: string, name: string, patch: MergePatch): Promise<T>;
  /** Deletes only the object with this uid (a precondition), so a newer object of the name is never hit. */
  delete(namespace: string, name: string, uid: string): Promise<void>;
}

export interface OwnedKind<T extends OwnedObject> {
  /** The Kubernetes kind, as users read it in Events and logs. */
  kind: 'Service' | 'Ingress';
  /** Lower-case: metric label, deployment.exposed field, log messages. */
  metricKind: ObjectKind & ExposedObject;
  /** The object this Deployment should have, or null when it wants none of this kind. */
  desired(spec: ExposeSpec): T | null;
  /** The merge patch that corrects the fields ekspose owns, or null when there is nothing to write. */
  drift(live: T, desired: T): MergePatch | null;
  /** It claims a host and path that an older object may hold (DESIGN §2, HostConflict). */
  claimsHost: boolean;
  reasons: {
    /** An object of that name ekspose does not own. */
    conflict: ExposeReason;
    /** Put back by a recreate controller with evidence it was deleted. */
    recreated: ExposeReason;
    /** Made by a recreate controller because it was missing, never seen deleted. */
    created: ExposeReason;
    /** The API server refused a write of it (quota, IP range, webhook). */
    refused: ExposeReason;
    /** Removed because the Deployment no longer wants one; undefined when it always does. */
    unwanted?: ExposeReason;
  };
  /** Publishes the NATS event that tells a recreation. */
  announceRecreated(events: ExposeEvents, log: Logger, spec: ExposeSpec, created: T, at: string): void;
  api(clients: KubeClients): OwnedObjectApi<T>;
  source(clients: KubeClients): ResourceSource<T>;
}

export const serviceKind: OwnedKind<V1Service> = {
  kind: 'Service',
  metricKind: 'service',
  desired: desiredService,
  drift: serviceDrift,
  claimsHost: false,
  reasons: {
    conflict: ExposeReason.ServiceConflict,
    recreated: ExposeReason.ServiceRecreated,
    created: ExposeReason.ServiceCreated,
    refused: ExposeReason.ServiceRefused,
  },
  announceRecreated: (events, log, spec, created, at) =>
    announce(events, log, 'service.recreated', {
      deploymentUid: spec.uid,
      namespace: spec.namespace,
      name: spec.name,
      serviceUid: created.metadata?.uid ?? '',
      at,
    }),
  api: (clients) => {
    const core = clients.core;
    return {
      read: (namespace, name) => core.readNamespacedService({ namespace, name }),
      create: (namespace, body) => core.createNamespacedService({ namespace, body, fieldManager: FIELD_MANAGER }),
      patch: (namespace, name, body) => core.patchNamespacedService({ namespace, name, body, fieldManager: FIELD_MANAGER }, mergePatchOptions()),
      delete: async (namespace, name, uid) => {
        await core.deleteNamespacedService({ namespace, name, body: { preconditions: { uid } } });
      },
    };
  },
  source: serviceSource,
};

export const ingressKind: OwnedKind<V1Ingress> = {
  kind: 'Ingress',
  metricKind: 'ingress',
  desired: desiredIngress,
  drift: ingressDrift,
  claimsHost: true,
  reasons: {
    conflict: ExposeReason.IngressConflict,
    recreated: ExposeReason.IngressRecreated,
    created: ExposeReason.IngressCreated,
    refused: ExposeReason.IngressRefused,
    unwanted: ExposeReason.IngressDeleted,
  },
  announceRecreated: (events, log, spec, created, at) =>
    announce(events, log, 'ingress.recreated', {
      deploymentUid: spec.uid,
      namespace: spec.namespace,
      name: spec.name,
      ingressUid: created.metadata?.uid ?? '',
      host: spec.ingress?.host ?? '',
      at,
    }),
  api: (clients) => {
    const net = clients.networking;
    return {
      read: (namespace, name) => net.readNamespacedIngress({ namespace, name }),
      create: (namespace, body) => net.createNamespacedIngress({ namespace, body, fieldManager: FIELD_MANAGER }),
      patch: (namespace, name, body) => net.patchNamespacedIngress({ namespace, name, body, fieldManager: FIELD_MANAGER }, mergePatchOptions()),
      delete: async (namespace, name, uid) => {
        await net.deleteNamespacedIngress({ namespace, name, body: { preconditions: { uid } } });
      },
    };
  },
  source: ingressSource,
};

/** Every kind ekspose owns, in the order the deployment-controller reconciles them. */
export const OWNED_KINDS = [serviceKind, ingressKind] as const;

/** The managed objects of one kind (label-selected: the cache stays small however many others a cluster has). */
export function managedInformer<T extends OwnedObject>(
  kind: OwnedKind<T>,
  clients: KubeClients,
  log: Logger,
  metrics: Pick<ControllerMetrics, 'informerRestarted'>,
): Informer<T> {
  return informerFor(kind.source(clients), { log, metrics, transform: slimOwned, labelSelector: MANAGED_SELECTOR }) as Informer<T>;
}

/** A kind with its API and its informer: what a reconciler works on. */
export interface OwnedBinding<T extends OwnedObject = OwnedObject> {
  kind: OwnedKind<T>;
  api: OwnedObjectApi<T>;
  cache: Informer<T>;
}
