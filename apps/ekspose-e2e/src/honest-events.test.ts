// A recreation is told (Event ...Recreated, the recreation metric) only when
// ekspose has evidence the object existed and was deleted. Installing ekspose
// next to existing Deployments, or starting the recreate controllers before
// the deployment-controller, must not report deletions that never happened.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { CoreV1Event } from '@kubernetes/client-node';
import { consistently } from './support/poll';
import { sampleSum } from '@ekspose/testing';
import { type AppName, type ControllerProcess, TestEnv } from './support/test-env';

let env: TestEnv;

before(async () => {
  env = await TestEnv.start();
});

after(async () => {
  await env?.stop();
});

const RECREATED = ['ServiceRecreated', 'IngressRecreated'];

async function eventsIn(namespace: string): Promise<CoreV1Event[]> {
  return (await env.clients.core.listNamespacedEvent({ namespace })).items;
}

async function recreationsCounted(procs: ControllerProcess[]): Promise<number> {
  let total = 0;
  for (const proc of procs) total += sampleSum(await env.scrape(proc), 'ekspose_decisions_total', { decision: 'recreate' });
  return total;
}

async function startLeading(app: AppName): Promise<ControllerProcess> {
  const proc = await env.startController(app);
  await proc.handle.waitForLog('started leading', { timeoutMs: 30_000 });
  return proc;
}

async function existingDeployments(namespace: string): Promise<void> {
  await env.createNamespace(namespace);
  await env.createDeployment(namespace, 'plain');
  await env.createDeployment(namespace, 'with-ingress', { labels: { ingReq: 'needed' } });
}

async function exposed(namespace: string): Promise<void> {
  await env.waitForService(namespace, 'plain');
  await env.waitForService(namespace, 'with-ingress');
  await env.waitForIngress(namespace, 'with-ingress');
}

it('started next to existing Deployments, all three together: no recreation Event, recreation metric 0', async () => {
  await existingDeployments('existing');
  const procs = await env.startAll();
  await exposed('existing');
  // Let every sweep and the first resync settle before looking.
  await consistently(async () => !(await eventsIn('existing')).some((e) => RECREATED.includes(e.reason ?? '')), 2000, 'no recreation Event');
  assert.equal(await recreationsCounted(procs), 0);
  await env.stopControllers();
  env.controllers.length = 0;
});

it('service- and ingress-controllers started before the deployment-controller: they create what is missing, and say so (the URL too)', async () => {
  await existingDeployments('early');
  const sc = await startLeading('service-controller');
  const ic = await startLeading('ingress-controller');
  await exposed('early');
  const dc = await startLeading('deployment-controller');
  await consistently(async () => !(await eventsIn('early')).some((e) => RECREATED.includes(e.reason ?? '')), 2000, 'no recreation Event');
  const created = (await eventsIn('early')).filter((e) => e.reason === 'ServiceCreated' || e.reason === 'IngressCreated');
  assert.deepEqual(
    created.map((e) => `${e.reason} ${e.involvedObject?.name}: ${e.message}`).sort(),
    [
      'IngressCreated with-ingress: Ingress with-ingress was missing; created',
      'ServiceCreated plain: Service plain was missing; created',
      'ServiceCreated with-ingress: Service with-ingress was missing; created',
    ],
  );
  // The deployment-controller finds the Ingress in place and tells nothing: the ingress-controller, which made it, tells its URL.
  // Waited for first: Normal Events wait for an idle queue, and a busy machine may post it late.
  await env.waitForEvent('early', 'with-ingress', 'Exposed');
  const told = (await eventsIn('early')).filter((e) => e.reason === 'Exposed');
  assert.deepEqual(
    told.map((e) => [e.involvedObject?.name, e.reportingComponent, e.message?.replace(/\/\/with-ingress\.early\.[^/]+\//, '//with-ingress.early.<domain>/')]),
    [['with-ingress', 'ekspose-ingress-controller', 'reachable at http://with-ingress.early.<domain>/ through Ingress with-ingress']],
  );
  assert.equal(await recreationsCounted([sc, ic, dc]), 0);
  assert.match(sc.handle.readLog(), /service created \(it was missing\)/);
  assert.doesNotMatch(sc.handle.readLog(), /"msg":"service recreated"/);
});

it('a Service deleted while the service-controller was down still comes back at its start, as ServiceRecreated', async () => {
  await env.createNamespace('downtime');
  await env.createDeployment('downtime', 'victim');
  await env.waitForService('downtime', 'victim');
  const sc = env.controllers.find((c) => c.app === 'service-controller' && c.handle.running)!;
  await sc.handle.stop(12_000);
  await env.deleteService('downtime', 'victim');
  await consistently(async () => (await env.getService('downtime', 'victim')) === undefined, 1500, 'the Service to stay gone while the service-controller is down');

  const restarted = await startLeading('service-controller');
  await env.waitForService('downtime', 'victim');
  const event = await env.waitForEvent('downtime', 'victim', 'ServiceRecreated');
  assert.equal(event.message, 'Service victim was deleted while the Deployment still exists; recreated');
  assert.equal(await recreationsCounted([restarted]), 1);
});
