// NATS as the manifests run it by default: a 3-node JetStream cluster (here on
// loopback, under manifests/nats/auth.conf), the stream with 3 replicas. One
// node, the stream's leader, is SIGKILLed in the middle of a burst of
// deletions, creations and hand-deleted Services: nothing is lost (every
// deployment.deleted record is in the stream) and no decision is wrong (the
// deleted stay gone, the new are exposed, the hand-deleted come back).
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { STREAM_NAME } from '@ekspose/events';
import { consistently, eventually } from './support/poll';
import { TestEnv } from './support/test-env';

let env: TestEnv;
const NS = 'cluster';

before(async () => {
  env = await TestEnv.start({ natsNodes: 3 });
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
