// Issue 29's "how it is shown", on the real plane, with the right to write
// (the Lease's fence) under slow and refused Lease writes. A webhook served by
// this test (support/slow-webhook.ts) answers the chosen requests late or holds
// them until the test lets go; an admission policy refuses Lease renewals for a
// while; SIGSTOP pauses a leader past its lease. One plane for every case, one
// deployment-controller at a time, short leases.
//   (2) a write refused in the gap between a renewal sent and its answer is
//       retried, not dropped;
//   (1) a range lost and retaken while a reconcile of it is still in flight is
//       served once that drain ends;
//   (7) one leader (EKSPOSE_SHARDS=1) does not flap when each renewal takes
//       more than (renew deadline - retry period) / 2, and one paused past its
//       lease writes nothing after the new leader took the Lease.
//   (5) a switch from N shards to one leader, the sharded replica's Lease
//       update that turns its claims into holds held at the API server while
//       the leader starts: never two writers (/readyz of both every 100 ms).
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MEMBER_LABEL, rangeIndexOf } from '@ekspose/k8s';
import { sampleSum } from '@ekspose/testing';
import { consistently, eventually } from './support/poll';
import { startSlowWebhook } from './support/slow-webhook';
import { CONTROLLER_NAMESPACE, type ControllerProcess, TestEnv, leaseName, logSince } from './support/test-env';
import { refusalPolicy } from './support/refusal-policy';

const APP = 'deployment-controller';

let env: TestEnv;

before(async () => {
  env = await TestEnv.start();
});

after(async () => {
  await env?.stop();
});

/** One replica with EKSPOSE_SHARDS=2 and these Lease timings (seconds: duration, renew deadline, retry period), serving both ranges. */
async function startSharded([duration, renewDeadline, retryPeriod]: [number, number, number]): Promise<ControllerProcess> {
  const proc = await env.startController(APP, {
    EKSPOSE_SHARDS: '2',
    EKSPOSE_LEASE_DURATION_SECONDS: String(duration),
    EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS: String(renewDeadline),
    EKSPOSE_LEASE_RETRY_PERIOD_SECONDS: String(retryPeriod),
  });
  await eventually(async () => (await env.servingRanges(proc)).length === 2, { timeoutMs: 60_000, what: 'one replica serving both ranges' }).catch(async (err: Error) => {
    await proc.handle.stop(12_000);
    throw err;
  });
  return proc;
}

/** Namespaces named `<prefix>-<i>` whose range of `count` is `range`. */
function namespacesInRange(prefix: string, range: number, count: number, how: number): string[] {
  const found: string[] = [];
  for (let i = 0; found.length < how; i++) if (rangeIndexOf(`${prefix}-${i}`, count) === range) found.push(`${prefix}-${i}`);
  return found;
}

async function labelNamespace(name: string, labels: Record<string, string>): Promise<void> {
  await env.createNamespace(name);
  const done = await env.plane.kubectl(['label', 'namespace', name, '--overwrite', ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)]);
  assert.equal(done.code, 0, done.stderr);
}

async function servicesMissing(names: Array<[string, string]>): Promise<Array<[string, string]>> {
  const byNamespace = new Map<string, Set<string>>();
  for (const ns of new Set(names.map(([ns]) => ns))) {
    const list = await env.clients.core.listNamespacedService({ namespace: ns });
    byNamespace.set(ns, new Set(list.items.map((s) => s.metadata?.name ?? '')));
  }
  return names.filter(([ns, name]) => !byNamespace.get(ns)?.has(name));
}

it('(2) member-Lease renewals answered after 2.6 s (renew deadline 6 s, retry 2 s): every write refused in the gap is retried, all 200 Deployments created over 60 s get their Service', { timeout: 300_000 }, async () => {
  // Each renewal is sent 2 s after the last one's answer and answered 2.6 s after it is sent: the
  // right to write (the last committed send + 6 s) lapses for about 1.2 s of every 4.6 s before the
  // next renewal commits. A write refused then must come back, not wait for the 10-minute resync.
  const hook = await startSlowWebhook(env.plane, {
    name: 'slow-member-lease',
    rules: [{ apiGroups: ['coordination.k8s.io'], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['leases'] }],
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': CONTROLLER_NAMESPACE } },
    objectSelector: { matchLabels: { [MEMBER_LABEL]: APP } },
    hold: 2_600,
  });
  // Both ranges written to, three namespaces each.
  const namespaces = [...namespacesInRange('retry', 0, 2, 3), ...namespacesInRange('retry', 1, 2, 3)];
  const proc = await startSharded([10, 6, 2]);
  try {
    await eventually(() => hook.requests.filter((r) => r.answeredAt !== undefined).length >= 2, { timeoutMs: 30_000, what: 'two renewals through the slow webhook' });
    const from = proc.handle.readLog().length;
    for (const ns of namespaces) await env.createNamespace(ns);
    const created: Array<[string, string]> = [];
    const started = Date.now();
    // 200, not the 300: the plane's Service range (10.0.0.0/24) has 253 addresses for every test of this file.
    for (let i = 0; i < 200; i++) {
      const ns = namespaces[i % namespaces.length]!;
      await env.createDeployment(ns, `d${i}`);
      created.push([ns, `d${i}`]);
      // Paced over 60 s, so creations fall into every part of the renewal cycle.
      await sleep(Math.max(0, started + (i + 1) * 300 - Date.now()));
    }
    let missing: Array<[string, string]> = [];
    await eventually(
      async () => {
        missing = await servicesMissing(created);
        return missing.length === 0;
      },
      { timeoutMs: 90_000, intervalMs: 2_000, what: 'a Service for each of the 200 Deployments' },
    ).catch(async (err: Error) => {
      const ready = await env.probe(proc, '/readyz');
      const first = missing[0]?.join('/');
      const told = logSince(proc, from).filter((l) => ((l.level as number) >= 30 && !/^reconcil/.test(l.msg ?? '')) || (first && JSON.stringify(l).includes(first)));
      throw new Error(`${err.message}: ${missing.length} of 200 have none (${missing.slice(0, 5).map((k) => k.join('/')).join(', ')} …)\n/readyz ${ready.status} ${ready.body}\n${told.map((l) => JSON.stringify(l)).join('\n')}`);
    });
    const log = logSince(proc, from);
    // The gap was there: the renewals took as long as meant (none timed out, the ranges were never let go).
    assert.equal(log.filter((l) => l.msg === 'letting go of every range').length, 0, 'no range let go');
    assert.equal(log.filter((l) => l.msg === 'shard Lease not written').length, 0, 'every renewal committed');
    process.stderr.write(`(2) all 200 exposed ${Math.round((Date.now() - started) / 1000)} s after the first creation\n`);
  } finally {
    await proc.handle.stop(12_000);
    await hook.close();
    // Their Services' addresses back for the next tests.
    for (const ns of namespaces) await env.plane.kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
  }
});

const NO_RENEWALS = refusalPolicy({
  name: 'no-member-lease-renewals',
  apiGroup: 'coordination.k8s.io',
  resource: 'leases',
  operations: ['UPDATE'],
  namespace: CONTROLLER_NAMESPACE,
  objectLabels: { [MEMBER_LABEL]: APP },
  message: 'member Lease renewals refused for a while',
});

it('(1) a range lost (renewals refused by a policy) and retaken while a Service create of it is held 20 s in flight is served once that drain ends', { timeout: 300_000 }, async () => {
  const [heldNs, probeNs] = namespacesInRange('lost', 0, 2, 2) as [string, string];
  await labelNamespace(heldNs, { 'ekspose-test/hold-services': 'yes' });
  await env.createNamespace(probeNs);
  const hook = await startSlowWebhook(env.plane, {
    name: 'held-service-create',
    rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['services'] }],
    namespaceSelector: { matchLabels: { 'ekspose-test/hold-services': 'yes' } },
    hold: 20_000,
  });
  const proc = await startSharded([8, 5, 1]);
  try {
    await env.createDeployment(heldNs, 'held');
    await eventually(() => hook.requests.some((r) => r.namespace === heldNs && r.answeredAt === undefined), { timeoutMs: 30_000, what: 'the Service create held at the webhook' });
    const from = proc.handle.readLog().length;
    const applied = await env.plane.kubectl(['apply', '-f', '-'], { input: NO_RENEWALS });
    assert.equal(applied.code, 0, applied.stderr);
    try {
      await eventually(() => logSince(proc, from).some((l) => l.msg === 'letting go of every range'), { timeoutMs: 30_000, what: 'the replica letting go of every range' });
    } finally {
      const removed = await env.plane.kubectl(['delete', '-f', '-', '--ignore-not-found'], { input: NO_RENEWALS });
      assert.equal(removed.code, 0, removed.stderr);
    }
    // Range 0's work ends with the held create (or the drain's timeout); range 0 must be served after that.
    await eventually(() => logSince(proc, from).some((l) => l.msg === 'range let go' && l.range === 0), { timeoutMs: 40_000, what: 'range 0 let go (its in-flight work ended)' });
    await eventually(async () => (await env.servingRanges(proc)).length === 2, { timeoutMs: 60_000, what: 'both ranges served again' }).catch(async (err: Error) => {
      const ready = await env.probeJson(proc, '/readyz');
      const steps = logSince(proc, from).filter((l) => ['letting go of every range', 'range let go', 'ranges taken', 'range served'].includes(l.msg ?? ''));
      throw new Error(`${err.message}: /readyz ${ready.status} shards ${JSON.stringify(ready.body.details.shards)}; ${JSON.stringify(steps.map((l) => [l.msg, l.range ?? l.taken ?? l.lost]))}`);
    });
    await env.waitForService(heldNs, 'held', undefined, 60_000);
    // A Deployment in range 0 created after all that: the range is served, not merely listed as held.
    await env.createDeployment(probeNs, 'after');
    await env.waitForService(probeNs, 'after', undefined, 30_000);
    const log = logSince(proc, from);
    process.stderr.write(`(1) ${JSON.stringify(log.filter((l) => ['letting go of every range', 'range let go', 'ranges taken', 'range served'].includes(l.msg ?? '')).map((l) => [l.msg, l.range ?? l.taken ?? l.lost]))}\n`);
  } finally {
    await proc.handle.stop(12_000);
    await hook.close();
  }
});

const LEADER_TIMINGS = {
  EKSPOSE_LEASE_DURATION_SECONDS: '8',
  EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS: '5',
  EKSPOSE_LEASE_RETRY_PERIOD_SECONDS: '1',
};

it('(7) one leader whose Lease renewals take 2.6 s (renew deadline 5 s, retry 1 s) keeps leading for 60 s, and exposes what is created meanwhile', { timeout: 240_000 }, async () => {
  const hook = await startSlowWebhook(env.plane, {
    name: 'slow-leader-lease',
    rules: [{ apiGroups: ['coordination.k8s.io'], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['leases'] }],
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': CONTROLLER_NAMESPACE } },
    matchConditions: [{ name: 'the-leader-lease', expression: `object.metadata.name == '${leaseName(APP)}'` }],
    hold: 2_600,
  });
  const proc = await env.startController(APP, LEADER_TIMINGS);
  try {
    await proc.handle.waitForLog('started leading', { timeoutMs: 30_000 });
    await eventually(() => hook.requests.filter((r) => r.answeredAt !== undefined).length >= 2, { timeoutMs: 30_000, what: 'two renewals through the slow webhook' });
    const from = proc.handle.readLog().length;
    await env.createNamespace('slow-leader');
    const started = Date.now();
    const created: Array<[string, string]> = [];
    // 60 s: a flapping leader (it used to lose the Lease at every slow renewal) shows many times over.
    await consistently(
      async () => {
        if (created.length < 30 && Date.now() - started >= created.length * 2_000) {
          await env.createDeployment('slow-leader', `d${created.length}`);
          created.push(['slow-leader', `d${created.length}`]);
        }
        const leader = sampleSum(await env.scrape(proc), 'ekspose_leader');
        return leader === 1 && !logSince(proc, from).some((l) => l.msg === 'stopped leading' || l.msg === 'lost leadership; standing by');
      },
      60_000,
      'the leader to keep leading (ekspose_leader 1, no "stopped leading")',
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${JSON.stringify(logSince(proc, from).filter((l) => /lead/.test(l.msg ?? '')).map((l) => [l.time, l.msg, l.reason]))}`);
    });
    const renewals = hook.requests.filter((r) => r.at >= started && r.answeredAt !== undefined);
    assert.ok(renewals.length >= 10, `the leader renewed through the slow webhook (${renewals.length} renewals in 60 s)`);
    await eventually(async () => (await servicesMissing(created)).length === 0, { timeoutMs: 60_000, what: 'a Service for each Deployment created meanwhile' });
  } finally {
    await proc.handle.stop(12_000);
    await hook.close();
  }
});

/** Go's MicroTime (six fractional digits) for a Lease field. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

it('(7) one leader paused (SIGSTOP) past its lease with a reconcile in flight writes nothing once another holder has the Lease', { timeout: 240_000 }, async () => {
  const ns = 'paused-leader';
  await labelNamespace(ns, { 'ekspose-test/witness': 'yes' });
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  // Every write to Services and Ingresses there, seen at the API server: a witness, and a hold for one Service patch.
  const hook = await startSlowWebhook(env.plane, {
    name: 'paused-leader-writes',
    rules: [{ apiGroups: ['', 'networking.k8s.io'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: ['services', 'ingresses'] }],
    namespaceSelector: { matchLabels: { 'ekspose-test/witness': 'yes' } },
  });
  const proc = await env.startController(APP, LEADER_TIMINGS);
  try {
    await proc.handle.waitForLog('started leading', { timeoutMs: 30_000 });
    await env.createDeployment(ns, 'web', { labels: { ingReq: 'needed' } });
    await env.waitForService(ns, 'web');
    await env.waitForIngress(ns, 'web');
    // The next change patches the Service (a new port) and then deletes the Ingress (no longer asked for),
    // one after the other in one reconcile. The patch is held at the server while the leader is paused.
    hook.setHold((r) => (r.resource === 'services' && r.operation === 'UPDATE' ? gate : 0));
    await env.patchDeploymentLabels(ns, 'web', { ingReq: null, port: '8080' });
    await eventually(() => hook.requests.some((r) => r.resource === 'services' && r.operation === 'UPDATE' && r.answeredAt === undefined), { timeoutMs: 30_000, what: 'the Service patch held at the webhook' });
    const from = proc.handle.readLog().length;
    assert.ok(proc.handle.signal('SIGSTOP'));
    const stoppedAt = Date.now();
    // A standby takes over once the Lease has not changed for its duration (8 s); the test is that standby.
    await eventually(() => Date.now() - stoppedAt > 9_000, { timeoutMs: 20_000, intervalMs: 500, what: 'the lease duration to pass' });
    const lease = await env.readLease(APP);
    assert.equal(lease?.spec?.holderIdentity, proc.identity, 'the paused replica still holds the Lease as written');
    const now = Date.now();
    const took = await env.plane.kubectl([
      '-n', CONTROLLER_NAMESPACE, 'patch', 'lease', leaseName(APP), '--type', 'merge', '-p',
      JSON.stringify({ spec: { holderIdentity: 'standby-in-the-test', acquireTime: microTime(now), renewTime: microTime(now), leaseDurationSeconds: 3600, leaseTransitions: (lease?.spec?.leaseTransitions ?? 0) + 1 } }),
    ]);
    assert.equal(took.code, 0, took.stderr);
    const takenAt = Date.now();
    release();
    assert.ok(proc.handle.signal('SIGCONT'));
    await eventually(() => logSince(proc, from).some((l) => l.msg === 'lost leadership; standing by' || l.msg === 'stopped leading'), { timeoutMs: 30_000, what: 'the paused leader to step down' });
    // Whatever its in-flight reconcile does next, nothing of it may reach the API server.
    await consistently(() => !hook.requests.some((r) => r.at >= takenAt), 8_000, 'no write by the old leader after the take-over', 250).catch((err: Error) => {
      const late = hook.requests.filter((r) => r.at >= takenAt).map((r) => `${r.operation} ${r.resource} ${r.namespace}/${r.name} ${r.at - takenAt} ms after the take-over`);
      throw new Error(`${err.message}: ${late.join('; ')}`);
    });
    assert.ok(await env.getIngress(ns, 'web'), 'the Ingress the old leader meant to delete is still there');
  } finally {
    proc.handle.signal('SIGCONT');
    await proc.handle.stop(12_000);
    await hook.close();
    await env.plane.kubectl(['-n', CONTROLLER_NAMESPACE, 'delete', 'lease', leaseName(APP), '--ignore-not-found']);
  }
});

it('(5) N shards -> one leader while the sharded replica\'s Lease update (its claims turned into holds) is held: never two writers, by /readyz every 100 ms', { timeout: 240_000 }, async () => {
  let releaseLeader: () => void = () => undefined;
  let releaseMember: () => void = () => undefined;
  const leaderGate = new Promise<void>((resolve) => (releaseLeader = resolve));
  const memberGate = new Promise<void>((resolve) => (releaseMember = resolve));
  let memberHeld = false;
  // The leader Lease's creation is held until the sharded replica has decided to hold its ranges from a
  // list without it; that replica's Lease update saying so is held until the new leader has looked.
  const hook = await startSlowWebhook(env.plane, {
    name: 'switch-leases',
    rules: [{ apiGroups: ['coordination.k8s.io'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['leases'] }],
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': CONTROLLER_NAMESPACE } },
    hold: (r) => {
      if (r.operation === 'CREATE' && r.name === leaseName(APP)) return leaderGate;
      const heldRanges = r.object?.metadata?.annotations?.['ekspose.io/held'];
      if (r.operation === 'UPDATE' && r.object?.metadata?.labels?.[MEMBER_LABEL] === APP && heldRanges && !memberHeld) {
        memberHeld = true;
        return memberGate;
      }
      return 0;
    },
  });
  const leaderEnv = { EKSPOSE_LEASE_DURATION_SECONDS: '15', EKSPOSE_LEASE_RENEW_DEADLINE_SECONDS: '10', EKSPOSE_LEASE_RETRY_PERIOD_SECONDS: '1' };
  const leader = await env.startController(APP, leaderEnv);
  const sharded = await env.startController(APP, { EKSPOSE_SHARDS: '2', ...leaderEnv });
  const samples: Array<{ at: number; leaderWorking: boolean; shardedServing: number[] }> = [];
  let polling = true;
  const poll = (async () => {
    while (polling) {
      const [l, s] = await Promise.all([env.probeJson(leader, '/readyz'), env.servingRanges(sharded)]);
      samples.push({ at: Date.now(), leaderWorking: l.body.details.working === true, shardedServing: s });
      await sleep(100);
    }
  })();
  try {
    await eventually(() => memberHeld, { timeoutMs: 30_000, what: 'the sharded replica\'s Lease update with held ranges, held at the webhook' });
    const from = leader.handle.readLog().length;
    releaseLeader();
    await leader.handle.waitForLog('started leading', { timeoutMs: 30_000, fromOffset: from });
    // The new leader has looked at the member Leases: it works, or it waits for the sharded replica.
    await eventually(async () => (await env.probeJson(leader, '/readyz')).body.details.working === true || /still (hold|serve)/.test(leader.handle.readLog().slice(from)), {
      timeoutMs: 30_000,
      what: 'the leader working or waiting for the sharded replica',
    });
    releaseMember();
    // The switch completes: the sharded replica hands back, the leader works.
    await eventually(() => samples.some((x) => x.leaderWorking && x.shardedServing.length === 0), { timeoutMs: 60_000, what: 'the leader working and the sharded replica serving nothing' });
    await sleep(3_000);
  } finally {
    polling = false;
    await poll;
    releaseLeader();
    releaseMember();
    await sharded.handle.stop(12_000);
    await leader.handle.stop(12_000);
    await hook.close();
  }
  const both = samples.filter((x) => x.leaderWorking && x.shardedServing.length > 0);
  assert.equal(both.length, 0, `two writers at ${both.length} of ${samples.length} looks (100 ms apart), first ${both[0] ? new Date(both[0].at).toISOString() : ''}: the leader working while the sharded replica served ${JSON.stringify(both[0]?.shardedServing)}`);
});
