// sample-controller style: a fixture of cached and live objects, one reconcile,
// then the exact API actions taken (including none at all).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Deployment, V1Ingress, V1ObjectMeta, V1OwnerReference, V1Service } from '@kubernetes/client-node';
import type { Settings } from './settings';
import { parseExposeSpec } from '@ekspose/labels';
import { type ObjectCache, splitKey } from '@ekspose/k8s';
import { ManualClock } from '@ekspose/k8s/manual-clock';
import { DeploymentReconciler, UNPUBLISHED_RETRY_MS } from './deployment-reconciler';
import type { MergePatch } from './drift';
import { type RouteObject, claimsOf } from './host-conflict';
import { indexHosts } from './event-routing';
import { ownerKeyOf } from './owner-keys';
import { httpRouteKind, ingressKind, serviceKind } from './kind-descriptors';
import { type HttpRoute, desiredHttpRoute } from './http-route';
import type { ReadGateway } from './gateway-reader';
import { STATUS_GRACE_MS } from './status-grace';
import {
  type Action,
  FakeEvents,
  NOW,
  NS,
  apiError,
  cachedInformer,
  defaultSettings,
  deployment,
  expectedIngress,
  expectedService,
  fakeMetrics,
  fakeObjectApi,
  fakeRecorder,
  liveDeploymentReader,
  silent,
  storeWithCache,
  writesOf,
} from './reconciler-fakes.test-helper';

// ---------------------------------------------------------------- fixtures

const nameOf = (dep: V1Deployment) => dep.metadata?.name ?? '';
const uidOf = (dep: V1Deployment) => dep.metadata?.uid ?? '';

const ownerRef = (name: string, uid: string): V1OwnerReference => ({ apiVersion: 'apps/v1', kind: 'Deployment', name, uid, controller: true });

/** What the API server adds to the metadata of an object it stores for `dep`, our ownerReference included. */
function storedMetadata(
  desired: V1ObjectMeta | undefined,
  dep: V1Deployment,
  stored: { uidPrefix: string; resourceVersion: string; created: string; ownerUid?: string },
): V1ObjectMeta {
  const name = nameOf(dep);
  return {
    ...desired,
    uid: `${stored.uidPrefix}-uid-${name}`,
    resourceVersion: stored.resourceVersion,
    creationTimestamp: new Date(stored.created),
    ownerReferences: [ownerRef(name, stored.ownerUid ?? uidOf(dep))],
  };
}

const portOf = (dep: V1Deployment) => Number(dep.metadata?.labels?.port ?? 80);

/** The managed Service as the API server has it for `dep`: ours plus server defaults and other tools' additions. */
function managedService(dep: V1Deployment, f: { ownerUid?: string } = {}): V1Service {
  const desired = expectedService(nameOf(dep), { port: portOf(dep), ownerUid: uidOf(dep) });
  return {
    ...desired,
    metadata: {
      ...storedMetadata(desired.metadata, dep, { uidPrefix: 'svc', resourceVersion: '200', created: '2025-01-01T00:00:01Z', ownerUid: f.ownerUid }),
      labels: { ...desired.metadata?.labels, 'team': 'checkout' },
      annotations: { 'example.com/note': 'added by another tool' },
    },
    spec: {
      ...desired.spec,
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10'],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      sessionAffinity: 'None',
      internalTrafficPolicy: 'Cluster',
    },
    status: { loadBalancer: {} },
  };
}

function managedIngress(dep: V1Deployment, f: { ownerUid?: string; created?: string } = {}): V1Ingress {
  const a = dep.metadata?.annotations ?? {};
  const desired = expectedIngress(nameOf(dep), { port: portOf(dep), host: a['ekspose.io/host'], path: a['ekspose.io/path'], ownerUid: uidOf(dep) });
  return {
    ...desired,
    metadata: storedMetadata(desired.metadata, dep, {
      uidPrefix: 'ing',
      resourceVersion: '300',
      created: f.created ?? '2025-01-01T00:00:02Z',
      ownerUid: f.ownerUid,
    }),
    spec: { ingressClassName: 'nginx', ...desired.spec },
    status: { loadBalancer: {} },
  };
}

// ---------------------------------------------------------------- harness

const brief = (actions: Action[]) =>
  actions.map((a) => {
    if (a.verb === 'publish') return `publish ${a.kind} ${String(a.payload.uid)}`;
    if (a.verb === 'wasDeploymentDeleted' || a.verb === 'wasExposed') return `${a.verb} ${a.namespace}/${a.name}`;
    return `${a.verb} ${'kind' in a ? `${a.kind} ` : ''}${a.key}`;
  });

interface HarnessFixture {
  deployments?: V1Deployment[];
  /** On the server; the managed ones also in the label-selected cache. */
  services?: V1Service[];
  ingresses?: V1Ingress[];
  httproutes?: HttpRoute[];
  /** Whether the API server serves HTTPRoutes (the Gateway API CRDs installed). Default true. */
  routesServed?: boolean;
  /** What a live GET of a Deployment not in the cache returns. */
  live?: V1Deployment[];
  publishOk?: boolean;
  settings?: Settings;
  readGateway?: ReadGateway;
}

async function harness(f: HarnessFixture = {}) {
  const actions: Action[] = [];
  const deployments = await cachedInformer('deployments', f.deployments ?? []);
  const services = await storeWithCache<V1Service>('Service', f.services ?? []);
  const ingresses = await storeWithCache<V1Ingress>('Ingress', f.ingresses ?? []);
  const httproutes = await storeWithCache<HttpRoute>('HTTPRoute', f.httproutes ?? []);
  // Kept current from the route informers, as the controller keeps it; a freed host releases its waiters.
  const released: string[] = [];
  const routeCaches = [ingresses.cache.informer, httproutes.cache.informer] as Array<ObjectCache<RouteObject>>;
  const hostIndex = indexHosts(routeCaches, (freed) => released.push(...reconciler.keysWaitingFor(freed)));
  for (const cache of routeCaches) for (const r of cache.list()) hostIndex.upsert(r);
  const svc = fakeObjectApi(services.store, actions);
  const ing = fakeObjectApi(ingresses.store, actions);
  const route = fakeObjectApi(httproutes.store, actions);
  const gate = { served: f.routesServed ?? true };
  /** Mutable: a test can bring NATS back by setting nats.up = true. */
  const nats = new FakeEvents(actions);
  nats.up = f.publishOk ?? true;
  const { recorder, recorded } = fakeRecorder();
  const { metrics, exposeMetrics } = fakeMetrics();
  const clock = new ManualClock({ start: NOW });
  const reconciler = new DeploymentReconciler({
    settings: f.settings ?? defaultSettings(),
    deployments: deployments.informer,
    owned: [
      { kind: serviceKind, api: svc.api, cache: services.cache.informer, names: services.names.informer },
      { kind: ingressKind, api: ing.api, cache: ingresses.cache.informer, names: ingresses.names.informer },
      { kind: httpRouteKind, api: route.api, cache: httproutes.cache.informer, names: httproutes.names.informer, available: () => gate.served },
    ] as never,
    hostIndex,
    readDeployment: liveDeploymentReader(actions, f.live),
    events: nats,
    recorder,
    metrics,
    exposeMetrics,
    log: silent,
    clock,
    readGateway: f.readGateway,
  });
  return { reconciler, actions, recorded, released, hostIndex, svc: svc.control, ing: ing.control, deployments, services, ingresses, httproutes, gate, clock, nats };
}

type Harness = Awaited<ReturnType<typeof harness>>;

/**
 * Runs the same key again and asserts it writes nothing: the first run left the
 * (fake) API server and the caches in the state it wanted.
 */
async function assertConverged(t: Harness, key = 'shop/web'): Promise<void> {
  const before = t.actions.length;
  const events = t.recorded.length;
  await t.reconciler.reconcile(key);
  assert.deepEqual(writesOf(t.actions.slice(before)), [], 'a second reconcile writes nothing');
  assert.equal(t.recorded.length, events, 'a second reconcile records no Event');
}

const writes = (actions: Action[]) => actions.filter((a) => a.verb !== 'readDeployment');

/** The deployment.exposed publish for the Deployment shop/web (uid-web), sent at NOW. */
const exposedWeb = (service: { name: string; port: number }, ingress: { name: string; host: string; path: string } | null): Action => ({
  verb: 'publish',
  kind: 'deployment.exposed',
  payload: { uid: 'uid-web', namespace: 'shop', name: 'web', service, ingress, httproute: null, at: new Date(NOW).toISOString() },
});

/** shop/api (`other`) and shop/web (`dep`), both wanting an Ingress on shop.example.com; `other` optionally on another path. */
const apiWrites = (actions: Action[]) => actions.flatMap((a) => (a.verb === 'create' || a.verb === 'patch' || a.verb === 'delete' ? [`${a.verb} ${a.kind}`] : []));

function sharingHost(f: { otherPath?: string } = {}) {
  const host = { 'ekspose.io/host': 'shop.example.com' };
  const otherAnnotations = f.otherPath ? { ...host, 'ekspose.io/path': f.otherPath } : host;
  return {
    other: deployment('api', { labels: { ingReq: 'needed' }, annotations: otherAnnotations }),
    dep: deployment('web', { labels: { ingReq: 'needed' }, annotations: host }),
  };
}

// ---------------------------------------------------------------- tests

describe('splitKey / ownerKeyOf', () => {
  it('split a key at the first slash and find the owner from the deployment label', () => {
    assert.deepEqual(splitKey('shop/web'), ['shop', 'web']);
    assert.equal(ownerKeyOf({ metadata: { namespace: 'shop', name: 'x', labels: { 'ekspose.io/deployment': 'web' } } }), 'shop/web');
    assert.equal(ownerKeyOf({ metadata: { namespace: 'shop', name: 'web' } }), 'shop/web');
  });
});

describe('DeploymentReconciler', () => {
  it('a new Deployment without ingReq: creates the Service only and publishes deployment.exposed', async () => {
    const dep = deployment('web');
    const t = await harness({ deployments: [dep] });
    assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
    assert.deepEqual(t.actions, [
      { verb: 'create', kind: 'Service', key: 'shop/web', body: expectedService('web') },
      exposedWeb({ name: 'web', port: 80 }, null),
    ]);
    assert.deepEqual(t.recorded, []);
    await assertConverged(t);
  });

  it('a new Deployment with ingReq: creates the Service and the Ingress, one deployment.exposed naming both', async () => {
    const dep = deployment('web', { labels: { ingReq: 'needed', port: '8080' } });
    const t = await harness({ deployments: [dep] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.actions, [
      { verb: 'create', kind: 'Service', key: 'shop/web', body: expectedService('web', { port: 8080 }) },
      { verb: 'create', kind: 'Ingress', key: 'shop/web', body: expectedIngress('web', { port: 8080 }) },
      exposedWeb({ name: 'web', port: 8080 }, { name: 'web', host: 'web.shop.ekspose.local', path: '/' }),
    ]);
    await assertConverged(t);
  });

  /** `verb Kind` of each write to the API server, in order. */
  const routedAnnotations = { 'ekspose.io/route-kind': 'httproute', 'ekspose.io/gateway': 'infra/public/https' };
  const routed = (labels: Record<string, string> = { ingReq: 'needed' }) => deployment('web', { labels, annotations: routedAnnotations });
  const routeSpec = (dep: V1Deployment) => {
    const parsed = parseExposeSpec(dep, defaultSettings());
    assert.equal(parsed.kind, 'expose');
    return parsed.kind === 'expose' ? parsed.spec : (undefined as never);
  };

  it('route-kind httproute: the Service and an HTTPRoute to the Gateway, no Ingress; a second reconcile writes nothing', async () => {
    const dep = routed();
    const t = await harness({ deployments: [dep] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(apiWrites(t.actions), ['create Service', 'create HTTPRoute']);
    const created = t.actions.find((a) => a.verb === 'create' && a.kind === 'HTTPRoute');
    const body = (created as { body: HttpRoute }).body;
    assert.deepEqual(body.spec?.parentRefs, [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'infra', name: 'public', sectionName: 'https' }]);
    assert.deepEqual(body.spec?.hostnames, ['web.shop.ekspose.local']);
    assert.deepEqual(body.spec?.rules?.[0]?.backendRefs, [{ group: '', kind: 'Service', name: 'web', port: 80, weight: 1 }]);
    assert.deepEqual(body.metadata?.ownerReferences, [ownerRef('web', uidOf(dep))]);
    const published = t.actions.find((a) => a.verb === 'publish')?.payload as Record<string, unknown>;
    assert.deepEqual([published.ingress, published.httproute], [null, { name: 'web', host: 'web.shop.ekspose.local', path: '/' }]);
    await assertConverged(t);
  });

  it('Ingress -> HTTPRoute: the route is made first, then the Ingress deleted; and back again', async () => {
    const dep = deployment('web', { labels: { ingReq: 'needed' } });
    const t = await harness({ deployments: [dep], services: [managedService(dep)], ingresses: [managedIngress(dep)] });
    const switched = routed();
    switched.metadata!.uid = uidOf(dep);
    t.deployments.push('MODIFIED', switched);
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(apiWrites(t.actions), ['create HTTPRoute', 'delete Ingress']);
    assert.ok(t.recorded.some((e) => e.reason === 'IngressDeleted'));
    await assertConverged(t);

    const before = t.actions.length;
    t.deployments.push('MODIFIED', dep);
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(apiWrites(t.actions.slice(before)), ['create Ingress', 'delete HTTPRoute']);
    await assertConverged(t);
  });

  it('the Gateway API not served: Warning GatewayAPIUnavailable once, nothing written, the Ingress kept until the route can be made', async () => {
    const dep = deployment('web', { labels: { ingReq: 'needed' } });
    const t = await harness({ deployments: [dep], services: [managedService(dep)], ingresses: [managedIngress(dep)], routesServed: false });
    const switched = routed();
    switched.metadata!.uid = uidOf(dep);
    t.deployments.push('MODIFIED', switched);
    await t.reconciler.reconcile('shop/web');
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(writesOf(t.actions), []);
    assert.deepEqual(t.recorded.map((e) => `${e.type} ${e.reason}`), ['Warning GatewayAPIUnavailable']);
    assert.match(t.recorded[0]!.message, /httproutes in gateway\.networking\.k8s\.io\/v1/);
    t.gate.served = true;
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(apiWrites(t.actions), ['create HTTPRoute', 'delete Ingress']);
    const created = t.actions.find((a) => a.verb === 'create' && a.kind === 'HTTPRoute') as { body: unknown } | undefined;
    assert.deepEqual(created?.body, desiredHttpRoute(routeSpec(switched)));
  });

  describe('a Gateway\'s status of the route', () => {
    const parentRef = { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'infra', name: 'public', sectionName: 'https' };
    const condition = (type: string, status: string, reason: string) => ({ type, status, reason, message: `${reason} here` });
    /** What a Gateway controller writes to status.parents (the fake store keeps no generation: every condition is current). */
    const reports = (t: Harness, parents: Array<{ parentRef: typeof parentRef; conditions: ReturnType<typeof condition>[] }>) =>
      t.httproutes.store.patch(NS, 'web', { status: { parents: parents.map((p) => ({ ...p, controllerName: 'traefik.io/gateway-controller' })) } });
    const notAccepted = (t: Harness) => t.recorded.filter((e) => e.reason === 'RouteNotAccepted');
    /** The Gateway refuses the route (NotAllowedByListeners) and still does once the grace is over. */
    const refusedPastGrace = async (t: Harness) => {
      reports(t, [{ parentRef, conditions: [condition('Accepted', 'False', 'NotAllowedByListeners')] }]);
      await t.reconciler.reconcile('shop/web');
      t.clock.skip(STATUS_GRACE_MS);
      await t.reconciler.reconcile('shop/web');
    };

    it('a False condition is told only when still False after the grace: the reconcile asks to come back then, it never sleeps', async () => {
      const t = await harness({ deployments: [routed()] });
      await t.reconciler.reconcile('shop/web');
      reports(t, [{ parentRef, conditions: [condition('Accepted', 'True', 'Accepted'), condition('ResolvedRefs', 'False', 'BackendNotFound')] }]);
      assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'requeueAfter', delayMs: STATUS_GRACE_MS });
      assert.deepEqual(notAccepted(t), []);
      t.clock.skip(4000);
      assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'requeueAfter', delayMs: STATUS_GRACE_MS - 4000 });
      t.clock.skip(STATUS_GRACE_MS - 4000);
      assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
      assert.deepEqual(notAccepted(t).map((e) => `${e.type}: ${e.message}`), [
        'Warning: HTTPRoute web is not resolved by Gateway infra/public (traefik.io/gateway-controller): BackendNotFound: BackendNotFound here',
      ]);
      await t.reconciler.reconcile('shop/web');
      assert.equal(notAccepted(t).length, 1, 'told once');
    });

    it('a flicker right after the write (BackendNotFound until the Service is seen) is never told', async () => {
      const t = await harness({ deployments: [routed()] });
      await t.reconciler.reconcile('shop/web');
      reports(t, [{ parentRef, conditions: [condition('ResolvedRefs', 'False', 'BackendNotFound')] }]);
      await t.reconciler.reconcile('shop/web');
      t.clock.skip(1500);
      reports(t, [{ parentRef, conditions: [condition('Accepted', 'True', 'Accepted'), condition('ResolvedRefs', 'True', 'ResolvedRefs')] }]);
      assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
      t.clock.skip(STATUS_GRACE_MS);
      assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
      assert.deepEqual(notAccepted(t), []);
    });

    it('an entry left by another parent (the previous Gateway) is not this route\'s status: no Warning, no recheck', async () => {
      const t = await harness({ deployments: [routed()] });
      await t.reconciler.reconcile('shop/web');
      reports(t, [{ parentRef: { ...parentRef, name: 'old' }, conditions: [condition('Accepted', 'False', 'NotAllowedByListeners')] }]);
      assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
      t.clock.skip(STATUS_GRACE_MS);
      assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
      assert.deepEqual(notAccepted(t), []);
    });

    it('told, then accepted: no Warning while it is fine, and told again when it is refused again', async () => {
      const t = await harness({ deployments: [routed()] });
      await t.reconciler.reconcile('shop/web');
      await refusedPastGrace(t);
      assert.equal(notAccepted(t).length, 1);
      reports(t, [{ parentRef, conditions: [condition('Accepted', 'True', 'Accepted')] }]);
      assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
      t.clock.skip(STATUS_GRACE_MS);
      await t.reconciler.reconcile('shop/web');
      assert.equal(notAccepted(t).length, 1);
      await refusedPastGrace(t);
      assert.equal(notAccepted(t).length, 2);
    });

    it('switched to an Ingress and back: the refusal is told again, nothing kept meanwhile', async () => {
      const t = await harness({ deployments: [routed()] });
      await t.reconciler.reconcile('shop/web');
      await refusedPastGrace(t);
      assert.equal(notAccepted(t).length, 1);
      const plain = deployment('web', { labels: { ingReq: 'needed' } });
      t.deployments.push('MODIFIED', plain);
      assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
      assert.equal(t.httproutes.store.get(NS, 'web'), undefined);
      t.deployments.push('MODIFIED', routed());
      await t.reconciler.reconcile('shop/web');
      reports(t, [{ parentRef, conditions: [condition('Accepted', 'False', 'NotAllowedByListeners')] }]);
      assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'requeueAfter', delayMs: STATUS_GRACE_MS }, 'a new grace: the old one was not kept');
      t.clock.skip(STATUS_GRACE_MS);
      await t.reconciler.reconcile('shop/web');
      assert.equal(notAccepted(t).length, 2, 'told again');
    });

    it('Exposed: https with the port of the HTTPS listener the route attaches to, read from the Gateway', async () => {
      const gateways: Array<[string, string]> = [];
      const listeners = [{ name: 'http', port: 80, protocol: 'HTTP' }, { name: 'https', port: 8443, protocol: 'HTTPS' }];
      const t = await harness({
        deployments: [routed()],
        readGateway: async (namespace, name) => {
          gateways.push([namespace, name]);
          return { spec: { listeners } };
        },
      });
      await t.reconciler.reconcile('shop/web');
      assert.deepEqual(gateways, [['infra', 'public']]);
      assert.deepEqual(t.recorded.map((e) => e.message), ['reachable at https://web.shop.ekspose.local:8443/ through HTTPRoute web']);
      const unread = await harness({ deployments: [routed()], readGateway: async () => undefined });
      await unread.reconciler.reconcile('shop/web');
      assert.deepEqual(unread.recorded.map((e) => e.message), ['reachable at http://web.shop.ekspose.local/ through HTTPRoute web']);
    });
  });

  it('host conflicts across kinds: an older Ingress keeps the host from a younger HTTPRoute, which comes once the Ingress goes', async () => {
    const { other, dep } = sharingHost();
    const routedDep = deployment('web', { labels: { ingReq: 'needed' }, annotations: { 'ekspose.io/host': 'shop.example.com', ...routedAnnotations } });
    routedDep.metadata!.uid = uidOf(dep);
    const t = await harness({ deployments: [routedDep, other], services: [managedService(dep)], ingresses: [managedIngress(other)] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(apiWrites(t.actions), []);
    assert.deepEqual(t.recorded.map((e) => e.reason), ['HostConflict']);
    assert.match(t.recorded[0]!.message, /older Ingress shop\/api/);
    t.ingresses.store.delete('shop', 'api', t.ingresses.store.get('shop', 'api')!.metadata!.uid!);
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(apiWrites(t.actions), ['create HTTPRoute']);
  });

  it('already-correct objects in the caches: no API call at all (TestDoNothing)', async () => {
    const dep = deployment('web', { labels: { ingReq: 'needed', port: '8080' }, annotations: { 'ekspose.io/path': '/api' } });
    const t = await harness({ deployments: [dep], services: [managedService(dep)], ingresses: [managedIngress(dep)] });
    await t.reconciler.reconcile('shop/web');
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.actions, []);
    assert.deepEqual(t.recorded, []);
  });

  it('a drifted port: exactly one patch of the Service ports, with the resourceVersion', async () => {
    const before = deployment('web');
    const dep = deployment('web', { labels: { port: '8080' } });
    const t = await harness({ deployments: [dep], services: [managedService(before)] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.actions, [
      {
        verb: 'patch',
        kind: 'Service',
        key: 'shop/web',
        patch: {
          metadata: { resourceVersion: '200' },
          spec: { ports: [{ name: 'http', protocol: 'TCP', port: 8080, targetPort: 8080 }] },
        },
      },
    ]);
    assert.deepEqual(t.recorded, []);
    const patched = t.services.store.get('shop', 'web');
    assert.equal(patched?.spec?.clusterIP, '10.96.0.10', 'fields ekspose does not own are left as they were');
    assert.equal(patched?.metadata?.labels?.team, 'checkout', "other tools' labels are kept");
    await assertConverged(t);
  });

  it('a drifted port with an Ingress: the Service and the Ingress backend follow, one patch each', async () => {
    const before = deployment('web', { labels: { ingReq: 'needed' } });
    const dep = deployment('web', { labels: { ingReq: 'needed', port: '9090' } });
    const t = await harness({ deployments: [dep], services: [managedService(before)], ingresses: [managedIngress(before)] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(t.actions), ['patch Service shop/web', 'patch Ingress shop/web']);
    const ingPatch = (t.actions[1] as { patch: MergePatch }).patch;
    assert.deepEqual(ingPatch, { metadata: { resourceVersion: '300' }, spec: { rules: expectedIngress('web', { port: 9090 }).spec?.rules } });
    await assertConverged(t);
  });

  it('ingReq removed with a managed Ingress present: deletes it with its uid as precondition, Service untouched', async () => {
    const before = deployment('web', { labels: { ingReq: 'needed' } });
    const dep = deployment('web');
    const t = await harness({ deployments: [dep], services: [managedService(dep)], ingresses: [managedIngress(before)] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.actions, [{ verb: 'delete', kind: 'Ingress', key: 'shop/web', uid: 'ing-uid-web' }]);
    assert.deepEqual(
      t.recorded.map((r) => [r.type, r.reason]),
      [['Normal', 'IngressDeleted']],
    );
    assert.equal(t.ingresses.store.get('shop', 'web'), undefined);
    await assertConverged(t);
  });

  it('an invalid port: no write, one Warning InvalidSpec naming key and value; the same Deployment again warns no more', async () => {
    const good = deployment('web');
    const dep = deployment('web', { labels: { port: 'abc' }, rv: '101' });
    const t = await harness({ deployments: [dep], services: [managedService(good)] });
    assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' }, 'an invalid spec is done: no requeue, no hot loop');
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.actions, []);
    assert.equal(t.recorded.length, 1);
    const [warning] = t.recorded;
    assert.ok(warning);
    assert.equal(warning.type, 'Warning');
    assert.equal(warning.reason, 'InvalidSpec');
    assert.match(warning.message, /port/);
    assert.match(warning.message, /abc/);
    assert.deepEqual(warning.on, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'shop', uid: 'uid-web', resourceVersion: '101' });

    // A status-only update (new resourceVersion, same spec, labels and annotations) is no news.
    t.deployments.push('MODIFIED', deployment('web', { labels: { port: 'abc' }, rv: '102' }));
    await t.reconciler.reconcile('shop/web');
    assert.equal(t.recorded.length, 1);
    // A change by the user to the Deployment that is still invalid is worth a new Warning.
    t.deployments.push('MODIFIED', deployment('web', { labels: { port: 'abc', team: 'a' }, rv: '103' }));
    await t.reconciler.reconcile('shop/web');
    assert.equal(t.recorded.length, 2);
    assert.deepEqual(t.actions, []);
  });

  it('a foreign Service holds the name: no request at all, one Warning ServiceConflict, no requeue; its deletion brings the key back and the name is taken', async () => {
    const dep = deployment('web');
    const foreign: V1Service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: NS, uid: 'someone-elses', resourceVersion: '5', labels: { app: 'web', 'app.kubernetes.io/managed-by': 'Helm' } },
      spec: { type: 'NodePort', selector: { app: 'other' }, ports: [{ port: 1234 }] },
    };
    // On the server, not in the managed-only cache, but in the names cache (metadata of every Service).
    const t = await harness({ deployments: [dep], services: [foreign] });
    assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' }, 'not polled: the names watch tells when it goes');
    assert.deepEqual(t.actions, [], 'no create that fails with 409, no read');
    assert.deepEqual(t.recorded.map((r) => [r.type, r.reason]), [['Warning', 'ServiceConflict']]);
    assert.match(t.recorded[0]?.message ?? '', /not managed by ekspose/);
    assert.equal(t.reconciler.waitsForName('shop/web', 'Service'), true);
    assert.equal(t.reconciler.waitsForName('shop/web', 'Ingress'), false);
    // A resync repeats neither a request nor the Warning.
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.actions, []);
    assert.equal(t.recorded.length, 1);
    assert.deepEqual(t.services.store.get('shop', 'web'), foreign, 'the foreign Service is untouched');
    // Its owner deletes it (the names watch sees it): the next look makes ours, and nothing is kept.
    t.services.store.delete('shop', 'web', 'someone-elses');
    assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
    assert.deepEqual(brief(t.actions), ['create Service shop/web', 'publish deployment.exposed uid-web']);
    assert.equal(t.services.store.get('shop', 'web')?.metadata?.labels?.['app.kubernetes.io/managed-by'], 'ekspose');
    assert.equal(t.reconciler.waitsForName('shop/web', 'Service'), false);
    assert.equal(t.reconciler.bookkeeping().nameConflicts, 0);
    await assertConverged(t);
  });

  it('a foreign Service the names cache has not seen yet: the create finds it (409), one read, the Warning', async () => {
    const dep = deployment('web');
    const foreign: V1Service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: NS, uid: 'someone-elses', resourceVersion: '5' }, spec: {} };
    const t = await harness({ deployments: [dep] });
    t.services.store.seed(foreign); // on the server, its watch event not arrived yet
    assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
    assert.deepEqual(brief(t.actions), ['create Service shop/web', 'read Service shop/web']);
    assert.deepEqual(t.recorded.map((r) => r.reason), ['ServiceConflict']);
    assert.equal(t.reconciler.waitsForName('shop/web', 'Service'), true);
  });

  it('a shard range let go takes the per-key state of its keys with it, and only theirs', async () => {
    const dep = deployment('web');
    const foreign: V1Service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: NS, uid: 'x', resourceVersion: '5' }, spec: {} };
    const t = await harness({ deployments: [dep], services: [foreign] });
    await t.reconciler.reconcile('shop/web');
    const kept = t.reconciler.bookkeeping();
    assert.equal(kept.nameConflicts, 1);
    assert.equal(kept.warnings, 1);
    // Another range goes: nothing of shop/web is dropped.
    t.reconciler.reset((key) => key.startsWith('other-ns/'));
    assert.deepEqual(t.reconciler.bookkeeping(), kept);
    // Its own range goes: nothing of it is kept (a later holder tells the Warning afresh).
    t.reconciler.reset((key) => key.startsWith(`${NS}/`));
    assert.deepEqual(t.reconciler.bookkeeping(), { tombstones: 0, owedRecords: 0, hostWaiters: 0, nameConflicts: 0, statusGraces: 0, warnings: 0 });
  });

  it('a Deployment waiting for a name keeps nothing once it is deleted or no longer exposed', async () => {
    const dep = deployment('web');
    const foreign: V1Service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: NS, uid: 'x', resourceVersion: '5' }, spec: {} };
    const t = await harness({ deployments: [dep], services: [foreign] });
    await t.reconciler.reconcile('shop/web');
    assert.equal(t.reconciler.bookkeeping().nameConflicts, 1);
    t.deployments.push('MODIFIED', deployment('web', { rv: '101', labels: { 'ekspose.io/ignore': 'true' } }));
    await t.reconciler.reconcile('shop/web');
    assert.equal(t.reconciler.bookkeeping().nameConflicts, 0, 'ignored: waits for nothing');
    t.deployments.push('MODIFIED', deployment('web', { rv: '102' }));
    await t.reconciler.reconcile('shop/web');
    assert.equal(t.reconciler.bookkeeping().nameConflicts, 1);
    t.deployments.push('DELETED', deployment('web', { rv: '103' }));
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.reconciler.bookkeeping(), { tombstones: 0, owedRecords: 0, hostWaiters: 0, nameConflicts: 0, statusGraces: 0, warnings: 0 });
  });

  it('create gets 409 and the object is ours already (cache lag): no second write when it is right', async () => {
    const dep = deployment('web');
    const t = await harness({ deployments: [dep] });
    t.services.store.seed(managedService(dep)); // on the server, its watch event not arrived yet
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(t.actions), ['create Service shop/web', 'read Service shop/web']);
    assert.deepEqual(t.recorded, []);
  });

  it('an Ingress with our labels but controlled by something else is never deleted when ingReq goes away', async () => {
    const dep = deployment('web');
    const ing = managedIngress(deployment('web', { labels: { ingReq: 'needed' } }));
    ing.metadata!.ownerReferences = [{ apiVersion: 'example.com/v1', kind: 'WebApp', name: 'web', uid: 'cr-uid', controller: true }];
    const t = await harness({ deployments: [dep], services: [managedService(dep)], ingresses: [ing] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(writesOf(t.actions), []);
    assert.ok(t.ingresses.store.get('shop', 'web'), 'still there');
  });

  it('an Ingress with our labels but controlled by something else is never deleted on a host conflict', async () => {
    const { other, dep } = sharingHost();
    const ours = managedIngress(dep);
    ours.metadata!.ownerReferences = [{ apiVersion: 'example.com/v1', kind: 'WebApp', name: 'web', uid: 'cr-uid', controller: true }];
    const t = await harness({
      deployments: [dep, other],
      services: [managedService(dep)],
      ingresses: [managedIngress(other, { created: '2024-01-01T00:00:00Z' }), ours],
    });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(writesOf(t.actions), []);
    assert.ok(t.ingresses.store.get('shop', 'web'), 'still there');
    assert.deepEqual(t.recorded.map((r) => r.reason), ['HostConflict']);
  });

  it('a stale patch (the object changed since the cache saw it) is a 409 for the queue to retry, never a blind overwrite', async () => {
    const before = deployment('web');
    const dep = deployment('web', { labels: { port: '8080' } });
    const t = await harness({ deployments: [dep], services: [managedService(before)] });
    // Another writer changed it on the server; its watch event has not arrived, so the cache still has resourceVersion 200.
    const moved = managedService(before);
    t.services.store.seed({ ...moved, metadata: { ...moved.metadata, resourceVersion: '999' } });
    await assert.rejects(t.reconciler.reconcile('shop/web'), /HTTP 409/);
    assert.equal(t.services.store.get('shop', 'web')?.spec?.ports?.[0]?.port, 80, 'nothing overwritten');
  });

  it('a stale owner (managed, owned by another uid): deployment.deleted for the old uid, then a patch setting our ownerReference', async () => {
    const old = deployment('web', { uid: 'old-uid' });
    const dep = deployment('web', { uid: 'new-uid' });
    const t = await harness({ deployments: [dep], services: [managedService(old)] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.actions, [
      {
        verb: 'publish',
        kind: 'deployment.deleted',
        payload: { uid: 'old-uid', namespace: 'shop', name: 'web', deletedAt: new Date(NOW).toISOString() },
        msgId: 'old-uid',
      },
      {
        verb: 'patch',
        kind: 'Service',
        key: 'shop/web',
        patch: { metadata: { ownerReferences: [ownerRef('web', 'new-uid')], resourceVersion: '200' } },
      },
    ]);
    assert.equal(t.services.store.get('shop', 'web')?.metadata?.ownerReferences?.[0]?.uid, 'new-uid');
    await assertConverged(t);
  });

  it('take-over after delete + recreate under the same name, both kinds: same objects, new owner, a record for the old uid', async () => {
    const old = deployment('web', { uid: 'old-uid', labels: { ingReq: 'needed' } });
    const dep = deployment('web', { uid: 'new-uid', labels: { ingReq: 'needed' } });
    const t = await harness({ deployments: [dep], services: [managedService(old)], ingresses: [managedIngress(old)] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(
      brief(writesOf(t.actions)).filter((a) => !a.startsWith('publish')),
      ['patch Service shop/web', 'patch Ingress shop/web'],
      'taken over in place: nothing deleted or recreated',
    );
    for (const obj of [t.services.store.get('shop', 'web'), t.ingresses.store.get('shop', 'web')]) {
      assert.deepEqual(obj?.metadata?.ownerReferences, [ownerRef('web', 'new-uid')]);
    }
    assert.equal(t.services.store.get('shop', 'web')?.metadata?.uid, 'svc-uid-web');
    assert.ok(t.nats.deleted.has('old-uid'), 'deployment.deleted for the old uid is on the stream');
    assert.ok(!t.nats.deleted.has('new-uid'));
    await assertConverged(t);
  });

  it('the Deployment is gone: deployment.deleted for the owner uid (msgId = uid) before deleting both objects by uid', async () => {
    const gone = deployment('web', { uid: 'uid-x', labels: { ingReq: 'needed' } });
    const t = await harness({ services: [managedService(gone)], ingresses: [managedIngress(gone)] });
    assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
    assert.deepEqual(t.actions, [
      { verb: 'readDeployment', key: 'shop/web' },
      // Still controlled on the server (not orphaned by the garbage collector meanwhile)?
      { verb: 'read', kind: 'Service', key: 'shop/web' },
      { verb: 'read', kind: 'Ingress', key: 'shop/web' },
      {
        verb: 'publish',
        kind: 'deployment.deleted',
        payload: { uid: 'uid-x', namespace: 'shop', name: 'web', deletedAt: new Date(NOW).toISOString() },
        msgId: 'uid-x',
      },
      { verb: 'delete', kind: 'Service', key: 'shop/web', uid: 'svc-uid-web' },
      { verb: 'delete', kind: 'Ingress', key: 'shop/web', uid: 'ing-uid-web' },
    ]);
    assert.deepEqual([t.services.store.list(), t.ingresses.store.list()], [[], []]);
    await assertConverged(t);
  });

  it('a terminating Deployment (deletionTimestamp) is cleaned up the same way', async () => {
    const dep = deployment('web', { uid: 'uid-x', labels: { ingReq: 'needed' }, deleting: true });
    const t = await harness({ deployments: [dep], services: [managedService(dep)], ingresses: [managedIngress(dep)] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(t.actions), ['publish deployment.deleted uid-x', 'delete Service shop/web', 'delete Ingress shop/web']);
    assert.equal((t.actions[0] as { msgId?: string }).msgId, 'uid-x');
    assert.deepEqual(
      t.actions.filter((a) => a.verb === 'delete').map((a) => (a as { uid: string }).uid),
      ['svc-uid-web', 'ing-uid-web'],
    );
  });

  it('deleted with --cascade=orphan (the orphan finalizer): the record is published, nothing is deleted', async () => {
    const dep = deployment('web', { uid: 'uid-x', labels: { ingReq: 'needed' }, deleting: true });
    dep.metadata!.finalizers = ['orphan'];
    const t = await harness({ deployments: [dep], services: [managedService(dep)], ingresses: [managedIngress(dep)] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(writesOf(t.actions)), ['publish deployment.deleted uid-x']);
    assert.ok(t.services.store.get('shop', 'web') && t.ingresses.store.get('shop', 'web'));
  });

  it('orphaned objects (no controller reference) stay when their Deployment is gone, and are no orphans to sweep', async () => {
    const gone = deployment('web', { uid: 'uid-x' });
    const svc = managedService(gone);
    svc.metadata!.ownerReferences = [];
    const t = await harness({ services: [svc] });
    assert.deepEqual(t.reconciler.orphanKeys(), []);
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(writesOf(t.actions), []);
    assert.ok(t.services.store.get('shop', 'web'));
  });

  it('the collector orphaned the object after the cache saw it: the live read says so, nothing is deleted', async () => {
    const gone = deployment('web', { uid: 'uid-x' });
    const t = await harness({ services: [managedService(gone)] });
    const orphaned = managedService(gone);
    orphaned.metadata!.ownerReferences = [];
    t.services.store.seed(orphaned); // on the server, its watch event not arrived yet
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(writesOf(t.actions)), ['publish deployment.deleted uid-x']);
    assert.ok(t.services.store.get('shop', 'web'));
  });

  it('the next Deployment of the name adopts an orphaned object: same object, our ownerReference', async () => {
    const dep = deployment('web', { uid: 'uid-new' });
    const svc = managedService(deployment('web', { uid: 'uid-old' }));
    svc.metadata!.ownerReferences = [];
    const t = await harness({ deployments: [dep], services: [svc] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(writesOf(t.actions)), ['patch Service shop/web'], 'adopted; no record: no previous owner to speak of');
    assert.deepEqual(t.services.store.get('shop', 'web')?.metadata?.ownerReferences, [ownerRef('web', 'uid-new')]);
    await assertConverged(t);
  });

  it('the Deployment is gone: an object with our label but controlled by something else is not ours to delete', async () => {
    const gone = deployment('web', { uid: 'uid-x' });
    const svc = managedService(gone);
    svc.metadata = {
      ...svc.metadata,
      ownerReferences: [{ apiVersion: 'example.com/v1', kind: 'WebApp', name: 'web', uid: 'cr-uid', controller: true }],
    };
    const t = await harness({ services: [svc] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(writes(t.actions), []);
  });

  it('a terminating Deployment does not delete objects another uid controls', async () => {
    const dep = deployment('web', { uid: 'uid-x', deleting: true });
    const t = await harness({ deployments: [dep], services: [managedService(deployment('web', { uid: 'uid-y' }))] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(t.actions), ['publish deployment.deleted uid-x']);
  });

  it('the cleanup goes on when deployment.deleted cannot be published (NATS down)', async () => {
    const gone = deployment('web', { uid: 'uid-x', labels: { ingReq: 'needed' } });
    const t = await harness({ services: [managedService(gone)], ingresses: [managedIngress(gone)], publishOk: false });
    const result = await t.reconciler.reconcile('shop/web');
    assert.deepEqual(writesOf(t.actions).map((a) => a.verb), ['publish', 'delete', 'delete']);
    // The record is still owed: the key comes back later (not at once), and publishes it when NATS takes it.
    assert.deepEqual(result, { kind: 'requeueAfter', delayMs: UNPUBLISHED_RETRY_MS });
    t.actions.length = 0;
    t.nats.up = true;
    assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
    assert.deepEqual(brief(writes(t.actions)), ['publish deployment.deleted uid-x']);
    t.actions.length = 0;
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(writes(t.actions), [], 'published once, then nothing is owed');
  });

  it('a record owed for a replaced Deployment is published when the new one is reconciled', async () => {
    const gone = deployment('web', { uid: 'uid-old' });
    const t = await harness({ services: [managedService(gone)], publishOk: false });
    await t.reconciler.reconcile('shop/web');
    t.actions.length = 0;
    t.nats.up = true;
    t.deployments.push('ADDED', deployment('web', { uid: 'uid-new' }));
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(writes(t.actions)).filter((a) => a.startsWith('publish deployment.deleted')), ['publish deployment.deleted uid-old']);
  });

  it('a Deployment deleted after its objects were already collected: still publishes deployment.deleted for its uid', async () => {
    const t = await harness({});
    t.reconciler.noteDeleted(deployment('web', { uid: 'uid-z' }));
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(writes(t.actions)), ['publish deployment.deleted uid-z']);
    // The tombstone is used once.
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(writes(t.actions)), ['publish deployment.deleted uid-z']);
  });

  it('an object already gone when deleted (404) is done, not an error', async () => {
    const gone = deployment('web', { uid: 'uid-x' });
    const t = await harness({ services: [managedService(gone)] });
    t.services.store.remove('shop', 'web'); // the garbage collector was first; the watch event has not arrived
    assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
    assert.deepEqual(brief(writesOf(t.actions)), ['publish deployment.deleted uid-x'], 'the record still, and no delete of what is gone');
  });

  it('an object replaced under the same name (uid precondition fails, 409) is not deleted', async () => {
    const gone = deployment('web', { uid: 'uid-x' });
    const t = await harness({ services: [managedService(gone)] });
    const replaced = { ...managedService(gone), metadata: { ...managedService(gone).metadata, uid: 'someone-new' } };
    t.services.store.seed(replaced);
    assert.deepEqual(await t.reconciler.reconcile('shop/web'), { kind: 'done' });
    assert.equal(t.services.store.get('shop', 'web')?.metadata?.uid, 'someone-new', 'the newer object stays');
  });

  it('a failed delete is an error, so the queue retries', async () => {
    const gone = deployment('web', { uid: 'uid-x' });
    const t = await harness({ services: [managedService(gone)] });
    t.svc.deleteErrors.push(apiError(500));
    await assert.rejects(t.reconciler.reconcile('shop/web'), /HTTP 500/);
  });

  it('a failed create is an error, so the queue retries; a transient one (503) is no Warning', async () => {
    const t = await harness({ deployments: [deployment('web')] });
    t.svc.createErrors.push(apiError(503));
    await assert.rejects(t.reconciler.reconcile('shop/web'), /HTTP 503/);
    assert.deepEqual(t.recorded, []);
  });

  it('a refused Service does not hold back the Ingress: both are tried, and the error is still returned', async () => {
    const t = await harness({ deployments: [deployment('web', { labels: { ingReq: 'needed' } })] });
    const quota = Object.assign(new Error('HTTP 403'), { code: 403, body: { message: 'services "web" is forbidden: exceeded quota: q, requested: services=1, used: services=0, limited: services=0' } });
    t.svc.createErrors.push(quota, quota);
    await assert.rejects(t.reconciler.reconcile('shop/web'), /HTTP 403/);
    assert.ok(t.ingresses.store.get('shop', 'web'), 'the Ingress was made');
    assert.deepEqual(t.recorded.map((r) => [r.type, r.reason]), [['Warning', 'ServiceRefused'], ['Normal', 'Exposed']]);
    assert.match(t.recorded[0]!.message, /exceeded quota/, "the API server's message, for the user to act on");
    await assert.rejects(t.reconciler.reconcile('shop/web'), /HTTP 403/);
    assert.equal(t.recorded.length, 2, 'the same refusal is told once');
    await t.reconciler.reconcile('shop/web');
    assert.ok(t.services.store.get('shop', 'web'), 'the retry makes the Service');
    await assertConverged(t);
  });

  it('ekspose.io/ignore: "true": nothing at all, even with managed objects that look wrong', async () => {
    const dep = deployment('web', { labels: { 'ekspose.io/ignore': 'true', port: '9999' } });
    const t = await harness({ deployments: [dep], services: [managedService(deployment('web'))] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.actions, []);
    assert.deepEqual(t.recorded, []);
  });

  it('a Deployment in a skipped namespace: nothing, not even a read', async () => {
    const dep = deployment('web', { namespace: 'kube-system' });
    const t = await harness({ deployments: [dep] });
    await t.reconciler.reconcile('kube-system/web');
    await t.reconciler.reconcile('kube-system/gone');
    assert.deepEqual(t.actions, []);
  });

  it('a Deployment not in the cache yet is read live and exposed', async () => {
    const dep = deployment('web');
    const t = await harness({ live: [dep] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(t.actions), ['readDeployment shop/web', 'create Service shop/web', 'publish deployment.exposed uid-web']);
  });

  it('host conflict with an older managed Ingress of another Deployment: no Ingress, one Warning HostConflict', async () => {
    const { other, dep } = sharingHost();
    const t = await harness({
      deployments: [dep, other],
      services: [managedService(dep)],
      ingresses: [managedIngress(other, { created: '2024-01-01T00:00:00Z' })],
    });
    await t.reconciler.reconcile('shop/web');
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.actions, []);
    assert.deepEqual(
      t.recorded.map((r) => [r.type, r.reason]),
      [['Warning', 'HostConflict']],
    );
    assert.match(t.recorded[0]?.message ?? '', /shop\.example\.com\/ .*shop\/api/);
    await assertConverged(t);
  });

  it('a Deployment refused a host is handed back when the holding Ingress is deleted, once', async () => {
    const { other, dep } = sharingHost();
    const holding = managedIngress(other, { created: '2024-01-01T00:00:00Z' });
    const t = await harness({ deployments: [dep, other], services: [managedService(dep)], ingresses: [holding] });
    assert.deepEqual(t.reconciler.keysWaitingFor(claimsOf(holding)), [], 'nobody waits before a conflict');
    await t.reconciler.reconcile('shop/web');
    t.ingresses.store.deleteByUser('shop', 'api');
    assert.deepEqual(t.released, ['shop/web'], 'the holder\'s deletion frees the host for the waiter');
    assert.deepEqual(t.reconciler.keysWaitingFor(claimsOf(holding)), [], 'handed back once');
  });

  it('two Deployments wanting one host in the same apply: the first reconciled holds it from before its create is answered; exactly one Ingress', async () => {
    const { other, dep } = sharingHost();
    const t = await harness({ deployments: [dep, other], services: [managedService(dep), managedService(other)] });
    // Both reconciles run at once, as the queue's workers run them: neither has seen the other's Ingress yet.
    await Promise.all([t.reconciler.reconcile('shop/api'), t.reconciler.reconcile('shop/web')]);
    assert.deepEqual(apiWrites(t.actions), ['create Ingress'], 'one Ingress, not two');
    assert.ok(t.ingresses.store.get('shop', 'api'));
    assert.equal(t.ingresses.store.get('shop', 'web'), undefined);
    assert.deepEqual(t.recorded.filter((r) => r.type === 'Warning').map((r) => [r.on.name, r.reason]), [['web', 'HostConflict']]);
    // The same, the other order: the one reconciled first wins.
    const u = await harness({ deployments: [dep, other], services: [managedService(dep), managedService(other)] });
    await Promise.all([u.reconciler.reconcile('shop/web'), u.reconciler.reconcile('shop/api')]);
    assert.deepEqual(apiWrites(u.actions), ['create Ingress']);
    assert.ok(u.ingresses.store.get('shop', 'web'));
  });

  it('a waiter gets the host when the holder moves to another host, or drops ingReq; a failed create frees its reservation', async () => {
    const { other, dep } = sharingHost();
    const t = await harness({ deployments: [dep, other], services: [managedService(dep), managedService(other)] });
    await t.reconciler.reconcile('shop/api');
    await t.reconciler.reconcile('shop/web');
    assert.equal(t.reconciler.bookkeeping().hostWaiters, 1);
    // The holder moves to another host: its patch frees the old host at once, before any watch event.
    const moved = deployment('api', { rv: '101', labels: { ingReq: 'needed' }, annotations: { 'ekspose.io/host': 'moved.example.com' } });
    t.deployments.push('MODIFIED', moved);
    await t.reconciler.reconcile('shop/api');
    assert.deepEqual(t.released, ['shop/web']);
    await t.reconciler.reconcile('shop/web');
    assert.ok(t.ingresses.store.get('shop', 'web'), 'the waiter has its Ingress');
    assert.equal(t.reconciler.bookkeeping().hostWaiters, 0);

    // The other way round: now api waits for web's host, and web drops ingReq.
    const back = deployment('api', { rv: '102', labels: { ingReq: 'needed' }, annotations: { 'ekspose.io/host': 'shop.example.com' } });
    t.deployments.push('MODIFIED', back);
    await t.reconciler.reconcile('shop/api');
    assert.equal(t.reconciler.bookkeeping().hostWaiters, 1);
    t.deployments.push('MODIFIED', deployment('web', { rv: '103', uid: uidOf(dep) }));
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.released, ['shop/web', 'shop/api'], 'the deletion of the unwanted Ingress frees the host');

    // A create that fails frees the host it reserved: a waiter is told.
    t.ing.createErrors.push(apiError(500));
    await assert.rejects(t.reconciler.reconcile('shop/api'));
    assert.deepEqual(t.hostIndex.size.reserved, 0, 'no reservation outlives its write');
  });

  it('host conflict while creating the Service: deployment.exposed announces no Ingress', async () => {
    const { other, dep } = sharingHost();
    const t = await harness({ deployments: [dep, other], ingresses: [managedIngress(other)] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(t.actions), ['create Service shop/web', 'publish deployment.exposed uid-web']);
    assert.equal((t.actions[1] as { payload: Record<string, unknown> }).payload.ingress, null);
  });

  it('the same host with another path is no conflict', async () => {
    const { other, dep } = sharingHost({ otherPath: '/api' });
    const t = await harness({ deployments: [dep, other], services: [managedService(dep)], ingresses: [managedIngress(other)] });
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(brief(t.actions), ['create Ingress shop/web', 'publish deployment.exposed uid-web']);
    assert.deepEqual(t.recorded.map((r) => r.reason), ['Exposed']);
    await assertConverged(t);
  });

  it('Exposed: the URL told once when the route is made, not on a resync, again when it changes; never for a correct route at start', async () => {
    const dep = deployment('web', { labels: { ingReq: 'needed' }, annotations: { 'ekspose.io/tls-secret': '{name}-tls' } });
    const t = await harness({ deployments: [dep] });
    await t.reconciler.reconcile('shop/web');
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.recorded.map((r) => `${r.type} ${r.reason}: ${r.message}`), ['Normal Exposed: reachable at https://web.shop.ekspose.local/ through Ingress web']);
    t.deployments.push('MODIFIED', deployment('web', { labels: { ingReq: 'needed' }, annotations: { 'ekspose.io/path': '/v2' }, rv: '102' }));
    await t.reconciler.reconcile('shop/web');
    assert.deepEqual(t.recorded.slice(1).map((r) => r.message), ['reachable at http://web.shop.ekspose.local/v2 through Ingress web']);

    const routed = deployment('web', { labels: { ingReq: 'needed' } });
    const again = await harness({ deployments: [routed], services: [managedService(routed)], ingresses: [managedIngress(routed)] });
    await again.reconciler.reconcile('shop/web');
    assert.deepEqual(again.recorded, [], 'a restart over a correct route tells nothing');
  });

  it('orphanKeys: the owners of managed objects whose Deployment is not in the cache, once each', async () => {
    const live = deployment('web', { labels: { ingReq: 'needed' } });
    const gone = deployment('gone', { labels: { ingReq: 'needed' } });
    const gone2 = deployment('gone2', { labels: { ingReq: 'needed' } });
    const t = await harness({
      deployments: [live],
      services: [managedService(live), managedService(gone)],
      ingresses: [managedIngress(live), managedIngress(gone), managedIngress(gone2)],
    });
    assert.deepEqual(t.reconciler.orphanKeys().sort(), ['shop/gone', 'shop/gone2']);
    assert.deepEqual(t.actions, []);
  });
});
