// docs/design.md §5.1, leader election: two replicas of each controller against one
// plane. Only the holder of `ekspose-<app>` works; a killed leader is replaced
// within the lease duration, a SIGTERMed one hands over at once by releasing
// its Lease; each controller elects on its own Lease.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { consistently, eventually } from './support/poll';
import { sampleSum } from '@ekspose/testing';
import { APPS, type AppName, type ControllerProcess, TestEnv } from './support/test-env';

// Shorter than the defaults (15/10/2 s) so the kill test stays quick; the retry
// period (1 s here) is what bounds a hand-over after a release.
const LEASE_SECONDS = 8;
const RENEW_DEADLINE_SECONDS = 5;
const RETRY_SECONDS = 1;
const LEASE_ENV = {
  EKSPOSE_LEASE_DURATION_SECONDS: String(LEASE_SECONDS),
  EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS: String(RENEW_DEADLINE_SECONDS),
  EKSPOSE_LEASE_RETRY_PERIOD_SECONDS: String(RETRY_SECONDS),
};

let env: TestEnv;
const replicas = new Map<AppName, ControllerProcess[]>();
const replicasOf = (app: AppName): ControllerProcess[] => replicas.get(app) ?? [];

before(async () => {
  env = await TestEnv.start();
  await env.createNamespace('le');
  const started = await Promise.all(APPS.flatMap((app) => [env.startController(app, LEASE_ENV), env.startController(app, LEASE_ENV)]));
  for (const app of APPS) replicas.set(app, started.filter((p) => p.app === app));
  // Every Lease taken by one of its two replicas.
  for (const app of APPS) await leaderOf(app);
});

after(async () => {
  await env?.stop();
});

async function holderOf(app: AppName): Promise<string> {
  return (await env.readLease(app))?.spec?.holderIdentity ?? '';
}

/** The replica holding the app's Lease, once one does. */
async function leaderOf(app: AppName, timeoutMs = 20_000): Promise<{ leader: ControllerProcess; standby?: ControllerProcess }> {
  const procs = replicasOf(app).filter((p) => p.handle.running);
  const leader = await eventually(
    async () => {
      const holder = await holderOf(app);
      return procs.find((p) => p.identity === holder);
    },
    { timeoutMs, intervalMs: 100, what: `a running ${app} replica to hold ekspose-${app}` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${env.logs()}`);
  });
  return { leader, standby: procs.find((p) => p !== leader) };
}

async function metric(proc: ControllerProcess, name: string, labels: Record<string, string> = {}): Promise<number> {
  return sampleSum(await env.scrape(proc), name, labels);
}

describe('two replicas of each controller', () => {
  it('have exactly one holder per Lease; only the holder reports leader, reconciles and writes', async () => {
    const roles = new Map<AppName, { leader: ControllerProcess; standby: ControllerProcess }>();
    for (const app of APPS) {
      const lease = await env.readLease(app);
      assert.equal(lease?.spec?.leaseDurationSeconds, LEASE_SECONDS, `ekspose-${app} lease duration`);
      const { leader, standby } = await leaderOf(app);
      assert.ok(standby, `${app} has a second replica`);
      roles.set(app, { leader, standby });
      // A Lease names one holder by construction; what matters is that the other replica does not act as one.
      // (Bounded poll: the holder sets its gauge just after the write that made it holder.)
      for (const [proc, isLeader] of [
        [leader, true],
        [standby, false],
      ] as const) {
        await eventually(
          async () => {
            assert.equal(await metric(proc, 'ekspose_leader', { controller: app }), isLeader ? 1 : 0, `${proc.identity} ekspose_leader`);
            const ready = await env.probeJson(proc, '/readyz');
            assert.equal(ready.status, 200, `${proc.identity} /readyz`);
            assert.equal(ready.body.details.leader, isLeader, `${proc.identity} /readyz details.leader`);
            return true;
          },
          { timeoutMs: 30_000, what: `${proc.identity} to report leader ${isLeader}` },
        );
      }
    }

    const names = ['one', 'two', 'three'];
    for (const name of names) await env.createDeployment('le', name, { labels: { ingReq: 'needed' } });
    for (const name of names) {
      await env.waitForService('le', name);
      await env.waitForIngress('le', name);
    }

    const dep = roles.get('deployment-controller');
    assert.ok(dep);
    await eventually(async () => (await metric(dep.leader, 'ekspose_reconcile_total', { result: 'done' })) >= names.length, {
      timeoutMs: 10_000,
      what: 'the deployment-controller leader to count its reconciles',
    });
    assert.ok(
      (await metric(dep.leader, 'ekspose_objects_written_total', { kind: 'service', action: 'create' })) >= names.length,
      'the leader counted the Service creates',
    );
    assert.ok(
      (await metric(dep.leader, 'ekspose_objects_written_total', { kind: 'ingress', action: 'create' })) >= names.length,
      'the leader counted the Ingress creates',
    );
    // The standbys have the same caches and saw the same events, and did nothing with them.
    for (const { standby } of roles.values()) {
      const page = await env.scrape(standby);
      assert.equal(sampleSum(page, 'ekspose_reconcile_total'), 0, `${standby.identity} reconciles`);
      assert.equal(sampleSum(page, 'ekspose_objects_written_total'), 0, `${standby.identity} writes`);
      assert.equal(sampleSum(page, 'ekspose_nats_publishes_total'), 0, `${standby.identity} NATS publishes`);
      assert.doesNotMatch(standby.handle.readLog(), /started leading/, `${standby.identity} never led`);
    }
  });

  it('replace a kill -9ed leader within the lease duration, and the new leader works', async () => {
    const app = 'deployment-controller';
    const { leader, standby } = await leaderOf(app);
    const recorder = await env.watchLease(app);
    try {
      await eventually(() => recorder.changes.length > 0, { timeoutMs: 30_000, what: 'the Lease watch to start' });
      const killedAt = Date.now();
      await leader.handle.kill();
      const taken = await eventually(() => recorder.changes.find((c) => c.holder !== leader.identity), {
        timeoutMs: (LEASE_SECONDS + 10) * 1000,
        intervalMs: 50,
        what: `another replica to hold ekspose-${app}`,
      });
      const lastRenew = recorder.changes.filter((c) => c.holder === leader.identity).at(-1)?.renewTime?.getTime() ?? 0;
      const tookMs = taken.at - killedAt;
      process.stderr.write(
        `[leader-election] kill -9: ${taken.holder} holds ekspose-${app} ${tookMs} ms after the kill, ` +
          `${taken.at - lastRenew} ms after the last renew (lease ${LEASE_SECONDS} s)\n`,
      );
      assert.equal(taken.holder, standby?.identity);
      // Never before the lease ran out, counted from the dead leader's last renew (one machine, one clock)...
      assert.ok(taken.at - lastRenew > LEASE_SECONDS * 1000, `taken ${taken.at - lastRenew} ms after the last renew: before the lease expired`);
      // ...and soon after: within the lease duration plus the retries on either side.
      assert.ok(tookMs <= (LEASE_SECONDS + 2 * RETRY_SECONDS + 1) * 1000, `taken ${tookMs} ms after the kill: later than lease + retries`);
    } finally {
      recorder.stop();
    }
    const { leader: next } = await leaderOf(app);
    await eventually(async () => (await metric(next, 'ekspose_leader', { controller: app })) === 1, { timeoutMs: 30_000, what: 'ekspose_leader 1 on the new leader' });

    await env.createDeployment('le', 'after-kill');
    await env.waitForService('le', 'after-kill');
    // The counter moves just after the create returns, which can be after the test already sees the Service.
    await eventually(async () => (await metric(next, 'ekspose_objects_written_total', { kind: 'service', action: 'create' })) >= 1, {
      timeoutMs: 30_000,
      what: 'the create counted by the new leader',
    });
  });

  it('hand over within 2 s of a SIGTERMed leader exiting 0, which released its Lease', async () => {
    const app = 'service-controller';
    const { leader, standby } = await leaderOf(app);
    assert.ok(standby, `${app} has a standby`);
    const recorder = await env.watchLease(app);
    try {
      // The watch starts with the current version (ADDED); wait for it so every later change is seen.
      await eventually(() => recorder.changes.length > 0, { timeoutMs: 30_000, what: 'the Lease watch to start' });
      const signalledAt = Date.now();
      leader.handle.signal('SIGTERM');
      const exit = await leader.handle.waitForExit(10_000);
      const exitedAt = Date.now();
      assert.deepEqual(exit, { code: 0, signal: null }, `${leader.identity} exit`);
      // Waits past the lease duration so that a slow hand-over is measured, not just timed out.
      const taken = await eventually(() => recorder.changes.find((c) => c.at >= signalledAt && c.holder === standby.identity), {
        timeoutMs: (LEASE_SECONDS + 3) * 1000,
        intervalMs: 20,
        what: `${standby.identity} to hold ekspose-${app}`,
      });
      const released = recorder.changes.find((c) => c.at >= signalledAt && c.holder === '');
      const handOverMs = taken.at - exitedAt;
      process.stderr.write(
        `[leader-election] SIGTERM: exit after ${exitedAt - signalledAt} ms; released ${released ? `${released.at - signalledAt} ms` : 'never seen'} after the signal; ` +
          `${standby.identity} holds the Lease ${handOverMs} ms after the exit (${released ? taken.at - released.at : '?'} ms after the release)\n`,
      );
      assert.ok(released, `the Lease was released (holderIdentity ''), versions seen: ${JSON.stringify(recorder.changes)}`);
      assert.ok(released.at <= taken.at, 'released before it was taken');
      assert.ok(handOverMs < 2000, `standby took over ${handOverMs} ms after the exit`);
      assert.match(leader.handle.readLog(), /lease released/);
    } finally {
      recorder.stop();
    }
    await eventually(async () => (await metric(standby, 'ekspose_leader', { controller: app })) === 1, {
      timeoutMs: 30_000,
      what: 'ekspose_leader 1 on the new service-controller leader',
    });
  });

  it('elect on separate Leases: stopping every ingress-controller leaves the other leaders renewing', async () => {
    const others = ['deployment-controller', 'service-controller'] as const;
    const before = new Map<AppName, { holder: string; renew: number }>();
    for (const app of others) {
      const lease = await env.readLease(app);
      before.set(app, { holder: lease?.spec?.holderIdentity ?? '', renew: new Date(lease?.spec?.renewTime as unknown as string).getTime() });
    }
    await Promise.all(replicasOf('ingress-controller').map((p) => p.handle.stop(10_000)));
    const ingressLease = await env.readLease('ingress-controller');
    assert.equal(ingressLease?.spec?.holderIdentity ?? '', '', 'the ingress-controller Lease was released');

    for (const app of others) {
      const was = before.get(app);
      assert.ok(was);
      let last = was.renew;
      // Three renewals in a row, each later than the one before, by the same holder.
      for (let i = 0; i < 3; i++) {
        last = await eventually(
          async () => {
            const lease = await env.readLease(app);
            assert.equal(lease?.spec?.holderIdentity, was.holder, `ekspose-${app} holder`);
            const renew = new Date(lease?.spec?.renewTime as unknown as string).getTime();
            return renew > last ? renew : undefined;
          },
          { timeoutMs: (RETRY_SECONDS + 3) * 1000, intervalMs: 100, what: `ekspose-${app} renewTime to move past ${new Date(last).toISOString()}` },
        );
      }
    }
    // Nobody renews the ingress-controller Lease any more.
    const stale = (await env.readLease('ingress-controller'))?.metadata?.resourceVersion;
    await consistently(
      async () => (await env.readLease('ingress-controller'))?.metadata?.resourceVersion === stale,
      2 * RETRY_SECONDS * 1000,
      'the ingress-controller Lease to stay untouched',
    );
  });
});
