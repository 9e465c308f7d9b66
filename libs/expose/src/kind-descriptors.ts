// One descriptor per kind of object ekspose owns: how it is built from the
// ExposeSpec, compared, read and written, which Event reasons speak of it and
// which NATS event tells its recreation. The reconcilers hold no `kind ===`
// branches: a new owned kind is one more descriptor here.
import type { V1Ingress, V1ObjectMeta, V1Service } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  type ControllerMetrics,
  type ObjectCache,
  type ReshardableCache,
  type KubeClients,
  type CustomResource,
  type ResourceSource,
  type SourceView,
  customResourceSource,
  identityOnly,
  informerFor,
  ingressSource,
  mergePatchOptions,
  serviceSource,
  slimOwned,
} from '@ekspose/k8s';
import { type ExposeSpec, FIELD_MANAGER, LABEL_DEPLOYMENT, LABEL_MANAGED_BY, MANAGED_SELECTOR, UNMANAGED_SELECTOR } from '@ekspose/labels';
import type { ExposedObject } from '@ekspose/events';
import { type MergePatch, ingressDrift, serviceDrift } from './drift';
import { ExposeReason } from './event-reasons';
import { type ExposeEvents, announce } from './event-port';
import type { ObjectKind } from './expose-metrics';
import { desiredIngress, desiredService } from './desired-objects';
import { HTTP_ROUTES, type HttpRoute, desiredHttpRoute, httpRouteDrift } from './http-route';
import { routeRefusal } from './route-parents';
import { type RouteObject, claimsOnly } from './host-conflict';

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
  kind: 'Service' | 'Ingress' | 'HTTPRoute';
  /** Lower-case: metric label, deployment.exposed field, log messages. */
  metricKind: ObjectKind & ExposedObject;
  /** The object this Deployment should have, or null when it wants none of this kind. */
  desired(spec: ExposeSpec): T | null;
  /** The merge patch that corrects the fields ekspose owns, or null when there is nothing to write. */
  drift(live: T, desired: T): MergePatch | null;
  /** It claims a host and path that an older object may hold (docs/design.md §2.4, HostConflict). */
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
    /** Wanted, but the API server does not serve the kind (a CRD not installed). */
    unavailable?: ExposeReason;
  };
  /** What the object's own controller reports wrong in its status (a Gateway not accepting a route), if anything. */
  statusProblem?(live: T): { reason: ExposeReason; message: string } | undefined;
  /** What to install when the kind is not served, for the Warning. */
  unavailableHint?: string;
  /** A CRD: the informer waits until discovery lists it (GatedInformer). */
  customResource?: CustomResource;
  /** Publishes the NATS event that tells a recreation. */
  announceRecreated(events: ExposeEvents, log: Logger, spec: ExposeSpec, created: T, at: string): void;
  api(clients: KubeClients): OwnedObjectApi<T>;
  /** Whole objects (the managed ones, for drift), or metadata only (the unmanaged ones' names, for conflicts). */
  source(clients: KubeClients, view?: SourceView): ResourceSource<T>;
}

/** What every …recreated event says: which Deployment, and when. */
function recreationOf(spec: ExposeSpec, at: string) {
  return { deploymentUid: spec.uid, namespace: spec.namespace, name: spec.name, at };
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
    announce(events, log, 'service.recreated', { ...recreationOf(spec, at), serviceUid: created.metadata?.uid ?? '' }),
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
    announce(events, log, 'ingress.recreated', { ...recreationOf(spec, at), ingressUid: created.metadata?.uid ?? '', host: spec.ingress?.host ?? '' }),
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

export const httpRouteKind: OwnedKind<HttpRoute> = {
  kind: 'HTTPRoute',
  metricKind: 'httproute',
  desired: desiredHttpRoute,
  drift: httpRouteDrift,
  // Host and path conflicts are checked across Ingresses and HTTPRoutes.
  claimsHost: true,
  reasons: {
    conflict: ExposeReason.HTTPRouteConflict,
    recreated: ExposeReason.HTTPRouteRecreated,
    created: ExposeReason.HTTPRouteCreated,
    refused: ExposeReason.HTTPRouteRefused,
    unwanted: ExposeReason.HTTPRouteDeleted,
    unavailable: ExposeReason.GatewayAPIUnavailable,
  },
  unavailableHint: `httproutes in ${HTTP_ROUTES.group}/${HTTP_ROUTES.version} (install the Gateway API CRDs)`,
  customResource: HTTP_ROUTES,
  statusProblem: (live) => {
    const refused = routeRefusal(live);
    return refused === undefined ? undefined : { reason: ExposeReason.RouteNotAccepted, message: refused };
  },
  announceRecreated: (events, log, spec, created, at) =>
    announce(events, log, 'httproute.recreated', { ...recreationOf(spec, at), httprouteUid: created.metadata?.uid ?? '', host: spec.ingress?.host ?? '' }),
  api: (clients) => {
    const custom = clients.custom;
    const r = HTTP_ROUTES;
    return {
      read: async (namespace, name) => (await custom.getNamespacedCustomObject({ ...r, namespace, name })) as HttpRoute,
      create: async (namespace, body) => (await custom.createNamespacedCustomObject({ ...r, namespace, body, fieldManager: FIELD_MANAGER })) as HttpRoute,
      patch: async (namespace, name, body) =>
        (await custom.patchNamespacedCustomObject({ ...r, namespace, name, body, fieldManager: FIELD_MANAGER }, mergePatchOptions())) as HttpRoute,
      delete: async (namespace, name, uid) => {
        await custom.deleteNamespacedCustomObject({ ...r, namespace, name, body: { preconditions: { uid } } });
      },
    };
  },
  source: (clients, view) => customResourceSource<HttpRoute>(clients, HTTP_ROUTES, view),
};

/**
 * Every kind ekspose owns, in the order the deployment-controller reconciles
 * them (the wanted ones first: see DeploymentReconciler).
 */
export const OWNED_KINDS = [serviceKind, ingressKind, httpRouteKind] as const;
/** The kinds that make a Deployment reachable from outside; the ingress-controller puts them back. */
export const EXTERNAL_ROUTE_KINDS = [ingressKind, httpRouteKind] as const;

/** The managed objects of one kind (label-selected: the cache stays small however many others a cluster has). */
export function managedInformer<T extends OwnedObject>(kind: OwnedKind<T>, { clients, log, metrics, namespaces }: InformerContext, shard?: InformerShard<T>): ReshardableCache<T> {
  return informerFor(kind.source(clients), { log, metrics, namespaces, transform: slimOwned, labelSelector: MANAGED_SELECTOR, ...(shard ? { shard } : {}) }) as ReshardableCache<T>;
}

/**
 * Every object of one kind that ekspose does not manage (no managed-by label,
 * or another value), as metadata only (name, uid, the managed-by and deployment
 * labels, the controller ownerReference): what tells a name held by someone
 * else without asking the API server, at a few hundred bytes an object (see the
 * bench for 10,000 foreign Services). The managed ones are the managed cache's:
 * together the two caches hold every name of the kind, and the API server sends
 * each object ekspose makes to one of them, not both (a label changed moves an
 * object from one to the other: a deletion in one, an addition in the other).
 */
export function nameInformer<T extends OwnedObject>(kind: OwnedKind<T>, { clients, log, metrics, namespaces }: InformerContext, shard?: InformerShard<OwnedObject>): ReshardableCache<OwnedObject> {
  const source = kind.source(clients, 'metadata');
  return informerFor({ ...source, resource: `${source.resource}/metadata` }, {
    log,
    metrics,
    namespaces,
    transform: identityOnly([LABEL_MANAGED_BY, LABEL_DEPLOYMENT]),
    labelSelector: UNMANAGED_SELECTOR,
    ...(shard ? { shard: shard as never } : {}),
  }) as unknown as ReshardableCache<OwnedObject>;
}

/**
 * A kind's managed routes in every namespace, cut to who they are and what
 * host and path they claim: the cluster-wide host index of a sharded replica,
 * whose whole-object caches hold only its own ranges.
 */
export function claimsInformer<T extends OwnedObject>(kind: OwnedKind<T>, { clients, log, metrics, namespaces }: InformerContext): ObjectCache<RouteObject> {
  const source = kind.source(clients);
  return informerFor({ ...source, resource: `${source.resource}/claims` } as never, {
    log,
    metrics,
    namespaces,
    transform: claimsOnly([LABEL_MANAGED_BY, LABEL_DEPLOYMENT]) as never,
    labelSelector: MANAGED_SELECTOR,
  }) as unknown as ObjectCache<RouteObject>;
}

/**
 * What every informer of a controller is built with: its clients, logger and restart metric, and the
 * namespaces it lists and watch in (EKSPOSE_WATCH_NAMESPACES: one list and watch per namespace, all
 * that Roles over them allow; empty: one of every namespace).
 */
export interface InformerContext {
  clients: KubeClients;
  log: Logger;
  metrics: Pick<ControllerMetrics, 'informerRestarted'>;
  namespaces: readonly string[];
}

/** One shard of a cache: the range's selector and the client-side filter. */
export type InformerShard<T> = { selector: string; accept: (obj: T) => boolean };

/** A kind with its API and its informers: what a reconciler works on. */
export interface OwnedBinding<T extends OwnedObject = OwnedObject> {
  kind: OwnedKind<T>;
  api: OwnedObjectApi<T>;
  /** The managed objects of the kind, whole (label-selected). */
  cache: ObjectCache<T>;
  /** Every object of the kind, metadata only: who holds each name. */
  names: ObjectCache<OwnedObject>;
  /** False while the API server does not serve the kind (a CRD not installed yet); absent = always served. */
  available?: () => boolean;
}
