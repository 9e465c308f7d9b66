// The promised behaviour of docs/design.md §3, end to end: the three built controllers
// as processes against kube-apiserver + etcd + the garbage collector + NATS.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { V1Ingress, V1Service } from '@kubernetes/client-node';
import { consistently, eventually } from './support/poll';
import { DOMAIN, TestEnv } from './support/test-env';

let env: TestEnv;
const managed = { 'app.kubernetes.io/managed-by': 'ekspose' };

/** The client's model classes vs plain JSON: compare content only. */
const plain = (x: unknown): unknown => JSON.parse(JSON.stringify(x ?? null));
const port = (s: V1Service) => s.spec?.ports?.[0]?.port;
const host = (i: V1Ingress) => i.spec?.rules?.[0]?.host;
const backendPort = (i: V1Ingress) => i.spec?.rules?.[0]?.http?.paths?.[0]?.backend?.service?.port?.number;

before(async () => {
  env = await TestEnv.start();
  // 1. State that exists before the controllers start.
  await env.createNamespace('pre');
  await env.createDeployment('pre', 'bare');
  const withSvc = await env.createDeployment('pre', 'has-svc', { labels: { port: '8080' } });
  await env.clients.core.createNamespacedService({
    namespace: 'pre',
    body: {
      metadata: {
        name: 'has-svc',
        labels: { ...managed, 'ekspose.io/deployment': 'has-svc', team: 'keep-me' },
        annotations: { 'example.com/note': 'added by another tool' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'has-svc', uid: withSvc.metadata!.uid!, controller: true }],
      },
      spec: { type: 'ClusterIP', selector: { app: 'has-svc' }, ports: [{ name: 'http', protocol: 'TCP', port: 8080, targetPort: 8080 }] },
    },
  });
  await env.createDeployment('pre', 'wants-ing', { labels: { ingReq: 'needed' } });
  await env.startAll();
});

after(async () => {
  await env?.stop();
});

describe('start-up', () => {
  it('converges Deployments that existed before the controllers, without rewriting correct objects', async () => {
    const before = await env.getService('pre', 'has-svc');
    await env.waitForService('pre', 'bare', (s) => port(s) === 80);
    await env.waitForIngress('pre', 'wants-ing', (i) => host(i) === `wants-ing.pre.${DOMAIN}`);
    // Give the deployment-controller time to (wrongly) touch the correct one.
    await consistently(
      async () => (await env.getService('pre', 'has-svc'))?.metadata?.resourceVersion === before?.metadata?.resourceVersion,
      3000,
      'the already-correct Service to keep its resourceVersion',
    );
    const after = await env.getService('pre', 'has-svc');
    assert.equal(after?.metadata?.annotations?.['example.com/note'], 'added by another tool');
    assert.equal(after?.metadata?.labels?.team, 'keep-me');
  });
});

describe('create', () => {
  before(() => env.createNamespace('create'));

  it('gives a Deployment without labels a ClusterIP Service on port 80, owned by it, and no Ingress', async () => {
    const dep = await env.createDeployment('create', 'plain');
    const svc = await env.waitForService('create', 'plain');
    assert.equal(svc.spec?.type, 'ClusterIP');
    assert.deepEqual(svc.spec?.selector, { app: 'plain' });
    assert.deepEqual(
      svc.spec?.ports?.map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort, protocol: p.protocol })),
      [{ name: 'http', port: 80, targetPort: 80, protocol: 'TCP' }],
    );
    assert.equal(svc.metadata?.labels?.['app.kubernetes.io/managed-by'], 'ekspose');
    assert.equal(svc.metadata?.labels?.['ekspose.io/deployment'], 'plain');
    assert.deepEqual(
      svc.metadata?.ownerReferences?.map((r) => ({ kind: r.kind, name: r.name, uid: r.uid, controller: r.controller })),
      [{ kind: 'Deployment', name: 'plain', uid: dep.metadata!.uid, controller: true }],
    );
    await consistently(async () => (await env.getIngress('create', 'plain')) === undefined, 2000, 'no Ingress without ingReq');
  });

  it('uses the port label, and ingReq: needed gives an Ingress with the templated host', async () => {
    await env.createDeployment('create', 'restapi', { labels: { app: 'restapi', ingReq: 'needed', port: '8080' } });
    const svc = await env.waitForService('create', 'restapi');
    assert.equal(port(svc), 8080);
    const ing = await env.waitForIngress('create', 'restapi');
    assert.equal(host(ing), `restapi.create.${DOMAIN}`);
    assert.equal(ing.spec?.rules?.[0]?.http?.paths?.[0]?.pathType, 'Prefix');
    assert.equal(ing.spec?.rules?.[0]?.http?.paths?.[0]?.backend?.service?.name, 'restapi');
    assert.equal(backendPort(ing), 8080);
  });

  it('gives no Ingress for any ingReq value other than "needed"', async () => {
    await env.createDeployment('create', 'yes-not-needed', { labels: { ingReq: 'yes' } });
    await env.waitForService('create', 'yes-not-needed');
    await consistently(async () => (await env.getIngress('create', 'yes-not-needed')) === undefined, 2000, 'no Ingress');
  });
});

describe('change', () => {
  before(() => env.createNamespace('change'));

  it('moves Service and Ingress when port changes 80 -> 8080, and adds/removes the Ingress with ingReq', async () => {
    await env.createDeployment('change', 'web', { labels: { ingReq: 'needed' } });
    const svc = await env.waitForService('change', 'web', (s) => port(s) === 80);
    await env.waitForIngress('change', 'web', (i) => backendPort(i) === 80);

    await env.patchDeploymentLabels('change', 'web', { port: '8080' });
    const moved = await env.waitForService('change', 'web', (s) => port(s) === 8080);
    assert.equal(moved.metadata?.uid, svc.metadata?.uid, 'patched in place, not recreated');
    assert.equal(moved.spec?.ports?.length, 1);
    await env.waitForIngress('change', 'web', (i) => backendPort(i) === 8080);

    await env.patchDeploymentLabels('change', 'web', { ingReq: null });
    await env.waitForGone('ingress', 'change', 'web');
    await consistently(async () => (await env.getIngress('change', 'web')) === undefined, 3000, 'the removed Ingress to stay removed');

    await env.patchDeploymentLabels('change', 'web', { ingReq: 'needed' });
    await env.waitForIngress('change', 'web', (i) => backendPort(i) === 8080);
  });
});

describe('delete Deployment', () => {
  before(() => env.createNamespace('del'));

  async function exposed(name: string): Promise<void> {
    await env.createDeployment('del', name, { labels: { ingReq: 'needed' } });
    await env.waitForService('del', name);
    await env.waitForIngress('del', name);
  }

  async function staysGone(names: string[], ms = 4000): Promise<void> {
    await consistently(
      async () => {
        for (const n of names) {
          if ((await env.getService('del', n)) || (await env.getIngress('del', n))) return false;
        }
        return true;
      },
      ms,
      `Services and Ingresses of ${names.length} deleted Deployment(s) to stay gone`,
    );
  }

  it('removes Service and Ingress and does not bring them back (background)', async () => {
    await exposed('gone');
    await env.deleteDeployment('del', 'gone');
    await env.waitForGone('service', 'del', 'gone');
    await env.waitForGone('ingress', 'del', 'gone');
    await staysGone(['gone']);
  });

  it('also with --cascade=foreground', async () => {
    await exposed('fg');
    await env.deleteDeployment('del', 'fg', 'Foreground');
    await env.waitForGone('deployment', 'del', 'fg');
    await env.waitForGone('service', 'del', 'fg');
    await env.waitForGone('ingress', 'del', 'fg');
    await staysGone(['fg']);
  });

  it('50 Deployments deleted at once: zero recreations', async () => {
    const names = Array.from({ length: 50 }, (_, i) => `bulk-${i}`);
    await Promise.all(names.map((n) => env.createDeployment('del', n, { labels: { ingReq: 'needed' } })));
    await eventually(
      async () => {
        const svcs = await env.clients.core.listNamespacedService({ namespace: 'del', labelSelector: 'app.kubernetes.io/managed-by=ekspose' });
        const ings = await env.clients.networking.listNamespacedIngress({ namespace: 'del', labelSelector: 'app.kubernetes.io/managed-by=ekspose' });
        const s = svcs.items.filter((x) => x.metadata?.name?.startsWith('bulk-')).length;
        const i = ings.items.filter((x) => x.metadata?.name?.startsWith('bulk-')).length;
        return s === 50 && i === 50;
      },
      { timeoutMs: 60_000, what: '50 Services and 50 Ingresses' },
    );
    const recreatedBefore = await recreations();
    await env.clients.apps.deleteCollectionNamespacedDeployment({ namespace: 'del', labelSelector: 'ingReq=needed' });
    await eventually(
      async () => {
        const svcs = await env.clients.core.listNamespacedService({ namespace: 'del' });
        return svcs.items.filter((x) => x.metadata?.name?.startsWith('bulk-')).length === 0;
      },
      { timeoutMs: 60_000, what: 'all 50 Services gone' },
    );
    await staysGone(names, 5000);
    assert.equal(await recreations(), recreatedBefore, 'no Service or Ingress was recreated');
  });
});

/** ekspose_decisions_total{decision="recreate"} summed over the service and ingress controllers. */
async function recreations(): Promise<number> {
  let total = 0;
  for (const c of env.controllers.filter((p) => p.app !== 'deployment-controller')) {
    const { body } = await env.probe(c, '/metrics');
    for (const line of body.split('\n')) {
      if (line.startsWith('ekspose_decisions_total{') && line.includes('decision="recreate"')) total += Number(line.split(' ').pop());
    }
  }
  return total;
}

describe('user deletes what ekspose made', () => {
  before(async () => {
    await env.createNamespace('user');
    for (const n of ['s1', 'i1', 'both']) await env.createDeployment('user', n, { labels: { ingReq: 'needed', port: '8080' } });
    for (const n of ['s1', 'i1', 'both']) {
      await env.waitForService('user', n);
      await env.waitForIngress('user', n);
    }
  });

  it('a deleted Service comes back with the same spec and a new uid', async () => {
    const old = (await env.getService('user', 's1'))!;
    await env.deleteService('user', 's1');
    const back = await env.waitForService('user', 's1', (s) => s.metadata?.uid !== old.metadata?.uid);
    assert.deepEqual(plain(back.spec?.ports), plain(old.spec?.ports));
    assert.deepEqual(plain(back.spec?.selector), plain(old.spec?.selector));
    assert.deepEqual(plain(back.metadata?.ownerReferences), plain(old.metadata?.ownerReferences));
    await env.waitForEvent('user', 's1', 'ServiceRecreated');
  });

  it('a deleted Ingress comes back with the same spec and a new uid', async () => {
    const old = (await env.getIngress('user', 'i1'))!;
    await env.deleteIngress('user', 'i1');
    const back = await env.waitForIngress('user', 'i1', (i) => i.metadata?.uid !== old.metadata?.uid);
    assert.deepEqual(plain(back.spec?.rules), plain(old.spec?.rules));
    await env.waitForEvent('user', 'i1', 'IngressRecreated');
  });

  it('both deleted: both come back', async () => {
    const oldSvc = (await env.getService('user', 'both'))!;
    const oldIng = (await env.getIngress('user', 'both'))!;
    await Promise.all([env.deleteService('user', 'both'), env.deleteIngress('user', 'both')]);
    await env.waitForService('user', 'both', (s) => s.metadata?.uid !== oldSvc.metadata?.uid);
    await env.waitForIngress('user', 'both', (i) => i.metadata?.uid !== oldIng.metadata?.uid);
  });
});

describe('objects ekspose does not own', () => {
  before(() => env.createNamespace('foreign'));

  it('leaves someone else\'s Service and Ingress of the same name untouched and warns on the Deployment', async () => {
    const svc = await env.clients.core.createNamespacedService({
      namespace: 'foreign',
      body: { metadata: { name: 'theirs' }, spec: { selector: { other: 'app' }, ports: [{ port: 9999 }] } },
    });
    const ing = await env.clients.networking.createNamespacedIngress({
      namespace: 'foreign',
      body: {
        metadata: { name: 'theirs' },
        spec: { rules: [{ host: 'theirs.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'x', port: { number: 1 } } } }] } }] },
      },
    });
    await env.createDeployment('foreign', 'theirs', { labels: { ingReq: 'needed' } });
    await env.waitForEvent('foreign', 'theirs', 'ServiceConflict');
    await env.waitForEvent('foreign', 'theirs', 'IngressConflict');
    const svcAfter = await env.getService('foreign', 'theirs');
    const ingAfter = await env.getIngress('foreign', 'theirs');
    assert.equal(svcAfter?.metadata?.resourceVersion, svc.metadata?.resourceVersion);
    assert.equal(ingAfter?.metadata?.resourceVersion, ing.metadata?.resourceVersion);
    const warning = (await env.eventsFor('foreign', 'theirs')).find((e) => e.reason === 'ServiceConflict');
    assert.equal(warning?.type, 'Warning');

    // Deleting the Deployment must not delete what is not ours either.
    await env.deleteDeployment('foreign', 'theirs');
    await env.waitForGone('deployment', 'foreign', 'theirs');
    await consistently(async () => Boolean(await env.getService('foreign', 'theirs')), 3000, 'the foreign Service to survive');
    assert.ok(await env.getIngress('foreign', 'theirs'));
  });
});

describe('invalid labels', () => {
  before(() => env.createNamespace('invalid'));

  for (const bad of ['abc', '0', '70000']) {
    it(`port: "${bad}" gives a Warning Event naming the key, writes nothing, and others still work`, async () => {
      const name = `bad-${bad}`;
      await env.createDeployment('invalid', name, { labels: { port: bad, ingReq: 'needed' } });
      const event = await env.waitForEvent('invalid', name, 'InvalidSpec');
      assert.equal(event.type, 'Warning');
      assert.match(event.message ?? '', new RegExp(`port.*${bad}`));
      assert.equal(await env.getService('invalid', name), undefined);
      assert.equal(await env.getIngress('invalid', name), undefined);
      await env.createDeployment('invalid', `ok-after-${bad}`);
      await env.waitForService('invalid', `ok-after-${bad}`);
      assert.equal(await env.getService('invalid', name), undefined, 'still nothing for the invalid one');
    });
  }

  it('fixing the label exposes the Deployment', async () => {
    await env.createDeployment('invalid', 'fixme', { labels: { port: 'http' } });
    await env.waitForEvent('invalid', 'fixme', 'InvalidSpec');
    await env.patchDeploymentLabels('invalid', 'fixme', { port: '9090' });
    const svc = await env.waitForService('invalid', 'fixme');
    assert.equal(port(svc), 9090);
  });
});

describe('namespaces', () => {
  it('two namespaces with Deployments of the same name get distinct hosts with the default template', async () => {
    await env.createNamespace('team-a');
    await env.createNamespace('team-b');
    await env.createDeployment('team-a', 'api', { labels: { ingReq: 'needed' } });
    await env.createDeployment('team-b', 'api', { labels: { ingReq: 'needed' } });
    const a = await env.waitForIngress('team-a', 'api');
    const b = await env.waitForIngress('team-b', 'api');
    assert.equal(host(a), `api.team-a.${DOMAIN}`);
    assert.equal(host(b), `api.team-b.${DOMAIN}`);
    const events = [...(await env.eventsFor('team-a', 'api')), ...(await env.eventsFor('team-b', 'api'))];
    assert.deepEqual(events.filter((e) => e.reason === 'HostConflict'), []);
  });
});

describe('host conflicts', () => {
  it('the older Ingress keeps a host; the younger Deployment is warned and gets the host once it is free', async () => {
    await env.createNamespace('hosts');
    const annotations = { 'ekspose.io/host': 'shared.e2e.test' };
    await env.createDeployment('hosts', 'first', { labels: { ingReq: 'needed' }, annotations });
    await env.waitForIngress('hosts', 'first', (i) => host(i) === 'shared.e2e.test');
    await env.createDeployment('hosts', 'second', { labels: { ingReq: 'needed' }, annotations });
    const warning = await env.waitForEvent('hosts', 'second', 'HostConflict');
    assert.equal(warning.type, 'Warning');
    assert.match(warning.message ?? '', /hosts\/first/);
    await env.waitForService('hosts', 'second');
    assert.equal(await env.getIngress('hosts', 'second'), undefined, 'no second Ingress on the host');

    await env.deleteDeployment('hosts', 'first');
    await env.waitForIngress('hosts', 'second', (i) => host(i) === 'shared.e2e.test');
  });
});
