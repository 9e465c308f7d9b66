// The three controllers, each as one call: the apps' mains only name which.
// Everything shared (settings, logger, clients, metrics, the event bus, the
// informers, leader election, probes, shutdown) is wired here the same way.
import type { V1Deployment } from '@kubernetes/client-node';
import {
  type Bootstrapped,
  type ControllerHost,
  type HostedBus,
  type HostedInformer,
  type ObjectCache,
  type Reconciler,
  type ReshardableCache,
  type EventRecorder,
  GatedInformer,
  INFORMER_ADD,
  INFORMER_UPDATE,
  ShardedInformer,
  ShardedWork,
  WorkQueue,
  WriteFence,
  bootstrap,
  isResourceServed,
  controllerEventRecorder,
  objectKey,
  runController,
} from '@ekspose/k8s';
import { EventBus } from '@ekspose/events';
import { DeploymentReconciler } from './deployment-reconciler';
import type { ExposeEvents } from './event-port';
import { HeldRecords } from './held-records';
import { deploymentInformer, deploymentReader } from './deployments';
import { createExposeMetrics } from './expose-metrics';
import { heldHostVeto, indexHosts, routeDeploymentEvents, routeRecreationEvents } from './event-routing';
import { type RouteObject, claimsOf } from './host-conflict';
import { isKeyWatched } from './owner-keys';
import {
  type InformerContext,
  type InformerShard,
  type OwnedBinding,
  type OwnedKind,
  type OwnedObject,
  type OwnedObjectApi,
  OWNED_KINDS,
  claimsInformer,
  managedInformer,
  nameInformer,
} from './kind-descriptors';
import { exposeActionOf } from './event-reasons';
import { RecreationReconciler } from './recreation-reconciler';
import { gatewayReader } from './gateway-reader';
import { SETTINGS, type Settings } from './settings';

interface Wiring {
  name: string;
  boot: Bootstrapped<Settings>;
  bus: EventBus;
  queue: WorkQueue;
  watched: (key: string) => boolean;
  /** This replica leads and works: a standby's event handlers note and enqueue nothing. */
  active: () => boolean;
  /** EKSPOSE_SHARDS > 1: the caches are split by range and a ShardedWork serves the ranges held. */
  sharding: boolean;
  /** The right to write of the Lease this replica renews: a leader's writes are guarded by it (with shards, by the work). */
  fence: WriteFence;
  /** With shards: the caches split by range, collected as they are built and handed to the work once all are. */
  sharded: Array<ShardedInformer<never>>;
  /** What every informer is built with; EKSPOSE_WATCH_NAMESPACES set, they list and watch each of those namespaces only. */
  informing: InformerContext;
}

/** What is made once every cache is: the ranges' work (with shards), the Event recorder and the enqueue that respects them. */
interface Working {
  /** EKSPOSE_SHARDS > 1: the ranges this replica serves; undefined with one range (a leader does everything). */
  work?: ShardedWork;
  recorder: EventRecorder;
  enqueue: (key: string) => void;
}

/** The namespace of a queue key: `<ns>/<name>`, or `<kind>:<ns>/<name>` (neither part may contain ':' or '/'). */
export function namespaceOfQueueKey(key: string): string | undefined {
  const plain = key.slice(key.indexOf(':') + 1);
  const slash = plain.indexOf('/');
  return slash > 0 ? plain.slice(0, slash) : undefined;
}

function wire(name: string, summary: string): Wiring {
  const boot = bootstrap({
    name,
    summary,
    settings: SETTINGS,
    describe: (s) => ({ watchNamespaces: s.watchNamespaces.length > 0 ? s.watchNamespaces : 'all', skipNamespaces: s.skipNamespaces }),
  });
  const { settings, log, registry } = boot;
  const bus = new EventBus({
    servers: settings.natsUrl,
    name,
    ...(settings.natsUser !== undefined ? { user: settings.natsUser, pass: settings.natsPassword } : {}),
    // NATS lets only the deployment-controller update the stream (manifests/nats/auth.conf).
    manageStream: name === 'deployment-controller',
    streamReplicas: settings.natsStreamReplicas,
    log,
    registry,
  });
  bus.start();
  const queue = new WorkQueue({ name, workers: settings.workers, log, metrics: boot.metrics });
  // The event routing drops keys outside the watched namespaces before they are noted or enqueued.
  const watched = (key: string) => isKeyWatched(key, settings);
  const fence = new WriteFence(settings.leaseRenewDeadlineSeconds * 1000);
  const informing: InformerContext = { clients: boot.clients, log, metrics: boot.metrics, namespaces: settings.watchNamespaces };
  return { name, boot, bus, queue, watched, active: () => queue.isRunning, sharding: settings.shards > 1, sharded: [], fence, informing };
}

/**
 * Called once every cache is built: with shards, the work gets those caches, and queues a range's keys
 * (`rangeKeys`, what a resync would queue) when it starts serving it.
 */
function working(w: Wiring, rangeKeys: () => string[]): Working {
  const { settings, log, clients, metrics } = w.boot;
  const queue = w.queue;
  const work = w.sharding
    ? new ShardedWork({
        shards: settings.shards,
        caches: w.sharded,
        queue,
        namespaceOfKey: namespaceOfQueueKey,
        onServing: (range) => rangeKeys().forEach((key) => work?.rangeOfKey(key) === range && queue.add(key)),
        // The member Lease's right to write, the same fence the host's membership loop renews.
        fence: w.fence,
        log,
      })
    : undefined;
  // Normal Events (Exposed…) wait while the queue has work: in a burst the API server's writes go to the objects first.
  // With shards, Events too are told only for namespaces this replica holds (a reconcile outliving its range tells nothing).
  const recorder = controllerEventRecorder({
    events: clients.events,
    actionOf: exposeActionOf,
    controller: w.name,
    identity: settings.identity,
    log,
    metrics,
    yieldTo: queue,
    ...(work ? { admit: (obj: { namespace: string }) => work.mayWrite(obj.namespace) } : {}),
  });
  // With shards, a key of a range not served (an event of a range being listed or handed back) is not queued.
  const enqueue = work ? (key: string) => work.accepts(key) && queue.add(key) : (key: string) => queue.add(key);
  return { recorder, enqueue, ...(work ? { work } : {}) };
}

/** One cache; with shards one list and watch for every range held (ShardedInformer), `make` built with the selector and filter of those ranges. */
function cacheOf<T extends { metadata?: { namespace?: string } }>(w: Wiring, resource: string, make: (shard?: InformerShard<T>) => ReshardableCache<T>): ObjectCache<T> {
  if (!w.sharding) return make();
  const cache = new ShardedInformer<T>(resource, w.boot.settings.shards, make);
  w.sharded.push(cache as unknown as ShardedInformer<never>);
  return cache;
}

/**
 * Every write refused unless this replica may write there now (with shards: it serves the namespace's range;
 * one leader: its Lease's fence holds), checked when it goes out, not when the reconcile began.
 */
function guarded<T>(api: OwnedObjectApi<T>, work: Pick<ShardedWork, 'guard'>): OwnedObjectApi<T> {
  return {
    read: api.read,
    create: async (namespace, body) => {
      work.guard(namespace);
      return api.create(namespace, body);
    },
    patch: async (namespace, name, patch) => {
      work.guard(namespace);
      return api.patch(namespace, name, patch);
    },
    delete: async (namespace, name, uid) => {
      work.guard(namespace);
      return api.delete(namespace, name, uid);
    },
  };
}

/** A kind's informers; a CRD's wait behind a gate until the API server serves it. Its API is added once the work exists (apiOf). */
interface Bound<T extends OwnedObject> {
  caches: Omit<OwnedBinding<T>, 'api'>;
  /** What the host starts, waits for and reports: the informers, or their gates. */
  hosted: HostedInformer[];
  /** With shards: the kind's host claims in every namespace (the managed cache holds only this replica's ranges). */
  claims?: ObjectCache<RouteObject>;
}

function bind<T extends OwnedObject>(kind: OwnedKind<T>, w: Wiring, onServed: () => void): Bound<T> {
  const { clients, log } = w.boot;
  // The resource as the kind's own informer names it (`ingresses`, `httproutes`), in metrics and /readyz alike with shards or without.
  const plural = kind.source(clients).resource;
  const cache = cacheOf<T>(w, plural, (shard) => managedInformer(kind, w.informing, shard));
  const names = cacheOf<OwnedObject>(w, `${plural}/metadata`, (shard) => nameInformer(kind, w.informing, shard));
  // With shards the whole-object caches hold only this replica's ranges; host claims are compared across all namespaces.
  const claims = w.sharding && kind.claimsHost ? claimsInformer(kind, w.informing) : undefined;
  const resource = kind.customResource;
  const informers = [cache, names, ...(claims ? [claims] : [])];
  if (!resource) return { caches: { kind, cache, names }, hosted: informers, ...(claims ? { claims } : {}) };
  const gated = (inner: HostedInformer, told: () => void) =>
    new GatedInformer({ inner, resource: `${resource.plural}.${resource.group}`, isServed: () => isResourceServed(clients, resource), onServed: told, log });
  const gate = gated(cache, onServed);
  return {
    caches: { kind, cache, names, available: () => gate.available },
    hosted: [gate, ...informers.slice(1).map((i) => gated(i, () => undefined))],
    ...(claims ? { claims } : {}),
  };
}

/** The kind's caches with its API, every write guarded by the work (shards) or the leader's fence. */
function apiOf<T extends OwnedObject>(bound: Bound<T>, w: Wiring, run: Working): OwnedBinding<T> {
  return { ...bound.caches, api: guarded(bound.caches.kind.api(w.boot.clients), run.work ?? w.fence) };
}

/** What both reconcilers take from the wiring. */
function shared(w: Wiring, run: Working, deployments: ObjectCache<V1Deployment>, events: ExposeEvents = w.bus) {
  const { clients, settings, log, metrics, registry } = w.boot;
  return {
    settings,
    deployments,
    readDeployment: deploymentReader(clients),
    events,
    recorder: run.recorder,
    metrics,
    exposeMetrics: createExposeMetrics(registry, w.name),
    log,
  };
}

/** What a term of leadership starts and ends besides the queue, and what a standby must show is empty. */
interface Term {
  started?: () => void;
  stopped: () => void;
  /** With shards: a range was let go; what was kept for its keys goes. */
  rangeLetGo: (gone: (key: string) => boolean) => void;
  bookkeeping: () => Record<string, number>;
}

/** Hosts the reconcile (probes, leader election, resync, shutdown) until SIGTERM. */
function host(w: Wiring, run: Working, informers: HostedInformer[], reconcile: Reconciler, resyncKeys: () => string[], term: Term, bus: HostedBus = w.bus): Promise<ControllerHost> {
  return runController({
    ...w.boot,
    name: w.name,
    bus,
    recorder: run.recorder,
    informers,
    queue: w.queue,
    reconcile,
    resyncKeys,
    onStartedLeading: term.started,
    onStoppedLeading: term.stopped,
    onRangeLetGo: term.rangeLetGo,
    bookkeeping: term.bookkeeping,
    fence: w.fence,
    ...(run.work ? { sharding: { work: run.work } } : {}),
  });
}

/** deployment-controller: the one writer of the owned objects' spec. */
export async function runDeploymentController(): Promise<ControllerHost> {
  const w = wire('deployment-controller', 'Gives every Deployment a Service, and an Ingress when it carries ingReq: needed; removes them when it is deleted.');
  const { log, clients } = w.boot;
  // Its deployment.exposed records wait while the queue has work, as its Normal Events do; shutdown publishes what is held.
  const records = new HeldRecords({ bus: w.bus, yieldTo: w.queue, log });
  const deployments = cacheOf<V1Deployment>(w, 'deployments', (shard) => deploymentInformer(w.informing, shard));
  // A kind served later (the Gateway API installed): every Deployment is looked at again.
  const lookAgain = () => deployments.list().map(objectKey).filter(w.watched).forEach(run.enqueue);
  const bound = OWNED_KINDS.map((kind) => bind<OwnedObject>(kind as OwnedKind<OwnedObject>, w, lookAgain));
  // Every cache is built: with shards, the work gets them now.
  const run = working(w, () => resyncKeys());
  const owned = bound.map((b) => apiOf(b, w, run));
  // One replica: the managed caches are the claims. Shards: the cluster-wide claims informers.
  const routes = bound.filter((b) => b.caches.kind.claimsHost).map((b) => b.claims ?? (b.caches.cache as ObjectCache<RouteObject>));
  // A host freed (its holder deleted, moved, or a reservation dropped) goes to the Deployments waiting for it.
  const hostIndex = indexHosts(routes, (freed) => reconciler.keysWaitingFor(freed).forEach(run.enqueue));
  const reconciler = new DeploymentReconciler({ ...shared(w, run, deployments, records), owned, hostIndex, readGateway: gatewayReader(clients, log) });
  // With shards, two replicas may each write a route for one host at once (each reserves only in its own index):
  // a claim seen from anywhere puts every other claimant of its host and path that this replica serves to its reconcile,
  // where the older keeps it and the younger route is removed (HostConflict).
  for (const claims of bound.map((b) => b.claims).filter((c) => c !== undefined)) {
    const rivalsOf = (route: RouteObject) =>
      claimsOf(route)
        .flatMap((c) => hostIndex.claims(c.host, c.path))
        .filter((c) => c.namespace !== route.metadata?.namespace || c.name !== route.metadata?.name)
        .forEach((c) => run.enqueue(`${c.namespace}/${c.name}`));
    claims.on(INFORMER_ADD, rivalsOf);
    claims.on(INFORMER_UPDATE, rivalsOf);
  }
  routeDeploymentEvents({
    deployments,
    owned,
    noteDeleted: (d) => reconciler.noteDeleted(d),
    waitsForName: (key, kind) => reconciler.waitsForName(key, kind),
    watched: w.watched,
    active: w.active,
    enqueue: run.enqueue,
  });
  const resyncKeys = () => [...deployments.list().map(objectKey), ...reconciler.orphanKeys()];
  return host(
    w,
    run,
    [deployments, ...bound.flatMap((b) => b.hosted)],
    reconciler.reconcile,
    resyncKeys,
    // The index itself is informer state (kept on a standby); its reservations are a term's.
    {
      stopped: () => reconciler.reset(),
      rangeLetGo: (gone) => reconciler.reset(gone),
      bookkeeping: () => ({ ...reconciler.bookkeeping(), hostReservations: hostIndex.size.reserved }),
    },
    records,
  );
}

/**
 * service-controller or ingress-controller: puts back a managed object of one
 * of `kinds` a user deleted. With several kinds (the ingress-controller: Ingress
 * and HTTPRoute) each has its own reconciler, and the queue's keys say which:
 * `httproute:<namespace>/<name>`.
 */
export async function runRecreationController(name: string, kinds: ReadonlyArray<OwnedKind<OwnedObject>>, summary: string): Promise<ControllerHost> {
  const w = wire(name, summary);
  const deployments = cacheOf<V1Deployment>(w, 'deployments', (shard) => deploymentInformer(w.informing, shard));
  // One kind: plain keys, as the queue always had them. Several: `<metricKind>:<key>`.
  const tagged = kinds.length > 1;
  const tag = (kind: OwnedKind<OwnedObject>, key: string) => (tagged ? `${kind.metricKind}:${key}` : key);
  const untag = (queued: string): [string, string] => {
    if (!tagged) return [kinds[0]!.metricKind, queued];
    const at = queued.indexOf(':');
    return [queued.slice(0, at), queued.slice(at + 1)];
  };
  const reconcilers = new Map<string, RecreationReconciler<OwnedObject>>();
  const missingOf = (kind: OwnedKind<OwnedObject>) => reconcilers.get(kind.metricKind)!.missingKeys().map((key) => tag(kind, key));
  const hosted: HostedInformer[] = [deployments];
  const bound = kinds.map((kind) => ({ kind, ...bind(kind, w, () => missingOf(kind).forEach(run.enqueue)) }));
  // Every cache is built: with shards, the work gets them now.
  const run = working(w, () => resyncKeys());
  // One index of the claims of every route kind this controller puts back: an older one of either kind holds a host.
  const claiming = bound.filter((b) => b.kind.claimsHost).map((b) => b.claims ?? (b.caches.cache as ObjectCache<RouteObject>));
  const hostIndex = claiming.length > 0 ? indexHosts(claiming) : undefined;
  for (const b of bound) {
    const { kind, hosted: informers } = b;
    const binding = apiOf(b, w, run);
    const veto = kind.claimsHost && hostIndex ? heldHostVeto(hostIndex) : undefined;
    const readGateway = kind.claimsHost ? { readGateway: gatewayReader(w.boot.clients, w.boot.log) } : {};
    const reconciler = new RecreationReconciler<OwnedObject>({ ...shared(w, run, deployments), owned: binding, ...readGateway, ...(veto ? { veto } : {}) });
    routeRecreationEvents({
      owned: binding.cache,
      noteDeleted: (key) => reconciler.noteDeleted(key),
      watched: w.watched,
      active: w.active,
      enqueue: (key) => run.enqueue(tag(kind, key)),
    });
    reconcilers.set(kind.metricKind, reconciler);
    hosted.push(...informers);
  }
  const reconcile: Reconciler = (queued) => {
    const [kind, key] = untag(queued);
    const reconciler = reconcilers.get(kind);
    if (!reconciler) throw new Error(`no reconciler for queue key ${queued}`);
    return reconciler.reconcile(key);
  };
  const resyncKeys = () => kinds.flatMap(missingOf);
  return host(w, run, hosted, reconcile, resyncKeys, {
    // While leading, the deletions heard of on NATS are remembered, so the answer holds while NATS is down later.
    // Only the leader consumes the durable: a standby would take records away from it.
    started: () => w.bus.followDeletions(w.name),
    stopped: () => {
      void w.bus.stopConsuming(w.name);
      for (const reconciler of reconcilers.values()) reconciler.reset();
    },
    rangeLetGo: (gone) => reconcilers.forEach((r) => r.reset(gone)),
    bookkeeping: () => ({ witnessed: [...reconcilers.values()].reduce((n, r) => n + r.witnessedCount, 0) }),
  });
}
