// docs/design.md §3.6 and §5: decisions stay right with NATS down, and with
// controllers killed in the middle of deletions.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { consistently, eventually } from './support/poll';
import { type ControllerProcess, TestEnv } from './support/test-env';

let env: TestEnv;

before(async () => {
  env = await TestEnv.start();
  await env.startAll();
});

after(async () => {
  await env?.stop();
});

async function exposedDeployment(ns: string, name: string): Promise<string> {
  const dep = await env.createDeployment(ns, name, { labels: { ingReq: 'needed' } });
  await env.waitForService(ns, name);
  await env.waitForIngress(ns, name);
  return dep.metadata!.uid!;
}

async function staysGone(ns: string, names: string[], ms = 4000): Promise<void> {
  await consistently(
    async () => {
      for (const n of names) if ((await env.getService(ns, n)) || (await env.getIngress(ns, n))) return false;
      return true;
    },
    ms,
    `the objects of ${names.join(', ')} to stay gone`,
  );
}

async function natsState(proc: ControllerProcess): Promise<boolean | undefined> {
  const { body } = await env.probe(proc, '/readyz');
  try {
    return (JSON.parse(body) as { details?: { nats?: { connected?: boolean } } }).details?.nats?.connected;
  } catch {
    return undefined;
  }
}

describe('NATS down', () => {
  it('deletions and hand-deleted Services are still decided right, and events flow again once NATS is back', async () => {
    await env.createNamespace('natsdown');
    const uids: Record<string, string> = {};
    for (const n of ['gone', 'kept', 'later']) uids[n] = await exposedDeployment('natsdown', n);

    await env.plane.stopNats();
    const svcController = env.controllers.find((c) => c.app === 'service-controller')!;
    await eventually(async () => (await natsState(svcController)) === false, { timeoutMs: 20_000, what: 'readyz to report NATS down' });
    const readyz = await env.probe(svcController, '/readyz');
    assert.equal(readyz.status, 200, 'a controller without NATS stays ready');

    // A cascade is still a cascade...
    await env.deleteDeployment('natsdown', 'gone');
    await env.waitForGone('service', 'natsdown', 'gone');
    await env.waitForGone('ingress', 'natsdown', 'gone');
    // ...and a user's deletion is still undone, decided from the live API alone.
    const old = (await env.getService('natsdown', 'kept'))!;
    const logOffset = svcController.handle.readLog().length;
    await env.deleteService('natsdown', 'kept');
    await env.waitForService('natsdown', 'kept', (s) => s.metadata?.uid !== old.metadata?.uid);
    await svcController.handle.waitForLog('deciding from the live API alone', { fromOffset: logOffset, timeoutMs: 30_000 });
    await staysGone('natsdown', ['gone']);

    await env.plane.startNats();
    await eventually(async () => (await natsState(svcController)) === true, { timeoutMs: 30_000, what: 'readyz to report NATS back' });
    for (const c of env.controllers) {
      await eventually(async () => (await natsState(c)) === true, { timeoutMs: 30_000, what: `${c.identity} reconnected` });
    }
    await env.deleteDeployment('natsdown', 'later');
    await env.waitForGone('service', 'natsdown', 'later');
    const answer = await env.withAdminBus('e2e-probe', (bus) =>
      eventually(async () => ((await bus.wasDeploymentDeleted('natsdown', 'later', uids.later!)) === 'deleted' ? 'deleted' : undefined), {
        timeoutMs: 15_000,
        what: 'deployment.deleted for "later" in the stream',
      }),
    );
    assert.equal(answer, 'deleted');
    // The record NATS could not take while it was down is published once it is back.
    const owed = await env.withAdminBus('e2e-probe', (bus) =>
      eventually(async () => ((await bus.wasDeploymentDeleted('natsdown', 'gone', uids.gone!)) === 'deleted' ? 'deleted' : undefined), {
        timeoutMs: 40_000,
        intervalMs: 1000,
        what: 'the deployment.deleted owed for "gone" in the stream',
      }),
    );
    assert.equal(owed, 'deleted');
    await staysGone('natsdown', ['later']);
  });
});

describe('controllers killed during deletions', () => {
  it('leaves no orphan and recreates only what a user deleted', async () => {
    await env.createNamespace('killed');
    const names = Array.from({ length: 8 }, (_, i) => `k${i}`);
    const uids: Record<string, string> = {};
    for (const n of names) uids[n] = await exposedDeployment('killed', n);
    const [deleted, kept] = [names.slice(0, 5), names.slice(5)];

    const byApp = (app: string) => env.controllers.filter((c) => c.app === app && c.handle.running);
    for (const c of [...byApp('deployment-controller'), ...byApp('service-controller')]) await c.handle.kill();

    await Promise.all(deleted.map((n) => env.deleteDeployment('killed', n)));
    // A user also deletes a Service while the service-controller is down.
    const userDeleted = kept[0]!;
    const oldSvc = (await env.getService('killed', userDeleted))!;
    await env.deleteService('killed', userDeleted);

    await env.startController('deployment-controller');
    await env.startController('service-controller');

    // The deletion that happened while it was down is found by the start-up sweep.
    await env.waitForService('killed', userDeleted, (s) => s.metadata?.uid !== oldSvc.metadata?.uid, 45_000);
    for (const n of deleted) {
      await env.waitForGone('service', 'killed', n);
      await env.waitForGone('ingress', 'killed', n);
    }
    await staysGone('killed', deleted, 5000);
    for (const n of kept) {
      assert.ok(await env.getService('killed', n), `Service ${n} exists`);
      assert.ok(await env.getIngress('killed', n), `Ingress ${n} exists`);
    }
  });
});
