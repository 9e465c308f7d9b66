// A control-plane outage, as an upgrade or a lost etcd quorum gives one: the
// kube-apiserver stops for three minutes with every controller running (and a
// standby). Nothing may exit or fail liveness (in a cluster each exit is a
// container restart, and a long outage a CrashLoopBackOff that delays recovery
// for minutes); once the API server is back, everything is right again soon,
// including what users did just before it went down.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from './support/poll';
import { type ControllerProcess, TestEnv } from './support/test-env';

const OUTAGE_MS = 180_000;
const NS = 'outage';

let env: TestEnv;
let procs: ControllerProcess[];

before(async () => {
  env = await TestEnv.start();
  await env.createNamespace(NS);
  procs = await env.startAll();
  procs.push(await env.startController('deployment-controller'));
});

after(async () => {
  await env?.stop();
});

describe('kube-apiserver down for three minutes', () => {
  it('no controller exits or fails liveness; within seconds of its return every Deployment is exposed right, deletions made just before included', { timeout: 420_000 }, async () => {
    for (const name of ['kept', 'repaired', 'doomed']) await env.createDeployment(NS, name, { labels: { ingReq: 'needed' } });
    for (const name of ['kept', 'repaired', 'doomed']) await env.waitForIngress(NS, name);

    // Just before it goes: a user deletes a Service, and a Deployment.
    await env.deleteService(NS, 'repaired');
    await env.deleteDeployment(NS, 'doomed');
    await env.plane.stopApiServer();
    const wentAt = Date.now();

    let probes = 0;
    while (Date.now() - wentAt < OUTAGE_MS) {
      for (const p of procs) {
        assert.ok(p.handle.running, `${p.identity} is running ${Math.round((Date.now() - wentAt) / 1000)} s into the outage:\n${p.handle.logTail(15)}`);
        const health = await env.probeJson(p, '/healthz');
        assert.equal(health.status, 200, `${p.identity} /healthz ${Math.round((Date.now() - wentAt) / 1000)} s into the outage: ${JSON.stringify(health.body)}`);
      }
      probes++;
      await sleep(10_000);
    }
    const ready = await Promise.all(procs.map((p) => env.probeJson(p, '/readyz')));
    process.stderr.write(`[outage] ${probes} rounds of liveness probes, all 200; /readyz at the end: ${ready.map((r, i) => `${procs[i]!.identity} ${r.status}`).join(', ')}\n`);
    for (const [i, r] of ready.entries()) {
      assert.equal(r.status, 503, `${procs[i]!.identity}: its informers have been failing past the tolerance, which readiness tells`);
    }
    for (const p of procs.slice(0, 3)) assert.match(p.handle.readLog(), /lost leadership; standing by/, `${p.identity} stood down instead of exiting`);

    await env.plane.startApiServer();
    const backAt = Date.now();
    await env.createDeployment(NS, 'after', { labels: { ingReq: 'needed' } });
    const elapsed = async (what: string, check: () => Promise<boolean>) => {
      await eventually(check, { timeoutMs: 90_000, intervalMs: 250, what }).catch((err: Error) => {
        throw new Error(`${err.message}\n${env.logs()}`);
      });
      return Date.now() - backAt;
    };
    const [repaired, doomedGone, after, leaders] = await Promise.all([
      elapsed('the Service deleted before the outage back', async () => Boolean(await env.getService(NS, 'repaired'))),
      elapsed("the deleted Deployment's Service and Ingress gone", async () => !(await env.getService(NS, 'doomed')) && !(await env.getIngress(NS, 'doomed'))),
      elapsed('a Deployment made after the return exposed', async () => Boolean((await env.getService(NS, 'after')) && (await env.getIngress(NS, 'after')))),
      elapsed('every controller led again', async () => {
        const leases = await Promise.all((['deployment-controller', 'service-controller', 'ingress-controller'] as const).map((app) => env.readLease(app)));
        return leases.every((l) => procs.some((p) => p.identity === l?.spec?.holderIdentity) && new Date(l!.spec!.renewTime!).getTime() > backAt);
      }),
    ]);
    process.stderr.write(
      `[outage] after ${OUTAGE_MS / 1000} s without the API server, from its return: leaders again in ${leaders} ms, ` +
        `the Service deleted before back in ${repaired} ms, the deleted Deployment's objects gone in ${doomedGone} ms, a new Deployment exposed in ${after} ms (goal: 30 s)\n`,
    );
    for (const p of procs) assert.ok(p.handle.running, `${p.identity} still running`);
    // Stays right: the deleted Deployment's objects are not brought back.
    await sleep(5000);
    assert.equal(await env.getService(NS, 'doomed'), undefined);
    assert.ok(await env.getIngress(NS, 'kept'));
    await eventually(async () => (await Promise.all(procs.map((p) => env.probeJson(p, '/readyz')))).every((r) => r.status === 200), {
      timeoutMs: 60_000,
      what: 'every replica ready again',
    });
  });
});
