// The three controllers, each as one call: the apps' mains only name which.
// Everything shared (settings, logger, clients, metrics, the event bus, the
// informers, leader election, probes, shutdown) is wired here the same way.
import type { V1Deployment } from '@kubernetes/client-node';
import {
  type Bootstrapped,
  type ControllerHost,
  type HostedInformer,
  type Informer,
  type Reconciler,
  type EventRecorder,
  GatedInformer,
  WorkQueue,
  bootstrap,
  isResourceServed,
  controllerEventRecorder,
  objectKey,
  runController,
} from '@ekspose/k8s';
import { EventBus } from '@ekspose/events';
import { DeploymentReconciler } from './deployment-reconciler';
import { deploymentInformer, deploymentReader } from './deployments';
import { createExposeMetrics } from './expose-metrics';
import { heldHostVeto, indexHosts, routeDeploymentEvents, routeRecreationEvents } from './event-routing';
import type { RouteObject } from './host-conflict';
import { isKeyWatched } from './owner-keys';
import { type OwnedBinding, type OwnedKind, type OwnedObject, OWNED_KINDS, managedInformer, nameInformer } from './kind-descriptors';
import { exposeActionOf } from './event-reasons';
import { RecreationReconciler } from './recreation-reconciler';
import { gatewayReader } from './gateway-reader';
import { SETTINGS, type Settings } from './settings';

interface Wiring {
  name: string;
  boot: Bootstrapped<Settings>;
  bus: EventBus;
  recorder: EventRecorder;
  queue: WorkQueue;
  watched: (key: string) => boolean;
  /** This replica leads and works: a standby's event handlers note and enqueue nothing. */
  active: () => boolean;
  enqueue: (key: string) => void;
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
  const recorder = controllerEventRecorder({ events: boot.clients.events, actionOf: exposeActionOf, controller: name, identity: settings.identity, log, metrics: boot.metrics });
  return { name, boot, bus, recorder, queue, watched, active: () => queue.isRunning, enqueue: (key) => queue.add(key) };
}

/** A kind with its API and informers; a CRD's informers wait behind a gate until the API server serves it. */
interface Bound<T extends OwnedObject> {
  binding: OwnedBinding<T>;
  /** What the host starts, waits for and reports: the informers, or their gates. */
  hosted: HostedInformer[];
}

function bind<T extends OwnedObject>(kind: OwnedKind<T>, w: Wiring, onServed: () => void): Bound<T> {
  const { clients, log, metrics } = w.boot;
  const cache = managedInformer(kind, clients, log, metrics);
  const names = nameInformer(kind, clients, log, metrics);
  const binding: OwnedBinding<T> = { kind, api: kind.api(clients), cache, names };
  const resource = kind.customResource;
  if (!resource) return { binding, hosted: [cache, names] };
  const gated = (inner: HostedInformer, told: () => void) =>
    new GatedInformer({ inner, resource: `${resource.plural}.${resource.group}`, isServed: () => isResourceServed(clients, resource), onServed: told, log });
  const gate = gated(cache, onServed);
  return { binding: { ...binding, available: () => gate.available }, hosted: [gate, gated(names, () => undefined)] };
}

/** What both reconcilers take from the wiring. */
function shared(w: Wiring, deployments: Informer<V1Deployment>) {
  const { clients, settings, log, metrics, registry } = w.boot;
  return {
    settings,
    deployments,
    readDeployment: deploymentReader(clients),
    events: w.bus,
    recorder: w.recorder,
    metrics,
    exposeMetrics: createExposeMetrics(registry, w.name),
    log,
  };
}

/** What a term of leadership starts and ends besides the queue, and what a standby must show is empty. */
interface Term {
  started?: () => void;
  stopped: () => void;
  bookkeeping: () => Record<string, number>;
}

/** Hosts the reconcile (probes, leader election, resync, shutdown) until SIGTERM. */
function host(w: Wiring, informers: HostedInformer[], reconcile: Reconciler, resyncKeys: () => string[], term: Term): Promise<ControllerHost> {
  return runController({
    ...w.boot,
    name: w.name,
    bus: w.bus,
    recorder: w.recorder,
    informers,
    queue: w.queue,
    reconcile,
    resyncKeys,
    onStartedLeading: term.started,
    onStoppedLeading: term.stopped,
    bookkeeping: term.bookkeeping,
  });
}

/** deployment-controller: the one writer of the owned objects' spec. */
export async function runDeploymentController(): Promise<ControllerHost> {
  const w = wire('deployment-controller', 'Gives every Deployment a Service, and an Ingress when it carries ingReq: needed; removes them when it is deleted.');
  const { log, clients, metrics } = w.boot;
  const deployments = deploymentInformer(clients, log, metrics);
  // A kind served later (the Gateway API installed): every Deployment is looked at again.
  const lookAgain = () => deployments.list().map(objectKey).filter(w.watched).forEach(w.enqueue);
  const bound = OWNED_KINDS.map((kind) => bind<OwnedObject>(kind as OwnedKind<OwnedObject>, w, lookAgain));
  const owned = bound.map((b) => b.binding);
  const routes = owned.filter((b) => b.kind.claimsHost).map((b) => b.cache as Informer<RouteObject>);
  // A host freed (its holder deleted, moved, or a reservation dropped) goes to the Deployments waiting for it.
  const hostIndex = indexHosts(routes, (freed) => reconciler.keysWaitingFor(freed).forEach(w.enqueue));
  const reconciler = new DeploymentReconciler({ ...shared(w, deployments), owned, hostIndex, readGateway: gatewayReader(clients, log) });
  routeDeploymentEvents({
    deployments,
    owned,
    noteDeleted: (d) => reconciler.noteDeleted(d),
    waitsForName: (key, kind) => reconciler.waitsForName(key, kind),
    watched: w.watched,
    active: w.active,
    enqueue: w.enqueue,
  });
  return host(
    w,
    [deployments, ...bound.flatMap((b) => b.hosted)],
    reconciler.reconcile,
    () => [...deployments.list().map(objectKey), ...reconciler.orphanKeys()],
    // The index itself is informer state (kept on a standby); its reservations are a term's.
    { stopped: () => reconciler.reset(), bookkeeping: () => ({ ...reconciler.bookkeeping(), hostReservations: hostIndex.size.reserved }) },
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
  const { log, clients, metrics } = w.boot;
  const deployments = deploymentInformer(clients, log, metrics);
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
  const bound = kinds.map((kind) => ({ kind, ...bind(kind, w, () => missingOf(kind).forEach(w.enqueue)) }));
  // One index of the claims of every route kind this controller puts back: an older one of either kind holds a host.
  const claiming = bound.filter((b) => b.kind.claimsHost).map((b) => b.binding.cache as Informer<RouteObject>);
  const hostIndex = claiming.length > 0 ? indexHosts(claiming) : undefined;
  for (const { kind, binding, hosted: informers } of bound) {
    const veto = kind.claimsHost && hostIndex ? heldHostVeto(hostIndex) : undefined;
    const reconciler = new RecreationReconciler<OwnedObject>({ ...shared(w, deployments), owned: binding, ...(veto ? { veto } : {}) });
    routeRecreationEvents({
      owned: binding.cache,
      noteDeleted: (key) => reconciler.noteDeleted(key),
      watched: w.watched,
      active: w.active,
      enqueue: (key) => w.enqueue(tag(kind, key)),
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
  return host(w, hosted, reconcile, () => kinds.flatMap(missingOf), {
    // While leading, the deletions heard of on NATS are remembered, so the answer holds while NATS is down later.
    // Only the leader consumes the durable: a standby would take records away from it.
    started: () => w.bus.followDeletions(w.name),
    stopped: () => {
      void w.bus.stopConsuming(w.name);
      for (const reconciler of reconcilers.values()) reconciler.reset();
    },
    bookkeeping: () => ({ witnessed: [...reconcilers.values()].reduce((n, r) => n + r.witnessedCount, 0) }),
  });
}
