// ingress-controller: puts back a managed Ingress that a user deleted while
// its Deployment still exists and still asks for one (ingReq: needed), and
// leaves it gone after a cascade. Creates only; never patches or deletes.
import { EventBus, eventSinkFor } from '@ekspose/events';
import {
  controllerEventRecorder,
  HostIndex,
  INFORMER_ADD,
  INFORMER_DELETE,
  INFORMER_UPDATE,
  RecreationReconciler,
  WorkQueue,
  bootstrap,
  deploymentInformer,
  deploymentReader,
  isKeyWatched,
  desiredIngress,
  hostHeldBy,
  ingressApi,
  managedIngressInformer,
  ownerKeyOf,
  runController,
} from '@ekspose/k8s';

const NAME = 'ingress-controller';
const boot = bootstrap({
  name: NAME,
  summary: 'Recreates a managed Ingress deleted by hand while its Deployment still exists and asks for one.',
});
const { settings, log, clients, metrics } = boot;

const bus = new EventBus({ servers: settings.natsUrl, name: NAME, log, registry: boot.registry });
bus.start();
const deployments = deploymentInformer(clients, log, metrics);
const ingresses = managedIngressInformer(clients, log, metrics);
const hostIndex = new HostIndex();
const queue = new WorkQueue({ name: NAME, workers: settings.workers, log, metrics });
const reconciler = new RecreationReconciler({
  settings,
  deployments,
  owned: ingresses,
  api: ingressApi(clients),
  desired: desiredIngress,
  // Never bring back an Ingress whose host an older one now holds: the
  // deployment-controller would remove it again, and the two would fight.
  veto: (spec) => {
    if (!spec.ingress) return undefined;
    const holder = hostHeldBy(spec.ingress, spec, undefined, hostIndex.claims(spec.ingress.host, spec.ingress.path));
    return holder && `host ${spec.ingress.host} is held by ${holder.namespace}/${holder.name}`;
  },
  readDeployment: deploymentReader(clients),
  events: eventSinkFor(bus, log),
  recorder: controllerEventRecorder({ core: clients.core, controller: NAME, identity: settings.identity, log, metrics }),
  metrics,
  log,
});

ingresses.on(INFORMER_ADD, (i) => hostIndex.upsert(i));
ingresses.on(INFORMER_UPDATE, (i) => hostIndex.upsert(i));
ingresses.on(INFORMER_DELETE, (i) => {
  hostIndex.remove(i);
  const key = ownerKeyOf(i);
  if (isKeyWatched(key, settings)) queue.add(key);
});
// Remember deletions we hear of on NATS, so the answer holds while NATS is down.
bus.consume('deployment.deleted', NAME, async (event) => {
  log.debug({ key: `${event.namespace}/${event.name}`, uid: event.uid }, 'deployment.deleted received');
});

await runController({
  ...boot,
  name: NAME,
  bus,
  informers: [deployments, ingresses],
  queue,
  reconcile: reconciler.reconcile,
  resyncKeys: () => reconciler.missingKeys(),
});
