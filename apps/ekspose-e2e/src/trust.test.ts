// Failures a fault-and-bad-input review found, each written to fail on the
// code before the fix: a forged deployment.deleted must not stop repair, a
// name conflict is looked at again when it ends, a refused write is told to
// the user and holds nothing else back, and --cascade=orphan is respected.
import assert from 'node:assert/strict';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts, startProcess, workspaceRoot } from '@ekspose/testing';
import { consistently, eventually } from './support/poll';
import { CONTROLLER_NAMESPACE, TestEnv } from './support/test-env';
import { refusalPolicy } from './support/refusal-policy';

let env: TestEnv;

before(async () => {
  env = await TestEnv.start();
  await env.startAll();
});

after(async () => {
  await env?.stop();
});

it('a forged deployment.deleted for a live Deployment does not stop the repair of its Service', async () => {
  await env.createNamespace('forged');
  const dep = await env.createDeployment('forged', 'web');
  await env.waitForService('forged', 'web');
  await env.withAdminBus('e2e-forger', async (bus) => {
    const forged = await bus.publish('deployment.deleted', { uid: dep.metadata!.uid!, namespace: 'forged', name: 'web', deletedAt: new Date().toISOString() });
    assert.ok(forged.ok, 'the forged record is on the stream');
  });
  await env.deleteService('forged', 'web');
  await env.waitForService('forged', 'web');
  await env.waitForEvent('forged', 'web', 'ServiceRecreated');
  const sc = env.controllers.find((c) => c.app === 'service-controller')!;
  assert.match(sc.handle.readLog(), /record names a Deployment that is alive; the live API wins/);
});

it('a Deployment held back by a foreign Service of its name gets its own once that one is deleted', async () => {
  await env.createNamespace('held');
  await env.clients.core.createNamespacedService({
    namespace: 'held',
    body: { metadata: { name: 'web' }, spec: { selector: { app: 'other' }, ports: [{ port: 1234 }] } },
  });
  await env.createDeployment('held', 'web');
  await env.waitForEvent('held', 'web', 'ServiceConflict');
  await env.deleteService('held', 'web');
  const ours = await env.waitForService('held', 'web', (s) => s.metadata?.labels?.['app.kubernetes.io/managed-by'] === 'ekspose', 60_000);
  assert.equal(ours.spec?.ports?.[0]?.port, 80);
});

const DENY_SERVICES = refusalPolicy({
  name: 'no-services-in-refused',
  apiGroup: '',
  resource: 'services',
  operations: ['CREATE'],
  namespace: 'refused',
  message: 'Services are not allowed in this namespace by policy',
});

/** Applies admission policies and waits until they are enforced (once the API server has loaded them): until `probe` is refused. */
async function applyPolicy(policy: string, what: string, probe: () => Promise<unknown>): Promise<void> {
  const applied = await env.plane.kubectl(['apply', '-f', '-'], { input: policy });
  assert.equal(applied.code, 0, applied.stderr);
  await eventually(
    async () => {
      try {
        await probe();
        return false;
      } catch {
        return true;
      }
    },
    { timeoutMs: 30_000, what },
  );
}

it('a Service the API refuses (an admission policy) is told on the Deployment with the server\'s message, and the Ingress is made anyway', async () => {
  await env.createNamespace('refused');
  await applyPolicy(DENY_SERVICES, 'the admission policy to refuse Services', async () => {
    await env.clients.core.createNamespacedService({ namespace: 'refused', body: { metadata: { name: 'probe' }, spec: { ports: [{ port: 1 }] } } });
    await env.deleteService('refused', 'probe');
  });
  await env.createDeployment('refused', 'web', { labels: { ingReq: 'needed' } });
  await env.waitForIngress('refused', 'web');
  const warning = await env.waitForEvent('refused', 'web', 'ServiceRefused');
  assert.equal(warning.type, 'Warning');
  assert.match(warning.message ?? '', /not allowed in this namespace by policy/);
  assert.equal(await env.getService('refused', 'web'), undefined);
});

it('kubectl delete --cascade=orphan keeps the Service and Ingress, and the next Deployment of the name adopts them', async () => {
  await env.createNamespace('orphan');
  await env.createDeployment('orphan', 'web', { labels: { ingReq: 'needed' } });
  const svc = await env.waitForService('orphan', 'web');
  const ing = await env.waitForIngress('orphan', 'web');
  await env.deleteDeployment('orphan', 'web', 'Orphan');
  await env.waitForGone('deployment', 'orphan', 'web');
  await consistently(
    async () => Boolean((await env.getService('orphan', 'web')) && (await env.getIngress('orphan', 'web'))),
    3000,
    'the orphaned Service and Ingress to stay',
  );
  assert.deepEqual((await env.getService('orphan', 'web'))?.metadata?.ownerReferences ?? [], [], 'the collector orphaned it');

  const next = await env.createDeployment('orphan', 'web', { labels: { ingReq: 'needed' } });
  const adopted = (o: { metadata?: { ownerReferences?: Array<{ uid?: string }> } }) => o.metadata?.ownerReferences?.[0]?.uid === next.metadata!.uid;
  assert.equal((await env.waitForService('orphan', 'web', adopted)).metadata?.uid, svc.metadata?.uid, 'the same Service, adopted');
  assert.equal((await env.waitForIngress('orphan', 'web', adopted)).metadata?.uid, ing.metadata?.uid, 'the same Ingress, adopted');
});

/** A controller process started by hand (not waited for), to watch it fail to start. */
async function startRaw(app: 'deployment-controller', extraEnv: Record<string, string>) {
  const [healthPort, metricsPort] = await freePorts(2);
  const handle = startProcess({
    name: `${app}-raw`,
    cmd: process.execPath,
    args: [join(workspaceRoot(), 'dist', 'apps', app, 'main.js')],
    logFile: join(env.plane.dir, `${app}-raw-${Date.now()}.log`),
    env: {
      PATH: process.env.PATH ?? '',
      KUBECONFIG: env.plane.kubeconfigPath,
      ...env.plane.natsEnv(app),
      POD_NAMESPACE: CONTROLLER_NAMESPACE,
      POD_NAME: `${app}-raw`,
      EKSPOSE_BIND_ADDRESS: '127.0.0.1',
      EKSPOSE_HEALTH_PORT: String(healthPort),
      EKSPOSE_METRICS_PORT: String(metricsPort),
      EKSPOSE_METRICS_SECURE: 'false',
      ...extraEnv,
    },
  });
  return { handle, healthPort: Number(extraEnv.EKSPOSE_HEALTH_PORT ?? healthPort) };
}

it('a health port in use: one JSON line naming the cause, exit 1, no stack trace', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as AddressInfo).port;
  try {
    const { handle } = await startRaw('deployment-controller', { EKSPOSE_HEALTH_PORT: String(port) });
    const exit = await handle.waitForExit(30_000);
    assert.equal(exit.code, 1);
    const log = handle.readLog();
    const fatal = log.split('\n').filter((l) => l.includes('cannot start'));
    assert.equal(fatal.length, 1, log);
    const line = JSON.parse(fatal[0]!) as { level: string; msg: string };
    assert.equal(line.level, 'fatal');
    assert.match(line.msg, /EADDRINUSE/);
    assert.doesNotMatch(log, /^\s+at /m, 'no stack trace');
  } finally {
    blocker.close();
  }
});

const FORBID_LEASES = refusalPolicy({
  name: 'no-leases-in-lease-forbidden',
  apiGroup: 'coordination.k8s.io',
  resource: 'leases',
  operations: ['CREATE', 'UPDATE'],
  namespace: 'lease-forbidden',
  reason: 'Forbidden',
  message: 'Leases are not allowed in this namespace by policy',
});

/** /readyz of a raw controller once it names a Lease problem (or once `until` holds). */
async function readyzOf(healthPort: number, until: (status: number, body: { ok?: boolean; details?: { lease?: string; leader?: boolean } }) => boolean, what: string) {
  return eventually(
    async () => {
      const res = await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined);
      if (!res) return undefined;
      const body = (await res.json()) as { ok?: boolean; details?: { lease?: string; leader?: boolean } };
      return until(res.status, body) ? { status: res.status, body } : undefined;
    },
    { timeoutMs: 60_000, what },
  );
}

// A configuration that can never work by itself is not an outage (outage.test.ts): not ready, and why.
for (const shards of ['1', '2']) {
  it(`a Lease namespace that does not exist (EKSPOSE_SHARDS=${shards}): running, not ready, one error line and /readyz say why; ready once the namespace exists`, async () => {
    const namespace = `no-such-namespace-${shards}`;
    const { handle, healthPort } = await startRaw('deployment-controller', { POD_NAMESPACE: namespace, EKSPOSE_SHARDS: shards });
    try {
      const { status, body } = await readyzOf(healthPort, (_, b) => Boolean(b.details?.lease), '/readyz naming the Lease problem');
      assert.equal(status, 503, `not ready: ${JSON.stringify(body)}`);
      assert.match(body.details!.lease!, new RegExp(`POD_NAMESPACE=${namespace}: no such namespace`));
      if (shards === '1') assert.equal(body.details!.leader, false, 'never leading');
      await sleep(5_000);
      assert.ok(handle.running, 'it keeps running and trying: an exit would make it a crash loop');
      assert.equal((await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status, 503, 'still not ready');
      const errors = handle.readLog().split('\n').filter((l) => l.includes('cannot keep its Lease'));
      assert.equal(errors.length, 1, `one error line for the problem, not one per retry:\n${errors.join('\n')}`);
      assert.match(errors[0]!, /"level":"error"/);

      await env.createNamespace(namespace);
      await readyzOf(healthPort, (s, b) => s === 200 && !b.details?.lease, '/readyz 200 once the namespace exists');
    } finally {
      await handle.stop(12_000);
    }
  });
}

it('a Lease the API server forbids (an admission policy answering 403): not ready with the server\'s reason; ready once allowed', async () => {
  await env.createNamespace('lease-forbidden');
  await applyPolicy(FORBID_LEASES, 'the admission policy to refuse Leases', async () => {
    await env.clients.coordination.createNamespacedLease({ namespace: 'lease-forbidden', body: { metadata: { name: 'probe' }, spec: {} } });
    await env.clients.coordination.deleteNamespacedLease({ namespace: 'lease-forbidden', name: 'probe' });
  });
  const { handle, healthPort } = await startRaw('deployment-controller', { POD_NAMESPACE: 'lease-forbidden' });
  try {
    const { status, body } = await readyzOf(healthPort, (_, b) => Boolean(b.details?.lease), '/readyz naming the Lease problem');
    assert.equal(status, 503, `not ready: ${JSON.stringify(body)}`);
    assert.match(body.details!.lease!, /forbids this replica's Lease in namespace lease-forbidden.*not allowed in this namespace by policy/);
    assert.ok(handle.running);
    const removed = await env.plane.kubectl(['delete', '-f', '-'], { input: FORBID_LEASES });
    assert.equal(removed.code, 0, removed.stderr);
    await readyzOf(healthPort, (s, b) => s === 200 && !b.details?.lease, '/readyz 200 once the policy is gone');
  } finally {
    await handle.stop(12_000);
  }
});
