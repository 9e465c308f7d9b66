// Reachable through the Gateway API, proven: real HTTP requests through a real
// Gateway implementation (Traefik, its kubernetesgateway provider) to the
// Deployment's pods, which kwok runs on a fake node; and the route status
// ekspose reads is the one Traefik writes, not a test's. Traefik's
// kubernetesingress provider serves Ingresses on the same entrypoints, so a
// client keeps one address while a Deployment moves between an Ingress and an
// HTTPRoute. Run by `npm run test:traffic` inside a network namespace of its own.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HTTP_ROUTES, type HttpRoute } from '@ekspose/expose';
import { mergePatchOptions } from '@ekspose/k8s';
import {
  type FakeNode,
  type GatewayProxy,
  type ServingCertificate,
  TRAEFIK_CONTROLLER_NAME,
  TRAFFIC_CONTROLLERS,
  ensureTrafficBinaries,
  outageDuring,
  privateNetworkProblem,
  selfSignedCertificate,
  startFakeNode,
  startGatewayProxy,
} from '@ekspose/testing';
import { statusRows } from './support/cli';
import { consistently, eventually } from './support/poll';
import { type ControllerProcess, DOMAIN, TestEnv } from './support/test-env';
import { type App, RECOVERY_BOUND_MS, TrafficApps, describeOutage } from './support/traffic-apps';

const problem = privateNetworkProblem();
const NS = 'gw';
/** Where the Gateways live; routes in NS attach across namespaces. */
const INFRA = 'infra';
/** A namespace the restricted Gateway admits only once it carries ADMIT. */
const WALLED = 'walled';
const ADMIT = { 'gateway-access': 'restricted' };
const VIA = (gateway: string) => ({ 'ekspose.io/route-kind': 'httproute', 'ekspose.io/gateway': `${INFRA}/${gateway}` });
/** "Stays": long enough for Traefik to have reloaded several times and any controller to have acted. */
const STAYS_MS = 4000;
/** Longer than the grace ekspose gives a route's status before it warns (STATUS_GRACE_MS, 10 s). */
const PAST_GRACE_MS = 13_000;

let env: TestEnv;
let node: FakeNode;
let gateway: GatewayProxy;
let apps: TrafficApps;
let tls: ServingCertificate;
let controllers: ControllerProcess[] = [];

const custom = (plural: string) => ({ group: 'gateway.networking.k8s.io', version: 'v1', plural });

async function getRoute(namespace: string, name: string): Promise<HttpRoute | undefined> {
  try {
    return (await env.clients.custom.getNamespacedCustomObject({ ...HTTP_ROUTES, namespace, name })) as HttpRoute;
  } catch {
    return undefined;
  }
}

async function waitForRoute(namespace: string, name: string, check: (r: HttpRoute) => boolean = () => true): Promise<HttpRoute> {
  return eventually(async () => {
    const route = await getRoute(namespace, name);
    return route && check(route) ? route : undefined;
  }, { what: `HTTPRoute ${namespace}/${name}` }).catch((err: Error) => {
    throw new Error(`${err.message}\n${env.logs()}`);
  });
}

/** A Deployment with ingReq: needed and 2 pods answering on `port`, routed by its HTTPRoute to `via` (default: the public Gateway). */
const deployApp = (name: string, opts: { port: number; annotations?: Record<string, string>; namespace?: string }): Promise<App> =>
  apps.deploy(name, { ...opts, annotations: { ...VIA('public'), ...opts.annotations }, routed: async (n) => (await waitForRoute(NS, n)).spec!.hostnames![0]! });

/** GatewayClass `traefik` (Traefik's controllerName) and a Gateway of it; waits until Traefik has accepted it. */
async function createGateway(name: string, listeners: object[], className = 'traefik'): Promise<void> {
  await env.clients.custom.createNamespacedCustomObject({
    ...custom('gateways'),
    namespace: INFRA,
    body: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name, namespace: INFRA }, spec: { gatewayClassName: className, listeners } },
  });
  if (className !== 'traefik') return;
  await eventually(
    async () => {
      const gw = (await env.clients.custom.getNamespacedCustomObject({ ...custom('gateways'), namespace: INFRA, name })) as { status?: { conditions?: Array<{ type: string; status: string }> } };
      return gw.status?.conditions?.some((c) => c.type === 'Accepted' && c.status === 'True');
    },
    { timeoutMs: 30_000, what: `Gateway ${INFRA}/${name} accepted by Traefik` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- traefik ---\n${gateway.traefik.logTail(30)}`);
  });
}

const routeWarnings = async (namespace: string, name: string) => (await env.eventsFor(namespace, name)).filter((e) => e.reason === 'RouteNotAccepted');
const rowOf = async (namespace: string, name: string) => (await statusRows(env.plane, ['status', '-n', namespace, '-o', 'json'])).find((r) => r.name === name);

let shop: App;

before(async () => {
  if (problem) return;
  const binDir = await ensureTrafficBinaries();
  env = await TestEnv.start({ controllers: TRAFFIC_CONTROLLERS });
  await env.plane.installGatewayApi();
  node = await startFakeNode(env.plane, { binDir });
  gateway = await startGatewayProxy(env.plane, { binDir });
  apps = new TrafficApps(env, gateway, NS, () => gateway.traefik.logTail(15));
  for (const ns of [NS, INFRA, WALLED]) await env.createNamespace(ns);
  tls = await selfSignedCertificate([`*.${NS}.${DOMAIN}`]);
  await env.clients.core.createNamespacedSecret({
    namespace: INFRA,
    body: { metadata: { name: 'gateway-tls' }, type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from(tls.cert).toString('base64'), 'tls.key': Buffer.from(tls.key).toString('base64') } },
  });
  await env.clients.custom.createClusterCustomObject({
    ...custom('gatewayclasses'),
    body: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'traefik' }, spec: { controllerName: TRAEFIK_CONTROLLER_NAME } },
  });
  const all = { namespaces: { from: 'All' } };
  await createGateway('public', [
    { name: 'http', protocol: 'HTTP', port: gateway.httpPort, allowedRoutes: all },
    { name: 'https', protocol: 'HTTPS', port: gateway.httpsPort, allowedRoutes: all, tls: { mode: 'Terminate', certificateRefs: [{ kind: 'Secret', name: 'gateway-tls' }] } },
  ]);
  await createGateway('restricted', [{ name: 'http', protocol: 'HTTP', port: gateway.httpPort, allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: ADMIT } } } }]);
  controllers = await env.startAll();
});

after(async () => {
  await apps?.closeAll();
  await gateway?.stop();
  await node?.stop();
  await env?.stop();
});

describe('traffic through a real Gateway (Traefik)', { skip: problem }, () => {
  it('a Deployment routed to the Gateway answers through Traefik from both of its pods', async () => {
    shop = await deployApp('cart', { port: 8080 });
    assert.match(await apps.firstOk(shop.host), /^cart-\S+ 8080 \/$/);
    await apps.bothPodsAnswer(shop);
    assert.equal((await gateway.get(`nobody.${NS}.${DOMAIN}`, '/')).status, 404, 'a host nobody exposed is not routed');
    const route = await waitForRoute(NS, shop.name);
    const ours = route.status?.parents?.find((p) => p.controllerName === TRAEFIK_CONTROLLER_NAME);
    assert.deepEqual(ours?.conditions?.filter((c) => c.status !== 'True').map((c) => `${c.type} ${c.reason}`), [], 'Traefik accepts the route and resolves its Service');
  });

  it('https:// through the HTTPS listener, at the URL ekspose status prints (and the Exposed Event tells)', async () => {
    const row = await eventually(async () => {
      const r = await rowOf(NS, shop.name);
      return r?.state === 'exposed' ? r : undefined;
    }, { what: 'cart exposed in ekspose status' });
    assert.equal(row.url, `https://${shop.host}:${gateway.httpsPort}/`);
    const exposed = await env.waitForEvent(NS, shop.name, 'Exposed');
    assert.equal(exposed.message, `reachable at ${row.url} through HTTPRoute cart`);
    const answer = await eventually(async () => {
      const res = await gateway.getTls(row.url, tls.cert);
      return res.status === 200 ? res : undefined;
    }, { timeoutMs: RECOVERY_BOUND_MS, what: `200 from ${row.url}` });
    assert.match(answer.body, /^cart-\S+ 8080 \/$/);
  });

  for (const kind of ['HTTPRoute', 'Service'] as const) {
    it(`a user deletes the ${kind}: ekspose puts it back and traffic keeps reaching both pods`, async (t) => {
      const get = () => (kind === 'Service' ? env.getService(NS, shop.name) : getRoute(NS, shop.name));
      const uid = (await get())!.metadata!.uid;
      const outage = await outageDuring(gateway, shop.host, {
        act: () => (kind === 'Service' ? env.deleteService(NS, shop.name) : env.clients.custom.deleteNamespacedCustomObject({ ...HTTP_ROUTES, namespace: NS, name: shop.name }).then(() => undefined)),
        repaired: async () => ((await get())?.metadata?.uid ?? uid) !== uid,
        boundMs: RECOVERY_BOUND_MS,
      }).catch((err: Error) => {
        throw new Error(`${err.message}\n--- traefik ---\n${gateway.traefik.logTail(15)}\n${env.logs()}`);
      });
      t.diagnostic(`${kind} deleted: ${describeOutage(outage)}`);
      await apps.bothPodsAnswer(shop);
    });
  }

  it('the port label changes: traffic follows to the new target port', async () => {
    await apps.serve(shop.pods, 9090);
    assert.match((await gateway.get(shop.host, '/')).body, / 8080 \/$/);
    await env.patchDeploymentLabels(NS, shop.name, { port: '9090' });
    await eventually(async () => / 9090 \/$/.test((await gateway.get(shop.host, '/')).body), { timeoutMs: RECOVERY_BOUND_MS, intervalMs: 50, what: 'answers from port 9090' });
    for (let i = 0; i < 10; i++) assert.match((await gateway.get(shop.host, '/')).body, /^cart-\S+ 9090 \/$/);
  });

  it('ekspose.io/path: /api routes /api/x to the pods, and / is not routed', async () => {
    const api = await deployApp('catalog', { port: 8080, annotations: { 'ekspose.io/path': '/api' } });
    assert.match(await apps.firstOk(api.host, '/api/x'), /^catalog-\S+ 8080 \/api\/x$/);
    assert.equal((await gateway.get(api.host, '/')).status, 404);
  });

  it('from an Ingress to an HTTPRoute and back while a client polls every 50 ms: the route is replaced without an outage', async (t) => {
    const app = await apps.deploy('switch', { port: 8080, routed: async (n) => (await env.waitForIngress(NS, n)).spec!.rules![0]!.host! });
    await apps.firstOk(app.host);
    const onlyRoute = async () => (await getRoute(NS, app.name)) !== undefined && (await env.getIngress(NS, app.name)) === undefined;
    const onlyIngress = async () => (await getRoute(NS, app.name)) === undefined && (await env.getIngress(NS, app.name)) !== undefined;
    const annotate = (annotations: Record<string, string | null>) =>
      env.clients.apps.patchNamespacedDeployment({ namespace: NS, name: app.name, body: { metadata: { annotations } } }, mergePatchOptions());
    const toRoute = await outageDuring(gateway, app.host, { act: async () => void (await annotate(VIA('public'))), repaired: onlyRoute, boundMs: RECOVERY_BOUND_MS });
    t.diagnostic(`Ingress -> HTTPRoute: ${describeOutage(toRoute)}`);
    const back = await outageDuring(gateway, app.host, {
      act: async () => void (await annotate({ 'ekspose.io/route-kind': null, 'ekspose.io/gateway': null })),
      repaired: onlyIngress,
      boundMs: RECOVERY_BOUND_MS,
    });
    t.diagnostic(`HTTPRoute -> Ingress: ${describeOutage(back)}`);
    await apps.bothPodsAnswer(app);
  });

});

describe('route status from a real Gateway (Traefik)', { skip: problem }, () => {
  it('a listener that does not admit the namespace: Traefik says Accepted=False, ekspose warns RouteNotAccepted with its reason; admitted, the row says exposed', async () => {
    const walled = new TrafficApps(env, gateway, WALLED, () => gateway.traefik.logTail(15));
    try {
      const app = await walled.deploy('fenced', {
        port: 8080,
        annotations: VIA('restricted'),
        routed: async (n) => (await waitForRoute(WALLED, n)).spec!.hostnames![0]!,
      });
      const warning = await env.waitForEvent(WALLED, app.name, 'RouteNotAccepted', 45_000);
      assert.equal(warning.type, 'Warning');
      assert.match(warning.message ?? '', new RegExp(`not accepted by Gateway ${INFRA}/restricted \\(${TRAEFIK_CONTROLLER_NAME.replace(/\./g, '\\.')}\\): NotAllowedByListeners`));
      assert.equal((await rowOf(WALLED, app.name))?.state, 'not accepted');
      assert.equal((await gateway.get(app.host, '/')).status, 404, 'not routed while not accepted');

      await env.clients.core.patchNamespace({ name: WALLED, body: { metadata: { labels: ADMIT } } }, mergePatchOptions());
      await walled.firstOk(app.host);
      const row = await eventually(async () => {
        const r = await rowOf(WALLED, app.name);
        return r?.state === 'exposed' ? r : undefined;
      }, { what: 'fenced exposed once admitted' });
      assert.equal(row.reason, '');
      const told = (await routeWarnings(WALLED, app.name)).length;
      await consistently(async () => (await routeWarnings(WALLED, app.name)).length === told, PAST_GRACE_MS, 'no RouteNotAccepted once admitted');
    } finally {
      await walled.closeAll();
      await env.clients.core.patchNamespace({ name: WALLED, body: { metadata: { labels: { 'gateway-access': null } } } }, mergePatchOptions());
    }
  });

  it('moved to another Gateway (ekspose.io/gateway): the old Gateway\'s status entry, left behind, warns nothing', async () => {
    // A Gateway of a class Traefik does not serve: Traefik never writes its entry, nor removes the old one.
    await env.clients.custom.createClusterCustomObject({
      ...custom('gatewayclasses'),
      body: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'elsewhere' }, spec: { controllerName: 'example.com/not-running' } },
    });
    await createGateway('elsewhere', [{ name: 'http', protocol: 'HTTP', port: 80 }], 'elsewhere');
    await env.createDeployment(WALLED, 'mover', { labels: { ingReq: 'needed' }, annotations: VIA('restricted') });
    await env.waitForEvent(WALLED, 'mover', 'RouteNotAccepted', 45_000);
    await env.clients.apps.patchNamespacedDeployment(
      { namespace: WALLED, name: 'mover', body: { metadata: { annotations: VIA('elsewhere') } } },
      mergePatchOptions(),
    );
    const moved = await waitForRoute(WALLED, 'mover', (r) => r.spec?.parentRefs?.[0]?.name === 'elsewhere');
    assert.ok(moved.status?.parents?.some((p) => p.parentRef.name === 'restricted' && p.conditions?.some((c) => c.type === 'Accepted' && c.status === 'False')), 'the old entry is still there');
    const told = (await routeWarnings(WALLED, 'mover')).map((e) => e.count ?? 1).join();
    await consistently(async () => (await routeWarnings(WALLED, 'mover')).map((e) => e.count ?? 1).join() === told, PAST_GRACE_MS, 'no RouteNotAccepted from the old Gateway');
    assert.equal((await rowOf(WALLED, 'mover'))?.state, 'exposed');
  });

});

describe('only ekspose brings a route back (Traefik)', { skip: problem }, () => {
  it('with the controllers stopped, a deleted HTTPRoute stays deleted and traffic stays down; started again, they repair it', async () => {
    await env.stopControllers();
    await env.clients.custom.deleteNamespacedCustomObject({ ...HTTP_ROUTES, namespace: NS, name: shop.name });
    await eventually(async () => (await gateway.get(shop.host, '/')).status !== 200, { timeoutMs: 10_000, what: 'requests to fail' });
    await consistently(async () => (await gateway.get(shop.host, '/')).status !== 200, STAYS_MS, 'requests to keep failing: nothing but ekspose may bring it back', 100);
    assert.equal(await getRoute(NS, shop.name), undefined);
    controllers = await env.startAll();
    assert.match(await apps.firstOk(shop.host), /^cart-\S+ 9090 \/$/);
  });

  it('the Deployment deleted: the host answers 404, and stays 404', async () => {
    assert.equal((await gateway.get(shop.host, '/')).status, 200);
    await env.deleteDeployment(NS, shop.name);
    await eventually(async () => (await gateway.get(shop.host, '/')).status === 404, { timeoutMs: RECOVERY_BOUND_MS, intervalMs: 50, what: '404' });
    await consistently(async () => (await gateway.get(shop.host, '/')).status === 404, STAYS_MS, 'the host to stay 404', 100);
    assert.equal(await getRoute(NS, shop.name), undefined);
    assert.equal(await env.getService(NS, shop.name), undefined);
    assert.ok(controllers.every((c) => c.handle.running));
  });
});
