// docs/design.md §6 for real: the ServiceAccounts and roles of manifests/ applied to a
// kube-apiserver with RBAC on, each controller run with nothing but a
// TokenRequest token for its own ServiceAccount (no client certificate), doing
// its whole job without one 403; and each token refused, by the API itself,
// what its controller must not do.
//
// No kube-controller-manager here: without the garbage collector, the Service
// and Ingress of a deleted Deployment can only go because the
// deployment-controller deleted them with its own rights.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CoreV1Event, V1Ingress, V1Service } from '@kubernetes/client-node';
import { AuthenticationV1Api, AuthorizationV1Api, KubeConfig, V1MicroTime, loadAllYaml } from '@kubernetes/client-node';
import { type KubeClients, createKubeClients, describeError, mergePatchOptions, statusCodeOf } from '@ekspose/k8s';
import { RBAC_TABLE, MANIFESTS, MANIFESTS_NAMESPACE as NAMESPACE, kubectlOk, writeTokenKubeconfig } from './support/manifests';
import { eventually } from './support/poll';
import { APPS, type AppName, type ControllerProcess, DOMAIN, SHARD_MEMBER_LABEL, TestEnv, leaseName, memberLeaseName, occurrences } from './support/test-env';

/** Where the controllers' work is shown. */
const APP_NS = 'rbac-app';
/** Where the refusals are tried, on objects the controllers made. */
const REFUSE_NS = 'rbac-refuse';
const RBAC_KINDS = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];

/** What the authorizer is asked about, every verb each: RBAC_TABLE's resources, their neighbours, and what a leaked token must never read. Anything RBAC_TABLE does not list must be refused. */
const RESOURCES = [
  'apps/deployments',
  '/services',
  'networking.k8s.io/ingresses',
  'gateway.networking.k8s.io/httproutes',
  'gateway.networking.k8s.io/gateways',
  '/events',
  'events.k8s.io/events',
  '/secrets',
  '/configmaps',
  '/pods',
  'apps/replicasets',
];
const VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];

interface Signed {
  app: AppName;
  token: string;
  kubeconfig: string;
  clients: KubeClients;
  authz: AuthorizationV1Api;
  authn: AuthenticationV1Api;
}

let env: TestEnv;
const signed = {} as Record<AppName, Signed>;
const procs = {} as Record<AppName, ControllerProcess>;

const username = (app: AppName): string => `system:serviceaccount:${NAMESPACE}:${app}`;
const port = (s: V1Service | undefined) => s?.spec?.ports?.[0]?.port;
const backendPort = (i: V1Ingress | undefined) => i?.spec?.rules?.[0]?.http?.paths?.[0]?.backend?.service?.port?.number;

async function kubectl(args: string[], input?: string): Promise<string> {
  return (await kubectlOk(env.plane, args, input)).stdout;
}

/** Only the RBAC objects of `kubectl kustomize manifests/<app>`: no Deployment (the controllers run here as processes). */
async function applyRbac(app: AppName): Promise<void> {
  const rendered = loadAllYaml(await kubectl(['kustomize', join(MANIFESTS, app)])) as { kind: string; metadata: { name: string } }[];
  const rbac = rendered.filter((o) => RBAC_KINDS.includes(o.kind));
  assert.deepEqual(rbac.map((o) => o.kind).sort(), [...RBAC_KINDS].sort(), `${app}: one of each RBAC kind in its manifests`);
  await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rbac }));
}

/** A TokenRequest token for the app's ServiceAccount, in a kubeconfig that holds nothing else. */
async function signIn(app: AppName): Promise<Signed> {
  const kubeconfig = join(env.plane.dir, `${app}.token.kubeconfig`);
  const token = await writeTokenKubeconfig(env.plane, app, kubeconfig);
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return {
    app,
    token,
    kubeconfig,
    clients: createKubeClients(kc),
    authz: kc.makeApiClient(AuthorizationV1Api),
    authn: kc.makeApiClient(AuthenticationV1Api),
  };
}

/** SelfSubjectAccessReview: what the authorizer answers this token, without doing it. */
async function canI(s: Signed, attrs: { verb: string; resource: string; namespace?: string; name?: string }): Promise<boolean> {
  const [group = '', resource = ''] = attrs.resource.split('/');
  const review = await s.authz.createSelfSubjectAccessReview({
    body: { spec: { resourceAttributes: { group, resource, verb: attrs.verb, namespace: attrs.namespace, name: attrs.name } } },
  });
  return review.status?.allowed === true;
}

/** The real request is refused with a 403 whose message matches `by`. */
async function forbidden(s: Signed, what: string, call: () => Promise<unknown>, by: { why: RegExp; who: string }): Promise<void> {
  let error: unknown;
  try {
    await call();
  } catch (err) {
    error = err;
  }
  assert.ok(error, `${s.app}: ${what} was allowed`);
  assert.equal(statusCodeOf(error), 403, `${s.app}: ${what}: expected 403, got ${describeError(error)}`);
  assert.match(describeError(error), by.why, `${s.app}: ${what}: refused by ${by.who}`);
}

/** The real request is refused by the authorizer, for this ServiceAccount (not a 404 or an admission error). */
const refused = (s: Signed, what: string, call: () => Promise<unknown>) => forbidden(s, what, call, { why: new RegExp(`User "${username(s.app)}" cannot`), who: 'RBAC' });

/** Another operator's leader Lease in the controllers' namespace: none of them may touch it. */
const OTHER_LEASE = 'another-operator-leader';

/**
 * SelfSubjectAccessReviews of every Lease verb each token may or may not use: with `named(app, lease)`
 * true, get and update; create and, with `members`, list, and get, update and delete of any name.
 * Returns what the authorizer answers otherwise.
 */
async function leaseAnswers(named: (app: AppName, lease: string) => boolean, members: boolean): Promise<string[]> {
  const wrong: string[] = [];
  const check = async (app: AppName, verb: string, namespace: string | undefined, name: string | undefined, expected: boolean) => {
    const allowed = await canI(signed[app], { verb, resource: 'coordination.k8s.io/leases', namespace, name });
    if (allowed !== expected) wrong.push(`${app} ${verb} lease ${namespace ?? '*'}/${name ?? '*'}: ${allowed ? 'allowed' : 'refused'}`);
  };
  const names = [OTHER_LEASE, ...APPS.flatMap((owner) => [leaseName(owner), memberLeaseName(owner, `${owner}-7d9f8-x2k4q`)])];
  await Promise.all(
    APPS.flatMap((app) => [
      ...names.flatMap((name) => [
        ...['get', 'update'].map((verb) => check(app, verb, NAMESPACE, name, members || named(app, name))),
        check(app, 'delete', NAMESPACE, name, members),
        check(app, 'patch', NAMESPACE, name, false),
      ]),
      check(app, 'create', NAMESPACE, undefined, true),
      check(app, 'list', NAMESPACE, undefined, members),
      ...['watch', 'deletecollection', 'patch'].map((verb) => check(app, verb, NAMESPACE, undefined, false)),
      ...['get', 'update', 'delete', 'create', 'list'].flatMap((verb) => [
        check(app, verb, APP_NS, ['create', 'list'].includes(verb) ? undefined : leaseName(app), false),
        check(app, verb, 'default', ['create', 'list'].includes(verb) ? undefined : memberLeaseName(app, 'x'), false),
      ]),
      check(app, 'list', undefined, undefined, false),
    ]),
  );
  return wrong;
}

/** The request is refused by the lease policy (a ValidatingAdmissionPolicy), not by RBAC. */
const deniedByPolicy = (s: Signed, what: string, call: () => Promise<unknown>) =>
  forbidden(s, what, call, { why: /ValidatingAdmissionPolicy 'ekspose-leases'.*denied request: .*may write only its own Leases/s, who: 'the lease policy' });

async function events(namespace: string, name: string, reason: string): Promise<CoreV1Event[]> {
  const list = await env.clients.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
  return list.items.filter((e) => e.reason === reason);
}

const logs = (): string => env.logs();

before(async () => {
  env = await TestEnv.start({ controllerManager: false });
  await kubectl(['apply', '-f', join(MANIFESTS, 'namespace.yaml')]);
  for (const app of APPS) await applyRbac(app);
  for (const app of APPS) signed[app] = await signIn(app);
  await env.createNamespace(APP_NS);
  await env.createNamespace(REFUSE_NS);
  const started = await Promise.all(
    APPS.map((app) => env.startController(app, { KUBECONFIG: signed[app].kubeconfig, POD_NAMESPACE: NAMESPACE })),
  );
  for (const p of started) procs[p.app] = p;
  await Promise.all(started.map((p) => p.handle.waitForLog('started leading', { timeoutMs: 30_000 })));
});

after(async () => {
  await env?.stop();
});

describe('each controller, signed in with only its ServiceAccount token', () => {
  it('is that ServiceAccount, and holds its Lease in the controllers\' namespace', async () => {
    for (const app of APPS) {
      const kubeconfig = readFileSync(signed[app].kubeconfig, 'utf8');
      assert.doesNotMatch(kubeconfig, /client-(certificate|key)/, 'no client certificate beside the token');
      const review = await signed[app].authn.createSelfSubjectReview({ body: {} });
      assert.equal(review.status?.userInfo?.username, username(app));
      assert.ok(review.status?.userInfo?.groups?.includes('system:serviceaccounts'), 'in the ServiceAccounts group');
      assert.ok(!review.status?.userInfo?.groups?.includes('system:masters'), 'not an admin');

      const lease = await env.clients.coordination.readNamespacedLease({ namespace: NAMESPACE, name: leaseName(app) });
      assert.equal(lease.spec?.holderIdentity, procs[app].identity);
    }
  });

  it('deployment-controller: creates the Service and Ingress, and patches both when the port changes', async () => {
    await env.createDeployment(APP_NS, 'web', { labels: { ingReq: 'needed', port: '8080' } });
    const svc = await env.waitForService(APP_NS, 'web', (s) => port(s) === 8080);
    const ing = await env.waitForIngress(APP_NS, 'web', (i) => backendPort(i) === 8080);
    assert.equal(ing.spec?.rules?.[0]?.host, `web.${APP_NS}.${DOMAIN}`);

    await env.patchDeploymentLabels(APP_NS, 'web', { port: '9090' });
    const patched = await env.waitForService(APP_NS, 'web', (s) => port(s) === 9090);
    assert.equal(patched.metadata?.uid, svc.metadata?.uid, 'patched, not recreated');
    const patchedIng = await env.waitForIngress(APP_NS, 'web', (i) => backendPort(i) === 9090);
    assert.equal(patchedIng.metadata?.uid, ing.metadata?.uid, 'patched, not recreated');
  });

  it('deployment-controller: a Warning Event for an invalid port, and the same warning again patches its series', async () => {
    await env.createDeployment(APP_NS, 'bad-port', { labels: { port: 'abc' } });
    const first = await eventually(async () => (await events(APP_NS, 'bad-port', 'InvalidSpec'))[0], {
      what: 'InvalidSpec Event (create)',
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n${logs()}`);
    });
    assert.equal(first.type, 'Warning');
    assert.equal(occurrences(first), 1);
    assert.equal(first.series, undefined, 'a first occurrence has no series');
    assert.equal(first.reportingComponent, 'ekspose-deployment-controller');
    assert.equal(first.action, 'Validate');
    // A new resourceVersion with the same problem: reported again, the recorder aggregates it into the existing Event.
    await env.clients.apps.patchNamespacedDeployment(
      { namespace: APP_NS, name: 'bad-port', body: { metadata: { annotations: { 'example.com/poke': '1' } } } },
      mergePatchOptions(),
    );
    const again = await eventually(
      async () => {
        const found = await events(APP_NS, 'bad-port', 'InvalidSpec');
        return found.length === 1 && found[0] && occurrences(found[0]) === 2 ? found[0] : undefined;
      },
      { what: 'the InvalidSpec Event patched to series count 2' },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${logs()}`);
    });
    assert.equal(again.metadata?.name, first.metadata?.name, 'the same Event, patched');
    assert.equal(await env.getService(APP_NS, 'bad-port'), undefined);

    // The same Event through the API it was written with, and as users read it.
    const v1 = await env.clients.events.readNamespacedEvent({ namespace: APP_NS, name: first.metadata?.name ?? '' });
    assert.equal(v1.regarding?.uid, first.involvedObject.uid);
    assert.equal(v1.reportingController, 'ekspose-deployment-controller');
    assert.equal(v1.series?.count, 2);
    assert.match(v1.note ?? '', /port "abc": must be an integer/);
    const described = await kubectl(['-n', APP_NS, 'describe', 'deployment', 'bad-port']);
    assert.match(described, /Warning\s+InvalidSpec\s+.*\(x2 over .*\)\s+ekspose-deployment-controller\s+not exposed: port "abc"/);
    const listed = await kubectl(['-n', APP_NS, 'events', '--for', 'deployment/bad-port']);
    assert.match(listed, /Warning\s+InvalidSpec\s+Deployment\/bad-port\s+not exposed: port "abc"/);
  });

  it('service-controller and ingress-controller: create a Service and an Ingress deleted by hand, with their Events', async () => {
    const oldSvc = await env.getService(APP_NS, 'web');
    const oldIng = await env.getIngress(APP_NS, 'web');
    assert.ok(oldSvc && oldIng);
    await Promise.all([env.deleteService(APP_NS, 'web'), env.deleteIngress(APP_NS, 'web')]);
    const svc = await env.waitForService(APP_NS, 'web', (s) => s.metadata?.uid !== oldSvc.metadata?.uid);
    const ing = await env.waitForIngress(APP_NS, 'web', (i) => i.metadata?.uid !== oldIng.metadata?.uid);
    assert.equal(port(svc), 9090);
    assert.equal(backendPort(ing), 9090);
    const svcEvent = await env.waitForEvent(APP_NS, 'web', 'ServiceRecreated');
    const ingEvent = await env.waitForEvent(APP_NS, 'web', 'IngressRecreated');
    assert.equal(svcEvent.reportingComponent, 'ekspose-service-controller');
    assert.equal(ingEvent.reportingComponent, 'ekspose-ingress-controller');
  });

  it('deployment-controller: deletes the Ingress when ingReq goes, and both objects when the Deployment goes (no garbage collector here)', async () => {
    await env.patchDeploymentLabels(APP_NS, 'web', { ingReq: null });
    await env.waitForGone('ingress', APP_NS, 'web');
    assert.ok(await env.getService(APP_NS, 'web'), 'the Service stays');
    await env.patchDeploymentLabels(APP_NS, 'web', { ingReq: 'needed' });
    await env.waitForIngress(APP_NS, 'web');

    await env.deleteDeployment(APP_NS, 'web');
    await env.waitForGone('service', APP_NS, 'web');
    await env.waitForGone('ingress', APP_NS, 'web');
  });
});

describe('each ServiceAccount is refused what docs/design.md §6 does not grant', () => {
  let victim: { service: V1Service; ingress: V1Ingress };

  before(async () => {
    // Real objects to try the forbidden requests on, made by the controllers themselves.
    await env.createDeployment(REFUSE_NS, 'target', { labels: { ingReq: 'needed' } });
    victim = { service: await env.waitForService(REFUSE_NS, 'target'), ingress: await env.waitForIngress(REFUSE_NS, 'target') };
    for (const ns of [REFUSE_NS, NAMESPACE]) {
      await env.clients.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'not-yours' }, stringData: { password: 'x' } } });
    }
  });

  it('the authorizer answers exactly the §6 table, namespaced and cluster-wide (SelfSubjectAccessReview)', async () => {
    const wrong: string[] = [];
    await Promise.all(
      APPS.flatMap((app) =>
        RESOURCES.flatMap((resource) =>
          VERBS.flatMap((verb) =>
            [REFUSE_NS, undefined].map(async (namespace) => {
              const expected = RBAC_TABLE[app][resource]?.includes(verb) ?? false;
              const allowed = await canI(signed[app], { verb, resource, namespace });
              if (allowed !== expected) wrong.push(`${app} ${verb} ${resource} in ${namespace ?? 'all namespaces'}: ${allowed ? 'allowed' : 'refused'}`);
            }),
          ),
        ),
      ),
    );
    assert.deepEqual(wrong.sort(), []);
  });

  it('Leases at shards 1: get and update its own leader Lease by name, and create; nothing of another Lease, never list, delete, patch or watch (SelfSubjectAccessReview)', async () => {
    const wrong = await leaseAnswers((app, name) => name === leaseName(app), false);
    assert.deepEqual(wrong.sort(), []);
  });

  it('at shards 1 its token cannot delete another Lease of its namespace: kubectl auth can-i says no, and the real delete is refused', async () => {
    await env.clients.coordination.createNamespacedLease({
      namespace: NAMESPACE,
      body: { metadata: { name: OTHER_LEASE }, spec: { holderIdentity: 'another-operator-0', leaseDurationSeconds: 15 } },
    });
    const before = await env.clients.coordination.readNamespacedLease({ namespace: NAMESPACE, name: OTHER_LEASE });
    for (const app of APPS) {
      const other = APPS.find((a) => a !== app)!;
      for (const name of [OTHER_LEASE, leaseName(other)]) {
        const canI = await env.plane.kubectl(['--kubeconfig', signed[app].kubeconfig, '-n', NAMESPACE, 'auth', 'can-i', 'delete', `leases.coordination.k8s.io/${name}`]);
        assert.deepEqual([canI.stdout.trim(), canI.code], ['no', 1], `${app}: kubectl auth can-i delete lease ${name}`);
        const s = signed[app];
        await refused(s, `delete Lease ${name}`, () => s.clients.coordination.deleteNamespacedLease({ namespace: NAMESPACE, name }));
        await refused(s, `update Lease ${name}`, async () => {
          const read = await env.clients.coordination.readNamespacedLease({ namespace: NAMESPACE, name });
          return s.clients.coordination.replaceNamespacedLease({ namespace: NAMESPACE, name, body: { ...read, spec: { ...read.spec, holderIdentity: app } } });
        });
        await refused(s, `get Lease ${name}`, () => s.clients.coordination.readNamespacedLease({ namespace: NAMESPACE, name }));
      }
      await refused(signed[app], 'list Leases', () => signed[app].clients.coordination.listNamespacedLease({ namespace: NAMESPACE }));
    }
    const after = await env.clients.coordination.readNamespacedLease({ namespace: NAMESPACE, name: OTHER_LEASE });
    assert.equal(after.metadata?.resourceVersion, before.metadata?.resourceVersion, `${OTHER_LEASE} untouched`);
  });

  it('service-controller: cannot delete or patch Ingresses, create Deployments, or patch or delete Services', async () => {
    const s = signed['service-controller'];
    await refused(s, 'delete Ingress', () => s.clients.networking.deleteNamespacedIngress({ namespace: REFUSE_NS, name: 'target' }));
    await refused(s, 'patch Ingress', () =>
      s.clients.networking.patchNamespacedIngress({ namespace: REFUSE_NS, name: 'target', body: { metadata: { labels: { x: 'y' } } } }, mergePatchOptions()),
    );
    await refused(s, 'create Deployment', () =>
      s.clients.apps.createNamespacedDeployment({ namespace: REFUSE_NS, body: deploymentBody('from-service-controller') }),
    );
    await refused(s, 'delete Service', () => s.clients.core.deleteNamespacedService({ namespace: REFUSE_NS, name: 'target' }));
    await refused(s, 'patch Service', () =>
      s.clients.core.patchNamespacedService({ namespace: REFUSE_NS, name: 'target', body: { spec: { ports: [{ port: 1 }] } } }, mergePatchOptions()),
    );
    assert.equal(await env.getDeployment(REFUSE_NS, 'from-service-controller'), undefined);
  });

  it('ingress-controller: cannot delete Services, create Services, or patch or delete Ingresses', async () => {
    const s = signed['ingress-controller'];
    await refused(s, 'delete Service', () => s.clients.core.deleteNamespacedService({ namespace: REFUSE_NS, name: 'target' }));
    await refused(s, 'create Service', () =>
      s.clients.core.createNamespacedService({ namespace: REFUSE_NS, body: { metadata: { name: 'from-ingress-controller' }, spec: { ports: [{ port: 80 }] } } }),
    );
    await refused(s, 'delete Ingress', () => s.clients.networking.deleteNamespacedIngress({ namespace: REFUSE_NS, name: 'target' }));
    await refused(s, 'patch Ingress', () =>
      s.clients.networking.patchNamespacedIngress({ namespace: REFUSE_NS, name: 'target', body: { metadata: { labels: { x: 'y' } } } }, mergePatchOptions()),
    );
    assert.equal(await env.getService(REFUSE_NS, 'from-ingress-controller'), undefined);
  });

  it('deployment-controller: cannot create, patch or delete Deployments', async () => {
    const s = signed['deployment-controller'];
    await refused(s, 'create Deployment', () =>
      s.clients.apps.createNamespacedDeployment({ namespace: REFUSE_NS, body: deploymentBody('from-deployment-controller') }),
    );
    await refused(s, 'patch Deployment', () =>
      s.clients.apps.patchNamespacedDeployment({ namespace: REFUSE_NS, name: 'target', body: { metadata: { labels: { port: '1' } } } }, mergePatchOptions()),
    );
    await refused(s, 'delete Deployment', () => s.clients.apps.deleteNamespacedDeployment({ namespace: REFUSE_NS, name: 'target' }));
    assert.equal(await env.getDeployment(REFUSE_NS, 'from-deployment-controller'), undefined);
  });

  it('none can read Secrets, in the watched namespaces or in its own', async () => {
    for (const app of APPS) {
      const s = signed[app];
      await refused(s, 'get Secret', () => s.clients.core.readNamespacedSecret({ namespace: REFUSE_NS, name: 'not-yours' }));
      await refused(s, 'get Secret in its own namespace', () => s.clients.core.readNamespacedSecret({ namespace: NAMESPACE, name: 'not-yours' }));
      await refused(s, 'list Secrets', () => s.clients.core.listNamespacedSecret({ namespace: NAMESPACE }));
      await refused(s, 'list Secrets in all namespaces', () => s.clients.core.listSecretForAllNamespaces());
    }
  });

  it('none can patch a Lease, or create, read or list Leases outside its namespace', async () => {
    for (const app of APPS) {
      const s = signed[app];
      const before = await env.clients.coordination.readNamespacedLease({ namespace: NAMESPACE, name: leaseName(app) });
      await refused(s, `patch Lease ${leaseName(app)}`, () =>
        s.clients.coordination.patchNamespacedLease(
          { namespace: NAMESPACE, name: leaseName(app), body: { spec: { holderIdentity: `${app}-intruder` } } },
          mergePatchOptions(),
        ),
      );
      const after = await env.clients.coordination.readNamespacedLease({ namespace: NAMESPACE, name: leaseName(app) });
      assert.equal(after.metadata?.resourceVersion, before.metadata?.resourceVersion, `${leaseName(app)} untouched`);
      for (const namespace of [APP_NS, 'default']) {
        await refused(s, `list Leases in ${namespace}`, () => s.clients.coordination.listNamespacedLease({ namespace }));
        await refused(s, `get Lease in ${namespace}`, () => s.clients.coordination.readNamespacedLease({ namespace, name: leaseName(app) }));
        await refused(s, `create Lease in ${namespace}`, () =>
          s.clients.coordination.createNamespacedLease({
            namespace,
            body: { metadata: { name: leaseName(app) }, spec: { holderIdentity: app, leaseDurationSeconds: 15 } },
          }),
        );
      }
    }
  });

  it('the objects the refused requests aimed at are untouched', async () => {
    const svc = await env.getService(REFUSE_NS, 'target');
    const ing = await env.getIngress(REFUSE_NS, 'target');
    assert.equal(svc?.metadata?.resourceVersion, victim.service.metadata?.resourceVersion);
    assert.equal(ing?.metadata?.resourceVersion, victim.ingress.metadata?.resourceVersion);
    assert.equal((await env.getDeployment(REFUSE_NS, 'target'))?.metadata?.labels?.port, undefined);
  });
});

describe('with manifests/member-leases (EKSPOSE_SHARDS > 1), and manifests/lease-policy', () => {
  before(async () => {
    // The member-Lease rule the component adds to each controller's Role, applied over the Roles of shards 1.
    const overlay = mkdtempSync(join(tmpdir(), 'ekspose-member-leases-'));
    writeFileSync(join(overlay, 'kustomization.yaml'), `resources: [${relative(overlay, MANIFESTS)}]\ncomponents: [${relative(overlay, join(MANIFESTS, 'member-leases'))}]\n`);
    const roles = (loadAllYaml(await kubectl(['kustomize', overlay])) as { kind: string }[]).filter((o) => o.kind === 'Role');
    assert.equal(roles.length, APPS.length);
    await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: roles }));
  });

  it('Leases: create, get, list, update and delete in its own namespace only, never patch, watch or deletecollection (SelfSubjectAccessReview)', async () => {
    // The member Leases are named after pods no Role can know, so get, update and delete hold for
    // any Lease of the namespace: another controller's too (manifests/member-leases says why).
    let wrong: string[] = [];
    await eventually(async () => (wrong = await leaseAnswers(() => true, true)).length === 0, { what: 'the member-Lease rule in force', timeoutMs: 10_000 }).catch(() => undefined);
    assert.deepEqual(wrong.sort(), []);
  });

  it('member Leases with the token alone: each creates its own, finds it by its label, renews it, and deletes one of a replica long gone', async () => {
    for (const app of APPS) {
      const s = signed[app];
      const mine = memberLeaseName(app, `${app}-rbac-probe`);
      const gone = memberLeaseName(app, `${app}-long-gone`);
      const body = (name: string) => ({
        metadata: { name, labels: { [SHARD_MEMBER_LABEL]: app } },
        spec: { holderIdentity: name, leaseDurationSeconds: 15, renewTime: new V1MicroTime(Date.now()) },
      });
      await s.clients.coordination.createNamespacedLease({ namespace: NAMESPACE, body: body(mine) });
      await s.clients.coordination.createNamespacedLease({ namespace: NAMESPACE, body: body(gone) });
      const listed = await s.clients.coordination.listNamespacedLease({ namespace: NAMESPACE, labelSelector: `${SHARD_MEMBER_LABEL}=${app}` });
      assert.deepEqual(listed.items.map((l) => l.metadata?.name).sort(), [mine, gone].sort(), `${app} lists its members by label`);
      const read = await s.clients.coordination.readNamespacedLease({ namespace: NAMESPACE, name: mine });
      const renewed = await s.clients.coordination.replaceNamespacedLease({
        namespace: NAMESPACE,
        name: mine,
        body: { ...read, spec: { ...read.spec, renewTime: new V1MicroTime(Date.now() + 1000) } },
      });
      assert.notEqual(renewed.metadata?.resourceVersion, read.metadata?.resourceVersion, `${app} renewed its member Lease`);
      await s.clients.coordination.deleteNamespacedLease({ namespace: NAMESPACE, name: gone });
      await s.clients.coordination.deleteNamespacedLease({ namespace: NAMESPACE, name: mine });
      const left = await env.clients.coordination.listNamespacedLease({ namespace: NAMESPACE, labelSelector: `${SHARD_MEMBER_LABEL}=${app}` });
      assert.deepEqual(left.items.map((l) => l.metadata?.name), [], `${app} deleted both`);
    }
  });

  it('the lease policy (ValidatingAdmissionPolicy) refuses each token every Lease write but to its own Leases; others write on', async () => {
    await kubectl(['apply', '-k', join(MANIFESTS, 'lease-policy')]);
    const other = (app: AppName) => APPS.find((a) => a !== app)!;
    // A policy takes effect once the API server has compiled it: poll with a create it must refuse
    // (and take back what got through before that).
    const probe = signed['deployment-controller'].clients.coordination;
    await eventually(
      async () => {
        try {
          await probe.createNamespacedLease({ namespace: NAMESPACE, body: { metadata: { name: 'policy-probe' }, spec: { holderIdentity: 'x' } } });
        } catch (err) {
          return statusCodeOf(err) === 403;
        }
        await env.clients.coordination.deleteNamespacedLease({ namespace: NAMESPACE, name: 'policy-probe' });
        return false;
      },
      { what: 'the lease policy in force' },
    );
    const ownMember = (app: AppName) => memberLeaseName(app, `${app}-policy-probe`);
    for (const app of APPS) {
      const s = signed[app];
      const c = s.clients.coordination;
      // Its own: the member Lease it creates, renews and deletes.
      await c.createNamespacedLease({ namespace: NAMESPACE, body: { metadata: { name: ownMember(app), labels: { [SHARD_MEMBER_LABEL]: app } }, spec: { holderIdentity: app } } });
      const mine = await c.readNamespacedLease({ namespace: NAMESPACE, name: ownMember(app) });
      await c.replaceNamespacedLease({ namespace: NAMESPACE, name: ownMember(app), body: { ...mine, spec: { ...mine.spec, leaseDurationSeconds: 15 } } });
      await c.deleteNamespacedLease({ namespace: NAMESPACE, name: ownMember(app) });
      // Not its own, though RBAC allows it: another operator's Lease, another controller's leader and member Leases.
      const theirs = [OTHER_LEASE, leaseName(other(app)), memberLeaseName(other(app), 'x')];
      await env.clients.coordination.createNamespacedLease({ namespace: NAMESPACE, body: { metadata: { name: memberLeaseName(other(app), 'x') }, spec: { holderIdentity: 'x' } } }).catch(() => undefined);
      for (const name of theirs) {
        const before = await env.clients.coordination.readNamespacedLease({ namespace: NAMESPACE, name });
        await deniedByPolicy(s, `delete Lease ${name}`, () => c.deleteNamespacedLease({ namespace: NAMESPACE, name }));
        await deniedByPolicy(s, `update Lease ${name}`, () => c.replaceNamespacedLease({ namespace: NAMESPACE, name, body: { ...before, spec: { ...before.spec, holderIdentity: app } } }));
        // (The leader Leases are renewed meanwhile by their own controllers: the holder is what must stay.)
        const after = await env.clients.coordination.readNamespacedLease({ namespace: NAMESPACE, name });
        assert.equal(after.spec?.holderIdentity, before.spec?.holderIdentity, `${name} untouched`);
      }
      await deniedByPolicy(s, 'create Lease not-ekspose', () => c.createNamespacedLease({ namespace: NAMESPACE, body: { metadata: { name: 'not-ekspose' }, spec: { holderIdentity: app } } }));
      await deniedByPolicy(s, `create Lease ${memberLeaseName(other(app), 'y')}`, () =>
        c.createNamespacedLease({ namespace: NAMESPACE, body: { metadata: { name: memberLeaseName(other(app), 'y') }, spec: { holderIdentity: app } } }),
      );
    }
    // Everyone else is not the policy's business: the admin deletes another operator's Lease.
    await env.clients.coordination.deleteNamespacedLease({ namespace: NAMESPACE, name: OTHER_LEASE });
    // The running controllers renew their leader Leases through it (no 403 in their logs: see shutdown).
    for (const app of APPS) {
      const first = (await env.clients.coordination.readNamespacedLease({ namespace: NAMESPACE, name: leaseName(app) })).metadata?.resourceVersion;
      await eventually(async () => (await env.clients.coordination.readNamespacedLease({ namespace: NAMESPACE, name: leaseName(app) })).metadata?.resourceVersion !== first, {
        what: `${leaseName(app)} renewed under the policy`,
      });
    }
  });
});

describe('shutdown', () => {
  it('each releases its Lease (update) and exits 0 on SIGTERM, and no controller was ever refused anything', async () => {
    const exits = await Promise.all(APPS.map((app) => procs[app].handle.stop(12_000)));
    assert.deepEqual(exits.map((e) => e.code), [0, 0, 0], logs());
    for (const app of APPS) {
      const lease = await env.clients.coordination.readNamespacedLease({ namespace: NAMESPACE, name: leaseName(app) });
      assert.ok(!lease.spec?.holderIdentity, `${leaseName(app)} released, holder: ${lease.spec?.holderIdentity}`);
    }
    // A refusal reads "... is forbidden: User ... cannot ..." (HTTP 403) in whatever the client or describeError logged.
    for (const app of APPS) {
      const lines = procs[app].handle.readLog().split('\n');
      assert.ok(lines.some((l) => l.includes('started leading')), `${app} log is there`);
      assert.deepEqual(lines.filter((l) => /forbidden|HTTP(-Code:)? 403/i.test(l)), [], `${app} was refused something`);
    }
  });
});

function deploymentBody(name: string) {
  return {
    metadata: { name },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } },
    },
  };
}
