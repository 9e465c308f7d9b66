// NATS as the manifests run it by default: a 3-node JetStream cluster (here on
// loopback, under manifests/nats/auth.conf), the stream with 3 replicas. One
// node, the stream's leader, is SIGKILLed in the middle of a burst of
// deletions, creations and hand-deleted Services: nothing is lost (every
// deployment.deleted record is in the stream) and no decision is wrong (the
// deleted stay gone, the new are exposed, the hand-deleted come back).
// Then the cluster is rolled as Kubernetes rolls the StatefulSet, one node at a
// time, each leaving through the preStop hook's lame-duck mode, under a burst of
// 300 Deployment deletions: no deployment.deleted record lost, no publish error.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { inParallel, sampleSum } from '@ekspose/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { STREAM_NAME } from '@ekspose/events';
import { consistently, eventually } from './support/poll';
import { TestEnv } from './support/test-env';

let env: TestEnv;
const NS = 'cluster';

before(async () => {
  // manifests/nats/nats.conf waits 10 s before closing clients; 1 s here (30 s is the least duration nats-server takes).
  // 300 Services do not fit the harness's /24 of Service IPs (253); the later flag wins, 10.0.0.1 stays the kubernetes Service's.
  env = await TestEnv.start({ natsNodes: 3, natsLameDuck: { gracePeriodSeconds: 1, durationSeconds: 30 }, apiserverExtraArgs: ['--service-cluster-ip-range=10.0.0.0/16'] });
  await env.startAll({ NATS_STREAM_REPLICAS: '3' });
});

after(async () => {
  await env?.stop();
});

/** The stream as the cluster reports it: its leader's server name and its replicas. */
async function streamCluster(): Promise<{ leader?: string; replicas: number; current: number }> {
  const nc = await connect({ servers: env.plane.natsUrl.split(','), ...env.plane.natsCredentials('admin'), timeout: 3000 });
  try {
    const info = await (await jetstreamManager(nc, { timeout: 3000 })).streams.info(STREAM_NAME);
    const peers = info.cluster?.replicas ?? [];
    return { leader: info.cluster?.leader, replicas: info.config.num_replicas, current: peers.filter((p) => p.current).length };
  } finally {
    await nc.close();
  }
}

it('one NATS node killed during a burst: no record lost, no wrong decision, and the node catches up', async () => {
  await eventually(async () => (await streamCluster()).replicas === 3 && (await streamCluster()).current === 2, {
    timeoutMs: 30_000,
    what: 'stream EKSPOSE with 3 replicas, both followers current',
  });
  await env.createNamespace(NS);
  const names = Array.from({ length: 24 }, (_, i) => `c${i}`);
  const uids: Record<string, string> = {};
  await Promise.all(names.map(async (n) => (uids[n] = (await env.createDeployment(NS, n, { labels: { ingReq: 'needed' } })).metadata!.uid!)));
  for (const n of names) {
    await env.waitForService(NS, n);
    await env.waitForIngress(NS, n);
  }
  const [deleted, handDeleted, untouched] = [names.slice(0, 12), names.slice(12, 18), names.slice(18)];
  const created = Array.from({ length: 12 }, (_, i) => `n${i}`);
  const oldServices = Object.fromEntries(await Promise.all(handDeleted.map(async (n) => [n, (await env.getService(NS, n))!.metadata!.uid!])));

  const { leader } = await streamCluster();
  const victim = env.plane.natsNodes.find((n) => n.process && leader && n.process.name === leader);
  assert.ok(victim, `the stream leader ${leader} is one of the plane's nodes`);

  // The burst, with the stream's leader SIGKILLed a moment into it.
  const burst = Promise.all([
    ...deleted.map((n) => env.deleteDeployment(NS, n)),
    ...handDeleted.map((n) => env.deleteService(NS, n)),
    ...created.map((n) => env.createDeployment(NS, n, { labels: { ingReq: 'needed' } })),
  ]);
  await new Promise((r) => setTimeout(r, 150));
  await victim.kill();
  await burst;

  for (const n of deleted) {
    await env.waitForGone('service', NS, n, 45_000);
    await env.waitForGone('ingress', NS, n, 45_000);
  }
  for (const n of handDeleted) await env.waitForService(NS, n, (s) => s.metadata?.uid !== oldServices[n], 45_000);
  for (const n of created) {
    await env.waitForService(NS, n, () => true, 45_000);
    await env.waitForIngress(NS, n, () => true, 45_000);
  }
  await consistently(
    async () => {
      for (const n of deleted) if ((await env.getService(NS, n)) || (await env.getIngress(NS, n))) return false;
      return true;
    },
    5000,
    'the deleted Deployments objects to stay gone',
  );
  for (const n of untouched) assert.ok((await env.getService(NS, n)) && (await env.getIngress(NS, n)), `${n} untouched`);

  // Nothing lost: a record for every deletion, read from the two nodes left.
  await env.withAdminBus('e2e-probe', (bus) =>
    eventually(
      async () => {
        const answers = await Promise.all(deleted.map((n) => bus.wasDeploymentDeleted(NS, n, uids[n]!)));
        return answers.every((a) => a === 'deleted');
      },
      { timeoutMs: 30_000, what: 'a deployment.deleted record for every deleted Deployment' },
    ),
  );

  // The killed node comes back with its store and catches up with the others.
  await victim.start();
  let last: unknown;
  await eventually(
    async () => {
      last = await streamCluster().catch((err: Error) => err.message);
      return typeof last === 'object' && (last as { current: number }).current === 2;
    },
    { timeoutMs: 30_000, what: 'all replicas current again' },
  ).catch((err: Error) => assert.fail(`${err.message}: ${JSON.stringify(last)}`));
});

it('a roll of the three nodes, each through lame-duck mode, under a burst of 300 deletions: no record lost, no publish error', { timeout: 1_500_000 }, async () => {
  const t0 = Date.now();
  const mark = (what: string) => process.stderr.write(`[roll] ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  const allCurrent = () =>
    eventually(async () => (await streamCluster()).current === 2, { timeoutMs: 60_000, what: 'stream EKSPOSE with both followers current' });
  await allCurrent();
  const ns = 'roll';
  await env.createNamespace(ns);
  const names = Array.from({ length: 300 }, (_, i) => `r${i}`);
  const uids: Record<string, string> = {};
  await inParallel(names, 10, async (n) => void (uids[n] = (await env.createDeployment(ns, n)).metadata!.uid!));
  const services = async () => (await env.clients.core.listNamespacedService({ namespace: ns })).items.length;
  const servicesAre = (want: number) => async () => {
    const n = await services();
    if (n !== want) throw new Error(`${n} Services`);
    return true;
  };
  await eventually(servicesAre(names.length), { timeoutMs: 300_000, intervalMs: 1000, what: `${names.length} Services` }).catch((err: Error) => {
    throw new Error(`${err.message}\n${env.logs()}`);
  });

  const publishFailures = async () => {
    let sum = 0;
    for (const c of env.controllers) {
      const page = await env.scrape(c);
      sum += sampleSum(page, 'ekspose_nats_publishes_total', { result: 'error' }) + sampleSum(page, 'ekspose_nats_publishes_total', { result: 'unavailable' });
    }
    return sum;
  };
  mark(`${names.length} Deployments exposed`);
  const failuresBefore = await publishFailures();
  const logOffsets = env.controllers.map((c) => c.handle.readLog().length);

  // Kubernetes rolls a StatefulSet from the highest ordinal down, one pod at a time, each
  // once the one before is ready again; a third of the deletions lands on each node's exit.
  const batches = [names.slice(0, 100), names.slice(100, 200), names.slice(200)];
  const nodes = [...env.plane.natsNodes].reverse();
  const entered: string[] = [];
  for (const [i, node] of nodes.entries()) {
    const handle = node.process!;
    const deletions = inParallel(batches[i]!, 10, (n) => env.deleteDeployment(ns, n));
    // The preStop hook: `nats-server --signal ldm=<pid>`, then wait for the server to end by itself.
    entered.push(await node.enterLameDuck());
    const exit = await handle.waitForExit(60_000);
    assert.deepEqual(exit, { code: 0, signal: null }, `${handle.name} ended by itself, not by a signal, after lame-duck mode`);
    await deletions;
    mark(`${handle.name} rolled (lame-duck mode, exit 0, ${batches[i]!.length} deletions)`);
    await node.start();
    await allCurrent();
    mark(`${handle.name} back and current`);
  }
  assert.equal(entered.length, 3, 'each node entered lame-duck mode');
  for (const line of entered) assert.match(line, /Entering lame duck mode, stop accepting new clients/);

  await eventually(servicesAre(0), { timeoutMs: 600_000, intervalMs: 1000, what: "every deleted Deployment's Service gone" });
  await env.withAdminBus('e2e-roll-probe', (bus) =>
    eventually(
      async () => {
        const missing: string[] = [];
        for (const n of names) if ((await bus.wasDeploymentDeleted(ns, n, uids[n]!)) !== 'deleted') missing.push(n);
        if (missing.length > 0) throw new Error(`${missing.length} without a record, e.g. ${missing.slice(0, 10).join(' ')}`);
        return true;
      },
      { timeoutMs: 60_000, what: 'a deployment.deleted record for each of the 300 deletions' },
    ),
  );
  const failed = env.controllers.flatMap((c, i) => c.handle.readLog().slice(logOffsets[i]).split('\n').filter((l) => l.includes('event not published')));
  assert.equal(await publishFailures(), failuresBefore, `no publish failed (ekspose_nats_publishes_total error/unavailable):\n${failed.join('\n')}`);
  env.controllers.forEach((c, i) => {
    const since = c.handle.readLog().slice(logOffsets[i]);
    assert.doesNotMatch(since, /event not published/, `${c.identity} reported a publish failure`);
  });
});

/** Runs `fn` over `items`, `width` at a time. */
