// `ekspose status` (and `kubectl ekspose status`) against a real plane with
// ekspose running and each state present: exposed as a Service only, through an
// Ingress and through an HTTPRoute; invalid; a conflict with a Service of
// someone else's; waiting for a host another Deployment holds; an HTTPRoute
// its Gateway does not accept; ignored.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HTTP_ROUTES, type ExposureStatus } from '@ekspose/expose';
import { mergePatchOptions } from '@ekspose/k8s';
import { ekspose as run, statusRows } from './support/cli';
import { eventually } from './support/poll';
import { CONTROLLER_NAMESPACE, DOMAIN, TestEnv } from './support/test-env';

const NS = 'status';
const GATEWAY = { 'ekspose.io/route-kind': 'httproute', 'ekspose.io/gateway': 'infra/public' };
let env: TestEnv;

const ekspose = (args: string[], extraPath = '') => run(env.plane, args, extraPath);
const rows = (args: string[] = ['status', '-n', NS, '-o', 'json']) => statusRows(env.plane, args);

const EXPECTED: Record<string, Pick<ExposureStatus, 'exposedAs' | 'url' | 'state'> & { reason?: RegExp }> = {
  plain: { exposedAs: 'Service only', url: `http://plain.${NS}.svc/`, state: 'exposed' },
  web: { exposedAs: 'Ingress', url: `http://web.${NS}.${DOMAIN}/shop`, state: 'exposed' },
  route: { exposedAs: 'HTTPRoute', url: `http://route.${NS}.${DOMAIN}/`, state: 'not accepted', reason: /not accepted by Gateway infra\/public \(example\.com\/stand-in\): NotAllowedByListeners: no listener/ },
  'bad-port': { exposedAs: 'Service only', url: '', state: 'invalid', reason: /port "abc": must be an integer/ },
  taken: { exposedAs: 'Service only', url: '', state: 'conflict', reason: /Service taken is not ekspose's: it has no app\.kubernetes\.io\/managed-by=ekspose label/ },
  second: { exposedAs: 'Ingress', url: '', state: 'waiting for host', reason: new RegExp(`web\\.${NS}\\.${DOMAIN}`) },
  skipped: { exposedAs: '-', url: '', state: 'ignored', reason: /ekspose\.io\/ignore=true/ },
};

describe('ekspose status', { timeout: 240_000 }, () => {
  before(async () => {
    env = await TestEnv.start({ controllerManager: false });
    await env.plane.installGatewayApi();
    await env.createNamespace(NS);
    await env.startAll();
    // Someone else's Service first: ekspose must not take it.
    await env.clients.core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'taken' }, spec: { selector: { app: 'taken' }, ports: [{ port: 80 }] } } });
    await env.createDeployment(NS, 'plain');
    await env.createDeployment(NS, 'web', { labels: { ingReq: 'needed' }, annotations: { 'ekspose.io/path': '/shop' } });
    await env.createDeployment(NS, 'route', { labels: { ingReq: 'needed' }, annotations: GATEWAY });
    await env.createDeployment(NS, 'bad-port', { labels: { port: 'abc' } });
    await env.createDeployment(NS, 'taken');
    await env.createDeployment(NS, 'skipped', { labels: { 'ekspose.io/ignore': 'true' } });
    await env.waitForIngress(NS, 'web');
    // The same host and path as web, which had them first.
    await env.createDeployment(NS, 'second', { labels: { ingReq: 'needed' }, annotations: { 'ekspose.io/host': `web.${NS}.${DOMAIN}`, 'ekspose.io/path': '/shop' } });
    await env.waitForEvent(NS, 'second', 'HostConflict');
    await env.waitForEvent(NS, 'taken', 'ServiceConflict');
    await env.waitForEvent(NS, 'bad-port', 'InvalidSpec');
    await eventually(async () => {
      try {
        return await env.clients.custom.getNamespacedCustomObject({ ...HTTP_ROUTES, namespace: NS, name: 'route' });
      } catch {
        return undefined;
      }
    }, { what: 'HTTPRoute route' });
    // No Gateway implementation runs here: this status write stands in for a Gateway controller's.
    await env.clients.custom.patchNamespacedCustomObjectStatus(
      {
        ...HTTP_ROUTES,
        namespace: NS,
        name: 'route',
        body: {
          status: {
            parents: [
              {
                parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'infra', name: 'public' },
                controllerName: 'example.com/stand-in',
                conditions: [{ type: 'Accepted', status: 'False', reason: 'NotAllowedByListeners', message: 'no listener allows this namespace', observedGeneration: 1, lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }],
              },
            ],
          },
        },
      },
      mergePatchOptions(),
    );
  });

  after(async () => {
    await env?.stop();
  });

  it('-o json: one row per Deployment, each state with its URL and reason', async () => {
    const got = await eventually(async () => {
      const list = await rows();
      return list.find((r) => r.name === 'route')?.state === 'not accepted' && list.find((r) => r.name === 'plain')?.state === 'exposed' ? list : undefined;
    }, { timeoutMs: 60_000, what: 'ekspose status showing every state' });
    assert.deepEqual(got.map((r) => r.name), Object.keys(EXPECTED).sort());
    for (const row of got) {
      const want = EXPECTED[row.name]!;
      assert.deepEqual([row.namespace, row.exposedAs, row.url, row.state], [NS, want.exposedAs, want.url, want.state], row.name);
      if (want.reason) assert.match(row.reason, want.reason, row.name);
      else assert.equal(row.reason, '', row.name);
    }
  });

  it('a fixed Deployment leaves its old Warning behind: bad-port exposed once its port is valid', async () => {
    await env.patchDeploymentLabels(NS, 'bad-port', { port: '8080' });
    await env.waitForService(NS, 'bad-port');
    const row = await eventually(async () => (await rows()).find((r) => r.name === 'bad-port' && r.state === 'exposed'), { what: 'bad-port exposed' });
    assert.equal(row.url, `http://bad-port.${NS}.svc:8080/`);
  });

  it('as a kubectl plugin, a table like kubectl\'s; -A spans namespaces but leaves out ekspose\'s own and the system ones', async () => {
    const run = await ekspose(['status', '-n', NS], env.plane.binDir);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^NAME\s+EXPOSED AS\s+URL\s+STATE\s+REASON$/);
    assert.ok(lines.some((l) => new RegExp(`^web\\s+Ingress\\s+http://web\\.${NS}\\.${DOMAIN}/shop\\s+exposed$`).test(l)), run.stdout);
    assert.ok(lines.some((l) => /^second\s+Ingress\s+-\s+waiting for host\s+/.test(l)), run.stdout);
    await env.createDeployment(CONTROLLER_NAMESPACE, 'deployment-controller', { labels: { 'app.kubernetes.io/part-of': 'ekspose', 'app.kubernetes.io/component': 'controller' } });
    const all = await rows(['status', '-A', '-o', 'json']);
    assert.ok(all.length >= Object.keys(EXPECTED).length && all.every((r) => r.namespace === NS), JSON.stringify(all.map((r) => `${r.namespace}/${r.name}`)));
    const table = await ekspose(['status', '--all-namespaces']);
    assert.match(table.stdout.split('\n')[0]!, /^NAMESPACE\s+NAME\s+EXPOSED AS/);
  });

  it('bad flags and an unreachable cluster: exit 1 with the reason', async () => {
    const bad = await ekspose(['status', '-o', 'yaml']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--output must be table or json, not "yaml"/);
    const both = await ekspose(['status', '-n', NS, '-A']);
    assert.match(both.stderr, /use --namespace or --all-namespaces, not both/);
    const gone = await ekspose(['status', '--kubeconfig', '/nonexistent/kubeconfig']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^ekspose: cannot load the kubeconfig \(KUBECONFIG=\/nonexistent\/kubeconfig\)/);
  });
});
