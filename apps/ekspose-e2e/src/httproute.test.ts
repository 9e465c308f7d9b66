// The Gateway API route (issue 8, first part): a Deployment with ingReq: needed
// and ekspose.io/route-kind: httproute gets an HTTPRoute instead of an Ingress,
// with the guarantees an Ingress has. The plane starts without the Gateway API;
// the CRDs (sigs.k8s.io/gateway-api, fetched and cached by
// tools/gateway-api/fetch.sh) are installed in the middle, and ekspose notices
// without a restart.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HTTP_ROUTES, type HttpRoute } from '@ekspose/expose';
import { mergePatchOptions, statusCodeOf } from '@ekspose/k8s';
import { consistently, eventually } from './support/poll';
import { TestEnv, occurrences } from './support/test-env';

let env: TestEnv;
const NS = 'routes';
const GATEWAY = { 'ekspose.io/route-kind': 'httproute', 'ekspose.io/gateway': 'infra/public/http' };
const r = HTTP_ROUTES;

before(async () => {
  env = await TestEnv.start();
  await env.createNamespace(NS);
  await env.startAll();
});

after(async () => {
  await env?.stop();
});

async function getRoute(name: string): Promise<HttpRoute | undefined> {
  try {
    return (await env.clients.custom.getNamespacedCustomObject({ ...r, namespace: NS, name })) as HttpRoute;
  } catch (err) {
    if (statusCodeOf(err) === 404) return undefined;
    throw err;
  }
}

function waitForRoute(name: string, check: (route: HttpRoute) => boolean = () => true, timeoutMs = 30_000): Promise<HttpRoute> {
  return eventually(
    async () => {
      const route = await getRoute(name);
      return route && check(route) ? route : undefined;
    },
    { timeoutMs, what: `HTTPRoute ${NS}/${name}` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${env.logs()}`);
  });
}

const uidOf = (o: { metadata?: { uid?: string } } | undefined) => o?.metadata?.uid;

describe('HTTPRoute', () => {
  it('without the Gateway API: the Service, a Warning GatewayAPIUnavailable, no Ingress; once the CRDs are installed the route comes, no restart', async () => {
    await env.createDeployment(NS, 'early', { labels: { ingReq: 'needed' }, annotations: GATEWAY });
    await env.waitForService(NS, 'early');
    const warning = await env.waitForEvent(NS, 'early', 'GatewayAPIUnavailable');
    assert.equal(warning.type, 'Warning');
    assert.match(warning.message ?? '', /httproutes in gateway\.networking\.k8s\.io\/v1/);
    assert.equal(await env.getIngress(NS, 'early'), undefined, 'no Ingress in its place');

    const pids = env.controllers.map((c) => c.handle.pid);
    await env.plane.installGatewayApi();
    const route = await waitForRoute('early', () => true, 60_000);
    assert.deepEqual(route.spec?.hostnames, [`early.${NS}.e2e.test`]);
    assert.deepEqual(env.controllers.map((c) => c.handle.pid), pids, 'the same processes');
    assert.ok(env.controllers.every((c) => c.handle.running));
  });

  it('is made to the Gateway with the host, a PathPrefix rule to the Service, ekspose labels and a controller ownerReference; a resync writes nothing', async () => {
    const dep = await env.createDeployment(NS, 'web', { labels: { ingReq: 'needed', port: '8080' }, annotations: { ...GATEWAY, 'ekspose.io/path': '/api' } });
    const route = await waitForRoute('web');
    assert.deepEqual(route.spec?.parentRefs, [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'infra', name: 'public', sectionName: 'http' }]);
    assert.deepEqual(route.spec?.hostnames, [`web.${NS}.e2e.test`]);
    assert.deepEqual(route.spec?.rules?.[0]?.matches, [{ path: { type: 'PathPrefix', value: '/api' } }]);
    assert.deepEqual(route.spec?.rules?.[0]?.backendRefs, [{ group: '', kind: 'Service', name: 'web', port: 8080, weight: 1 }]);
    assert.equal(route.metadata?.labels?.['app.kubernetes.io/managed-by'], 'ekspose');
    assert.deepEqual(
      route.metadata?.ownerReferences?.map((o) => [o.kind, o.name, o.uid, o.controller]),
      [['Deployment', 'web', dep.metadata?.uid, true]],
    );
    assert.equal(await env.getIngress(NS, 'web'), undefined);
    const exposed = await env.waitForEvent(NS, 'web', 'Exposed');
    assert.equal(exposed.message, `reachable at http://web.${NS}.e2e.test/api through HTTPRoute web`);
    const rv = route.metadata?.resourceVersion;
    await consistently(async () => (await getRoute('web'))?.metadata?.resourceVersion === rv, 3000, 'the route not rewritten');
  });

  it('drift in what ekspose owns is corrected; other fields and annotations are left alone', async () => {
    await waitForRoute('web');
    await env.clients.custom.patchNamespacedCustomObject(
      { ...r, namespace: NS, name: 'web', body: { metadata: { annotations: { team: 'payments' } }, spec: { hostnames: ['evil.example.com'] } } },
      mergePatchOptions(),
    );
    const fixed = await waitForRoute('web', (rt) => rt.spec?.hostnames?.[0] === `web.${NS}.e2e.test`);
    assert.equal(fixed.metadata?.annotations?.['team'], 'payments');
  });

  it('a Gateway controller not accepting the route: Warning RouteNotAccepted with its reason and message, once', async () => {
    const live = await waitForRoute('web');
    // No Gateway implementation runs here: this status write stands in for a real Gateway controller's,
    // about the route's current generation (the drift correction above made it newer than 1).
    const condition = (type: string, status: string, reason: string, message: string) => ({
      type,
      status,
      reason,
      message,
      observedGeneration: live.metadata?.generation,
      lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    });
    await env.clients.custom.patchNamespacedCustomObjectStatus(
      {
        ...r,
        namespace: NS,
        name: 'web',
        body: {
          status: {
            parents: [
              {
                parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'infra', name: 'public', sectionName: 'http' },
                controllerName: 'example.com/stand-in-gateway-controller',
                conditions: [
                  condition('Accepted', 'False', 'NotAllowedByListeners', 'no listener of infra/public allows routes from namespace routes'),
                  condition('ResolvedRefs', 'True', 'ResolvedRefs', ''),
                ],
              },
            ],
          },
        },
      },
      mergePatchOptions(),
    );
    const warning = await env.waitForEvent(NS, 'web', 'RouteNotAccepted');
    assert.equal(warning.type, 'Warning');
    assert.match(warning.message ?? '', /NotAllowedByListeners: no listener of infra\/public allows routes from namespace routes/);
    assert.match(warning.message ?? '', /example\.com\/stand-in-gateway-controller/);
    await consistently(async () => (await env.eventsFor(NS, 'web')).filter((e) => e.reason === 'RouteNotAccepted').map(occurrences).join() === '1', 2000, 'told once');
  });

  it('deleted by a user: the ingress-controller puts it back (HTTPRouteRecreated); deleted with its Deployment: gone for good', async () => {
    const before = await waitForRoute('web');
    await env.clients.custom.deleteNamespacedCustomObject({ ...r, namespace: NS, name: 'web' });
    const back = await waitForRoute('web', (rt) => uidOf(rt) !== uidOf(before));
    assert.deepEqual(back.spec?.hostnames, before.spec?.hostnames);
    await env.waitForEvent(NS, 'web', 'HTTPRouteRecreated');

    await env.deleteDeployment(NS, 'web');
    await eventually(async () => (await getRoute('web')) === undefined, { what: 'HTTPRoute web gone with its Deployment' });
    await consistently(async () => (await getRoute('web')) === undefined, 4000, 'the HTTPRoute to stay gone');
  });

  it('EKSPOSE_TLS_SECRET / ekspose.io/tls-secret templates: {name}-tls gives each Ingress its own Secret, and an https URL', async () => {
    await env.createDeployment(NS, 'secure', { labels: { ingReq: 'needed' }, annotations: { 'ekspose.io/tls-secret': '{name}-tls' } });
    const ingress = await env.waitForIngress(NS, 'secure');
    assert.deepEqual(ingress.spec?.tls?.map((t) => [t.hosts, t.secretName]), [[[`secure.${NS}.e2e.test`], 'secure-tls']]);
    assert.equal((await env.waitForEvent(NS, 'secure', 'Exposed')).message, `reachable at https://secure.${NS}.e2e.test/ through Ingress secure`);
  });

  it('ekspose.io/route-annotations: set on the route, changed and removed with the Deployment, other tools\' kept; snippets and bad JSON refused', async () => {
    const passOn = (json: string) =>
      env.clients.apps.patchNamespacedDeployment(
        { namespace: NS, name: 'annotated', body: { metadata: { annotations: { 'ekspose.io/route-annotations': json } } } },
        mergePatchOptions(),
      );
    await env.createDeployment(NS, 'annotated', {
      labels: { ingReq: 'needed' },
      annotations: { ...GATEWAY, 'ekspose.io/route-annotations': '{"team.example.com/a":"1","team.example.com/b":"2"}' },
    });
    const made = await waitForRoute('annotated');
    assert.equal(made.metadata?.annotations?.['team.example.com/a'], '1');
    assert.equal(made.metadata?.annotations?.['team.example.com/b'], '2');
    await env.clients.custom.patchNamespacedCustomObject(
      { ...r, namespace: NS, name: 'annotated', body: { metadata: { annotations: { 'other-tool.example.com/x': 'kept' } } } },
      mergePatchOptions(),
    );
    await passOn('{"team.example.com/a":"3"}');
    const changed = await waitForRoute('annotated', (rt) => rt.metadata?.annotations?.['team.example.com/a'] === '3');
    assert.equal(changed.metadata?.annotations?.['team.example.com/b'], undefined, 'a key no longer asked for is removed');
    assert.equal(changed.metadata?.annotations?.['other-tool.example.com/x'], 'kept');

    await passOn('{"nginx.ingress.kubernetes.io/server-snippet":"return 200;"}');
    const refused = await eventually(
      async () => (await env.eventsFor(NS, 'annotated')).find((e) => e.reason === 'InvalidSpec' && /server-snippet/.test(e.message ?? '')),
      { what: 'InvalidSpec naming the snippet key' },
    );
    assert.equal(refused.type, 'Warning');
    await passOn('{"a":');
    await eventually(async () => (await env.eventsFor(NS, 'annotated')).some((e) => e.reason === 'InvalidSpec' && /not valid JSON/.test(e.message ?? '')), {
      what: 'InvalidSpec for bad JSON',
    });
    const after = await getRoute('annotated');
    assert.equal(after?.metadata?.annotations?.['team.example.com/a'], '3', 'nothing written while the annotation is refused');
    assert.equal(after?.metadata?.annotations?.['nginx.ingress.kubernetes.io/server-snippet'], undefined);
  });

  it('host and path conflicts across kinds: an older Ingress keeps the host, the HTTPRoute comes once it is gone', async () => {
    const host = { 'ekspose.io/host': 'shared.example.com' };
    await env.createDeployment(NS, 'first', { labels: { ingReq: 'needed' }, annotations: host });
    await env.waitForIngress(NS, 'first');
    await env.createDeployment(NS, 'second', { labels: { ingReq: 'needed' }, annotations: { ...host, ...GATEWAY } });
    const conflict = await env.waitForEvent(NS, 'second', 'HostConflict');
    assert.match(conflict.message ?? '', /older Ingress routes\/first; no HTTPRoute/);
    assert.equal(await getRoute('second'), undefined);
    await env.deleteDeployment(NS, 'first');
    const route = await waitForRoute('second');
    assert.deepEqual(route.spec?.hostnames, ['shared.example.com']);
  });

  it('switching kind: Ingress -> HTTPRoute -> Ingress, the old one removed once the new one exists; removing ingReq removes the route', async () => {
    const dep = await env.createDeployment(NS, 'switch', { labels: { ingReq: 'needed' } });
    await env.waitForIngress(NS, 'switch');
    await env.clients.apps.patchNamespacedDeployment({ namespace: NS, name: 'switch', body: { metadata: { annotations: GATEWAY } } }, mergePatchOptions());
    await waitForRoute('switch');
    await env.waitForGone('ingress', NS, 'switch');

    await env.clients.apps.patchNamespacedDeployment(
      { namespace: NS, name: 'switch', body: { metadata: { annotations: { 'ekspose.io/route-kind': 'ingress' } } } },
      mergePatchOptions(),
    );
    await env.waitForIngress(NS, 'switch');
    await eventually(async () => (await getRoute('switch')) === undefined, { what: 'HTTPRoute switch removed' });

    await env.clients.apps.patchNamespacedDeployment({ namespace: NS, name: 'switch', body: { metadata: { annotations: GATEWAY } } }, mergePatchOptions());
    await waitForRoute('switch');
    await env.patchDeploymentLabels(NS, 'switch', { ingReq: null });
    await eventually(async () => (await getRoute('switch')) === undefined, { what: 'HTTPRoute removed with ingReq' });
    assert.equal(await env.getIngress(NS, 'switch'), undefined);
    assert.ok(await env.getService(NS, 'switch'), 'the Service stays');
    assert.ok(dep.metadata?.uid);
  });
});
