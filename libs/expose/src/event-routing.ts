// Which keys the informers' events put on the work queue (docs/design.md §3, "who
// does what"). Handlers only enqueue, or note what the reconcile needs to know (a
// tombstone, a witnessed deletion); the reconcile does the work.
import type { V1Deployment } from '@kubernetes/client-node';
import { INFORMER_ADD, INFORMER_DELETE, INFORMER_UPDATE, type ObjectCache, objectKey } from '@ekspose/k8s';
import type { ExposeSpec } from '@ekspose/labels';
import { HostIndex, type HostPath, type RouteObject, hostHeldBy } from './host-conflict';
import { ownerKeyOf } from './owner-keys';
import type { OwnedBinding, OwnedObject } from './kind-descriptors';
import { userRevision } from './warning-ledger';

type Enqueue = (key: string) => void;
/** Whether a key is this controller's business (EKSPOSE_WATCH/SKIP_NAMESPACES): others are not even noted. */
type Watched = (key: string) => boolean;
/**
 * Whether this replica does the work now (it leads and its queue runs). A
 * standby's handlers note and enqueue nothing: its informers stay current, and
 * when it takes over it starts from them with a full resync.
 */
type Active = () => boolean;

/**
 * Whether an update of a Deployment changes anything ekspose reads: its labels,
 * annotations or spec (generation; the selector is in the spec), or that it is
 * being deleted. Status updates (replicas becoming ready during a rollout, a
 * few a second in a busy cluster) change none of these, as controller-runtime's
 * generation/label/annotation predicates leave them out.
 */
export function exposureChanged(old: V1Deployment | undefined, now: V1Deployment): boolean {
  return !old || userRevision(old) !== userRevision(now) || !old.metadata?.deletionTimestamp !== !now.metadata?.deletionTimestamp;
}

/**
 * The deployment-controller: a Deployment added, deleted, or changed in what
 * ekspose reads enqueues its key (a deletion also leaves the uid for the
 * deployment.deleted record); an update of a managed object (drift) enqueues
 * its owner; an object of any owner deleted or changed under the name a
 * Deployment waits for (a foreign Service in the way) enqueues that
 * Deployment. Deletions of managed objects are the recreate controllers' job.
 */
export function routeDeploymentEvents(o: {
  deployments: ObjectCache<V1Deployment>;
  owned: Array<Pick<OwnedBinding, 'kind' | 'cache' | 'names'>>;
  noteDeleted: (dep: V1Deployment) => void;
  waitsForName: (key: string, kind: string) => boolean;
  watched: Watched;
  active: Active;
  enqueue: Enqueue;
}): void {
  const enqueue = (key: string) => {
    if (o.active() && o.watched(key)) o.enqueue(key);
  };
  o.deployments.on(INFORMER_ADD, (d) => enqueue(objectKey(d)));
  o.deployments.on(INFORMER_UPDATE, (d, old) => {
    if (exposureChanged(old, d)) enqueue(objectKey(d));
  });
  o.deployments.on(INFORMER_DELETE, (d) => {
    const key = objectKey(d);
    if (!o.active() || !o.watched(key)) return;
    o.noteDeleted(d);
    o.enqueue(key);
  });
  for (const { kind, cache, names } of o.owned) {
    cache.on(INFORMER_UPDATE, (obj) => enqueue(ownerKeyOf(obj)));
    // The object is named like the Deployment it stands in the way of.
    const nameFreed = (obj: OwnedObject) => {
      const key = objectKey(obj);
      if (o.waitsForName(key, kind.kind)) enqueue(key);
    };
    // Two caches hold the kind's names: the unmanaged ones, and the managed ones (a holder may carry the label and be
    // controlled by something else). A holder deleted or changed in either, or moved between them by a label, frees it.
    for (const holders of [names, cache]) {
      holders.on(INFORMER_DELETE, nameFreed);
      holders.on(INFORMER_UPDATE, nameFreed);
    }
  }
}

/** A recreate controller: a managed object deleted is evidence it existed, and its owner is looked at. */
export function routeRecreationEvents<T extends OwnedObject>(o: {
  owned: ObjectCache<T>;
  noteDeleted: (key: string) => void;
  watched: Watched;
  active: Active;
  enqueue: Enqueue;
}): void {
  o.owned.on(INFORMER_DELETE, (obj) => {
    const key = ownerKeyOf(obj);
    if (!o.active() || !o.watched(key)) return;
    o.noteDeleted(key);
    o.enqueue(key);
  });
}

/**
 * A HostIndex of the managed routes' claims (Ingresses and HTTPRoutes in one
 * index), kept current from their informers; `onFreed` hears of host/paths
 * that lost their last claim (a route deleted, or moved to another host or path).
 */
export function indexHosts(caches: Array<ObjectCache<RouteObject>>, onFreed?: (freed: HostPath[]) => void): HostIndex {
  const index = new HostIndex(onFreed);
  for (const cache of caches) {
    cache.on(INFORMER_ADD, (r) => index.upsert(r));
    cache.on(INFORMER_UPDATE, (r) => index.upsert(r));
    cache.on(INFORMER_DELETE, (r) => index.remove(r));
  }
  return index;
}

/**
 * The ingress-controller's veto: never bring back an Ingress whose host and
 * path an older one now holds; the deployment-controller would remove it
 * again, and the two would fight.
 */
export function heldHostVeto(index: HostIndex): (spec: ExposeSpec) => string | undefined {
  return (spec) => {
    if (!spec.ingress) return undefined;
    const holder = hostHeldBy(spec.ingress, spec, undefined, index.claims(spec.ingress.host, spec.ingress.path));
    return holder && `host ${spec.ingress.host}${spec.ingress.path} is held by ${holder.namespace}/${holder.name}`;
  };
}
