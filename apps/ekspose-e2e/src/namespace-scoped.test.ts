// The chart's namespace-scoped install (namespaceScoped: true) on a real API
// server with RBAC on: the ServiceAccounts, Roles and bindings `helm template`
// renders for two listed namespaces are applied, and each controller runs with
// nothing but a token of its ServiceAccount. With Roles in those namespaces and
// no cluster-wide read, the controllers must still sync (one list and watch per
// namespace), expose and repair there, and be refused, by the API itself,
// everywhere else.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AuthorizationV1Api, KubeConfig, loadAllYaml } from '@kubernetes/client-node';
import { type KubeClients, createKubeClients, describeError, statusCodeOf } from '@ekspose/k8s';
import { ensureOpsBinaries, helmTemplateArgs, runCaptured, workspaceRoot } from '@ekspose/testing';
import { kubectlOk, writeTokenKubeconfig } from './support/manifests';
import { consistently } from './support/poll';
import { APPS, type AppName, TestEnv } from './support/test-env';

/** The release namespace: its own ServiceAccounts, apart from any other install's. */
const RELEASE_NS = 'ekspose-scoped';
const WATCHED = ['scoped-a', 'scoped-b'];
const OUTSIDE = 'scoped-outside';
const RBAC_KINDS = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];

type Rule = { apiGroups?: string[]; resources?: string[]; nonResourceURLs?: string[]; verbs: string[] };
type Obj = { kind: string; metadata: { name: string; namespace?: string }; rules?: Rule[] };

let env: TestEnv;
let rendered: Obj[];
const tokens = {} as Record<AppName, { clients: KubeClients; authz: AuthorizationV1Api }>;

async function helmTemplate(...set: string[]): Promise<Obj[]> {
  const helm = join(await ensureOpsBinaries(), 'helm');
  const chart = join(workspaceRoot(), 'charts', 'ekspose');
  const args = ['template', 'ekspose', chart, '-n', RELEASE_NS, ...['nats.credentials.existingSecret=ekspose-nats-credentials', ...set].flatMap((s) => ['--set', s])];
  const run = await runCaptured(helm, helmTemplateArgs(args), { timeoutMs: 120_000 });
  assert.equal(run.code, 0, `helm template failed:\n${run.stderr}`);
  return loadAllYaml(run.stdout) as Obj[];
}

async function canI(app: AppName, verb: string, resource: string, namespace?: string): Promise<boolean> {
  const [group = '', plural = ''] = resource.split('/');
  const review = await tokens[app].authz.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { group, resource: plural, verb, namespace } } } });
  return review.status?.allowed === true;
}

async function refused(app: AppName, what: string, call: () => Promise<unknown>): Promise<void> {
  const error = await call().then(
    () => undefined,
    (err: unknown) => err,
  );
  assert.ok(error, `${app}: ${what} was allowed`);
  assert.equal(statusCodeOf(error), 403, `${app}: ${what}: expected 403, got ${describeError(error)}`);
  assert.match(describeError(error), new RegExp(`User "system:serviceaccount:${RELEASE_NS}:${app}" cannot`));
}

before(async () => {
  env = await TestEnv.start({ controllerManager: false });
  for (const ns of [RELEASE_NS, ...WATCHED, OUTSIDE]) await env.createNamespace(ns);
  rendered = await helmTemplate('namespaceScoped=true', `settings.EKSPOSE_WATCH_NAMESPACES=${WATCHED.join('\\,')}`);
  const rbac = rendered.filter((o) => RBAC_KINDS.includes(o.kind));
  await kubectlOk(env.plane, ['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rbac }));
  await Promise.all(
    APPS.map(async (app) => {
      const kubeconfig = join(env.plane.dir, `${app}.scoped.kubeconfig`);
      await writeTokenKubeconfig(env.plane, app, kubeconfig, RELEASE_NS);
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfig);
      tokens[app] = { clients: createKubeClients(kc), authz: kc.makeApiClient(AuthorizationV1Api) };
      // startController waits for /readyz: every cache synced, with nothing but these Roles.
      const proc = await env.startController(app, { KUBECONFIG: kubeconfig, POD_NAMESPACE: RELEASE_NS, EKSPOSE_WATCH_NAMESPACES: WATCHED.join(',') });
      await proc.handle.waitForLog('started leading', { timeoutMs: 30_000 });
      // At shards 1 the chart grants no list of Leases: a new leader waits out one renew deadline before it works.
      // Deployments made before then would be served by whichever controller starts first.
      await proc.handle.waitForLog('work queue started', { timeoutMs: 30_000 });
    }),
  );
});

after(async () => {
  await env?.stop();
});

describe('namespaceScoped: Roles in the listed namespaces instead of ClusterRoles', () => {
  it('renders a Role and RoleBinding per controller in each listed namespace, and no ClusterRole that reads or writes anything', () => {
    for (const app of APPS) {
      const roles = rendered.filter((o) => o.kind === 'Role' && o.metadata.name === `ekspose-${app}`);
      assert.deepEqual(roles.map((r) => r.metadata.namespace).sort(), [...WATCHED].sort(), `${app}: a Role in each listed namespace`);
      const bindings = rendered.filter((o) => o.kind === 'RoleBinding' && o.metadata.name === `ekspose-${app}`);
      assert.deepEqual(bindings.map((r) => r.metadata.namespace).sort(), [...WATCHED].sort());
    }
    // Cluster-wide: the controllers' TokenReviews and SubjectAccessReviews for secure /metrics, and the scraper's GET /metrics.
    const clusterWide = rendered
      .filter((o) => o.kind === 'ClusterRole')
      .flatMap((o) => (o.rules ?? []).flatMap((r) => [...(r.resources ?? []), ...(r.nonResourceURLs ?? [])].map((what) => `${what} ${r.verbs.join(',')}`)));
    assert.ok(clusterWide.length > 0);
    for (const rule of clusterWide) assert.match(rule, /^(tokenreviews create|subjectaccessreviews create|\/metrics get)$/, `a cluster-wide rule beyond secure /metrics: ${rule}`);
  });

  it('refuses to render without namespaces to scope to, saying what to set', async () => {
    const helm = join(await ensureOpsBinaries(), 'helm');
    const args = ['template', 'ekspose', join(workspaceRoot(), 'charts', 'ekspose'), '-n', RELEASE_NS, '--set', 'nats.credentials.existingSecret=x', '--set', 'namespaceScoped=true'];
    const run = await runCaptured(helm, helmTemplateArgs(args), { timeoutMs: 120_000 });
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /namespaceScoped needs settings\.EKSPOSE_WATCH_NAMESPACES/);
  });

  it('each controller syncs and leads with only those Roles: it may not list any kind across the cluster', async () => {
    for (const app of APPS) {
      assert.equal(await canI(app, 'list', 'apps/deployments'), false, `${app} may list Deployments cluster-wide`);
      assert.equal(await canI(app, 'list', '/services'), false, `${app} may list Services cluster-wide`);
      for (const ns of WATCHED) assert.equal(await canI(app, 'watch', 'apps/deployments', ns), true, `${app} may not watch Deployments in ${ns}`);
    }
    const ready = await Promise.all(env.controllers.map((c) => env.probe(c, '/readyz')));
    assert.deepEqual(ready.map((r) => r.status), [200, 200, 200], ready.map((r) => r.body).join('\n'));
  });

  it('exposes Deployments in each listed namespace, and puts back a deleted Service and Ingress', async () => {
    await env.createDeployment(WATCHED[0]!, 'web', { labels: { ingReq: 'needed', port: '8080' } });
    await env.createDeployment(WATCHED[1]!, 'api');
    await env.waitForService(WATCHED[0]!, 'web', (s) => s.spec?.ports?.[0]?.port === 8080);
    await env.waitForIngress(WATCHED[0]!, 'web');
    await env.waitForService(WATCHED[1]!, 'api');
    // The Event is written with the Role too (events.k8s.io in the Deployment's namespace).
    await env.waitForEvent(WATCHED[0]!, 'web', 'Exposed');

    await env.deleteService(WATCHED[0]!, 'web');
    await env.waitForService(WATCHED[0]!, 'web');
    await env.clients.networking.deleteNamespacedIngress({ namespace: WATCHED[0]!, name: 'web' });
    await env.waitForIngress(WATCHED[0]!, 'web');

    await env.deleteDeployment(WATCHED[1]!, 'api');
    await env.waitForGone('service', WATCHED[1]!, 'api');
  });

  it('a Deployment in a namespace not listed gets nothing, and every controller is refused there by RBAC', async () => {
    await env.createDeployment(OUTSIDE, 'web', { labels: { ingReq: 'needed' } });
    await consistently(async () => (await env.clients.core.listNamespacedService({ namespace: OUTSIDE })).items.length === 0, 5_000, `no Service in ${OUTSIDE}`);
    for (const app of APPS) {
      const { clients } = tokens[app];
      await refused(app, `list Deployments in ${OUTSIDE}`, () => clients.apps.listNamespacedDeployment({ namespace: OUTSIDE }));
      await refused(app, `read the Deployment in ${OUTSIDE}`, () => clients.apps.readNamespacedDeployment({ namespace: OUTSIDE, name: 'web' }));
      await refused(app, 'list Deployments in every namespace', () => clients.apps.listDeploymentForAllNamespaces({}));
    }
    const dc = tokens['deployment-controller'].clients;
    await refused('deployment-controller', `create a Service in ${OUTSIDE}`, () =>
      dc.core.createNamespacedService({ namespace: OUTSIDE, body: { metadata: { name: 'web' }, spec: { ports: [{ port: 80 }] } } }),
    );
    for (const c of env.controllers) assert.doesNotMatch(c.handle.readLog(), /forbidden/i, `${c.identity} was refused something it needed`);
  });
});
