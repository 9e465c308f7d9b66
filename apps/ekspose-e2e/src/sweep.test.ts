// Without a garbage collector (kube-controller-manager not running), only
// ekspose itself can clean up after a Deployment deleted while the
// deployment-controller was down: its start-up sweep must find the managed
// objects whose owner is gone, publish deployment.deleted and delete them.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { consistently } from './support/poll';
import { TestEnv } from './support/test-env';

let env: TestEnv;

before(async () => {
  env = await TestEnv.start({ controllerManager: false });
  await env.startAll();
});

after(async () => {
  await env?.stop();
});

it('a restarted deployment-controller removes the objects of Deployments deleted while it was down', async () => {
  await env.createNamespace('sweep');
  const uids: string[] = [];
  for (const n of ['a', 'b']) {
    const dep = await env.createDeployment('sweep', n, { labels: { ingReq: 'needed' } });
    uids.push(dep.metadata!.uid!);
    await env.waitForService('sweep', n);
    await env.waitForIngress('sweep', n);
  }
  await env.createDeployment('sweep', 'stays');
  await env.waitForService('sweep', 'stays');

  const dc = env.controllers.find((c) => c.app === 'deployment-controller')!;
  await dc.handle.kill();
  await env.deleteDeployment('sweep', 'a');
  await env.deleteDeployment('sweep', 'b');
  // No GC here: the objects stay until ekspose removes them.
  await consistently(async () => Boolean(await env.getService('sweep', 'a')), 1500, 'the orphaned Service to remain while nothing cleans up');

  await env.startController('deployment-controller');
  for (const n of ['a', 'b']) {
    await env.waitForGone('service', 'sweep', n);
    await env.waitForGone('ingress', 'sweep', n);
  }
  assert.ok(await env.getService('sweep', 'stays'), 'a live Deployment keeps its Service');

  await env.withAdminBus('e2e-probe', async (bus) => {
    assert.equal(await bus.wasDeploymentDeleted('sweep', 'a', uids[0]!), 'deleted');
    assert.equal(await bus.wasDeploymentDeleted('sweep', 'b', uids[1]!), 'deleted');
  });
});

it('a Deployment deleted and recreated under its name while the deployment-controller was down: its objects are taken over, not remade', async () => {
  await env.createNamespace('takeover');
  const first = await env.createDeployment('takeover', 'web', { labels: { ingReq: 'needed' } });
  const svc = await env.waitForService('takeover', 'web');
  const ing = await env.waitForIngress('takeover', 'web');

  const dc = env.controllers.find((c) => c.app === 'deployment-controller' && c.handle.running)!;
  await dc.handle.stop(12_000);
  await env.deleteDeployment('takeover', 'web');
  await env.waitForGone('deployment', 'takeover', 'web');
  const second = await env.createDeployment('takeover', 'web', { labels: { ingReq: 'needed' } });
  assert.notEqual(second.metadata!.uid, first.metadata!.uid);

  await env.startController('deployment-controller');
  const ownedByNew = (o: { metadata?: { ownerReferences?: Array<{ uid?: string }> } }) => o.metadata?.ownerReferences?.[0]?.uid === second.metadata!.uid;
  const takenSvc = await env.waitForService('takeover', 'web', ownedByNew);
  const takenIng = await env.waitForIngress('takeover', 'web', ownedByNew);
  assert.equal(takenSvc.metadata?.uid, svc.metadata?.uid, 'the same Service, taken over');
  assert.equal(takenIng.metadata?.uid, ing.metadata?.uid, 'the same Ingress, taken over');

  await env.withAdminBus('e2e-probe-takeover', async (bus) => {
    assert.equal(await bus.wasDeploymentDeleted('takeover', 'web', first.metadata!.uid!), 'deleted');
    assert.equal(await bus.wasDeploymentDeleted('takeover', 'web', second.metadata!.uid!), 'not-deleted');
  });
});
