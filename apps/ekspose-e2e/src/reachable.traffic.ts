// Reachable, proven: real HTTP requests through a real ingress proxy (skipper)
// to the Deployment's pods, which kwok runs on a fake node with IPs in a
// private range; the real endpointslice controller fills the Service's
// EndpointSlices. Run by `npm run test:traffic` (tools/scripts/in-netns.mjs)
// inside a network namespace of its own.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  type FakeNode,
  type IngressProxy,
  TRAFFIC_CONTROLLERS,
  ensureTrafficBinaries,
  outageDuring,
  privateNetworkProblem,
  startFakeNode,
  startIngressProxy,
} from '@ekspose/testing';
import { type ControllerProcess, TestEnv } from './support/test-env';
import { consistently, eventually } from './support/poll';
import { type App, RECOVERY_BOUND_MS, TrafficApps, describeOutage } from './support/traffic-apps';

const problem = privateNetworkProblem();
const NS = 'shop';
/** How often skipper re-reads the API; what a user sees after any change includes up to one of these. */
const PROXY_POLL_MS = 250;
/** "Stays": long enough for several proxy polls and any controller to have acted. */
const STAYS_MS = 8 * PROXY_POLL_MS + 2000;

let env: TestEnv;
let node: FakeNode;
let proxy: IngressProxy;
let apps: TrafficApps;
let controllers: ControllerProcess[] = [];

/** A Deployment with ingReq: needed and 2 pods answering on `port`, routed by its Ingress. */
const deployApp = (name: string, opts: { port: number; annotations?: Record<string, string> }): Promise<App> =>
  apps.deploy(name, { ...opts, routed: async (n) => (await env.waitForIngress(NS, n)).spec!.rules![0]!.host! });

describe('traffic through a real ingress proxy', { skip: problem }, () => {
  let shop: App;

  before(async () => {
    const binDir = await ensureTrafficBinaries();
    env = await TestEnv.start({ controllers: TRAFFIC_CONTROLLERS });
    node = await startFakeNode(env.plane, { binDir });
    proxy = await startIngressProxy(env.plane, { binDir, pollMs: PROXY_POLL_MS });
    apps = new TrafficApps(env, proxy, NS, () => proxy.skipper.logTail(15));
    await env.createNamespace(NS);
    controllers = await env.startAll();
  });

  after(async () => {
    await apps?.closeAll();
    await proxy?.stop();
    await node?.stop();
    await env?.stop();
  });

  it('a Deployment with ingReq: needed and port 8080 answers through the proxy from both of its pods', async () => {
    shop = await deployApp('cart', { port: 8080 });
    const first = await apps.firstOk(shop.host);
    assert.match(first, /^cart-\S+ 8080 \/$/);
    // The proxy may first know one pod's endpoint (the slice fills as pods turn Ready): both, within the bound.
    await apps.bothPodsAnswer(shop);
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
      await apps.bothPodsAnswer(shop);
    });
  }

  it('the port label changes: traffic follows to the new target port', async () => {
    // The pods now listen on both ports; only the Service's targetPort says which one is used.
    await apps.serve(shop.pods, 9090);
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
    assert.match(await apps.firstOk(api.host, '/api/x'), /^catalog-\S+ 8080 \/api\/x$/);
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
    assert.match(await apps.firstOk(shop.host), /^cart-\S+ 9090 \/$/);
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
