// service-controller: puts back a managed Service that a user deleted while
// its Deployment still exists, and leaves it gone when the deletion was a
// cascade of the Deployment's own deletion. Creates only; never patches or deletes.
import { EventBus, eventSinkFor } from '@ekspose/events';
import {
  controllerEventRecorder,
  INFORMER_DELETE,
  RecreationReconciler,
  WorkQueue,
  bootstrap,
  deploymentInformer,
  deploymentReader,
  isKeyWatched,
  desiredService,
  managedServiceInformer,
  ownerKeyOf,
  runController,
  serviceApi,
} from '@ekspose/k8s';

const NAME = 'service-controller';
const boot = bootstrap({
  name: NAME,
  summary: 'Recreates a managed Service deleted by hand while its Deployment still exists.',
});
const { settings, log, clients, metrics } = boot;

const bus = new EventBus({ servers: settings.natsUrl, name: NAME, log, registry: boot.registry });
bus.start();
const deployments = deploymentInformer(clients, log, metrics);
const services = managedServiceInformer(clients, log, metrics);
const queue = new WorkQueue({ name: NAME, workers: settings.workers, log, metrics });
const reconciler = new RecreationReconciler({
  settings,
  deployments,
  owned: services,
  api: serviceApi(clients),
  desired: desiredService,
  readDeployment: deploymentReader(clients),
  events: eventSinkFor(bus, log),
  recorder: controllerEventRecorder({ core: clients.core, controller: NAME, identity: settings.identity, log, metrics }),
  metrics,
  log,
});

services.on(INFORMER_DELETE, (s) => {
  const key = ownerKeyOf(s);
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
  informers: [deployments, services],
  queue,
  reconcile: reconciler.reconcile,
  resyncKeys: () => reconciler.missingKeys(),
});
