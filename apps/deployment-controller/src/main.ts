// deployment-controller: the one writer of the owned objects' spec. Watches
// Deployments (and drift on the managed Services and Ingresses) and makes each
// Deployment's Service and Ingress match its labels; on deletion publishes
// deployment.deleted and removes them.
import { EventBus, eventSinkFor } from '@ekspose/events';
import {
  DeploymentReconciler,
  controllerEventRecorder,
  HostIndex,
  INFORMER_ADD,
  INFORMER_DELETE,
  INFORMER_UPDATE,
  WorkQueue,
  bootstrap,
  deploymentInformer,
  deploymentReader,
  isKeyWatched,
  ingressApi,
  managedIngressInformer,
  managedServiceInformer,
  objectKey,
  ownerKeyOf,
  runController,
  serviceApi,
} from '@ekspose/k8s';

const NAME = 'deployment-controller';
const boot = bootstrap({
  name: NAME,
  summary: 'Gives every Deployment a Service, and an Ingress when it carries ingReq: needed; removes them when it is deleted.',
});
const { settings, log, clients, metrics } = boot;

const bus = new EventBus({ servers: settings.natsUrl, name: NAME, log, registry: boot.registry });
bus.start();
const deployments = deploymentInformer(clients, log, metrics);
const services = managedServiceInformer(clients, log, metrics);
const ingresses = managedIngressInformer(clients, log, metrics);
const hostIndex = new HostIndex();
const queue = new WorkQueue({ name: NAME, workers: settings.workers, log, metrics });
const reconciler = new DeploymentReconciler({
  settings,
  deployments,
  services,
  ingresses,
  hostIndex,
  readDeployment: deploymentReader(clients),
  serviceApi: serviceApi(clients),
  ingressApi: ingressApi(clients),
  events: eventSinkFor(bus, log),
  recorder: controllerEventRecorder({ core: clients.core, controller: NAME, identity: settings.identity, log, metrics }),
  metrics,
  log,
});

const enqueue = (key: string) => {
  if (isKeyWatched(key, settings)) queue.add(key);
};
deployments.on(INFORMER_ADD, (d) => enqueue(objectKey(d)));
deployments.on(INFORMER_UPDATE, (d) => enqueue(objectKey(d)));
deployments.on(INFORMER_DELETE, (d) => {
  reconciler.noteDeleted(d);
  enqueue(objectKey(d));
});
// Drift on what we own brings the owner back; deletions are the other controllers' job.
services.on(INFORMER_UPDATE, (s) => enqueue(ownerKeyOf(s)));
ingresses.on(INFORMER_ADD, (i) => hostIndex.upsert(i));
ingresses.on(INFORMER_UPDATE, (i) => {
  hostIndex.upsert(i);
  enqueue(ownerKeyOf(i));
});
ingresses.on(INFORMER_DELETE, (i) => {
  hostIndex.remove(i);
  // A host freed by this deletion goes to the Deployment that was waiting for it.
  for (const key of reconciler.keysWaitingFor(i)) enqueue(key);
});

await runController({
  ...boot,
  name: NAME,
  bus,
  informers: [deployments, services, ingresses],
  queue,
  reconcile: reconciler.reconcile,
  resyncKeys: () => [...deployments.list().map(objectKey), ...reconciler.orphanKeys()],
});
