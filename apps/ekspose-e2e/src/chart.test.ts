// The Helm chart (charts/ekspose) against the manifests it must not drift
// from, and against a real API server: `helm lint`, `helm template` compared
// object by object with `kubectl kustomize manifests/` (kinds, names, RBAC
// rules, container settings, selectors, data), values.schema.json refusing bad
// values with a clear message, a server-side dry run of what it renders, the
// NATS credentials under every way of installing (docs/decisions/0009: `helm
// template` twice the same bytes, `helm template | kubectl apply` twice, `helm
// install` + `helm upgrade`), and both packagings in another namespace.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadAllYaml } from '@kubernetes/client-node';
import { SETTINGS_ENV_VARS } from '@ekspose/expose';
import { type ControlPlane, ensureOpsBinaries, helmTemplateArgs, runCaptured, startControlPlane, workspaceRoot } from '@ekspose/testing';
import { MANIFESTS, assertFollowsNamespace, installMonitoringCrds, kubectlOk, renderWithMonitoring } from './support/manifests';

const CHART = join(workspaceRoot(), 'charts', 'ekspose');
const NAMESPACE = 'ekspose';
/** What only one side has, and why: everything else must match. */
const ONLY_IN_KUSTOMIZE = new Set([
  // Helm installs into a namespace it does not own (helm install -n ekspose --create-namespace).
  'Namespace//ekspose',
]);
const ONLY_IN_CHART = new Set<string>([]);
/** Rendered offline (helm template, Argo CD), the chart needs a Secret of the user's, as the manifests do. */
const EXISTING_SECRET = 'nats.credentials.existingSecret=ekspose-nats-credentials';
const USERS = ['admin', 'deployment-controller', 'ingress-controller', 'service-controller'];
/**
 * Per-pod settings the chart sets itself (and the ports its probes use), and EKSPOSE_SHARDS, set per
 * controller from `<controller>.shards` (as each manifests/<controller>/deployment.yaml does), so
 * values.settings leaves them out.
 */
const CHART_OWNED_SETTINGS = ['NATS_USER', 'NATS_PASSWORD', 'KUBECONFIG', 'POD_NAMESPACE', 'POD_NAME', 'EKSPOSE_METRICS_PORT', 'EKSPOSE_HEALTH_PORT', 'EKSPOSE_SHARDS'];

type Obj = { kind: string; metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: unknown };

let plane: ControlPlane;
let helmBin: string;
let ops: string;

async function helm(args: string[], ok = true) {
  const run = await runCaptured(helmBin, helmTemplateArgs(args), { timeoutMs: 120_000, env: { ...process.env, KUBECONFIG: plane.kubeconfigPath, HELM_CACHE_HOME: join(plane.dir, 'helm-cache'), HELM_CONFIG_HOME: join(plane.dir, 'helm-config'), HELM_DATA_HOME: join(plane.dir, 'helm-data') } });
  if (ok) assert.equal(run.code, 0, `helm ${args.join(' ')} failed (${run.code}):\n${run.stderr}`);
  return run;
}

const renderIn = async (namespace: string, ...set: string[]) => (await helm(['template', 'ekspose', CHART, '-n', namespace, ...[EXISTING_SECRET, ...set].flatMap((s) => ['--set', s])])).stdout;
const render = (...set: string[]) => renderIn(NAMESPACE, ...set);

/** The password each NATS user has as the nats servers read it and as each controller reads it, from the objects in the cluster. */
async function credentialsRead(namespace: string): Promise<{ servers: Record<string, string>; controllers: Record<string, string> }> {
  type Env = Array<{ name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  const get = async (what: string) => JSON.parse((await kubectlOk(plane, ['-n', namespace, 'get', what, '-o', 'json'])).stdout) as { spec: { template: { spec: { containers: Array<{ env: Env }> } } } };
  const secrets = new Map<string, Record<string, string>>();
  const resolve = async (ref: { name: string; key: string } | undefined) => {
    assert.ok(ref, 'a secretKeyRef');
    if (!secrets.has(ref.name)) secrets.set(ref.name, (JSON.parse((await kubectlOk(plane, ['-n', namespace, 'get', 'secret', ref.name, '-o', 'json'])).stdout) as { data: Record<string, string> }).data);
    const value = secrets.get(ref.name)?.[ref.key];
    assert.ok(value, `Secret ${ref.name} has the key ${ref.key}`);
    return Buffer.from(value, 'base64').toString();
  };
  const servers: Record<string, string> = {};
  for (const e of (await get('statefulset/nats')).spec.template.spec.containers[0]!.env) {
    const user = e.name.endsWith('_NATS_PASSWORD') ? e.name.replace(/_NATS_PASSWORD$/, '').toLowerCase().replace(/_/g, '-') : undefined;
    if (user) servers[user] = await resolve(e.valueFrom?.secretKeyRef);
  }
  const controllers: Record<string, string> = {};
  for (const app of USERS.filter((u) => u !== 'admin')) {
    const env = (await get(`deployment/${app}`)).spec.template.spec.containers[0]!.env;
    controllers[app] = await resolve(env.find((e) => e.name === 'NATS_PASSWORD')?.valueFrom?.secretKeyRef);
  }
  return { servers, controllers };
}

/** Checks the servers and each controller read the same password for each controller's user, and returns the servers' passwords. */
async function assertSameCredentials(namespace: string): Promise<Record<string, string>> {
  const { servers, controllers } = await credentialsRead(namespace);
  assert.deepEqual(Object.keys(servers).sort(), USERS);
  for (const [app, password] of Object.entries(controllers)) assert.equal(password, servers[app], `${app} signs in with the password its NATS user has`);
  assert.equal(new Set(Object.values(servers)).size, 4, 'a password per user');
  return servers;
}

/** The checksum/nats-credentials annotation of the pods of the StatefulSet nats and of each controller. */
async function credentialChecksums(namespace: string): Promise<string[]> {
  const out: string[] = [];
  for (const what of ['statefulset/nats', ...USERS.filter((u) => u !== 'admin').map((a) => `deployment/${a}`)]) {
    out.push((await kubectlOk(plane, ['-n', namespace, 'get', what, '-o', 'jsonpath={.spec.template.metadata.annotations.checksum/nats-credentials}'])).stdout);
  }
  return out;
}

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
    const run = await helm(['lint', '--strict', CHART, '--set', EXISTING_SECRET]);
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

  it('ServiceMonitors: a bearer token from a Secret (the chart\'s scraper, or yours), the serving certificate verified when a CA is given; Prometheus\'s own ServiceAccount bound when named; no rules of a disabled controller', async () => {
    type Endpoint = { authorization?: { type: string; credentials: { name: string; key: string } }; bearerTokenFile?: string; tlsConfig: { insecureSkipVerify?: boolean; ca?: { secret: { name: string; key: string } }; serverName?: string } };
    const endpoint = (objs: Map<string, Obj>, app: string) => (objs.get(`ServiceMonitor/${NAMESPACE}/${app}`) as unknown as { spec: { jobLabel: string; endpoints: Endpoint[] } }).spec;
    const plain = byKey(await render('monitoring.serviceMonitor.enabled=true'));
    const dc = endpoint(plain, 'deployment-controller');
    assert.equal(dc.jobLabel, 'app.kubernetes.io/name', 'job="deployment-controller", as EksposeControllerDown expects');
    assert.deepEqual(dc.endpoints[0]?.authorization, { type: 'Bearer', credentials: { name: 'ekspose-metrics-scraper-token', key: 'token' } });
    assert.equal(dc.endpoints[0]?.bearerTokenFile, undefined, 'not the deprecated bearerTokenFile');
    assert.deepEqual(dc.endpoints[0]?.tlsConfig, { insecureSkipVerify: true }, 'the self-signed certificate: nothing to verify against');
    const binding = plain.get('ClusterRoleBinding//ekspose-metrics-scraper') as unknown as { roleRef: { name: string }; subjects: unknown[] };
    assert.equal(binding.roleRef.name, 'ekspose-metrics-reader');
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'ekspose-metrics-scraper', namespace: NAMESPACE }]);
    assert.ok(plain.has(`Secret/${NAMESPACE}/ekspose-metrics-scraper-token`) && plain.has(`ServiceAccount/${NAMESPACE}/ekspose-metrics-scraper`));

    const verified = byKey(await render('monitoring.serviceMonitor.enabled=true', 'monitoring.serviceMonitor.tls.caSecret.name=metrics-ca', 'monitoring.serviceMonitor.bearerTokenSecret.name=my-token', 'monitoring.prometheusServiceAccount.name=prometheus-k8s', 'monitoring.prometheusServiceAccount.namespace=monitoring'));
    const sc = endpoint(verified, 'service-controller').endpoints[0]!;
    assert.deepEqual(sc.tlsConfig, { ca: { secret: { name: 'metrics-ca', key: 'ca.crt' } }, serverName: `service-controller-metrics.${NAMESPACE}.svc` });
    assert.deepEqual(sc.authorization?.credentials, { name: 'my-token', key: 'token' });
    assert.ok(!verified.has(`Secret/${NAMESPACE}/ekspose-metrics-scraper-token`) && !verified.has('ClusterRoleBinding//ekspose-metrics-scraper'), 'with a token of yours, no scraper of its own');
    const prom = verified.get('ClusterRoleBinding//ekspose-metrics-reader-monitoring-prometheus-k8s') as unknown as { roleRef: { name: string }; subjects: unknown[] };
    assert.equal(prom.roleRef.name, 'ekspose-metrics-reader');
    assert.deepEqual(prom.subjects, [{ kind: 'ServiceAccount', name: 'prometheus-k8s', namespace: 'monitoring' }]);

    type Rule = { spec: { groups: Array<{ rules: Array<{ alert: string; labels?: Record<string, string> }> }> } };
    const rules = (objs: Map<string, Obj>) => (objs.get(`PrometheusRule/${NAMESPACE}/ekspose`) as unknown as Rule).spec.groups.flatMap((g) => g.rules);
    const all = rules(byKey(await render('monitoring.prometheusRule.enabled=true')));
    const without = rules(byKey(await render('monitoring.prometheusRule.enabled=true', 'ingressController.enabled=false')));
    assert.ok(all.some((r) => r.labels?.['controller'] === 'ingress-controller'));
    assert.deepEqual(without, all.filter((r) => r.labels?.['controller'] !== 'ingress-controller'), 'the disabled controller\'s absence rules go, nothing else');
  });

  it('nats.metrics: an exporter sidecar, a metrics Service and ServiceMonitor (job nats), the NetworkPolicy open to it, the NATS alerts in the rule', async () => {
    type Pod = { spec: { template: { spec: { containers: Array<{ name: string; args?: string[]; ports?: Array<{ name: string; containerPort: number }> }> } } } };
    const objs = byKey(await render('nats.metrics.enabled=true', 'monitoring.serviceMonitor.enabled=true', 'monitoring.prometheusRule.enabled=true'));
    const sidecar = (objs.get(`StatefulSet/${NAMESPACE}/nats`) as unknown as Pod).spec.template.spec.containers.find((c) => c.name === 'metrics');
    assert.ok(sidecar?.args?.includes('http://localhost:8222'), 'reads the server\'s monitoring port');
    assert.deepEqual(sidecar?.ports?.map((p) => [p.name, p.containerPort]), [['metrics', 7777]]);
    const sm = objs.get(`ServiceMonitor/${NAMESPACE}/nats`) as unknown as { spec: { jobLabel: string } };
    assert.equal(sm.spec.jobLabel, 'app.kubernetes.io/name');
    assert.ok(objs.has(`Service/${NAMESPACE}/nats-metrics`));
    const np = objs.get(`NetworkPolicy/${NAMESPACE}/nats`) as unknown as { spec: { ingress: Array<{ from?: unknown; ports: Array<{ port: string }> }> } };
    assert.deepEqual(np.spec.ingress.find((r) => r.ports.some((p) => p.port === 'metrics')), { ports: [{ port: 'metrics', protocol: 'TCP' }] });
    const groups = (objs.get(`PrometheusRule/${NAMESPACE}/ekspose`) as unknown as { spec: { groups: Array<{ name: string; rules: Array<{ alert: string }> }> } }).spec.groups;
    assert.deepEqual(groups.find((g) => g.name === 'ekspose-nats')?.rules.map((r) => r.alert), ['EksposeNATSAbsent', 'EksposeNATSServerDown']);
    const off = byKey(await render('monitoring.serviceMonitor.enabled=true', 'monitoring.prometheusRule.enabled=true'));
    assert.equal((off.get(`StatefulSet/${NAMESPACE}/nats`) as unknown as Pod).spec.template.spec.containers.length, 1, 'no sidecar by default');
    assert.ok(!off.has(`ServiceMonitor/${NAMESPACE}/nats`));
  });

  it('each controller is enabled, scaled and configured on its own', async () => {
    const objs = byKey(await render('serviceController.replicas=3', 'ingressController.enabled=false', 'deploymentController.env.EKSPOSE_WORKERS=8', 'serviceController.shards=12', 'nats.cluster=false'));
    type Deploy = { spec: { replicas: number; template: { spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> } } } };
    const dep = (name: string) => objs.get(`Deployment/${NAMESPACE}/${name}`) as unknown as Deploy | undefined;
    assert.equal(dep('service-controller')?.spec.replicas, 3);
    assert.equal(dep('deployment-controller')?.spec.replicas, 2, 'the others keep their default');
    assert.equal(dep('ingress-controller'), undefined);
    assert.equal(objs.get(`ClusterRole//ekspose-ingress-controller`), undefined, 'a disabled controller gets no RBAC either');
    assert.deepEqual(dep('deployment-controller')?.spec.template.spec.containers[0]?.env.find((e) => e.name === 'EKSPOSE_WORKERS'), { name: 'EKSPOSE_WORKERS', value: '8' });
    assert.equal(dep('service-controller')?.spec.template.spec.containers[0]?.env.find((e) => e.name === 'EKSPOSE_WORKERS'), undefined);
    // Shards per controller: the one set, the others keep 1.
    const shards = (name: string) => dep(name)?.spec.template.spec.containers[0]?.env.filter((e) => e.name === 'EKSPOSE_SHARDS');
    assert.deepEqual(shards('service-controller'), [{ name: 'EKSPOSE_SHARDS', value: '12' }]);
    assert.deepEqual(shards('deployment-controller'), [{ name: 'EKSPOSE_SHARDS', value: '1' }]);
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

  it('values.schema.json holds shards to 1-256, per controller: not as a setting, not through env', async () => {
    const run = await helm(['template', 'ekspose', CHART, '--set', EXISTING_SECRET, '--set', 'deploymentController.shards=0', '--set', 'serviceController.shards=257', '--set', 'settings.EKSPOSE_SHARDS=3', '--set', 'ingressController.env.EKSPOSE_SHARDS=3'], false);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /\/deploymentController\/shards': minimum: got 0, want 1/);
    assert.match(run.stderr, /\/serviceController\/shards': maximum: got 257, want 256/);
    assert.match(run.stderr, /additional properties 'EKSPOSE_SHARDS' not allowed/);
    // (Helm's schema library names a wrong path for a propertyNames failure, so only the name is matched.)
    assert.match(run.stderr, /invalid propertyName 'EKSPOSE_SHARDS'/);
    const ok = await helm(['template', 'ekspose', CHART, '--set', EXISTING_SECRET, '--set', 'deploymentController.shards=256', '--set', 'serviceController.shards=1']);
    assert.match(ok.stdout, /- name: EKSPOSE_SHARDS\n\s+value: "256"/);
  });

  it('Lease rights follow each controller\'s shards: its leader Lease by name at 1, manifests/member-leases above; leasePolicy renders manifests/lease-policy', async () => {
    const withComponents = async (...components: string[]) => {
      const overlay = mkdtempSync(join(tmpdir(), 'ekspose-overlay-leases-'));
      writeFileSync(join(overlay, 'kustomization.yaml'), `resources: [${relative(overlay, MANIFESTS)}]\ncomponents: [${components.map((c) => relative(overlay, join(MANIFESTS, c))).join(', ')}]\n`);
      return byKey((await kubectlOk(plane, ['kustomize', overlay])).stdout);
    };
    const role = (app: string) => `Role/${NAMESPACE}/ekspose-${app}-leader-election`;
    const plain = byKey(await kustomize());
    const sharded = await withComponents('member-leases', 'lease-policy');
    const chart = byKey(await render('deploymentController.shards=3', 'leasePolicy.enabled=true'));
    assert.deepEqual(essence(chart.get(role('deployment-controller'))!), essence(sharded.get(role('deployment-controller'))!), 'shards 3: the member-Lease rule');
    assert.notDeepEqual(essence(sharded.get(role('deployment-controller'))!), essence(plain.get(role('deployment-controller'))!), 'the component changes the Role');
    for (const app of ['service-controller', 'ingress-controller']) assert.deepEqual(essence(chart.get(role(app))!), essence(plain.get(role(app))!), `${app} (shards 1): its leader Lease only`);
    for (const key of ['ValidatingAdmissionPolicy//ekspose-leases', 'ValidatingAdmissionPolicyBinding//ekspose-leases']) {
      assert.ok(sharded.has(key) && chart.has(key), key);
      assert.deepEqual(essence(chart.get(key)!), essence(sharded.get(key)!), `${key}: the chart renders what manifests/lease-policy holds`);
    }
    assert.equal(byKey(await render()).get('ValidatingAdmissionPolicy//ekspose-leases'), undefined, 'off by default');
  });

  it('the API server accepts everything it renders (server-side dry run), monitoring included', async () => {
    await installMonitoringCrds(plane, ops);
    await kubectlOk(plane, ['create', 'namespace', NAMESPACE]);
    const out = (await kubectlOk(plane, ['apply', '--dry-run=server', '-f', '-'], await render('monitoring.serviceMonitor.enabled=true', 'monitoring.prometheusRule.enabled=true'))).stdout;
    for (const line of ['deployment.apps/deployment-controller created', 'statefulset.apps/nats created', 'servicemonitor.monitoring.coreos.com/ingress-controller created', 'prometheusrule.monitoring.coreos.com/ekspose created']) {
      assert.ok(out.includes(`${line} (server dry run)`), `${line}\n${out}`);
    }
  });

  it('rendered offline without nats.credentials.existingSecret, it fails, saying what to do; with it, helm template twice gives the same bytes', async () => {
    const offline = await helm(['template', 'ekspose', CHART, '-n', NAMESPACE], false);
    assert.notEqual(offline.code, 0, 'no random passwords where lookup cannot see the cluster');
    assert.match(offline.stderr, /nats\.credentials\.existingSecret is required when the chart is rendered without access to the cluster \(helm template, Argo CD, --dry-run\)/);
    assert.match(offline.stderr, /kubectl -n ekspose create secret generic ekspose-nats-credentials/);
    const all = ['monitoring.serviceMonitor.enabled=true', 'monitoring.prometheusRule.enabled=true'];
    const [first, second] = [await render(...all), await render(...all)];
    assert.ok(first.length > 10_000, 'a whole rendering');
    assert.equal(first, second, 'byte-identical');
    // No Secret with data of its own: only the scraper's token Secret, which the API server fills.
    const secrets = [...byKey(first).values()].filter((o) => o.kind === 'Secret');
    assert.deepEqual(secrets.map((o) => [o.metadata.name, o['type'], o['data']]), [['ekspose-metrics-scraper-token', 'kubernetes.io/service-account-token', undefined]]);
    assert.doesNotMatch(first, /checksum\/nats-credentials/, 'nothing that depends on what lookup would have found');
  });

  it('helm template | kubectl apply, twice (as Argo CD syncs): the NATS servers and the controllers read the same passwords, unchanged', async () => {
    const ns = 'gitops';
    await kubectlOk(plane, ['create', 'namespace', ns]);
    // What the render's message tells a user to do, once.
    await kubectlOk(plane, ['-n', ns, 'create', 'secret', 'generic', 'ekspose-nats-credentials', ...[...USERS, 'route'].map((u) => `--from-literal=${u}=k${randomBytes(24).toString('hex')}`)]);
    try {
      await kubectlOk(plane, ['apply', '-f', '-'], await renderIn(ns));
      const first = await assertSameCredentials(ns);
      // The generation moves with every change of a workload's spec (a roll, for its pods).
      const generations = async () => (await kubectlOk(plane, ['-n', ns, 'get', 'statefulsets,deployments', '-o', 'jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.generation} {end}'])).stdout;
      const before = await generations();
      assert.match(before, /StatefulSet\/nats=1 .*Deployment\/service-controller=1/);
      await kubectlOk(plane, ['apply', '-f', '-'], await renderIn(ns));
      assert.equal(await generations(), before, 'the second sync changes no workload');
      assert.deepEqual(await assertSameCredentials(ns), first, 'the same passwords after the second apply');
    } finally {
      // Its ClusterRoles are not Helm's: gone, so that the helm install below may make its own.
      await kubectlOk(plane, ['delete', '-f', '-', '--wait=false', '--ignore-not-found'], await renderIn(ns));
    }
  });

  it('helm install makes the NATS passwords once, read alike by servers and controllers; helm upgrade keeps them; a change of the Secret rolls both', async () => {
    const ns = 'helm-install';
    await helm(['install', 'ekspose', CHART, '-n', ns, '--create-namespace']);
    const first = await assertSameCredentials(ns);
    for (const p of Object.values(first)) assert.ok(p.length >= 32);
    const checksums = await credentialChecksums(ns);
    assert.match(checksums[0]!, /^[0-9a-f]{64}$/);
    assert.deepEqual(new Set(checksums).size, 1, 'the servers and the controllers roll on the same change');
    await helm(['upgrade', 'ekspose', CHART, '-n', ns, '--set', 'serviceController.replicas=1']);
    assert.deepEqual(await assertSameCredentials(ns), first, 'the same passwords after an upgrade');
    assert.deepEqual(await credentialChecksums(ns), checksums, 'and no roll for them');
    const settings = (await kubectlOk(plane, ['-n', ns, 'get', 'configmap', 'ekspose-settings', '-o', 'jsonpath={.data.NATS_URL}'])).stdout;
    assert.equal(settings, 'nats://nats:4222', "NATS_URL: the Service nats of the pods' own namespace");
    // A password rotated in the Secret: the next upgrade rolls everything that reads it.
    await kubectlOk(plane, ['-n', ns, 'patch', 'secret', 'ekspose-nats-credentials', '-p', JSON.stringify({ data: { admin: Buffer.from(`k${randomBytes(24).toString('hex')}`).toString('base64') } })]);
    await helm(['upgrade', 'ekspose', CHART, '-n', ns, '--reuse-values']);
    const rolled = await credentialChecksums(ns);
    assert.equal(new Set(rolled).size, 1);
    assert.notEqual(rolled[0], checksums[0], 'a new checksum: the pods roll');
    assert.notEqual((await assertSameCredentials(ns))['admin'], first['admin'], 'the rotated password is kept, not replaced');
  });

  it('both packagings in another namespace: every cross-reference follows it, and the API server accepts them (server-side dry run)', async () => {
    const ns = 'platform';
    await installMonitoringCrds(plane, ops);
    await kubectlOk(plane, ['create', 'namespace', ns]);
    const chartYaml = await renderIn(ns, 'monitoring.serviceMonitor.enabled=true', 'monitoring.prometheusRule.enabled=true');
    assertFollowsNamespace(chartYaml, ns, ['ekspose-nats-credentials']);
    const overlay = mkdtempSync(join(tmpdir(), 'ekspose-overlay-ns-'));
    writeFileSync(join(overlay, 'kustomization.yaml'), `namespace: ${ns}\nresources: [${relative(overlay, MANIFESTS)}]\ncomponents: [${relative(overlay, join(MANIFESTS, 'monitoring'))}]\n`);
    const kustomizeYaml = (await kubectlOk(plane, ['kustomize', overlay])).stdout;
    const objs = assertFollowsNamespace(kustomizeYaml, ns, ['ekspose-nats-credentials']);
    assert.ok(objs.has(`Namespace/${ns}`) && objs.has('ServiceMonitor/deployment-controller'), 'the check saw the namespace and the monitoring');
    for (const [what, yaml] of [['chart', chartYaml], ['manifests', kustomizeYaml]] as const) {
      const run = await plane.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: yaml });
      assert.equal(run.code, 0, `${what}: ${run.stderr}`);
      assert.doesNotMatch(run.stderr, /PodSecurity/i, `${what}: no PodSecurity warning`);
      assert.match(run.stdout, /statefulset\.apps\/nats (created|configured) \(server dry run\)/, what);
    }
  });

  it('names from the release: two releases, each in its own namespace, install side by side, and uninstalling one leaves the other whole', async () => {
    const releases = [
      { release: 'alpha', ns: 'side-a' },
      { release: 'beta', ns: 'side-b' },
    ];
    for (const { release, ns } of releases) await helm(['install', release, CHART, '-n', ns, '--create-namespace']);
    type Binding = { roleRef: { name: string }; subjects: Array<{ name: string; namespace: string }> };
    for (const { release, ns } of releases) {
      const prefix = `${release}-ekspose`;
      for (const app of ['deployment-controller', 'service-controller', 'ingress-controller']) {
        const crb = JSON.parse((await kubectlOk(plane, ['get', 'clusterrolebinding', `${prefix}-${app}`, '-o', 'json'])).stdout) as Binding;
        assert.equal(crb.roleRef.name, `${prefix}-${app}`);
        assert.deepEqual(crb.subjects.map((s) => `${s.namespace}/${s.name}`), [`${ns}/${app}`], `${prefix}-${app} binds its own release's ServiceAccount`);
        const rb = JSON.parse((await kubectlOk(plane, ['-n', ns, 'get', 'rolebinding', `${prefix}-${app}-leader-election`, '-o', 'json'])).stdout) as Binding;
        assert.equal(rb.roleRef.name, `${prefix}-${app}-leader-election`);
        const ref = (await kubectlOk(plane, ['-n', ns, 'get', 'deployment', app, '-o', 'jsonpath={.spec.template.spec.containers[0].envFrom[0].configMapRef.name} {.spec.template.spec.containers[0].env[?(@.name=="NATS_PASSWORD")].valueFrom.secretKeyRef.name}'])).stdout;
        assert.equal(ref, `${prefix}-settings ${prefix}-nats-credentials`);
      }
      await kubectlOk(plane, ['-n', ns, 'get', 'configmap', `${prefix}-settings`]);
      await kubectlOk(plane, ['get', 'clusterrole', `${prefix}-metrics-reader`]);
    }
    await assertSameCredentials('side-b');
    await helm(['uninstall', 'alpha', '-n', 'side-a']);
    assert.notEqual((await plane.kubectl(['get', 'clusterrole', 'alpha-ekspose-deployment-controller'])).code, 0, 'alpha\'s ClusterRole is gone');
    await kubectlOk(plane, ['get', 'clusterrole', 'beta-ekspose-deployment-controller', 'beta-ekspose-metrics-reader']);
    await kubectlOk(plane, ['-n', 'side-b', 'get', 'deployment/deployment-controller', 'statefulset/nats', 'configmap/beta-ekspose-settings']);
    // A release name that makes too long a prefix is refused, saying what to do.
    const long = await helm(['template', 'a'.repeat(34), CHART, '--set', EXISTING_SECRET], false);
    assert.match(long.stderr, /longer than 40 characters: set fullnameOverride/);
  });

  it('an existingSecret from before the route password: the install stops, saying how to add it; done as said, it installs', async () => {
    const ns = 'old-secret';
    await kubectlOk(plane, ['create', 'namespace', ns]);
    await kubectlOk(plane, ['-n', ns, 'create', 'secret', 'generic', 'mine', ...USERS.map((u) => `--from-literal=${u}=k${randomBytes(24).toString('hex')}`)]);
    const args = ['install', 'gamma', CHART, '-n', ns, '--set', 'nats.credentials.existingSecret=mine'];
    const refused = await helm(args, false);
    assert.notEqual(refused.code, 0);
    const told = refused.stderr.match(/the Secret mine has no key route.*\n\s*(kubectl -n old-secret patch secret mine .*)$/m);
    assert.ok(told, refused.stderr);
    const run = await runCaptured('bash', ['-c', told[1]!.replace(/^kubectl/, `"${join(plane.binDir, 'kubectl')}" --kubeconfig "${plane.kubeconfigPath}"`)], { timeoutMs: 30_000 });
    assert.equal(run.code, 0, run.stderr);
    await helm(args);
    const route = (await kubectlOk(plane, ['-n', ns, 'get', 'secret', 'mine', '-o', 'jsonpath={.data.route}'])).stdout;
    assert.match(Buffer.from(route, 'base64').toString(), /^k[0-9a-f]{48}$/);
  });

  it('security contexts, topology spread and image digests are values; extraObjects are installed; Kubernetes older than 1.27 is refused', async () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const objs = byKey(
      await render(
        'deploymentController.podSecurityContext.runAsUser=null',
        'deploymentController.podSecurityContext.runAsGroup=null',
        `serviceController.digest=${digest}`,
        'extraObjects[0]=apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: {{ .Release.Namespace }}\ndata:\n  release: {{ .Release.Name }}',
      ),
    );
    type Pod = { spec: { template: { spec: { securityContext: Record<string, unknown>; topologySpreadConstraints?: unknown[]; containers: Array<{ image: string; securityContext: Record<string, unknown> }> } } } };
    const pod = (app: string) => (objs.get(`Deployment/${NAMESPACE}/${app}`) as unknown as Pod).spec.template.spec;
    // OpenShift's restricted-v2 assigns the UID: none fixed, the rest kept.
    assert.deepEqual(pod('deployment-controller').securityContext, { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    assert.deepEqual(pod('service-controller').securityContext, { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    assert.equal(pod('deployment-controller').containers[0]?.securityContext['readOnlyRootFilesystem'], true);
    assert.equal(pod('service-controller').containers[0]?.image, `ghcr.io/ekspose/service-controller:0.1.0@${digest}`);
    assert.equal(pod('ingress-controller').containers[0]?.image, 'ghcr.io/ekspose/ingress-controller:0.1.0', 'no digest given: the tag');
    assert.deepEqual((objs.get(`ConfigMap/${NAMESPACE}/extra`) as unknown as { data: Record<string, string> }).data, { release: 'ekspose' });
    assert.equal(pod('deployment-controller').topologySpreadConstraints, undefined);
    const spread = { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'ingress-controller' } } };
    const spreadRun = await helm(['template', 'ekspose', CHART, '-n', NAMESPACE, '--set', EXISTING_SECRET, '--set-json', `ingressController.topologySpreadConstraints=${JSON.stringify([spread])}`]);
    assert.deepEqual((byKey(spreadRun.stdout).get(`Deployment/${NAMESPACE}/ingress-controller`) as unknown as Pod).spec.template.spec.topologySpreadConstraints, [spread]);
    const badDigest = await helm(['template', 'ekspose', CHART, '--set', EXISTING_SECRET, '--set', 'serviceController.digest=latest'], false);
    assert.match(badDigest.stderr, /\/serviceController\/digest': .*does not match pattern/);
    const old = await helm(['template', 'ekspose', CHART, '--set', EXISTING_SECRET, '--kube-version', '1.26.9'], false);
    assert.notEqual(old.code, 0);
    assert.match(old.stderr, /chart requires kubeVersion: >=1\.27\.0-0 which is incompatible with Kubernetes v1\.26\.9/);
    await helm(['template', 'ekspose', CHART, '--set', EXISTING_SECRET, '--kube-version', '1.27.0']);
  });

  it('PodDisruptionBudgets never block a drain: none under 2 replicas, at most one pod at a time, unhealthy pods always evictable; the schema refuses a budget that would block', async () => {
    type Pdb = { spec: { maxUnavailable?: number; minAvailable?: number; unhealthyPodEvictionPolicy?: string } };
    const objs = byKey(await render('serviceController.replicas=1', 'ingressController.replicas=3'));
    assert.equal(objs.get(`PodDisruptionBudget/${NAMESPACE}/service-controller`), undefined, 'no budget for one replica');
    for (const app of ['deployment-controller', 'ingress-controller']) {
      const pdb = objs.get(`PodDisruptionBudget/${NAMESPACE}/${app}`) as unknown as Pdb;
      assert.deepEqual([pdb.spec.maxUnavailable, pdb.spec.minAvailable, pdb.spec.unhealthyPodEvictionPolicy], [1, undefined, 'AlwaysAllow'], app);
    }
    assert.equal((objs.get(`PodDisruptionBudget/${NAMESPACE}/nats`) as unknown as Pdb).spec.unhealthyPodEvictionPolicy, 'AlwaysAllow');
    const bad = await helm(['template', 'ekspose', CHART, '--set', EXISTING_SECRET, '--set', 'deploymentController.podDisruptionBudget.maxUnavailable=0', '--set', 'serviceController.podDisruptionBudget.minAvailable=1'], false);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /\/deploymentController\/podDisruptionBudget\/maxUnavailable': minimum: got 0, want 1/);
    assert.match(bad.stderr, /additional properties 'minAvailable' not allowed/);
  });
});
