// Reachable, proven: real HTTP requests through a real ingress proxy (skipper)
// to the Deployment's pods, which kwok runs on a fake node with IPs in a
// private range; the real endpointslice controller fills the Service's
// EndpointSlices. Run by `npm run test:traffic` (tools/scripts/in-netns.mjs)
// inside a network namespace of its own.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import {
  type Backend,
  type FakeNode,
  type IngressProxy,
  type Outage,
  FAKE_NODE_NAME,
  TRAFFIC_CONTROLLERS,
  ensureTrafficBinaries,
  outageDuring,
  privateNetworkProblem,
  startBackend,
  startFakeNode,
  startIngressProxy,
} from '@ekspose/testing';
import { type ControllerProcess, TestEnv, deploymentManifest } from './support/test-env';
import { consistently, eventually } from './support/poll';

const problem = privateNetworkProblem();
const NS = 'shop';
/** How often skipper re-reads the API; what a user sees after any change includes up to one of these. */
const PROXY_POLL_MS = 250;
/** A bound for traffic to come back after a repair: ekspose's repair, the endpointslice controller, and skipper's poll. */
const RECOVERY_BOUND_MS = 30_000;
/** "Stays": long enough for several proxy polls and any controller to have acted. */
const STAYS_MS = 8 * PROXY_POLL_MS + 2000;

let env: TestEnv;
let node: FakeNode;
let proxy: IngressProxy;
let controllers: ControllerProcess[] = [];
const backends: Backend[] = [];

interface App {
  name: string;
  host: string;
  pods: V1Pod[];
}

/** A Deployment with `replicas` pods on the fake node, each with a backend on its IP and `port`; resolves once all run. */
async function deployApp(name: string, opts: { port: number; replicas?: number; annotations?: Record<string, string> }): Promise<App> {
  const replicas = opts.replicas ?? 2;
  const body = deploymentManifest(NS, name, { labels: { ingReq: 'needed', port: String(opts.port) }, annotations: opts.annotations });
  body.spec!.replicas = replicas;
  // No scheduler runs here: the pods go straight to kwok's node.
  body.spec!.template.spec!.nodeName = FAKE_NODE_NAME;
  body.spec!.template.spec!.containers[0]!.ports = [{ containerPort: opts.port }];
  await env.clients.apps.createNamespacedDeployment({ namespace: NS, body });
  const pods = await runningPods(name, replicas);
  await serve(pods, opts.port);
  const ingress = await env.waitForIngress(NS, name);
  return { name, host: ingress.spec!.rules![0]!.host!, pods };
}

async function runningPods(app: string, count: number): Promise<V1Pod[]> {
  return eventually(
    async () => {
      const list = await env.clients.core.listNamespacedPod({ namespace: NS, labelSelector: `app=${app}` });
      const running = list.items.filter((p) => p.status?.phase === 'Running' && p.status.podIP && !p.metadata?.deletionTimestamp);
      return running.length === count ? running : undefined;
    },
    { timeoutMs: 60_000, what: `${count} running pods of ${app}` },
  );
}

async function serve(pods: V1Pod[], port: number): Promise<void> {
  for (const pod of pods) backends.push(await startBackend({ ip: pod.status!.podIP!, port, name: pod.metadata!.name! }));
}

/** The first 200 for `host`+`path`, within the bound. */
async function firstOk(host: string, path = '/', timeoutMs = RECOVERY_BOUND_MS): Promise<string> {
  let last = { status: 0, body: '' };
  return eventually(
    async () => {
      last = await proxy.get(host, path);
      return last.status === 200 ? last.body : undefined;
    },
    { timeoutMs, intervalMs: 50, what: `200 for ${host}${path} through the proxy` },
  ).catch((err: Error) => {
    err.message += ` (last answer: ${last.status} ${last.body.slice(0, 200)})`;
    throw new Error(`${err.message}\n--- skipper ---\n${proxy.skipper.logTail(15)}\n${env.logs()}`);
  });
}

const describeOutage = (o: Outage) =>
  o.failures === 0 ? 'no request failed' : `requests failed for ${o.failedMs} ms (${o.failures} failures, statuses ${[...o.statuses].join(', ')})`;

/** The pods that answered `count` requests to `host`, each of which must be a 200. */
async function answeringPods(host: string, count: number): Promise<Set<string>> {
  const answered = new Set<string>();
  for (let i = 0; i < count; i++) {
    const res = await proxy.get(host, '/');
    assert.equal(res.status, 200, `request ${i}: ${res.status} ${res.body}`);
    answered.add(res.body.split(' ')[0]!);
  }
  return answered;
}

/** Within the bound, 20 requests in a row answered 200 by exactly the app's pods, each of them. */
async function bothPodsAnswer(app: App): Promise<void> {
  let last = new Set<string>();
  await eventually(
    async () => {
      last = await answeringPods(app.host, 20);
      return last.size === app.pods.length;
    },
    { timeoutMs: RECOVERY_BOUND_MS, intervalMs: 100, what: `every pod of ${app.name} to answer` },
  ).catch((err: Error) => {
    throw new Error(`${err.message} (last round answered by: ${[...last].join(', ')})`);
  });
  assert.deepEqual(last, podNames(app), 'the pods answer, and only they do');
}

const podNames = (app: App) => new Set(app.pods.map((p) => p.metadata!.name!));

describe('traffic through a real ingress proxy', { skip: problem }, () => {
  let shop: App;

  before(async () => {
    const binDir = await ensureTrafficBinaries();
    env = await TestEnv.start({ controllers: TRAFFIC_CONTROLLERS });
    node = await startFakeNode(env.plane, { binDir });
    proxy = await startIngressProxy(env.plane, { binDir, pollMs: PROXY_POLL_MS });
    await env.createNamespace(NS);
    controllers = await env.startAll();
  });

  after(async () => {
    await Promise.all(backends.map((b) => b.close()));
    await proxy?.stop();
    await node?.stop();
    await env?.stop();
  });

  it('a Deployment with ingReq: needed and port 8080 answers through the proxy from both of its pods', async () => {
    shop = await deployApp('cart', { port: 8080 });
    const first = await firstOk(shop.host);
    assert.match(first, /^cart-\S+ 8080 \/$/);
    // The proxy may first know one pod's endpoint (the slice fills as pods turn Ready): both, within the bound.
    await bothPodsAnswer(shop);
    // A host nobody exposed is not routed.
    assert.equal((await proxy.get('nobody.shop.e2e.test', '/')).status, 404);
  });

  for (const kind of ['Service', 'Ingress'] as const) {
    it(`a user deletes the ${kind}: ekspose puts it back and traffic keeps reaching both pods`, async (t) => {
      const get = () => (kind === 'Service' ? env.getService(NS, shop.name) : env.getIngress(NS, shop.name));
      const uid = (await get())!.metadata!.uid;
      const outage = await outageDuring(proxy, shop.host, {
        act: () => (kind === 'Service' ? env.deleteService(NS, shop.name) : env.deleteIngress(NS, shop.name)),
        repaired: async () => ((await get())?.metadata?.uid ?? uid) !== uid,
        boundMs: RECOVERY_BOUND_MS,
      }).catch((err: Error) => {
        throw new Error(`${err.message}\n${env.logs()}`);
      });
      t.diagnostic(`${kind} deleted: ${describeOutage(outage)}`);
      await bothPodsAnswer(shop);
    });
  }

  it('the port label changes: traffic follows to the new target port', async () => {
    // The pods now listen on both ports; only the Service's targetPort says which one is used.
    await serve(shop.pods, 9090);
    assert.match((await proxy.get(shop.host, '/')).body, / 8080 \/$/);
    await env.patchDeploymentLabels(NS, shop.name, { port: '9090' });
    await eventually(async () => / 9090 \/$/.test((await proxy.get(shop.host, '/')).body), {
      timeoutMs: RECOVERY_BOUND_MS,
      intervalMs: 50,
      what: 'answers from port 9090',
    });
    for (let i = 0; i < 10; i++) assert.match((await proxy.get(shop.host, '/')).body, /^cart-\S+ 9090 \/$/);
  });

  it('ekspose.io/path: /api routes /api/x to the pods, and / is not routed', async () => {
    const api = await deployApp('catalog', { port: 8080, annotations: { 'ekspose.io/path': '/api' } });
    assert.match(await firstOk(api.host, '/api/x'), /^catalog-\S+ 8080 \/api\/x$/);
    assert.equal((await proxy.get(api.host, '/')).status, 404);
  });

  it('with the controllers stopped, a deleted Service stays deleted and traffic stays down; started again, they repair it', async () => {
    // The proof depends on ekspose: without it, nothing brings the route back.
    await env.stopControllers();
    await env.deleteService(NS, shop.name);
    await eventually(async () => (await proxy.get(shop.host, '/')).status !== 200, { timeoutMs: 10_000, what: 'requests to fail' });
    await consistently(async () => (await proxy.get(shop.host, '/')).status !== 200, STAYS_MS, 'requests to keep failing: nothing but ekspose may bring it back', 100);
    assert.equal(await env.getService(NS, shop.name), undefined);
    controllers = await env.startAll();
    assert.match(await firstOk(shop.host), /^cart-\S+ 9090 \/$/);
  });

  it('the Deployment deleted: the host answers 404, and stays 404', async () => {
    assert.equal((await proxy.get(shop.host, '/')).status, 200);
    await env.deleteDeployment(NS, shop.name);
    await eventually(async () => (await proxy.get(shop.host, '/')).status === 404, { timeoutMs: RECOVERY_BOUND_MS, intervalMs: 50, what: '404' });
    await consistently(async () => (await proxy.get(shop.host, '/')).status === 404, STAYS_MS, 'the host to stay 404', 100);
    assert.equal(await env.getIngress(NS, shop.name), undefined);
    assert.equal(await env.getService(NS, shop.name), undefined);
    assert.ok(controllers.every((c) => c.handle.running));
  });
});
