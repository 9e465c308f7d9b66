// The Helm chart (charts/ekspose) against the manifests it must not drift
// from, and against a real API server: `helm lint`, `helm template` compared
// object by object with `kubectl kustomize manifests/` (kinds, names, RBAC
// rules, container settings, selectors, data), values.schema.json refusing bad
// values with a clear message, a server-side dry run of what it renders, and
// a real `helm install` and `helm upgrade` that keep the NATS passwords.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadAllYaml } from '@kubernetes/client-node';
import { SETTINGS_ENV_VARS } from '@ekspose/expose';
import { type ControlPlane, ensureOpsBinaries, runCaptured, startControlPlane, workspaceRoot } from '@ekspose/testing';
import { MANIFESTS, installMonitoringCrds, kubectlOk, renderWithMonitoring } from './support/manifests';

const CHART = join(workspaceRoot(), 'charts', 'ekspose');
const NAMESPACE = 'ekspose';
/** What only one side has, and why: everything else must match. */
const ONLY_IN_KUSTOMIZE = new Set([
  // Helm installs into a namespace it does not own (helm install -n ekspose --create-namespace).
  'Namespace//ekspose',
]);
const ONLY_IN_CHART = new Set([
  // The chart makes the NATS passwords; with kustomize the user creates this Secret (manifests/README.md).
  `Secret/${NAMESPACE}/ekspose-nats-credentials`,
]);
/** Per-pod settings the chart sets itself (and the ports its probes use), so values.settings leaves them out. */
const CHART_OWNED_SETTINGS = ['NATS_USER', 'NATS_PASSWORD', 'KUBECONFIG', 'POD_NAMESPACE', 'POD_NAME', 'EKSPOSE_METRICS_PORT', 'EKSPOSE_HEALTH_PORT'];

type Obj = { kind: string; metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: unknown };

let plane: ControlPlane;
let helmBin: string;
let ops: string;

async function helm(args: string[], ok = true) {
  const run = await runCaptured(helmBin, args, { timeoutMs: 120_000, env: { ...process.env, KUBECONFIG: plane.kubeconfigPath, HELM_CACHE_HOME: join(plane.dir, 'helm-cache'), HELM_CONFIG_HOME: join(plane.dir, 'helm-config'), HELM_DATA_HOME: join(plane.dir, 'helm-data') } });
  if (ok) assert.equal(run.code, 0, `helm ${args.join(' ')} failed (${run.code}):\n${run.stderr}`);
  return run;
}

const render = async (...set: string[]) => (await helm(['template', 'ekspose', CHART, '-n', NAMESPACE, ...set.flatMap((s) => ['--set', s])])).stdout;

async function kustomize(withMonitoring = false): Promise<string> {
  if (!withMonitoring) return (await kubectlOk(plane, ['kustomize', MANIFESTS])).stdout;
  return renderWithMonitoring(plane);
}

/** kustomize's content hash on generated ConfigMap names (ekspose-settings-fbg97h4hm9), which the chart replaces by a checksum annotation. */
const unhash = (name: string) => name.replace(/-[a-z0-9]{10}$/, '');
const keyOf = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.kind === 'ConfigMap' ? unhash(o.metadata.name) : o.metadata.name}`;

/**
 * What must be the same on both sides: everything but metadata (labels and
 * annotations carry Helm's own and the checksums), with ConfigMap references
 * unhashed and nats.conf/auth.conf compared without comments.
 */
function essence(o: Obj): unknown {
  const { metadata: _m, ...rest } = structuredClone(o);
  const walk = (v: unknown, path: string[]): unknown => {
    if (Array.isArray(v)) return v.map((x) => walk(x, path));
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        // Pod template metadata: the chart adds Helm's labels and a checksum; the selector (compared) is what must match.
        if (k === 'metadata' && path.at(-1) === 'template') continue;
        out[k] = walk(x, [...path, k]);
      }
      if (path.at(-1) === 'configMapRef' || path.at(-1) === 'configMap') out['name'] = unhash(String(out['name']));
      return out;
    }
    if (typeof v === 'string' && path.at(-2) === 'data' && /\.conf$/.test(path.at(-1) ?? '')) {
      return v.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).join('\n');
    }
    return v;
  };
  return walk(rest, []);
}

/** The objects of a YAML stream by kind/namespace/name, as plain JSON (client-node's typed classes would not compare equal to literals). */
function byKey(yaml: string): Map<string, Obj> {
  const objects = JSON.parse(JSON.stringify(loadAllYaml(yaml).filter(Boolean))) as Obj[];
  return new Map(objects.map((o) => [keyOf(o), o]));
}

function assertSameObjects(chartYaml: string, kustomizeYaml: string, extraOnlyInChart: string[] = []) {
  const chart = byKey(chartYaml);
  const kust = byKey(kustomizeYaml);
  const onlyChart = [...chart.keys()].filter((k) => !kust.has(k) && !ONLY_IN_CHART.has(k) && !extraOnlyInChart.includes(k));
  const onlyKust = [...kust.keys()].filter((k) => !chart.has(k) && !ONLY_IN_KUSTOMIZE.has(k));
  assert.deepEqual({ onlyChart, onlyKust }, { onlyChart: [], onlyKust: [] }, 'the same kinds and names on both sides');
  for (const [key, k] of kust) {
    const c = chart.get(key);
    if (c) assert.deepEqual(essence(c), essence(k), `${key}: the chart renders what the manifests hold`);
  }
  return { chart, kust };
}

describe('Helm chart', { timeout: 300_000 }, () => {
  before(async () => {
    const opsBin = await ensureOpsBinaries();
    helmBin = join(opsBin, 'helm');
    ops = opsBin;
    plane = await startControlPlane({ controllerManager: false, log: (line) => process.stderr.write(`[plane] ${line}\n`) });
  });

  after(async () => {
    await plane?.stop();
  });

  it('helm lint passes', async () => {
    const run = await helm(['lint', '--strict', CHART]);
    assert.match(run.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it("helm package (what the release workflow attaches) carries the linked files' content", async () => {
    const out = mkdtempSync(join(tmpdir(), 'ekspose-chart-'));
    await helm(['package', CHART, '--destination', out]);
    const tgz = join(out, 'ekspose-0.1.0.tgz');
    const auth = await runCaptured('tar', ['-xzOf', tgz, 'ekspose/files/auth.conf'], { timeoutMs: 30_000 });
    assert.equal(auth.stdout, readFileSync(join(MANIFESTS, 'nats', 'auth.conf'), 'utf8'));
    const listing = await runCaptured('tar', ['-tzf', tgz], { timeoutMs: 30_000 });
    assert.doesNotMatch(listing.stdout, /project\.json/, '.helmignore keeps the Nx project file out');
  });

  it('with default values it renders what kubectl kustomize manifests/ renders: kinds, names, RBAC rules, containers, selectors, data', async () => {
    const { chart } = assertSameObjects(await render(), await kustomize());
    // The comparison is not vacuous: it saw the three controllers' RBAC and Deployments.
    for (const app of ['deployment-controller', 'service-controller', 'ingress-controller']) {
      assert.ok(chart.has(`ClusterRole//ekspose-${app}`));
      assert.ok(chart.has(`Deployment/${NAMESPACE}/${app}`));
    }
  });

  it('with monitoring on it renders what the manifests with the monitoring component render', async () => {
    assertSameObjects(await render('monitoring.serviceMonitor.enabled=true', 'monitoring.prometheusRule.enabled=true'), await kustomize(true));
  });

  it('each controller is enabled, scaled and configured on its own', async () => {
    const objs = byKey(await render('serviceController.replicas=3', 'ingressController.enabled=false', 'deploymentController.env.EKSPOSE_WORKERS=8', 'nats.cluster=false'));
    type Deploy = { spec: { replicas: number; template: { spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> } } } };
    const dep = (name: string) => objs.get(`Deployment/${NAMESPACE}/${name}`) as unknown as Deploy | undefined;
    assert.equal(dep('service-controller')?.spec.replicas, 3);
    assert.equal(dep('deployment-controller')?.spec.replicas, 2, 'the others keep their default');
    assert.equal(dep('ingress-controller'), undefined);
    assert.equal(objs.get(`ClusterRole//ekspose-ingress-controller`), undefined, 'a disabled controller gets no RBAC either');
    assert.deepEqual(dep('deployment-controller')?.spec.template.spec.containers[0]?.env.find((e) => e.name === 'EKSPOSE_WORKERS'), { name: 'EKSPOSE_WORKERS', value: '8' });
    assert.equal(dep('service-controller')?.spec.template.spec.containers[0]?.env.find((e) => e.name === 'EKSPOSE_WORKERS'), undefined);
    // One NATS server: one replica, no cluster block, and the stream follows.
    const nats = objs.get(`StatefulSet/${NAMESPACE}/nats`) as unknown as { spec: { replicas: number } };
    assert.equal(nats.spec.replicas, 1);
    const natsConf = (objs.get(`ConfigMap/${NAMESPACE}/nats-config`) as unknown as { data: Record<string, string> }).data['nats.conf'] ?? '';
    assert.doesNotMatch(natsConf, /cluster \{/);
    assert.equal((objs.get(`ConfigMap/${NAMESPACE}/ekspose-settings`) as unknown as { data: Record<string, string> }).data['NATS_STREAM_REPLICAS'], '1');
  });

  it('values.schema.json refuses bad values, naming each; every setting of --help but the per-pod ones is a value', async () => {
    const run = await helm(['template', 'ekspose', CHART, '--set', 'deploymentController.replicas=-1', '--set', 'settings.LOG_LEVEL=loud', '--set', 'settings.EKSPOSE_DOAMIN=x', '--set', 'nats.storage.size=lots'], false);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /\/deploymentController\/replicas': minimum: got -1, want 0/);
    assert.match(run.stderr, /\/settings\/LOG_LEVEL': value must be one of/);
    assert.match(run.stderr, /additional properties 'EKSPOSE_DOAMIN' not allowed/);
    assert.match(run.stderr, /\/nats\/storage\/size': .*does not match pattern/);
    const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as { properties: { settings: { properties: Record<string, unknown> } } };
    assert.deepEqual(Object.keys(schema.properties.settings.properties).sort(), SETTINGS_ENV_VARS.filter((v) => !CHART_OWNED_SETTINGS.includes(v)).sort());
  });

  it('the API server accepts everything it renders (server-side dry run), monitoring included', async () => {
    await installMonitoringCrds(plane, ops);
    await kubectlOk(plane, ['create', 'namespace', NAMESPACE]);
    const out = (await kubectlOk(plane, ['apply', '--dry-run=server', '-f', '-'], await render('monitoring.serviceMonitor.enabled=true', 'monitoring.prometheusRule.enabled=true'))).stdout;
    for (const line of ['deployment.apps/deployment-controller created', 'statefulset.apps/nats created', 'servicemonitor.monitoring.coreos.com/ingress-controller created', 'prometheusrule.monitoring.coreos.com/ekspose created']) {
      assert.ok(out.includes(`${line} (server dry run)`), `${line}\n${out}`);
    }
  });

  it('helm install makes the NATS passwords once; helm upgrade keeps them', async () => {
    await helm(['install', 'ekspose', CHART, '-n', 'helm-install', '--create-namespace']);
    const passwords = async () => (await kubectlOk(plane, ['-n', 'helm-install', 'get', 'secret', 'ekspose-nats-credentials', '-o', 'jsonpath={.data}'])).stdout;
    const first = JSON.parse(await passwords()) as Record<string, string>;
    assert.deepEqual(Object.keys(first).sort(), ['admin', 'deployment-controller', 'ingress-controller', 'service-controller']);
    assert.equal(new Set(Object.values(first)).size, 4, 'a password per user');
    for (const p of Object.values(first)) assert.ok(Buffer.from(p, 'base64').length >= 32);
    await helm(['upgrade', 'ekspose', CHART, '-n', 'helm-install', '--set', 'serviceController.replicas=1']);
    assert.deepEqual(JSON.parse(await passwords()), first, 'the same passwords after an upgrade');
    const settings = (await kubectlOk(plane, ['-n', 'helm-install', 'get', 'configmap', 'ekspose-settings', '-o', 'jsonpath={.data.NATS_URL}'])).stdout;
    assert.equal(settings, 'nats://nats.helm-install.svc:4222', 'NATS_URL follows the release namespace');
  });
});
