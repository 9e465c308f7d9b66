// The three controllers, each as one call: the apps' mains only name which.
// Everything shared (settings, logger, clients, metrics, the event bus, the
// informers, leader election, probes, shutdown) is wired here the same way.
import type { V1Deployment, V1Ingress } from '@kubernetes/client-node';
import {
  type Bootstrapped,
  type ControllerHost,
  type HostedInformer,
  type Informer,
  type Reconciler,
  WorkQueue,
  bootstrap,
  controllerEventRecorder,
  objectKey,
  runController,
} from '@ekspose/k8s';
import { EventBus } from '@ekspose/events';
import { DeploymentReconciler } from './deployment-reconciler';
import { deploymentInformer, deploymentReader } from './deployments';
import { createExposeMetrics } from './expose-metrics';
import { heldHostVeto, indexHosts, routeDeploymentEvents, routeRecreationEvents } from './event-routing';
import { isKeyWatched } from './keys';
import { type OwnedBinding, type OwnedKind, type OwnedObject, OWNED_KINDS, ingressKind, managedInformer } from './owned-kinds';
import { RecreationReconciler } from './recreation-reconciler';
import { SETTINGS, type Settings } from './settings';

interface Wiring {
  name: string;
  boot: Bootstrapped<Settings>;
  bus: EventBus;
  queue: WorkQueue;
  watched: (key: string) => boolean;
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
  return { name, boot, bus, queue, watched, enqueue: (key) => queue.add(key) };
}

function bind<T extends OwnedObject>(kind: OwnedKind<T>, w: Wiring): OwnedBinding<T> {
  const { clients, log, metrics } = w.boot;
  return { kind, api: kind.api(clients), cache: managedInformer(kind, clients, log, metrics) };
}

/** What both reconcilers take from the wiring. */
function shared(w: Wiring, deployments: Informer<V1Deployment>) {
  const { clients, settings, log, metrics, registry } = w.boot;
  return {
    settings,
    deployments,
    readDeployment: deploymentReader(clients),
    events: w.bus,
    recorder: controllerEventRecorder({ core: clients.core, controller: w.name, identity: settings.identity, log, metrics }),
    metrics,
    exposeMetrics: createExposeMetrics(registry, w.name),
    log,
  };
}

/** Hosts the reconcile (probes, leader election, resync, shutdown) until SIGTERM. */
function host(w: Wiring, informers: HostedInformer[], reconcile: Reconciler, resyncKeys: () => string[]): Promise<ControllerHost> {
  return runController({ ...w.boot, name: w.name, bus: w.bus, informers, queue: w.queue, reconcile, resyncKeys });
}

/** deployment-controller: the one writer of the owned objects' spec. */
export async function runDeploymentController(): Promise<ControllerHost> {
  const w = wire('deployment-controller', 'Gives every Deployment a Service, and an Ingress when it carries ingReq: needed; removes them when it is deleted.');
  const { log, clients, metrics } = w.boot;
  const deployments = deploymentInformer(clients, log, metrics);
  const owned = OWNED_KINDS.map((kind) => bind<OwnedObject>(kind as OwnedKind<OwnedObject>, w));
  const ingresses = owned.find((b) => b.kind === ingressKind)!.cache as Informer<V1Ingress>;
  // A host freed by a deletion goes to the Deployment that was waiting for it.
  const hostIndex = indexHosts(ingresses, (i) => reconciler.keysWaitingFor(i).forEach(w.enqueue));
  const reconciler = new DeploymentReconciler({ ...shared(w, deployments), owned, hostIndex });
  routeDeploymentEvents({
    deployments,
    owned: owned.map((b) => b.cache),
    noteDeleted: (d) => reconciler.noteDeleted(d),
    watched: w.watched,
    enqueue: w.enqueue,
  });
  return host(w, [deployments, ...owned.map((b) => b.cache)], reconciler.reconcile, () => [
    ...deployments.list().map(objectKey),
    ...reconciler.orphanKeys(),
  ]);
}

/** service-controller or ingress-controller: puts back a managed object of `kind` a user deleted. */
export async function runRecreationController<T extends OwnedObject>(kind: OwnedKind<T>, summary: string): Promise<ControllerHost> {
  const w = wire(`${kind.metricKind}-controller`, summary);
  const { log, clients, metrics } = w.boot;
  const deployments = deploymentInformer(clients, log, metrics);
  const binding = bind(kind, w);
  const veto = kind.claimsHost ? heldHostVeto(indexHosts(binding.cache as unknown as Informer<V1Ingress>)) : undefined;
  const reconciler = new RecreationReconciler<T>({ ...shared(w, deployments), owned: binding, ...(veto ? { veto } : {}) });
  routeRecreationEvents({ owned: binding.cache, noteDeleted: (key) => reconciler.noteDeleted(key), watched: w.watched, enqueue: w.enqueue });
  // Remember the deletions heard of on NATS, so the answer holds while NATS is down later.
  w.bus.followDeletions(w.name);
  return host(w, [deployments, binding.cache], reconciler.reconcile, () => reconciler.missingKeys());
}
